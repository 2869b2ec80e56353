//! Headless commands for scripts and CI (`opsdeck deploy`, `opsdeck delete`, `opsdeck check`).
//!
//! They go through the same door as the console: `setup::open` builds the same gate, latch and
//! audit log; the engine and provider are the console's; the command line stands in for the
//! dialog — `--plan` for the `y` that computes a change set, `--confirm NAME` for the typed
//! name that executes it. Read-only mode refuses them exactly as it refuses the console.
//!
//! Exit codes of deploy and delete: 0 done (or nothing to do, or a plan printed); 1 the change
//! failed or was refused; 2 bad input or an error before anything was asked of AWS. `check`:
//! 0 pass, 1 an unwaived failure, 2 something could not be judged (see [`check`]). Any of
//! them stopped by SIGINT, SIGTERM or SIGHUP: 130, 143 or 129, after the running job dropped
//! its AWS call and removed what it made; a second signal exits at once (see `runner.rs`).

pub mod run;
pub mod runner;

pub use crate::cfn::headless::{DeleteArgs, DeployArgs, delete, deploy};
pub use crate::compliance::headless::{CheckArgs, check};
