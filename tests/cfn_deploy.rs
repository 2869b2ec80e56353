//! Change-set deploys, live following, drift and termination protection through the real
//! `AwsProvider`, engine and gate: against moto where it can, against the loopback
//! CloudFormation stub (`support::cfn_stub`) for what moto cannot do.

mod support;

use opsdeck::cfn::model::{ChangeSetKind, ChangeSetOutcome, ChangeSetPreview};
use opsdeck::cfn::ops::{CfnMutation, CfnRead};
use opsdeck::cfn::port::{CfnOutcome, CfnOutput};
use opsdeck::engine::{MutationOutput, ReadOutput};
use opsdeck::model::{Environment, JobState};
use opsdeck::ops::{
    CreateChangeSet, DeleteStack, DeployParameter, DiscardChangeSet, ExecuteChangeSet, MutatingOp,
    ParamValue, ReadOp, Secret, SetTerminationProtection, TemplateSource,
};
use support::cfn_stub::{
    self, CfnStub, ChangeSetPlan, Step, StubChange, StubDrift, StubEvent, StubResource, StubStack,
};
use support::rig::{Rig, scope, target};
use support::{MOTO_ACCOUNT, MotoServer, REGION, TestDirs};

const S3_TEMPLATE: &str = include_str!("../templates/s3-bucket.yaml");

fn plain(key: &str, value: &str) -> DeployParameter {
    DeployParameter {
        key: key.into(),
        value: ParamValue::Plain(value.into()),
    }
}

fn previous(key: &str) -> DeployParameter {
    DeployParameter {
        key: key.into(),
        value: ParamValue::UsePrevious,
    }
}

fn create_op(
    name: &str,
    existing: Option<&str>,
    change_set: &str,
    template: TemplateSource,
    parameters: Vec<DeployParameter>,
) -> MutatingOp {
    // Judged as the console and the CLI judge it; the current template (updates) is not
    // fetched here, which the verdict says.
    let compliance = match &template {
        TemplateSource::Body { body, .. } => opsdeck::ops::ComplianceVerdict::judge(
            &opsdeck::compliance::Checker::bundled(),
            body,
            name,
            &Default::default(),
            Environment::Dev,
        ),
        TemplateSource::Previous => {
            opsdeck::ops::ComplianceVerdict::unavailable("the test does not fetch it")
        }
    };
    MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
        account: MOTO_ACCOUNT.into(),
        region: REGION.into(),
        environment: Environment::Dev,
        stack_name: name.into(),
        existing_stack_id: existing.map(Into::into),
        change_set_name: change_set.into(),
        template,
        parameters,
        compliance,
        cost: opsdeck::cost::verdict::CostVerdict::none(),
    }))
}

fn outcome(result: Result<MutationOutput, String>) -> ChangeSetOutcome {
    match result.expect("CreateChangeSet succeeded") {
        MutationOutput::Cfn(CfnOutcome::ChangeSet(outcome)) => outcome,
        other => panic!("expected a change set, got {other:?}"),
    }
}

fn ready(result: Result<MutationOutput, String>) -> ChangeSetPreview {
    match outcome(result) {
        ChangeSetOutcome::Ready(preview) => preview,
        other => panic!("expected a ready change set, got {other:?}"),
    }
}

fn execute_op(preview: &ChangeSetPreview) -> MutatingOp {
    MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(ExecuteChangeSet {
        target: target(MOTO_ACCOUNT, &preview.stack_name, &preview.stack_id),
        preview: preview.clone(),
        cost: opsdeck::cost::verdict::CostVerdict::none(),
    }))
}

fn done(result: Result<MutationOutput, String>) -> String {
    match result {
        Ok(MutationOutput::Cfn(CfnOutcome::Done(summary))) => summary,
        other => panic!("expected success, got {other:?}"),
    }
}

async fn change_set_names(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Vec<String> {
    let out = cfn
        .list_change_sets()
        .stack_name(stack)
        .send()
        .await
        .expect("ListChangeSets");
    out.summaries()
        .iter()
        .filter_map(|s| s.change_set_name().map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------------------------------
// moto
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_creates_redeploys_unchanged_and_deletes_a_library_stack() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let dirs = TestDirs::new();
    let mut rig = Rig::start(&moto.endpoint(), &dirs);
    // Every parameter of the template, as the deploy form sends them.
    let params = || {
        [
            ("BucketName", ""),
            ("NoncurrentVersionExpirationDays", "90"),
            ("EncryptionType", "SSE-S3"),
            ("KmsKeyArn", ""),
            ("AccessLogBucketName", ""),
            ("AccessLogPrefix", "s3-access-logs/"),
            ("Owner", "platform-team"),
            ("Environment", "DEV"),
            ("CostCenter", "cc-1234"),
        ]
        .into_iter()
        .map(|(k, v)| plain(k, v))
        .collect::<Vec<_>>()
    };

    let (_, result) = rig
        .run(create_op(
            "lib-bucket",
            None,
            "opsdeck-1",
            TemplateSource::body("s3-bucket", S3_TEMPLATE),
            params(),
        ))
        .await;
    let preview = ready(result);
    assert_eq!(preview.kind, ChangeSetKind::Create);
    let mut adds: Vec<_> = preview
        .changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.logical_id.as_str(),
                c.resource_type.as_str(),
            )
        })
        .collect();
    adds.sort();
    assert_eq!(
        adds,
        [
            ("Add", "Bucket", "AWS::S3::Bucket"),
            ("Add", "BucketPolicy", "AWS::S3::BucketPolicy")
        ]
    );
    assert_eq!(
        support::stack_status(&cfn, &preview.stack_id)
            .await
            .as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );

    let (job, result) = rig.run(execute_op(&preview)).await;
    assert_eq!(done(result), "lib-bucket: CREATE_COMPLETE");
    assert_eq!(rig.progress[&job].last(), Some(&1.0));
    assert_eq!(
        support::stack_status(&cfn, "lib-bucket").await.as_deref(),
        Some("CREATE_COMPLETE")
    );

    // Describe reads the template's DeletionPolicy and the stack's events.
    let (_, result) = rig
        .read(ReadOp::Cfn(CfnRead::DescribeStack {
            scope: scope(),
            stack_id: preview.stack_id.clone(),
            stack_name: "lib-bucket".into(),
        }))
        .await;
    let ReadOutput::Cfn(CfnOutput::StackDetail(detail)) = result.expect("describe") else {
        panic!("describe answered with something else")
    };
    let retained: Vec<_> = detail
        .retained
        .iter()
        .map(|r| (r.logical_id.as_str(), r.policy.as_str()))
        .collect();
    assert_eq!(retained, [("Bucket", "Retain"), ("BucketPolicy", "Retain")]);
    assert!(
        detail.events.iter().any(|e| e.status == "CREATE_COMPLETE"),
        "{:?}",
        detail.events
    );

    let (_, result) = rig
        .run(MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
            target: target(MOTO_ACCOUNT, "lib-bucket", &preview.stack_id),
            retained: detail.retained.clone(),
        })))
        .await;
    assert_eq!(done(result), "lib-bucket deleted");
    assert!(support::stack_is_gone(&cfn, "lib-bucket").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_unchanged_redeploy_is_no_changes_and_leaves_no_change_set() {
    // moto answers an unchanged update at once with "No updates are to be performed." (AWS
    // instead fails the change set with "didn't contain changes": the stub covers that). moto
    // compares parameters only when all are strings, and cannot update by ARN otherwise.
    const NAMED: &str = r#"{"Parameters":{"Name":{"Type":"String"}},"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":{"Ref":"Name"}}}}}"#;
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let dirs = TestDirs::new();
    let mut rig = Rig::start(&moto.endpoint(), &dirs);
    let deploy = |existing: Option<&str>, name: &str| {
        create_op(
            "same",
            existing,
            name,
            TemplateSource::body("inline", NAMED),
            vec![plain("Name", "alerts")],
        )
    };
    let (_, result) = rig.run(deploy(None, "opsdeck-1")).await;
    let preview = ready(result);
    let (_, result) = rig.run(execute_op(&preview)).await;
    assert_eq!(done(result), "same: CREATE_COMPLETE");

    let (job, result) = rig.run(deploy(Some(&preview.stack_id), "opsdeck-2")).await;
    match outcome(result) {
        ChangeSetOutcome::NoChanges {
            stack_name,
            message,
        } => {
            assert_eq!(stack_name, "same");
            assert!(
                message.contains("No updates are to be performed"),
                "{message}"
            );
        }
        other => panic!("expected no changes, got {other:?}"),
    }
    // (moto still lists the executed opsdeck-1.)
    let left = change_set_names(&cfn, "same").await;
    assert!(!left.contains(&"opsdeck-2".to_string()), "{left:?}");
    assert_eq!(
        rig.store.get(job).expect("store").expect("job").state,
        JobState::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_discarding_a_create_change_set_removes_the_empty_stack() {
    let moto = MotoServer::start();
    let cfn = moto.cfn();
    let dirs = TestDirs::new();
    let mut rig = Rig::start(&moto.endpoint(), &dirs);

    let (_, result) = rig
        .run(create_op(
            "discard-me",
            None,
            "opsdeck-1",
            TemplateSource::body("inline", support::TEMPLATE),
            vec![],
        ))
        .await;
    let preview = ready(result);
    assert_eq!(
        support::stack_status(&cfn, "discard-me").await.as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );

    let (_, result) = rig
        .run(MutatingOp::Cfn(CfnMutation::DiscardChangeSet(
            DiscardChangeSet {
                target: target(MOTO_ACCOUNT, "discard-me", &preview.stack_id),
                change_set_id: preview.change_set_id.clone(),
                change_set_name: preview.change_set_name.clone(),
                delete_empty_stack: true,
            },
        )))
        .await;
    let summary = done(result);
    assert!(
        summary.contains("empty stack discard-me was deleted"),
        "{summary}"
    );
    assert!(support::stack_is_gone(&cfn, "discard-me").await);
}

// ---------------------------------------------------------------------------------------
// the stub
// ---------------------------------------------------------------------------------------

const BUCKET: &str = "AWS::S3::Bucket";
const QUEUE: &str = "AWS::SQS::Queue";
const STACK: &str = "AWS::CloudFormation::Stack";

fn modify(logical: &str, rtype: &str) -> StubChange {
    StubChange {
        action: "Modify".into(),
        logical_id: logical.into(),
        physical_id: Some(format!("{logical}-phys")),
        resource_type: rtype.into(),
        replacement: Some("False".into()),
        scope: vec!["Properties".into()],
        details: vec![],
    }
}

fn plan(changes: Vec<StubChange>) -> ChangeSetPlan {
    ChangeSetPlan {
        pending_polls: 1,
        status: "CREATE_COMPLETE".into(),
        reason: None,
        changes,
        page_size: 100,
    }
}

/// A settled stack with three resources and an old failure in its history.
fn web_stack(stub: &CfnStub, script: Vec<Step>) -> String {
    let mut stack = StubStack::new("web", "UPDATE_COMPLETE");
    stack.resources = ["A", "B", "C"]
        .iter()
        .map(|l| StubResource {
            logical_id: l.to_string(),
            resource_type: BUCKET.into(),
            status: "UPDATE_COMPLETE".into(),
        })
        .collect();
    stack.script = script;
    stub.add_stack(
        stack,
        vec![
            StubEvent::new("web", STACK, "CREATE_IN_PROGRESS"),
            StubEvent::new("A", BUCKET, "CREATE_FAILED").because("old failure from last year"),
            StubEvent::new("web", STACK, "UPDATE_COMPLETE"),
        ],
    )
}

async fn update_preview(
    rig: &mut Rig,
    stub: &CfnStub,
    id: &str,
    changes: Vec<StubChange>,
) -> ChangeSetPreview {
    stub.plan_change_set(plan(changes));
    let (_, result) = rig
        .run(create_op(
            "web",
            Some(id),
            "opsdeck-7",
            TemplateSource::Previous,
            vec![previous("Size")],
        ))
        .await;
    ready(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_execute_follows_events_live_with_rising_progress() {
    let stub = CfnStub::start().await;
    let script = vec![
        Step {
            events: vec![StubEvent::new("A", BUCKET, "UPDATE_IN_PROGRESS")],
            status: Some("UPDATE_IN_PROGRESS".into()),
        },
        Step {
            events: vec![
                StubEvent::new("A", BUCKET, "UPDATE_COMPLETE"),
                StubEvent::new("B", QUEUE, "CREATE_IN_PROGRESS"),
            ],
            status: None,
        },
        // Four events in one poll with pages of two: the follower must page back.
        Step {
            events: vec![
                StubEvent::new("B", QUEUE, "CREATE_COMPLETE"),
                StubEvent::new("C", BUCKET, "UPDATE_IN_PROGRESS"),
                StubEvent::new("C", BUCKET, "UPDATE_IN_PROGRESS").because("again"),
            ],
            status: Some("UPDATE_IN_PROGRESS".into()),
        },
        Step {
            events: vec![StubEvent::new("C", BUCKET, "UPDATE_COMPLETE")],
            status: Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS".into()),
        },
        Step {
            events: vec![],
            status: Some("UPDATE_COMPLETE".into()),
        },
    ];
    let id = web_stack(&stub, script);
    stub.set_event_page_size(2);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let preview = update_preview(
        &mut rig,
        &stub,
        &id,
        vec![
            modify("A", BUCKET),
            {
                let mut add = modify("B", QUEUE);
                add.action = "Add".into();
                add.replacement = None;
                add
            },
            modify("C", BUCKET),
        ],
    )
    .await;
    assert_eq!(preview.kind, ChangeSetKind::Update);

    let (job, result) = rig.run(execute_op(&preview)).await;
    assert_eq!(done(result), "web: UPDATE_COMPLETE");

    let progress = &rig.progress[&job];
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&1.0));
    let log = rig.job_log(job);
    for line in [
        "A AWS::S3::Bucket UPDATE_COMPLETE",
        "B AWS::SQS::Queue CREATE_COMPLETE",
        "C AWS::S3::Bucket UPDATE_IN_PROGRESS again",
        "C AWS::S3::Bucket UPDATE_COMPLETE",
        "web AWS::CloudFormation::Stack UPDATE_COMPLETE",
    ] {
        assert_eq!(
            log.iter().filter(|l| *l == line).count(),
            1,
            "{line}: {log:#?}"
        );
    }
    assert!(
        !log.iter().any(|l| l.contains("old failure")),
        "history was replayed: {log:#?}"
    );
    // The update kept the parameter's value and the template; ExecuteChangeSet named the
    // change set by ARN.
    let requests = stub.requests();
    let create = requests
        .iter()
        .find(|r| r.action == "CreateChangeSet")
        .expect("CreateChangeSet sent");
    // Updates name the stack (endpoints such as moto resolve UPDATE change sets by name only);
    // the provider then checks the change set attached to exactly the stack's ARN.
    assert_eq!(create.params["StackName"], "web");
    assert_eq!(create.params["Parameters.member.1.ParameterKey"], "Size");
    assert_eq!(
        create.params["Parameters.member.1.UsePreviousValue"],
        "true"
    );
    assert!(
        !create
            .params
            .contains_key("Parameters.member.1.ParameterValue")
    );
    let execute = stub
        .requests()
        .into_iter()
        .find(|r| r.action == "ExecuteChangeSet")
        .expect("ExecuteChangeSet sent");
    assert_eq!(execute.params["ChangeSetName"], preview.change_set_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_failed_update_lists_every_failure_reason_including_the_rollback() {
    let stub = CfnStub::start().await;
    let script = vec![
        Step {
            events: vec![StubEvent::new("A", BUCKET, "UPDATE_IN_PROGRESS")],
            status: Some("UPDATE_IN_PROGRESS".into()),
        },
        Step {
            events: vec![
                StubEvent::new("A", BUCKET, "UPDATE_FAILED").because("Bucket name already taken"),
                StubEvent::new("B", BUCKET, "UPDATE_FAILED").because("Resource update cancelled"),
            ],
            status: Some("UPDATE_ROLLBACK_IN_PROGRESS".into()),
        },
        Step {
            events: vec![
                StubEvent::new("B", BUCKET, "UPDATE_FAILED").because("Resource update cancelled"),
                StubEvent::new("A", BUCKET, "UPDATE_COMPLETE"),
                StubEvent::new("C", BUCKET, "DELETE_FAILED").because("Policy is still attached"),
            ],
            status: Some("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS".into()),
        },
        Step {
            events: vec![],
            status: Some("UPDATE_ROLLBACK_COMPLETE".into()),
        },
    ];
    let id = web_stack(&stub, script);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let preview = update_preview(
        &mut rig,
        &stub,
        &id,
        vec![modify("A", BUCKET), modify("B", BUCKET)],
    )
    .await;

    let (job, result) = rig.run(execute_op(&preview)).await;
    let error = result.expect_err("the update rolled back");
    assert!(
        error.contains("web ended UPDATE_ROLLBACK_COMPLETE"),
        "{error}"
    );
    for reason in [
        "A: Bucket name already taken",
        "B: Resource update cancelled",
        "C: Policy is still attached",
    ] {
        assert_eq!(error.matches(reason).count(), 1, "{reason}: {error}");
    }
    assert!(!error.contains("old failure"), "{error}");
    let progress = &rig.progress[&job];
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().all(|p| *p <= 1.0), "{progress:?}");
    let record = rig.store.get(job).expect("store").expect("job");
    assert_eq!(record.state, JobState::Failed);
    let audit = support::read_audit(&dirs.audit_log());
    let last = audit.last().expect("audit entries");
    assert_eq!(last["operation"], "execute-change-set");
    assert_eq!(last["decision"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_change_set_rows_replacements_removals_and_pages() {
    let stub = CfnStub::start().await;
    let id = web_stack(&stub, vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let detail = |a: &str, n: &str, r: &str| (a.to_string(), n.to_string(), r.to_string());
    let mut replaced = modify("A", BUCKET);
    replaced.replacement = Some("True".into());
    replaced.details = vec![detail("Properties", "BucketName", "Always")];
    let mut maybe = modify("Db", "AWS::RDS::DBInstance");
    maybe.replacement = Some("Conditional".into());
    maybe.details = vec![
        detail("Properties", "AllocatedStorage", "Conditionally"),
        detail("Properties", "AllocatedStorage", "Conditionally"),
        detail("Properties", "DBInstanceClass", "Never"),
    ];
    let mut removed = modify("Old", QUEUE);
    removed.action = "Remove".into();
    removed.replacement = None;
    removed.scope = vec![];
    let mut tags = modify("C", BUCKET);
    tags.scope = vec!["Tags".into()];
    tags.details = vec![detail("Tags", "", "Never")];
    let mut added = modify("New", QUEUE);
    added.action = "Add".into();
    added.physical_id = None;
    added.replacement = None;
    added.scope = vec![];
    let mut p = plan(vec![replaced, maybe, removed, tags, added]);
    p.page_size = 2;
    p.pending_polls = 2;
    stub.plan_change_set(p);

    let (_, result) = rig
        .run(create_op(
            "web",
            Some(&id),
            "opsdeck-9",
            TemplateSource::Previous,
            vec![],
        ))
        .await;
    let preview = ready(result);
    let rows: Vec<_> = preview
        .changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.logical_id.as_str(),
                c.replacement.as_deref(),
                c.scope.join(","),
                c.details.join(","),
                c.is_destructive(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Modify",
                "A",
                Some("True"),
                "Properties".into(),
                "BucketName (recreation: Always)".into(),
                true
            ),
            (
                "Modify",
                "Db",
                Some("Conditional"),
                "Properties".into(),
                "AllocatedStorage (recreation: Conditionally),DBInstanceClass".into(),
                true
            ),
            ("Remove", "Old", None, "".into(), "".into(), true),
            (
                "Modify",
                "C",
                Some("False"),
                "Tags".into(),
                "Tags".into(),
                false
            ),
            ("Add", "New", None, "".into(), "".into(), false),
        ]
    );
    assert_eq!(preview.changes[0].physical_id.as_deref(), Some("A-phys"));
    assert_eq!(preview.counts(), "Add 1, Modify 3, Remove 1, Replace 2");
    let requests = stub.requests();
    let create = requests
        .iter()
        .find(|r| r.action == "CreateChangeSet")
        .expect("sent");
    assert_eq!(create.params["ChangeSetType"], "UPDATE");
    assert_eq!(create.params["StackName"], "web");
    assert_eq!(create.params["UsePreviousTemplate"], "true");
    assert_eq!(create.params["Capabilities.member.1"], "CAPABILITY_IAM");
    assert_eq!(
        create.params["Capabilities.member.2"],
        "CAPABILITY_NAMED_IAM"
    );
    let pages: Vec<_> = requests
        .iter()
        .filter(|r| r.action == "DescribeChangeSet")
        .map(|r| r.params.get("NextToken").cloned())
        .collect();
    assert_eq!(
        pages,
        [None, None, None, Some("2".into()), Some("4".into())],
        "two pending polls, the first page, then two more pages"
    );

    // Discarding an update's change set leaves the stack alone.
    let (_, result) = rig
        .run(MutatingOp::Cfn(CfnMutation::DiscardChangeSet(
            DiscardChangeSet {
                target: target(cfn_stub::ACCOUNT, "web", &id),
                change_set_id: preview.change_set_id.clone(),
                change_set_name: preview.change_set_name.clone(),
                delete_empty_stack: false,
            },
        )))
        .await;
    done(result);
    assert_eq!(stub.change_set_count(), 0);
    assert_eq!(stub.stack_status("web").as_deref(), Some("UPDATE_COMPLETE"));
    assert!(!stub.actions().contains(&"DeleteStack".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_failed_and_empty_change_sets_are_cleaned_up() {
    let stub = CfnStub::start().await;
    let id = web_stack(&stub, vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);

    // An update that changes nothing: NoChanges, change set deleted.
    let mut p = plan(vec![]);
    p.status = "FAILED".into();
    p.reason = Some("The submitted information didn't contain changes. Submit different information to create a change set.".into());
    stub.plan_change_set(p);
    let (_, result) = rig
        .run(create_op(
            "web",
            Some(&id),
            "opsdeck-a",
            TemplateSource::Previous,
            vec![],
        ))
        .await;
    assert!(matches!(
        outcome(result),
        ChangeSetOutcome::NoChanges { .. }
    ));
    assert_eq!(stub.change_set_count(), 0);

    // A new stack whose change set fails: change set and empty stack both removed.
    let mut p = plan(vec![]);
    p.status = "FAILED".into();
    p.reason = Some("Template format error: Unresolved resource dependencies [Nope]".into());
    stub.plan_change_set(p);
    let (_, result) = rig
        .run(create_op(
            "fresh",
            None,
            "opsdeck-b",
            TemplateSource::body("inline", "Resources: {}"),
            vec![],
        ))
        .await;
    let error = result.expect_err("the change set failed");
    assert!(
        error.contains("Unresolved resource dependencies [Nope]"),
        "{error}"
    );
    assert_eq!(stub.change_set_count(), 0);
    assert_eq!(
        stub.stack_status("fresh").as_deref(),
        Some("DELETE_COMPLETE")
    );
    let create = stub
        .requests()
        .into_iter()
        .rfind(|r| r.action == "CreateChangeSet")
        .expect("sent");
    assert_eq!(create.params["ChangeSetType"], "CREATE");
    assert_eq!(create.params["StackName"], "fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_drift_lists_drifted_resources_first_with_differences() {
    let stub = CfnStub::start().await;
    let mut stack = StubStack::new("drifty", "UPDATE_COMPLETE");
    let diff = |p: &str, e: &str, a: &str, k: &str| {
        (p.to_string(), e.to_string(), a.to_string(), k.to_string())
    };
    stack.drift = Some(StubDrift {
        resources: vec![
            ("Bucket".into(), BUCKET.into(), "IN_SYNC".into(), vec![]),
            (
                "Queue".into(),
                QUEUE.into(),
                "MODIFIED".into(),
                vec![
                    diff("/VisibilityTimeout", "30", "60", "NOT_EQUAL"),
                    diff("/Tags/1", "", "{\"Key\":\"x\"}", "ADD"),
                ],
            ),
            (
                "Topic".into(),
                "AWS::SNS::Topic".into(),
                "DELETED".into(),
                vec![],
            ),
        ],
        in_progress_polls: 2,
        detection_status: "DETECTION_COMPLETE".into(),
        reason: None,
        stack_drift_status: "DRIFTED".into(),
    });
    let id = stub.add_stack(stack, vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);

    let (job, result) = rig
        .read(ReadOp::Cfn(CfnRead::DetectDrift {
            scope: scope(),
            stack_id: id.clone(),
            stack_name: "drifty".into(),
        }))
        .await;
    let ReadOutput::Cfn(CfnOutput::Drift(drift)) = result.expect("drift detection") else {
        panic!("drift answered with something else")
    };
    assert_eq!(drift.stack_name, "drifty");
    assert_eq!(drift.status, "DRIFTED");
    let order: Vec<_> = drift
        .resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("Queue", "MODIFIED"),
            ("Topic", "DELETED"),
            ("Bucket", "IN_SYNC")
        ]
    );
    let queue = &drift.resources[0];
    assert_eq!(queue.differences.len(), 2);
    assert_eq!(queue.differences[0].path, "/VisibilityTimeout");
    assert_eq!(queue.differences[0].expected, "30");
    assert_eq!(queue.differences[0].actual, "60");
    assert_eq!(queue.differences[0].kind, "NOT_EQUAL");
    assert_eq!(queue.differences[1].kind, "ADD");
    assert_eq!(drift.drifted().count(), 2);
    let polls = stub
        .actions()
        .iter()
        .filter(|a| *a == "DescribeStackDriftDetectionStatus")
        .count();
    assert_eq!(polls, 3);
    assert!(
        rig.job_log(job)
            .iter()
            .any(|l| l.contains("2 of 3 resources drifted"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_termination_protection_refuses_the_delete_until_turned_off() {
    let stub = CfnStub::start().await;
    let mut stack = StubStack::new("guarded", "CREATE_COMPLETE");
    stack.termination_protection = true;
    let id = stub.add_stack(stack, vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    let delete = || {
        MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
            target: target(cfn_stub::ACCOUNT, "guarded", &id),
            retained: vec![],
        }))
    };

    let (_, result) = rig.run(delete()).await;
    let error = result.expect_err("protected");
    assert!(
        error.contains("termination protection is on; turn it off first (p)"),
        "{error}"
    );
    assert!(!stub.actions().contains(&"DeleteStack".to_string()));

    let (_, result) = rig
        .run(MutatingOp::Cfn(CfnMutation::SetTerminationProtection(
            SetTerminationProtection {
                target: target(cfn_stub::ACCOUNT, "guarded", &id),
                enabled: false,
            },
        )))
        .await;
    assert_eq!(done(result), "termination protection is off for guarded");
    let update = stub
        .requests()
        .into_iter()
        .find(|r| r.action == "UpdateTerminationProtection")
        .expect("sent");
    assert_eq!(update.params["EnableTerminationProtection"], "false");
    assert_eq!(update.params["StackName"], id);

    let (_, result) = rig.run(delete()).await;
    assert_eq!(done(result), "guarded deleted");
    assert_eq!(
        stub.stack_status("guarded").as_deref(),
        Some("DELETE_COMPLETE")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_noecho_value_goes_to_aws_as_the_parameter_value_only() {
    const SECRET: &str = "Zq7-n0echo-s3cret-value";
    let stub = CfnStub::start().await;
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    stub.plan_change_set(plan(vec![{
        let mut add = modify("Db", "AWS::RDS::DBInstance");
        add.action = "Add".into();
        add.replacement = None;
        add
    }]));

    let (job, result) = rig
        .run(create_op(
            "db",
            None,
            "opsdeck-s",
            TemplateSource::body("rds", "Resources: {}"),
            vec![
                plain("DBInstanceClass", "db.t4g.micro"),
                DeployParameter {
                    key: "MasterUserPassword".into(),
                    value: ParamValue::Secret(Secret::new(SECRET)),
                },
            ],
        ))
        .await;
    ready(result);

    let requests = stub.requests();
    let create = requests
        .iter()
        .find(|r| r.action == "CreateChangeSet")
        .expect("sent");
    let holders: Vec<_> = create
        .params
        .iter()
        .filter(|(_, v)| v.contains(SECRET))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    let slot = holders[0].trim_end_matches(".ParameterValue");
    assert_eq!(create.params[&holders[0]], SECRET);
    assert_eq!(
        create.params[&format!("{slot}.ParameterKey")],
        "MasterUserPassword"
    );
    for other in requests.iter().filter(|r| r.action != "CreateChangeSet") {
        assert!(
            !other.body.contains("n0echo"),
            "{}: {}",
            other.action,
            other.body
        );
    }

    let log = rig.job_log(job).join("\n");
    assert!(!log.contains(SECRET), "{log}");
    assert!(log.contains("MasterUserPassword"), "{log}");
    let audit = std::fs::read_to_string(dirs.audit_log()).expect("audit log");
    assert!(!audit.contains(SECRET));
    for entry in std::fs::read_dir(dirs.job_logs_dir()).expect("job logs") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        assert!(!text.contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_follow_shows_the_running_operation_and_skips_settled_stacks() {
    let stub = CfnStub::start().await;
    let mut stack = StubStack::new("busy", "UPDATE_IN_PROGRESS");
    stack.resources = vec![StubResource {
        logical_id: "A".into(),
        resource_type: BUCKET.into(),
        status: "UPDATE_IN_PROGRESS".into(),
    }];
    stack.running = true;
    stack.script = vec![
        Step::default(),
        Step {
            events: vec![StubEvent::new("A", BUCKET, "UPDATE_COMPLETE")],
            status: Some("UPDATE_COMPLETE".into()),
        },
    ];
    let id = stub.add_stack(
        stack,
        vec![
            StubEvent::new("A", BUCKET, "CREATE_FAILED").because("ancient"),
            StubEvent::new("busy", STACK, "UPDATE_IN_PROGRESS"),
            StubEvent::new("A", BUCKET, "UPDATE_IN_PROGRESS").because("started elsewhere"),
        ],
    );
    stub.add_stack(StubStack::new("calm", "CREATE_COMPLETE"), vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);

    let (job, result) = rig
        .read(ReadOp::Cfn(CfnRead::FollowStack {
            scope: scope(),
            stack_id: id.clone(),
            stack_name: "busy".into(),
        }))
        .await;
    let ReadOutput::Cfn(CfnOutput::Followed { summary, .. }) = result.expect("follow") else {
        panic!("follow answered with something else")
    };
    assert_eq!(summary, "busy: UPDATE_COMPLETE");
    let log = rig.job_log(job);
    assert!(
        log.iter()
            .any(|l| l == "A AWS::S3::Bucket UPDATE_IN_PROGRESS started elsewhere"),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|l| l == "A AWS::S3::Bucket UPDATE_COMPLETE"),
        "{log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("ancient")), "{log:#?}");
    assert_eq!(rig.progress[&job].last(), Some(&1.0));

    let (_, result) = rig
        .read(ReadOp::Cfn(CfnRead::FollowStack {
            scope: scope(),
            stack_id: cfn_stub::stack_arn("calm"),
            stack_name: "calm".into(),
        }))
        .await;
    let ReadOutput::Cfn(CfnOutput::Followed { summary, .. }) = result.expect("follow") else {
        panic!("follow answered with something else")
    };
    assert_eq!(summary, "not in progress: CREATE_COMPLETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stub_an_update_whose_name_now_belongs_to_another_stack_is_refused() {
    let stub = CfnStub::start().await;
    let id = web_stack(&stub, vec![]);
    let dirs = TestDirs::new();
    let mut rig = Rig::start(stub.endpoint(), &dirs);
    stub.plan_change_set(plan(vec![modify("A", BUCKET)]));
    // The person chose the stack that had the name before (an older ARN).
    let chosen = id.replace("0000-web", "0000-old");
    assert_ne!(chosen, id);
    let (_, result) = rig
        .run(create_op(
            "web",
            Some(&chosen),
            "opsdeck-5",
            TemplateSource::Previous,
            vec![previous("Size")],
        ))
        .await;
    let err = result.expect_err("refused");
    assert!(err.contains("was placed on"), "{err}");
    let actions: Vec<String> = stub.requests().iter().map(|r| r.action.clone()).collect();
    assert!(
        actions.contains(&"DeleteChangeSet".to_string()),
        "the change set is deleted again: {actions:?}"
    );
    assert!(!actions.contains(&"ExecuteChangeSet".to_string()));
}
