//! The scheduler: submits reads, mutations and streams as tasks, one job record, log, cancel
//! token and timeout each; supersedes by the task's own key; checks every approval against
//! its gate and read-only mode before a mutation runs; and reports to the console as
//! [`EngineEvent`]s.
//!
//! Over 800 lines because the submit paths share their job bookkeeping and audit outcome,
//! which are easier to check side by side.

use crate::audit::{Actor, AuditSink, Decision};
use crate::cfn::port::{CfnOutcome, CfnOutput};
use crate::cost::port::{CostOutcome, CostOutput};
use crate::engine::joblog::{JobLog, SharedJobLog};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult, Providers};
use crate::engine::retry::{Backoff, human};
use crate::engine::store::{ChangeOrigin, JobStore, NewJob};
use crate::engine::stream::{self, StreamUpdates};
use crate::engine::task::{JobHandle, TaskCtx};
use crate::installers::port::{InstallOutcome, InstallOutput};
use crate::kube::port::{KubeOutcome, KubeOutput};
use crate::model::{CallerIdentity, JobId, JobKind, JobRecord, JobState};
use crate::ops::{Approved, ApprovedMutation, GateBinding, MutatingOp, ReadOnlyLatch, ReadOp};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc::UnboundedSender};
use tokio_util::sync::CancellationToken;

mod tasks;

/// What a read yields, one variant per capability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutput {
    Identity(CallerIdentity),
    Cfn(CfnOutput),
    Install(InstallOutput),
    Kube(KubeOutput),
    Cost(CostOutput),
}

/// What a finished mutation yields, one variant per capability.
#[derive(Debug, Clone, PartialEq)]
pub enum MutationOutput {
    Cfn(CfnOutcome),
    Install(InstallOutcome),
    Kube(KubeOutcome),
    Cost(CostOutcome),
}

impl MutationOutput {
    /// The line for the job log and the audit entry.
    pub fn summary(&self) -> String {
        match self {
            MutationOutput::Cfn(o) => o.summary(),
            MutationOutput::Install(o) => o.summary(),
            MutationOutput::Kube(o) => o.summary(),
            MutationOutput::Cost(o) => o.summary(),
        }
    }
}

/// What the engine tells the UI. Sent on an unbounded channel; log growth is coalesced.
pub enum EngineEvent {
    /// AWS configuration resolved (region may still be unknown).
    CloudReady {
        region: Option<String>,
    },
    JobCreated {
        record: JobRecord,
        handle: JobHandle,
    },
    JobChanged(JobRecord),
    LogGrew(JobId),
    /// A streaming task started: its updates arrive here, at the console's pace.
    StreamOpened(StreamUpdates),
    /// A stream has updates waiting (coalesced: one until the console drains).
    StreamReady(JobId),
    ReadDone {
        job: JobId,
        /// The supersede key the read was submitted with.
        key: Option<String>,
        result: Result<ReadOutput, ProviderError>,
    },
    MutationDone {
        job: JobId,
        /// The operation that ran, as it was confirmed (boxed: events stay small).
        op: Box<MutatingOp>,
        result: Result<MutationOutput, String>,
    },
    /// A task of [`Engine::submit_task`] ended: what it sent before is all in its stream.
    TaskDone {
        job: JobId,
        /// Its one-line summary, or why it failed (`Cancelled` when stopped).
        result: Result<String, ProviderError>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationRefused {
    #[error("read-only mode: {0}")]
    ReadOnly(String),
    #[error("could not start the job: {0}")]
    Store(String),
    #[error("refused: {0}")]
    ForeignApproval(String),
}

/// Tunables; tests shorten them.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub read_concurrency: usize,
    /// Follows and drift checks running at once (they queue beyond this).
    pub long_read_concurrency: usize,
    /// Open-ended reads (cluster watches, log follows) running at once; each holds one
    /// connection, so this bounds them too.
    pub open_ended_concurrency: usize,
    /// Tries of a read that fails transiently (throttled, 5xx, network), backing off from
    /// `read_backoff_base` (doubling, capped at `read_backoff_max`).
    pub read_attempts: u32,
    pub read_backoff_base: Duration,
    pub read_backoff_max: Duration,
    /// The longest one AWS call may take, in any task: handed to providers in the
    /// [`TaskCtx`], which bound every call by it (the SDK's operation timeout is the same
    /// number, see `AwsSettings::call_timeout`).
    pub call_timeout: Duration,
    /// A net over one whole read (all its calls and pages), generous: each call is already
    /// bounded by `call_timeout`.
    pub read_timeout: Duration,
    /// The net over a mutation, a drift check or a follow: as long as CloudFormation takes.
    pub mutation_timeout: Duration,
    pub log_ring: usize,
    /// Where job logs spill; `None` keeps logs in memory only.
    pub logs_dir: Option<PathBuf>,
}

impl EngineConfig {
    /// One AWS call: a healthy endpoint answers in well under a second; a minute is the most
    /// an operator should wait before hearing that it does not.
    pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            read_concurrency: 4,
            long_read_concurrency: 8,
            open_ended_concurrency: 32,
            read_attempts: 5,
            read_backoff_base: Duration::from_millis(400),
            read_backoff_max: Duration::from_secs(10),
            call_timeout: EngineConfig::DEFAULT_CALL_TIMEOUT,
            read_timeout: Duration::from_secs(10 * 60),
            mutation_timeout: Duration::from_secs(3 * 3600),
            log_ring: JobLog::DEFAULT_RING,
            logs_dir: None,
        }
    }
}

type ProvidersFuture = Shared<BoxFuture<'static, Arc<Providers>>>;

struct RunningMutation {
    op: MutatingOp,
    actor: Actor,
    request_id: u64,
}

struct Inner {
    /// Replaced when the session moves to another region ([`Engine::set_providers`]); a task
    /// keeps the clients it started with.
    providers: Mutex<ProvidersFuture>,
    store: Arc<JobStore>,
    audit: Arc<dyn AuditSink>,
    latch: ReadOnlyLatch,
    gate: GateBinding,
    events: UnboundedSender<EngineEvent>,
    config: EngineConfig,
    read_slots: Semaphore,
    /// Follows and drift checks last minutes: they get their own slots, so they never hold
    /// the slots the list, detail and identity reads need.
    long_read_slots: Semaphore,
    /// Watches and log follows: slots of their own, so they never hold the others'.
    open_ended_slots: Semaphore,
    /// The latest read per supersede key; a newer one cancels it.
    latest: Mutex<HashMap<String, (JobId, CancellationToken)>>,
    target_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    cancels: Mutex<HashMap<JobId, CancellationToken>>,
    /// Child jobs by parent: a parent that ends (or is cut short) ends those still open.
    children: Mutex<HashMap<JobId, Vec<JobId>>>,
    running_mutations: Mutex<HashMap<JobId, RunningMutation>>,
    /// Logs of jobs still running: flushed to their files every [`LOG_FLUSH_EVERY`] and at the
    /// job's end, so a crash loses at most the last second of any log.
    live_logs: Mutex<HashMap<JobId, SharedJobLog>>,
    next_quiet: AtomicU64,
}

/// How often running jobs' logs reach their files (see `JobLog::FLUSH_EVERY`, which bounds it
/// for a busy log; this bounds it for one that has gone quiet).
pub const LOG_FLUSH_EVERY: Duration = JobLog::FLUSH_EVERY;

/// Lines kept for a quiet refresh's log: only its retry warnings matter, and nobody opens it.
const QUIET_LOG_RING: usize = 64;

/// Cheap to clone; all clones drive the same scheduler.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// `providers` resolves the clients; tasks wait for it, so nothing waits for it at start.
    /// Must be called inside a tokio runtime.
    pub fn start(
        providers: BoxFuture<'static, Arc<Providers>>,
        store: Arc<JobStore>,
        audit: Arc<dyn AuditSink>,
        gate: GateBinding,
        events: UnboundedSender<EngineEvent>,
        config: EngineConfig,
    ) -> Engine {
        // The engine's read-only check uses the very latch its gate uses.
        let latch = gate.latch().clone();
        let providers = providers.shared();
        let read_slots = Semaphore::new(config.read_concurrency.max(1));
        let long_read_slots = Semaphore::new(config.long_read_concurrency.max(1));
        let open_ended_slots = Semaphore::new(config.open_ended_concurrency.max(1));
        let engine = Engine {
            inner: Arc::new(Inner {
                providers: Mutex::new(providers.clone()),
                store,
                audit,
                latch,
                gate,
                events,
                config,
                read_slots,
                long_read_slots,
                open_ended_slots,
                latest: Mutex::default(),
                target_locks: Mutex::default(),
                cancels: Mutex::default(),
                children: Mutex::default(),
                running_mutations: Mutex::default(),
                live_logs: Mutex::default(),
                next_quiet: AtomicU64::new(0),
            }),
        };
        // Flush quiet logs: a job that logged a line and then waits (for CloudFormation, say)
        // must not keep that line in memory. Ends when the engine is dropped.
        let weak = Arc::downgrade(&engine.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LOG_FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let logs: Vec<SharedJobLog> = lock(&inner.live_logs).values().cloned().collect();
                drop(inner);
                for log in logs {
                    // A failed flush is kept in the log's spill_error (shown with the log).
                    let _ = lock(&log).flush_if_dirty();
                }
            }
        });
        let events = engine.inner.events.clone();
        tokio::spawn(async move {
            // Shared futures are lazy: drive the AWS set-up now so the first read need not.
            let providers = providers.await;
            let _ = events.send(EngineEvent::CloudReady {
                region: providers.sts.region(),
            });
        });
        engine
    }

    pub fn store(&self) -> &Arc<JobStore> {
        &self.inner.store
    }

    /// The clients tasks started from now on use.
    fn providers(&self) -> ProvidersFuture {
        lock(&self.inner.providers).clone()
    }

    /// Schedule a read. A read with a supersede `key` cancels the previous one with that key
    /// (a newer list refresh makes the older one pointless); the caller chooses the key.
    pub fn submit_read(&self, op: ReadOp, key: Option<String>) -> Option<JobId> {
        let (handle, cancel) = self.create_job(JobKind::Read, op.name(), op.title(), None, None)?;
        Some(self.spawn_read(op, key, handle, cancel, true, None))
    }

    /// Run a read as a job (recorded, retried, timed out like any) and hand its result to the
    /// caller rather than to the event stream: how a plan fetches what it must know before it
    /// can ask for a confirmation.
    pub async fn read(&self, op: ReadOp) -> ProviderResult<ReadOutput> {
        let Some((handle, cancel)) =
            self.create_job(JobKind::Read, op.name(), op.title(), None, None)
        else {
            return Err(ProviderError::new(
                ErrorKind::Other,
                "the job store could not record the read; check the data directory",
            ));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.spawn_read(op, None, handle, cancel, true, Some(reply));
        answer.await.unwrap_or_else(|_| {
            Err(ProviderError::new(
                ErrorKind::Cancelled,
                "the engine stopped before the read finished",
            ))
        })
    }

    /// A background refresh, such as the periodic stack list: runs like a read (same limits,
    /// retries and latest-wins) but leaves no job record, so polling does not bury the Jobs
    /// pane. Its id is negative, unique within this process.
    pub fn submit_refresh(&self, op: ReadOp, key: Option<String>) -> JobId {
        let job = -(self.inner.next_quiet.fetch_add(1, Ordering::Relaxed) as JobId) - 1;
        let handle = JobHandle {
            id: job,
            log: Arc::new(Mutex::new(JobLog::memory_only(QUIET_LOG_RING))),
            // Already "notified": a quiet read never announces log growth.
            notified: Arc::new(AtomicBool::new(true)),
        };
        self.spawn_read(op, key, handle, CancellationToken::new(), false, None)
    }

    /// Run a read as `handle`'s job: latest-wins for its key, then `ReadDone` (or the answer to
    /// `reply`, when a caller awaits it). A `recorded` job also logs its error and finishes its
    /// job-store record.
    fn spawn_read(
        &self,
        op: ReadOp,
        key: Option<String>,
        handle: JobHandle,
        cancel: CancellationToken,
        recorded: bool,
        reply: Option<tokio::sync::oneshot::Sender<ProviderResult<ReadOutput>>>,
    ) -> JobId {
        let job = handle.id;
        if let Some(key) = &key
            && let Some((_, older)) =
                lock(&self.inner.latest).insert(key.clone(), (job, cancel.clone()))
        {
            older.cancel();
        }
        // A streaming read hands its updates to the console through a bounded channel.
        let stream = (op.streams() && reply.is_none()).then(|| {
            let (sink, updates) = stream::channel(job, self.inner.events.clone());
            let _ = self.inner.events.send(EngineEvent::StreamOpened(updates));
            sink
        });
        let engine = self.clone();
        tokio::spawn(async move {
            let mut ctx = engine.ctx(handle, cancel);
            ctx.stream = stream;
            let result = engine.run_read(&op, &ctx).await;
            if recorded {
                let state = match &result {
                    Ok(_) => JobState::Succeeded,
                    Err(e) if e.kind == ErrorKind::Cancelled => JobState::Cancelled,
                    Err(_) => JobState::Failed,
                };
                if let Err(e) = &result {
                    ctx.error(e.to_string());
                }
                engine.finish(job, state, result.as_ref().err().map(|e| e.to_string()));
            }
            lock(&engine.inner.latest).retain(|_, (id, _)| *id != job);
            match reply {
                Some(reply) => {
                    let _ = reply.send(result);
                }
                None => {
                    let _ = engine
                        .inner
                        .events
                        .send(EngineEvent::ReadDone { job, key, result });
                }
            }
        });
        job
    }

    /// Execute an approved mutation. The token is consumed whatever happens.
    pub fn submit_mutation(
        &self,
        approved: Approved<MutatingOp>,
    ) -> Result<JobId, MutationRefused> {
        let op = approved.op().clone();
        if self.inner.gate.check(&approved).is_err() {
            let why =
                "the approval was not minted by this console's confirmation dialog".to_string();
            self.audit(
                &op,
                approved.actor(),
                approved.request_id(),
                Decision::Refused,
                Some(why.clone()),
            );
            return Err(MutationRefused::ForeignApproval(why));
        }
        if self.inner.latch.is_engaged() {
            let reason = self.inner.latch.reason().unwrap_or_default();
            self.audit(
                &op,
                approved.actor(),
                approved.request_id(),
                Decision::RefusedReadOnly,
                Some(reason.clone()),
            );
            return Err(MutationRefused::ReadOnly(reason));
        }
        let origin = ChangeOrigin {
            actor: approved.actor().clone(),
            environment: op.environment().as_str().to_string(),
            request_id: approved.request_id(),
            target: op.target_json(),
        };
        let Some((handle, cancel)) = self.create_job(
            JobKind::Mutation,
            op.name(),
            op.describe(),
            Some(op.target_line()),
            Some(origin),
        ) else {
            let why = "the job store could not record the job".to_string();
            self.audit(
                &op,
                approved.actor(),
                approved.request_id(),
                Decision::Failed,
                Some(format!("not started: {why}")),
            );
            return Err(MutationRefused::Store(why));
        };
        let job = handle.id;
        lock(&self.inner.running_mutations).insert(
            job,
            RunningMutation {
                op: op.clone(),
                actor: approved.actor().clone(),
                request_id: approved.request_id(),
            },
        );
        let engine = self.clone();
        tokio::spawn(async move {
            let ctx = engine.ctx(handle, cancel);
            let result = engine.run_mutation(approved, &ctx).await;
            let (state, decision, detail) = match &result {
                Ok(output) => (JobState::Succeeded, Decision::Succeeded, output.summary()),
                Err(e) if e.kind == ErrorKind::Cancelled => {
                    (JobState::Cancelled, Decision::Cancelled, e.to_string())
                }
                Err(e) if e.kind == ErrorKind::Detached => {
                    (JobState::Cancelled, Decision::Detached, e.to_string())
                }
                Err(e) => (JobState::Failed, Decision::Failed, e.to_string()),
            };
            match &result {
                Ok(output) => ctx.info(output.summary()),
                Err(e) => ctx.error(e.to_string()),
            }
            if let Some(running) = lock(&engine.inner.running_mutations).remove(&job) {
                engine.audit(
                    &running.op,
                    &running.actor,
                    running.request_id,
                    decision,
                    Some(detail),
                );
            }
            engine.finish(job, state, result.as_ref().err().map(|e| e.to_string()));
            let _ = engine.inner.events.send(EngineEvent::MutationDone {
                job,
                op: Box::new(op),
                result: result.map_err(|e| e.to_string()),
            });
        });
        Ok(job)
    }

    pub fn cancel(&self, job: JobId) -> bool {
        match lock(&self.inner.cancels).get(&job) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Stop everything: cancel tasks, record running mutations as interrupted in the audit log
    /// and every unfinished job of this process as interrupted in the store.
    pub fn shutdown(&self) -> usize {
        for token in lock(&self.inner.cancels).values() {
            token.cancel();
        }
        for log in lock(&self.inner.live_logs).values() {
            let _ = lock(log).flush();
        }
        let running: Vec<_> = lock(&self.inner.running_mutations).drain().collect();
        for (_, m) in running {
            self.audit(
                &m.op,
                &m.actor,
                m.request_id,
                Decision::Interrupted,
                Some("opsdeck stopped while the change was running; check its state in AWS".into()),
            );
        }
        self.inner.store.interrupt_own().unwrap_or_else(|e| {
            tracing::error!("could not mark jobs interrupted: {e}");
            0
        })
    }

    fn create_job(
        &self,
        kind: JobKind,
        operation: &str,
        title: String,
        target: Option<String>,
        origin: Option<ChangeOrigin>,
    ) -> Option<(JobHandle, CancellationToken)> {
        self.create_job_under(kind, operation, title, target, origin, None)
    }

    /// A job record, log and cancel token; a child's token is cancelled with its parent's.
    fn create_job_under(
        &self,
        kind: JobKind,
        operation: &str,
        title: String,
        target: Option<String>,
        origin: Option<ChangeOrigin>,
        parent: Option<(JobId, &CancellationToken)>,
    ) -> Option<(JobHandle, CancellationToken)> {
        let store = &self.inner.store;
        let new = NewJob {
            kind,
            operation: operation.to_string(),
            title,
            target,
            log_path: None,
            origin,
            parent: parent.map(|(id, _)| id),
        };
        let id = match store.insert(&new) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!("job store insert failed: {e}");
                return None;
            }
        };
        let log = match &self.inner.config.logs_dir {
            Some(dir) => {
                let path = dir.join(format!("{id}.log"));
                match JobLog::create(&path, self.inner.config.log_ring) {
                    Ok(log) => {
                        let _ = store.set_log_path(id, &path.to_string_lossy());
                        log
                    }
                    Err(e) => {
                        tracing::warn!("job log file {} unavailable: {e}", path.display());
                        JobLog::memory_only(self.inner.config.log_ring)
                    }
                }
            }
            None => JobLog::memory_only(self.inner.config.log_ring),
        };
        let log: SharedJobLog = Arc::new(Mutex::new(log));
        lock(&self.inner.live_logs).insert(id, log.clone());
        let handle = JobHandle {
            id,
            log,
            notified: Arc::new(AtomicBool::new(false)),
        };
        let cancel = match parent {
            Some((_, token)) => token.child_token(),
            None => CancellationToken::new(),
        };
        lock(&self.inner.cancels).insert(id, cancel.clone());
        if let Ok(Some(record)) = store.get(id) {
            let _ = self.inner.events.send(EngineEvent::JobCreated {
                record,
                handle: handle.clone(),
            });
        }
        Some((handle, cancel))
    }

    fn ctx(&self, handle: JobHandle, cancel: CancellationToken) -> TaskCtx {
        TaskCtx {
            handle,
            cancel,
            events: self.inner.events.clone(),
            store: self.inner.store.clone(),
            last_progress: AtomicI32::new(-1),
            stream: None,
            call_timeout: self.inner.config.call_timeout,
            children: Some(ChildJobs {
                engine: Arc::downgrade(&self.inner),
            }),
        }
    }

    fn set_running(&self, job: JobId) {
        if job < 0 {
            return; // a quiet refresh has no record
        }
        if let Err(e) = self.inner.store.mark_running(job) {
            tracing::warn!("job {job}: {e}");
        }
        self.send_record(job);
    }

    fn finish(&self, job: JobId, state: JobState, error: Option<String>) {
        lock(&self.inner.cancels).remove(&job);
        // Children still open when their parent ends (its time limit cut it short): stopped
        // and ended too, so none stays "running".
        let children = lock(&self.inner.children).remove(&job).unwrap_or_default();
        for child in children {
            let open = lock(&self.inner.cancels).get(&child).cloned();
            if let Some(token) = open {
                token.cancel();
                self.finish(
                    child,
                    JobState::Cancelled,
                    Some(format!("job {job}, of which this is a part, ended first")),
                );
            }
        }
        // The whole log is on disk before the job is seen to end.
        if let Some(log) = lock(&self.inner.live_logs).remove(&job) {
            let _ = lock(&log).flush();
        }
        if let Err(e) = self.inner.store.finish(job, state, error.as_deref()) {
            tracing::warn!("job {job}: {e}");
        }
        self.send_record(job);
    }

    fn send_record(&self, job: JobId) {
        if let Ok(Some(record)) = self.inner.store.get(job) {
            let _ = self.inner.events.send(EngineEvent::JobChanged(record));
        }
    }

    async fn run_read(&self, op: &ReadOp, ctx: &TaskCtx) -> ProviderResult<ReadOutput> {
        let cancelled = || ProviderError::new(ErrorKind::Cancelled, "cancelled");
        let slots = if op.open_ended() {
            &self.inner.open_ended_slots
        } else if op.long_running() {
            &self.inner.long_read_slots
        } else {
            &self.inner.read_slots
        };
        let permit = tokio::select! {
            p = slots.acquire() => p.map_err(|_| cancelled())?,
            _ = ctx.cancelled() => return Err(cancelled()),
        };
        self.set_running(ctx.job_id());
        let providers = tokio::select! {
            p = self.providers() => p,
            _ = ctx.cancelled() => return Err(cancelled()),
        };
        let config = &self.inner.config;
        let mut attempt = 1;
        let result = loop {
            let call = async {
                match op {
                    ReadOp::WhoAmI => providers.sts.who_am_i(ctx).await.map(ReadOutput::Identity),
                    ReadOp::Cfn(r) => crate::cfn::port::read(&*providers.cfn, r, ctx)
                        .await
                        .map(ReadOutput::Cfn),
                    ReadOp::Install(r) => {
                        crate::installers::port::read(&*providers.install, r, ctx)
                            .await
                            .map(ReadOutput::Install)
                    }
                    ReadOp::Kube(r) => crate::kube::port::read(&*providers.kube, r, ctx)
                        .await
                        .map(ReadOutput::Kube),
                    ReadOp::Cost(r) => crate::cost::port::read(&*providers.cost, r, ctx)
                        .await
                        .map(ReadOutput::Cost),
                }
            };
            if op.open_ended() {
                // Until cancelled or its source ends: no timeout, and no retry (it
                // reconnects and backs off itself).
                break tokio::select! {
                    r = call => r,
                    _ = ctx.cancelled() => Err(cancelled()),
                };
            }
            let limit = if op.long_running() {
                config.mutation_timeout
            } else {
                config.read_timeout
            };
            let outcome = tokio::select! {
                r = tokio::time::timeout(limit, call) => r.unwrap_or_else(|_| {
                    Err(ProviderError::new(
                        ErrorKind::Network,
                        format!(
                            "{} did not finish within {}: AWS answers too slowly",
                            op.name(),
                            human(limit)
                        ),
                    ))
                }),
                _ = ctx.cancelled() => Err(cancelled()),
            };
            match outcome {
                // A poll inside the provider already retried and gave up: not again here.
                Err(e) if e.attempts > 1 => break Err(e),
                Err(e) if e.is_transient() && attempt < config.read_attempts => {
                    let delay = backoff(config, attempt, ctx.job_id());
                    ctx.warn(format!(
                        "{e}; retrying in {:.1}s (attempt {}/{})",
                        delay.as_secs_f32(),
                        attempt + 1,
                        config.read_attempts
                    ));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = ctx.cancelled() => break Err(cancelled()),
                    }
                    attempt += 1;
                }
                Err(e) if e.is_transient() => {
                    break Err(ProviderError {
                        attempts: attempt,
                        ..e
                    });
                }
                other => break other,
            }
        };
        drop(permit);
        result
    }

    async fn run_mutation(
        &self,
        approved: Approved<MutatingOp>,
        ctx: &TaskCtx,
    ) -> ProviderResult<MutationOutput> {
        let key = approved.op().target_key();
        let target_lock = lock(&self.inner.target_locks)
            .entry(key.clone())
            .or_default()
            .clone();
        let not_started =
            || ProviderError::new(ErrorKind::Cancelled, "cancelled before it started");
        // `biased`: a cancellation that is already there always wins over a ready lock or client.
        let _serial = match target_lock.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                ctx.info(format!("waiting for another change to {key} to finish"));
                tokio::select! {
                    biased;
                    _ = ctx.cancelled() => return Err(not_started()),
                    g = target_lock.lock() => g,
                }
            }
        };
        let providers = tokio::select! {
            biased;
            _ = ctx.cancelled() => return Err(not_started()),
            p = self.providers() => p,
        };
        if ctx.is_cancelled() {
            return Err(not_started());
        }
        // Read-only may have been engaged while this job waited: refuse again here.
        if self.inner.latch.is_engaged() {
            let reason = self.inner.latch.reason().unwrap_or_default();
            lock(&self.inner.running_mutations).remove(&ctx.job_id());
            self.audit(
                approved.op(),
                approved.actor(),
                approved.request_id(),
                Decision::RefusedReadOnly,
                Some(reason.clone()),
            );
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("refused, read-only mode: {reason}"),
            ));
        }
        let record = approved.op().audit_record(
            approved.actor(),
            approved.request_id(),
            Decision::Started,
            None,
        );
        // The audit entry must be on disk before the change runs.
        if let Err(e) = self.inner.audit.append(&record) {
            return Err(ProviderError::new(
                ErrorKind::Other,
                format!("not started: audit log unavailable: {e}"),
            ));
        }
        self.set_running(ctx.job_id());
        let timeout = self.inner.config.mutation_timeout;
        let approved = match approved.split(&self.inner.gate) {
            Ok(approved) => approved,
            Err(foreign) => {
                return Err(ProviderError::new(ErrorKind::Invalid, foreign.to_string()));
            }
        };
        let run = async {
            match approved {
                ApprovedMutation::Cfn(a) => crate::cfn::port::execute(&*providers.cfn, a, ctx)
                    .await
                    .map(MutationOutput::Cfn),
                ApprovedMutation::Install(a) => {
                    crate::installers::port::execute(&*providers.install, a, ctx)
                        .await
                        .map(MutationOutput::Install)
                }
                ApprovedMutation::Kube(a) => crate::kube::port::execute(&*providers.kube, a, ctx)
                    .await
                    .map(MutationOutput::Kube),
                ApprovedMutation::Cost(a) => crate::cost::port::execute(&*providers.cost, a, ctx)
                    .await
                    .map(MutationOutput::Cost),
            }
        };
        tokio::time::timeout(timeout, run).await.unwrap_or_else(|_| {
            Err(ProviderError::new(
                ErrorKind::Detached,
                format!(
                    "stopped following after {}; the change may still be running in AWS: check the stack there",
                    human(timeout)
                ),
            ))
        })
    }

    fn audit(
        &self,
        op: &MutatingOp,
        actor: &Actor,
        request_id: u64,
        decision: Decision,
        detail: Option<String>,
    ) {
        let record = op.audit_record(actor, request_id, decision, detail);
        if let Err(e) = self.inner.audit.append(&record) {
            tracing::error!("audit append failed: {e}");
        }
    }
}

/// What lets a running job start jobs of its own (one per target of an installer run): each
/// has its own record (naming its parent), log and cancel token, cancelled with the parent's.
#[derive(Clone)]
pub(crate) struct ChildJobs {
    engine: std::sync::Weak<Inner>,
}

impl ChildJobs {
    fn engine(&self) -> Option<Engine> {
        self.engine.upgrade().map(|inner| Engine { inner })
    }

    pub(crate) fn start(
        &self,
        parent: &TaskCtx,
        kind: JobKind,
        operation: &str,
        title: String,
        target: Option<String>,
    ) -> Option<TaskCtx> {
        let engine = self.engine()?;
        let (handle, cancel) = engine.create_job_under(
            kind,
            operation,
            title,
            target,
            None,
            Some((parent.job_id(), &parent.cancel)),
        )?;
        lock(&engine.inner.children)
            .entry(parent.job_id())
            .or_default()
            .push(handle.id);
        Some(engine.ctx(handle, cancel))
    }

    pub(crate) fn running(&self, job: JobId) {
        if let Some(engine) = self.engine() {
            engine.set_running(job);
        }
    }

    pub(crate) fn finish(&self, job: JobId, state: JobState, error: Option<String>) {
        if let Some(engine) = self.engine() {
            engine.finish(job, state, error);
        }
    }
}

/// Exponential backoff with deterministic jitter (spread by job id, so parallel reads do not
/// retry in lock-step; deterministic so paused-time tests are exact).
fn backoff(config: &EngineConfig, attempt: u32, job: JobId) -> Duration {
    let capped = Backoff {
        base: config.read_backoff_base,
        max: config.read_backoff_max,
    }
    .delay(attempt);
    let jitter = (job.unsigned_abs() % 5) as u32 * capped / 20;
    capped + jitter
}
