//! Scheduler tests with a recording fake cloud and paused tokio time.
//!
//! Long on purpose: one short test per scheduler behaviour (supersede, cancel, timeout, retry,
//! streams, the gate's binding) against the same recording fake.

use super::ports::{ErrorKind, ProviderError, ProviderResult, Providers, StsApi};
use super::store::JobStore;
use super::task::TaskCtx;
use super::{Engine, EngineConfig, EngineEvent, ReadOutput};
use crate::audit::{Actor, AuditSink, Decision, MemoryAudit};
use crate::cfn::model::{
    ChangeSetOutcome, ChangeSetPreview, StackDetail, StackDrift, StackSummary,
};
use crate::cfn::ops::{CfnMutation, CfnRead};
use crate::cfn::port::{CfnApi, CfnOutput};
use crate::model::{CallerIdentity, Environment, JobState};
use crate::ops::{
    Approved, CreateChangeSet, DeleteStack, DiscardChangeSet, ExecuteChangeSet, Gate, MutatingOp,
    ReadOnlyLatch, ReadOp, ReadScope, SetTerminationProtection, StackTarget,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Default)]
struct FakeCloud {
    list_answers: Mutex<VecDeque<ProviderResult<Vec<StackSummary>>>>,
    list_delay: Mutex<VecDeque<Duration>>,
    list_calls: AtomicUsize,
    delete_answer: Mutex<Option<ProviderResult<String>>>,
    delete_delay: Duration,
    delete_calls: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Every change-set, drift, follow and protection call, in order.
    calls: Mutex<Vec<String>>,
    /// Events each follow streams before it settles, and how many it got out so far.
    follow_emits: usize,
    emitted: AtomicUsize,
}

impl StsApi for FakeCloud {
    fn region(&self) -> Option<String> {
        Some("us-east-1".into())
    }

    fn who_am_i<'a>(&'a self, _ctx: &'a TaskCtx) -> BoxFuture<'a, ProviderResult<CallerIdentity>> {
        async {
            Ok(CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/t".into(),
                user_id: "u".into(),
            })
        }
        .boxed()
    }
}

impl crate::cost::port::CostApi for FakeCloud {
    fn spend<'a>(
        &'a self,
        _query: &'a crate::cost::ops::SpendQuery,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<crate::cost::model::SpendReport>> {
        async { Err(ProviderError::new(ErrorKind::Other, "no spend in the fake")) }.boxed()
    }

    fn idle<'a>(
        &'a self,
        _scope: &'a ReadScope,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<crate::cost::model::IdleReport>> {
        async {
            Err(ProviderError::new(
                ErrorKind::Other,
                "no idle scan in the fake",
            ))
        }
        .boxed()
    }

    fn stop_instances<'a>(
        &'a self,
        approved: Approved<crate::cost::ops::StopInstances>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let ids: Vec<String> = approved
            .op()
            .instances
            .iter()
            .map(|i| i.id.clone())
            .collect();
        self.calls
            .lock()
            .unwrap()
            .push(format!("stop {}", ids.join(",")));
        async move { Ok(format!("stopped {}", ids.join(", "))) }.boxed()
    }

    fn delete_volumes<'a>(
        &'a self,
        approved: Approved<crate::cost::ops::DeleteVolumes>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("delete-volumes {}", approved.op().volumes.len()));
        async { Ok("deleted".to_string()) }.boxed()
    }

    fn release_addresses<'a>(
        &'a self,
        approved: Approved<crate::cost::ops::ReleaseAddresses>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("release {}", approved.op().addresses.len()));
        async { Ok("released".to_string()) }.boxed()
    }
}

impl CfnApi for FakeCloud {
    fn list_stacks<'a>(
        &'a self,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<StackSummary>>> {
        async move {
            self.list_calls.fetch_add(1, Ordering::SeqCst);
            let delay = self.list_delay.lock().unwrap().pop_front();
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            self.list_answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(Vec::new()))
        }
        .boxed()
    }

    fn describe_stack<'a>(
        &'a self,
        stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDetail>> {
        async move {
            Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("{stack_id} does not exist"),
            ))
        }
        .boxed()
    }

    fn delete_stack<'a>(
        &'a self,
        approved: Approved<DeleteStack>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        async move {
            self.delete_calls
                .lock()
                .unwrap()
                .push(approved.op().target.stack_name.clone());
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            ctx.info("deleting");
            tokio::time::sleep(self.delete_delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.delete_answer
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Ok("deleted".into()))
        }
        .boxed()
    }

    fn get_template<'a>(
        &'a self,
        stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!("get-template {stack_id}"));
        async { Ok("Resources: {}".to_string()) }.boxed()
    }

    fn detect_drift<'a>(
        &'a self,
        stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDrift>> {
        self.record(format!("detect-drift {stack_id}"));
        async move {
            Ok(StackDrift {
                stack_id: stack_id.to_string(),
                stack_name: "web".into(),
                status: "IN_SYNC".into(),
                detected: None,
                resources: vec![],
            })
        }
        .boxed()
    }

    fn follow_stack<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!("follow {stack_id}"));
        let delay = self.delete_delay;
        async move {
            for n in 0..self.follow_emits {
                let event = crate::cfn::model::StackEvent {
                    event_id: format!("e{n}"),
                    logical_id: "Bucket".into(),
                    physical_id: None,
                    resource_type: "AWS::S3::Bucket".into(),
                    status: "CREATE_IN_PROGRESS".into(),
                    reason: None,
                    timestamp: "2026-11-20T10:00:00Z".into(),
                };
                let item = crate::engine::stream::StreamItem::CfnEvent {
                    stack_id: stack_id.to_string(),
                    event: Box::new(event),
                };
                if !ctx.emit(item).await {
                    return Ok("nobody watches".to_string());
                }
                self.emitted.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(delay).await;
            Ok("settled".to_string())
        }
        .boxed()
    }

    fn create_change_set<'a>(
        &'a self,
        approved: Approved<CreateChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ChangeSetOutcome>> {
        let op = approved.op().clone();
        self.record(format!("create-change-set {}", op.stack_name));
        async move {
            Ok(ChangeSetOutcome::Ready(ChangeSetPreview {
                stack_name: op.stack_name.clone(),
                stack_id: format!(
                    "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/1",
                    op.stack_name
                ),
                change_set_id: "arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/1".into(),
                change_set_name: op.change_set_name.clone(),
                kind: op.kind(),
                changes: vec![],
            }))
        }
        .boxed()
    }

    fn execute_change_set<'a>(
        &'a self,
        approved: Approved<ExecuteChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!(
            "execute-change-set {}",
            approved.op().preview.change_set_name
        ));
        async { Ok("executed".to_string()) }.boxed()
    }

    fn discard_change_set<'a>(
        &'a self,
        approved: Approved<DiscardChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!(
            "discard-change-set {} empty-stack={}",
            approved.op().change_set_name,
            approved.op().delete_empty_stack
        ));
        async { Ok("discarded".to_string()) }.boxed()
    }

    fn set_termination_protection<'a>(
        &'a self,
        approved: Approved<SetTerminationProtection>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!(
            "termination-protection {} {}",
            approved.op().target.stack_name,
            approved.op().enabled
        ));
        async { Ok("protection set".to_string()) }.boxed()
    }

    fn continue_update_rollback<'a>(
        &'a self,
        approved: Approved<crate::cfn::ops::ContinueUpdateRollback>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!(
            "continue-update-rollback {} skip={:?}",
            approved.op().target.stack_name,
            approved.op().resources_to_skip
        ));
        async { Ok("rolled back".to_string()) }.boxed()
    }

    fn cancel_update_stack<'a>(
        &'a self,
        approved: Approved<crate::cfn::ops::CancelUpdateStack>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        self.record(format!(
            "cancel-update-stack {}",
            approved.op().target.stack_name
        ));
        async { Ok("rolled back".to_string()) }.boxed()
    }
}

impl FakeCloud {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

/// Reads as the console submits them: only the latest read of a kind counts, except for the
/// long-running ones (follows, drift checks), which run side by side.
trait Keyed {
    fn read_keyed(&self, op: ReadOp) -> Option<crate::model::JobId>;
    fn refresh_keyed(&self, op: ReadOp) -> crate::model::JobId;
}

fn key_of(op: &ReadOp) -> Option<String> {
    (!op.long_running()).then(|| op.name().to_string())
}

impl Keyed for Engine {
    fn read_keyed(&self, op: ReadOp) -> Option<crate::model::JobId> {
        let key = key_of(&op);
        self.submit_read(op, key)
    }

    fn refresh_keyed(&self, op: ReadOp) -> crate::model::JobId {
        let key = key_of(&op);
        self.submit_refresh(op, key)
    }
}

struct Rig {
    engine: Engine,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    audit: Arc<MemoryAudit>,
    latch: ReadOnlyLatch,
    gate: Gate,
    store: Arc<JobStore>,
}

/// Installers are not what these tests are about: every call says so.
struct NoInstallers;

impl crate::installers::port::InstallApi for NoInstallers {
    fn preflight<'a>(
        &'a self,
        _target: &'a crate::installers::ops::Target,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<crate::installers::ops::HostFacts>> {
        Box::pin(async { Err(ProviderError::new(ErrorKind::Invalid, "no installers here")) })
    }

    fn run_installer<'a>(
        &'a self,
        _approved: Approved<crate::installers::ops::RunInstaller>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(ProviderError::new(ErrorKind::Invalid, "no installers here")) })
    }
}

fn new_rig(cloud: Arc<FakeCloud>) -> Rig {
    new_rig_with_logs(cloud, None)
}

fn new_rig_with_logs(cloud: Arc<FakeCloud>, logs_dir: Option<std::path::PathBuf>) -> Rig {
    new_rig_with_kube(cloud, logs_dir, Arc::default())
}

fn new_rig_with_kube(
    cloud: Arc<FakeCloud>,
    logs_dir: Option<std::path::PathBuf>,
    kube: Arc<crate::kube::port::fake::FakeKube>,
) -> Rig {
    let audit = Arc::new(MemoryAudit::default());
    let latch = ReadOnlyLatch::new();
    let store = Arc::new(JobStore::open_in_memory().expect("in-memory store"));
    let (tx, events) = mpsc::unbounded_channel();
    let config = EngineConfig {
        read_attempts: 4,
        read_backoff_base: Duration::from_millis(100),
        read_backoff_max: Duration::from_secs(1),
        logs_dir,
        ..EngineConfig::default()
    };
    let providers = Arc::new(Providers {
        sts: cloud.clone(),
        cfn: cloud.clone(),
        cost: cloud,
        install: Arc::new(NoInstallers),
        kube: kube.clone(),
    });
    let gate = crate::setup::test_gate(
        latch.clone(),
        audit.clone(),
        Actor {
            os_user: "t".into(),
            principal: None,
        },
        None,
    );
    *kube.binding.lock().unwrap() = Some(gate.binding());
    let engine = Engine::start(
        async move { providers }.boxed(),
        store.clone(),
        audit.clone() as Arc<dyn AuditSink>,
        gate.binding(),
        tx,
        config,
    );
    Rig {
        engine,
        events,
        audit,
        latch,
        gate,
        store,
    }
}

fn delete_op(name: &str) -> MutatingOp {
    MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
        target: StackTarget {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment: Environment::Dev,
            stack_name: name.into(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
        },
        retained: vec![],
    }))
}

fn approve(gate: &mut Gate, name: &str) -> Approved<MutatingOp> {
    let request = gate.request(delete_op(name)).expect("request opens");
    gate.confirm(request.id, name).expect("typed name approves")
}

fn stop_op(environment: Environment) -> MutatingOp {
    MutatingOp::from(crate::cost::ops::StopInstances {
        target: crate::cost::ops::ReapTarget {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment,
        },
        instances: vec![crate::cost::ops::Reapable {
            id: "i-0abc".into(),
            name: None,
            detail: "t3.small".into(),
            reason: "idle".into(),
            monthly_saving: None,
        }],
    })
}

#[tokio::test(start_paused = true)]
async fn reaping_runs_only_with_its_own_gates_approval_and_only_in_dev() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    // PRD: refused at the gate, audited, nothing reaches the provider.
    let refusal = rig.gate.request(stop_op(Environment::Prd)).unwrap_err();
    assert!(refusal.to_string().contains("DEV only"), "{refusal}");
    assert_eq!(
        decisions(&rig.audit),
        vec![Decision::Requested, Decision::Refused]
    );
    // Another gate's approval is refused by this engine.
    let mut other = crate::setup::test_gate(
        ReadOnlyLatch::new(),
        Arc::new(MemoryAudit::default()),
        Actor {
            os_user: "t".into(),
            principal: None,
        },
        None,
    );
    let request = other.request(stop_op(Environment::Dev)).expect("opens");
    let foreign = other.confirm(request.id, "i-0abc").expect("approved there");
    assert!(rig.engine.submit_mutation(foreign).is_err());
    // DEV with the typed id: runs through the provider method that demands it.
    let request = rig.gate.request(stop_op(Environment::Dev)).expect("opens");
    assert!(
        rig.gate.confirm(request.id, "y").is_err(),
        "the id must be typed"
    );
    let approved = rig
        .gate
        .confirm(request.id, "i-0abc")
        .expect("typed id approves");
    let job = rig.engine.submit_mutation(approved).expect("runs");
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        *cloud.calls.lock().unwrap(),
        vec!["stop i-0abc".to_string()]
    );
    assert_eq!(decisions(&rig.audit).last(), Some(&Decision::Succeeded));
}

fn scope() -> ReadScope {
    ReadScope {
        region: "us-east-1".into(),
    }
}

/// Collect events until one matches.
async fn until<T>(
    events: &mut mpsc::UnboundedReceiver<EngineEvent>,
    mut pick: impl FnMut(EngineEvent) -> Option<T>,
) -> T {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(3600), events.recv())
            .await
            .expect("an event within an hour of paused time")
            .expect("engine alive");
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

fn decisions(audit: &MemoryAudit) -> Vec<Decision> {
    audit.records().iter().map(|r| r.decision).collect()
}

#[tokio::test(start_paused = true)]
async fn throttled_reads_are_retried_with_backoff() {
    let cloud = Arc::new(FakeCloud::default());
    {
        let mut answers = cloud.list_answers.lock().unwrap();
        answers.push_back(Err(ProviderError::with_code(
            ErrorKind::Throttled,
            "Throttling",
            "Rate exceeded",
        )));
        answers.push_back(Err(ProviderError::new(ErrorKind::Server, "503")));
        answers.push_back(Ok(vec![]));
    }
    let mut rig = new_rig(cloud.clone());
    let started = tokio::time::Instant::now();
    let job = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(matches!(result, Ok(ReadOutput::Cfn(CfnOutput::Stacks(_)))));
    assert_eq!(cloud.list_calls.load(Ordering::SeqCst), 3);
    // backoff 100 ms then 200 ms (plus jitter): time did pass between attempts
    assert!(started.elapsed() >= Duration::from_millis(300));
    let record = rig.store.get(job).unwrap().unwrap();
    assert_eq!(record.state, JobState::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn permanent_read_errors_are_not_retried() {
    let cloud = Arc::new(FakeCloud::default());
    cloud
        .list_answers
        .lock()
        .unwrap()
        .push_back(Err(ProviderError::new(ErrorKind::AccessDenied, "no")));
    let mut rig = new_rig(cloud.clone());
    let job = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert_eq!(result.unwrap_err().kind, ErrorKind::AccessDenied);
    assert_eq!(cloud.list_calls.load(Ordering::SeqCst), 1);
    assert_eq!(rig.store.get(job).unwrap().unwrap().state, JobState::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_newer_read_for_the_same_view_cancels_the_older() {
    let cloud = Arc::new(FakeCloud::default());
    cloud
        .list_delay
        .lock()
        .unwrap()
        .extend([Duration::from_secs(30), Duration::from_millis(1)]);
    let mut rig = new_rig(cloud.clone());
    let first = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    let mut outcomes = Vec::new();
    while outcomes.len() < 2 {
        let done = until(&mut rig.events, |e| match e {
            EngineEvent::ReadDone { job, result, .. } => {
                Some((job, result.map(|_| ()).map_err(|e| e.kind)))
            }
            _ => None,
        })
        .await;
        outcomes.push(done);
    }
    assert!(outcomes.contains(&(first, Err(ErrorKind::Cancelled))));
    assert!(outcomes.contains(&(second, Ok(()))));
    assert_eq!(
        rig.store.get(first).unwrap().unwrap().state,
        JobState::Cancelled
    );
}

#[tokio::test(start_paused = true)]
async fn failed_mutations_are_not_retried_and_are_audited() {
    let cloud = Arc::new(FakeCloud::default());
    *cloud.delete_answer.lock().unwrap() = Some(Err(ProviderError::new(
        ErrorKind::Server,
        "InternalFailure",
    )));
    let mut rig = new_rig(cloud.clone());
    let approved = approve(&mut rig.gate, "web");
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.is_err());
    assert_eq!(
        cloud.delete_calls.lock().unwrap().len(),
        1,
        "a mutation is never retried on its own"
    );
    assert_eq!(
        decisions(&rig.audit),
        vec![
            Decision::Requested,
            Decision::Confirmed,
            Decision::Started,
            Decision::Failed
        ]
    );
    assert_eq!(rig.store.get(job).unwrap().unwrap().state, JobState::Failed);
}

#[tokio::test(start_paused = true)]
async fn the_engine_refuses_again_in_read_only_mode() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    let approved = approve(&mut rig.gate, "web");
    rig.latch.engage("principal maps to viewer");
    let refused = rig.engine.submit_mutation(approved).unwrap_err();
    assert!(refused.to_string().contains("read-only"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(cloud.delete_calls.lock().unwrap().is_empty());
    assert_eq!(
        decisions(&rig.audit).last(),
        Some(&Decision::RefusedReadOnly)
    );
}

#[tokio::test(start_paused = true)]
async fn mutations_on_one_target_run_one_at_a_time() {
    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(10),
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let a = approve(&mut rig.gate, "web");
    let b = approve(&mut rig.gate, "web");
    rig.engine.submit_mutation(a).expect("a");
    rig.engine.submit_mutation(b).expect("b");
    for _ in 0..2 {
        until(&mut rig.events, |e| {
            matches!(e, EngineEvent::MutationDone { .. }).then_some(())
        })
        .await;
    }
    assert_eq!(cloud.max_in_flight.load(Ordering::SeqCst), 1);

    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(10),
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let a = approve(&mut rig.gate, "web");
    let b = approve(&mut rig.gate, "api");
    rig.engine.submit_mutation(a).expect("a");
    rig.engine.submit_mutation(b).expect("b");
    for _ in 0..2 {
        until(&mut rig.events, |e| {
            matches!(e, EngineEvent::MutationDone { .. }).then_some(())
        })
        .await;
    }
    assert_eq!(
        cloud.max_in_flight.load(Ordering::SeqCst),
        2,
        "different targets may run together"
    );
}

#[tokio::test(start_paused = true)]
async fn no_audit_no_change() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    let approved = approve(&mut rig.gate, "web");
    rig.audit.set_failing(true);
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.unwrap_err().contains("audit"));
    assert!(cloud.delete_calls.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_records_running_changes_as_interrupted() {
    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(600),
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let approved = approve(&mut rig.gate, "web");
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    until(&mut rig.events, |e| {
        matches!(e, EngineEvent::LogGrew(j) if j == job).then_some(())
    })
    .await;
    assert_eq!(rig.engine.shutdown(), 1);
    assert_eq!(
        rig.store.get(job).unwrap().unwrap().state,
        JobState::Interrupted
    );
    assert_eq!(decisions(&rig.audit).last(), Some(&Decision::Interrupted));
}

#[tokio::test(start_paused = true)]
async fn a_change_cancelled_before_it_starts_never_runs() {
    // Repeated: before `biased` selects and the post-lock check, a cancel raced the start and
    // the delete ran about half the time.
    for _ in 0..50 {
        let cloud = Arc::new(FakeCloud::default());
        let mut rig = new_rig(cloud.clone());
        let approved = approve(&mut rig.gate, "web");
        let job = rig.engine.submit_mutation(approved).expect("accepted");
        assert!(rig.engine.cancel(job));
        let result = until(&mut rig.events, |e| match e {
            EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
            _ => None,
        })
        .await;
        assert!(result.is_err());
        assert!(
            cloud.delete_calls.lock().unwrap().is_empty(),
            "a cancelled change ran"
        );
        assert_eq!(
            decisions(&rig.audit),
            vec![
                Decision::Requested,
                Decision::Confirmed,
                Decision::Cancelled
            ]
        );
        assert_eq!(
            rig.store.get(job).unwrap().unwrap().state,
            JobState::Cancelled
        );
    }
}

#[tokio::test(start_paused = true)]
async fn approvals_from_another_gate_are_refused() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    // A second gate with its own fresh (never read-only) latch and a throwaway audit sink.
    let stray_audit = Arc::new(MemoryAudit::default());
    let mut stray = crate::setup::test_gate(
        ReadOnlyLatch::new(),
        stray_audit,
        Actor {
            os_user: "t".into(),
            principal: None,
        },
        None,
    );
    let approved = approve(&mut stray, "web");
    let refused = rig.engine.submit_mutation(approved).unwrap_err();
    assert!(refused.to_string().contains("not minted by this console"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(cloud.delete_calls.lock().unwrap().is_empty());
    assert_eq!(decisions(&rig.audit), vec![Decision::Refused]);
    let _ = &mut rig.events;
}

async fn mutation_result(
    rig: &mut Rig,
    job: crate::model::JobId,
) -> Result<super::MutationOutput, String> {
    until(&mut rig.events, |e| match e {
        EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await
}

fn create_op(name: &str) -> MutatingOp {
    MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        environment: Environment::Dev,
        stack_name: name.into(),
        existing_stack_id: None,
        change_set_name: "opsdeck-1".into(),
        template: crate::ops::TemplateSource::body("library:s3-bucket", "Resources: {}"),
        parameters: vec![],
        compliance: crate::ops::ComplianceVerdict::with_failures(vec![]),
        cost: crate::cost::verdict::CostVerdict::none(),
    }))
}

#[tokio::test(start_paused = true)]
async fn a_change_set_preview_comes_back_and_cancelling_it_discards_exactly_it() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    let request = rig.gate.request(create_op("web")).expect("opens");
    let approved = rig.gate.confirm(request.id, "").expect("y approves");
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    let Ok(super::MutationOutput::Cfn(crate::cfn::port::CfnOutcome::ChangeSet(
        ChangeSetOutcome::Ready(preview),
    ))) = mutation_result(&mut rig, job).await
    else {
        panic!("expected a ready change set");
    };
    // The preview opens the execute confirmation; the person cancels it.
    let target = StackTarget {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        environment: Environment::Dev,
        stack_name: "web".into(),
        stack_id: preview.stack_id.clone(),
    };
    let request = rig
        .gate
        .request(MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(
            ExecuteChangeSet {
                target,
                preview,
                cost: crate::cost::verdict::CostVerdict::none(),
            },
        )))
        .expect("opens");
    let discard = rig
        .gate
        .cancel(request.id)
        .and_then(|d| d.undo)
        .expect("discard approved");
    let job = rig.engine.submit_mutation(discard).expect("accepted");
    assert!(mutation_result(&mut rig, job).await.is_ok());
    assert_eq!(
        *cloud.calls.lock().unwrap(),
        vec![
            "create-change-set web".to_string(),
            "discard-change-set opsdeck-1 empty-stack=true".to_string()
        ],
        "nothing was executed"
    );
    let ops: Vec<(String, Decision)> = rig
        .audit
        .records()
        .iter()
        .map(|r| (r.operation.clone(), r.decision))
        .collect();
    assert!(ops.contains(&("execute-change-set".into(), Decision::Cancelled)));
    assert!(ops.contains(&("discard-change-set".into(), Decision::Succeeded)));
    assert!(!ops.contains(&("execute-change-set".into(), Decision::Started)));
}

#[tokio::test(start_paused = true)]
async fn follows_and_drift_checks_of_different_stacks_run_side_by_side() {
    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(30),
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let follow = |name: &str| {
        ReadOp::Cfn(CfnRead::FollowStack {
            scope: scope(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
            stack_name: name.into(),
        })
    };
    let a = rig.engine.read_keyed(follow("a")).expect("job");
    let b = rig.engine.read_keyed(follow("b")).expect("job");
    let mut done = Vec::new();
    while done.len() < 2 {
        let (job, ok) = until(&mut rig.events, |e| match e {
            EngineEvent::ReadDone { job, result, .. } => Some((job, result.is_ok())),
            _ => None,
        })
        .await;
        assert!(ok, "job {job} was not cancelled by the other follow");
        done.push(job);
    }
    done.sort();
    assert_eq!(done, vec![a, b]);
}

#[tokio::test(start_paused = true)]
async fn quiet_refreshes_leave_no_job_record() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    let before = rig.store.recent(100).unwrap().len();
    let job = rig
        .engine
        .refresh_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }));
    assert!(job < 0);
    let (done, created) = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job, .. } => Some((job, false)),
        EngineEvent::JobCreated { .. } => Some((0, true)),
        _ => None,
    })
    .await;
    assert!(!created, "a quiet refresh announces no job");
    assert_eq!(done, job);
    assert_eq!(rig.store.recent(100).unwrap().len(), before);
    assert_eq!(cloud.list_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn long_follows_never_hold_the_slots_other_reads_need() {
    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(3600),
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    for name in ["a", "b", "c", "d", "e", "f"] {
        rig.engine
            .read_keyed(ReadOp::Cfn(CfnRead::FollowStack {
                scope: scope(),
                stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
                stack_name: name.into(),
            }))
            .expect("job");
    }
    let list = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    let done = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job, result, .. } if job == list => Some(result.is_ok()),
        _ => None,
    })
    .await;
    assert!(done, "the list read ran while six follows were running");
    assert_eq!(cloud.list_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_running_jobs_log_reaches_its_file_within_a_second_and_all_of_it_at_the_end() {
    // The job logs "deleting" and then waits a minute: a crash meanwhile must not lose the
    // line, so it is on disk a second later, not only when 64 KiB have piled up.
    let cloud = Arc::new(FakeCloud {
        delete_delay: Duration::from_secs(60),
        ..FakeCloud::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rig = new_rig_with_logs(cloud.clone(), Some(dir.path().to_path_buf()));
    let approved = approve(&mut rig.gate, "web");
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    // Hold the UI's handle, as the console does: the log is not dropped (and so not flushed
    // by its destructor) when the job ends.
    let handle = until(&mut rig.events, |e| match e {
        EngineEvent::JobCreated { handle, .. } if handle.id == job => Some(handle),
        _ => None,
    })
    .await;
    let file = dir.path().join(format!("{job}.log"));
    let on_disk = || std::fs::read_to_string(&file).unwrap_or_default();
    until(&mut rig.events, |e| match e {
        EngineEvent::LogGrew(j) if j == job => Some(()),
        _ => None,
    })
    .await;
    assert!(handle.log.lock().unwrap().total() >= 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        on_disk().contains("deleting"),
        "after 1.5 s the line is in the file: {:?}",
        on_disk()
    );
    assert!(cloud.delete_calls.lock().unwrap().len() == 1);
    until(&mut rig.events, |e| match e {
        EngineEvent::MutationDone { job: j, .. } if j == job => Some(()),
        _ => None,
    })
    .await;
    let text = on_disk();
    assert!(
        text.contains("deleted"),
        "the last line too, at the job's end: {text:?}"
    );
    drop(handle);
}

#[tokio::test(start_paused = true)]
async fn a_change_records_who_asked_and_where_for_a_later_recovery() {
    let cloud = Arc::new(FakeCloud::default());
    let mut rig = new_rig(cloud.clone());
    rig.gate.identity_resolved(
        "arn:aws:iam::123456789012:role/ops".to_string(),
        crate::model::Role::Operator,
    );
    let approved = approve(&mut rig.gate, "web");
    let request_id = approved.request_id();
    let job = rig.engine.submit_mutation(approved).expect("accepted");
    let origin = rig.store.origin(job).expect("read").expect("recorded");
    assert_eq!(origin.environment, "DEV");
    assert_eq!(
        origin.actor.principal.as_deref(),
        Some("arn:aws:iam::123456789012:role/ops")
    );
    assert_eq!(origin.request_id, request_id);
    assert_eq!(origin.target["stack_name"], "web", "{:#}", origin.target);
    let read = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .expect("job");
    assert_eq!(
        rig.store.origin(read).expect("read"),
        None,
        "reads record none"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_waits_for_its_reader_and_loses_no_update() {
    use crate::engine::stream::{STREAM_CAPACITY, StreamItem};
    let total = STREAM_CAPACITY * 4 + 7;
    let cloud = Arc::new(FakeCloud {
        follow_emits: total,
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let job = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::FollowStack {
            scope: scope(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1".into(),
            stack_name: "web".into(),
        }))
        .expect("job");
    let mut updates = until(&mut rig.events, |e| match e {
        EngineEvent::StreamOpened(u) if u.job == job => Some(u),
        _ => None,
    })
    .await;
    // Nobody reads: the producer fills the channel, then waits.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let ahead = cloud.emitted.load(Ordering::SeqCst);
    assert!(
        ahead <= STREAM_CAPACITY,
        "the producer got {ahead} updates ahead of a reader that took none"
    );
    // Reading at the console's pace: every update arrives, in order, once.
    let mut seen = Vec::new();
    while seen.len() < total {
        let batch = updates.drain(100);
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        for item in batch {
            let StreamItem::CfnEvent { event, .. } = item else {
                panic!("only stack events were sent");
            };
            seen.push(event.event_id);
        }
    }
    let expected: Vec<String> = (0..total).map(|n| format!("e{n}")).collect();
    assert_eq!(seen, expected);
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_reader_has_gone_stops_its_producer() {
    let cloud = Arc::new(FakeCloud {
        follow_emits: 10_000,
        ..FakeCloud::default()
    });
    let mut rig = new_rig(cloud.clone());
    let job = rig
        .engine
        .read_keyed(ReadOp::Cfn(CfnRead::FollowStack {
            scope: scope(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1".into(),
            stack_name: "web".into(),
        }))
        .expect("job");
    let updates = until(&mut rig.events, |e| match e {
        EngineEvent::StreamOpened(u) if u.job == job => Some(u),
        _ => None,
    })
    .await;
    drop(updates);
    let result = until(&mut rig.events, |e| match e {
        EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.is_ok());
    assert!(cloud.emitted.load(Ordering::SeqCst) < 10_000);
}

/// An installer provider whose run starts one child job and then never ends.
struct HangingInstaller;

impl crate::installers::port::InstallApi for HangingInstaller {
    fn preflight<'a>(
        &'a self,
        _target: &'a crate::installers::ops::Target,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<crate::installers::ops::HostFacts>> {
        Box::pin(std::future::pending())
    }

    fn run_installer<'a>(
        &'a self,
        _approved: Approved<crate::installers::ops::RunInstaller>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async move {
            let child = ctx.child("run-installer", "target 1".into(), None);
            let _child = child.expect("the store records the child");
            std::future::pending().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_cut_short_by_the_engine_ends_its_children_too() {
    use crate::installers::ops::{Rate, ResolvedTarget, RunInstaller, Target};
    let audit = Arc::new(MemoryAudit::default());
    let store = Arc::new(JobStore::open_in_memory().expect("store"));
    let (tx, mut events) = mpsc::unbounded_channel();
    let cloud = Arc::new(FakeCloud::default());
    let providers = Arc::new(Providers {
        sts: cloud.clone(),
        cfn: cloud.clone(),
        cost: cloud,
        install: Arc::new(HangingInstaller),
        kube: Arc::new(crate::kube::port::fake::FakeKube::default()),
    });
    let mut gate = crate::setup::test_gate(
        ReadOnlyLatch::new(),
        audit.clone(),
        Actor {
            os_user: "t".into(),
            principal: None,
        },
        None,
    );
    let engine = Engine::start(
        async move { providers }.boxed(),
        store.clone(),
        audit.clone() as Arc<dyn AuditSink>,
        gate.binding(),
        tx,
        EngineConfig {
            mutation_timeout: Duration::from_secs(60),
            ..EngineConfig::default()
        },
    );
    let op = MutatingOp::from(RunInstaller {
        run_id: "r-1".into(),
        installer: "hello".into(),
        name: "Hello".into(),
        version: "1".into(),
        hash: "sha256:00".into(),
        origin: crate::installers::catalog::Origin::Bundled,
        targets: vec![ResolvedTarget {
            target: Target::Local,
            environment: Environment::Dev,
            facts: Default::default(),
        }],
        inputs: vec![],
        max_concurrency: Rate::Count(1),
        max_errors: Rate::Count(0),
        timeout_seconds: 60,
        idempotent: false,
    });
    let request = gate.request(op).expect("request");
    let approved = gate.confirm(request.id, "").expect("approved");
    let job = engine.submit_mutation(approved).expect("submitted");
    let result = until(&mut events, |e| match e {
        EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
        _ => None,
    })
    .await;
    assert!(result.is_err());
    let children: Vec<_> = store
        .recent(10)
        .unwrap()
        .into_iter()
        .filter(|r| r.parent == Some(job))
        .collect();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].state, JobState::Cancelled);
    assert!(
        children[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("ended first")),
        "{children:?}"
    );
}

mod kube {
    //! Kubernetes' operations through the engine: watches and log follows are open-ended
    //! (no timeout, no retry, their own slots), and changes take the same door as any other.

    use super::*;
    use crate::engine::stream::StreamItem;
    use crate::kube::model::{ContextRef, KubeKind, KubeUpdate};
    use crate::kube::ops::{
        ClusterTarget, KubeRead, LogRequest, ScaleWorkload, WorkloadKind, WorkloadTarget,
    };
    use crate::kube::port::KubeOutput;
    use crate::kube::port::fake::FakeKube;

    fn scale_op(environment: Environment) -> MutatingOp {
        MutatingOp::from(ScaleWorkload {
            target: WorkloadTarget {
                cluster: ClusterTarget {
                    context: ContextRef::kubeconfig("dev"),
                    cluster: "dev-cluster".into(),
                    environment,
                },
                kind: WorkloadKind::Deployment,
                namespace: "shop".into(),
                name: "web".into(),
                uid: "u-1".into(),
            },
            current: 2,
            replicas: 3,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_outlives_every_read_timeout_until_it_is_cancelled() {
        let kube = Arc::new(FakeKube::default());
        let mut rig = new_rig_with_kube(Arc::new(FakeCloud::default()), None, kube.clone());
        let watch = ReadOp::Kube(KubeRead::Watch {
            context: ContextRef::kubeconfig("dev"),
            namespace: None,
        });
        let job = rig.engine.submit_refresh(watch, Some("kube:watch".into()));
        let mut updates = until(&mut rig.events, |e| match e {
            EngineEvent::StreamOpened(u) if u.job == job => Some(u),
            _ => None,
        })
        .await;
        // Far past the read timeout (120 s) and the long one (3 h): still running.
        tokio::time::sleep(Duration::from_secs(5 * 3600)).await;
        let items = updates.drain(10);
        assert!(matches!(
            items.as_slice(),
            [StreamItem::Kube(u)] if matches!(**u, KubeUpdate::Listed { kind: KubeKind::Namespace, .. })
        ));
        // Meanwhile ordinary reads run: the watch holds none of their slots.
        let list = rig
            .engine
            .read_keyed(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
            .expect("job");
        let listed = until(&mut rig.events, |e| match e {
            EngineEvent::ReadDone { job: j, result, .. } if j == list => Some(result),
            _ => None,
        })
        .await;
        assert!(listed.is_ok());
        // A newer watch with the same key replaces it.
        let watch = ReadOp::Kube(KubeRead::Watch {
            context: ContextRef::kubeconfig("prod"),
            namespace: Some("shop".into()),
        });
        rig.engine.submit_refresh(watch, Some("kube:watch".into()));
        let ended = until(&mut rig.events, |e| match e {
            EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
            _ => None,
        })
        .await;
        assert_eq!(ended.unwrap_err().kind, ErrorKind::Cancelled);
        assert_eq!(
            kube.calls()[..2],
            ["watch dev".to_string(), "watch prod".to_string()]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_log_follow_writes_every_line_into_its_job_log() {
        let kube = Arc::new(FakeKube {
            log_lines: 12_000,
            ..FakeKube::default()
        });
        let mut rig = new_rig_with_kube(Arc::new(FakeCloud::default()), None, kube);
        let job = rig
            .engine
            .submit_read(
                ReadOp::Kube(KubeRead::Logs(LogRequest {
                    context: ContextRef::kubeconfig("dev"),
                    namespace: "shop".into(),
                    pods: vec!["web-1".into()],
                    container: None,
                    previous: false,
                    workload: None,
                })),
                None,
            )
            .expect("job");
        let handle = until(&mut rig.events, |e| match e {
            EngineEvent::JobCreated { record, handle } if record.id == job => Some(handle),
            _ => None,
        })
        .await;
        let result = until(&mut rig.events, |e| match e {
            EngineEvent::ReadDone { job: j, result, .. } if j == job => Some(result),
            _ => None,
        })
        .await;
        assert!(matches!(
            result,
            Ok(ReadOutput::Kube(KubeOutput::LogsEnded { .. }))
        ));
        let log = handle.log.lock().unwrap();
        assert_eq!(log.total(), 12_000, "every line, nothing else");
        assert_eq!(
            log.ring().back().map(|l| l.text.as_str()),
            Some("line 11999")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_kube_change_runs_only_with_its_own_gates_approval_and_never_in_read_only() {
        let kube = Arc::new(FakeKube::default());
        let mut rig = new_rig_with_kube(Arc::new(FakeCloud::default()), None, kube.clone());
        let request = rig.gate.request(scale_op(Environment::Dev)).expect("opens");
        assert_eq!(request.tier, crate::ops::RiskTier::Simple);
        let approved = rig.gate.confirm(request.id, "").expect("y approves");
        let job = rig.engine.submit_mutation(approved).expect("runs");
        let result = until(&mut rig.events, |e| match e {
            EngineEvent::MutationDone { job: j, result, .. } if j == job => Some(result),
            _ => None,
        })
        .await;
        assert_eq!(result.map(|o| o.summary()), Ok("scaled".to_string()));
        assert_eq!(kube.calls(), ["scale web to 3"]);
        // Another gate's approval is refused by the engine (and would be by the provider).
        let mut other = crate::setup::test_gate(
            ReadOnlyLatch::new(),
            Arc::new(MemoryAudit::default()),
            Actor {
                os_user: "x".into(),
                principal: None,
            },
            None,
        );
        let request = other.request(scale_op(Environment::Dev)).expect("opens");
        let foreign = other.confirm(request.id, "").expect("approves");
        assert!(rig.engine.submit_mutation(foreign).is_err());
        // Read-only: the engine refuses an approval minted before the latch engaged.
        let request = rig.gate.request(scale_op(Environment::Dev)).expect("opens");
        let approved = rig.gate.confirm(request.id, "").expect("approves");
        rig.latch.engage("test");
        assert!(matches!(
            rig.engine.submit_mutation(approved),
            Err(crate::engine::MutationRefused::ReadOnly(_))
        ));
        assert_eq!(
            kube.calls(),
            ["scale web to 3"],
            "nothing more reached the cluster"
        );
        let decisions = decisions(&rig.audit);
        assert_eq!(decisions.last(), Some(&Decision::RefusedReadOnly));
        // And the gate refuses at once now.
        assert!(matches!(
            rig.gate.request(scale_op(Environment::Dev)),
            Err(crate::ops::Refusal::ReadOnly(_))
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn new_clients_serve_the_reads_started_after_the_switch() {
    let first = Arc::new(FakeCloud::default());
    let second = Arc::new(FakeCloud::default());
    let rig = new_rig(first.clone());
    let list = || ReadOp::Cfn(CfnRead::ListStacks { scope: scope() });
    rig.engine.read(list()).await.expect("read");
    let providers = Arc::new(Providers {
        sts: second.clone(),
        cfn: second.clone(),
        cost: second.clone(),
        install: Arc::new(NoInstallers),
        kube: Arc::new(crate::kube::port::fake::FakeKube::default()),
    });
    rig.engine.set_providers(async move { providers }.boxed());
    rig.engine.read(list()).await.expect("read");
    assert_eq!(first.list_calls.load(Ordering::SeqCst), 1);
    assert_eq!(second.list_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_task_is_a_job_with_a_stream_and_stops_when_cancelled() {
    use crate::assistant::AssistantUpdate;
    use crate::engine::stream::StreamItem;
    let mut rig = new_rig(Arc::new(FakeCloud::default()));
    let job = rig
        .engine
        .submit_task(
            "assistant-answer",
            "Assistant: hello".into(),
            |ctx| async move {
                ctx.emit(StreamItem::Assistant(AssistantUpdate::Text("Hel".into())))
                    .await;
                // Waits for ever, like a model that went quiet: only the cancel ends it.
                std::future::pending::<()>().await;
                Ok("never".to_string())
            },
        )
        .expect("a job");
    let mut updates = None;
    let mut texts = Vec::new();
    loop {
        match rig.events.recv().await.expect("events") {
            EngineEvent::StreamOpened(u) => updates = Some(u),
            EngineEvent::StreamReady(j) if j == job => {
                let u = updates.as_mut().expect("opened first");
                texts.extend(u.drain(10));
                rig.engine.cancel(job);
            }
            EngineEvent::TaskDone { job: done, result } if done == job => {
                assert_eq!(result.expect_err("cancelled").kind, ErrorKind::Cancelled);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        texts,
        vec![StreamItem::Assistant(AssistantUpdate::Text("Hel".into()))]
    );
    let record = rig.store.get(job).expect("store").expect("a record");
    assert_eq!(record.state, JobState::Cancelled);
    assert_eq!(record.operation, "assistant-answer");
}
