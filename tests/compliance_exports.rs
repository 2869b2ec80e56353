//! `opsdeck check` as CI runs it: the real binary on a failing fixture, on the library and on
//! a stack deployed in moto; its OSCAL validated with compliance-trestle's `AssessmentResults`
//! model and its SARIF against the SARIF 2.1.0 schema (python `jsonschema`).
//!
//! Python comes from `$OPSDECK_PYTHON` (set by scripts/test.sh) or the repo's `.venv`; these
//! tests fail, not skip, without it: run scripts/test.sh once.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::python::{SARIF_SCHEMA, VALIDATE_SARIF, run_python};
use support::{MotoServer, TestDirs, hermetic_aws_env};

const FIXTURE: &str = "tests/fixtures/check/open-bucket.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run `opsdeck ARGS` in the repo root with private XDG dirs and no AWS set-up.
fn opsdeck(dirs: &TestDirs, args: &[&str]) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .current_dir(root())
        .args(args)
        .env("OPSDECK_LOG", "warn");
    command.output().expect("run opsdeck")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn explain(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

const VALIDATE_OSCAL: &str = r#"
import pathlib, sys
from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults
doc = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
assert doc is not None, "not read"
result = doc.results[0]
print(f"trestle OK (OSCAL {OSCAL_VERSION}): {len(result.findings or [])} findings, "
      f"{len(result.observations or [])} observations, "
      f"{len(result.reviewed_controls.control_selections[0].include_controls or [])} controls")
"#;

fn validate_oscal(file: &Path) -> String {
    run_python(VALIDATE_OSCAL, &[file])
}

fn validate_sarif(file: &Path) {
    run_python(VALIDATE_SARIF, &[&root().join(SARIF_SCHEMA), file]);
}

fn read_json(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).expect("report written"))
        .expect("valid JSON")
}

#[test]
fn a_failing_template_exits_1_and_text_names_file_and_line() {
    let dirs = TestDirs::new();
    let out = opsdeck(&dirs, &["check", FIXTURE]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Controls: "), "{stdout}");
    // OpenBucket's Properties (line 6) is where the missing BucketEncryption belongs.
    assert!(
        stdout.contains(&format!("{FIXTURE}:6  OpenBucket (AWS::S3::Bucket)  Properties.BucketEncryption: bucket OpenBucket has no default encryption")),
        "{stdout}"
    );
    assert!(stdout.contains("fix: Set BucketEncryption"), "{stdout}");
    assert!(stdout.contains("\nFAIL: "), "{stdout}");
}

#[test]
fn oscal_and_sarif_of_a_failing_template_validate() {
    let dirs = TestDirs::new();
    let oscal = dirs.root().join("fixture.oscal.json");
    let sarif = dirs.root().join("fixture.sarif");
    // A waiver for one finding, so suppressions and waived states are exported too.
    let config = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(&config).expect("config dir");
    // Thirty days ahead: within the waiver horizon (`[compliance] waiver_max_days`, 365).
    let date = Command::new("date")
        .args(["-u", "-d", "+30 days", "+%Y-%m-%d"])
        .output()
        .expect("date");
    let expires = text(&date.stdout).trim().to_string();
    std::fs::write(
        config.join("waivers.toml"),
        format!("[[waiver]]\nrule = \"TAG-001\"\nresource = \"LogsBucket\"\nreason = \"logs of logs\"\nticket = \"OPS-9\"\nexpires = \"{expires}\"\n"),
    )
    .expect("waivers");
    for (format, file) in [("oscal", &oscal), ("sarif", &sarif)] {
        let out = opsdeck(
            &dirs,
            &[
                "check",
                FIXTURE,
                "--format",
                format,
                "--output",
                file.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{format}: {}", explain(&out));
        assert!(out.stdout.is_empty(), "the report went to the file");
        assert!(text(&out.stderr).contains("wrote "), "{}", explain(&out));
    }
    let summary = validate_oscal(&oscal);
    assert!(summary.contains("trestle OK"), "{summary}");
    validate_sarif(&sarif);

    let ar = read_json(&oscal);
    let result = &ar["assessment-results"]["results"][0];
    let findings = result["findings"].as_array().expect("findings");
    let sc28 = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "sc-28_obj")
        .expect("sc-28 judged");
    assert_eq!(sc28["target"]["status"]["state"], "not-satisfied");
    let evidence: Vec<&str> = result["observations"]
        .as_array()
        .expect("observations")
        .iter()
        .filter_map(|o| o["relevant-evidence"][0]["description"].as_str())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with(&format!("{FIXTURE}:6 "))),
        "{evidence:?}"
    );

    let sarif = read_json(&sarif);
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let encryption = results
        .iter()
        .find(|r| r["ruleId"] == "S3-001")
        .expect("S3-001 result");
    let location = &encryption["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], FIXTURE);
    assert_eq!(location["region"]["startLine"], 6);
    assert_eq!(
        encryption["locations"][0]["logicalLocations"][0]["name"],
        "OpenBucket"
    );
    let waived: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["suppressions"][0]["state"] == "accepted")
        .collect();
    assert!(!waived.is_empty(), "the LogsBucket tag findings are waived");
    assert!(waived.iter().all(|r| r["ruleId"] == "TAG-001"));
}

#[test]
fn the_library_passes_and_its_exports_validate() {
    let dirs = TestDirs::new();
    let out = opsdeck(&dirs, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\nPASS"), "{stdout}");
    assert!(stdout.contains("over 8 sources"), "{stdout}");
    let oscal = dirs.root().join("library.oscal.json");
    let sarif = dirs.root().join("library.sarif");
    for (format, file) in [("oscal", &oscal), ("sarif", &sarif)] {
        let out = opsdeck(
            &dirs,
            &[
                "check",
                "--format",
                format,
                "-o",
                file.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {}", explain(&out));
    }
    validate_oscal(&oscal);
    validate_sarif(&sarif);
    let ar = read_json(&oscal);
    let findings = ar["assessment-results"]["results"][0]["findings"]
        .as_array()
        .expect("judged controls");
    assert!(
        findings
            .iter()
            .all(|f| f["target"]["status"]["state"] == "satisfied"),
        "{findings:?}"
    );
}

#[test]
fn json_and_csv_carry_every_finding() {
    let dirs = TestDirs::new();
    let out = opsdeck(&dirs, &["check", FIXTURE, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.iter().any(|f| f["rule"] == "S3-001"
        && f["resource"] == "OpenBucket"
        && f["line"] == 6
        && f["source"] == FIXTURE));
    let out = opsdeck(&dirs, &["check", FIXTURE, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let csv = text(&out.stdout);
    assert_eq!(csv.matches("\r\n").count(), findings.len() + 1, "{csv}");
    assert!(csv.starts_with("source,line,resource,"), "{csv}");
}

#[test]
fn a_broken_template_and_a_broken_policy_exit_2_but_the_rest_is_still_judged() {
    let dirs = TestDirs::new();
    let broken = dirs.root().join("broken.yaml");
    std::fs::write(&broken, "Resources:\n  A:\n    Type: [unclosed\n").expect("write");
    let policies = dirs.config_home().join("opsdeck/policies");
    std::fs::create_dir_all(&policies).expect("policies dir");
    std::fs::write(
        policies.join("mine.rego"),
        "package opsdeck.rules.mine\n\nfindings contains x if {\n",
    )
    .expect("write");
    let out = opsdeck(&dirs, &["check", FIXTURE, broken.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:", broken.display())),
        "the template error names the file: {stderr}"
    );
    let broken_line = stderr
        .lines()
        .find(|l| l.contains("broken.yaml:"))
        .unwrap_or_default();
    assert!(
        broken_line
            .split("broken.yaml:")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|n| n.parse::<usize>().is_ok()),
        "file:line: {stderr}"
    );
    assert!(stderr.contains("mine.rego:"), "the policy error: {stderr}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("S3-001"),
        "the fixture is still judged: {stdout}"
    );
    assert!(stdout.contains("\nERROR"), "{stdout}");
    // Unknown paths are errors too.
    let out = opsdeck(&dirs, &["check", "no-such-template"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
}

#[test]
fn a_deployed_stack_is_judged_from_its_template_in_read_only_mode() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let rt = support::runtime();
    let cfn = moto.cfn();
    let body = std::fs::read_to_string(root().join(FIXTURE)).expect("fixture");
    rt.block_on(async {
        cfn.create_stack()
            .stack_name("open-web")
            .template_body(body)
            .send()
            .await
            .expect("CreateStack");
    });
    let status = rt.block_on(support::stack_status(&cfn, "open-web"));
    assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"));
    let out = opsdeck(
        &dirs,
        &[
            "check",
            "--stack",
            "open-web",
            "--format",
            "json",
            "--read-only",
            "--endpoint-url",
            &moto.endpoint(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["sources"], serde_json::json!(["stack:open-web"]));
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "S3-001")
        .cloned()
        .expect("the unencrypted bucket");
    assert_eq!(finding["source"], "stack:open-web");
    assert_eq!(finding["resource"], "OpenBucket");
    assert_eq!(
        finding["line"], 6,
        "lines of the template GetTemplate returned"
    );
    // A stack that is not there is an error, and the others are still judged.
    let out = opsdeck(
        &dirs,
        &[
            "check",
            "--stack",
            "open-web",
            "--stack",
            "gone",
            "--endpoint-url",
            &moto.endpoint(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        text(&out.stderr).contains("stack:gone: no stack named gone"),
        "{}",
        explain(&out)
    );
    assert!(text(&out.stdout).contains("S3-001"), "{}", explain(&out));
}
