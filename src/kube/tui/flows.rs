//! Kubernetes' "read, then plan, then confirm" flows in the console. Each flow is one value:
//! the app runs it off the UI thread with the shared plan functions (`kube::plan`) and hands
//! the outcome back as `Msg::Planned`; [`planned`] then asks the gate, or opens the replica
//! field first for a scale.

use crate::kube::model::ContextRef;
use crate::kube::ops::WorkloadKind;
use crate::kube::plan::{self, ScaleSeed};
use crate::kube::tui::prompt::{KubePrompt, ReplicaField};
use crate::ops::{MutatingOp, PlanCtx, PlanError};
use crate::tui::input::LineInput;
use crate::tui::state::{Cmd, Mode, State, ToastLevel, Waiting};

/// A Kubernetes flow the console started.
#[derive(Debug, Clone)]
pub enum KubeFlow {
    /// `s`: the current replicas and uid, then the replica field.
    Scale {
        context: ContextRef,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    },
    /// `R`: the uid, then the confirmation.
    Restart {
        context: ContextRef,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    },
    /// `d`/`Ctrl-K` on a pod: its uid and controller, then the confirmation.
    DeletePod {
        context: ContextRef,
        namespace: String,
        name: String,
    },
    /// `c` / `u` on a node.
    Cordon {
        context: ContextRef,
        name: String,
        cordon: bool,
    },
}

impl KubeFlow {
    /// What the console says while the flow reads.
    pub fn doing(&self) -> String {
        match self {
            KubeFlow::Scale {
                namespace, name, ..
            } => {
                format!("reading the replicas of {namespace}/{name}")
            }
            KubeFlow::Restart {
                namespace, name, ..
            } => {
                format!("reading {namespace}/{name} to restart it")
            }
            KubeFlow::DeletePod {
                namespace, name, ..
            } => {
                format!("reading pod {namespace}/{name} to delete it")
            }
            KubeFlow::Cordon { name, cordon, .. } => format!(
                "reading node {name} to {} it",
                if *cordon { "cordon" } else { "uncordon" }
            ),
        }
    }
}

/// What a flow yields for the console.
#[derive(Debug)]
pub enum KubePlanned {
    /// Ask the gate for this operation's confirmation.
    Confirm(Box<MutatingOp>),
    /// Open the replica field, prefilled with the current count.
    ScaleField(Box<ScaleSeed>),
}

/// Run a flow to its plan (off the UI thread).
pub async fn run(flow: KubeFlow, ctx: &dyn PlanCtx) -> Result<KubePlanned, PlanError> {
    match flow {
        KubeFlow::Scale {
            context,
            kind,
            namespace,
            name,
        } => {
            let seed = plan::scale(ctx, &context, kind, &namespace, &name).await?;
            Ok(KubePlanned::ScaleField(Box::new(seed)))
        }
        KubeFlow::Restart {
            context,
            kind,
            namespace,
            name,
        } => {
            let op = plan::restart(
                ctx,
                &context,
                kind,
                &namespace,
                &name,
                std::time::SystemTime::now(),
            )
            .await?;
            Ok(KubePlanned::Confirm(Box::new(MutatingOp::from(op))))
        }
        KubeFlow::DeletePod {
            context,
            namespace,
            name,
        } => {
            let op = plan::delete_pod(ctx, &context, &namespace, &name).await?;
            Ok(KubePlanned::Confirm(Box::new(MutatingOp::from(op))))
        }
        KubeFlow::Cordon {
            context,
            name,
            cordon,
        } => {
            let op = plan::cordon(ctx, &context, &name, cordon).await?;
            Ok(KubePlanned::Confirm(Box::new(MutatingOp::from(op))))
        }
    }
}

/// A flow's outcome arrived: queue the confirmation (it opens once no other dialog is open),
/// open the replica field, or say why there is neither.
pub fn planned(state: &mut State, result: Result<KubePlanned, PlanError>) -> Vec<Cmd> {
    match result {
        Ok(KubePlanned::Confirm(op)) => {
            state.toast = None;
            state.waiting.push_back(Waiting::Confirm(*op));
        }
        Ok(KubePlanned::ScaleField(seed)) => {
            state.toast = None;
            let field = ReplicaField {
                input: LineInput::with_text(&seed.current.to_string()),
                seed: *seed,
                error: None,
            };
            if matches!(state.mode, Mode::Normal) {
                state.mode = Mode::Kube(KubePrompt::Replicas(Box::new(field)));
            } else {
                state.toast(
                    ToastLevel::Info,
                    "another dialog is open; press s again once it is closed",
                );
            }
        }
        Err(e) => state.toast(ToastLevel::Error, e.to_string()),
    }
    Vec::new()
}
