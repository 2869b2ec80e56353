//! The bundled nginx installer really installs nginx and serves a page, in a disposable Debian
//! root built with debootstrap, reached the real way: `opsdeck install nginx --target ssh:…`
//! through a real sshd whose sessions run inside that root (no systemd there: the installer's
//! init-script path). Then it runs again (idempotent), and an apt lock held by another process
//! makes an installer wait and then fail clearly (exit 2).
//!
//! Needs root (chroot, mount) and the Debian mirror the first time (the root is cached outside
//! the clone, in `$OPSDECK_ROOTFS_CACHE` or `~/.cache/opsdeck-rootfs/`). About two minutes when
//! the root is not cached yet, under a minute after. Ignored unless asked:
//! `OPSDECK_TEST_DEBOOTSTRAP=1 scripts/test.sh`, or
//! `cargo test --test installers_debootstrap -- --ignored`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use support::TestDirs;
use support::sshd::Sshd;

/// The cache key names what the root holds.
const ROOTFS: &str = "debootstrap-bookworm-minbase-procps-v1.tar.gz";
const MIRROR: &str = "http://deb.debian.org/debian";

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cache_dir() -> PathBuf {
    std::env::var_os("OPSDECK_ROOTFS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/opsdeck-rootfs")
        })
}

/// The cached root's tarball, built with debootstrap the first time.
fn rootfs_tarball() -> PathBuf {
    let dir = cache_dir();
    let tarball = dir.join(ROOTFS);
    if tarball.is_file() {
        return tarball;
    }
    std::fs::create_dir_all(&dir).expect("cache dir");
    let build = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(&dir)
        .expect("build dir");
    let root = build.path().join("root");
    run(Command::new("debootstrap")
        .args([
            "--variant=minbase",
            "--include=ca-certificates,procps",
            "bookworm",
        ])
        .arg(&root)
        .arg(MIRROR));
    let partial = dir.join(format!("{ROOTFS}.partial"));
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-czf")
        .arg(&partial)
        .arg("."));
    std::fs::rename(&partial, &tarball).expect("publish the cached root");
    tarball
}

/// A fresh root from the cache, with /proc mounted, DNS, and services kept from starting on
/// their own (the installer must start them); unmounted and removed when dropped.
struct Root {
    dir: tempfile::TempDir,
    proc_mounted: bool,
    holders: Vec<Child>,
}

impl Root {
    fn new() -> Root {
        let tarball = rootfs_tarball();
        // sshd's ChrootDirectory wants every component root-owned and not writable by others:
        // not under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("root-")
            .tempdir_in(cache_dir())
            .expect("root dir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod root");
        run(Command::new("tar")
            .arg("-C")
            .arg(dir.path())
            .arg("-xzf")
            .arg(&tarball));
        let mut root = Root {
            dir,
            proc_mounted: false,
            holders: Vec::new(),
        };
        run(Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(root.path().join("proc")));
        root.proc_mounted = true;
        std::fs::copy("/etc/resolv.conf", root.path().join("etc/resolv.conf"))
            .expect("resolv.conf");
        let policy = root.path().join("usr/sbin/policy-rc.d");
        std::fs::write(&policy, "#!/bin/sh\nexit 101\n").expect("policy-rc.d");
        std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod policy-rc.d");
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Hold dpkg's frontend lock the way apt does (fcntl), for up to `seconds`.
    fn hold_apt_lock(&mut self, seconds: u32) {
        let mut child = Command::new("chroot")
            .arg(self.path())
            .args([
                "perl",
                "-e",
                &format!(
                    "use Fcntl; sysopen(my $f, '/var/lib/dpkg/lock-frontend', O_RDWR|O_CREAT) or die \"open: $!\"; \
                     my $lock = pack('s s l l i', F_WRLCK, 0, 0, 0, 0); \
                     fcntl($f, F_SETLK, $lock) or die \"lock: $!\"; \
                     $| = 1; print \"held\\n\"; sleep {seconds};"
                ),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("perl in the root");
        let mut held = [0u8; 5];
        child
            .stdout
            .as_mut()
            .expect("stdout")
            .read_exact(&mut held)
            .expect("the lock is held");
        self.holders.push(child);
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        for holder in &mut self.holders {
            let _ = holder.kill();
            let _ = holder.wait();
        }
        // nginx runs on the host's network from inside the root: stop it.
        let _ = Command::new("chroot")
            .arg(self.path())
            .args(["/usr/sbin/nginx", "-s", "quit"])
            .output();
        std::thread::sleep(Duration::from_millis(500));
        if self.proc_mounted {
            let _ = Command::new("umount")
                .arg(self.path().join("proc"))
                .output();
        }
    }
}

fn http_get(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("nginx listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn opsdeck(dirs: &TestDirs, args: &[&str]) -> Output {
    support::hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .args(args)
        .args(["--endpoint-url", "http://127.0.0.1:9"])
        .env("OPSDECK_LOG", "warn");
    command.output().expect("run opsdeck")
}

#[test]
#[ignore = "needs root and the Debian mirror once; OPSDECK_TEST_DEBOOTSTRAP=1 scripts/test.sh runs it"]
fn the_bundled_nginx_installer_installs_and_serves_a_page_in_a_debootstrap_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test builds and enters a chroot: run it as root"
    );
    let mut root = Root::new();
    let sshd = Sshd::start_in(Some(root.path()));
    let dirs = TestDirs::new();
    let config = dirs.config_home().join("opsdeck/config.toml");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("config dir");
    std::fs::write(
        &config,
        format!(
            "[targets]\nssh_config = \"{}\"\n",
            sshd.ssh_config.display()
        ),
    )
    .expect("config");
    let port = support::free_port().to_string();
    let http_port = format!("http_port={port}");
    let install = [
        "install",
        "nginx",
        "--target",
        "ssh:opsdeck-test",
        "--set",
        &http_port,
        "--set",
        "worker_processes=2",
        "--confirm",
        "nginx",
    ];
    let out = opsdeck(&dirs, &install);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}\n{}", sshd.log());
    assert!(
        stderr.contains("no systemd: using /etc/init.d/nginx"),
        "{stderr}"
    );
    let page = http_get(port.parse().expect("port"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Welcome to nginx"), "{page}");
    let conf = std::fs::read_to_string(root.path().join("etc/nginx/nginx.conf")).expect("conf");
    assert!(conf.contains("worker_processes 2;"), "{conf}");
    assert!(!root.path().join("etc/nginx/sites-enabled/default").exists());

    // Again: idempotent, nothing to install, still serving.
    let again = opsdeck(&dirs, &install);
    let stderr = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("already installed: nginx"), "{stderr}");
    assert!(
        stderr.contains("unchanged: /etc/nginx/sites-available/opsdeck.conf"),
        "{stderr}"
    );
    assert!(http_get(port.parse().expect("port")).contains("Welcome to nginx"));

    // Another process holds apt's lock: the installer waits, then fails clearly (exit 2), and
    // being idempotent it is tried three times in all (15 s, then 30 s apart).
    root.hold_apt_lock(300);
    let locked = opsdeck(
        &dirs,
        &[
            "install",
            "node-exporter",
            "--target",
            "ssh:opsdeck-test",
            "--set",
            "apt_wait_seconds=5",
            "--confirm",
            "node-exporter",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&locked.stderr).into_owned();
    assert_eq!(locked.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("apt is locked by another process"),
        "{stderr}"
    );
    let value: serde_json::Value = serde_json::from_slice(&locked.stdout).expect("JSON");
    assert!(
        value["targets"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("exit 2: the installation failed")),
        "{value}"
    );
}
