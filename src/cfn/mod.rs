//! CloudFormation, the capability: its model, operations, the provider code that talks to
//! CloudFormation (`aws/`), the template library and deploy logic, its panes (`tui/`) and its
//! headless commands (`opsdeck deploy`, `opsdeck delete`).

pub mod actions;
pub mod aws;
pub mod deploy;
pub mod headless;
pub mod library;
pub mod model;
pub mod ops;
pub mod plan;
pub mod port;
pub mod retained;
pub mod template;
pub mod tui;
