//! Installers as the engine sees them: the port the provider implements, what its read and
//! its run yield, and the dispatch from an operation to the port's method. The run demands the
//! approval for exactly its operation.

use super::ops::{HostFacts, InstallMutation, InstallRead, RunInstaller, Target};
use crate::engine::ports::ProviderResult;
use crate::engine::task::TaskCtx;
use crate::ops::Approved;
use futures::future::BoxFuture;

/// What an installer read yields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallOutput {
    /// What preflight found on a target.
    Facts {
        target: Target,
        facts: Box<HostFacts>,
    },
}

/// What a finished run yields: every target succeeded (a failed target fails the run, with
/// each target's outcome in the error and in its own job).
#[derive(Debug, Clone, PartialEq)]
pub enum InstallOutcome {
    Done(String),
}

impl InstallOutcome {
    /// The line for the job log and the audit entry.
    pub fn summary(&self) -> String {
        match self {
            InstallOutcome::Done(s) => s.clone(),
        }
    }
}

/// An approved installer change narrowed to its operation.
#[derive(Debug)]
pub enum ApprovedInstall {
    RunInstaller(Approved<RunInstaller>),
}

impl Approved<InstallMutation> {
    pub fn split(self) -> ApprovedInstall {
        let (op, proof) = self.into_parts();
        match op {
            InstallMutation::RunInstaller(r) => ApprovedInstall::RunInstaller(proof.attach(r)),
        }
    }
}

/// Installers as the engine sees them.
pub trait InstallApi: Send + Sync {
    /// OS, RAM, free disk and cores of a target (and, for SSM, the aws CLI and the tags).
    fn preflight<'a>(
        &'a self,
        target: &'a Target,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<HostFacts>>;

    /// Run the installer on every target (one child job each, at most `max_concurrency` at a
    /// time, no new target once more than `max_errors` failed), after checking that the
    /// installer's hash is still the confirmed one.
    fn run_installer<'a>(
        &'a self,
        approved: Approved<RunInstaller>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;
}

/// Run one installer read.
pub async fn read(
    api: &dyn InstallApi,
    op: &InstallRead,
    ctx: &TaskCtx,
) -> ProviderResult<InstallOutput> {
    match op {
        InstallRead::Preflight { target } => {
            api.preflight(target, ctx)
                .await
                .map(|facts| InstallOutput::Facts {
                    target: target.clone(),
                    facts: Box::new(facts),
                })
        }
    }
}

/// Run one approved installer change through the provider method that demands it.
pub async fn execute(
    api: &dyn InstallApi,
    approved: Approved<InstallMutation>,
    ctx: &TaskCtx,
) -> ProviderResult<InstallOutcome> {
    match approved.split() {
        ApprovedInstall::RunInstaller(a) => {
            api.run_installer(a, ctx).await.map(InstallOutcome::Done)
        }
    }
}
