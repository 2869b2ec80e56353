//! The real binary in a real pty (a tmux pane): keys in, screen out. Each `Tmux` runs its own
//! tmux server (`-L <unique socket>`, no config file, sockets in the test's temp dir) and
//! kills it when dropped, so a failing test leaves nothing running.

#![allow(dead_code)]

use super::TestDirs;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A guard against hangs only: the tests poll and move on as soon as the screen is right.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(100);

pub struct Tmux {
    socket: String,
    tmpdir: std::path::PathBuf,
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// opsdeck with exactly `env` (plus the test dirs and a hermetic AWS set-up) and `args`,
    /// in a `width`x`height` pane; the pane reports the exit code and stays open.
    pub fn start(
        name: &str,
        dirs: &TestDirs,
        args: &[&str],
        env: &[(&str, &str)],
        size: (u16, u16),
    ) -> Tmux {
        let socket = format!("opsdeck-e2e-{}-{name}", std::process::id());
        let tmpdir = dirs.root().join("tmux");
        std::fs::create_dir_all(&tmpdir).expect("tmux socket dir");
        let tmux = Tmux { socket, tmpdir };
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), super::REGION.into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        for (key, value) in dirs.env() {
            vars.push((key.to_string(), value.display().to_string()));
        }
        for (key, value) in env {
            vars.push((key.to_string(), value.to_string()));
        }
        let mut command = vec!["env".to_string(), "-i".to_string()];
        command.extend(vars.iter().map(|(k, v)| shell_quote(&format!("{k}={v}"))));
        command.push(shell_quote(env!("CARGO_BIN_EXE_opsdeck")));
        command.extend(args.iter().map(|a| shell_quote(a)));
        let script = format!("{}; echo OPSDECK_EXIT=$?; sleep 600", command.join(" "));
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
            &script,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .env("TMUX_TMPDIR", &self.tmpdir)
            .env_remove("TMUX")
            .arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test.sh installs it)")
    }

    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "0"]);
        assert!(out.status.success(), "capture-pane failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `done` holds; panics with the last screen after the timeout.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// tmux key names (`Enter`, `Escape`, `j`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "send-keys {keys:?}");
    }

    /// Text typed literally.
    pub fn type_text(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "0", "-l", text])
                .status
                .success()
        );
    }

    pub fn format(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "0", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The pid of the process in the pane (`env -i` execs opsdeck, so it is opsdeck's).
    pub fn pane_pid(&self) -> u32 {
        self.format("#{pane_pid}").parse().expect("a pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
