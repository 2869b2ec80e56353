//! Plans: turning what was asked (a selection, command arguments, a tool call) into a fully
//! resolved operation, fetching first what must be known. One plan function per action, shared
//! by the console (run off the UI thread), the headless commands and, later, the assistant, so
//! each asks for exactly the same operation.

use crate::engine::ReadOutput;
use crate::engine::ports::{ErrorKind, ProviderError};
use crate::model::Environment;
use crate::ops::ReadOp;
use futures::future::BoxFuture;

/// The session's facts a plan resolves targets with.
pub trait SessionFacts {
    /// The region the session talks to, if one is known.
    fn region(&self) -> Option<String>;
    /// The environment of an account (config mapping, then `--env`).
    fn environment_of(&self, account: &str) -> Environment;
    /// The environment of a Kubernetes cluster, by its context's name and its ARN or name
    /// (config mapping, then `--env`); unmapped counts as PRD.
    fn kube_environment(&self, context: &str, cluster: &str) -> Environment;

    /// The Kubernetes context the session works in, when one was chosen (the console's
    /// current context, `--context`). A plan given no context uses it, else the kubeconfig's
    /// current context, as kubectl does. (No default: a wrapper that forgot to pass it on
    /// would send a tool to another cluster than the one on screen.)
    fn kube_context(&self) -> Option<crate::kube::model::ContextRef>;
}

/// What a plan may use wherever it runs: the session's facts, and reads through the engine
/// (recorded as jobs, retried and timed out like any read).
pub trait PlanCtx: SessionFacts + Send + Sync {
    /// Run a read and wait for its answer.
    fn read(&self, op: ReadOp) -> BoxFuture<'_, Result<ReadOutput, ProviderError>>;

    /// The compliance rules and waivers as loaded here (the user's policies included), or
    /// `None` when they are not loaded (yet): a plan then says the template could not be
    /// judged, which the gate treats as a failure, never as a pass.
    fn checker(&self) -> Option<std::sync::Arc<crate::compliance::Checker>> {
        None
    }

    /// The price catalogue, usage file and budgets a deploy's cost verdict is made with.
    /// `None` where they are not loaded: a plan then says the change was not estimated,
    /// which raises the tier where a budget is set.
    fn pricing(&self) -> Option<std::sync::Arc<crate::cost::headless::PricingInputs>> {
        None
    }

    /// The newest `limit` jobs, newest first (empty where there is no job store).
    fn jobs(&self, limit: usize) -> Vec<crate::model::JobRecord> {
        let _ = limit;
        Vec::new()
    }

    /// Where the user's installers are and how installer targets map to environments
    /// (`[targets]`); `None` where installers are not known (a plan then says so).
    fn installers(&self) -> Option<crate::installers::plan::InstallerSource> {
        None
    }
}

/// Why a plan did not yield an operation, as a sentence for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// What was named does not exist (no such stack, template…).
    #[error("{0}")]
    NotFound(String),
    /// It exists, but this action cannot be asked for now (a protected stack, a stack in a
    /// state that forbids it).
    #[error("{0}")]
    Refused(String),
    /// A read the plan needed failed.
    #[error("{0}")]
    Failed(String),
    /// The arguments are not what the action takes (a missing or malformed one).
    #[error("{0}")]
    Input(String),
}

impl PlanError {
    /// A read the plan depended on failed: say what was being read.
    pub fn read_failed(what: &str, e: ProviderError) -> PlanError {
        if e.kind == ErrorKind::NotFound {
            PlanError::NotFound(format!("{what}: {e}"))
        } else {
            PlanError::Failed(format!("cannot {what}: {e}"))
        }
    }
}
