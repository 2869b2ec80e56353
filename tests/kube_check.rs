//! `opsdeck check --kube-context CTX [--namespace NS]`: the real binary judges the live
//! workloads of a cluster (the loopback fake API server) into the same exports as templates:
//! SARIF valid against the 2.1.0 schema, OSCAL read by compliance-trestle, CSV and JSON; exit
//! 1 on a failure, 2 when the cluster cannot be read, 0 when all passes.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::kube_api::FakeApi;
use support::python::{SARIF_SCHEMA, VALIDATE_SARIF, run_python};
use support::{TestDirs, hermetic_aws_env};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn opsdeck(dirs: &TestDirs, kubeconfig: &Path, args: &[&str]) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("OPSDECK_LOG", "warn")
        .env_remove("KUBECONFIG")
        .output()
        .expect("run opsdeck")
}

const VALIDATE_OSCAL: &str = r#"
import pathlib, sys
from trestle.oscal.assessment_results import AssessmentResults
doc = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
print(f"trestle OK: {len(doc.results[0].findings or [])} findings")
"#;

/// A hardened deployment and a privileged one, in `shop`; a privileged one in `other`.
fn cluster() -> (FakeApi, TestDirs, PathBuf) {
    let api = FakeApi::start();
    for ns in ["shop", "other"] {
        api.namespace(ns);
    }
    let hardened = json!({
        "securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "app", "image": "registry.example/web:1.4.2",
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true},
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]
    });
    let mut privileged = hardened.clone();
    privileged["containers"][0]["securityContext"]["privileged"] = json!(true);
    for (ns, name, spec) in [
        ("shop", "web", &hardened),
        ("shop", "agent", &privileged),
        ("other", "miner", &privileged),
    ] {
        api.put(
            "deployments",
            json!({"metadata": {"name": name, "namespace": ns},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}),
        );
    }
    let dirs = TestDirs::new();
    let kubeconfig = dirs.root().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig("fake", None, "t")).expect("kubeconfig");
    (api, dirs, kubeconfig)
}

#[test]
fn live_workloads_are_judged_into_every_export() {
    let (_api, dirs, kubeconfig) = cluster();
    let out_dir = dirs.root().join("reports");
    std::fs::create_dir_all(&out_dir).unwrap();
    // Text on stdout: the privileged deployment of the namespace, not the other namespace's.
    let out = opsdeck(
        &dirs,
        &kubeconfig,
        &["check", "--kube-context", "fake", "--namespace", "shop"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.contains("K8S-001"), "{report}");
    assert!(report.contains("shop/deployment/agent"), "{report}");
    assert!(!report.contains("miner"), "{report}");
    // Every format, through the same exporters as templates.
    let formats = [
        ("sarif", "r.sarif"),
        ("oscal", "r.oscal.json"),
        ("csv", "r.csv"),
        ("json", "r.json"),
    ];
    for (format, file) in formats {
        let path = out_dir.join(file);
        let out = opsdeck(
            &dirs,
            &kubeconfig,
            &[
                "check",
                "--kube-context",
                "fake",
                "--format",
                format,
                "-o",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: {}",
            text(&out.stderr)
        );
    }
    run_python(
        VALIDATE_SARIF,
        &[&root().join(SARIF_SCHEMA), &out_dir.join("r.sarif")],
    );
    let sarif = std::fs::read_to_string(out_dir.join("r.sarif")).unwrap();
    assert!(
        sarif.contains("other/deployment/miner") && sarif.contains("K8S-001"),
        "all namespaces"
    );
    let oscal = run_python(VALIDATE_OSCAL, &[&out_dir.join("r.oscal.json")]);
    assert!(oscal.contains("trestle OK"), "{oscal}");
    let csv = std::fs::read_to_string(out_dir.join("r.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains("K8S-001") && l.contains("shop/deployment/agent")),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("r.json")).unwrap()).unwrap();
    let findings = json["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["resource_type"] == "k8s:apps/v1:Deployment"),
        "{json}"
    );
}

#[test]
fn a_clean_namespace_passes_and_an_unreachable_cluster_is_exit_2() {
    let (api, dirs, kubeconfig) = cluster();
    api.remove("deployments", "shop", "agent");
    let out = opsdeck(
        &dirs,
        &kubeconfig,
        &["check", "--kube-context", "fake", "--namespace", "shop"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // An unknown context: said, exit 2.
    let out = opsdeck(&dirs, &kubeconfig, &["check", "--kube-context", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no context nope in"),
        "{}",
        text(&out.stderr)
    );
    // The cluster refuses us: exit 2, the reason on stderr.
    api.require_bearer("another");
    let out = opsdeck(&dirs, &kubeconfig, &["check", "--kube-context", "fake"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("401 Unauthorized"),
        "{}",
        text(&out.stderr)
    );
    // Read-only mode allows it: it only reads.
    api.require_bearer("t");
    let out = opsdeck(
        &dirs,
        &kubeconfig,
        &[
            "--read-only",
            "check",
            "--kube-context",
            "fake",
            "--namespace",
            "shop",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
