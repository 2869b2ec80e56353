//! The engine: an async task scheduler that runs every operation.
//!
//! Reads run under a concurrency limit, latest-wins per view, retried with backoff on
//! throttling, 5xx and network errors; every AWS call is bounded by a per-call timeout. Mutations run one at a time per target, only with an [`Approved`]
//! token, never in read-only mode, never retried on their own, with the audit entry flushed
//! before they start. Every task has a job row in SQLite and a log (ring + spill file).
//!
//! [`Approved`]: crate::ops::Approved

pub mod joblog;
pub mod ports;
pub mod retry;
mod scheduler;
pub mod store;
pub mod stream;
pub mod task;
#[cfg(test)]
mod tests;

pub use scheduler::{
    Engine, EngineConfig, EngineEvent, MutationOutput, MutationRefused, ReadOutput,
};
