//! Shared helpers for the integration tests: a moto server per test, stacks created in it with
//! the AWS SDK, temporary XDG directories, and audit-log readers.
//!
//! Every test that talks to AWS code must call [`hermetic_aws_env`] first (the helpers here do
//! it too), so nothing depends on the user's `~/.aws` or `AWS_*` variables.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};

pub mod bedrock_stub;
pub mod cbor_stub;
pub mod cfn_stub;
pub mod fault_proxy;
pub mod kube_api;
pub mod python;
pub mod rig;
pub mod sshd;
pub mod tmux;

/// The region every test uses; moto answers for any.
pub const REGION: &str = "us-east-1";
/// moto's fixed account id.
pub const MOTO_ACCOUNT: &str = "123456789012";
/// The smallest template moto's CloudFormation accepts and turns into a real resource.
pub const TEMPLATE: &str = r#"{"Resources":{"Topic":{"Type":"AWS::SNS::Topic"}}}"#;

/// How long a moto server may take to answer after it was spawned.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes this test process see static test credentials and nothing of the user's AWS set-up.
///
/// `AwsProvider::load` resolves credentials through the standard chain, which reads the
/// process environment; the only way to hand it test credentials is to set them there. The
/// variables are set once, before the calling test starts anything: every test calls this
/// first, and concurrent callers block in `call_once` until it is done, so no test thread
/// reads the environment while it changes.
pub fn hermetic_aws_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let set = [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            // Empty profile files: never read the user's ~/.aws.
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            // Never wait for an instance metadata service.
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        let unset = [
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ];
        // SAFETY: see the doc comment: this runs before any thread of this test binary reads
        // the environment (all tests call it first and wait on the `Once`).
        unsafe {
            for (key, value) in set {
                std::env::set_var(key, value);
            }
            for key in unset {
                std::env::remove_var(key);
            }
        }
    });
}

/// A free TCP port on 127.0.0.1: bind port 0, read the port, let the listener go.
pub fn free_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0 to find a free port");
    listener.local_addr().expect("local_addr").port()
}

/// The `moto_server` executable: `$OPSDECK_MOTO_SERVER`, else the repo's `.venv`.
/// Panics when neither exists: these tests must fail, not skip, without moto.
pub fn moto_server_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("OPSDECK_MOTO_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "moto not installed: OPSDECK_MOTO_SERVER={} does not exist; run scripts/test.sh",
            path.display()
        );
        return path;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        venv.is_file(),
        "moto not installed: run scripts/test.sh (looked for $OPSDECK_MOTO_SERVER and {})",
        venv.display()
    );
    venv
}

/// A moto server on 127.0.0.1 for one test; killed (and reaped) when dropped.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts moto on a free port and waits until it answers HTTP (up to 30 s).
    pub fn start() -> MotoServer {
        hermetic_aws_env();
        let bin = moto_server_bin();
        // The port is free when picked but another process may take it before moto binds it:
        // try again with a new port when moto exits early.
        let mut last_log = String::new();
        for _ in 0..3 {
            match MotoServer::try_start(&bin) {
                Ok(server) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!(
            "moto_server ({}) exited before it answered, three times; last output:\n{last_log}",
            bin.display()
        );
    }

    /// `Err(output)` when the server process exited before answering.
    fn try_start(bin: &Path) -> Result<MotoServer, String> {
        let port = free_port();
        let log = tempfile::Builder::new()
            .prefix("opsdeck-moto-")
            .suffix(".log")
            .tempfile()
            .expect("create moto log file");
        let stdout = log.reopen().expect("reopen moto log");
        let stderr = log.reopen().expect("reopen moto log");
        let mut command = Command::new(bin);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        kill_with_parent_thread(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        let mut server = MotoServer { child, port, log };
        let deadline = Instant::now() + MOTO_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exit status {status}\n{}", server.output()));
            }
            if answers_http(port) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                panic!(
                    "moto_server did not answer on 127.0.0.1:{port} within {MOTO_START_TIMEOUT:?}; output:\n{}",
                    server.output()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything moto printed so far, for failure messages.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A CloudFormation client for this server, with static test credentials.
    pub fn cfn(&self) -> aws_sdk_cloudformation::Client {
        cfn_client(&self.endpoint())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child gets SIGKILL if the thread that spawned it goes away (a test process killed by a
/// CI timeout, say), so no moto server outlives its test. Tests own their servers on their
/// own thread, which is what PR_SET_PDEATHSIG tracks.
pub fn kill_with_parent_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
}

/// Whether an HTTP server answers `GET /moto-api/` on 127.0.0.1:port.
fn answers_http(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head[..got].starts_with(b"HTTP/1.")
}

/// A CloudFormation client for `endpoint`: region us-east-1, static credentials `testing`.
pub fn cfn_client(endpoint: &str) -> aws_sdk_cloudformation::Client {
    let config = aws_sdk_cloudformation::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "opsdeck-tests",
        ))
        .build();
    aws_sdk_cloudformation::Client::from_conf(config)
}

/// Creates a stack from [`TEMPLATE`] and waits until it is CREATE_COMPLETE. Returns its ARN.
pub async fn create_stack(cfn: &aws_sdk_cloudformation::Client, name: &str) -> String {
    let out = cfn
        .create_stack()
        .stack_name(name)
        .template_body(TEMPLATE)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStack {name}: {e:?}"));
    let id = out
        .stack_id()
        .unwrap_or_else(|| panic!("CreateStack {name} returned no stack id"))
        .to_string();
    // moto creates synchronously; poll anyway so a slower emulator cannot make tests racy.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match stack_status(cfn, &id).await.as_deref() {
            Some("CREATE_COMPLETE") => return id,
            Some(s) if s.ends_with("_IN_PROGRESS") => {}
            other => panic!("stack {name} did not create: status {other:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "stack {name} still creating after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates each stack in turn. Returns their ARNs in the same order.
pub async fn create_stacks(cfn: &aws_sdk_cloudformation::Client, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        ids.push(create_stack(cfn, name).await);
    }
    ids
}

/// The stack's status by name or ARN; `None` when CloudFormation says it does not exist.
pub async fn stack_status(
    cfn: &aws_sdk_cloudformation::Client,
    name_or_id: &str,
) -> Option<String> {
    use aws_sdk_cloudformation::error::ProvideErrorMetadata;
    match cfn.describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string()),
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => None,
        Err(e) => panic!("DescribeStacks {name_or_id}: {e:?}"),
    }
}

/// Names of the stacks that are not deleted, sorted, straight from the emulator.
pub async fn live_stack_names(cfn: &aws_sdk_cloudformation::Client) -> Vec<String> {
    let mut pages = cfn.list_stacks().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("ListStacks: {e:?}"));
        for s in page.stack_summaries() {
            let deleted = s
                .stack_status()
                .is_some_and(|st| st.as_str() == "DELETE_COMPLETE");
            if !deleted {
                names.push(s.stack_name().unwrap_or_default().to_string());
            }
        }
    }
    names.sort();
    names
}

/// Whether the stack with this name is gone: absent or DELETE_COMPLETE.
pub async fn stack_is_gone(cfn: &aws_sdk_cloudformation::Client, name: &str) -> bool {
    match stack_status(cfn, name).await.as_deref() {
        None | Some("DELETE_COMPLETE") => true,
        Some(_) => false,
    }
}

/// A current-thread tokio runtime, for tests that are otherwise synchronous.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Private XDG directories (and HOME) in a temp dir, so tests never touch ~/.config or
/// ~/.local. Removed when dropped.
pub struct TestDirs {
    root: tempfile::TempDir,
}

impl Default for TestDirs {
    fn default() -> Self {
        TestDirs::new()
    }
}

impl TestDirs {
    pub fn new() -> TestDirs {
        let root = tempfile::Builder::new()
            .prefix("opsdeck-test-")
            .tempdir()
            .expect("create temp dir");
        let dirs = TestDirs { root };
        for dir in [dirs.home(), dirs.config_home(), dirs.data_home()] {
            std::fs::create_dir_all(&dir).expect("create test dir");
        }
        dirs
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// `XDG_CONFIG_HOME`.
    pub fn config_home(&self) -> PathBuf {
        self.root().join("config")
    }

    /// `XDG_DATA_HOME`.
    pub fn data_home(&self) -> PathBuf {
        self.root().join("data")
    }

    /// opsdeck's data dir under `XDG_DATA_HOME` (what `Paths::discover` resolves to).
    pub fn data_dir(&self) -> PathBuf {
        self.data_home().join("opsdeck")
    }

    /// opsdeck's paths in these directories, as `Paths::discover` finds them there.
    pub fn paths(&self) -> opsdeck::config::Paths {
        opsdeck::config::Paths::in_dirs(self.config_home().join("opsdeck"), self.data_dir())
    }

    pub fn audit_log(&self) -> PathBuf {
        self.data_dir().join("audit.jsonl")
    }

    pub fn jobs_db(&self) -> PathBuf {
        self.data_dir().join("jobs.sqlite3")
    }

    pub fn job_logs_dir(&self) -> PathBuf {
        self.data_dir().join("job-logs")
    }

    /// The variables that point opsdeck at these directories.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("HOME", self.home()),
            ("XDG_CONFIG_HOME", self.config_home()),
            ("XDG_DATA_HOME", self.data_home()),
        ]
    }

    /// Points a command at these directories.
    pub fn apply(&self, command: &mut Command) {
        for (key, value) in self.env() {
            command.env(key, value);
        }
    }
}

/// Every audit entry in the file, as JSON.
pub fn read_audit(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read audit log {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"))
        })
        .collect()
}

/// The decisions recorded for one stack, in file order.
pub fn decisions_for_stack(entries: &[serde_json::Value], stack_name: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["target"]["stack_name"] == stack_name)
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The output of `child`, waited for at most two minutes: a child still running then is killed
/// and the test fails saying `what` hung. (Output is read while waiting, so a chatty child
/// cannot block on a full pipe.)
pub fn wait_bounded(child: std::process::Child, what: &str) -> std::process::Output {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("wait for the child"),
        Err(_) => {
            // SAFETY: kill(2) on a pid this test spawned; no memory is touched.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            panic!("{what}: still running after 120 s, so it hangs");
        }
    }
}
