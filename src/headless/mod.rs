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

//!
//! Terminal safety: text from templates, policies, waivers and AWS is not trusted, so every
//! message and text report these commands print goes through [`clean`] (escape sequences and
//! control characters removed, as the console's log lines are). Machine formats (JSON, SARIF,
//! OSCAL) keep the data exactly, with control characters as JSON escapes.

pub mod run;
pub mod runner;

/// `text` as a terminal may show it: each line without escape sequences or control
/// characters (see `engine::joblog::sanitize_into`); line breaks are kept.
pub(crate) fn clean(text: &str) -> String {
    text.split('\n')
        .map(crate::engine::joblog::sanitized)
        .collect::<Vec<_>>()
        .join("\n")
}

pub use crate::cfn::headless::{DeleteArgs, DeployArgs, delete, deploy};
pub use crate::compliance::headless::{CheckArgs, check};
