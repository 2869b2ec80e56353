//! The rule fixtures in `tests/fixtures/compliance/<policy file stem>/{fail,pass}.yaml`, shared by
//! `tests/compliance_rules.rs` and `tests/checkov_second_opinion.rs`.
//!
//! A fixture is a small CloudFormation template, or Kubernetes manifests (`apiVersion:` at the
//! top level, judged as live objects are), whose leading comments say what it must yield:
//!
//! ```yaml
//! # expect: S3-001 Bucket Properties.BucketEncryption
//! # checkov-differs: CKV_AWS_18 LogBucket: a log destination bucket does not log itself
//! ```
//!
//! `expect` lines name every finding (rule, resource, path) of the named rules in that file;
//! `checkov-differs` lines name a resource checkov fails on purpose where our rule disagrees.

#![allow(dead_code)]

use opsdeck::compliance::input::from_template;
use opsdeck::compliance::policy::{Evaluation, PolicyPack};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compliance")
}

/// (rule id, resource, path)
pub type Expected = (String, String, String);

pub struct Fixture {
    /// `tests/fixtures/compliance/s3_encryption/fail.yaml`, relative to the fixtures dir.
    pub relative: String,
    /// The policy file stem (`s3_encryption`).
    pub stem: String,
    /// `fail` or `pass`.
    pub kind: String,
    pub text: String,
    pub expect: BTreeSet<Expected>,
    /// (checkov check id, resource)
    pub checkov_differs: BTreeSet<(String, String)>,
    /// Kubernetes manifests rather than a template (findings have no line: objects judged
    /// live have none either).
    pub kubernetes: bool,
}

/// Every `<stem>/<kind>.yaml` under the fixtures dir, sorted.
pub fn fixtures() -> Vec<Fixture> {
    let root = fixtures_dir();
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let stem = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let kind = file.file_stem().unwrap().to_string_lossy().into_owned();
            let (expect, checkov_differs) = header(&text, &file);
            let kubernetes = text.lines().any(|l| l.starts_with("apiVersion:"));
            out.push(Fixture {
                kubernetes,
                relative: format!("{stem}/{kind}.yaml"),
                stem: stem.clone(),
                kind,
                text,
                expect,
                checkov_differs,
            });
        }
    }
    out
}

fn header(text: &str, file: &Path) -> (BTreeSet<Expected>, BTreeSet<(String, String)>) {
    let mut expect = BTreeSet::new();
    let mut differs = BTreeSet::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(rest) = line.strip_prefix("expect:") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(
                parts.len(),
                3,
                "{}: `# expect: RULE RESOURCE PATH`, not {line:?}",
                file.display()
            );
            expect.insert((parts[0].into(), parts[1].into(), parts[2].into()));
        } else if let Some(rest) = line.strip_prefix("checkov-differs:") {
            let (what, reason) = rest.split_once(':').unwrap_or((rest, ""));
            let parts: Vec<&str> = what.split_whitespace().collect();
            assert!(
                parts.len() == 2 && !reason.trim().is_empty(),
                "{}: `# checkov-differs: CKV_ID RESOURCE: reason`, not {line:?}",
                file.display()
            );
            differs.insert((parts[0].into(), parts[1].into()));
        }
    }
    (expect, differs)
}

/// The bundled pack, loaded once per test.
pub fn pack() -> PolicyPack {
    let (pack, errors) = PolicyPack::bundled();
    assert!(errors.is_empty(), "the bundled pack: {errors:?}");
    pack
}

/// rule file stem → rule id
pub fn rule_ids(pack: &PolicyPack) -> BTreeMap<String, String> {
    pack.rules()
        .map(|r| {
            let stem = r
                .source
                .trim_start_matches("policies/")
                .trim_end_matches(".rego")
                .to_string();
            (stem, r.id.clone())
        })
        .collect()
}

/// Judge a fixture as a PRD template with its defaults, the way the deploy gate would.
pub fn evaluate(pack: &PolicyPack, fixture: &Fixture) -> Evaluation {
    if fixture.kubernetes {
        let objects = opsdeck::kube::compliance::manifests(&fixture.text, &fixture.relative)
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.relative));
        let input =
            opsdeck::kube::compliance::input(&objects, &fixture.relative, Some("PRD"), None);
        let eval = pack.evaluate(&input, None);
        assert!(
            eval.errors.is_empty(),
            "{}: {:?}",
            fixture.relative,
            eval.errors
        );
        return eval;
    }
    let (input, lines) = from_template(
        &fixture.text,
        &fixture.relative,
        &BTreeMap::new(),
        Some("PRD"),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", fixture.relative));
    let eval = pack.evaluate(&input, Some(&lines));
    assert!(
        eval.errors.is_empty(),
        "{}: {:?}",
        fixture.relative,
        eval.errors
    );
    eval
}
