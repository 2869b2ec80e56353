//! Installers: a manifest declares an application's inputs, opsdeck builds the form,
//! validates, and runs the installer's non-interactive script on targets (`local`, `ssh:HOST`,
//! `ssm:INSTANCE_ID`) through the scheduler, behind the gate, with the audit log and read-only
//! mode. See `docs/installers.md` for the contract.
//!
//! * [`manifest`]: the contract (keys, eight input types, validation, `visible_if`), checked
//!   with errors naming file, line and key;
//! * [`catalog`]: bundled installers (embedded at build time) and the user's own, with the
//!   hash of manifest and scripts;
//! * [`ops`]: the preflight read and the `run-installer` mutation;
//! * [`port`]: what the engine asks of a provider; [`targets`]: the provider, the only code
//!   that runs anything on a target;
//! * [`plan`]: from what was asked to a resolved operation (shared by console and CLI);
//! * [`actions`], [`tui`]: the console; [`headless`]: `opsdeck installers` and
//!   `opsdeck install`.

pub mod actions;
pub mod catalog;
pub mod headless;
mod locate;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod port;
pub mod targets;
pub mod tui;
