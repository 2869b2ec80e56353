//! The `ssm:` target against moto: SendCommand (AWS-RunShellScript), GetCommandInvocation,
//! a SecureString parameter for the inputs, the instance's tags, and the whole output from
//! CloudWatch Logs. moto runs nothing and writes no output, so a stand-in agent
//! (`support/ssm_agent.py`) runs each command with bash and writes its output where the real
//! agent does; it also checks that no input value is part of any command.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use support::{MotoServer, TestDirs};

const GROUP: &str = "/opsdeck/test-runs";
const SECRET: &str = "t0ken-n0t-f0r-ssm-history";
const PLAIN: &str = "plain-value-kept-out-too";

/// The stand-in agent: one instance, its own workdir; stopped when dropped.
struct Agent {
    child: Child,
    dir: tempfile::TempDir,
    instance: String,
}

impl Agent {
    fn start(moto: &MotoServer, tags: &[&str]) -> Agent {
        Agent::start_forbidding(moto, tags, &[SECRET, PLAIN])
    }

    /// An agent that reports any of `forbidden` found in a command.
    fn start_forbidding(moto: &MotoServer, tags: &[&str], forbidden: &[&str]) -> Agent {
        let python = support::moto_server_bin()
            .parent()
            .expect("venv bin")
            .join("python");
        let dir = tempfile::tempdir().expect("agent dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/ssm_agent.py");
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .args([&moto.endpoint(), support::REGION, GROUP])
            .arg(dir.path())
            .args(forbidden.iter().flat_map(|v| ["--forbid", v]))
            .args(tags.iter().flat_map(|t| ["--tag", t]))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        support::kill_with_parent_thread(&mut command);
        let mut child = command.spawn().expect("run the stand-in agent");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the agent prints the instance id");
        let instance = first.trim().to_string();
        assert!(instance.starts_with("i-"), "agent said {first:?}");
        Agent {
            child,
            dir,
            instance,
        }
    }

    fn leaks(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("leaks")).unwrap_or_default()
    }

    /// What the instance saw of the parameters it read (type, tier, policies).
    fn parameters(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("parameters")).unwrap_or_default()
    }

    fn ran(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("ran"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.path().join("stop"), "");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn setup(dirs: &TestDirs, script: &str) {
    let config = dirs.config_home().join("opsdeck/config.toml");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("config dir");
    std::fs::write(
        &config,
        format!(
            "[targets]\nssm_log_group = \"{GROUP}\"\n\n[[targets.environment]]\nname = \"PRD\"\ninstance_tags = {{ Environment = \"prod*\" }}\n"
        ),
    )
    .expect("config");
    let folder = dirs.config_home().join("opsdeck/installers/remote");
    std::fs::create_dir_all(&folder).expect("installer folder");
    std::fs::write(
        folder.join("manifest.yml"),
        "id: remote\nname: Remote\nversion: 2.0.0\ninstall_script: install.sh\ntimeout_seconds: 120\n\
         inputs:\n  - name: greeting\n    type: string\n  - name: token\n    type: password\n",
    )
    .expect("manifest");
    std::fs::write(folder.join("install.sh"), script).expect("script");
}

fn opsdeck(moto: &MotoServer, dirs: &TestDirs, args: &[&str]) -> Output {
    support::hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .args([
            "--endpoint-url",
            &moto.endpoint(),
            "--region",
            support::REGION,
        ])
        .env("OPSDECK_LOG", "warn")
        .env("OPSDECK_TEST_TOKEN", SECRET);
    command.output().expect("run opsdeck")
}

/// Far more than the 24,000 characters GetCommandInvocation would give inline.
const LONG_SCRIPT: &str = r#"echo "greeting is $GREETING"
echo "token is $TOKEN"
echo "agent env: ${SSM_AGENT_SECRET_ENV:-cleaned}"
for i in $(seq 1 400); do
    printf 'line %03d %s\n' "$i" "$(printf 'x%.0s' $(seq 1 80))"
done
echo "to stderr" >&2
echo last-line
"#;

#[test]
fn an_ssm_run_takes_its_inputs_from_a_secure_string_and_its_whole_output_from_cloudwatch() {
    let moto = MotoServer::start();
    let agent = Agent::start(&moto, &["Environment=production"]);
    let dirs = TestDirs::new();
    setup(&dirs, LONG_SCRIPT);
    let target = format!("ssm:{}", agent.instance);
    let greeting = format!("greeting={PLAIN}");
    let plan = opsdeck(
        &moto,
        &dirs,
        &[
            "install",
            "remote",
            "--target",
            &target,
            "--set",
            &greeting,
            "--set-env",
            "token=OPSDECK_TEST_TOKEN",
            "--plan",
            "--json",
        ],
    );
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let value: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("JSON");
    let t = &value["targets"][0];
    assert_eq!(t["environment"], "PRD", "by the instance's tag: {value}");
    assert_eq!(t["facts"]["tags"]["Environment"], "production");
    assert_eq!(t["facts"]["aws_cli"], true);
    assert!(
        t["facts"]["cpu_cores"].as_u64().is_some_and(|c| c >= 1),
        "{t}"
    );
    assert_eq!(value["typed_confirmation"], true);

    let run = opsdeck(
        &moto,
        &dirs,
        &[
            "install",
            "remote",
            "--target",
            &target,
            "--set",
            &greeting,
            "--set-env",
            "token=OPSDECK_TEST_TOKEN",
            "--confirm",
            "remote",
        ],
    );
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        "greeting is plain-value-kept-out-too",
        "token is ****",
        "agent env: cleaned",
        "line 001",
        "line 400",
        "to stderr",
        "last-line",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
    }
    let output: usize = stderr
        .lines()
        .filter(|l| l.contains("] line "))
        .map(str::len)
        .sum();
    assert!(
        output > 24_000,
        "the whole output, not the inline copy ({output})"
    );
    assert!(!stderr.contains(SECRET) && !stdout.contains(SECRET));
    // No input value was ever part of a command (SSM keeps those in its history).
    assert_eq!(agent.leaks(), "");
    assert_eq!(agent.ran(), 3, "two preflights and the run");
    // The inputs came from one SecureString that expires by itself should opsdeck die.
    let parameters = agent.parameters();
    assert_eq!(parameters.lines().count(), 1, "{parameters}");
    assert!(
        parameters.contains("\"Type\": \"SecureString\""),
        "{parameters}"
    );
    assert!(
        parameters.contains("\"Tier\": \"Advanced\""),
        "{parameters}"
    );
    assert!(parameters.contains("Expiration"), "{parameters}");
    // The parameter that carried them is gone.
    let rt = support::runtime();
    let ssm = ssm_client(&moto);
    let left = rt
        .block_on(
            ssm.get_parameters_by_path()
                .path("/opsdeck/run/")
                .recursive(true)
                .send(),
        )
        .expect("GetParametersByPath");
    assert!(left.parameters().is_empty(), "{:?}", left.parameters());
    for entry in walk(&dirs.data_dir()) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret reached {}",
            entry.display()
        );
    }
}

#[test]
fn an_ssm_script_that_fails_fails_the_run_with_its_exit_code() {
    let moto = MotoServer::start();
    let agent = Agent::start(&moto, &[]);
    let dirs = TestDirs::new();
    setup(&dirs, "echo 'cannot install' >&2\nexit 2\n");
    let target = format!("ssm:{}", agent.instance);
    let run = opsdeck(
        &moto,
        &dirs,
        // No inputs: nothing goes to Parameter Store. The account is unmapped: typed.
        &[
            "install",
            "remote",
            "--target",
            &target,
            "--confirm",
            "remote",
            "--json",
        ],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(value["targets"][0]["state"], "failed");
    assert!(
        value["targets"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("exit 2: the installation failed")),
        "{value}\n{stderr}"
    );
    assert!(stderr.contains("cannot install"), "{stderr}");
}

#[test]
fn ssm_values_arrive_literally_through_the_secure_string() {
    let moto = MotoServer::start();
    let out = tempfile::tempdir().expect("out dir");
    let marker = out.path().join("pwned");
    let m = marker.display();
    let values = [
        format!("$(touch {m}.1)"),
        format!("`touch {m}.2`; touch {m}.3"),
        format!("line one\nline two && touch {m}.4"),
        "it's \"quoted\" \\back\\slash ../../etc/passwd ${HOME} *".to_string(),
    ];
    let forbidden: Vec<&str> = values.iter().map(String::as_str).collect();
    let agent = Agent::start_forbidding(&moto, &[], &forbidden);
    let dirs = TestDirs::new();
    setup(&dirs, "");
    let folder = dirs.config_home().join("opsdeck/installers/literal");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(
        folder.join("manifest.yml"),
        [
            "id: literal\nname: Literal\nversion: 1.0.0\ninstall_script: install.sh\n",
            "timeout_seconds: 120\ninputs:\n  - name: out\n    type: string\n",
            "  - name: v1\n    type: string\n  - name: v2\n    type: string\n",
            "  - name: v3\n    type: string\n  - name: v4\n    type: string\n",
        ]
        .concat(),
    )
    .expect("manifest");
    std::fs::write(
        folder.join("install.sh"),
        "for n in V1 V2 V3 V4; do printf '%s' \"${!n}\" > \"$OUT/$n\"; done\necho written\n",
    )
    .expect("script");
    let target = format!("ssm:{}", agent.instance);
    let mut args: Vec<String> = [
        "install",
        "literal",
        "--target",
        &target,
        "--confirm",
        "literal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(["--set".into(), format!("out={}", out.path().display())]);
    for (i, v) in values.iter().enumerate() {
        args.extend(["--set".into(), format!("v{}={v}", i + 1)]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = opsdeck(&moto, &dirs, &argv);
    assert!(run.status.success(), "{}", text(&run.stderr));
    for (i, v) in values.iter().enumerate() {
        let got = std::fs::read(out.path().join(format!("V{}", i + 1))).expect("written");
        assert_eq!(text(&got), *v, "value {} arrived changed", i + 1);
    }
    for n in 1..=4 {
        assert!(
            !marker.with_extension(n.to_string()).exists(),
            "marker {n}: executed"
        );
    }
    assert_eq!(agent.leaks(), "", "no value is part of any command");
}

fn ssm_client(moto: &MotoServer) -> aws_sdk_ssm::Client {
    use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(support::REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
