//! Cost as the engine sees it: the port its provider implements, the values its reads and
//! changes yield, and the dispatch from an operation to the port's method. Every mutating
//! method demands the approval for exactly its operation.

use crate::cost::model::{IdleReport, SpendReport};
use crate::cost::ops::{
    CostMutation, CostRead, DeleteVolumes, ReleaseAddresses, SpendQuery, StopInstances,
};
use crate::engine::ports::ProviderResult;
use crate::engine::task::TaskCtx;
use crate::ops::{Approved, ReadScope};
use futures::future::BoxFuture;

/// What a cost read yields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostOutput {
    Spend(Box<SpendReport>),
    /// Findings carry what to price them as; `cost::idle::price` fills in the figures.
    Idle(Box<IdleReport>),
}

/// What a reaping change yields.
#[derive(Debug, Clone, PartialEq)]
pub enum CostOutcome {
    /// A one-line summary of what was done.
    Done(String),
}

impl CostOutcome {
    pub fn summary(&self) -> String {
        match self {
            CostOutcome::Done(s) => s.clone(),
        }
    }
}

/// An approved cost change narrowed to its operation.
#[derive(Debug)]
pub enum ApprovedCost {
    StopInstances(Approved<StopInstances>),
    DeleteVolumes(Approved<DeleteVolumes>),
    ReleaseAddresses(Approved<ReleaseAddresses>),
}

impl Approved<CostMutation> {
    pub fn split(self) -> ApprovedCost {
        let (op, proof) = self.into_parts();
        match op {
            CostMutation::StopInstances(o) => ApprovedCost::StopInstances(proof.attach(o)),
            CostMutation::DeleteVolumes(o) => ApprovedCost::DeleteVolumes(proof.attach(o)),
            CostMutation::ReleaseAddresses(o) => ApprovedCost::ReleaseAddresses(proof.attach(o)),
        }
    }
}

/// Cost as the engine sees it.
pub trait CostApi: Send + Sync {
    /// Spend from Cost Explorer (each request counted against the daily call budget before it
    /// is sent), falling back to the `AWS/Billing EstimatedCharges` metric. Parts that fail are
    /// marked unavailable; the read itself fails only when nothing could be read.
    fn spend<'a>(
        &'a self,
        query: &'a SpendQuery,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<SpendReport>>;

    /// Idle resources in the scope's region, by Trusted Advisor's thresholds.
    fn idle<'a>(
        &'a self,
        scope: &'a ReadScope,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<IdleReport>>;

    /// StopInstances, then wait (bounded) until each is stopped.
    fn stop_instances<'a>(
        &'a self,
        approved: Approved<StopInstances>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// For each volume: check it is still unattached, CreateSnapshot (tagged with the volume
    /// it came from), wait until the snapshot completes, then DeleteVolume.
    fn delete_volumes<'a>(
        &'a self,
        approved: Approved<DeleteVolumes>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// Check each address is still unassociated, then ReleaseAddress.
    fn release_addresses<'a>(
        &'a self,
        approved: Approved<ReleaseAddresses>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;
}

/// Run one cost read.
pub async fn read(api: &dyn CostApi, op: &CostRead, ctx: &TaskCtx) -> ProviderResult<CostOutput> {
    match op {
        CostRead::Spend(query) => api
            .spend(query, ctx)
            .await
            .map(|r| CostOutput::Spend(Box::new(r))),
        CostRead::Idle { scope } => api
            .idle(scope, ctx)
            .await
            .map(|r| CostOutput::Idle(Box::new(r))),
    }
}

/// Run one approved cost change through the provider method that demands it.
pub async fn execute(
    api: &dyn CostApi,
    approved: Approved<CostMutation>,
    ctx: &TaskCtx,
) -> ProviderResult<CostOutcome> {
    match approved.split() {
        ApprovedCost::StopInstances(a) => api.stop_instances(a, ctx).await.map(CostOutcome::Done),
        ApprovedCost::DeleteVolumes(a) => api.delete_volumes(a, ctx).await.map(CostOutcome::Done),
        ApprovedCost::ReleaseAddresses(a) => {
            api.release_addresses(a, ctx).await.map(CostOutcome::Done)
        }
    }
}
