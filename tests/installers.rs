//! Installers for real: the `local` target runs scripts on this machine, the `ssh:` target
//! against a real OpenSSH server the test starts on 127.0.0.1, through the real binary
//! (`opsdeck installers`, `opsdeck install`) and through the engine (cancel, timeout, retries,
//! rate control, a changed installer).

mod support;

use opsdeck::installers::catalog::load_user;
use opsdeck::installers::manifest::InputValue;
use opsdeck::installers::ops::{HostFacts, Rate, ResolvedTarget, RunInstaller, Target};
use opsdeck::installers::targets::TargetSettings;
use opsdeck::model::{Environment, JobState};
use opsdeck::ops::MutatingOp;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use support::TestDirs;
use support::rig::Rig;
use support::sshd::Sshd;

/// Never contacted: local and ssh targets need no AWS.
const NO_AWS: &str = "http://127.0.0.1:9";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn installers_dir(dirs: &TestDirs) -> PathBuf {
    dirs.config_home().join("opsdeck/installers")
}

/// Write a user installer: `manifest` after the id, name, version and script lines.
fn installer(dirs: &TestDirs, id: &str, manifest: &str, script: &str) -> PathBuf {
    let folder = installers_dir(dirs).join(id);
    std::fs::create_dir_all(&folder).expect("installer folder");
    std::fs::write(
        folder.join("manifest.yml"),
        format!(
            "id: {id}\nname: Test {id}\nversion: 1.0.0\ninstall_script: install.sh\n{manifest}"
        ),
    )
    .expect("manifest");
    std::fs::write(folder.join("install.sh"), script).expect("script");
    folder
}

fn config(dirs: &TestDirs, toml: &str) -> PathBuf {
    let path = dirs.config_home().join("opsdeck/config.toml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("config dir");
    std::fs::write(&path, toml).expect("config");
    path
}

fn opsdeck(dirs: &TestDirs, args: &[&str], env: &[(&str, &str)]) -> Output {
    support::hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .args(["--endpoint-url", NO_AWS])
        .env("OPSDECK_LOG", "warn")
        .envs(env.iter().copied());
    command.output().expect("run opsdeck")
}

/// Every file under the data dir, as bytes (audit log, job store, job logs, trace log).
fn everything_written(dirs: &TestDirs) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    let mut out = Vec::new();
    walk(&dirs.data_dir(), &mut out);
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn audit_of(dirs: &TestDirs, operation: &str) -> Vec<serde_json::Value> {
    support::read_audit(&dirs.audit_log())
        .into_iter()
        .filter(|e| e["operation"] == operation)
        .collect()
}

fn decisions(entries: &[serde_json::Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The hostile values every target must hand to the script literally.
fn corpus(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("$(touch {m}.1)"),
        format!("`touch {m}.2`"),
        format!("a; touch {m}.3"),
        format!("line one\nline two && touch {m}.4"),
        "it's \"quoted\" \\back\\slash\\".to_string(),
        "../../etc/passwd".to_string(),
        "${HOME} $PATH * ?".to_string(),
        "-oProxyCommand=touch x".to_string(),
        "tab\there".to_string(),
    ]
}

/// An installer that writes each of its inputs, byte for byte, to OUT/<name>, and records its
/// environment, terminal and process group.
const ECHO_MANIFEST: &str = "\
timeout_seconds: 60
inputs:
  - name: out
    type: string
    required: true
  - name: v1
    type: string
  - name: v2
    type: string
  - name: v3
    type: string
  - name: v4
    type: string
  - name: v5
    type: string
  - name: v6
    type: string
  - name: v7
    type: string
  - name: v8
    type: string
  - name: v9
    type: string
  - name: token
    type: password
";

const ECHO_SCRIPT: &str = r#"set -eu
for name in V1 V2 V3 V4 V5 V6 V7 V8 V9 TOKEN; do
    printf '%s' "${!name}" > "$OUT/$name"
done
compgen -e | sort > "$OUT/env"
if [ -t 0 ]; then echo tty > "$OUT/stdin"; else echo not-a-tty > "$OUT/stdin"; fi
echo "$$ $(ps -o pgid= -p $$) $(ps -o sid= -p $$)" > "$OUT/ids"
pwd > "$OUT/pwd"
ps -eo args > "$OUT/ps"
echo "token is $TOKEN"
echo "done"
"#;

fn corpus_args(out: &Path, values: &[String]) -> Vec<String> {
    let mut args = vec!["--set".to_string(), format!("out={}", out.display())];
    for (i, v) in values.iter().enumerate() {
        args.push("--set".into());
        args.push(format!("v{}={v}", i + 1));
    }
    args.extend([
        "--set-env".to_string(),
        "token=OPSDECK_TEST_TOKEN".to_string(),
    ]);
    args
}

const SECRET: &str = "hunter2-s3cr3t-value";

/// Run the echo installer on `target` with the corpus; check every value arrived literally,
/// nothing was executed, the environment was clean, and the secret reached nothing.
fn corpus_arrives_literally(target: &str, config_toml: Option<&str>) {
    let dirs = TestDirs::new();
    if let Some(toml) = config_toml {
        config(&dirs, toml);
    }
    installer(&dirs, "echo", ECHO_MANIFEST, ECHO_SCRIPT);
    let out = dirs.root().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let marker = dirs.root().join("pwned");
    let values = corpus(&marker);
    let mut args: Vec<String> = ["install", "echo", "--target", target]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(corpus_args(&out, &values));
    args.extend(["--confirm".to_string(), "echo".to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = opsdeck(&dirs, &argv, &[("OPSDECK_TEST_TOKEN", SECRET)]);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("1 of 1 target(s) succeeded"), "{stdout}");
    for (i, value) in values.iter().enumerate() {
        let got = std::fs::read(out.join(format!("V{}", i + 1))).expect("value written");
        assert_eq!(text(&got), *value, "value {} arrived changed", i + 1);
    }
    assert_eq!(
        text(&std::fs::read(out.join("TOKEN")).expect("token")),
        SECRET
    );
    for n in 1..=4 {
        assert!(
            !marker.with_extension(n.to_string()).exists(),
            "a value was executed (marker {n})"
        );
    }
    // A clean environment: PATH, LANG and the inputs (ssh adds the login's own few).
    let env = text(&std::fs::read(out.join("env")).expect("env"));
    let allowed = [
        "PATH", "LANG", "PWD", "SHLVL", "_", "HOME", "USER", "LOGNAME", "OUT", "V1", "V2", "V3",
        "V4", "V5", "V6", "V7", "V8", "V9", "TOKEN", "OLDPWD",
    ];
    for name in env.lines() {
        assert!(
            allowed.contains(&name),
            "{name} leaked into the script's environment: {env}"
        );
    }
    assert!(!env.lines().any(|l| l.starts_with("AWS_")), "{env}");
    assert_eq!(
        text(&std::fs::read(out.join("stdin")).expect("stdin")).trim(),
        "not-a-tty"
    );
    // Its own session and process group.
    let ids = text(&std::fs::read(out.join("ids")).expect("ids"));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids[0] == ids[1] && ids[1] == ids[2],
        "pid, pgid and sid differ: {ids:?}"
    );
    assert!(
        text(&std::fs::read(out.join("pwd")).expect("pwd")).starts_with("/tmp/opsdeck"),
        "runs in a temporary directory"
    );
    // The secret is in no process's command line, no file opsdeck wrote, no output.
    assert!(!contains(
        &std::fs::read(out.join("ps")).expect("ps"),
        SECRET
    ));
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stderr}"
    );
    assert!(
        stderr.contains("token is ****"),
        "masked in the log: {stderr}"
    );
    for (path, bytes) in everything_written(&dirs) {
        assert!(
            !contains(&bytes, SECRET),
            "the secret reached {}",
            path.display()
        );
    }
    // The whole story is audited, the secret as ****.
    let entries = audit_of(&dirs, "run-installer");
    assert_eq!(
        decisions(&entries),
        vec!["requested", "confirmed", "started", "succeeded"]
    );
    assert_eq!(entries[0]["target"]["installer"], "echo");
    assert!(
        entries[0]["target"]["hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:"))
    );
    let token = entries[0]["target"]["inputs"]
        .as_array()
        .and_then(|inputs| inputs.iter().find(|i| i["name"] == "token"))
        .cloned()
        .expect("token in the audit target");
    assert_eq!(token["value"], "****");
}

#[test]
fn local_values_arrive_literally_in_a_clean_session_and_the_secret_reaches_nothing() {
    corpus_arrives_literally("local", None);
}

#[test]
fn ssh_values_arrive_literally_through_stdin_and_the_secret_reaches_nothing() {
    let sshd = Sshd::start();
    corpus_arrives_literally(
        "ssh:opsdeck-test",
        Some(&format!(
            "[targets]\nssh_config = \"{}\"\n",
            sshd.ssh_config.display()
        )),
    );
}

#[test]
fn installers_lists_bundled_and_user_ones_and_names_a_broken_manifest() {
    let dirs = TestDirs::new();
    installer(&dirs, "hello", "timeout_seconds: 60\n", "echo hi\n");
    installer(
        &dirs,
        "broken",
        "timeout_seconds: 60\ninputs:\n  - name: port\n    type: port\n    lable: Port\n",
        "echo\n",
    );
    let out = opsdeck(&dirs, &["installers"], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    for id in [
        "nginx",
        "mariadb",
        "docker",
        "postgresql",
        "redis",
        "node-exporter",
        "fail2ban",
        "chrony",
        "hello",
    ] {
        assert!(stdout.contains(id), "{id} missing:\n{stdout}");
    }
    assert!(stdout.contains("debian 11+, ubuntu 20.04+"), "{stdout}");
    assert!(
        stderr.contains("broken/manifest.yml:9: inputs[0]")
            && stderr.contains("unknown key `lable`"),
        "{stderr}"
    );
    let out = opsdeck(&dirs, &["installers", "--json"], &[]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let nginx = list
        .as_array()
        .and_then(|l| l.iter().find(|i| i["id"] == "nginx"))
        .expect("nginx listed");
    assert_eq!(nginx["os_requirements"]["family"][0], "debian");
    assert!(nginx["inputs"].as_array().is_some_and(|i| i.len() >= 5));
    assert!(
        nginx["hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:"))
    );
}

#[test]
fn bad_input_is_refused_with_exit_2_naming_the_field_before_anything_runs() {
    let dirs = TestDirs::new();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "install",
                "nginx",
                "--target",
                "local",
                "--set",
                "http_port=99999",
                "--plan",
            ],
            "--set http_port: 99999 is not a port",
        ),
        (
            vec![
                "install",
                "mariadb",
                "--target",
                "local",
                "--set",
                "root_password=x",
                "--plan",
            ],
            "--set root_password: root_password is sensitive; pass it with --set-env",
        ),
        (
            vec![
                "install",
                "nginx",
                "--target",
                "ssh:-oProxyCommand=x",
                "--plan",
            ],
            "--target \"ssh:-oProxyCommand=x\"",
        ),
        (
            vec![
                "install",
                "nginx",
                "--target",
                "local",
                "--set",
                "colour=blue",
                "--plan",
            ],
            "--set colour: nginx has no input named \"colour\"",
        ),
        (
            vec!["install", "nope", "--target", "local", "--plan"],
            "no installer \"nope\"",
        ),
        (
            vec!["install", "nginx", "--target", "local", "--confirm", "ngin"],
            "--confirm must be the installer's id exactly",
        ),
        (
            vec!["install", "nginx", "--target", "local"],
            "give exactly one of --plan",
        ),
        (
            vec![
                "install",
                "nginx",
                "--target",
                "local",
                "--set",
                "enable_tls=true",
                "--plan",
            ],
            "--set tls_certificate: Certificate file is required",
        ),
        (
            vec![
                "install",
                "nginx",
                "--target",
                "local",
                "--set-env",
                "server_name=UNSET_VAR",
                "--plan",
            ],
            "the environment variable UNSET_VAR is not set",
        ),
        (
            vec![
                "install",
                "nginx",
                "--target",
                "local",
                "--max-concurrency",
                "0",
                "--plan",
            ],
            "--max-concurrency must be at least 1",
        ),
    ];
    for (args, expected) in cases {
        let out = opsdeck(&dirs, &args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(
        !dirs.audit_log().exists() || audit_of(&dirs, "run-installer").is_empty(),
        "nothing was asked"
    );
}

#[test]
fn plan_preflights_and_changes_nothing_prd_needs_the_id_and_read_only_refuses() {
    let dirs = TestDirs::new();
    config(
        &dirs,
        "[[targets.environment]]\nname = \"PRD\"\nhosts = [\"local\"]\n",
    );
    let out = dirs.root().join("ran");
    installer(
        &dirs,
        "touch",
        "timeout_seconds: 60\ninputs:\n  - name: out\n    type: string\n",
        "touch \"$OUT\"\n",
    );
    let set = format!("out={}", out.display());
    let plan = opsdeck(
        &dirs,
        &[
            "install", "touch", "--target", "local", "--set", &set, "--plan", "--json",
        ],
        &[],
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let value: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("JSON plan");
    assert_eq!(value["result"], "plan");
    assert_eq!(value["targets"][0]["target"], "local");
    assert_eq!(value["targets"][0]["environment"], "PRD");
    assert_eq!(value["typed_confirmation"], true);
    assert!(
        value["targets"][0]["facts"]["cpu_cores"]
            .as_u64()
            .is_some_and(|c| c >= 1)
    );
    assert!(!out.exists(), "--plan ran nothing");
    // read-only refuses the run, and says so in the audit log
    let refused = opsdeck(
        &dirs,
        &[
            "--read-only",
            "install",
            "touch",
            "--target",
            "local",
            "--set",
            &set,
            "--confirm",
            "touch",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("read-only"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!out.exists());
    assert_eq!(
        decisions(&audit_of(&dirs, "run-installer")),
        vec!["requested", "refused-read-only"]
    );
    // in PRD the id is the typed confirmation: given, it runs
    let ran = opsdeck(
        &dirs,
        &[
            "install",
            "touch",
            "--target",
            "local",
            "--set",
            &set,
            "--confirm",
            "touch",
        ],
        &[],
    );
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert!(out.exists());
    let entries = audit_of(&dirs, "run-installer");
    assert_eq!(
        entries.last().map(|e| e["environment"].clone()),
        Some("PRD".into())
    );
}

#[test]
fn a_target_that_does_not_meet_the_manifest_is_refused_at_preflight() {
    let dirs = TestDirs::new();
    let out = dirs.root().join("ran");
    installer(
        &dirs,
        "centos-only",
        "timeout_seconds: 60\nos_requirements:\n  family: [centos]\nresource_requirements:\n  min_ram_mb: 1\n",
        &format!("touch {}\n", out.display()),
    );
    let run = opsdeck(
        &dirs,
        &[
            "install",
            "centos-only",
            "--target",
            "local",
            "--confirm",
            "centos-only",
        ],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("local runs debian") && stderr.contains("needs centos"),
        "{stderr}"
    );
    assert!(!out.exists());
    installer(
        &dirs,
        "huge",
        "timeout_seconds: 60\nresource_requirements:\n  min_ram_mb: 999999999\n",
        "true\n",
    );
    let run = opsdeck(
        &dirs,
        &["install", "huge", "--target", "local", "--plan"],
        &[],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("MiB of RAM; needs 999999999 MiB"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn exit_codes_map_to_failures_and_the_command_exits_1() {
    let dirs = TestDirs::new();
    installer(
        &dirs,
        "fails",
        "timeout_seconds: 60\ninputs:\n  - name: code\n    type: integer\n",
        "echo 'about to fail' >&2\nexit \"$CODE\"\n",
    );
    for (code, words) in [
        ("1", "exit 1: the installer refused an input (validation)"),
        ("2", "exit 2: the installation failed"),
        (
            "3",
            "exit 3: the machine is not as the installer needs it (configuration)",
        ),
    ] {
        let run = opsdeck(
            &dirs,
            &[
                "install",
                "fails",
                "--target",
                "local",
                "--set",
                &format!("code={code}"),
                "--confirm",
                "fails",
                "--json",
            ],
            &[],
        );
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
        let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
        assert_eq!(value["result"], "failed");
        assert_eq!(value["targets"][0]["target"], "local");
        assert_eq!(value["targets"][0]["state"], "failed");
        assert!(
            value["targets"][0]["error"]
                .as_str()
                .is_some_and(|e| e.contains(words)),
            "{value}"
        );
        assert!(text(&run.stderr).contains("about to fail"));
    }
    let entries = audit_of(&dirs, "run-installer");
    assert_eq!(
        decisions(&entries)
            .iter()
            .filter(|d| *d == "failed")
            .count(),
        3
    );
}

// ---------- through the engine: retries, timeout, cancel, rate control, a changed installer

fn settings(sshd: Option<&Sshd>) -> TargetSettings {
    TargetSettings {
        ssh_config: sshd.map(|s| s.ssh_config.clone()),
        kill_grace: Duration::from_secs(1),
        retry_delay: Duration::from_millis(100),
        ..TargetSettings::default()
    }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A run of the user installer in `folder` on `targets` (DEV), as the plan would make it.
fn run_of(
    folder: &Path,
    targets: &[Target],
    given: &BTreeMap<String, String>,
    max_concurrency: Rate,
    max_errors: Rate,
) -> RunInstaller {
    let installer = load_user(folder).unwrap_or_else(|e| panic!("{e}"));
    let inputs: Vec<InputValue> = installer
        .manifest
        .resolve(given)
        .unwrap_or_else(|p| panic!("{p:?}"));
    RunInstaller::new(
        "r-test".into(),
        &installer,
        targets
            .iter()
            .map(|t| ResolvedTarget {
                target: t.clone(),
                environment: Environment::Dev,
                facts: HostFacts::default(),
            })
            .collect(),
        inputs,
        max_concurrency,
        max_errors,
    )
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_targets_are_retried_only_when_idempotent_and_never_after_exit_1() {
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(None));
    let script = "echo attempt >> \"$OUT\"\nexit \"$CODE\"\n";
    let inputs = "inputs:\n  - name: out\n    type: string\n  - name: code\n    type: integer\n";
    let idem = installer(
        &dirs,
        "idem",
        &format!("timeout_seconds: 60\nidempotent: true\n{inputs}"),
        script,
    );
    let once = installer(
        &dirs,
        "once",
        &format!("timeout_seconds: 60\n{inputs}"),
        script,
    );
    for (folder, code, attempts) in [
        (&idem, "2", 3),
        (&idem, "1", 1),
        (&once, "2", 1),
        (&idem, "0", 1),
    ] {
        let out = dirs.root().join(format!(
            "attempts-{code}-{}",
            folder.display().to_string().len()
        ));
        let _ = std::fs::remove_file(&out);
        let op = run_of(
            folder,
            &[Target::Local],
            &values(&[("out", &out.display().to_string()), ("code", code)]),
            Rate::Count(1),
            Rate::Count(0),
        );
        let (job, result) = rig.run(MutatingOp::from(op)).await;
        assert_eq!(result.is_ok(), code == "0", "{result:?}");
        assert_eq!(lines(&out), attempts, "{} exit {code}", folder.display());
        let children = rig.children(job);
        assert_eq!(children.len(), 1);
        let expected = if code == "0" {
            JobState::Succeeded
        } else {
            JobState::Failed
        };
        assert_eq!(children[0].state, expected);
    }
}

/// Whether any live (not zombie) process of group `pgid` is left.
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp …: the fields after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
    })
}

/// Wait (bounded) until group `pgid` has no live process; false if it still has one.
async fn group_gone(pgid: i32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while group_alive(pgid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

fn read_pgid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .expect("pgid written")
        .trim()
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_stops_the_whole_group_even_when_it_ignores_sigterm() {
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(None));
    let pgid_file = dirs.root().join("pgid");
    let folder = installer(
        &dirs,
        "stubborn",
        "timeout_seconds: 2\ninputs:\n  - name: out\n    type: string\n",
        "trap '' TERM\nps -o pgid= -p $$ > \"$OUT\"\nsleep 300 &\nsleep 300 &\necho waiting\nwait\n",
    );
    let op = run_of(
        &folder,
        &[Target::Local],
        &values(&[("out", &pgid_file.display().to_string())]),
        Rate::Count(1),
        Rate::Count(0),
    );
    let (job, result) = rig.run(MutatingOp::from(op)).await;
    let error = result.expect_err("a timed-out run fails");
    assert!(error.contains("timed out"), "{error}");
    let child = &rig.children(job)[0];
    assert_eq!(child.state, JobState::Failed);
    let log = rig.job_log(child.id).join("\n");
    assert!(
        log.contains("timed out after 2s") && log.contains("SIGKILL"),
        "{log}"
    );
    assert!(
        group_gone(read_pgid(&pgid_file)).await,
        "the script's group was killed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_local_run_stops_its_group() {
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(None));
    let pgid_file = dirs.root().join("pgid");
    let folder = installer(
        &dirs,
        "sleeper",
        "timeout_seconds: 600\ninputs:\n  - name: out\n    type: string\n",
        "ps -o pgid= -p $$ > \"$OUT\"\nsleep 300 &\necho sleeping-now\nwait\n",
    );
    let op = run_of(
        &folder,
        &[Target::Local],
        &values(&[("out", &pgid_file.display().to_string())]),
        Rate::Count(1),
        Rate::Count(0),
    );
    let job = rig.submit(MutatingOp::from(op));
    rig.wait_for_log("sleeping-now").await;
    assert!(group_alive(read_pgid(&pgid_file)));
    assert!(rig.engine.cancel(job));
    let result = rig.wait_done(job).await;
    assert!(result.is_err());
    assert_eq!(rig.children(job)[0].state, JobState::Cancelled);
    let record = rig.store.get(job).expect("store").expect("job");
    assert_eq!(record.state, JobState::Cancelled);
    assert!(
        group_gone(read_pgid(&pgid_file)).await,
        "the script's group was stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_changed_after_its_confirmation_does_not_run() {
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(None));
    let ran = dirs.root().join("ran");
    let folder = installer(
        &dirs,
        "moving",
        "timeout_seconds: 60\n",
        &format!("touch {}\n", ran.display()),
    );
    let op = run_of(
        &folder,
        &[Target::Local],
        &values(&[]),
        Rate::Count(1),
        Rate::Count(0),
    );
    // Between the request (hash taken) and the start, the script changes on disk.
    std::fs::write(
        folder.join("install.sh"),
        format!("touch {}.evil\n", ran.display()),
    )
    .expect("rewrite");
    let (job, result) = rig.run(MutatingOp::from(op)).await;
    let error = result.expect_err("refused");
    assert!(error.contains("changed since it was confirmed"), "{error}");
    assert!(
        !ran.exists() && !ran.with_extension("evil").exists(),
        "nothing ran"
    );
    assert!(rig.children(job).is_empty(), "no target was started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_errors_stops_starting_targets_and_cancelling_over_ssh_stops_the_remote_group() {
    let sshd = Sshd::start();
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(Some(&sshd)));
    let targets = [
        Target::Ssh("a".into()),
        Target::Ssh("b".into()),
        Target::Ssh("c".into()),
    ];
    let failing = installer(&dirs, "failing", "timeout_seconds: 60\n", "exit 2\n");
    for (max_errors, failed, not_started) in [(0, 1, 2), (1, 2, 1)] {
        let op = run_of(
            &failing,
            &targets,
            &values(&[]),
            Rate::Count(1),
            Rate::Count(max_errors),
        );
        let (job, result) = rig.run(MutatingOp::from(op)).await;
        assert!(result.is_err());
        let children = rig.children(job);
        assert_eq!(children.len(), 3);
        let count = |s: JobState| children.iter().filter(|c| c.state == s).count();
        assert_eq!(count(JobState::Failed), failed, "max errors {max_errors}");
        assert_eq!(
            count(JobState::Cancelled),
            not_started,
            "max errors {max_errors}"
        );
        assert!(
            children
                .iter()
                .filter(|c| c.state == JobState::Cancelled)
                .all(|c| c
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("not started") && e.contains("max errors"))),
            "{children:?}"
        );
    }
    // Cancel over ssh: the remote script's group goes when opsdeck lets go of stdin.
    let pgid_file = dirs.root().join("remote-pgid");
    let sleeper = installer(
        &dirs,
        "remote-sleeper",
        "timeout_seconds: 600\ninputs:\n  - name: out\n    type: string\n",
        "ps -o pgid= -p $$ > \"$OUT\"\nsleep 300 &\necho remote-sleeping\nwait\n",
    );
    let op = run_of(
        &sleeper,
        &[Target::Ssh("opsdeck-test".into())],
        &values(&[("out", &pgid_file.display().to_string())]),
        Rate::Count(1),
        Rate::Count(0),
    );
    let job = rig.submit(MutatingOp::from(op));
    rig.wait_for_log("remote-sleeping").await;
    let pgid = read_pgid(&pgid_file);
    assert!(group_alive(pgid));
    rig.engine.cancel(job);
    assert!(rig.wait_done(job).await.is_err());
    // The host gets SIGTERM, then SIGKILL 5 s later: wait for it (bounded), no timing asserted.
    assert!(group_gone(pgid).await, "the remote script's group is gone");
    assert_eq!(rig.children(job)[0].state, JobState::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_caps_how_many_targets_run_at_once() {
    let sshd = Sshd::start();
    let dirs = TestDirs::new();
    let mut rig = Rig::start_targets(NO_AWS, &dirs, settings(Some(&sshd)));
    let shared = dirs.root().join("shared");
    for sub in ["running", "started"] {
        std::fs::create_dir_all(shared.join(sub)).expect("dirs");
    }
    // Each run counts who runs with it, then waits (bounded) until a second one has started.
    let folder = installer(
        &dirs,
        "crowd",
        "timeout_seconds: 60\ninputs:\n  - name: dir\n    type: string\n",
        r#"touch "$DIR/running/$$" "$DIR/started/$$"
ls "$DIR/running" | wc -l >> "$DIR/seen"
for _ in $(seq 1 100); do
    [ "$(ls "$DIR/started" | wc -l)" -ge 2 ] && break
    sleep 0.1
done
sleep 0.5
rm -f "$DIR/running/$$"
"#,
    );
    let op = run_of(
        &folder,
        &[
            Target::Ssh("a".into()),
            Target::Ssh("b".into()),
            Target::Ssh("c".into()),
        ],
        &values(&[("dir", &shared.display().to_string())]),
        Rate::Count(2),
        Rate::Count(0),
    );
    let (job, result) = rig.run(MutatingOp::from(op)).await;
    assert!(result.is_ok(), "{result:?}");
    let seen: Vec<usize> = std::fs::read_to_string(shared.join("seen"))
        .expect("seen")
        .lines()
        .map(|l| l.trim().parse().expect("count"))
        .collect();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.iter().max(),
        Some(&2),
        "two at once, never three: {seen:?}"
    );
    assert!(
        rig.children(job)
            .iter()
            .all(|c| c.state == JobState::Succeeded)
    );
}

#[test]
fn an_unreachable_host_or_a_changed_host_key_fails_as_ssh_and_not_as_the_installer() {
    let sshd = Sshd::start();
    let dirs = TestDirs::new();
    config(
        &dirs,
        &format!(
            "[targets]\nssh_config = \"{}\"\n",
            sshd.ssh_config.display()
        ),
    );
    let ran = dirs.root().join("ran");
    installer(
        &dirs,
        "noop",
        "timeout_seconds: 60\n",
        &format!("touch {}\n", ran.display()),
    );
    let run = opsdeck(
        &dirs,
        &["install", "noop", "--target", "ssh:unreachable", "--plan"],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ssh to unreachable failed (exit 255)"),
        "{stderr}"
    );
    // A host whose key is not known: refused (no prompt can accept it).
    std::fs::write(sshd.known_hosts(), "").expect("empty known_hosts");
    let run = opsdeck(
        &dirs,
        &["install", "noop", "--target", "ssh:opsdeck-test", "--plan"],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("verification failed"), "{stderr}");
    // A known_hosts entry that no longer matches: strict checking refuses to connect.
    let other = dirs.root().join("otherkey");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let key = std::fs::read_to_string(other.with_extension("pub")).expect("key");
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    std::fs::write(
        sshd.known_hosts(),
        format!("[127.0.0.1]:{} {}\n", sshd.port, key.join(" ")),
    )
    .expect("known_hosts");
    let run = opsdeck(
        &dirs,
        &["install", "noop", "--target", "ssh:opsdeck-test", "--plan"],
        &[],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exit 255") && stderr.contains("verification failed"),
        "{stderr}"
    );
    assert!(!ran.exists());
}

#[test]
fn a_run_cut_short_by_a_crash_shows_as_interrupted_and_its_audit_trail_is_closed() {
    let dirs = TestDirs::new();
    let pgid_file = dirs.root().join("pgid");
    installer(
        &dirs,
        "sleeper",
        "timeout_seconds: 600\ninputs:\n  - name: out\n    type: string\n",
        "ps -o pgid= -p $$ > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\"\nsleep 300 &\nwait\n",
    );
    support::hermetic_aws_env();
    let set = format!("out={}", pgid_file.display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args([
            "install",
            "sleeper",
            "--target",
            "local",
            "--set",
            &set,
            "--confirm",
            "sleeper",
        ])
        .args(["--endpoint-url", NO_AWS])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut opsdeck_process = command.spawn().expect("run opsdeck");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !pgid_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the script never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // kill -9: no chance to record anything.
    opsdeck_process.kill().expect("kill -9");
    let _ = opsdeck_process.wait();
    // The script, in its own session, outlives the crash (as an SSM command would): stop it.
    let pgid = read_pgid(&pgid_file);
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let jobs = opsdeck(&dirs, &["jobs", "--json"], &[]);
    assert!(jobs.status.success(), "{}", text(&jobs.stderr));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&jobs.stdout).expect("JSON");
    let run = records
        .iter()
        .find(|r| r["operation"] == "run-installer" && r["parent"].is_null())
        .expect("the run's job");
    assert_eq!(run["state"], "interrupted", "{run}");
    let target = records
        .iter()
        .find(|r| r["parent"] == run["id"])
        .expect("the target's job");
    assert_eq!(target["state"], "interrupted", "{target}");
    assert_eq!(
        decisions(&audit_of(&dirs, "run-installer")),
        vec!["requested", "confirmed", "started", "interrupted"],
        "one closing entry for the run, none for its target"
    );
}

// ---- `run-installer` and `list-installers` as registry actions (`opsdeck run`, the
// assistant's tools): the same plan as `opsdeck install`, and no secret through an argument.

/// `opsdeck run ARGS…`.
fn run_action(dirs: &TestDirs, args: &[&str]) -> Output {
    let mut argv = vec!["run"];
    argv.extend_from_slice(args);
    opsdeck(dirs, &argv, &[])
}

/// An installer whose script writes its greeting to `out`.
fn hello(dirs: &TestDirs, out: &Path) {
    installer(
        dirs,
        "hello",
        "timeout_seconds: 60\ninputs:\n  - name: greeting\n    type: string\n    default: hi\n  - name: port\n    type: port\n    default: \"8080\"\n",
        &format!(
            "printf '%s:%s' \"$GREETING\" \"$PORT\" > '{}'\n",
            out.display()
        ),
    );
}

#[test]
fn run_installer_through_opsdeck_run_plans_runs_and_is_audited_as_install_is() {
    let dirs = TestDirs::new();
    let out = dirs.root().join("greeted");
    hello(&dirs, &out);
    let plan = run_action(
        &dirs,
        &[
            "run-installer",
            "--arg",
            "installer=hello",
            "--arg",
            "target=local",
            "--plan",
            "--json",
        ],
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let value: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("JSON plan");
    assert_eq!(value["action"], "run-installer");
    assert_eq!(value["mutating"], true);
    assert_eq!(value["result"], "planned");
    // Local is unmapped without a rule: the id typed.
    assert_eq!(value["confirmation"], "type hello");
    let run = &value["target"];
    assert_eq!(run["installer"], "hello");
    assert_eq!(run["version"], "1.0.0");
    assert!(
        run["hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:") && h.len() == 71),
        "{run}"
    );
    assert_eq!(run["targets"][0]["target"], "local");
    assert_eq!(run["targets"][0]["environment"], "UNMAPPED");
    assert!(
        run["targets"][0]["facts"]["cpu_cores"]
            .as_u64()
            .is_some_and(|c| c >= 1),
        "preflighted: {run}"
    );
    assert_eq!(run["inputs"][0]["name"], "greeting");
    assert_eq!(run["inputs"][0]["value"], "hi");
    assert_eq!(run["max_concurrency"], "1");
    assert!(!out.exists(), "--plan ran nothing");
    assert!(audit_of(&dirs, "run-installer").is_empty());

    // read-only refuses it at the gate, audited
    let refused = opsdeck(
        &dirs,
        &[
            "--read-only",
            "run",
            "run-installer",
            "--arg",
            "installer=hello",
            "--arg",
            "target=local",
            "--confirm",
            "hello",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("read-only"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!out.exists());
    assert_eq!(
        decisions(&audit_of(&dirs, "run-installer")),
        vec!["requested", "refused-read-only"]
    );

    // the typed id runs it, with the values given (targets as a list, values by name)
    let ran = run_action(
        &dirs,
        &[
            "run-installer",
            "--arg",
            "installer=hello",
            "--arg",
            "targets=local",
            "--arg",
            "values.greeting=hello there",
            "--arg",
            "max_concurrency=1",
            "--confirm",
            "hello",
            "--json",
        ],
    );
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let value: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("JSON result");
    assert_eq!(value["result"], "done", "{value}");
    assert_eq!(
        text(&std::fs::read(&out).expect("the script ran")),
        "hello there:8080"
    );
    let entries = audit_of(&dirs, "run-installer");
    assert_eq!(
        decisions(&entries),
        vec![
            "requested",
            "refused-read-only",
            "requested",
            "confirmed",
            "started",
            "succeeded"
        ]
    );
    assert_eq!(entries[2]["target"]["installer"], "hello");
}

#[test]
fn run_installer_refuses_bad_arguments_naming_the_field_before_anything_runs() {
    let dirs = TestDirs::new();
    let out = dirs.root().join("greeted");
    hello(&dirs, &out);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["installer=nope", "target=local"],
            2,
            "no installer \"nope\"",
        ),
        (vec!["installer=hello"], 2, "name at least one target"),
        (
            vec!["installer=hello", "target=ssh:-oProxyCommand=x"],
            2,
            "ssh:-oProxyCommand=x",
        ),
        (
            vec!["installer=hello", "target=local", "values.port=99999"],
            2,
            "values.port: 99999 is not a port",
        ),
        (
            vec!["installer=hello", "target=local", "values.colour=blue"],
            2,
            "values.colour: hello has no input named \"colour\"",
        ),
        (
            vec!["installer=hello", "target=local", "colour=blue"],
            2,
            "run-installer takes no argument colour",
        ),
        (
            vec!["installer=hello", "target=local", "max_concurrency=0"],
            2,
            "max_concurrency must be at least 1",
        ),
    ];
    for (pairs, code, expected) in cases {
        let mut args = vec!["run-installer"];
        for pair in &pairs {
            args.extend(["--arg", pair]);
        }
        args.push("--plan");
        let out = run_action(&dirs, &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{pairs:?}: {stderr}");
        assert!(stderr.contains(expected), "{pairs:?}: {stderr}");
    }
    assert!(!out.exists());
    assert!(
        audit_of(&dirs, "run-installer").is_empty(),
        "nothing was asked"
    );
}

#[test]
fn a_sensitive_input_is_never_taken_from_an_argument_or_a_tool() {
    let dirs = TestDirs::new();
    let ran = dirs.root().join("ran");
    installer(
        &dirs,
        "secretive",
        "timeout_seconds: 60\ninputs:\n  - name: api_token\n    type: password\n    required: true\n",
        &format!("touch '{}'\n", ran.display()),
    );
    let sentence = "from the console form (:install secretive) or with `opsdeck install secretive --set-env api_token=ENV_VAR`";
    // A required secret with no default: refused, saying where to give it.
    let out = run_action(
        &dirs,
        &[
            "run-installer",
            "--arg",
            "installer=secretive",
            "--arg",
            "target=local",
            "--plan",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("api_token is sensitive") && stderr.contains(sentence),
        "{stderr}"
    );
    // Given anyway: refused, and the value is repeated nowhere.
    let out = run_action(
        &dirs,
        &[
            "run-installer",
            "--arg",
            "installer=secretive",
            "--arg",
            "target=local",
            "--arg",
            &format!("values.api_token={SECRET}"),
            "--confirm",
            "secretive",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(sentence), "{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stderr}"
    );
    for (path, bytes) in everything_written(&dirs) {
        assert!(
            !contains(&bytes, SECRET),
            "the secret reached {}",
            path.display()
        );
    }
    // A bundled one too (MariaDB's root password).
    let out = run_action(
        &dirs,
        &[
            "run-installer",
            "--arg",
            "installer=mariadb",
            "--arg",
            "target=local",
            "--plan",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("root_password is sensitive"),
        "{}",
        text(&out.stderr)
    );
    assert!(!ran.exists());
    assert!(
        audit_of(&dirs, "run-installer").is_empty(),
        "nothing was asked"
    );
}

#[test]
fn list_installers_answers_the_catalog_with_inputs_and_no_secret() {
    let dirs = TestDirs::new();
    hello(&dirs, &dirs.root().join("greeted"));
    let out = run_action(&dirs, &["list-installers", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["action"], "list-installers");
    assert_eq!(value["mutating"], false);
    let list = value["output"]["installers"].as_array().expect("a list");
    let find = |id: &str| {
        list.iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {value}"))
    };
    for id in [
        "nginx",
        "mariadb",
        "docker",
        "postgresql",
        "redis",
        "node-exporter",
        "fail2ban",
        "chrony",
    ] {
        find(id);
    }
    let hello = find("hello");
    assert_eq!(hello["version"], "1.0.0");
    assert_eq!(hello["inputs"][1]["name"], "port");
    assert_eq!(hello["inputs"][1]["type"], "port");
    assert_eq!(hello["inputs"][1]["default"], "8080");
    let nginx = find("nginx");
    assert_eq!(nginx["os_requirements"]["family"][0], "debian");
    let root = find("mariadb")["inputs"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == "root_password"))
        .cloned()
        .expect("mariadb's root password input");
    assert_eq!(root["type"], "password");
    assert_eq!(root["sensitive"], true);
    assert!(
        root.get("default").is_none() && root.get("value").is_none(),
        "{root}"
    );
    // One installer by id; an unknown id is a clear error.
    let one = run_action(
        &dirs,
        &["list-installers", "--arg", "installer=hello", "--json"],
    );
    assert!(one.status.success(), "{}", text(&one.stderr));
    let value: serde_json::Value = serde_json::from_slice(&one.stdout).expect("JSON");
    assert_eq!(
        value["output"]["installers"].as_array().map(Vec::len),
        Some(1)
    );
    let none = run_action(&dirs, &["list-installers", "--arg", "installer=nope"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("no installer \"nope\""),
        "{}",
        text(&none.stderr)
    );
}
