//! The `ssh:HOST` target, through the system's OpenSSH client, so the operator's keys, agent,
//! ProxyJump and known_hosts work as they do on the command line. `BatchMode=yes` (no prompt
//! can wait for an answer, so host keys are checked strictly unless the operator's ssh config
//! says otherwise), `-F` when `[targets] ssh_config` is set, `--` before the host. The remote command is the constant bootstrap; the script and the
//! inputs travel on stdin, which stays open: closing it cancels the run on the host.

use super::TargetSettings;
use super::process::{Ended, GroupGuard, Masker, code_of, pump, spawn_in_own_session, stop_group};
use super::wire;
use crate::engine::joblog::LogLevel;
use crate::engine::task::TaskCtx;
use crate::installers::manifest::InputValue;
use crate::installers::ops::HostFacts;
use nix::unistd::Pid;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// ssh's exit status for its own failures (connection, authentication, host key).
const SSH_FAILED: i32 = 255;

/// The ssh command for `host` running `remote` (a constant: never a value).
fn command(settings: &TargetSettings, host: &str, remote: &str) -> Command {
    let mut command = Command::new(&settings.ssh_program);
    if let Some(config) = &settings.ssh_config {
        command.arg("-F").arg(config);
    }
    command
        .arg("-T")
        // No prompt can be answered: with BatchMode, an unknown or changed host key refuses
        // the connection (ssh's default `ask` cannot ask). A host the operator's ssh config
        // relaxes (`StrictHostKeyChecking accept-new`) is theirs to relax.
        .args(["-o", "BatchMode=yes"])
        // The target gets no way back to the bastion: no agent, no X11, no port forwarding,
        // whatever the operator's ssh config says for that host (a preflight may be asked
        // for by the assistant before anyone confirms a run).
        .arg("-a")
        .arg("-x")
        .args(["-o", "ClearAllForwardings=yes"])
        .args(["-o", "ServerAliveInterval=15"])
        .args(["-o", "ServerAliveCountMax=4"])
        .args(["-o", "ConnectTimeout=20"])
        .arg("--")
        .arg(host)
        .arg(remote);
    command
}

/// Why ssh itself failed, from its last line of stderr.
fn unreachable(host: &str, last: Option<String>) -> Ended {
    Ended::Unreachable(format!(
        "ssh to {host} failed (exit 255): {}; check that `ssh {host}` works non-interactively (keys, known_hosts, ssh_config)",
        last.unwrap_or_else(|| "no message".into())
    ))
}

/// Run `script` on `host` with `inputs`, until it ends, `timeout` passes or the job is
/// cancelled. Its output goes to `ctx`'s log, masked.
pub async fn run(
    settings: &TargetSettings,
    host: &str,
    script: &str,
    inputs: &[InputValue],
    timeout: Duration,
    ctx: Arc<TaskCtx>,
    masker: Arc<Masker>,
) -> Ended {
    let remote = format!("bash -c {}", wire::shell_quote(wire::BOOTSTRAP));
    let mut command = command(settings, host, &remote);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match spawn_in_own_session(&mut command) {
        Ok(child) => child,
        Err(e) => {
            return Ended::Unreachable(format!(
                "cannot run {}: {e}",
                settings.ssh_program.display()
            ));
        }
    };
    let Some(pid) = child.id() else {
        return Ended::Unreachable("ssh exited before it could be watched".into());
    };
    let pgid = Pid::from_raw(pid as i32);
    // Dropped mid-run, the ssh client goes, its stdin closes, and the host stops the script.
    let mut guard = GroupGuard::new(pgid);
    ctx.info(format!("connecting: ssh {host} (pid {pid})"));
    let out = child
        .stdout
        .take()
        .map(|r| tokio::spawn(pump(r, LogLevel::Info, ctx.clone(), masker.clone())));
    let err = child
        .stderr
        .take()
        .map(|r| tokio::spawn(pump(r, LogLevel::Warn, ctx.clone(), masker.clone())));
    // The payload goes in while the output is read, and stdin then stays open until the run
    // ends or is stopped: closing it is how the host learns to stop the script.
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let payload = wire::ssh_payload(inputs, script);
    let writer = child.stdin.take().map(|mut pipe| {
        tokio::spawn(async move {
            if let Err(e) = pipe.write_all(&payload).await {
                // ssh ended early (unreachable): its exit status and stderr say why.
                tracing::debug!("writing the payload to ssh: {e}");
            }
            let _ = closed.await;
            drop(pipe);
        })
    });
    let ended = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => Ended::Exited(code_of(status)),
            Err(e) => Ended::Unreachable(format!("lost track of ssh: {e}")),
        },
        _ = ctx.cancelled() => Ended::Cancelled,
        _ = tokio::time::sleep(timeout) => Ended::TimedOut,
    };
    let grace = settings.kill_grace;
    if matches!(ended, Ended::Cancelled | Ended::TimedOut) {
        ctx.warn(match ended {
            Ended::TimedOut => format!(
                "timed out after {}s: stopping the script on {host} (its stdin closes: SIGTERM, then SIGKILL there)",
                timeout.as_secs()
            ),
            _ => format!("cancelled: stopping the script on {host} (SIGTERM, then SIGKILL there)"),
        });
        // EOF on stdin: the bootstrap on the host TERMs the script's group, KILLs it 5 s later.
        if let Some(writer) = &writer {
            writer.abort();
        }
        // Give the host that long, plus the link's time, before ending ssh itself.
        match tokio::time::timeout(grace + Duration::from_secs(6), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                stop_group(&mut child, pgid, grace).await;
            }
        }
    }
    guard.disarm();
    drop(close);
    if let Some(writer) = writer {
        writer.abort();
    }
    let mut last_err = None;
    for (i, pump) in [out, err].into_iter().enumerate() {
        let Some(pump) = pump else { continue };
        let abort = pump.abort_handle();
        match tokio::time::timeout(grace, pump).await {
            Ok(Ok(last)) if i == 1 => last_err = last,
            Ok(_) => {}
            Err(_) => abort.abort(),
        }
    }
    match ended {
        Ended::Exited(SSH_FAILED) => unreachable(host, last_err),
        other => other,
    }
}

/// Preflight on `host`: the constant preflight script as the remote command, stdin closed.
pub async fn preflight(
    settings: &TargetSettings,
    host: &str,
    timeout: Duration,
    ctx: &TaskCtx,
) -> Result<HostFacts, String> {
    let remote = format!("bash -c {}", wire::shell_quote(wire::PREFLIGHT));
    let mut command = command(settings, host, &remote);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = spawn_in_own_session(&mut command)
        .map_err(|e| format!("cannot run {}: {e}", settings.ssh_program.display()))?;
    let output = tokio::select! {
        out = child.wait_with_output() => out.map_err(|e| format!("lost track of ssh: {e}"))?,
        _ = ctx.cancelled() => return Err("cancelled".into()),
        _ = tokio::time::sleep(timeout) => {
            return Err(format!("ssh to {host} did not answer within {}s", timeout.as_secs()))
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| {
            let mut clean = String::new();
            crate::engine::joblog::sanitize_into(l, &mut clean);
            clean
        });
    match code_of(output.status) {
        0 => Ok(wire::parse_facts(&String::from_utf8_lossy(&output.stdout))),
        SSH_FAILED => match unreachable(host, last) {
            Ended::Unreachable(why) => Err(why),
            _ => Err(format!("ssh to {host} failed")),
        },
        code => Err(format!(
            "preflight on {host} failed (exit {code}): {}",
            last.unwrap_or_else(|| "no message".into())
        )),
    }
}
