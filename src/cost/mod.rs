//! Cost: what a template, stack or change set will cost a month (an offline price catalogue,
//! estimates, budgets), what the account is spending (Cost Explorer behind a call budget, the
//! free `AWS/Billing` metric as fallback), what is idle, and reaping idle DEV resources through
//! the gate. See `docs/cost.md`.

pub mod catalogue;
pub mod estimate;
pub mod pricers;
pub mod usage;

pub use catalogue::{Catalogue, HOURS_PER_MONTH};
pub use estimate::{CostReport, Pricing, ResourceCost, SourceEstimate, estimate_template};
pub use usage::Usage;
pub mod actions;
pub mod answers;
pub mod aws;
pub mod dates;
pub mod headless;
pub mod idle;
pub mod model;
pub mod ops;
pub mod plan;
pub mod port;
pub mod refresh;
pub mod spend;
pub mod tui;
pub mod verdict;
