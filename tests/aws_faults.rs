//! Faults from AWS, injected per request by a loopback proxy in front of moto (or the
//! CloudFormation stub): throttling, 5xx with XML and with HTML, resets, stalls, black holes,
//! refused connections, and signals to the headless binary. What opsdeck must do under each is
//! in docs/faults.md; every test here failed before the behaviour it checks was built.
//!
//! The engine and provider run with short intervals and timeouts (set through `AwsSettings`
//! and `EngineConfig`), so a test waits seconds, not minutes. Nothing asserts how long anything
//! took: the waits below are only guards against a hung test.

mod support;

use opsdeck::aws::AwsSettings;
use opsdeck::cfn::model::{ChangeSetOutcome, ChangeSetPreview};
use opsdeck::cfn::ops::{CfnMutation, CfnRead};
use opsdeck::cfn::port::{CfnOutcome, CfnOutput};
use opsdeck::engine::{EngineConfig, MutationOutput, ReadOutput};
use opsdeck::model::Environment;
use opsdeck::ops::{
    CreateChangeSet, DiscardChangeSet, ExecuteChangeSet, MutatingOp, ReadOp, TemplateSource,
};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::cfn_stub::{CfnStub, StubDrift, StubStack};
use support::fault_proxy::{Fault, FaultProxy, Times};
use support::rig::{Rig, scope, target};
use support::{MOTO_ACCOUNT, MotoServer, REGION, TEMPLATE, TestDirs};

/// Settings that make every fault end in seconds.
fn fast(endpoint: &str) -> (AwsSettings, EngineConfig) {
    let settings = AwsSettings {
        region: Some(REGION.to_string()),
        endpoint_url: Some(endpoint.to_string()),
        poll_interval: Duration::from_millis(50),
        poll_backoff_max: Duration::from_millis(200),
        poll_give_up_after: Duration::from_secs(1),
        // moto's first CreateChangeSet can take seconds (it loads its models then).
        call_timeout: Duration::from_secs(10),
        cleanup_budget: Duration::from_secs(5),
        cancel_cleanup_budget: Duration::from_secs(2),
        ..AwsSettings::default()
    };
    let config = EngineConfig {
        read_backoff_base: Duration::from_millis(20),
        read_backoff_max: Duration::from_millis(100),
        call_timeout: Duration::from_secs(10),
        ..EngineConfig::default()
    };
    (settings, config)
}

fn create_op(stack: &str, change_set: &str) -> MutatingOp {
    MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
        account: MOTO_ACCOUNT.into(),
        region: REGION.into(),
        environment: Environment::Dev,
        stack_name: stack.into(),
        existing_stack_id: None,
        change_set_name: change_set.into(),
        template: TemplateSource::body("test", TEMPLATE),
        parameters: vec![],
        compliance: opsdeck::ops::ComplianceVerdict::judge(
            &opsdeck::compliance::Checker::bundled(),
            TEMPLATE,
            stack,
            &Default::default(),
            Environment::Dev,
        ),
        cost: opsdeck::cost::verdict::CostVerdict::none(),
    }))
}

fn ready(result: Result<MutationOutput, String>) -> ChangeSetPreview {
    match result {
        Ok(MutationOutput::Cfn(CfnOutcome::ChangeSet(ChangeSetOutcome::Ready(preview)))) => preview,
        other => panic!("expected a ready change set, got {other:?}"),
    }
}

fn discard_op(preview: &ChangeSetPreview) -> MutatingOp {
    MutatingOp::Cfn(CfnMutation::DiscardChangeSet(DiscardChangeSet {
        target: target(MOTO_ACCOUNT, &preview.stack_name, &preview.stack_id),
        change_set_id: preview.change_set_id.clone(),
        change_set_name: preview.change_set_name.clone(),
        delete_empty_stack: true,
    }))
}

/// Every change set moto holds (its ListChangeSets ignores the stack filter).
async fn all_change_sets(cfn: &aws_sdk_cloudformation::Client) -> Vec<String> {
    let out = cfn
        .list_change_sets()
        .stack_name("any")
        .send()
        .await
        .expect("ListChangeSets");
    out.summaries()
        .iter()
        .filter_map(|s| s.change_set_name().map(str::to_string))
        .collect()
}

/// Make moto load its CloudFormation models before a test with a short call timeout.
async fn warm(moto: &MotoServer) {
    let cfn = moto.cfn();
    let _ = cfn
        .describe_change_set()
        .change_set_name("warm-up")
        .stack_name("warm-up")
        .send()
        .await;
    let _ = support::create_stack(&cfn, "warm-up").await;
}

/// What an error shown to a person must never look like.
fn assert_plain(text: &str) {
    for dump in [
        "DispatchFailure",
        "ConnectorError",
        "ServiceError",
        "Unhandled",
        "source:",
        "{ ",
        "StatusCode(",
        "retried with backoff",
    ] {
        assert!(!text.contains(dump), "a debug dump ({dump}) in: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// 10. Polls back off, give up, and say what is left
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_set_polls_back_off_then_stop_and_say_what_is_left_and_how_to_remove_it() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.inject("DescribeChangeSet", Fault::Throttle, Times::Always);
    // The clean-up fails too: what is left must be named, with the commands to remove it.
    proxy.inject("DeleteChangeSet", Fault::ServerXml(503), Times::Always);
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (job, result) = rig.run(create_op("stuck", "opsdeck-stuck")).await;
    let err = result.expect_err("polling gives up");
    assert_plain(&err);
    assert!(
        err.starts_with(
            "gave up waiting for change set opsdeck-stuck of stuck: stopped asking after "
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "DescribeChangeSet to {} (us-east-1) failed: Throttling: Rate exceeded (tried ",
            proxy.endpoint()
        )),
        "{err}"
    );
    assert!(
        err.contains("Left in AWS: change set arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-stuck/"),
        "{err}"
    );
    assert!(
        err.contains("and the empty REVIEW_IN_PROGRESS stack stuck"),
        "{err}"
    );
    assert!(
        err.contains(
            "`aws cloudformation delete-change-set --change-set-name arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-stuck/"
        ) && err.contains(&format!(
            "--region us-east-1 --endpoint-url {}`",
            proxy.endpoint()
        )),
        "{err}"
    );
    assert!(
        err.contains("`aws cloudformation delete-stack --stack-name arn:aws:cloudformation:us-east-1:123456789012:stack/stuck/"),
        "{err}"
    );
    // The pause grew after each failure, up to its cap.
    let log = rig.job_log(job).join("\n");
    assert!(log.contains("asking again in 100 ms"), "{log}");
    assert!(log.contains("asking again in 200 ms"), "{log}");
    assert!(proxy.seen("DescribeChangeSet") >= 3, "{:?}", proxy.log());
    // The clean-up was retried, not tried once.
    assert!(proxy.seen("DeleteChangeSet") >= 2, "{:?}", proxy.log());
    // What the message says is left is really there.
    let cfn = moto.cfn();
    assert_eq!(all_change_sets(&cfn).await, ["opsdeck-stuck"]);
    assert_eq!(
        support::stack_status(&cfn, "stuck").await.as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_set_polls_that_stop_remove_the_change_set_when_aws_lets_them() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.inject("DescribeChangeSet", Fault::ServerHtml(502), Times::Always);
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (_, result) = rig.run(create_op("gone-again", "opsdeck-gone")).await;
    let err = result.expect_err("polling gives up");
    assert_plain(&err);
    assert!(
        err.contains("the service answered HTTP 502 without an AWS error document (tried "),
        "{err}"
    );
    assert!(err.ends_with("The change set was removed"), "{err}");
    let cfn = moto.cfn();
    assert!(all_change_sets(&cfn).await.is_empty());
    assert!(support::stack_is_gone(&cfn, "gone-again").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_whose_polls_keep_failing_stops_and_says_the_change_goes_on() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);
    let (_, result) = rig.run(create_op("followed", "opsdeck-followed")).await;
    let preview = ready(result);
    // From now on every status read fails.
    proxy.inject("DescribeStacks", Fault::Reset, Times::Always);

    let (_, result) = rig
        .run(MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(
            ExecuteChangeSet {
                target: target(MOTO_ACCOUNT, &preview.stack_name, &preview.stack_id),
                preview: preview.clone(),
                cost: opsdeck::cost::verdict::CostVerdict::none(),
            },
        )))
        .await;
    let err = result.expect_err("the follow gives up");
    assert_plain(&err);
    assert!(
        err.starts_with("stopped following followed: stopped asking after "),
        "{err}"
    );
    assert!(
        err.contains("failed: the connection was reset before an answer came (tried "),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "The change goes on in CloudFormation: check it with `aws cloudformation describe-stacks --stack-name {} --region us-east-1 --endpoint-url {}`",
            preview.stack_id,
            proxy.endpoint()
        )),
        "{err}"
    );
    // The change was accepted and then not followed to its end: `detached`, not `failed`.
    let audit = support::read_audit(&dirs.audit_log());
    let decisions = support::decisions_for_stack(&audit, "followed");
    assert_eq!(decisions.last().map(String::as_str), Some("detached"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_status_polls_back_off_and_stop_without_starting_the_check_again() {
    let stub = CfnStub::start().await;
    let mut stack = StubStack::new("drifty", "UPDATE_COMPLETE");
    stack.drift = Some(StubDrift {
        resources: vec![],
        in_progress_polls: 1000,
        detection_status: "DETECTION_COMPLETE".into(),
        reason: None,
        stack_drift_status: "IN_SYNC".into(),
    });
    let id = stub.add_stack(stack, vec![]);
    let proxy = FaultProxy::start(stub.endpoint());
    proxy.inject(
        "DescribeStackDriftDetectionStatus",
        Fault::ServerHtml(504),
        Times::Always,
    );
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (_, result) = rig
        .read(ReadOp::Cfn(CfnRead::DetectDrift {
            scope: scope(),
            stack_id: id,
            stack_name: "drifty".into(),
        }))
        .await;
    let text = result.expect_err("the drift check gives up").to_string();
    assert_plain(&text);
    assert!(
        text.starts_with("stopped waiting for the drift check of drifty: stopped asking after "),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "DescribeStackDriftDetectionStatus to {} (us-east-1) failed: the service answered HTTP 504 without an AWS error document (tried ",
            proxy.endpoint()
        )),
        "{text}"
    );
    // The poll gave up; the engine does not start the whole check again on top of it.
    assert_eq!(proxy.seen("DetectStackDrift"), 1, "{:?}", proxy.log());
}

// ---------------------------------------------------------------------------------------
// 11. Errors are sentences; an HTML 5xx is a 5xx
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_reads_as_a_sentence_naming_the_call_and_endpoint() {
    let port = support::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dirs = TestDirs::new();
    let (settings, config) = fast(&endpoint);
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (_, result) = rig.read(ReadOp::WhoAmI).await;
    let e = result.expect_err("nothing listens there");
    let text = e.to_string();
    assert_plain(&text);
    assert_eq!(
        text,
        format!(
            "GetCallerIdentity to {endpoint} (us-east-1) failed: the connection was refused (nothing listens there) (tried 5 times). Check that the endpoint is reachable from this host (network, proxy, --region, --endpoint-url), then try again"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_html_and_xml_5xx_and_throttling_are_retried_and_logged_as_sentences() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    for fault in [
        Fault::Reset,
        Fault::ServerHtml(502),
        Fault::ServerXml(500),
        Fault::Throttle,
    ] {
        proxy.inject("ListStacks", fault, Times::Next(1));
    }
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (job, result) = rig
        .read(ReadOp::Cfn(CfnRead::ListStacks { scope: scope() }))
        .await;
    assert!(
        matches!(result, Ok(ReadOutput::Cfn(CfnOutput::Stacks(_)))),
        "the fifth try answers: {result:?}"
    );
    assert_eq!(proxy.seen("ListStacks"), 5);
    let log = rig.job_log(job).join("\n");
    assert_plain(&log);
    let call = format!("ListStacks to {} (us-east-1) failed: ", proxy.endpoint());
    for sentence in [
        "the connection was reset before an answer came",
        "the service answered HTTP 502 without an AWS error document",
        "InternalFailure: injected by the fault proxy",
        "Throttling: Rate exceeded",
    ] {
        assert!(
            log.contains(&format!("{call}{sentence}")),
            "{sentence}:\n{log}"
        );
    }
}

#[test]
fn the_cli_says_which_call_failed_where_and_what_to_do() {
    support::hermetic_aws_env();
    let port = support::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dirs = TestDirs::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    let out = command
        .args(["check", "--stack", "web", "--endpoint-url", &endpoint])
        .env("OPSDECK_LOG", "warn")
        .output()
        .expect("run opsdeck");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_plain(&stderr);
    assert!(
        stderr.contains(&format!(
            "GetCallerIdentity to {endpoint} (us-east-1) failed: the connection was refused (nothing listens there) (tried 5 times). Check that the endpoint is reachable"
        )),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// 13. Each call has its own timeout
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_has_its_own_timeout_not_the_whole_sequence() {
    let moto = MotoServer::start();
    let id = support::create_stack(&moto.cfn(), "slow").await;
    let proxy = FaultProxy::start(&moto.endpoint());
    // Every call of a describe answers after 1 s: 4 s for the four, each within 2.5 s.
    for action in [
        "DescribeStacks",
        "ListStackResources",
        "DescribeStackEvents",
        "GetTemplate",
    ] {
        proxy.inject(action, Fault::Stall(Duration::from_secs(1)), Times::Always);
    }
    let dirs = TestDirs::new();
    let (mut settings, mut config) = fast(&proxy.endpoint());
    settings.call_timeout = Duration::from_millis(2500);
    config.call_timeout = Duration::from_millis(2500);
    config.read_attempts = 1;
    let mut rig = Rig::start_with(settings, config, &dirs);
    let describe = || {
        ReadOp::Cfn(CfnRead::DescribeStack {
            scope: scope(),
            stack_id: id.clone(),
            stack_name: "slow".into(),
        })
    };

    let (job, result) = rig.read(describe()).await;
    let Ok(ReadOutput::Cfn(CfnOutput::StackDetail(detail))) = result else {
        panic!("a slow but answering endpoint is read: {result:?}")
    };
    assert_eq!(detail.summary.status, "CREATE_COMPLETE");
    assert!(!detail.events.is_empty());
    let log = rig.job_log(job).join("\n");
    assert!(!log.contains("could not"), "{log}");

    // One call slower than its timeout fails, in plain words.
    proxy.heal();
    proxy.inject(
        "DescribeStacks",
        Fault::Stall(Duration::from_secs(5)),
        Times::Always,
    );
    let (_, result) = rig.read(describe()).await;
    let text = result.expect_err("no answer in time").to_string();
    assert_plain(&text);
    assert!(
        text.starts_with(&format!(
            "DescribeStacks to {} (us-east-1) failed: no answer within 2.5 s",
            proxy.endpoint()
        )),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// 14. Plan clean-up leaves no debris
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delete_change_set_is_retried_until_the_plan_leaves_nothing() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    let dirs = TestDirs::new();
    let (settings, config) = fast(&proxy.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);
    let (_, result) = rig.run(create_op("retry-me", "opsdeck-retry")).await;
    let preview = ready(result);
    proxy.inject("DeleteChangeSet", Fault::ServerXml(500), Times::Next(1));
    proxy.inject("DeleteChangeSet", Fault::Reset, Times::Next(1));
    proxy.inject("DeleteStack", Fault::Throttle, Times::Next(1));

    let (_, result) = rig.run(discard_op(&preview)).await;
    match result {
        Ok(MutationOutput::Cfn(CfnOutcome::Done(summary))) => assert_eq!(
            summary,
            "change set opsdeck-retry discarded; the empty stack retry-me was deleted"
        ),
        other => panic!("the discard succeeds after retries: {other:?}"),
    }
    assert_eq!(proxy.faulted("DeleteChangeSet"), 2);
    assert_eq!(proxy.faulted("DeleteStack"), 1);
    let cfn = moto.cfn();
    assert!(all_change_sets(&cfn).await.is_empty());
    assert!(support::stack_is_gone(&cfn, "retry-me").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_stack_is_kept_only_for_its_own_other_change_sets() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    // Someone else reviews a change set on another new stack.
    cfn.create_change_set()
        .stack_name("theirs")
        .change_set_name("their-review")
        .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Create)
        .template_body(TEMPLATE)
        .send()
        .await
        .expect("their change set");
    let dirs = TestDirs::new();
    let (settings, config) = fast(&moto.endpoint());
    let mut rig = Rig::start_with(settings, config, &dirs);
    let (_, result) = rig.run(create_op("mine", "opsdeck-mine")).await;
    let preview = ready(result);

    let (_, result) = rig.run(discard_op(&preview)).await;
    match result {
        Ok(MutationOutput::Cfn(CfnOutcome::Done(summary))) => assert_eq!(
            summary,
            "change set opsdeck-mine discarded; the empty stack mine was deleted"
        ),
        other => panic!("the discard succeeds: {other:?}"),
    }
    assert!(support::stack_is_gone(&cfn, "mine").await);
    // Theirs is untouched.
    assert_eq!(all_change_sets(&cfn).await, ["their-review"]);
    assert_eq!(
        support::stack_status(&cfn, "theirs").await.as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );
}

// ---------------------------------------------------------------------------------------
// Smaller: a CreateChangeSet without an answer says the change set may exist
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_change_set_without_an_answer_says_the_change_set_may_exist() {
    let moto = MotoServer::start();
    warm(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.inject("CreateChangeSet", Fault::BlackHole, Times::Always);
    let dirs = TestDirs::new();
    let (mut settings, mut config) = fast(&proxy.endpoint());
    settings.call_timeout = Duration::from_secs(1);
    config.call_timeout = Duration::from_secs(1);
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (_, result) = rig.run(create_op("unknown", "opsdeck-unknown")).await;
    let err = result.expect_err("no answer");
    assert_plain(&err);
    assert!(
        err.starts_with(&format!(
            "CreateChangeSet to {} (us-east-1) failed: no answer within 1 s",
            proxy.endpoint()
        )),
        "{err}"
    );
    assert!(
        err.contains("Change set opsdeck-unknown was not found just now, but AWS may still make it. May be left in AWS: change set opsdeck-unknown of stack unknown and the empty REVIEW_IN_PROGRESS stack unknown."),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`aws cloudformation delete-change-set --change-set-name opsdeck-unknown --stack-name unknown --region us-east-1 --endpoint-url {}`",
            proxy.endpoint()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_change_set_answered_too_late_is_found_and_removed() {
    let moto = MotoServer::start();
    warm(&moto).await;
    let proxy = FaultProxy::start(&moto.endpoint());
    // moto makes the change set at once; its answer comes after the client gave up.
    proxy.inject(
        "CreateChangeSet",
        Fault::Stall(Duration::from_secs(3)),
        Times::Next(1),
    );
    let dirs = TestDirs::new();
    let (mut settings, mut config) = fast(&proxy.endpoint());
    settings.call_timeout = Duration::from_secs(1);
    config.call_timeout = Duration::from_secs(1);
    let mut rig = Rig::start_with(settings, config, &dirs);

    let (_, result) = rig.run(create_op("late", "opsdeck-late")).await;
    let err = result.expect_err("no answer in time");
    assert_plain(&err);
    assert!(
        err.ends_with("AWS had made change set opsdeck-late all the same; it was removed"),
        "{err}"
    );
    let cfn = moto.cfn();
    assert!(all_change_sets(&cfn).await.is_empty());
    assert!(support::stack_is_gone(&cfn, "late").await);
}

// ---------------------------------------------------------------------------------------
// 16. Signals to a headless run: cancel the call in flight, clean up, exit 128 + signal
// ---------------------------------------------------------------------------------------

const GUARD: Duration = Duration::from_secs(120);

fn plan_through(proxy: &FaultProxy, dirs: &TestDirs, stack: &str) -> Child {
    support::hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args([
            "deploy",
            "s3-bucket",
            "--stack",
            stack,
            "--param",
            "Owner=platform-team",
            "--param",
            "CostCenter=cc-1234",
            "--plan",
            "--endpoint-url",
            &proxy.endpoint(),
            "--env",
            "DEV",
        ])
        .env("OPSDECK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("run opsdeck")
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal)
        .expect("send the signal");
}

/// Wait for the process to end (a guard against a hang, nothing more); its exit code and
/// stderr.
fn finish(mut child: Child) -> (Option<i32>, Option<i32>, String) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("opsdeck did not end within {GUARD:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.code(), status.signal(), stderr)
}

fn nothing_left(moto: &MotoServer, stack: &str) {
    let rt = support::runtime();
    let cfn = moto.cfn();
    rt.block_on(async {
        assert_eq!(all_change_sets(&cfn).await, Vec::<String>::new());
        assert!(
            support::stack_is_gone(&cfn, stack).await,
            "the empty REVIEW_IN_PROGRESS stack {stack} was left"
        );
    });
}

fn signal_during_plan(sig: nix::sys::signal::Signal, code: i32, name: &str) {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    // The change set is made; reading it never answers: the call is in flight when the
    // signal comes.
    proxy.inject("DescribeChangeSet", Fault::BlackHole, Times::Always);
    let dirs = TestDirs::new();
    let stack = format!("signalled-{code}");
    let child = plan_through(&proxy, &dirs, &stack);
    proxy.wait_until(GUARD, "the plan's DescribeChangeSet", |p| {
        p.seen("DescribeChangeSet") >= 1
    });
    signal(&child, sig);
    let (exit, killed_by, stderr) = finish(child);
    assert_eq!(
        (exit, killed_by),
        (Some(code), None),
        "exit 128 + signal after cleaning up; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("opsdeck: {name} received: stopping job")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "opsdeck deploy: stopped by {name}: cancelled; the change set was removed"
        )),
        "{stderr}"
    );
    // The black-holed call was given up, not waited out; the clean-up went past it.
    assert_eq!(proxy.abandoned("DescribeChangeSet"), 1);
    assert!(proxy.seen("DeleteChangeSet") >= 1);
    nothing_left(&moto, &stack);
    let audit = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&audit, &stack)
            .last()
            .map(String::as_str),
        Some("cancelled")
    );
}

#[test]
fn sigterm_during_a_plan_cancels_the_call_cleans_up_and_exits_143() {
    signal_during_plan(nix::sys::signal::Signal::SIGTERM, 143, "SIGTERM");
}

#[test]
fn sighup_during_a_plan_cancels_the_call_cleans_up_and_exits_129() {
    signal_during_plan(nix::sys::signal::Signal::SIGHUP, 129, "SIGHUP");
}

#[test]
fn sigint_during_a_plan_cancels_the_call_cleans_up_and_exits_130() {
    signal_during_plan(nix::sys::signal::Signal::SIGINT, 130, "SIGINT");
}

#[test]
fn a_second_signal_exits_at_once_and_says_what_may_be_left() {
    let moto = MotoServer::start();
    let proxy = FaultProxy::start(&moto.endpoint());
    proxy.inject("DescribeChangeSet", Fault::BlackHole, Times::Always);
    // The clean-up hangs too.
    proxy.inject("DeleteChangeSet", Fault::BlackHole, Times::Always);
    let dirs = TestDirs::new();
    let child = plan_through(&proxy, &dirs, "twice");
    proxy.wait_until(GUARD, "the plan's DescribeChangeSet", |p| {
        p.seen("DescribeChangeSet") >= 1
    });
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    proxy.wait_until(GUARD, "the clean-up's DeleteChangeSet", |p| {
        p.seen("DeleteChangeSet") >= 1
    });
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let (exit, killed_by, stderr) = finish(child);
    // The code of the first signal.
    assert_eq!((exit, killed_by), (Some(143), None), "{stderr}");
    assert!(
        stderr.contains("opsdeck: SIGINT received again: exiting now"),
        "{stderr}"
    );
    assert!(
        stderr.contains("May be left in AWS: change set opsdeck-")
            && stderr.contains("of stack twice and the empty REVIEW_IN_PROGRESS stack twice"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`aws cloudformation delete-change-set --change-set-name opsdeck-")
            && stderr.contains(&format!(
                "--stack-name twice --region us-east-1 --endpoint-url {}`",
                proxy.endpoint()
            )),
        "{stderr}"
    );
    // The running change is recorded as interrupted, so its `started` has an ending.
    let audit = support::read_audit(&dirs.audit_log());
    assert_eq!(
        support::decisions_for_stack(&audit, "twice")
            .last()
            .map(String::as_str),
        Some("interrupted")
    );
}
