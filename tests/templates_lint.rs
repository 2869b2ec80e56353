//! The CloudFormation template library in `templates/`: every template must pass the pinned
//! cfn-lint (installed by scripts/test.sh) with no output at all - errors, warnings and
//! informational findings alike - and carry the conventions the console relies on (parameter
//! interface metadata, the four standard tags, a NoEcho parameter somewhere to mask).
//!
//! Plain text checks only: there is no YAML parser among the dependencies, on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The templates the library promises; more may be added.
const EXPECTED_TEMPLATES: [&str; 8] = [
    "alb.yaml",
    "ec2-instance.yaml",
    "eks-cluster.yaml",
    "eks-nodegroup.yaml",
    "kms-key.yaml",
    "rds-postgres.yaml",
    "s3-bucket.yaml",
    "vpc-3az.yaml",
];

/// Tag keys every taggable resource carries.
const TAG_KEYS: [&str; 4] = ["Owner", "Environment", "ManagedBy", "CostCenter"];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `cfn-lint` executable: `$OPSDECK_CFN_LINT`, else the repo's `.venv`.
/// Panics when neither exists: the lint must fail, not skip, without cfn-lint.
fn cfn_lint_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OPSDECK_CFN_LINT").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "cfn-lint not installed: run scripts/test.sh (OPSDECK_CFN_LINT={} does not exist)",
            path.display()
        );
        return path;
    }
    let venv = manifest_dir().join(".venv/bin/cfn-lint");
    assert!(
        venv.is_file(),
        "cfn-lint not installed: run scripts/test.sh (looked for $OPSDECK_CFN_LINT and {})",
        venv.display()
    );
    venv
}

/// Every `templates/*.yaml`, sorted by name.
fn template_paths() -> Vec<PathBuf> {
    let dir = manifest_dir().join("templates");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read templates/ entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("template path has a file name")
        .to_string_lossy()
        .into_owned()
}

/// (file name, text) of every template.
fn templates() -> Vec<(String, String)> {
    template_paths()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            (file_name(&path), text)
        })
        .collect()
}

#[test]
fn library_has_the_promised_templates() {
    let names: Vec<String> = template_paths().iter().map(|p| file_name(p)).collect();
    let missing: Vec<&str> = EXPECTED_TEMPLATES
        .into_iter()
        .filter(|expected| !names.iter().any(|name| name == expected))
        .collect();
    assert!(
        missing.is_empty(),
        "templates/ lacks {missing:?} (found {names:?})"
    );
}

#[test]
fn every_template_is_cfn_lint_clean() {
    let bin = cfn_lint_bin();
    let paths = template_paths();
    assert!(
        paths.len() >= EXPECTED_TEMPLATES.len(),
        "only {} templates found in templates/",
        paths.len()
    );
    // Informational findings are included too: the library is kept at zero output.
    let output = Command::new(&bin)
        .current_dir(manifest_dir())
        .arg("--include-checks")
        .arg("I")
        .arg("--")
        .args(&paths)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "cfn-lint is not clean on templates/ ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn every_template_has_interface_metadata_and_outputs() {
    for (name, text) in templates() {
        for needle in [
            "AWSTemplateFormatVersion: '2010-09-09'",
            "\nDescription:",
            "AWS::CloudFormation::Interface",
            "ParameterGroups:",
            "ParameterLabels:",
            "\nOutputs:",
            "${AWS::StackName}-",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle:?}");
        }
        for parameter in ["\n  Owner:\n", "\n  Environment:\n", "\n  CostCenter:\n"] {
            assert!(
                text.contains(parameter),
                "{name} lacks the parameter {}",
                parameter.trim()
            );
        }
        assert!(
            text.contains("      - DEV\n      - TST\n      - PRD\n"),
            "{name}: Environment must allow exactly DEV, TST and PRD"
        );
    }
}

/// Tags come either as a list (`- Key: Owner` / `Value: ...`) or as a map (`Owner: !Ref Owner`).
/// Every tag block must carry all four keys, and ManagedBy is always `opsdeck`.
#[test]
fn every_tag_block_carries_the_four_standard_tags() {
    for (name, text) in templates() {
        for needle in TAG_KEYS {
            assert!(text.contains(needle), "{name} never mentions {needle}");
        }
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut counts = [0usize; 4];
        for (i, line) in lines.iter().enumerate() {
            for (count, key) in counts.iter_mut().zip(TAG_KEYS) {
                let list_form = *line == format!("- Key: {key}");
                let map_form = if key == "ManagedBy" {
                    *line == "ManagedBy: opsdeck"
                } else {
                    *line == format!("{key}: !Ref {key}")
                };
                if list_form || map_form {
                    *count += 1;
                }
                if list_form && key == "ManagedBy" {
                    assert_eq!(
                        lines.get(i + 1).copied(),
                        Some("Value: opsdeck"),
                        "{name} line {}: the ManagedBy tag must be opsdeck",
                        i + 1
                    );
                }
            }
        }
        assert!(counts[0] > 0, "{name} tags nothing");
        assert!(
            counts.iter().all(|&c| c == counts[0]),
            "{name}: tag blocks are incomplete ({:?} = {counts:?})",
            TAG_KEYS
        );
    }
}

#[test]
fn library_has_a_no_echo_parameter() {
    let with_no_echo: Vec<String> = templates()
        .into_iter()
        .filter(|(_, text)| text.lines().any(|line| line.trim() == "NoEcho: true"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        !with_no_echo.is_empty(),
        "no template has a NoEcho: true parameter; the console's masking needs one to test against"
    );
}
