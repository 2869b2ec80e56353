//! The real AWS provider, engine, gate and audit log against a moto server: listing, the typed
//! confirmation path for deletes, both read-only refusals, the CLI's view of what happened, and
//! network failure. No TUI here (see `tmux_e2e.rs`).

mod support;

use opsdeck::audit::VerifyReport;
use opsdeck::aws::AwsSettings;
use opsdeck::cfn::model::StackSummary;
use opsdeck::cfn::ops::{CfnMutation, CfnRead};
use opsdeck::cfn::port::CfnOutput;
use opsdeck::config::Config;
use opsdeck::engine::ports::{ErrorKind, ProviderError, Providers};
use opsdeck::engine::store::JobStore;
use opsdeck::engine::task::JobHandle;
use opsdeck::engine::{
    Engine, EngineConfig, EngineEvent, MutationOutput, MutationRefused, ReadOutput,
};
use opsdeck::model::{JobId, JobKind, JobState};
use opsdeck::ops::{
    ConfirmError, DeleteStack, Gate, MutatingOp, ReadOnlyLatch, ReadOp, ReadScope, Refusal,
    RiskTier, StackTarget,
};
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::{MOTO_ACCOUNT, MotoServer, REGION, TestDirs};
use tokio::sync::mpsc::UnboundedReceiver;

/// Only a guard against a hung test; nothing is asserted about speed.
const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Engine + gate + on-disk audit log and job store, wired as the console wires them.
struct Ops {
    engine: Engine,
    events: UnboundedReceiver<EngineEvent>,
    gate: Gate,
    latch: ReadOnlyLatch,
    store: Arc<JobStore>,
    handles: HashMap<JobId, JobHandle>,
}

impl Ops {
    fn start(endpoint: &str, dirs: &TestDirs) -> Ops {
        Ops::start_with(endpoint, dirs, EngineConfig::default())
    }

    fn start_with(endpoint: &str, dirs: &TestDirs, config: EngineConfig) -> Ops {
        support::hermetic_aws_env();
        let settings = AwsSettings {
            profile: None,
            region: Some(REGION.to_string()),
            endpoint_url: Some(endpoint.to_string()),
            ..AwsSettings::default()
        };
        // The gate, audit log and job store exactly as the console builds them.
        let guarded = opsdeck::setup::open(&opsdeck::setup::Options::default(), &dirs.paths())
            .expect("set up the guarded context");
        let (gate, audit, store) = (guarded.gate, guarded.audit, guarded.store);
        let latch = gate.latch().clone();
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let config = EngineConfig {
            logs_dir: Some(dirs.job_logs_dir()),
            ..config
        };
        let binding = gate.binding();
        let providers: futures::future::BoxFuture<'static, Arc<Providers>> =
            Box::pin(async move { Arc::new(opsdeck::aws::providers(&settings, binding).await) });
        let engine = Engine::start(providers, store.clone(), audit, gate.binding(), tx, config);
        Ops {
            engine,
            events,
            gate,
            latch,
            store,
            handles: HashMap::new(),
        }
    }

    async fn next_event(&mut self) -> EngineEvent {
        let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("the engine sent nothing for {EVENT_TIMEOUT:?}"))
            .expect("engine event channel closed");
        if let EngineEvent::JobCreated { record, handle } = &event {
            self.handles.insert(record.id, handle.clone());
        }
        event
    }

    async fn list_stacks(&mut self) -> Result<Vec<StackSummary>, ProviderError> {
        let job = self
            .engine
            .submit_read(
                ReadOp::Cfn(CfnRead::ListStacks {
                    scope: ReadScope {
                        region: REGION.into(),
                    },
                }),
                None,
            )
            .expect("the job store records the read");
        loop {
            if let EngineEvent::ReadDone {
                job: done, result, ..
            } = self.next_event().await
                && done == job
            {
                return result.map(|output| match output {
                    ReadOutput::Cfn(CfnOutput::Stacks(stacks)) => stacks,
                    _ => panic!("ListStacks answered with something else"),
                });
            }
        }
    }

    async fn listed_names(&mut self) -> Vec<String> {
        let stacks = self
            .list_stacks()
            .await
            .expect("ListStacks through the engine");
        stacks.into_iter().map(|s| s.name).collect()
    }

    async fn listed(&mut self, name: &str) -> StackSummary {
        let stacks = self
            .list_stacks()
            .await
            .expect("ListStacks through the engine");
        stacks
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("stack {name} is not listed"))
    }

    async fn wait_mutation(&mut self, job: JobId) -> Result<String, String> {
        self.wait_output(job).await.map(|output| output.summary())
    }

    async fn wait_output(&mut self, job: JobId) -> Result<MutationOutput, String> {
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

    /// Request, confirm by typing the name, execute, and wait for success. Returns the
    /// request and job ids.
    async fn delete_confirmed(&mut self, stack: &StackSummary) -> (u64, JobId) {
        let request = self
            .gate
            .request(delete_op(stack))
            .expect("the gate opens a confirmation");
        assert_eq!(request.tier, RiskTier::TypeName(stack.name.clone()));
        let approved = self
            .gate
            .confirm(request.id, &stack.name)
            .expect("typing the exact name approves");
        let job = self
            .engine
            .submit_mutation(approved)
            .expect("the engine starts the approved delete");
        let outcome = self.wait_mutation(job).await;
        assert!(
            outcome.is_ok(),
            "delete of {} failed: {outcome:?}",
            stack.name
        );
        (request.id, job)
    }

    fn job_log(&self, job: JobId) -> Vec<String> {
        let handle = self.handles.get(&job).expect("JobCreated was seen");
        let log = handle.log.lock().unwrap_or_else(|p| p.into_inner());
        log.ring().iter().map(|l| l.text.clone()).collect()
    }

    fn mutation_jobs(&self) -> Vec<opsdeck::model::JobRecord> {
        self.store
            .recent(100)
            .expect("read job store")
            .into_iter()
            .filter(|r| r.kind == JobKind::Mutation)
            .collect()
    }
}

/// The delete for a listed stack, resolved the way the console resolves it: account and
/// region from the ARN, environment from the (default) config.
fn delete_op(stack: &StackSummary) -> MutatingOp {
    let account = stack.account_from_arn().expect("account in the stack ARN");
    let region = stack.region_from_arn().expect("region in the stack ARN");
    let environment = Config::defaults()
        .expect("built-in config")
        .environment_for(Some(account), None);
    MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
        target: StackTarget {
            account: account.to_string(),
            region: region.to_string(),
            environment,
            stack_name: stack.name.clone(),
            stack_id: stack.id.clone(),
        },
        retained: vec![],
    }))
}

fn assert_chain_intact(dirs: &TestDirs, entries: u64) {
    match opsdeck::audit::verify(&dirs.audit_log()).expect("audit log readable") {
        VerifyReport::Ok { entries: n } => assert_eq!(n, entries, "audit entries"),
        broken => panic!("audit chain broken: {broken:?}"),
    }
}

fn opsdeck(dirs: &TestDirs, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    command.args(args);
    dirs.apply(&mut command);
    let out = command.output().expect("run opsdeck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("opsdeck exited, not killed"), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_stacks_returns_every_stack_through_the_engine() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let ids = support::create_stacks(&cfn, &["list-charlie", "list-alpha", "list-bravo"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);

    let stacks = ops
        .list_stacks()
        .await
        .expect("ListStacks through the engine");

    let names: Vec<_> = stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["list-alpha", "list-bravo", "list-charlie"]);
    for stack in &stacks {
        assert!(ids.contains(&stack.id), "unexpected id {}", stack.id);
        assert_eq!(stack.status, "CREATE_COMPLETE");
        assert_eq!(stack.account_from_arn(), Some(MOTO_ACCOUNT));
        assert_eq!(stack.region_from_arn(), Some(REGION));
    }

    // Describe goes through the same provider and returns the template's resource.
    let bravo = &stacks[1];
    let job = ops
        .engine
        .submit_read(
            ReadOp::Cfn(CfnRead::DescribeStack {
                scope: ReadScope {
                    region: REGION.into(),
                },
                stack_id: bravo.id.clone(),
                stack_name: bravo.name.clone(),
            }),
            None,
        )
        .expect("describe job");
    let detail = loop {
        if let EngineEvent::ReadDone {
            job: done, result, ..
        } = ops.next_event().await
            && done == job
        {
            match result.expect("DescribeStack through the engine") {
                ReadOutput::Cfn(CfnOutput::StackDetail(detail)) => break detail,
                _ => panic!("DescribeStack answered with something else"),
            }
        }
    };
    assert_eq!(detail.summary.name, "list-bravo");
    let resources: Vec<_> = detail
        .resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.resource_type.as_str()))
        .collect();
    assert_eq!(resources, [("Topic", "AWS::SNS::Topic")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_delete_removes_the_stack_and_audits_every_step() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["del-keep", "del-target", "del-other"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    let target = ops.listed("del-target").await;

    let (request_id, job) = ops.delete_confirmed(&target).await;

    assert_eq!(ops.listed_names().await, ["del-keep", "del-other"]);
    assert!(
        support::stack_is_gone(&cfn, &target.id).await,
        "moto still has the stack"
    );
    assert_eq!(
        support::live_stack_names(&cfn).await,
        ["del-keep", "del-other"]
    );

    let entries = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&entries, "del-target"),
        ["requested", "confirmed", "started", "succeeded"]
    );
    for entry in &entries {
        assert_eq!(entry["operation"], "delete-stack");
        assert_eq!(entry["request_id"], request_id);
        assert_eq!(entry["target"]["stack_id"], target.id.as_str());
        assert_eq!(entry["target"]["account"], MOTO_ACCOUNT);
        assert_eq!(entry["target"]["region"], REGION);
        assert_eq!(entry["actor"]["os_user"], opsdeck::setup::os_user());
    }
    assert_chain_intact(&dirs, 4);

    let record = ops.store.get(job).expect("job store").expect("job row");
    assert_eq!(record.state, JobState::Succeeded);
    assert!(
        ops.job_log(job).iter().any(|l| l == "del-target deleted"),
        "job log: {:?}",
        ops.job_log(job)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_typed_name_never_yields_a_token() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["typo-target"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    let target = ops.listed("typo-target").await;

    let request = ops.gate.request(delete_op(&target)).expect("dialog opens");
    for typed in [
        "",
        "typo-targe",
        "TYPO-TARGET",
        "typo-target ",
        " typo-target",
    ] {
        match ops.gate.confirm(request.id, typed) {
            Err(ConfirmError::TextMismatch { expected }) => assert_eq!(expected, "typo-target"),
            other => panic!("typed {typed:?}: expected a mismatch, got {other:?}"),
        }
    }
    // The dialog stays open after a mismatch; dismissing it ends the request for good.
    assert_eq!(ops.gate.open_request().map(|r| r.id), Some(request.id));
    ops.gate.cancel(request.id);
    assert_eq!(
        ops.gate.confirm(request.id, "typo-target").unwrap_err(),
        ConfirmError::NoSuchRequest(request.id)
    );

    assert_eq!(ops.listed_names().await, ["typo-target"]);
    assert_eq!(
        support::stack_status(&cfn, "typo-target").await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert!(ops.mutation_jobs().is_empty(), "a delete job was created");
    let entries = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&entries, "typo-target"),
        ["requested", "cancelled"]
    );
    assert_chain_intact(&dirs, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_is_refused_at_the_gate_and_recorded() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["ro-target"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    ops.latch.engage("started with --read-only");
    let target = ops.listed("ro-target").await;

    assert_eq!(
        ops.gate.request(delete_op(&target)).unwrap_err(),
        Refusal::ReadOnly("started with --read-only".into())
    );
    assert!(ops.gate.open_request().is_none(), "a dialog opened");

    assert_eq!(ops.listed_names().await, ["ro-target"]);
    assert_eq!(
        support::stack_status(&cfn, "ro-target").await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert!(ops.mutation_jobs().is_empty(), "a delete job was created");
    let entries = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&entries, "ro-target"),
        ["requested", "refused-read-only"]
    );
    assert_eq!(
        entries[1]["detail"],
        "read-only mode: started with --read-only"
    );
    assert_chain_intact(&dirs, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_engaged_after_approval_is_refused_by_the_engine() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["late-ro-target"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    let target = ops.listed("late-ro-target").await;

    let request = ops.gate.request(delete_op(&target)).expect("dialog opens");
    let approved = ops
        .gate
        .confirm(request.id, "late-ro-target")
        .expect("approved before read-only");
    // e.g. STS answered and the principal maps to a viewer while the token was in flight.
    ops.latch.engage("principal maps to viewer");

    assert_eq!(
        ops.engine.submit_mutation(approved).unwrap_err(),
        MutationRefused::ReadOnly("principal maps to viewer".into())
    );

    assert_eq!(ops.listed_names().await, ["late-ro-target"]);
    assert_eq!(
        support::stack_status(&cfn, "late-ro-target")
            .await
            .as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert!(ops.mutation_jobs().is_empty(), "a delete job was created");
    let entries = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&entries, "late-ro-target"),
        ["requested", "confirmed", "refused-read-only"]
    );
    assert_chain_intact(&dirs, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_cli_passes_then_names_the_changed_line() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["cli-audit-target"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    let target = ops.listed("cli-audit-target").await;
    ops.delete_confirmed(&target).await;

    let (code, out) = opsdeck(&dirs, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: 4 entries"), "{out}");
    assert!(
        out.contains(&dirs.audit_log().display().to_string()),
        "{out}"
    );

    // Change one byte in line 2 (the confirmation): `delete-stack` -> `delete-stacK`.
    const LINE: usize = 2;
    let path = dirs.audit_log();
    let mut bytes = std::fs::read(&path).expect("read audit log");
    let line_start = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(LINE - 2)
        .map(|(i, _)| i + 1)
        .expect("the log has a second line");
    let needle = br#""operation":"delete-stack""#;
    let offset = bytes[line_start..]
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("line 2 names the operation")
        + line_start
        + needle.len()
        - 2;
    assert_eq!(bytes[offset], b'k');
    bytes[offset] = b'K';
    std::fs::write(&path, &bytes).expect("write audit log");

    let (code, out) = opsdeck(&dirs, &["audit", "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN:"), "{out}");
    assert!(
        out.contains(&format!("{}:{LINE}:", path.display())),
        "output does not name line {LINE}: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_cli_shows_the_delete_as_succeeded() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    support::create_stacks(&cfn, &["cli-jobs-target"]).await;
    let dirs = TestDirs::new();
    let mut ops = Ops::start(&moto.endpoint(), &dirs);
    let target = ops.listed("cli-jobs-target").await;
    let (_, job) = ops.delete_confirmed(&target).await;

    let (code, out) = opsdeck(&dirs, &["jobs", "--json"]);
    assert_eq!(code, 0, "{out}");
    let records: Vec<serde_json::Value> = serde_json::from_str(&out).expect("jobs --json is JSON");
    let delete = records
        .iter()
        .find(|r| r["id"] == job)
        .unwrap_or_else(|| panic!("job {job} missing from {out}"));
    assert_eq!(delete["kind"], "mutation");
    assert_eq!(delete["operation"], "delete-stack");
    assert_eq!(delete["state"], "succeeded");
    assert!(
        delete["title"]
            .as_str()
            .is_some_and(|t| t.contains("cli-jobs-target")),
        "{delete}"
    );
    assert!(delete["error"].is_null(), "{delete}");
    // Only this delete changed anything; the reads are listed as reads.
    let mutations: Vec<_> = records.iter().filter(|r| r["kind"] == "mutation").collect();
    assert_eq!(mutations.len(), 1, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_a_network_error_after_retries() {
    support::hermetic_aws_env();
    // A port nothing listens on: bound, read, released.
    let port = support::free_port();
    let dirs = TestDirs::new();
    let config = EngineConfig {
        read_attempts: 2,
        read_backoff_base: Duration::from_millis(10),
        read_backoff_max: Duration::from_millis(20),
        ..EngineConfig::default()
    };
    let mut ops = Ops::start_with(&format!("http://127.0.0.1:{port}"), &dirs, config);

    let error = ops.list_stacks().await.unwrap_err();

    assert_eq!(error.kind, ErrorKind::Network, "{error:?}");
    assert!(error.hint().is_some_and(|h| h.contains("--endpoint-url")));
    let records = ops.store.recent(10).expect("job store");
    assert_eq!(records.len(), 1);
    let job = records[0].id;
    assert_eq!(records[0].state, JobState::Failed);
    let log = ops.job_log(job);
    let retries: Vec<_> = log.iter().filter(|l| l.contains("retrying in")).collect();
    assert_eq!(retries.len(), 1, "one retry for two attempts: {log:?}");
    assert!(retries[0].contains("(attempt 2/2)"), "{log:?}");
}
