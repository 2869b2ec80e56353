//! `opsdeck cost`, `opsdeck spend`, `opsdeck idle` and `deploy --plan --json`'s cost as a
//! script runs them: the real binary, moto for AWS, the CBOR stub for CloudWatch (through
//! `AWS_ENDPOINT_URL_CLOUDWATCH`, as an operator would point it at another endpoint).

mod support;

use std::process::{Command, Output};
use support::cbor_stub::{CborStub, StubMetric};
use support::{MotoServer, TestDirs, hermetic_aws_env};

const HOURS: f64 = 730.0;

/// A key (1.00 a month) and an Elastic IP (0.005 × 730): moto creates both.
const PRICED: &str = include_str!("fixtures/cost/priced.yaml");

/// The same without the Elastic IP.
const SMALLER: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {AWS: '*'}
            Action: 'kms:*'
            Resource: '*'
"#;

fn run(dirs: &TestDirs, args: &[&str], endpoint: Option<&str>, cloudwatch: Option<&str>) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command.args(args).env("OPSDECK_LOG", "warn");
    if let Some(e) = endpoint {
        command.args(["--endpoint-url", e, "--env", "DEV"]);
    }
    if let Some(cw) = cloudwatch {
        // `--endpoint-url` is for every service; this sends CloudWatch to the CBOR stub.
        command.env("AWS_ENDPOINT_URL_CLOUDWATCH", cw);
    }
    command.output().expect("run opsdeck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn close(v: &serde_json::Value, expected: f64) {
    let actual = v.as_f64().unwrap_or_else(|| panic!("a number: {v}"));
    assert!(
        (actual - expected).abs() < 1e-3,
        "expected {expected}, got {actual}"
    );
}

fn write(dirs: &TestDirs, name: &str, body: &str) -> String {
    let path = dirs.root().join(name);
    std::fs::write(&path, body).expect("written");
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn cost_reports_templates_with_exit_codes_for_thresholds_and_errors() {
    let dirs = TestDirs::new();
    let priced = write(&dirs, "priced.yaml", PRICED);
    let out = run(&dirs, &["cost", &priced, "--format", "json"], None, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["currency"], "USD");
    assert_eq!(report["hours_per_month"], 730.0);
    close(&report["total_monthly"], 1.0 + 0.005 * HOURS);
    assert_eq!(report["sources"][0]["source"], priced.as_str());

    // Thresholds: exit 1 when crossed, with the reason on stderr.
    let over = run(&dirs, &["cost", &priced, "--max-total", "4"], None, None);
    assert_eq!(over.status.code(), Some(1), "{}", text(&over.stderr));
    assert!(
        text(&over.stderr).contains("--max-total $4.00"),
        "{}",
        text(&over.stderr)
    );
    assert_eq!(
        run(&dirs, &["cost", &priced, "--max-total", "5"], None, None)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(
            &dirs,
            &["cost", &priced, "--max-increase", "4.64"],
            None,
            None
        )
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        run(
            &dirs,
            &["cost", &priced, "--max-increase", "4.65"],
            None,
            None
        )
        .status
        .code(),
        Some(0)
    );
    // With no stack to compare with, any increase is over a percentage.
    assert_eq!(
        run(
            &dirs,
            &["cost", &priced, "--max-increase", "10%"],
            None,
            None
        )
        .status
        .code(),
        Some(1)
    );

    // CSV and text.
    let csv = run(&dirs, &["cost", &priced, "--format", "csv"], None, None);
    assert!(
        text(&csv.stdout).starts_with("source,logical_id,type,"),
        "{}",
        text(&csv.stdout)
    );
    let plain = run(&dirs, &["cost"], None, None);
    let plain = text(&plain.stdout);
    assert!(
        plain.contains("prices as of") && plain.contains("templates/rds-postgres.yaml"),
        "{plain}"
    );
    assert!(
        plain.contains("depend on usage"),
        "the library's buckets: {plain}"
    );

    // Errors: exit 2 naming the file and line; a bad usage file names its line.
    let broken = write(&dirs, "broken.yaml", "Resources:\n  A: [\n");
    let out = run(&dirs, &["cost", &broken], None, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken.yaml:"),
        "{}",
        text(&out.stderr)
    );
    let usage = write(
        &dirs,
        "usage.yml",
        "resource_usage:\n  Ip:\n    gigabytes: 3\n",
    );
    let out = run(&dirs, &["cost", &priced, "--usage", &usage], None, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("usage.yml:3"),
        "{}",
        text(&out.stderr)
    );
    let missing = dirs.root().join("nope.yml");
    let out = run(
        &dirs,
        &["cost", &priced, "--usage", missing.to_str().expect("utf-8")],
        None,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no such file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn deployed_stacks_and_change_sets_carry_their_cost() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let endpoint = moto.endpoint();
    let priced = write(&dirs, "priced.yaml", PRICED);
    let smaller = write(&dirs, "smaller.yaml", SMALLER);

    // A new stack's plan: 0 → 4.65 a month, itemised.
    let plan = run(
        &dirs,
        &["deploy", &priced, "--stack", "web", "--plan", "--json"],
        Some(&endpoint),
        None,
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let plan = json(&plan);
    let cost = &plan["cost"];
    close(&cost["before_monthly"], 0.0);
    close(&cost["after_monthly"], 1.0 + 0.005 * HOURS);
    close(&cost["delta_monthly"], 1.0 + 0.005 * HOURS);
    let rows = cost["resources"].as_array().expect("rows");
    assert!(
        rows.iter()
            .any(|r| r["logical_id"] == "Ip" && r["action"] == "Add"),
        "{cost:#}"
    );

    let deployed = run(
        &dirs,
        &["deploy", &priced, "--stack", "web", "--confirm", "web"],
        Some(&endpoint),
        None,
    );
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    assert!(
        text(&deployed.stderr).contains("cost: $0.00 → $4.65 a month (+$4.65)"),
        "{}",
        text(&deployed.stderr)
    );

    // The deployed stack's estimate, from its template and parameter values.
    let out = run(
        &dirs,
        &["cost", "--stack", "web", "--format", "json"],
        Some(&endpoint),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["sources"][0]["source"], "stack:web");
    close(&report["total_monthly"], 1.0 + 0.005 * HOURS);

    // An update that removes the Elastic IP: the Remove row subtracts.
    let plan = run(
        &dirs,
        &["deploy", &smaller, "--stack", "web", "--plan", "--json"],
        Some(&endpoint),
        None,
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let cost = json(&plan)["cost"].clone();
    close(&cost["before_monthly"], 1.0 + 0.005 * HOURS);
    close(&cost["after_monthly"], 1.0);
    close(&cost["delta_monthly"], -0.005 * HOURS);
    let ip = cost["resources"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["logical_id"] == "Ip")
        .cloned()
        .unwrap_or_else(|| panic!("{cost:#}"));
    assert_eq!(ip["action"], "Remove");
    close(&ip["delta_monthly"], -0.005 * HOURS);

    // Templates against the stack: --max-increase compares them.
    let out = run(
        &dirs,
        &["cost", &smaller, "--stack", "web", "--max-increase", "0"],
        Some(&endpoint),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a decrease: {}",
        text(&out.stderr)
    );
    let out = run(
        &dirs,
        &["cost", &priced, "--stack", "web", "--max-increase", "0%"],
        Some(&endpoint),
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "no change: {}",
        text(&out.stderr)
    );
    let out = run(&dirs, &["cost", "--stack", "nope"], Some(&endpoint), None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no stack named nope"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn spend_and_idle_from_the_command_line() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let endpoint = moto.endpoint();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let stub = rt.block_on(CborStub::start());
    stub.add(
        StubMetric::new("AWS/Billing", "EstimatedCharges", &[("Currency", "USD")]).today(12.5),
    );
    let cw = stub.endpoint().to_string();
    // Nothing seeded in Cost Explorer: moto answers empty results.
    let out = run(
        &dirs,
        &["spend", "--format", "json"],
        Some(&endpoint),
        Some(&cw),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = json(&out);
    for field in [
        "currency",
        "account",
        "source",
        "month_to_date",
        "forecast_month_end",
        "months",
        "unavailable",
        "calls_today",
        "call_budget",
        "age_seconds",
    ] {
        assert!(report.get(field).is_some(), "{field}: {report:#}");
    }
    assert_eq!(report["source"], "cost-explorer");
    assert_eq!(report["account"], "123456789012");
    assert!(
        report["unavailable"]["forecast"]
            .as_str()
            .is_some_and(|w| w.contains("500")),
        "{report:#}"
    );
    let calls = report["calls_today"].as_u64().expect("calls");
    assert!(calls >= 4, "{report:#}");
    // Fresh in the cache: no new paid request.
    let again = json(&run(
        &dirs,
        &["spend", "--format", "json"],
        Some(&endpoint),
        Some(&cw),
    ));
    assert_eq!(again["calls_today"].as_u64(), Some(calls));
    // --free reads the billing metric from the CBOR stub.
    let free = json(&run(
        &dirs,
        &["spend", "--free", "--format", "json"],
        Some(&endpoint),
        Some(&cw),
    ));
    assert_eq!(free["source"], "cloudwatch");
    assert_eq!(free["month_to_date"], 12.5);
    assert_eq!(
        free["calls_today"].as_u64(),
        Some(calls),
        "the metric is free"
    );

    // Idle: an unassociated Elastic IP, priced.
    rt.block_on(async {
        let config = opsdeck::aws::sdk_config(&support::rig::settings(&endpoint)).await;
        aws_sdk_ec2::Client::new(&config)
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("AllocateAddress");
    });
    let out = run(
        &dirs,
        &["idle", "--format", "json"],
        Some(&endpoint),
        Some(&cw),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let idle = json(&out);
    let finding = &idle["findings"][0];
    assert_eq!(finding["kind"], "elastic-ip", "{idle:#}");
    assert_eq!(finding["reap"], "release");
    close(&finding["monthly"], 0.005 * HOURS);
    assert!(idle["prices_as_of"]["services"].is_string());
    drop(stub);
}
