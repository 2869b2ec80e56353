//! Child processes an installer run starts (`bash` for the local target, `ssh` for a host):
//! each in its own session and process group, its output read line by line into the job log
//! with sensitive values masked, and stopped as a group (SIGTERM, then SIGKILL) on timeout or
//! cancel.

use crate::engine::joblog::LogLevel;
use crate::engine::task::TaskCtx;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The longest line kept whole; longer ones continue on the next log line.
const MAX_LINE: usize = 16 * 1024;

/// Replaces every sensitive value (and every line of a multi-line one) with `****` in output
/// before it reaches the job log.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so a value that contains another is masked whole.
    needles: Vec<String>,
}

impl Masker {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut needles: Vec<String> = Vec::new();
        for secret in secrets {
            for piece in std::iter::once(secret).chain(secret.lines()) {
                let piece = piece.trim_end_matches('\r');
                if !piece.is_empty() && !needles.iter().any(|n| n == piece) {
                    needles.push(piece.to_string());
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Masker { needles }
    }

    pub fn mask(&self, line: &str) -> String {
        let mut out = line.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), crate::redact::MASK);
            }
        }
        out
    }
}

/// How a run on one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The script exited with this code.
    Exited(i32),
    /// It ran longer than the manifest's `timeout_seconds` and was stopped.
    TimedOut,
    /// The person (or a shutdown) cancelled it, and it was stopped.
    Cancelled,
    /// The target could not be reached or the script could not be started there.
    Unreachable(String),
}

/// Start `command` in a new session (so it is its own process group and has no controlling
/// terminal: nothing it runs can reach the operator's terminal).
pub fn spawn_in_own_session(command: &mut Command) -> std::io::Result<Child> {
    // SAFETY: the closure runs in the forked child before exec and calls only setsid(2),
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    command.kill_on_drop(true).spawn()
}

/// Read `reader` line by line into the job log at `level`, masked, until EOF. Returns the last
/// non-empty line (for error messages).
pub async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    level: LogLevel,
    ctx: Arc<TaskCtx>,
    masker: Arc<Masker>,
) -> Option<String> {
    let mut reader = BufReader::new(reader);
    let mut buf: Vec<u8> = Vec::new();
    let mut last = None;
    loop {
        buf.clear();
        let read = read_line_capped(&mut reader, &mut buf).await;
        match read {
            Ok(0) | Err(_) => return last,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim_end_matches(['\n', '\r']);
                let masked = masker.mask(text);
                if !masked.trim().is_empty() {
                    last = Some(masked.clone());
                }
                ctx.log(level, &masked);
            }
        }
    }
}

/// One line (with its `\n`), at most [`MAX_LINE`] bytes.
async fn read_line_capped<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(buf.len());
        }
        let room = MAX_LINE - buf.len();
        let window = &available[..available.len().min(room)];
        match window.iter().position(|&b| b == b'\n') {
            Some(i) => {
                buf.extend_from_slice(&window[..=i]);
                reader.consume(i + 1);
                return Ok(buf.len());
            }
            None => {
                let n = window.len();
                buf.extend_from_slice(window);
                reader.consume(n);
                if buf.len() >= MAX_LINE {
                    return Ok(buf.len());
                }
            }
        }
    }
}

/// Kills a process group with SIGKILL when dropped while armed: a run whose future is dropped
/// (the engine's time limit for the whole run) leaves nothing of its script behind.
pub struct GroupGuard {
    pgid: Pid,
    armed: bool,
}

impl GroupGuard {
    pub fn new(pgid: Pid) -> GroupGuard {
        GroupGuard { pgid, armed: true }
    }

    /// The run ended the normal way: what the script started stays.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
    }
}

/// Stop the process group `pgid` led by `child`: SIGTERM to the whole group, up to `grace`
/// for the leader to exit, then SIGKILL to the group; a last SIGKILL sweeps members that
/// outlived the leader. Returns the leader's exit status, if it could be read.
pub async fn stop_group(
    child: &mut Child,
    pgid: Pid,
    grace: Duration,
) -> Option<std::process::ExitStatus> {
    let _ = killpg(pgid, Signal::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            child.wait().await.ok()
        }
    };
    // ESRCH: the group is already empty.
    let _ = killpg(pgid, Signal::SIGKILL);
    status
}

/// The exit code of a status: the code, or 128 + the signal that ended it.
pub fn code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sensitive_value_and_each_of_its_lines_is_masked() {
        let masker = Masker::new(["hunter2", "line one\nline two", ""]);
        assert_eq!(masker.mask("password=hunter2!"), "password=****!");
        assert_eq!(masker.mask("got line two here"), "got **** here");
        assert_eq!(masker.mask("line one\nline two"), "****");
        assert_eq!(masker.mask("nothing secret"), "nothing secret");
    }

    #[tokio::test]
    async fn a_long_line_is_cut_into_pieces_of_bounded_size() {
        let text = format!("{}\nshort\n", "x".repeat(MAX_LINE + 10));
        let mut reader = BufReader::new(text.as_bytes());
        let mut lines = Vec::new();
        loop {
            let mut buf = Vec::new();
            if read_line_capped(&mut reader, &mut buf).await.expect("read") == 0 {
                break;
            }
            lines.push(buf.len());
        }
        assert_eq!(lines, vec![MAX_LINE, 11, 6]);
    }
}
