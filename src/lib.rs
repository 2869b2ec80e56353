//! opsdeck: a terminal console for operating AWS and EKS. See `docs/architecture.md`.

pub mod audit;
pub mod aws;
pub mod cfn;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod engine;
pub mod headless;
pub mod model;
pub mod ops;
pub mod registry;
pub mod setup;
pub mod tui;
