//! Cost as the engine sees it: the port its provider implements, the values its reads and
//! changes yield, and the dispatch from an operation to the port's method. Every mutating
//! method demands the approval for exactly its operation.

use crate::cost::model::{IdleReport, SpendReport};
use crate::cost::ops::{
    CostMutation, CostRead, DeleteVolumes, PriceBook, ReleaseAddresses, SpendQuery, StopInstances,
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

/// Run one cost read. A spend read that carries the account's cache is answered from it while
/// it is fresh (no paid request), and keeps what it fetches there; an idle scan that carries a
/// catalogue is priced with it.
pub async fn read(api: &dyn CostApi, op: &CostRead, ctx: &TaskCtx) -> ProviderResult<CostOutput> {
    match op {
        CostRead::Spend(query) => {
            let now = crate::model::now_ms();
            if let Some(cached) = crate::cost::spend::fresh_cached(query, now) {
                ctx.info(format!(
                    "the spend fetched {} ago is fresh (cost.cache_hours): no Cost Explorer request",
                    crate::cost::spend::age_text(cached.fetched_ms, now)
                ));
                return Ok(CostOutput::Spend(Box::new(cached)));
            }
            let report = api.spend(query, ctx).await?;
            if let Err(e) = crate::cost::spend::keep(query, &report) {
                ctx.warn(format!("the spend cache could not be written: {e}"));
            }
            Ok(CostOutput::Spend(Box::new(report)))
        }
        CostRead::Idle { scope, prices } => {
            let mut report = api.idle(scope, ctx).await?;
            if let Some(PriceBook(catalogue)) = prices {
                crate::cost::idle::price(&mut report, catalogue);
            }
            Ok(CostOutput::Idle(Box::new(report)))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::model::{IdleReport, Part, SpendSource};
    use crate::engine::ports::{ErrorKind, ProviderError};
    use futures::FutureExt;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Answers every spend read with a new Cost Explorer report, counting the reads.
    #[derive(Default)]
    struct Counting {
        spends: AtomicU32,
    }

    impl CostApi for Counting {
        fn spend<'a>(
            &'a self,
            query: &'a SpendQuery,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<SpendReport>> {
            let n = self.spends.fetch_add(1, Ordering::SeqCst) + 1;
            let source = if query.free_only {
                SpendSource::Cloudwatch
            } else {
                SpendSource::CostExplorer
            };
            async move {
                Ok(SpendReport {
                    source,
                    currency: "USD".into(),
                    fetched_ms: crate::model::now_ms(),
                    month_to_date: Part::Ok(f64::from(n)),
                    months: Part::Unavailable("not asked".into()),
                    daily: Part::Unavailable("not asked".into()),
                    forecast: Part::Unavailable("not asked".into()),
                    by_tag: None,
                    by_stack: Part::Ok(vec![]),
                    calls: 1,
                    fallback_reason: None,
                    months_requested: query.months,
                })
            }
            .boxed()
        }

        fn idle<'a>(
            &'a self,
            _scope: &'a ReadScope,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<IdleReport>> {
            async { Ok(IdleReport::default()) }.boxed()
        }

        fn stop_instances<'a>(
            &'a self,
            _approved: Approved<StopInstances>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            async { Err(ProviderError::new(ErrorKind::Other, "not here")) }.boxed()
        }

        fn delete_volumes<'a>(
            &'a self,
            _approved: Approved<DeleteVolumes>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            async { Err(ProviderError::new(ErrorKind::Other, "not here")) }.boxed()
        }

        fn release_addresses<'a>(
            &'a self,
            _approved: Approved<ReleaseAddresses>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            async { Err(ProviderError::new(ErrorKind::Other, "not here")) }.boxed()
        }
    }

    fn month_to_date(output: ProviderResult<CostOutput>) -> f64 {
        match output {
            Ok(CostOutput::Spend(r)) => *r.month_to_date.ok().expect("a figure"),
            other => panic!("a spend report, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_fresh_cached_report_answers_the_spend_read_without_a_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let api = Counting::default();
        let ctx = TaskCtx::detached(1);
        let settings = crate::config::Config::defaults()
            .expect("defaults")
            .cost
            .clone();
        let query = |months: u32, free: bool, refresh: bool| {
            let mut q = crate::cost::plan::spend_query(
                &settings,
                dir.path(),
                crate::model::now_ms(),
                months,
                free,
            );
            q.cache = Some(crate::cost::spend::cache_for(
                dir.path(),
                "123456789012",
                settings.cache_hours,
                refresh,
            ));
            CostRead::Spend(q)
        };
        // Nothing cached: fetched, and kept.
        assert_eq!(
            month_to_date(read(&api, &query(3, false, false), &ctx).await),
            1.0
        );
        assert!(crate::cost::spend::load_cached(dir.path(), "123456789012").is_some());
        // Fresh: the cache answers, no request.
        assert_eq!(
            month_to_date(read(&api, &query(3, false, false), &ctx).await),
            1.0
        );
        assert_eq!(
            month_to_date(read(&api, &query(1, false, false), &ctx).await),
            1.0
        );
        assert_eq!(api.spends.load(Ordering::SeqCst), 1);
        // More months than cached, the free metric, an explicit refresh: fetched.
        assert_eq!(
            month_to_date(read(&api, &query(6, false, false), &ctx).await),
            2.0
        );
        assert_eq!(
            month_to_date(read(&api, &query(3, true, false), &ctx).await),
            3.0
        );
        assert_eq!(
            month_to_date(read(&api, &query(3, false, true), &ctx).await),
            4.0
        );
        // The free report is kept too, but never answers a Cost Explorer read.
        assert_eq!(
            month_to_date(read(&api, &query(3, true, false), &ctx).await),
            5.0
        );
        assert_eq!(
            month_to_date(read(&api, &query(3, false, false), &ctx).await),
            6.0
        );
        assert_eq!(api.spends.load(Ordering::SeqCst), 6);
        // Without a cache (the console keeps its own): always fetched, nothing kept here.
        let mut q =
            crate::cost::plan::spend_query(&settings, dir.path(), crate::model::now_ms(), 3, false);
        q.cache = None;
        assert_eq!(
            month_to_date(read(&api, &CostRead::Spend(q), &ctx).await),
            7.0
        );
    }
}
