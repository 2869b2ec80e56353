//! opsdeck: a terminal console for operating AWS and EKS. See `docs/architecture.md`.

// Output to stdout/stderr goes through `output` (a closed pipe ends it quietly); the console
// owns the terminal. See `output.rs`.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Errors become state or sentences, never a crash: no unwrap, expect or panic outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod output;

pub mod assistant;
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
pub mod installers;
pub mod kube;
pub mod model;
pub mod ops;
pub mod redact;
pub mod registry;
pub mod setup;
pub mod tui;
