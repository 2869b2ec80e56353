//! `opsdeck deploy` and `opsdeck delete` as a script runs them: the real binary against moto.

mod support;

use std::process::{Command, Output};
use support::{MotoServer, TestDirs, hermetic_aws_env};

fn opsdeck(moto: &MotoServer, dirs: &TestDirs, args: &[&str]) -> Output {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .args(["--endpoint-url", &moto.endpoint(), "--env", "DEV"])
        .env("OPSDECK_LOG", "warn");
    command.output().expect("run opsdeck")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PARAMS: [&str; 4] = [
    "--param",
    "Owner=platform-team",
    "--param",
    "CostCenter=cc-1234",
];

fn deploy_args<'a>(stack: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["deploy", "s3-bucket", "--stack", stack];
    args.extend(PARAMS);
    args.extend(extra);
    args
}

#[test]
fn plan_prints_the_change_set_and_leaves_nothing_behind() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let out = opsdeck(&moto, &dirs, &deploy_args("planned", &["--plan"]));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("Change set opsdeck-"), "{stdout}");
    assert!(stdout.contains("(CREATE)"), "{stdout}");
    assert!(stdout.contains("AWS::S3::Bucket"), "{stdout}");
    let rt = support::runtime();
    let cfn = moto.cfn();
    let left = rt.block_on(support::live_stack_names(&cfn));
    assert!(
        !left.contains(&"planned".to_string()),
        "the REVIEW_IN_PROGRESS stack is deleted again: {left:?}"
    );
    let audit = support::read_audit(&dirs.audit_log());
    let ops: Vec<String> = audit
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["operation"].as_str().unwrap_or(""),
                e["decision"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "create-change-set confirmed",
        "create-change-set succeeded",
        "discard-change-set succeeded",
    ] {
        assert!(ops.iter().any(|o| o == expected), "{expected}: {ops:?}");
    }
}

#[test]
fn deploy_then_delete_with_the_typed_name() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    // --confirm must be the stack name: anything else is refused before AWS is asked.
    let wrong = opsdeck(&moto, &dirs, &deploy_args("web", &["--confirm", "wbe"]));
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(
        text(&wrong.stderr).contains("--confirm must be the stack name"),
        "{}",
        text(&wrong.stderr)
    );

    // moto can update an S3 bucket stack only when the bucket's name is given.
    let out = opsdeck(
        &moto,
        &dirs,
        &deploy_args(
            "web",
            &[
                "--param",
                "BucketName=opsdeck-headless-web",
                "--confirm",
                "web",
                "--json",
            ],
        ),
    );
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["result"], "deployed", "{json:#}");
    assert_eq!(json["environment"], "DEV");
    let rt = support::runtime();
    let cfn = moto.cfn();
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "web")).as_deref(),
        Some("CREATE_COMPLETE")
    );

    // An update with one changed parameter: the others keep their values.
    let update = opsdeck(
        &moto,
        &dirs,
        &[
            "deploy",
            "s3-bucket",
            "--stack",
            "web",
            "--param",
            "CostCenter=cc-9999",
            "--confirm",
            "web",
        ],
    );
    assert!(update.status.success(), "{}", text(&update.stderr));
    assert!(
        text(&update.stdout).contains("(UPDATE)"),
        "{}",
        text(&update.stdout)
    );
    let params = rt.block_on(async {
        cfn.describe_stacks()
            .stack_name("web")
            .send()
            .await
            .expect("describe")
            .stacks()[0]
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap_or_default().to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    });
    assert_eq!(params["CostCenter"], "cc-9999", "{params:?}");
    assert_eq!(params["Owner"], "platform-team", "{params:?}");
    assert_eq!(
        rt.block_on(support::stack_status(&cfn, "web")).as_deref(),
        Some("UPDATE_COMPLETE")
    );

    let delete = opsdeck(
        &moto,
        &dirs,
        &["delete", "--stack", "web", "--confirm", "web"],
    );
    assert!(delete.status.success(), "{}", text(&delete.stderr));
    assert!(rt.block_on(support::stack_is_gone(&cfn, "web")));
    let audit = support::read_audit(&dirs.audit_log());
    let decisions = support::decisions_for_stack(&audit, "web");
    assert!(
        decisions.ends_with(&[
            "requested".to_string(),
            "confirmed".to_string(),
            "started".to_string(),
            "succeeded".to_string()
        ]),
        "{decisions:?}"
    );
    let verify = opsdeck(&moto, &dirs, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

#[test]
fn read_only_refuses_plan_deploy_and_delete_and_changes_nothing() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let rt = support::runtime();
    let cfn = moto.cfn();
    rt.block_on(support::create_stack(&cfn, "keep"));
    for args in [
        deploy_args("ro", &["--plan", "--read-only"]),
        deploy_args("ro", &["--confirm", "ro", "--read-only"]),
        vec![
            "delete",
            "--stack",
            "keep",
            "--confirm",
            "keep",
            "--read-only",
        ],
    ] {
        let out = opsdeck(&moto, &dirs, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("read-only"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let names = rt.block_on(support::live_stack_names(&cfn));
    assert_eq!(names, vec!["keep".to_string()]);
    let audit = support::read_audit(&dirs.audit_log());
    assert!(
        audit
            .iter()
            .all(|e| e["decision"] != "started" && e["decision"] != "confirmed"),
        "{audit:#?}"
    );
    assert!(
        audit.iter().any(|e| e["decision"] == "refused-read-only"),
        "{audit:#?}"
    );
}

const SECRET_TEMPLATE: &str = r#"Parameters:
  Token:
    Type: String
    NoEcho: true
    MinLength: 8
    Description: A secret the stack needs.
  TopicName:
    Type: String
    Default: secret-test-topic
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref TopicName
"#;

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn secrets_come_from_the_environment_and_reach_no_file() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let template = dirs.root().join("secret.yaml");
    std::fs::write(&template, SECRET_TEMPLATE).expect("write template");
    let template = template.display().to_string();
    const SECRET: &str = "s3cr3t-value-do-not-leak";

    // On the command line it would show in ps and shell history: refused before anything runs.
    let refused = opsdeck(
        &moto,
        &dirs,
        &[
            "deploy",
            &template,
            "--stack",
            "secretive",
            "--param",
            &format!("Token={SECRET}"),
            "--plan",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("--param-env Token=ENV_VAR"),
        "{}",
        text(&refused.stderr)
    );

    // From the environment, with the most verbose diagnostics there are.
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    let out = command
        .args([
            "deploy",
            &template,
            "--stack",
            "secretive",
            "--param-env",
            "Token=OPSDECK_TEST_TOKEN",
            "--confirm",
            "secretive",
            "--endpoint-url",
            &moto.endpoint(),
            "--env",
            "DEV",
        ])
        .env("OPSDECK_TEST_TOKEN", SECRET)
        .env("OPSDECK_LOG", "trace")
        .output()
        .expect("run opsdeck");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(SECRET));
    assert!(!text(&out.stderr).contains(SECRET));
    let files = files_under(dirs.root());
    assert!(
        files.iter().any(|f| f.ends_with("opsdeck.log")),
        "the trace log exists: {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "the secret is in {}", file.display());
    }
}
