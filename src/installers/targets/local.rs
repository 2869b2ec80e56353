//! The `local` target: the script runs on the bastion itself, with `bash`, in a fresh private
//! temporary directory, in its own session and process group, with a clean environment
//! (PATH, LANG and the inputs only) and stdin from /dev/null.

use super::process::{Ended, GroupGuard, Masker, code_of, pump, spawn_in_own_session, stop_group};
use crate::engine::joblog::LogLevel;
use crate::engine::task::TaskCtx;
use crate::installers::manifest::InputValue;
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A private temporary directory, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> std::io::Result<WorkDir> {
        let base = std::env::temp_dir().join("opsdeck-run.XXXXXX");
        let path = nix::unistd::mkdtemp(&base).map_err(std::io::Error::from)?;
        Ok(WorkDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `script` locally with `inputs` as its environment, until it ends, `timeout` passes or
/// the job is cancelled; its output goes to `ctx`'s log, masked.
pub async fn run(
    script: &str,
    inputs: &[InputValue],
    timeout: Duration,
    grace: Duration,
    ctx: Arc<TaskCtx>,
    masker: Arc<Masker>,
) -> Ended {
    let dir = match WorkDir::create() {
        Ok(dir) => dir,
        Err(e) => return Ended::Unreachable(format!("cannot create a temporary directory: {e}")),
    };
    let path = dir.path().join("install.sh");
    if let Err(e) = write_private(&path, script) {
        return Ended::Unreachable(format!(
            "cannot write the script to {}: {e}",
            path.display()
        ));
    }
    let mut command = Command::new("/bin/bash");
    command
        .arg(&path)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", PATH)
        .env("LANG", "C.UTF-8")
        .envs(inputs.iter().map(|i| (i.env.as_str(), i.expose())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match spawn_in_own_session(&mut command) {
        Ok(child) => child,
        Err(e) => return Ended::Unreachable(format!("cannot start /bin/bash: {e}")),
    };
    let Some(pid) = child.id() else {
        return Ended::Unreachable("bash exited before it could be watched".into());
    };
    let pgid = Pid::from_raw(pid as i32);
    let mut guard = GroupGuard::new(pgid);
    ctx.info(format!(
        "started: bash install.sh (pid {pid}) in {}",
        dir.path().display()
    ));
    let out = child
        .stdout
        .take()
        .map(|r| tokio::spawn(pump(r, LogLevel::Info, ctx.clone(), masker.clone())));
    let err = child
        .stderr
        .take()
        .map(|r| tokio::spawn(pump(r, LogLevel::Warn, ctx.clone(), masker.clone())));
    let ended = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => Ended::Exited(code_of(status)),
            Err(e) => Ended::Unreachable(format!("lost track of bash: {e}")),
        },
        _ = ctx.cancelled() => Ended::Cancelled,
        _ = tokio::time::sleep(timeout) => Ended::TimedOut,
    };
    if matches!(ended, Ended::Cancelled | Ended::TimedOut) {
        ctx.warn(match ended {
            Ended::TimedOut => format!(
                "timed out after {}s: stopping the script (SIGTERM, then SIGKILL)",
                timeout.as_secs()
            ),
            _ => "cancelled: stopping the script (SIGTERM, then SIGKILL)".to_string(),
        });
        stop_group(&mut child, pgid, grace).await;
    }
    // A script that ends normally keeps what it started (a service it installed, say).
    guard.disarm();
    // The pipes close when the last process holding them is gone; a process that left the
    // group (its own setsid) could hold them forever, so the wait is bounded.
    for pump in [out, err].into_iter().flatten() {
        let abort = pump.abort_handle();
        if tokio::time::timeout(grace, pump).await.is_err() {
            abort.abort();
            ctx.warn(
                "a process the script started still holds its output open; no longer reading it",
            );
        }
    }
    ended
}

/// Write `text` to a new file only its owner can read and run.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
