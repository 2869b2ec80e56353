//! The engine, gate, job store and audit log wired as the console wires them, over the real
//! `AwsProvider` pointed at an endpoint (moto or a stub), with a short poll interval.

use super::{REGION, TestDirs};
use opsdeck::aws::AwsSettings;
use opsdeck::engine::ports::{ProviderError, Providers};
use opsdeck::engine::store::JobStore;
use opsdeck::engine::task::JobHandle;
use opsdeck::engine::{Engine, EngineConfig, EngineEvent, MutationOutput, ReadOutput};
use opsdeck::model::{Environment, JobId};
use opsdeck::ops::{Gate, MutatingOp, ReadOp, ReadScope, RiskTier, StackTarget};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Only a guard against a hung test; nothing is asserted about speed.
const EVENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Fast polls: the stub and moto answer at once.
pub const POLL: Duration = Duration::from_millis(50);

pub struct Rig {
    pub engine: Engine,
    events: UnboundedReceiver<EngineEvent>,
    pub gate: Gate,
    pub store: Arc<JobStore>,
    handles: HashMap<JobId, JobHandle>,
    /// Every progress value each job reported, in order.
    pub progress: HashMap<JobId, Vec<f32>>,
}

impl Rig {
    pub fn start(endpoint: &str, dirs: &TestDirs) -> Rig {
        Rig::start_targets(endpoint, dirs, Default::default())
    }

    /// With installer targets reached and paced as `targets` says.
    pub fn start_targets(
        endpoint: &str,
        dirs: &TestDirs,
        targets: opsdeck::installers::targets::TargetSettings,
    ) -> Rig {
        let settings = AwsSettings {
            targets,
            ..settings(endpoint)
        };
        Rig::start_with(settings, EngineConfig::default(), dirs)
    }

    /// With the test's own AWS settings and engine tunables (job logs go to `dirs`).
    pub fn start_with(settings: AwsSettings, config: EngineConfig, dirs: &TestDirs) -> Rig {
        Rig::start_providers(dirs, config, move |binding| {
            Box::pin(async move { Arc::new(opsdeck::aws::providers(&settings, binding).await) })
        })
    }

    /// With the providers `make` builds for the gate's binding (CloudWatch on a stub, say).
    pub fn start_providers(
        dirs: &TestDirs,
        config: EngineConfig,
        make: impl FnOnce(
            opsdeck::ops::GateBinding,
        ) -> futures::future::BoxFuture<'static, Arc<Providers>>,
    ) -> Rig {
        super::hermetic_aws_env();
        // The gate, audit log and job store exactly as the console builds them.
        let guarded = opsdeck::setup::open(&opsdeck::setup::Options::default(), &dirs.paths())
            .expect("set up the guarded context");
        let (gate, audit, store) = (guarded.gate, guarded.audit, guarded.store);
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let config = EngineConfig {
            logs_dir: Some(dirs.job_logs_dir()),
            ..config
        };
        let providers = make(gate.binding());
        let engine = Engine::start(providers, store.clone(), audit, gate.binding(), tx, config);
        Rig {
            engine,
            events,
            gate,
            store,
            handles: HashMap::new(),
            progress: HashMap::new(),
        }
    }

    async fn next_event(&mut self) -> EngineEvent {
        let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("the engine sent nothing for {EVENT_TIMEOUT:?}"))
            .expect("engine event channel closed");
        match &event {
            EngineEvent::JobCreated { record, handle } => {
                self.handles.insert(record.id, handle.clone());
            }
            EngineEvent::JobChanged(record) => {
                if let Some(p) = record.progress {
                    let seen = self.progress.entry(record.id).or_default();
                    if seen.last() != Some(&p) {
                        seen.push(p);
                    }
                }
            }
            _ => {}
        }
        event
    }

    /// Open the dialog, confirm as the person would (typing the name when asked), run it,
    /// and wait for the outcome. Returns the job and its result.
    pub async fn run(&mut self, op: MutatingOp) -> (JobId, Result<MutationOutput, String>) {
        let request = self
            .gate
            .request(op)
            .expect("the gate opens a confirmation");
        let typed = match &request.tier {
            RiskTier::TypeName(name) => name.clone(),
            RiskTier::Simple => String::new(),
        };
        let approved = self
            .gate
            .confirm(request.id, &typed)
            .expect("the confirmation approves");
        let job = self
            .engine
            .submit_mutation(approved)
            .expect("the engine starts the approved change");
        loop {
            if let EngineEvent::MutationDone {
                job: done, result, ..
            } = self.next_event().await
                && done == job
            {
                return (job, result);
            }
        }
    }

    /// Ask, confirm (typing the name when asked) and submit; does not wait.
    pub fn submit(&mut self, op: MutatingOp) -> JobId {
        let request = self
            .gate
            .request(op)
            .expect("the gate opens a confirmation");
        let typed = match &request.tier {
            RiskTier::TypeName(name) => name.clone(),
            RiskTier::Simple => String::new(),
        };
        let approved = self
            .gate
            .confirm(request.id, &typed)
            .expect("the confirmation approves");
        self.engine
            .submit_mutation(approved)
            .expect("the engine starts the approved change")
    }

    /// Handle engine events until some job's log has a line containing `needle`; returns
    /// that job.
    pub async fn wait_for_log(&mut self, needle: &str) -> JobId {
        loop {
            for (id, handle) in &self.handles {
                // As the console does: handled, so the next line is announced again.
                handle
                    .notified
                    .store(false, std::sync::atomic::Ordering::Release);
                let log = handle.log.lock().unwrap_or_else(|p| p.into_inner());
                if log.ring().iter().any(|l| l.text.contains(needle)) {
                    return *id;
                }
            }
            self.next_event().await;
        }
    }

    /// Handle engine events until `job` is done.
    pub async fn wait_done(&mut self, job: JobId) -> Result<MutationOutput, String> {
        loop {
            if let EngineEvent::MutationDone {
                job: done, result, ..
            } = self.next_event().await
                && done == job
            {
                return result;
            }
        }
    }

    /// The jobs started under `parent`, oldest first.
    pub fn children(&self, parent: JobId) -> Vec<opsdeck::model::JobRecord> {
        let mut children: Vec<_> = self
            .store
            .recent(1000)
            .expect("job store")
            .into_iter()
            .filter(|r| r.parent == Some(parent))
            .collect();
        children.sort_by_key(|r| r.id);
        children
    }

    pub async fn read(&mut self, op: ReadOp) -> (JobId, Result<ReadOutput, ProviderError>) {
        let job = self
            .engine
            .submit_read(op, None)
            .expect("the job store records the read");
        loop {
            if let EngineEvent::ReadDone {
                job: done, result, ..
            } = self.next_event().await
                && done == job
            {
                return (job, result);
            }
        }
    }

    pub fn job_log(&self, job: JobId) -> Vec<String> {
        let handle = self.handles.get(&job).expect("JobCreated was seen");
        let log = handle.log.lock().unwrap_or_else(|p| p.into_inner());
        log.ring().iter().map(|l| l.text.clone()).collect()
    }
}

/// The AWS settings of a test pointed at `endpoint`, polling fast.
pub fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings {
        region: Some(REGION.to_string()),
        endpoint_url: Some(endpoint.to_string()),
        poll_interval: POLL,
        ..AwsSettings::default()
    }
}

pub fn scope() -> ReadScope {
    ReadScope {
        region: REGION.into(),
    }
}

/// A DEV target for a stack (DEV keeps non-destructive confirmations simple).
pub fn target(account: &str, name: &str, id: &str) -> StackTarget {
    StackTarget {
        account: account.into(),
        region: REGION.into(),
        environment: Environment::Dev,
        stack_name: name.into(),
        stack_id: id.into(),
    }
}
