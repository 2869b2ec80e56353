//! The engine, gate, job store and audit log wired as the console wires them, over the real
//! `AwsProvider` pointed at an endpoint (moto or a stub), with a short poll interval.

use super::{REGION, TestDirs};
use opsdeck::audit::{Actor, AuditLog, AuditSink};
use opsdeck::aws::AwsSettings;
use opsdeck::engine::ports::{ProviderError, Providers};
use opsdeck::engine::store::JobStore;
use opsdeck::engine::task::JobHandle;
use opsdeck::engine::{Engine, EngineConfig, EngineEvent, MutationOutput, ReadOutput};
use opsdeck::model::{Environment, JobId};
use opsdeck::ops::{Gate, MutatingOp, ReadOnlyLatch, ReadOp, ReadScope, RiskTier, StackTarget};
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
        let settings = settings(endpoint);
        Rig::start_with(dirs, move |binding| {
            Box::pin(async move { Arc::new(opsdeck::aws::providers(&settings, binding).await) })
        })
    }

    /// With the providers `make` builds for the gate's binding (CloudWatch on a stub, say).
    pub fn start_with(
        dirs: &TestDirs,
        make: impl FnOnce(
            opsdeck::ops::GateBinding,
        ) -> futures::future::BoxFuture<'static, Arc<Providers>>,
    ) -> Rig {
        super::hermetic_aws_env();
        let audit: Arc<dyn AuditSink> =
            Arc::new(AuditLog::open(dirs.audit_log()).expect("open audit log"));
        let store = Arc::new(JobStore::open(&dirs.jobs_db()).expect("open job store"));
        let latch = ReadOnlyLatch::new();
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let config = EngineConfig {
            logs_dir: Some(dirs.job_logs_dir()),
            ..EngineConfig::default()
        };
        let actor = Actor {
            os_user: "harness".into(),
            principal: None,
        };
        let gate = Gate::new(latch, audit.clone(), actor, None);
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
