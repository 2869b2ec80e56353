//! checkov as a second opinion on the rule pack: `checkov --skip-download` (pinned, installed in
//! `.venv-checkov` by scripts/test.sh, `$OPSDECK_CHECKOV`) runs over the fixture corpus
//! `tests/fixtures/compliance`, and for every checkov check that a rule of ours covers
//! (`tests/checkov_map.json`) each resource checkov fails must be reported by one of those rules,
//! unless the fixture says why not in a `# checkov-differs: CKV_ID RESOURCE: reason` line.
//! Prints the mapping table (`cargo test --test checkov_second_opinion -- --nocapture`).

#[path = "support/compliance.rs"]
mod compliance;

use compliance::{evaluate, fixtures, fixtures_dir, pack};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `checkov` executable: `$OPSDECK_CHECKOV`, else the repo's `.venv-checkov`.
/// Panics when neither exists: the second opinion must fail, not skip, without checkov.
fn checkov_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OPSDECK_CHECKOV").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "checkov not installed: run scripts/test.sh (OPSDECK_CHECKOV={} does not exist)",
            path.display()
        );
        return path;
    }
    let venv = manifest_dir().join(".venv-checkov/bin/checkov");
    assert!(
        venv.is_file(),
        "checkov not installed: run scripts/test.sh (looked for $OPSDECK_CHECKOV and {})",
        venv.display()
    );
    venv
}

/// checkov id → our rule ids.
fn mapping() -> BTreeMap<String, Vec<String>> {
    let path = manifest_dir().join("tests/checkov_map.json");
    let text = std::fs::read_to_string(&path).expect("tests/checkov_map.json");
    let json: Value = serde_json::from_str(&text).expect("checkov_map.json is JSON");
    json.as_object()
        .expect("an object")
        .iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| {
            let rules = v
                .as_array()
                .unwrap_or_else(|| panic!("{k}: a list of rule ids"))
                .iter()
                .map(|r| r.as_str().expect("rule id").to_string())
                .collect();
            (k.clone(), rules)
        })
        .collect()
}

struct CheckovResult {
    check: String,
    name: String,
    /// `s3_encryption/fail.yaml`
    file: String,
    resource: String,
}

fn results(report: &Value, key: &str) -> Vec<CheckovResult> {
    report["results"][key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| CheckovResult {
                    check: c["check_id"].as_str().unwrap_or_default().to_string(),
                    name: c["check_name"].as_str().unwrap_or_default().to_string(),
                    file: c["file_path"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    // `AWS::S3::Bucket.Bucket`: type, then the logical id.
                    resource: c["resource"]
                        .as_str()
                        .and_then(|r| r.split_once('.'))
                        .map(|(_, id)| id.to_string())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn checkov_failures_of_mapped_checks_are_all_reported_by_our_rules() {
    let bin = checkov_bin();
    let output = Command::new(&bin)
        .current_dir(manifest_dir())
        .args([
            "--skip-download",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "-d",
        ])
        .arg(fixtures_dir())
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Exit 1 means "some check failed", which the corpus is made for.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "checkov failed ({}):\n{stderr}",
        output.status
    );
    assert!(
        !stderr.contains("skipping"),
        "checkov could not read every fixture:\n{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(
        report["summary"]["parsing_errors"].as_u64(),
        Some(0),
        "{}",
        report["summary"]
    );
    let failed = results(&report, "failed_checks");
    let passed = results(&report, "passed_checks");

    let pack = pack();
    let known: BTreeSet<String> = pack.rules().map(|r| r.id.clone()).collect();
    let map = mapping();
    for (check, rules) in &map {
        for rule in rules {
            assert!(known.contains(rule), "{check} maps to unknown rule {rule}");
        }
    }

    // What we report: (file, rule, resource).
    let corpus = fixtures();
    let mut ours = BTreeSet::new();
    let mut differs = BTreeSet::new();
    for fixture in &corpus {
        for f in evaluate(&pack, fixture).findings {
            ours.insert((fixture.relative.clone(), f.rule, f.resource));
        }
        for (check, resource) in &fixture.checkov_differs {
            differs.insert((fixture.relative.clone(), check.clone(), resource.clone()));
        }
    }

    let mut names = BTreeMap::new();
    let mut fails: BTreeMap<&str, usize> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut used_differs = BTreeSet::new();
    for c in failed.iter().chain(&passed) {
        names
            .entry(c.check.clone())
            .or_insert_with(|| c.name.clone());
    }
    for c in &failed {
        let Some(rules) = map.get(&c.check) else {
            continue;
        };
        *fails.entry(c.check.as_str()).or_default() += 1;
        let reported = rules
            .iter()
            .any(|r| ours.contains(&(c.file.clone(), r.clone(), c.resource.clone())));
        let key = (c.file.clone(), c.check.clone(), c.resource.clone());
        if differs.contains(&key) {
            assert!(
                !reported,
                "{}: {} {} is declared checkov-differs but {rules:?} reports it",
                c.file, c.check, c.resource
            );
            used_differs.insert(key);
        } else if !reported {
            missed.push(format!(
                "{}: checkov {} ({}) fails {} but {rules:?} does not report it",
                c.file, c.check, c.name, c.resource
            ));
        }
    }

    println!(
        "{:<12} {:<9} {:<20} checkov check",
        "checkov", "failures", "opsdeck rules"
    );
    for (check, rules) in &map {
        println!(
            "{:<12} {:<9} {:<20} {}",
            check,
            fails.get(check.as_str()).copied().unwrap_or(0),
            rules.join(","),
            names
                .get(check)
                .map(String::as_str)
                .unwrap_or("(not evaluated)")
        );
    }
    let mapped: BTreeSet<&String> = map.values().flatten().collect();
    let unmapped: Vec<&String> = known.iter().filter(|r| !mapped.contains(r)).collect();
    println!("opsdeck rules with no checkov CloudFormation counterpart: {unmapped:?}");

    assert!(missed.is_empty(), "{}", missed.join("\n"));
    let stale: Vec<_> = differs.difference(&used_differs).collect();
    assert!(
        stale.is_empty(),
        "checkov-differs lines checkov does not fail: {stale:?}"
    );
    // Every mapped check is evaluated, and fails somewhere, or the comparison proves nothing.
    let never: Vec<&String> = map
        .keys()
        .filter(|c| !fails.contains_key(c.as_str()))
        .collect();
    assert!(
        never.is_empty(),
        "mapped checks checkov never fails on the corpus (add a fixture or drop the mapping): {never:?}"
    );
}
