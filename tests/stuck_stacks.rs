//! A stack stuck in a failed rollback or an update someone wants stopped: continue the
//! rollback (skipping resources) and cancel the update, through the engine and gate (the
//! rig) and through `opsdeck run` (the real binary, the same plans as the console), against
//! the loopback CloudFormation stub (moto has neither call).

mod support;

use opsdeck::cfn::ops::{CancelUpdateStack, ContinueUpdateRollback};
use opsdeck::ops::MutatingOp;
use std::process::{Command, Stdio};
use support::cfn_stub::{CfnStub, StubResource, StubStack};
use support::rig::{Rig, target};
use support::{REGION, TestDirs, hermetic_aws_env};

const ACCOUNT: &str = support::cfn_stub::ACCOUNT;

fn stuck(stub: &CfnStub, name: &str, status: &str) -> String {
    let mut stack = StubStack::new(name, status);
    stack.resources = vec![
        StubResource {
            logical_id: "Queue".into(),
            resource_type: "AWS::SQS::Queue".into(),
            status: "UPDATE_FAILED".into(),
        },
        StubResource {
            logical_id: "Bucket".into(),
            resource_type: "AWS::S3::Bucket".into(),
            status: "UPDATE_COMPLETE".into(),
        },
    ];
    stub.add_stack(stack, Vec::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollback_is_continued_skipping_the_resources_named() {
    let stub = CfnStub::start().await;
    let dirs = TestDirs::new();
    let id = stuck(&stub, "web", "UPDATE_ROLLBACK_FAILED");
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let op = MutatingOp::from(ContinueUpdateRollback {
        target: target(ACCOUNT, "web", &id),
        resources_to_skip: vec!["Queue".into()],
    });
    let (job, result) = rig.run(op).await;
    let summary = result.expect("the rollback completes").summary();
    assert!(summary.contains("UPDATE_ROLLBACK_COMPLETE"), "{summary}");
    let sent = stub
        .requests()
        .into_iter()
        .find(|r| r.action == "ContinueUpdateRollback")
        .expect("ContinueUpdateRollback was sent");
    assert_eq!(sent.params.get("StackName"), Some(&id), "by ARN");
    assert_eq!(
        sent.params
            .get("ResourcesToSkip.member.1")
            .map(String::as_str),
        Some("Queue")
    );
    assert_eq!(
        stub.stack_status("web").as_deref(),
        Some("UPDATE_ROLLBACK_COMPLETE")
    );
    let log = rig.job_log(job).join("\n");
    assert!(log.contains("UPDATE_ROLLBACK_IN_PROGRESS"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_in_progress_is_cancelled_and_rolls_back() {
    let stub = CfnStub::start().await;
    let dirs = TestDirs::new();
    let id = stuck(&stub, "api", "UPDATE_IN_PROGRESS");
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let op = MutatingOp::from(CancelUpdateStack {
        target: target(ACCOUNT, "api", &id),
    });
    let (_, result) = rig.run(op).await;
    let summary = result.expect("the rollback completes").summary();
    assert!(summary.contains("UPDATE_ROLLBACK_COMPLETE"), "{summary}");
    assert!(stub.actions().iter().any(|a| a == "CancelUpdateStack"));
}

fn opsdeck(dirs: &TestDirs, endpoint: &str, args: &[&str]) -> std::process::Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
            "--env",
            "DEV",
        ])
        .stdin(Stdio::null());
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn opsdeck");
    support::wait_bounded(child, "opsdeck run")
}

fn decisions(dirs: &TestDirs, operation: &str) -> Vec<String> {
    support::read_audit(&dirs.audit_log())
        .into_iter()
        .filter(|e| e["operation"] == operation)
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsdeck_run_plans_like_the_console_refuses_what_cannot_be_and_runs_what_is_confirmed() {
    let stub = CfnStub::start().await;
    let dirs = TestDirs::new();
    stuck(&stub, "web", "UPDATE_ROLLBACK_FAILED");
    stuck(&stub, "api", "UPDATE_COMPLETE");
    let endpoint = stub.endpoint().to_string();

    // Resolved and printed, nothing sent.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "run",
            "continue-update-rollback",
            "--arg",
            "stack=web",
            "--arg",
            "skip=Queue",
            "--plan",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(plan["operation"], "continue-update-rollback");
    assert_eq!(plan["result"], "planned");
    assert_eq!(plan["target"]["resources_to_skip"][0], "Queue");
    assert_eq!(
        plan["confirmation"], "type web",
        "skipping resources is typed"
    );
    assert!(!stub.actions().iter().any(|a| a == "ContinueUpdateRollback"));

    // A resource the stack does not have: bad input, nothing asked of the gate.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "run",
            "continue-update-rollback",
            "--arg",
            "stack=web",
            "--arg",
            "skip=Nope",
            "--confirm",
            "web",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no resource Nope"));

    // Not stuck: refused before the gate.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "run",
            "cancel-update-stack",
            "--arg",
            "stack=api",
            "--confirm",
            "api",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only an update in progress"));
    assert!(!stub.actions().iter().any(|a| a == "CancelUpdateStack"));

    // Read-only: refused at the gate and audited; nothing sent.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "--read-only",
            "run",
            "continue-update-rollback",
            "--arg",
            "stack=web",
            "--confirm",
            "web",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!stub.actions().iter().any(|a| a == "ContinueUpdateRollback"));
    assert_eq!(
        decisions(&dirs, "continue-update-rollback"),
        vec!["requested", "refused-read-only"]
    );

    // The wrong name does not confirm a typed tier.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "run",
            "continue-update-rollback",
            "--arg",
            "stack=web",
            "--arg",
            "skip=Queue",
            "--confirm",
            "api",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(!stub.actions().iter().any(|a| a == "ContinueUpdateRollback"));

    // Confirmed: sent, followed to its end, audited from request to outcome.
    let out = opsdeck(
        &dirs,
        &endpoint,
        &[
            "run",
            "continue-update-rollback",
            "--arg",
            "stack=web",
            "--arg",
            "skip=Queue",
            "--confirm",
            "web",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stub.stack_status("web").as_deref(),
        Some("UPDATE_ROLLBACK_COMPLETE")
    );
    let trail = decisions(&dirs, "continue-update-rollback");
    assert!(
        trail.ends_with(&[
            "requested".to_string(),
            "confirmed".to_string(),
            "started".to_string(),
            "succeeded".to_string()
        ]),
        "{trail:?}"
    );
}
