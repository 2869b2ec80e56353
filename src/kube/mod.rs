//! Kubernetes and EKS, the capability: clusters from EKS and every kubeconfig context, the
//! native EKS token, the watched inventory (namespaces, nodes, workloads, pods, events), pod
//! logs into Jobs, scale / rollout restart / delete pod / cordon through the gate, and the
//! compliance rules on live workloads.
//!
//! * `model.rs`: plain data (rows of the inventory, contexts, EKS clusters);
//! * `ops.rs`: the reads and the mutations, each classified by an exhaustive match;
//! * `port.rs`: what the engine needs from a Kubernetes provider, and the dispatch;
//! * `provider/`: the only code that talks to API servers and EKS (kube-rs, aws-sdk-eks,
//!   aws-sigv4 for the token);
//! * `plan.rs`: targets resolved when an action is asked for, shared by console and headless;
//! * `actions.rs` + `tui/`: the registry entries, the views and the flows;
//! * `compliance.rs`: Kubernetes objects as the rule pack's input;
//! * `headless.rs`: `opsdeck eks token`, `opsdeck eks kubeconfig`, `opsdeck check --kube-context`.

pub mod actions;
pub mod compliance;
pub mod headless;
pub mod model;
pub mod ops;
pub mod plan;
pub mod port;
pub mod provider;
pub mod tui;

pub use model::{ContextRef, KubeKind};
pub use provider::KubeSettings;
