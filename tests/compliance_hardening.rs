//! Issue 8, the compliance items, as the real binary shows them: `opsdeck check` (and
//! `opsdeck deploy` where it matters) on hostile templates, policies and waivers. Each test
//! is a reproduction from the issue that passed (wrongly) before the fix.
//!
//! Python (for the OSCAL and SARIF validators) comes from `$OPSDECK_PYTHON` or the repo's
//! `.venv`, as in tests/compliance_exports.rs.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::python::{SARIF_SCHEMA, VALIDATE_SARIF, run_python};
use support::{MotoServer, TestDirs, hermetic_aws_env};

const OPEN_BUCKET: &str = "tests/fixtures/check/open-bucket.yaml";
const NOPE: &str = "tests/fixtures/hardening/properties-nope.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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

/// Put fixture policies in the user's policy directory.
fn user_policies(dirs: &TestDirs, names: &[&str]) {
    let dir = dirs.config_home().join("opsdeck/policies");
    std::fs::create_dir_all(&dir).expect("policies dir");
    for name in names {
        std::fs::copy(
            root().join("tests/fixtures/hardening/policies").join(name),
            dir.join(name),
        )
        .expect("copy policy");
    }
}

fn write_config_file(dirs: &TestDirs, name: &str, text: &str) -> PathBuf {
    let dir = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(&dir).expect("config dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Today plus `days` (UTC), `YYYY-MM-DD`, by the system's `date`.
fn days_ahead(days: u32) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("+{days} days"), "+%Y-%m-%d"])
        .output()
        .expect("date");
    text(&out.stdout).trim().to_string()
}

const VALIDATE_OSCAL: &str = r#"
import pathlib, sys
from trestle.oscal.assessment_results import AssessmentResults
doc = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
assert doc is not None, "not read"
print("trestle OK")
"#;

fn read_json(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).expect("report written"))
        .expect("valid JSON")
}

/// Item 1: a user policy in a bundled rule's package is refused with file:line, and the
/// bundled rule still fails the unencrypted bucket.
#[test]
fn a_policy_in_a_bundled_rules_package_is_refused_and_the_bundled_rule_still_judges() {
    let dirs = TestDirs::new();
    user_policies(&dirs, &["takes-s3-encryption.rego"]);
    let out = opsdeck(&dirs, &["check", OPEN_BUCKET]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("takes-s3-encryption.rego:1: package opsdeck.rules.s3_encryption is already the package of rule S3-001 (policies/s3_encryption.rego)"),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  SC-28 Protection of Information at Rest [FAILED]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OpenBucket (AWS::S3::Bucket)  Properties.BucketEncryption"),
        "{stdout}"
    );
}

/// Item 1: a rule that fails to evaluate makes its controls "error" (never "passed") in
/// every format, `check` exits 2, and OSCAL and SARIF stay valid.
#[test]
fn a_rule_that_fails_to_evaluate_is_an_error_in_every_format() {
    let dirs = TestDirs::new();
    let out = opsdeck(&dirs, &["check", NOPE]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("error (not judged)"), "{stdout}");
    assert!(stdout.contains("[ERROR]"), "{stdout}");
    assert!(
        stdout.contains("S3-002 could not judge:\n      ERROR policies/s3_public_access.rego:"),
        "{stdout}"
    );
    assert!(stdout.contains("\nERROR"), "{stdout}");

    let out = opsdeck(&dirs, &["check", NOPE, "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["passed"], false);
    let errored: Vec<&serde_json::Value> = report["controls"]
        .as_array()
        .expect("controls")
        .iter()
        .filter(|c| c["state"] == "error")
        .collect();
    assert!(!errored.is_empty(), "{report:#}");
    assert_eq!(
        report["summary"]["error"].as_u64(),
        Some(errored.len() as u64)
    );
    let failed_rules: Vec<&str> = report["rule_errors"]
        .as_array()
        .expect("rule_errors")
        .iter()
        .filter_map(|e| e["rule"].as_str())
        .collect();
    assert!(failed_rules.contains(&"S3-002"), "{failed_rules:?}");
    for c in &errored {
        assert!(
            c["rules"]
                .as_array()
                .expect("rules")
                .iter()
                .any(|r| failed_rules.contains(&r.as_str().unwrap_or_default())),
            "{c}"
        );
    }

    let out = opsdeck(&dirs, &["check", NOPE, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        text(&out.stdout)
            .lines()
            .any(|l| l.contains(",S3-002,") && l.contains(",error,")),
        "{}",
        explain(&out)
    );

    let oscal = dirs.root().join("nope.oscal.json");
    let sarif = dirs.root().join("nope.sarif");
    for (format, file) in [("oscal", &oscal), ("sarif", &sarif)] {
        let out = opsdeck(
            &dirs,
            &[
                "check",
                NOPE,
                "--format",
                format,
                "-o",
                file.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{format}: {}", explain(&out));
    }
    run_python(VALIDATE_OSCAL, &[&oscal]);
    run_python(VALIDATE_SARIF, &[&root().join(SARIF_SCHEMA), &sarif]);
    let ar = read_json(&oscal);
    let findings = ar["assessment-results"]["results"][0]["findings"]
        .as_array()
        .expect("findings");
    let errored = findings
        .iter()
        .find(|f| f["props"][0]["value"] == "error")
        .expect("a control in state error");
    assert_eq!(errored["target"]["status"]["state"], "not-satisfied");
    assert!(
        errored["target"]["status"]["remarks"]
            .as_str()
            .is_some_and(|r| r.contains("could not judge")),
        "{errored:#}"
    );
    let sarif = read_json(&sarif);
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        invocation["toolExecutionNotifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .any(|n| n["associatedRule"]["id"] == "S3-002"),
        "{invocation:#}"
    );
}

/// Item 2: impossible dates and dates beyond the horizon apply to nothing and are reported
/// with file:line; an unknown rule id is reported; a valid waiver still applies.
#[test]
fn waivers_need_a_real_date_within_the_horizon_and_a_known_rule() {
    let dirs = TestDirs::new();
    let soon = days_ahead(30);
    let waivers = write_config_file(
        &dirs,
        "waivers.toml",
        &format!(
            r#"[[waiver]]
rule = "S3-001"
resource = "OpenBucket"
reason = "forever"
ticket = "OPS-1"
expires = "9999-99-99"

[[waiver]]
rule = "S3-002"
resource = "OpenBucket"
reason = "not a month"
ticket = "OPS-2"
expires = "2026-13-45"

[[waiver]]
rule = "S3-0O1"
resource = "OpenBucket"
reason = "a typo"
ticket = "OPS-3"
expires = "{soon}"

[[waiver]]
rule = "TAG-001"
resource = "LogsBucket"
reason = "logs of logs"
ticket = "OPS-4"
expires = "{soon}"
"#
        ),
    );
    let out = opsdeck(&dirs, &["check", OPEN_BUCKET, "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let stderr = text(&out.stderr);
    let file = waivers.display().to_string();
    for expected in [
        format!("{file}:6: waiver[0].expires: \"9999-99-99\" is not a calendar date"),
        format!("{file}:13: waiver[1].expires: \"2026-13-45\" is not a calendar date"),
        format!("{file}:15: waiver for rule \"S3-0O1\": no loaded rule has that id"),
    ] {
        assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let findings = report["findings"].as_array().expect("findings");
    let state = |rule: &str, resource: &str| {
        findings
            .iter()
            .filter(|f| f["rule"] == rule && f["resource"] == resource)
            .map(|f| f["waiver"]["state"].as_str().unwrap_or("none").to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        state("S3-001", "OpenBucket").iter().all(|s| s == "none"),
        "an impossible date waives nothing"
    );
    assert!(!state("S3-002", "OpenBucket").is_empty());
    assert!(state("S3-002", "OpenBucket").iter().all(|s| s == "none"));
    assert!(
        state("TAG-001", "LogsBucket").iter().all(|s| s == "active"),
        "a valid waiver still applies"
    );

    // The horizon comes from config: 10 days makes the 30-day waiver invalid too.
    write_config_file(&dirs, "config.toml", "[compliance]\nwaiver_max_days = 10\n");
    let out = opsdeck(&dirs, &["check", OPEN_BUCKET]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "{file}:27: waiver[3].expires: {soon} is more than 10 days ahead"
        )),
        "{}",
        explain(&out)
    );
}

/// Item 3: `check` refuses what `deploy` refuses, with the same file:line and words.
#[test]
fn check_refuses_what_deploy_refuses() {
    let dirs = TestDirs::new();
    for (fixture, line, what) in [
        (
            "no-type.yaml",
            3,
            "Resources.Topic.Type: every resource needs a Type",
        ),
        (
            "numeric-type.yaml",
            4,
            "Resources.Topic.Type: must be a resource type name such as AWS::S3::Bucket, not a number",
        ),
        (
            "null-resource.yaml",
            3,
            "Resources.Topic: must be a mapping with a Type (e.g. Type: AWS::S3::Bucket), not empty",
        ),
        (
            "resources-list.yaml",
            2,
            "Resources: must be a mapping of logical ids to resources, not a list",
        ),
    ] {
        let path = format!("tests/fixtures/hardening/{fixture}");
        let expected = format!("{path}:{line}: {what}");
        let check = opsdeck(&dirs, &["check", &path]);
        assert_eq!(check.status.code(), Some(2), "{}", explain(&check));
        assert!(
            text(&check.stderr).contains(&format!("opsdeck check: {expected}")),
            "{expected}\n{}",
            explain(&check)
        );
        // deploy refuses it before anything is asked of AWS
        let deploy = opsdeck(&dirs, &["deploy", &path, "--stack", "s", "--plan"]);
        assert_eq!(deploy.status.code(), Some(2), "{}", explain(&deploy));
        assert!(
            text(&deploy.stderr).contains(&format!("opsdeck deploy: {expected}")),
            "{expected}\n{}",
            explain(&deploy)
        );
    }
}

/// Smaller items: a byte-order mark is accepted (the template is judged: it fails its rules,
/// exit 1, not "more than one document"), and nesting deeper than the limit is refused with
/// file:line before the parser's quadratic cost.
#[test]
fn a_bom_is_accepted_and_deep_nesting_is_refused_with_its_line() {
    let dirs = TestDirs::new();
    let bom = dirs.root().join("bom.yaml");
    let body = std::fs::read_to_string(root().join(OPEN_BUCKET)).expect("fixture");
    std::fs::write(&bom, format!("\u{feff}{body}")).expect("write");
    let out = opsdeck(&dirs, &["check", bom.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    assert!(
        text(&out.stdout).contains("OpenBucket"),
        "{}",
        explain(&out)
    );

    let deep = dirs.root().join("deep.yaml");
    std::fs::write(
        &deep,
        format!(
            "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: {}{}\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        ),
    )
    .expect("write");
    let out = opsdeck(&dirs, &["check", deep.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "{}:5: nested more than 256 levels deep",
            deep.display()
        )),
        "{}",
        explain(&out)
    );
}

/// Item 8: a runaway user rule is stopped by the time limit and counts as an error (exit 2);
/// the other rules still judge.
#[test]
fn a_runaway_rule_is_stopped_and_fails_the_check() {
    let dirs = TestDirs::new();
    user_policies(&dirs, &["slow.rego"]);
    let out = opsdeck(&dirs, &["check", OPEN_BUCKET]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(
        text(&out.stderr).contains("rule SLOW-1 could not judge tests/fixtures/check/open-bucket.yaml: stopped after 2 s (the time limit per rule)"),
        "{}",
        explain(&out)
    );
    assert!(
        text(&out.stdout).contains("S3-001"),
        "the other rules judged"
    );
}

/// Item 9: control characters from templates and policies never reach the terminal raw;
/// JSON keeps them as escapes (same data).
#[test]
fn escape_sequences_from_policies_and_templates_never_reach_the_terminal() {
    let dirs = TestDirs::new();
    user_policies(&dirs, &["escapes.rego"]);
    let raw = |bytes: &[u8]| bytes.iter().any(|&b| b == 0x1b || b == 0x07 || b == 0x9b);
    for format in ["text", "csv", "json", "sarif", "oscal"] {
        let out = opsdeck(&dirs, &["check", OPEN_BUCKET, "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}: {}", explain(&out));
        assert!(!raw(&out.stdout), "{format}: {}", explain(&out));
        assert!(!raw(&out.stderr), "{format}: {}", explain(&out));
        let stdout = text(&out.stdout);
        assert!(!stdout.contains('\u{9b}'), "{format}: a C1 CSI");
        assert!(stdout.contains("red"), "{format}: {stdout}");
    }
    let out = opsdeck(&dirs, &["check", OPEN_BUCKET, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let message = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "ESC-1")
        .and_then(|f| f["message"].as_str())
        .expect("the finding");
    assert_eq!(
        message, "\u{1b}[31mred\u{1b}[0m \u{9b}2J alert",
        "the data is kept"
    );

    // A logical id with an escape sequence is refused; the error shows it escaped.
    let hostile = dirs.root().join("hostile.yaml");
    std::fs::write(
        &hostile,
        "Resources:\n  \"Evil\\e]0;pwned\\a\":\n    Type: AWS::SNS::Topic\n",
    )
    .expect("write");
    for args in [
        vec!["check", hostile.to_str().expect("utf-8")],
        vec![
            "deploy",
            hostile.to_str().expect("utf-8"),
            "--stack",
            "s",
            "--plan",
        ],
    ] {
        let out = opsdeck(&dirs, &args);
        assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
        assert!(!raw(&out.stderr), "{}", explain(&out));
        assert!(
            text(&out.stderr).contains(
                "logical id \"Evil\\u{1b}]0;pwned\\u{7}\" must be letters and digits only"
            ),
            "{}",
            explain(&out)
        );
    }
}

/// Items 1 and 9 at the deploy door, against moto: the issue's reproduction (a user policy
/// that takes S3-001's package, and a bucket without BucketEncryption deployed to an
/// unmapped, PRD-strict account) is refused, and the compliance lines on stderr are clean.
#[test]
fn deploy_refuses_an_unencrypted_bucket_whatever_a_user_policy_says() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    user_policies(&dirs, &["takes-s3-encryption.rego", "escapes.rego"]);
    let library = std::fs::read_to_string(root().join("templates/s3-bucket.yaml")).expect("s3");
    let start = library
        .find("      BucketEncryption:")
        .expect("BucketEncryption");
    let end = library[start..]
        .find("      VersioningConfiguration:")
        .expect("next property")
        + start;
    let unencrypted = dirs.root().join("unencrypted.yaml");
    std::fs::write(
        &unencrypted,
        format!("{}{}", &library[..start], &library[end..]),
    )
    .expect("write");
    let out = opsdeck(
        &dirs,
        &[
            "deploy",
            unencrypted.to_str().expect("utf-8"),
            "--stack",
            "assets",
            "--plan",
            "--param",
            "Owner=platform-team",
            "--param",
            "CostCenter=cc-1234",
            "--endpoint-url",
            &moto.endpoint(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "refused: {}", explain(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("S3-001"), "{stderr}");
    assert!(
        stderr.contains("could not fully judge it (policy not loaded:"),
        "{stderr}"
    );
    assert!(
        !out.stderr.iter().any(|&b| b == 0x1b || b == 0x07),
        "{stderr}"
    );
    assert!(stderr.contains("red"), "{stderr}");
    let audit = support::read_audit(&dirs.audit_log());
    assert!(
        audit
            .iter()
            .any(|e| e["operation"] == "create-change-set" && e["decision"] == "refused"),
        "{audit:?}"
    );
    assert!(
        !audit.iter().any(|e| e["decision"] == "confirmed"),
        "{audit:?}"
    );
    let rt = support::runtime();
    let left = rt.block_on(support::live_stack_names(&moto.cfn()));
    assert!(!left.contains(&"assets".to_string()), "{left:?}");
}
