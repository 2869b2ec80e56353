//! The real binary in tmux against the loopback fake Kubernetes API server: pods listed as
//! the watch sees them, a scale typed into the replica field, confirmed (current → new) and
//! applied, a followed log growing live in Jobs, and read-only mode refusing the scale.

mod support;

use support::kube_api::FakeApi;
use support::tmux::Tmux;
use support::{TestDirs, free_port};

const SIZE: (u16, u16) = (140, 40);

/// A cluster with `shop/web` (2 replicas), a kubeconfig context `fake` scoped to `shop`, and
/// config mapping it to DEV.
fn setup() -> (FakeApi, TestDirs, String) {
    let api = FakeApi::start();
    api.namespace("shop");
    api.node("node-1");
    api.deployment("shop", "web", 2, &["app"]);
    api.append_log(
        "shop",
        "web-5d4f8-00000",
        "app",
        &["booting", "listening on :8080"],
    );
    let dirs = TestDirs::new();
    let kubeconfig = dirs.root().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig("fake", Some("shop"), "t")).expect("kubeconfig");
    let config = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"fake\"]\n",
    )
    .unwrap();
    (api, dirs, kubeconfig.display().to_string())
}

fn args<'a>(kubeconfig: &'a str, endpoint: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--kubeconfig", kubeconfig, "--endpoint-url", endpoint];
    args.extend(extra);
    args
}

fn audit_of(dirs: &TestDirs, operation: &str) -> Vec<String> {
    support::read_audit(&dirs.audit_log())
        .iter()
        .filter(|e| e["operation"] == operation)
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn pods_are_listed_a_scale_is_confirmed_and_applied_and_a_log_is_followed() {
    let (api, dirs, kubeconfig) = setup();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let tmux = Tmux::start("kube", &dirs, &args(&kubeconfig, &endpoint, &[]), &[], SIZE);

    // --kubeconfig: the pods of the context's namespace, as the watch lists them.
    tmux.wait_for("the pods", |s| {
        s.contains("pods 2/2 @ fake")
            && s.contains("web-5d4f8-00000")
            && s.contains("web-5d4f8-00001")
    });

    // :deploy, then s: the replica field prefilled with 2.
    tmux.keys(&[":"]);
    tmux.type_text("deploy");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the deployments", |s| {
        s.contains("deployments 1/1") && s.contains("UP-TO-DATE")
    });
    tmux.keys(&["s"]);
    tmux.wait_for("the replica field", |s| s.contains("Replicas > 2"));
    tmux.keys(&["BSpace"]);
    tmux.type_text("4");
    tmux.keys(&["Enter"]);
    let dialog = tmux.wait_for("the confirmation", |s| {
        s.contains("Confirm: scale-workload")
    });
    assert!(dialog.contains("2 → 4"), "{dialog}");
    assert!(dialog.contains("DEV"), "{dialog}");
    tmux.keys(&["y"]);
    tmux.wait_for("the scale to finish", |s| s.contains("scaled from 2 to 4"));
    assert_eq!(
        api.object("deployments", "shop", "web").unwrap()["spec"]["replicas"],
        4
    );

    // The watch shows what the controller did.
    tmux.keys(&["2", ":"]);
    tmux.type_text("pods");
    tmux.keys(&["Enter"]);
    tmux.wait_for("four pods", |s| {
        s.contains("pods 4/4") && s.contains("web-5d4f8-00003")
    });

    // l on the first pod: its log, live, in Jobs.
    tmux.keys(&["g", "l"]);
    tmux.wait_for("the log", |s| {
        s.contains("listening on :8080") && s.contains("2 lines")
    });
    api.append_log("shop", "web-5d4f8-00000", "app", &["GET /healthz 200"]);
    tmux.wait_for("the new line", |s| {
        s.contains("GET /healthz 200") && s.contains("3 lines")
    });

    // Quitting asks while the follow runs; the terminal is handed back.
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", |s| s.contains("running"));
    tmux.keys(&["y"]);
    tmux.wait_for("opsdeck to exit", |s| s.contains("OPSDECK_EXIT="));
    assert_eq!(tmux.format("#{alternate_on}"), "0");
    assert_eq!(
        audit_of(&dirs, "scale-workload"),
        ["requested", "confirmed", "started", "succeeded"]
    );
    assert!(matches!(
        opsdeck::audit::verify(&dirs.audit_log()),
        Ok(opsdeck::audit::VerifyReport::Ok { .. })
    ));
}

#[test]
fn read_only_refuses_the_scale() {
    let (api, dirs, kubeconfig) = setup();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let tmux = Tmux::start(
        "kube-ro",
        &dirs,
        &args(&kubeconfig, &endpoint, &["--read-only"]),
        &[],
        SIZE,
    );
    tmux.wait_for("the pods", |s| s.contains("pods 2/2 @ fake"));
    tmux.keys(&[":"]);
    tmux.type_text("deploy");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the deployments", |s| s.contains("deployments 1/1"));
    tmux.keys(&["s"]);
    let screen = tmux.wait_for("the refusal", |s| s.contains("refused"));
    assert!(screen.contains("read-only"), "{screen}");
    assert!(!screen.contains("Replicas >"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("opsdeck to exit", |s| s.contains("OPSDECK_EXIT=0"));
    assert!(
        api.requests_to("PATCH", "/scale").is_empty(),
        "nothing reached the cluster"
    );
    assert_eq!(audit_of(&dirs, "scale-workload"), ["refused-read-only"]);
}
