//! A real OpenSSH server for a test: Debian's `sshd` on 127.0.0.1 with host and client keys
//! generated for the test, its own config, known_hosts and an ssh client config opsdeck is
//! given with `[targets] ssh_config`. Stopped (and its files removed) when dropped.
//!
//! `scripts/test.sh` installs `openssh-server` when it is missing; these tests fail, not
//! skip, without it.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long sshd may take to listen after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
    /// The client config: `Host opsdeck-test a b c` → this server, keys and known_hosts.
    pub ssh_config: PathBuf,
}

/// `$OPSDECK_SSHD`, else `/usr/sbin/sshd`.
pub fn sshd_bin() -> PathBuf {
    let path = std::env::var_os("OPSDECK_SSHD")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/sshd"));
    assert!(
        path.is_file(),
        "sshd not installed ({}): run scripts/test.sh, which installs openssh-server",
        path.display()
    );
    path
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_in(None)
    }

    /// An sshd whose sessions run inside `chroot` (a disposable root), when given.
    pub fn start_in(chroot: Option<&Path>) -> Sshd {
        let bin = sshd_bin();
        let dir = tempfile::Builder::new()
            .prefix("opsdeck-sshd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let path = |name: &str| d.join(name).display().to_string();
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", &path("hostkey")],
        );
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", &path("clientkey")],
        );
        std::fs::copy(d.join("clientkey.pub"), d.join("authorized_keys")).expect("copy key");
        if nix::unistd::geteuid().is_root() {
            // sshd refuses to start without its privilege separation directory.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let mut last = String::new();
        for _ in 0..3 {
            let port = super::free_port();
            let mut config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 UsePAM no\nStrictModes no\nPrintMotd no\n",
                path("hostkey"),
                path("sshd.pid"),
                path("authorized_keys"),
            );
            if let Some(root) = chroot {
                config.push_str(&format!("ChrootDirectory {}\n", root.display()));
            }
            std::fs::write(d.join("sshd_config"), &config).expect("write sshd_config");
            let log = std::fs::File::create(d.join("sshd.log")).expect("sshd log");
            let mut command = Command::new(&bin);
            command
                .args(["-D", "-e", "-f", &path("sshd_config")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            super::kill_with_parent_thread(&mut command);
            let mut child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
            let deadline = Instant::now() + START_TIMEOUT;
            let listening = loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break false;
                }
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break true;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!(
                        "sshd did not listen on 127.0.0.1:{port}: {}",
                        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if !listening {
                let _ = child.wait();
                last = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                continue;
            }
            let host_key = std::fs::read_to_string(d.join("hostkey.pub")).expect("host key");
            let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
            std::fs::write(
                d.join("known_hosts"),
                format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
            )
            .expect("known_hosts");
            let ssh_config = d.join("ssh_config");
            std::fs::write(
                &ssh_config,
                format!(
                    "Host opsdeck-test a b c\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  ConnectTimeout 5\n\
                     Host unreachable\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  ConnectTimeout 5\n",
                    user(),
                    path("clientkey"),
                    path("known_hosts"),
                    super::free_port(),
                    user(),
                    path("clientkey"),
                    path("known_hosts"),
                ),
            )
            .expect("ssh_config");
            return Sshd {
                dir,
                child,
                port,
                ssh_config,
            };
        }
        panic!("sshd exited before it listened, three times; last log:\n{last}");
    }

    /// The known_hosts file the client config names (tests replace its key to see a refusal).
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
