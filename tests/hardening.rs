//! Issue 8, "Secrets and files" and "Crashes": the real binary against moto and the loopback
//! CloudFormation stub, with hostile environments and files.
//!
//! * no credential, session token, Authorization header or signature reaches any file
//!   opsdeck writes, at any log level, whatever `OPSDECK_LOG` directives are given;
//! * everything opsdeck writes is 0600 in 0700 directories, even under umask 0;
//! * FIFOs, devices, directories and huge files handed to opsdeck end in an error, never a
//!   hang (each run is bounded; the bound only turns a hang into a failure);
//! * a deploy killed with SIGKILL keeps its job log up to its last second, and its
//!   `interrupted` audit entry says who asked and in which environment;
//! * a reader closing the pipe ends the output quietly.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::cfn_stub::{self, CfnStub, ChangeSetPlan};
use support::{MotoServer, TestDirs, hermetic_aws_env};

/// Only turns a hang into a failure; nothing here is a claim about speed.
const BOUND: Duration = Duration::from_secs(120);

fn opsdeck(dirs: &TestDirs) -> Command {
    hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command.stdin(Stdio::null());
    command
}

/// Waits for `child` at most [`BOUND`]; a child still running then is killed and the test
/// fails, saying what hung.
fn finish(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(_status) = child.try_wait().expect("try_wait") {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what}: still running after {BOUND:?}, so it hangs; stderr:\n{}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(mut command: Command, what: &str) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn opsdeck");
    finish(child, what)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file and directory under `dir`, recursively (symlinks not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// Every file and directory in opsdeck's data dir is the user's alone.
fn assert_private(dirs: &TestDirs) {
    let data = dirs.data_dir();
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    let all = walk(&data);
    assert!(
        all.iter().any(|p| p.ends_with("jobs.sqlite3")),
        "the run wrote its files: {all:?}"
    );
    for path in all {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{} is {:o}", path.display(), mode(&path));
    }
}

// ---------------------------------------------------------------------------------------
// Secrets

const KEY_ID: &str = "AKIAOPSDECKTESTKEY01";
const DEPLOY_PARAMS: [&str; 4] = [
    "--param",
    "Owner=platform-team",
    "--param",
    "CostCenter=cc-1234",
];

/// Runs `args` with credentials whose secret key and session token are unique markers and
/// `OPSDECK_LOG=directives`, then greps stdout, stderr and every file under the test's root
/// for the markers.
fn assert_no_credential_anywhere(dirs: &TestDirs, endpoint: &str, args: &[&str], directives: &str) {
    let secret = format!("opsdeck-secret-marker-{}", std::process::id());
    let token = format!("opsdeck-session-marker-{}", std::process::id());
    let mut command = opsdeck(dirs);
    command
        .args(args)
        .args(["--endpoint-url", endpoint, "--env", "DEV"])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_SESSION_TOKEN", &token)
        .env("OPSDECK_LOG", directives);
    let out = run(command, &format!("{args:?} at {directives}"));
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), out.stdout.clone()),
        ("stderr".into(), out.stderr.clone()),
    ];
    for path in walk(dirs.root()) {
        if path.is_file() {
            places.push((
                path.display().to_string(),
                std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    assert!(
        dirs.data_dir().join("opsdeck.log").is_file(),
        "{args:?}: the trace log was opened"
    );
    for (place, bytes) in places {
        for marker in [token.as_str(), secret.as_str(), KEY_ID] {
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{args:?} at OPSDECK_LOG={directives}: {marker} is in {place}"
            );
        }
    }
}

/// The ways a person might ask for every detail of the SDK.
const DIRECTIVES: [&str; 3] = [
    "trace",
    "aws_smithy_runtime=trace,aws_smithy_runtime::client::orchestrator=trace,aws_smithy_runtime::client::http=trace,aws_sigv4=trace,aws_sigv4::http_request::sign=trace",
    "off,opsdeck=trace,hyper=trace,hyper_util=trace,aws_smithy_http_client=trace,aws_config=trace,aws_runtime=trace,[{rpc.system}]=trace",
];

#[test]
fn no_credential_or_session_token_reaches_any_file_at_any_log_level() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    let rt = support::runtime();
    rt.block_on(support::create_stack(&moto.cfn(), "existing"));
    let mut deploy = vec!["deploy", "s3-bucket", "--stack", "planned", "--plan"];
    deploy.extend(DEPLOY_PARAMS);
    for directives in DIRECTIVES {
        assert_no_credential_anywhere(
            &dirs,
            &moto.endpoint(),
            &["check", "--stack", "existing"],
            directives,
        );
        assert_no_credential_anywhere(&dirs, &moto.endpoint(), &deploy, directives);
    }
}

/// A server that refuses every request the way AWS refuses a bad signature: its message
/// quotes the canonical request, session token included, and the access key id.
fn signature_refuser(token: String) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(_) => return,
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            // Read the head and the body the Content-Length announces.
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                let seen = String::from_utf8_lossy(&request).into_owned();
                if let Some(head_end) = seen.find("\r\n\r\n") {
                    let length = seen[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        break;
                    }
                }
            }
            let message = format!(
                "The request signature we calculated does not match the signature you provided. \
                 The Canonical String for this request should have been 'POST\n/\n\n\
                 host:127.0.0.1\nx-amz-date:20260101T000000Z\nx-amz-security-token:{token}\n\n\
                 host;x-amz-date;x-amz-security-token\ne3b0c442' with Credential={KEY_ID}/20260101/us-east-1/sts/aws4_request"
            );
            let body = format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
            );
            let response = format!(
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            use std::io::Write as _;
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (endpoint, handle)
}

#[test]
fn a_refusal_that_quotes_the_signed_request_reaches_no_file_and_no_screen() {
    let dirs = TestDirs::new();
    let token = format!("opsdeck-session-marker-{}", std::process::id());
    let (endpoint, _server) = signature_refuser(token);
    for directives in ["trace", "info"] {
        assert_no_credential_anywhere(
            &dirs,
            &endpoint,
            &["check", "--stack", "anything"],
            directives,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Files opsdeck writes

#[test]
fn everything_opsdeck_writes_is_private_even_under_umask_0() {
    let moto = MotoServer::start();
    let dirs = TestDirs::new();
    // What an older version left behind: a world-readable data dir, log and job logs.
    let data = dirs.data_dir();
    std::fs::create_dir_all(data.join("job-logs")).expect("mkdir");
    for dir in [&data, &data.join("job-logs")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(data.join("opsdeck.log"), "old\n").expect("write");
    std::fs::set_permissions(
        data.join("opsdeck.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");

    let report = dirs.root().join("report.sarif");
    let mut deploy = vec!["deploy", "s3-bucket", "--stack", "private", "--plan"];
    deploy.extend(DEPLOY_PARAMS);
    let report_arg = report.display().to_string();
    let runs: [Vec<&str>; 3] = [
        deploy,
        vec![
            "check",
            "s3-bucket",
            "--format",
            "sarif",
            "--output",
            &report_arg,
        ],
        vec!["jobs"],
    ];
    for args in runs {
        let mut command = opsdeck(&dirs);
        command
            .args(&args)
            .args(["--endpoint-url", &moto.endpoint(), "--env", "DEV"])
            .env("OPSDECK_LOG", "debug");
        // SAFETY: umask is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        let out = run(command, &format!("{args:?}"));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    assert_private(&dirs);
    assert_eq!(mode(&report), 0o600, "a report named on the command line");
}

// ---------------------------------------------------------------------------------------
// Files a person hands opsdeck

fn fifo(path: &Path) -> PathBuf {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    path.to_path_buf()
}

#[test]
fn fifos_devices_and_huge_files_end_in_errors_not_hangs() {
    let dirs = TestDirs::new();
    let root = dirs.root();
    let config_dir = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(config_dir.join("policies")).expect("mkdir");
    std::fs::create_dir_all(config_dir.join("themes")).expect("mkdir");

    // --config naming a FIFO, /dev/zero, a 25 MB file.
    let pipe = fifo(&root.join("config.fifo"));
    let zero = root.join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let huge = root.join("huge.toml");
    std::fs::write(&huge, "#".repeat(25_000_000)).expect("write");
    for (config, says) in [
        (&pipe, "a FIFO (named pipe), not a regular file"),
        (&zero, "a character device, not a regular file"),
        (&huge, "larger than 1 MiB, the limit for a config file"),
    ] {
        let mut command = opsdeck(&dirs);
        command
            .args(["deploy", "s3-bucket", "--stack", "x", "--plan"])
            .args(DEPLOY_PARAMS)
            .arg("--config")
            .arg(config);
        let out = run(command, &format!("--config {}", config.display()));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&config.display().to_string()), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }

    // Waivers and a policy that are FIFOs; a template that is one.
    fifo(&config_dir.join("waivers.toml"));
    fifo(&config_dir.join("policies/team.rego"));
    let template = fifo(&root.join("template.yaml"));
    let mut command = opsdeck(&dirs);
    command.arg("check").arg(&template).arg("s3-bucket");
    let out = run(command, "check with FIFOs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "cannot judge: {stderr}");
    for named in ["waivers.toml", "team.rego", "template.yaml"] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    assert!(stderr.contains("a FIFO (named pipe)"), "{stderr}");

    // A theme that is a FIFO: the console stops before it draws, saying why once.
    fifo(&config_dir.join("themes/piped.toml"));
    let mut command = opsdeck(&dirs);
    command.args(["--theme", "piped"]);
    let out = run(command, "--theme piped");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("piped.toml: cannot read this theme file"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("a FIFO (named pipe)").count(), 1, "{stderr}");

    // A directory as a theme once printed its error twice.
    std::fs::create_dir(config_dir.join("themes/folder.toml")).expect("mkdir");
    let mut command = opsdeck(&dirs);
    command.args(["--theme", "folder"]);
    let out = run(command, "--theme folder");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("a directory").count(), 1, "{stderr}");

    // An audit log to verify that is a FIFO.
    let log = fifo(&root.join("audit.fifo"));
    let mut command = opsdeck(&dirs);
    command.args(["audit", "verify", "--file"]).arg(&log);
    let out = run(command, "audit verify FIFO");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("a FIFO (named pipe)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_config_region_that_is_not_a_region_is_named_with_file_and_line() {
    let dirs = TestDirs::new();
    let config = dirs.root().join("config.toml");
    std::fs::write(&config, "[aws]\nregion = \"us-east-1a\"\n").expect("write");
    let mut command = opsdeck(&dirs);
    command
        .args(["deploy", "s3-bucket", "--stack", "x", "--plan"])
        .args(DEPLOY_PARAMS)
        .arg("--config")
        .arg(&config);
    let out = run(command, "bad region");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:10: aws.region: \"us-east-1a\" is an availability zone, not a region: use \"us-east-1\"",
            config.display()
        )),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Pipes

#[test]
fn a_reader_that_stops_reading_ends_the_output_quietly() {
    let dirs = TestDirs::new();
    {
        // More jobs than a pipe buffer holds, so opsdeck is still writing when the reader goes.
        let store = opsdeck::engine::store::JobStore::open(&dirs.jobs_db()).expect("store");
        for i in 0..3000 {
            let id = store
                .insert(&opsdeck::engine::store::NewJob {
                    kind: opsdeck::model::JobKind::Read,
                    operation: "list-stacks".into(),
                    title: format!("list stacks {i}"),
                    target: None,
                    log_path: None,
                    origin: None,
                    parent: None,
                })
                .expect("insert");
            store
                .finish(id, opsdeck::model::JobState::Succeeded, None)
                .expect("finish");
        }
    }
    for json in [true, false] {
        let mut command = opsdeck(&dirs);
        command.args(["jobs", "--limit", "3000"]);
        if json {
            command.arg("--json");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // `| head -c 1`: read one byte, then close the pipe.
        let mut stdout = child.stdout.take().expect("stdout");
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).expect("first byte");
        drop(stdout);
        let out = finish(child, "jobs | head");
        assert!(out.status.success(), "json={json}: {:?}", out.status);
        assert_eq!(text(&out.stderr), "", "json={json}: nothing on stderr");
    }

    // A closed stderr is no reason to panic either.
    let mut child = opsdeck(&dirs)
        .args(["check", "/nonexistent/template.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stderr.take());
    let out = finish(child, "check 2>&1 | head");
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit 2 (not judged), not a panic"
    );
}

// ---------------------------------------------------------------------------------------
// Crashes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_killed_with_sigkill_keeps_its_log_and_its_audit_trail_says_who_and_where() {
    let stub = CfnStub::start().await;
    // CloudFormation never finishes computing the change set: the job logs, then waits.
    stub.plan_change_set(ChangeSetPlan {
        pending_polls: usize::MAX,
        status: "CREATE_COMPLETE".into(),
        reason: None,
        changes: Vec::new(),
        page_size: 100,
    });
    let dirs = TestDirs::new();
    let mut command = opsdeck(&dirs);
    command
        .args(["deploy", "s3-bucket", "--stack", "crashy", "--plan"])
        .args(DEPLOY_PARAMS)
        .args(["--endpoint-url", stub.endpoint(), "--env", "DEV"])
        .env("OPSDECK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn opsdeck");

    // The job logs that the change set exists, then waits for CloudFormation. That line must
    // reach the job's file (not sit in a write buffer) while the process lives.
    let logs = dirs.job_logs_dir();
    let deadline = Instant::now() + BOUND;
    let log_file = loop {
        let found = walk(&logs).into_iter().find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.contains("waiting for CloudFormation"))
        });
        if let Some(file) = found {
            break file;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            let _ = child
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut stderr));
            panic!("opsdeck ended ({status}) before it logged: {stderr}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "after {BOUND:?} the job log on disk still lacks the line logged at the start: {:?}",
                walk(&logs)
                    .iter()
                    .map(|p| (p.clone(), std::fs::read_to_string(p).unwrap_or_default()))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        stub.actions().iter().any(|a| a == "DescribeChangeSet"),
        "the job was waiting for CloudFormation when killed"
    );

    // kill -9: no destructor, no flush, no shutdown.
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    // What the crash left: SQLite's -wal/-shm included, still private.
    assert_private(&dirs);

    // The next opsdeck settles the job and closes its audit trail.
    let dirs_ref = &dirs;
    let listed = tokio::task::block_in_place(|| {
        let mut command = opsdeck(dirs_ref);
        command.args(["jobs", "--json"]);
        run(command, "jobs after the crash")
    });
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let jobs: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let job = jobs
        .as_array()
        .expect("array")
        .iter()
        .find(|j| j["operation"] == "create-change-set")
        .expect("the deploy's job");
    assert_eq!(job["state"], "interrupted", "{job:#}");
    let log = opsdeck::engine::joblog::JobLog::open_existing(&log_file, 100).expect("reopen");
    assert!(log.total() >= 1, "the log kept its lines: {}", log.total());
    assert!(
        log.ring()
            .iter()
            .any(|l| l.text.contains("waiting for CloudFormation")),
        "{:?}",
        log.ring()
    );

    let audit = support::read_audit(&dirs.audit_log());
    let started = audit
        .iter()
        .find(|e| e["operation"] == "create-change-set" && e["decision"] == "started")
        .expect("started");
    let interrupted = audit
        .iter()
        .find(|e| e["operation"] == "create-change-set" && e["decision"] == "interrupted")
        .expect("an interrupted entry closes the started one");
    assert_eq!(interrupted["environment"], "DEV", "{interrupted:#}");
    assert_eq!(
        interrupted["actor"]["principal"],
        cfn_stub::CALLER_ARN,
        "{interrupted:#}"
    );
    assert_eq!(interrupted["actor"], started["actor"], "{interrupted:#}");
    assert_eq!(interrupted["request_id"], started["request_id"]);
    assert_eq!(interrupted["target"]["stack_name"], "crashy");
    let verify = tokio::task::block_in_place(|| {
        let mut command = opsdeck(dirs_ref);
        command.args(["audit", "verify"]);
        run(command, "audit verify")
    });
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}
