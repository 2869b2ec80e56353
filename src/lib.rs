//! opsdeck: a terminal console for operating AWS and EKS. See `docs/architecture.md`.

// Output to stdout/stderr goes through `output` (a closed pipe ends it quietly); the console
// owns the terminal. See `output.rs`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod output;

pub mod audit;
pub mod aws;
pub mod cfn;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod cost;
pub mod diagnostics;
pub mod engine;
pub mod files;
pub mod headless;
pub mod model;
pub mod ops;
pub mod redact;
pub mod registry;
pub mod setup;
pub mod tui;
