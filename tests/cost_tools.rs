//! The cost actions as the assistant's tools and `opsdeck run` commands: `show-spend` (the
//! spend read, within the daily Cost Explorer call budget and answered from a fresh cache
//! without a request), `list-idle` (the idle scan, priced), `estimate-cost` (a library
//! template, a file or a deployed stack, as `opsdeck cost --format json` gives it) and
//! `reap-idle` (exactly the findings asked for, through the gate: DEV only, refused in
//! read-only mode). The real binary against moto and the CBOR stub for CloudWatch.

mod support;

use std::process::{Command, Output};
use support::cbor_stub::{CborStub, StubMetric};
use support::{MotoServer, TestDirs, hermetic_aws_env};

const HOURS: f64 = 730.0;

/// A key (1.00 a month) and an Elastic IP (0.005 × 730).
const PRICED: &str = include_str!("fixtures/cost/priced.yaml");

/// The binary with `flags` after `args` (the environment, read-only mode, the endpoints).
fn opsdeck(dirs: &TestDirs, args: &[&str], flags: &[&str], cloudwatch: Option<&str>) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command.args(args).args(flags).env("OPSDECK_LOG", "warn");
    if let Some(cw) = cloudwatch {
        command.env("AWS_ENDPOINT_URL_CLOUDWATCH", cw);
    }
    command.output().expect("run opsdeck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

#[track_caller]
fn close(v: &serde_json::Value, expected: f64) {
    let actual = v.as_f64().unwrap_or_else(|| panic!("a number: {v}"));
    assert!(
        (actual - expected).abs() < 1e-3,
        "expected {expected}, got {actual}"
    );
}

/// Cost Explorer requests counted today in the data dir's call counter.
fn calls_counted(dirs: &TestDirs) -> u64 {
    let path = dirs.data_dir().join("cost/ce-calls.json");
    let counter: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
            .unwrap_or_default();
    counter["calls"].as_u64().unwrap_or(0)
}

/// The stub must keep answering while the binary runs: a runtime with a worker thread.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn write_config(dirs: &TestDirs, body: &str) {
    let dir = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), body).expect("config written");
}

#[test]
fn show_spend_list_idle_and_estimate_cost_run_as_tools() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let dev: &[&str] = &["--endpoint-url", &endpoint, "--env", "DEV"];
    let rt = runtime();
    let stub = rt.block_on(CborStub::start());
    stub.add(
        StubMetric::new("AWS/Billing", "EstimatedCharges", &[("Currency", "USD")]).today(12.5),
    );
    let cw = stub.endpoint().to_string();
    let dirs = TestDirs::new();

    // show-spend: the spend read, Cost Explorer within the budget.
    let first = json(&opsdeck(
        &dirs,
        &["run", "show-spend", "--json"],
        dev,
        Some(&cw),
    ));
    assert_eq!(first["action"], "show-spend");
    assert_eq!(first["operation"], "show-spend");
    assert_eq!(first["mutating"], false);
    let spend = &first["output"]["cost"]["spend"];
    assert_eq!(spend["source"], "cost-explorer", "{first:#}");
    let paid = calls_counted(&dirs);
    assert!(paid >= 4, "every request is counted: {paid}");
    assert_eq!(spend["calls"].as_u64(), Some(paid));

    // A fresh cached report answers without a request, for the tool and `opsdeck spend` alike.
    let again = json(&opsdeck(
        &dirs,
        &["run", "show-spend", "--json"],
        dev,
        Some(&cw),
    ));
    assert_eq!(
        again["output"]["cost"]["spend"]["fetched_ms"], spend["fetched_ms"],
        "the cached report"
    );
    assert_eq!(calls_counted(&dirs), paid, "no new paid request");
    let cli = json(&opsdeck(
        &dirs,
        &["spend", "--format", "json"],
        dev,
        Some(&cw),
    ));
    assert_eq!(cli["fetched_at_ms"], spend["fetched_ms"], "one cache");
    assert_eq!(cli["calls_today"].as_u64(), Some(paid), "one budget");

    // free=true: the billing metric, free of charge.
    let free = json(&opsdeck(
        &dirs,
        &["run", "show-spend", "--arg", "free=true", "--json"],
        dev,
        Some(&cw),
    ));
    let free = &free["output"]["cost"]["spend"];
    assert_eq!(free["source"], "cloudwatch", "{free:#}");
    assert_eq!(free["month_to_date"]["ok"], 12.5);
    assert_eq!(calls_counted(&dirs), paid);

    // The budget holds for the tool: spent, it sends no request and falls back.
    let spent = TestDirs::new();
    write_config(&spent, "[cost]\ndaily_call_budget = 0\n");
    let out = json(&opsdeck(
        &spent,
        &["run", "show-spend", "--json"],
        dev,
        Some(&cw),
    ));
    let report = &out["output"]["cost"]["spend"];
    assert_eq!(report["source"], "cloudwatch", "{out:#}");
    assert!(
        report["fallback_reason"]
            .as_str()
            .is_some_and(|w| w.contains("call budget is spent")),
        "{out:#}"
    );
    assert_eq!(calls_counted(&spent), 0);

    // list-idle: the idle scan, each finding priced.
    rt.block_on(async {
        let config = opsdeck::aws::sdk_config(&support::rig::settings(&endpoint)).await;
        aws_sdk_ec2::Client::new(&config)
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("AllocateAddress");
    });
    let idle = json(&opsdeck(
        &dirs,
        &["run", "list-idle", "--json"],
        dev,
        Some(&cw),
    ));
    assert_eq!(idle["operation"], "list-idle");
    let report = &idle["output"]["cost"]["idle"];
    let ip = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "elastic-ip")
        .unwrap_or_else(|| panic!("{idle:#}"));
    close(&ip["monthly"], 0.005 * HOURS);
    assert!(report["prices_as_of"]["services"].is_string(), "{report:#}");

    // estimate-cost: a library template, exactly as `opsdeck cost --format json` gives it.
    let tool = json(&opsdeck(
        &dirs,
        &[
            "run",
            "estimate-cost",
            "--arg",
            "template=rds-postgres",
            "--json",
        ],
        &[],
        None,
    ));
    assert_eq!(tool["action"], "estimate-cost");
    assert_eq!(tool["mutating"], false);
    let cost = json(&opsdeck(
        &dirs,
        &["cost", "rds-postgres", "--format", "json"],
        &[],
        None,
    ));
    assert_eq!(tool["output"], cost, "the same report");
    assert_eq!(
        tool["output"]["sources"][0]["source"],
        "templates/rds-postgres.yaml"
    );
    assert!(tool["output"]["total_monthly"].as_f64().unwrap_or(0.0) > 0.0);

    // A template file.
    let file = dirs.root().join("priced.yaml");
    std::fs::write(&file, PRICED).expect("written");
    let file = file.to_str().expect("utf-8");
    let out = json(&opsdeck(
        &dirs,
        &[
            "run",
            "estimate-cost",
            "--arg",
            &format!("template={file}"),
            "--json",
        ],
        &[],
        None,
    ));
    assert_eq!(out["output"]["sources"][0]["source"], file);
    close(&out["output"]["total_monthly"], 1.0 + 0.005 * HOURS);

    // A deployed stack: its template and parameter values.
    let deployed = opsdeck(
        &dirs,
        &["deploy", file, "--stack", "web", "--confirm", "web"],
        dev,
        None,
    );
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let out = json(&opsdeck(
        &dirs,
        &["run", "estimate-cost", "--arg", "stack=web", "--json"],
        dev,
        None,
    ));
    let cost = json(&opsdeck(
        &dirs,
        &["cost", "--stack", "web", "--format", "json"],
        dev,
        None,
    ));
    assert_eq!(out["output"], cost, "the same report");
    assert_eq!(out["output"]["sources"][0]["source"], "stack:web");
    close(&out["output"]["total_monthly"], 1.0 + 0.005 * HOURS);

    // Asked wrongly: a sentence, exit 2; an unknown stack names it.
    let neither = opsdeck(&dirs, &["run", "estimate-cost"], &[], None);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        text(&neither.stderr).contains("template") && text(&neither.stderr).contains("stack"),
        "{}",
        text(&neither.stderr)
    );
    let both = opsdeck(
        &dirs,
        &[
            "run",
            "estimate-cost",
            "--arg",
            "template=kms-key",
            "--arg",
            "stack=web",
        ],
        &[],
        None,
    );
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    let nope = opsdeck(
        &dirs,
        &["run", "estimate-cost", "--arg", "stack=nope"],
        dev,
        None,
    );
    assert_eq!(nope.status.code(), Some(2), "{}", text(&nope.stderr));
    assert!(
        text(&nope.stderr).contains("no stack named nope"),
        "{}",
        text(&nope.stderr)
    );

    // No prices loaded (the usage file does not load): said, nothing estimated.
    let broken = TestDirs::new();
    let usage = broken.root().join("usage.yml");
    std::fs::write(&usage, "resource_usage: [\n").expect("written");
    write_config(
        &broken,
        &format!(
            "[cost]\nusage_file = {:?}\n",
            usage.to_str().expect("utf-8")
        ),
    );
    let out = opsdeck(
        &broken,
        &["run", "estimate-cost", "--arg", "template=kms-key"],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("price catalogue is not loaded"),
        "{}",
        text(&out.stderr)
    );
    drop(stub);
}

#[test]
fn reap_idle_plans_exactly_the_findings_and_runs_only_in_dev() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let rt = runtime();
    let stub = rt.block_on(CborStub::start());
    let (instance, address) = rt.block_on(async {
        let config = opsdeck::aws::sdk_config(&support::rig::settings(&endpoint)).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let instance = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .expect("RunInstances")
            .instances()[0]
            .instance_id()
            .expect("id")
            .to_string();
        let address = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("AllocateAddress")
            .allocation_id()
            .expect("id")
            .to_string();
        (instance, address)
    });
    stub.add(
        StubMetric::new("AWS/EC2", "CPUUtilization", &[("InstanceId", &instance)]).daily(14, 1.0),
    );
    stub.add(StubMetric::new("AWS/EC2", "NetworkIn", &[("InstanceId", &instance)]).daily(14, 10.0));
    stub.add(
        StubMetric::new("AWS/EC2", "NetworkOut", &[("InstanceId", &instance)]).daily(14, 10.0),
    );
    let cw = stub.endpoint().to_string();
    let dirs = TestDirs::new();
    let dev: &[&str] = &["--endpoint-url", &endpoint, "--env", "DEV"];
    let prd: &[&str] = &["--endpoint-url", &endpoint, "--env", "PRD"];
    let viewer: &[&str] = &["--endpoint-url", &endpoint, "--env", "DEV", "--read-only"];
    let state = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let config = opsdeck::aws::sdk_config(&support::rig::settings(&endpoint)).await;
            let out = aws_sdk_ec2::Client::new(&config)
                .describe_instances()
                .instance_ids(&instance)
                .send()
                .await
                .expect("DescribeInstances");
            out.reservations()[0].instances()[0]
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default()
        })
    };

    // Findings of two kinds and nothing named: refused, saying what to ask for.
    let out = opsdeck(&dirs, &["run", "reap-idle", "--plan"], dev, Some(&cw));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let why = text(&out.stderr);
    for expected in [
        "kind=instance",
        "kind=elastic-ip",
        instance.as_str(),
        address.as_str(),
    ] {
        assert!(why.contains(expected), "{expected} in {why}");
    }

    // kind=instance: exactly the idle instance, with the typed id to confirm it.
    let plan = json(&opsdeck(
        &dirs,
        &[
            "run",
            "reap-idle",
            "--arg",
            "kind=instance",
            "--plan",
            "--json",
        ],
        dev,
        Some(&cw),
    ));
    assert_eq!(plan["action"], "reap-idle");
    assert_eq!(plan["operation"], "stop-instances");
    assert_eq!(plan["mutating"], true);
    assert_eq!(plan["environment"], "DEV");
    assert_eq!(plan["result"], "planned");
    assert_eq!(plan["confirmation"], format!("type {instance}"));
    let ids: Vec<&str> = plan["target"]["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(ids, vec![instance.as_str()], "{plan:#}");
    close(
        &plan["target"]["instances"][0]["monthly_saving"],
        0.0208 * HOURS,
    );

    // ids: exactly those; an id that is not a finding is refused.
    let plan = json(&opsdeck(
        &dirs,
        &[
            "run",
            "reap-idle",
            "--arg",
            &format!("ids={address}"),
            "--plan",
            "--json",
        ],
        dev,
        Some(&cw),
    ));
    assert_eq!(plan["operation"], "release-addresses");
    assert_eq!(plan["target"]["addresses"][0]["id"], address.as_str());
    assert_eq!(
        plan["target"]["addresses"].as_array().map(Vec::len),
        Some(1)
    );
    let out = opsdeck(
        &dirs,
        &["run", "reap-idle", "--arg", "ids=i-0nope", "--plan"],
        dev,
        Some(&cw),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("i-0nope is not among the idle findings"),
        "{}",
        text(&out.stderr)
    );
    // A misspelt argument is refused, not ignored: `id` left out would mean every finding.
    let out = opsdeck(
        &dirs,
        &["run", "reap-idle", "--arg", "id=i-0nope", "--plan"],
        dev,
        Some(&cw),
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("takes no argument id"),
        "{}",
        text(&out.stderr)
    );

    // PRD and read-only: refused at the gate, the instance keeps running.
    let confirm = [
        "run",
        "reap-idle",
        "--arg",
        "kind=instance",
        "--confirm",
        instance.as_str(),
    ];
    let out = opsdeck(&dirs, &confirm, prd, Some(&cw));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("DEV only"),
        "{}",
        text(&out.stderr)
    );
    let out = opsdeck(&dirs, &confirm, viewer, Some(&cw));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("read-only"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(state(&rt), "running");

    // DEV with the typed id: moto shows it stopped.
    let out = opsdeck(&dirs, &confirm, dev, Some(&cw));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(state(&rt), "stopped");
    let audit = support::read_audit(&dirs.audit_log());
    let decisions: Vec<String> = audit
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["operation"].as_str().unwrap_or(""),
                e["decision"].as_str().unwrap_or(""),
                e["environment"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "stop-instances refused PRD",
        "stop-instances refused-read-only DEV",
        "stop-instances succeeded DEV",
    ] {
        assert!(
            decisions.iter().any(|d| d == expected),
            "{expected}: {decisions:?}"
        );
    }
    drop(stub);
}
