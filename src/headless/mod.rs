//! Headless commands for scripts and CI (`opsdeck deploy`, `opsdeck delete`).
//!
//! They go through the same door as the console: `setup::open` builds the same gate, latch and
//! audit log; the engine and provider are the console's; the command line stands in for the
//! dialog — `--plan` for the `y` that computes a change set, `--confirm NAME` for the typed
//! name that executes it. Read-only mode refuses them exactly as it refuses the console.
//!
//! Exit codes: 0 done (or nothing to do, or a plan printed); 1 the change failed or was
//! refused; 2 bad input or an error before anything was asked of AWS.

mod deploy;
mod runner;

pub use deploy::{DeleteArgs, DeployArgs, delete, deploy};
