//! Compliance: NIST SP 800-53 rev 5 rules in Rego (evaluated in-process with regorus) over
//! templates before they are deployed and over deployed stacks.
//!
//! Data flow: a source (template text + parameters, or a stack's template) → [`input`] (one
//! document shape for every source) → [`policy::PolicyPack::evaluate`] → findings with
//! controls, lines and remediation → waivers → [`report`].

pub mod actions;
pub mod answers;
pub mod checker;
pub mod controls;
pub mod export;
pub mod headless;
pub mod input;
pub mod model;
pub mod policy;
pub mod report;
pub mod tui;
pub mod waivers;

pub use checker::Checker;
