//! opsdeck: a terminal console for operating AWS and EKS. See `docs/architecture.md`.

pub mod engine;
pub mod model;
