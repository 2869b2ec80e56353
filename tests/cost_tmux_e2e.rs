//! The Cost pane in the real binary in a real pty (a tmux pane), against moto (CloudFormation,
//! EC2, Cost Explorer seeded through its admin API) and the CBOR stub (CloudWatch): a deployed
//! stack's estimate beside its month-to-date spend, the cost delta in the change-set review,
//! and reaping an idle instance in DEV, refused in PRD and in read-only mode.
//!
//! Each test runs its own tmux server (a unique socket in the test's temp dir, no config) and
//! kills it when dropped.

mod support;

use support::cbor_stub::{CborStub, StubMetric};
use support::tmux::Tmux;
use support::{MotoServer, TestDirs};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 36;

/// A key (1.00 a month) and an Elastic IP (0.005 × 730 = 3.65): 4.65 a month.
const PRICED: &str = include_str!("fixtures/cost/priced.yaml");

/// opsdeck at moto, with CloudWatch at the stub, in a pane of this test's size.
fn console(
    name: &str,
    dirs: &TestDirs,
    moto: &MotoServer,
    cloudwatch: &str,
    extra_args: &[&str],
) -> Tmux {
    let endpoint = moto.endpoint();
    let mut args = vec!["--endpoint-url", endpoint.as_str()];
    args.extend_from_slice(extra_args);
    Tmux::start(
        name,
        dirs,
        &args,
        &[("AWS_ENDPOINT_URL_CLOUDWATCH", cloudwatch)],
        (WIDTH, HEIGHT),
    )
}

/// A multi-threaded runtime: the stub keeps answering while the test thread waits on tmux.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn seed_cost_explorer(moto: &MotoServer, results: Vec<serde_json::Value>) {
    use std::io::{Read, Write};
    let body = serde_json::json!({ "results": results }).to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", moto.port())).expect("connect");
    write!(
        s,
        "POST /moto-api/static/ce/cost-and-usage-results HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.0 201") || answer.starts_with("HTTP/1.1 201"),
        "{answer}"
    );
}

fn ce_result(groups: &[(&str, &str)]) -> serde_json::Value {
    let now = opsdeck::model::now_ms();
    let today = opsdeck::cost::dates::today(now);
    let month = opsdeck::cost::dates::format_day(opsdeck::cost::dates::month_start(today, 0));
    let next = opsdeck::cost::dates::format_day(opsdeck::cost::dates::month_start(today, 1));
    serde_json::json!({
        "ResultsByTime": [{
            "TimePeriod": {"Start": month, "End": next},
            "Total": {},
            "Groups": groups.iter().map(|(k, v)| serde_json::json!({
                "Keys": [k], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}
            })).collect::<Vec<_>>(),
            "Estimated": true
        }],
        "DimensionValueAttributes": []
    })
}

#[test]
fn the_pane_shows_a_stacks_estimate_beside_its_month_to_date_spend() {
    let rt = runtime();
    let moto = MotoServer::start();
    let stub = rt.block_on(CborStub::start());
    let cfn = moto.cfn();
    rt.block_on(async {
        cfn.create_stack()
            .stack_name("e2e-cost")
            .template_body(PRICED)
            .send()
            .await
            .expect("CreateStack");
    });
    // What Cost Explorer answers, in the order opsdeck asks: monthly by service, daily, by
    // stack tag (the forecast is a 500 in moto).
    seed_cost_explorer(
        &moto,
        vec![
            ce_result(&[("Amazon Elastic Compute Cloud - Compute", "123.45")]),
            ce_result(&[]),
            ce_result(&[("aws:cloudformation:stack-name$e2e-cost", "3.21")]),
        ],
    );
    let dirs = TestDirs::new();
    let tmux = console("pane", &dirs, &moto, stub.endpoint(), &["--env", "DEV"]);
    tmux.wait_for("the stack list", |s| s.contains("e2e-cost"));
    tmux.keys(&["3", "z"]);
    let screen = tmux.wait_for("month-to-date spend", |s| {
        s.contains("Month to date $123.45")
    });
    assert!(screen.contains("via Cost Explorer"), "{screen}");
    assert!(screen.contains("prices as of"), "{screen}");
    tmux.keys(&["]"]);
    let screen = tmux.wait_for("the stack's estimate beside its spend", |s| {
        s.lines()
            .any(|l| l.contains("e2e-cost") && l.contains("$4.65") && l.contains("$3.21"))
    });
    assert!(
        screen.contains("ESTIMATE/MO") && screen.contains("ACTUAL MTD"),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("opsdeck to exit", |s| s.contains("OPSDECK_EXIT=0"));
    drop(stub);
}

#[test]
fn the_change_set_review_shows_the_cost_delta() {
    let rt = runtime();
    let moto = MotoServer::start();
    let stub = rt.block_on(CborStub::start());
    let dirs = TestDirs::new();
    let template = dirs.root().join("priced.yaml");
    std::fs::write(&template, PRICED).expect("template");
    let tmux = console("review", &dirs, &moto, stub.endpoint(), &["--env", "DEV"]);
    tmux.wait_for("the empty inventory", |s| s.contains("No stacks in"));
    tmux.keys(&[":"]);
    tmux.type_text(&format!("deploy {} e2e-new", template.display()));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the form", |s| s.contains("Deploy a new stack from"));
    tmux.keys(&["C-s"]);
    tmux.wait_for("the change set's confirmation", |s| {
        s.contains("Confirm: create-change-set")
    });
    // The cost comes after the compliance verdict and the parameters: scroll down to it.
    tmux.keys(&["PageDown", "PageDown"]);
    let confirm = tmux.wait_for("the change set's confirmation with its cost", |s| {
        s.contains("Confirm: create-change-set") && s.contains("$0.00 → $4.65 a month (+$4.65)")
    });
    assert!(
        confirm.contains("Add") && confirm.contains("Ip"),
        "{confirm}"
    );
    // The key fails compliance rules (open policy, no tags): the name is typed in DEV too.
    tmux.type_text("e2e-new");
    tmux.keys(&["Enter"]);
    let review = tmux.wait_for("the review with the delta", |s| {
        s.contains("Review change set") && s.contains("$0.00 → $4.65 a month (+$4.65)")
    });
    assert!(review.contains("COST/MO"), "{review}");
    assert!(
        review
            .lines()
            .any(|l| l.contains("Ip") && l.contains("+$3.65")),
        "itemised: {review}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("the review to close", |s| !s.contains("Review change set"));
    tmux.keys(&["q"]);
    tmux.wait_for("opsdeck to exit", |s| s.contains("OPSDECK_EXIT=0"));
    drop(stub);
}

fn quiet_instance(rt: &tokio::runtime::Runtime, moto: &MotoServer, stub: &CborStub) -> String {
    let id = rt.block_on(async {
        let config = opsdeck::aws::sdk_config(&support::rig::settings(&moto.endpoint())).await;
        let out = aws_sdk_ec2::Client::new(&config)
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .expect("RunInstances");
        out.instances()[0].instance_id().expect("id").to_string()
    });
    stub.add(StubMetric::new("AWS/EC2", "CPUUtilization", &[("InstanceId", &id)]).daily(14, 1.5));
    stub.add(StubMetric::new("AWS/EC2", "NetworkIn", &[("InstanceId", &id)]).daily(14, 100.0));
    stub.add(StubMetric::new("AWS/EC2", "NetworkOut", &[("InstanceId", &id)]).daily(14, 100.0));
    id
}

fn state_of(rt: &tokio::runtime::Runtime, moto: &MotoServer, id: &str) -> String {
    rt.block_on(async {
        let config = opsdeck::aws::sdk_config(&support::rig::settings(&moto.endpoint())).await;
        let out = aws_sdk_ec2::Client::new(&config)
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .expect("DescribeInstances");
        out.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default()
    })
}

/// `3`, `i`: the idle scan; returns when the instance is listed.
fn scan(tmux: &Tmux) -> String {
    tmux.wait_for("the account", |s| s.contains("123456789012"));
    tmux.keys(&["3", "z", "i"]);
    tmux.wait_for("the idle instance", |s| {
        s.contains("[ ] instance") && s.contains("$15.18")
    })
}

#[test]
fn reaping_an_idle_instance_works_in_dev_and_is_refused_in_prd_and_read_only() {
    let rt = runtime();
    let moto = MotoServer::start();
    let stub = rt.block_on(CborStub::start());
    let id = quiet_instance(&rt, &moto, &stub);

    // PRD: refused at the gate.
    let dirs = TestDirs::new();
    let tmux = console("prd", &dirs, &moto, stub.endpoint(), &["--env", "PRD"]);
    scan(&tmux);
    tmux.keys(&["x"]);
    tmux.wait_for("the refusal", |s| {
        s.contains("reaping idle resources is DEV only")
    });
    drop(tmux);
    let audit = support::read_audit(&dirs.audit_log());
    assert_eq!(
        audit.last().map(|e| e["decision"].clone()),
        Some("refused".into())
    );

    // Read-only: refused too.
    let dirs = TestDirs::new();
    let tmux = console(
        "ro",
        &dirs,
        &moto,
        stub.endpoint(),
        &["--env", "DEV", "--read-only"],
    );
    scan(&tmux);
    tmux.keys(&["x"]);
    tmux.wait_for("the read-only refusal", |s| {
        s.contains("refused: read-only mode")
    });
    drop(tmux);
    assert_eq!(state_of(&rt, &moto, &id), "running");

    // DEV: the typed id stops it.
    let dirs = TestDirs::new();
    let tmux = console("dev", &dirs, &moto, stub.endpoint(), &["--env", "DEV"]);
    scan(&tmux);
    tmux.keys(&["x"]);
    let dialog = tmux.wait_for("the reaping confirmation", |s| {
        s.contains("Confirm: stop-instances") && s.contains(&format!("Type {id}"))
    });
    assert!(
        dialog.contains("$15.18/mo") && dialog.contains("DEV"),
        "{dialog}"
    );
    tmux.type_text(&id);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the stop to finish", |s| s.contains("stopped 1 instance"));
    assert_eq!(state_of(&rt, &moto, &id), "stopped");
    let audit = support::read_audit(&dirs.audit_log());
    let decisions: Vec<String> = audit
        .iter()
        .filter(|e| e["operation"] == "stop-instances")
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        decisions,
        ["requested", "confirmed", "started", "succeeded"]
    );
    tmux.keys(&["q"]);
    tmux.wait_for("opsdeck to exit", |s| s.contains("OPSDECK_EXIT=0"));
    drop(stub);
}
