//! The only code that runs installers: on the bastion (`local`), over OpenSSH (`ssh:HOST`)
//! and through SSM Run Command (`ssm:INSTANCE_ID`). [`InstallProvider`] implements the port:
//! it checks the approval came from its gate and that the installer's hash is still the one
//! confirmed, then runs each target as a child job of the run, at most `max_concurrency` at
//! once, starting no further target once more than `max_errors` have failed, retrying a
//! failed target only when the manifest is idempotent and the exit code is not 1.

mod local;
pub mod process;
mod ssh;
mod ssm;
pub mod wire;

use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::installers::catalog::Installer;
use crate::installers::ops::{HostFacts, RunInstaller, Target};
use crate::model::JobState;
use crate::ops::{Approved, GateBinding};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use process::{Ended, Masker};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use ssm::Ssm;

/// How targets are reached, and the pacing of runs; tests shorten the durations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSettings {
    /// The OpenSSH client (`ssh`, from PATH).
    pub ssh_program: PathBuf,
    /// `[targets] ssh_config`, passed as `ssh -F`.
    pub ssh_config: Option<PathBuf>,
    /// `[targets] ssm_log_group`.
    pub ssm_log_group: String,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Before the first retry of a failed target; doubled for the next.
    pub retry_delay: Duration,
    /// Bounds of the GetCommandInvocation poll's backoff.
    pub ssm_poll_min: Duration,
    pub ssm_poll_max: Duration,
    /// How long after a command ended its output may still be arriving in CloudWatch Logs.
    pub ssm_output_grace: Duration,
    /// How long a preflight may take (ssh).
    pub preflight_timeout: Duration,
}

/// The log group SSM writes a run's output to unless config names another.
pub const DEFAULT_LOG_GROUP: &str = "/opsdeck/run-command";

/// Attempts of one target, the first included, when retries are allowed.
pub const MAX_ATTEMPTS: u32 = 3;

impl Default for TargetSettings {
    fn default() -> TargetSettings {
        TargetSettings {
            ssh_program: PathBuf::from("ssh"),
            ssh_config: None,
            ssm_log_group: DEFAULT_LOG_GROUP.to_string(),
            kill_grace: Duration::from_secs(10),
            retry_delay: Duration::from_secs(15),
            ssm_poll_min: Duration::from_secs(1),
            ssm_poll_max: Duration::from_secs(10),
            ssm_output_grace: Duration::from_secs(60),
            preflight_timeout: Duration::from_secs(60),
        }
    }
}

impl TargetSettings {
    /// The defaults with `[targets]` from config applied.
    pub fn from_config(config: &crate::config::TargetsConfig) -> TargetSettings {
        TargetSettings {
            ssh_config: config.ssh_config.clone(),
            ssm_log_group: config
                .ssm_log_group
                .clone()
                .unwrap_or_else(|| DEFAULT_LOG_GROUP.to_string()),
            ..TargetSettings::default()
        }
    }
}

/// How one target's run ended, in words and as a job state.
fn verdict(ended: &Ended) -> (JobState, String) {
    match ended {
        Ended::Exited(0) => (JobState::Succeeded, "succeeded (exit 0)".into()),
        Ended::Exited(1) => (
            JobState::Failed,
            "exit 1: the installer refused an input (validation)".into(),
        ),
        Ended::Exited(2) => (JobState::Failed, "exit 2: the installation failed".into()),
        Ended::Exited(3) => (
            JobState::Failed,
            "exit 3: the machine is not as the installer needs it (configuration)".into(),
        ),
        Ended::Exited(code) if *code > 128 => (
            JobState::Failed,
            format!(
                "exit {code}: the script was killed by signal {}",
                code - 128
            ),
        ),
        Ended::Exited(code) => (JobState::Failed, format!("exit {code}")),
        Ended::TimedOut => (JobState::Failed, "timed out and was stopped".into()),
        Ended::Cancelled => (JobState::Cancelled, "cancelled and stopped".into()),
        Ended::Unreachable(why) => (JobState::Failed, why.clone()),
    }
}

/// Whether a failed attempt may be tried again: only for an idempotent installer, never after
/// exit 1 (an input was refused: it would be refused again), a timeout or a cancel.
fn retryable(idempotent: bool, ended: &Ended) -> bool {
    idempotent
        && match ended {
            Ended::Exited(0) | Ended::Exited(1) | Ended::TimedOut | Ended::Cancelled => false,
            Ended::Exited(_) | Ended::Unreachable(_) => true,
        }
}

/// Runs installers on every kind of target.
pub struct InstallProvider {
    settings: TargetSettings,
    ssm: Arc<Ssm>,
    /// The gate whose approvals this provider accepts.
    binding: GateBinding,
    /// One run at a time per target, whichever runs include it.
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl InstallProvider {
    pub fn new(
        config: &aws_config::SdkConfig,
        aws: &crate::aws::AwsSettings,
        binding: GateBinding,
    ) -> InstallProvider {
        InstallProvider {
            settings: aws.targets.clone(),
            ssm: Arc::new(Ssm::new(config, aws)),
            binding,
            busy: Mutex::default(),
        }
    }

    fn lock_for(&self, target: &Target) -> Arc<tokio::sync::Mutex<()>> {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(target.to_string())
            .or_default()
            .clone()
    }

    async fn preflight_target(&self, target: &Target, ctx: &TaskCtx) -> ProviderResult<HostFacts> {
        let failed = |why: String| ProviderError::new(ErrorKind::Other, why);
        match target {
            Target::Local => {
                let output = tokio::process::Command::new("/bin/bash")
                    .arg("-c")
                    .arg(wire::PREFLIGHT)
                    .env_clear()
                    .env("PATH", local::PATH)
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let output = tokio::select! {
                    out = output => out.map_err(|e| failed(format!("cannot run the preflight: {e}")))?,
                    _ = ctx.cancelled() => return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled")),
                };
                Ok(wire::parse_facts(&String::from_utf8_lossy(&output.stdout)))
            }
            Target::Ssh(host) => {
                ssh::preflight(&self.settings, host, self.settings.preflight_timeout, ctx)
                    .await
                    .map_err(|why| {
                        if why == "cancelled" {
                            ProviderError::new(ErrorKind::Cancelled, why)
                        } else {
                            failed(why)
                        }
                    })
            }
            Target::Ssm(instance) => self.ssm.preflight(&self.settings, instance, ctx).await,
        }
    }

    /// One attempt on one target.
    async fn attempt(
        &self,
        run: &RunInstaller,
        installer: &Installer,
        target: &Target,
        parameter: Option<&str>,
        ctx: Arc<TaskCtx>,
        masker: Arc<Masker>,
    ) -> Ended {
        let timeout = Duration::from_secs(run.timeout_seconds);
        match target {
            Target::Local => {
                local::run(
                    &installer.install,
                    &run.inputs,
                    timeout,
                    self.settings.kill_grace,
                    ctx,
                    masker,
                )
                .await
            }
            Target::Ssh(host) => {
                ssh::run(
                    &self.settings,
                    host,
                    &installer.install,
                    &run.inputs,
                    timeout,
                    ctx,
                    masker,
                )
                .await
            }
            Target::Ssm(instance) => {
                let comment = format!(
                    "opsdeck run-installer {} {} run={}",
                    run.installer, run.version, run.run_id
                );
                self.ssm
                    .run(
                        &self.settings,
                        instance,
                        &installer.install,
                        parameter,
                        run.timeout_seconds,
                        &comment,
                        &ctx,
                        &masker,
                    )
                    .await
            }
        }
    }

    /// One target, retried as allowed; its child job ends with its outcome.
    async fn run_target(
        &self,
        run: &RunInstaller,
        installer: &Installer,
        index: usize,
        child: Arc<TaskCtx>,
        parameter: Option<&str>,
        masker: Arc<Masker>,
    ) -> (usize, JobState, String) {
        let target = &run.targets[index].target;
        let lock = self.lock_for(target);
        let _busy = match lock.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                child.info(format!(
                    "waiting for another installer run on {target} to finish"
                ));
                tokio::select! {
                    guard = lock.lock() => guard,
                    _ = child.cancelled() => {
                        let why = "cancelled before it started".to_string();
                        child.finish(JobState::Cancelled, Some(why.clone()));
                        return (index, JobState::Cancelled, why);
                    }
                }
            }
        };
        child.mark_running();
        let attempts = if run.idempotent { MAX_ATTEMPTS } else { 1 };
        let mut attempt = 1;
        let (state, message) = loop {
            if attempt > 1 {
                child.info(format!("attempt {attempt} of {attempts}"));
            }
            let ended = self
                .attempt(
                    run,
                    installer,
                    target,
                    parameter,
                    child.clone(),
                    masker.clone(),
                )
                .await;
            let (state, message) = verdict(&ended);
            if state == JobState::Succeeded
                || attempt >= attempts
                || !retryable(run.idempotent, &ended)
            {
                break (state, message);
            }
            let delay = self.settings.retry_delay * 2u32.pow(attempt - 1);
            child.warn(format!(
                "{message}; the installer is idempotent, so it is tried again in {}s",
                delay.as_secs()
            ));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = child.cancelled() => break (JobState::Cancelled, "cancelled before the retry".to_string()),
            }
            attempt += 1;
        };
        match state {
            JobState::Succeeded => child.info(&message),
            _ => child.error(&message),
        }
        child.finish(
            state,
            (state != JobState::Succeeded).then(|| message.clone()),
        );
        (index, state, message)
    }

    async fn run_all(
        &self,
        approved: Approved<RunInstaller>,
        ctx: &TaskCtx,
    ) -> ProviderResult<String> {
        if let Err(foreign) = self.binding.check(&approved) {
            return Err(ProviderError::new(ErrorKind::Invalid, foreign.to_string()));
        }
        let run = approved.op();
        // What was confirmed is what runs: the installer as it is now must have the same hash.
        let installer = Installer::reload(&run.installer, &run.origin).map_err(|e| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "installer {} cannot be loaded again, so nothing ran: {e}",
                    run.installer
                ),
            )
        })?;
        if installer.hash != run.hash {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "installer {} changed since it was confirmed (confirmed {}, now {}); nothing ran — ask again to review it",
                    run.installer, run.hash, installer.hash
                ),
            ));
        }
        ctx.info(format!(
            "installer {} {} ({}) verified; {} target(s), max concurrency {}, max errors {}",
            run.installer,
            run.version,
            run.hash,
            run.targets.len(),
            run.max_concurrency,
            run.max_errors
        ));
        let masker = Arc::new(Masker::new(
            run.inputs
                .iter()
                .filter(|i| i.is_secret())
                .map(|i| i.expose()),
        ));
        // One child job per target, created now so every target is listed from the start.
        let mut children = Vec::with_capacity(run.targets.len());
        for t in &run.targets {
            let child = ctx
                .child(
                    "run-installer",
                    format!("{} {} on {}", run.installer, run.version, t.target),
                    Some(format!("{} ({})", t.target, t.environment)),
                )
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Other,
                        "the job store could not record a target's job; nothing ran",
                    )
                })?;
            children.push(Some(Arc::new(child)));
        }
        // The inputs of SSM targets travel in one SecureString parameter, deleted at the end.
        let needs_parameter = run
            .targets
            .iter()
            .any(|t| matches!(t.target, Target::Ssm(_)))
            && !run.inputs.is_empty();
        let parameter = if needs_parameter {
            // The longest the whole run can take (every target, every attempt, one after the
            // other): the parameter expires then even if opsdeck never gets to delete it.
            let per_attempt = run.timeout_seconds + 600 + 180;
            let attempts = if run.idempotent {
                u64::from(MAX_ATTEMPTS)
            } else {
                1
            };
            let lifetime = Duration::from_secs(
                run.targets.len() as u64 * attempts * per_attempt
                    + attempts * self.settings.retry_delay.as_secs() * 4,
            );
            match self
                .ssm
                .put_inputs(&run.run_id, &wire::env_records(&run.inputs), lifetime)
                .await
            {
                Ok(name) => {
                    ctx.info(format!(
                        "inputs for SSM targets stored in SecureString parameter {name}"
                    ));
                    Some(name)
                }
                Err(e) => {
                    let why = format!("cannot store the inputs for SSM targets: {e}");
                    for child in children.iter().flatten() {
                        child.finish(JobState::Cancelled, Some(format!("not started: {why}")));
                    }
                    return Err(ProviderError::new(e.kind, format!("{why}; nothing ran")));
                }
            }
        } else {
            None
        };
        let total = run.targets.len();
        let concurrency = run.max_concurrency.of(total).clamp(1, total.max(1));
        let max_errors = run.max_errors.of(total);
        let mut running = FuturesUnordered::new();
        let mut next = 0;
        let mut errors = 0;
        let mut done = 0;
        let mut lines = Vec::with_capacity(total);
        let mut stop_reason: Option<String> = None;
        loop {
            while running.len() < concurrency && next < total && stop_reason.is_none() {
                if ctx.is_cancelled() {
                    stop_reason = Some("the run was cancelled".into());
                    break;
                }
                if let Some(child) = children[next].take() {
                    running.push(self.run_target(
                        run,
                        &installer,
                        next,
                        child,
                        parameter.as_deref(),
                        masker.clone(),
                    ));
                }
                next += 1;
            }
            let Some((index, state, message)) = running.next().await else {
                break;
            };
            done += 1;
            ctx.progress(done as f32 / total as f32);
            let target = &run.targets[index].target;
            let line = format!("{target}: {message}");
            if state == JobState::Succeeded {
                ctx.info(&line);
            } else {
                errors += 1;
                ctx.error(&line);
                if errors > max_errors && stop_reason.is_none() && next < total {
                    stop_reason = Some(format!(
                        "{errors} target(s) failed, more than max errors {} allows",
                        run.max_errors
                    ));
                }
            }
            lines.push((index, state, line));
        }
        if ctx.is_cancelled() && stop_reason.is_none() && next < total {
            stop_reason = Some("the run was cancelled".into());
        }
        for (index, child) in children.iter().enumerate().skip(next) {
            if let Some(child) = child {
                let why = format!(
                    "not started: {}",
                    stop_reason.as_deref().unwrap_or("the run ended")
                );
                child.info(&why);
                child.finish(JobState::Cancelled, Some(why.clone()));
                lines.push((
                    index,
                    JobState::Cancelled,
                    format!("{}: {why}", run.targets[index].target),
                ));
            }
        }
        if let Some(name) = &parameter {
            match self.ssm.delete_inputs(name).await {
                Ok(()) => ctx.info(format!("deleted parameter {name}")),
                Err(e) => ctx.error(format!(
                    "could not delete parameter {name}: {e}; delete it by hand (aws ssm delete-parameter --name {name})"
                )),
            }
        }
        lines.sort_by_key(|(index, _, _)| *index);
        let succeeded = lines
            .iter()
            .filter(|(_, s, _)| *s == JobState::Succeeded)
            .count();
        let summary = format!(
            "{} {}: {succeeded} of {total} target(s) succeeded — {}",
            run.installer,
            run.version,
            lines
                .iter()
                .map(|(_, _, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        if succeeded == total {
            Ok(summary)
        } else if ctx.is_cancelled() {
            Err(ProviderError::new(ErrorKind::Cancelled, summary))
        } else {
            Err(ProviderError::new(ErrorKind::Other, summary))
        }
    }
}

impl crate::installers::port::InstallApi for InstallProvider {
    fn preflight<'a>(
        &'a self,
        target: &'a Target,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<HostFacts>> {
        Box::pin(async move {
            let facts = self.preflight_target(target, ctx).await?;
            ctx.info(format!("{target}: {}", facts.summary()));
            Ok(facts)
        })
    }

    fn run_installer<'a>(
        &'a self,
        approved: Approved<RunInstaller>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(self.run_all(approved, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_idempotent_runs_and_never_after_exit_1() {
        assert!(retryable(true, &Ended::Exited(2)));
        assert!(retryable(true, &Ended::Unreachable("ssh".into())));
        assert!(!retryable(true, &Ended::Exited(1)));
        assert!(!retryable(true, &Ended::TimedOut));
        assert!(!retryable(true, &Ended::Cancelled));
        assert!(!retryable(false, &Ended::Exited(2)));
    }

    #[test]
    fn exit_codes_are_said_in_words() {
        assert_eq!(verdict(&Ended::Exited(0)).0, JobState::Succeeded);
        assert!(verdict(&Ended::Exited(1)).1.contains("validation"));
        assert!(verdict(&Ended::Exited(2)).1.contains("installation failed"));
        assert!(verdict(&Ended::Exited(3)).1.contains("configuration"));
        assert!(verdict(&Ended::Exited(143)).1.contains("signal 15"));
        assert_eq!(verdict(&Ended::Cancelled).0, JobState::Cancelled);
    }
}
