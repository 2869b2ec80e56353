//! A console without a screen: the engine, the gate and the person's identity, with the job
//! log of each change streamed to stderr as it grows.

use crate::config::{Config, Paths};
use crate::engine::ports::ProviderError;
use crate::engine::task::JobHandle;
use crate::engine::{Engine, EngineConfig, EngineEvent, MutationOutput, ReadOutput};
use crate::model::{CallerIdentity, Environment, JobId};
use crate::ops::{ConfirmError, Gate, MutatingOp, ReadOp, Refusal};
use crate::setup::{self, Options};
use futures::FutureExt;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

impl crate::ops::SessionFacts for Runner {
    fn region(&self) -> Option<String> {
        self.region.clone()
    }

    fn environment_of(&self, account: &str) -> Environment {
        Runner::environment_of(self, account)
    }

    fn kube_environment(&self, context: &str, cluster: &str) -> Environment {
        setup::kube_environment_of(&self.config, context, cluster, self.env_override)
    }

    fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
        self.kube_context
            .clone()
            .map(crate::kube::model::ContextRef::kubeconfig)
    }
}

impl crate::ops::PlanCtx for Runner {
    fn read(
        &self,
        op: ReadOp,
    ) -> futures::future::BoxFuture<'_, Result<ReadOutput, ProviderError>> {
        Box::pin(self.engine.read(op))
    }

    fn checker(&self) -> Option<Arc<crate::compliance::Checker>> {
        self.checker.clone()
    }

    fn pricing(&self) -> Option<Arc<crate::cost::headless::PricingInputs>> {
        self.pricing.clone()
    }

    fn jobs(&self, limit: usize) -> Vec<crate::model::JobRecord> {
        self.engine.store().recent(limit).unwrap_or_default()
    }

    fn installers(&self) -> Option<crate::installers::plan::InstallerSource> {
        Some(crate::installers::plan::InstallerSource {
            dir: self.installers_dir.clone(),
            targets: self.config.targets.clone(),
        })
    }
}

/// Why a headless step stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// Bad input or an error before anything was asked of AWS (exit 2).
    #[error("{0}")]
    Input(String),
    /// Refused by the gate or the engine, or the change failed (exit 1).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl Stop {
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::Input(_) => 2,
            Stop::Refused(_) | Stop::Failed(_) => 1,
        }
    }
}

/// A signal that stops a headless run. The first cancels the running job (its in-flight call
/// is dropped and what it made is removed, within about 10 s); a second exits at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
    Hangup,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// 128 + the signal's number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
            StopSignal::Hangup => 129,
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught for the whole run (once caught, they no longer end the
/// process by themselves: the runner decides).
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.int.recv() => StopSignal::Interrupt,
            _ = self.term.recv() => StopSignal::Terminate,
            _ = self.hup.recv() => StopSignal::Hangup,
        }
    }
}

/// The next engine event. The engine holds the sender for as long as it lives.
async fn next_event(events: &mut mpsc::UnboundedReceiver<EngineEvent>) -> EngineEvent {
    match events.recv().await {
        Some(event) => event,
        None => std::future::pending().await,
    }
}

/// The next signal, or never when they could not be caught.
async fn next_signal(signals: &mut Option<Signals>) -> StopSignal {
    match signals {
        Some(signals) => signals.next().await,
        None => std::future::pending().await,
    }
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Stop {
        Stop::Refused(format!("refused: {r}"))
    }
}

impl From<ConfirmError> for Stop {
    fn from(e: ConfirmError) -> Stop {
        Stop::Refused(format!("not approved: {e}"))
    }
}

pub struct Runner {
    engine: Engine,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    handles: HashMap<JobId, (JobHandle, u64)>,
    /// The followed change's child jobs (one per target of an installer run), as last seen.
    children: Vec<crate::model::JobRecord>,
    pub gate: Gate,
    pub config: Arc<Config>,
    os_user: String,
    profile: Option<String>,
    env_override: Option<Environment>,
    /// `--context`: the Kubernetes context plans use when they are given none.
    kube_context: Option<String>,
    pub region: Option<String>,
    pub identity: Option<CallerIdentity>,
    endpoint: Option<String>,
    /// Where the AWS clients point (the assistant builds its Bedrock client from it).
    pub aws: crate::aws::AwsSettings,
    /// `[assistant]`, resolved.
    pub assistant: crate::config::settings::AssistantSettings,
    /// The compliance rules, once a command loaded them (plans that judge need them).
    checker: Option<Arc<crate::compliance::Checker>>,
    /// The price catalogue and budgets, once a command loaded them (plans that deploy).
    pricing: Option<Arc<crate::cost::headless::PricingInputs>>,
    /// The user's installers folder (plans that run an installer).
    installers_dir: std::path::PathBuf,
    signals: Option<Signals>,
    /// The first stop signal received, if any: it decides the exit code.
    interrupted: Option<StopSignal>,
    /// The change running now, to say what it may leave if a second signal ends the process.
    running: Option<(JobId, MutatingOp)>,
    /// A discard to cancel (shortening its clean-up budget) once it runs: cancelled before,
    /// it would not start at all, and the clean-up it is would not happen.
    cancel_when_running: Option<JobId>,
}

impl Runner {
    /// Build the guarded context and the engine. Local only; the AWS set-up runs lazily.
    pub fn start(opts: &Options, paths: &Paths) -> anyhow::Result<Runner> {
        let guarded = setup::open(opts, paths)?;
        if !guarded.recovered.is_empty() {
            crate::errln!(
                "note: {} job(s) were running when opsdeck last stopped; marked interrupted",
                guarded.recovered.len()
            );
        }
        let (tx, events) = mpsc::unbounded_channel();
        let aws = guarded.settings.aws.clone();
        let kube = guarded.settings.kube.clone();
        let binding = guarded.gate.binding();
        let providers =
            async move { Arc::new(crate::aws::providers_with(&aws, &kube, binding).await) }.boxed();
        let engine = Engine::start(
            providers,
            guarded.store.clone(),
            guarded.audit.clone(),
            guarded.gate.binding(),
            tx,
            EngineConfig {
                logs_dir: Some(paths.job_logs_dir.clone()),
                ..EngineConfig::default()
            },
        );
        let region = guarded.settings.aws.region.clone();
        Ok(Runner {
            engine,
            events,
            handles: HashMap::new(),
            children: Vec::new(),
            gate: guarded.gate,
            config: guarded.config,
            os_user: guarded.os_user,
            profile: guarded.settings.aws.profile.clone(),
            env_override: guarded.settings.env_override,
            kube_context: guarded.settings.kube.context.clone(),
            region,
            identity: None,
            endpoint: guarded.settings.aws.endpoint_url.clone(),
            aws: guarded.settings.aws.clone(),
            assistant: guarded.settings.assistant.clone(),
            checker: None,
            pricing: None,
            installers_dir: paths.installers_dir.clone(),
            signals: Signals::install()
                .map_err(|e| tracing::warn!("cannot catch signals: {e}"))
                .ok(),
            interrupted: None,
            running: None,
            cancel_when_running: None,
        })
    }

    /// The compliance rules plans that judge a template use (see `PlanCtx::checker`).
    pub fn set_checker(&mut self, checker: Arc<crate::compliance::Checker>) {
        self.checker = Some(checker);
    }

    /// What plans that deploy price the change with (see `PlanCtx::pricing`).
    pub fn set_pricing(&mut self, pricing: Arc<crate::cost::headless::PricingInputs>) {
        self.pricing = Some(pricing);
    }

    /// The job store (the assistant keeps its usage there).
    pub fn store(&self) -> &Arc<crate::engine::store::JobStore> {
        self.engine.store()
    }

    /// The stop signal received, if any.
    pub fn interrupted(&self) -> Option<StopSignal> {
        self.interrupted
    }

    /// A stop signal arrived while `job` ran. The first cancels it (the job drops its
    /// in-flight call and removes what it made); a second ends the process at once, saying
    /// what may be left in AWS.
    fn on_signal(&mut self, signal: StopSignal, job: JobId) {
        if self.interrupted.is_none() {
            self.interrupted = Some(signal);
            crate::errln!(
                "opsdeck: {} received: stopping job {job} and cleaning up (a second signal exits at once)",
                signal.name()
            );
            let queued_discard = matches!(
                &self.running,
                Some((running, op)) if *running == job && op.is_cleanup()
            ) && !self.job_started(job);
            if queued_discard {
                self.cancel_when_running = Some(job);
            } else {
                self.engine.cancel(job);
            }
            return;
        }
        crate::errln!(
            "opsdeck: {} received again: exiting now, without waiting for job {job}",
            signal.name()
        );
        if let Some(left) = self
            .running
            .as_ref()
            .and_then(|(_, op)| op.what_may_be_left(self.endpoint.as_deref()))
        {
            crate::errln!("opsdeck: {left}");
        }
        // Records the job (and a running change) as interrupted before the process goes.
        self.engine.shutdown();
        std::process::exit(self.interrupted.unwrap_or(signal).exit_code());
    }

    /// Ask STS who we are, settle the role (a viewer engages read-only), and learn the region.
    pub async fn identify(&mut self) -> Result<CallerIdentity, Stop> {
        let identity = match self.read(ReadOp::WhoAmI).await {
            Ok(ReadOutput::Identity(identity)) => identity,
            Ok(_) => return Err(Stop::Failed("unexpected answer to WhoAmI".into())),
            Err(e) => return Err(Stop::Failed(format!("cannot tell who you are: {e}"))),
        };
        let role = self
            .config
            .role_for(&self.os_user, Some(&identity.arn))
            .role();
        self.gate.identity_resolved(identity.arn.clone(), role);
        self.identity = Some(identity.clone());
        Ok(identity)
    }

    pub fn environment_of(&self, account: &str) -> Environment {
        setup::environment_of(
            &self.config,
            Some(account),
            self.profile.as_deref(),
            self.env_override,
        )
    }

    /// Run one read to its end (retries included).
    pub async fn read(&mut self, op: ReadOp) -> Result<ReadOutput, ProviderError> {
        if let Some(signal) = self.interrupted {
            return Err(ProviderError::new(
                crate::engine::ports::ErrorKind::Cancelled,
                format!("not started: stopped by {}", signal.name()),
            ));
        }
        let Some(job) = self.engine.submit_read(op, None) else {
            return Err(ProviderError::new(
                crate::engine::ports::ErrorKind::Other,
                "the job store is unavailable",
            ));
        };
        loop {
            let event = tokio::select! {
                event = next_event(&mut self.events) => event,
                signal = next_signal(&mut self.signals) => {
                    self.on_signal(signal, job);
                    continue;
                }
            };
            match event {
                EngineEvent::ReadDone {
                    job: done, result, ..
                } if done == job => return result,
                other => self.track(other, None),
            }
        }
    }

    /// Ask the gate for `op` and confirm it with `typed` (the command line's stand-in for the
    /// dialog), then run it, streaming its log to stderr.
    ///
    /// After a stop signal only a clean-up (a discard) may still start; anything else is
    /// refused before the gate is asked.
    pub async fn change(&mut self, op: MutatingOp, typed: &str) -> Result<MutationOutput, Stop> {
        if let Some(signal) = self.interrupted
            && !op.is_cleanup()
        {
            return Err(Stop::Refused(format!(
                "refused: {} not started, stopped by {}",
                op.name(),
                signal.name()
            )));
        }
        self.children.clear();
        let request = self.gate.request(op.clone())?;
        let approved = self.gate.confirm(request.id, typed)?;
        let job = self
            .engine
            .submit_mutation(approved)
            .map_err(|e| Stop::Refused(format!("refused: {e}")))?;
        let discard = op.is_cleanup();
        self.running = Some((job, op));
        // A clean-up started after a signal runs on the shortened clean-up budget: it is
        // cancelled once it runs (a discard goes on through a cancel, on that budget).
        if discard && self.interrupted.is_some() {
            self.cancel_when_running = Some(job);
        }
        loop {
            let event = tokio::select! {
                event = next_event(&mut self.events) => event,
                signal = next_signal(&mut self.signals) => {
                    self.on_signal(signal, job);
                    continue;
                }
            };
            match event {
                EngineEvent::MutationDone {
                    job: done, result, ..
                } if done == job => {
                    self.running = None;
                    let children: Vec<JobId> = self.children.iter().map(|c| c.id).collect();
                    for child in children {
                        self.print_log(child);
                    }
                    self.print_log(job);
                    return result.map_err(Stop::Failed);
                }
                other => self.track(other, Some(job)),
            }
        }
    }

    /// Whether the job has left the queue (its record says running or finished).
    fn job_started(&self, job: JobId) -> bool {
        self.engine
            .store()
            .get(job)
            .ok()
            .flatten()
            .is_some_and(|r| r.state != crate::model::JobState::Queued)
    }

    /// The child jobs of the last change (one per target of an installer run), as last seen.
    pub fn children(&self) -> &[crate::model::JobRecord] {
        &self.children
    }

    /// Remember job handles and print the followed job's (and its children's) new log lines.
    fn track(&mut self, event: EngineEvent, follow: Option<JobId>) {
        match event {
            EngineEvent::JobChanged(record)
                if Some(record.id) == self.cancel_when_running
                    && record.state != crate::model::JobState::Queued =>
            {
                self.cancel_when_running = None;
                self.engine.cancel(record.id);
            }
            EngineEvent::JobCreated { record, handle } => {
                self.handles.insert(record.id, (handle, 0));
                if follow.is_some() && record.parent == follow {
                    self.children.push(record);
                }
            }
            EngineEvent::JobChanged(record) => {
                if let Some(child) = self.children.iter_mut().find(|c| c.id == record.id) {
                    let id = record.id;
                    let finished = record.state.is_finished();
                    *child = record;
                    if finished {
                        self.print_log(id);
                    }
                }
            }
            EngineEvent::LogGrew(id) => {
                if let Some((handle, _)) = self.handles.get(&id) {
                    handle.notified.store(false, Ordering::Release);
                }
                if follow == Some(id) || self.children.iter().any(|c| c.id == id) {
                    self.print_log(id);
                }
            }
            _ => {}
        }
    }

    fn print_log(&mut self, job: JobId) {
        // A target's lines are prefixed with the target, as runs on several interleave.
        let prefix = self
            .children
            .iter()
            .find(|c| c.id == job)
            .and_then(|c| c.target.as_deref())
            .map(|t| format!("[{}] ", t.split(' ').next().unwrap_or(t)))
            .unwrap_or_default();
        let Some((handle, printed)) = self.handles.get_mut(&job) else {
            return;
        };
        let lines = {
            let mut log = handle.log.lock().unwrap_or_else(|p| p.into_inner());
            let total = log.total();
            let lines = log
                .range(*printed, (total - *printed) as usize)
                .unwrap_or_default();
            *printed = total;
            lines
        };
        let mut err = std::io::stderr().lock();
        for line in lines {
            let _ = writeln!(err, "{} {prefix}{}", line.level.as_char(), line.text);
        }
    }

    /// Record unfinished work as interrupted; call before exiting.
    pub fn shutdown(&self) {
        self.engine.shutdown();
    }

    /// End a command: shut down, print why it stopped, and give its exit code (128 + the
    /// signal's number after a stop signal).
    pub fn finish(self, command: &str, result: Result<(), Stop>) -> i32 {
        self.shutdown();
        match (result, self.interrupted) {
            (Ok(()), None) => 0,
            (Err(stop), None) => {
                crate::errln!("opsdeck {command}: {}", super::clean(&stop.to_string()));
                stop.exit_code()
            }
            (Ok(()), Some(signal)) => {
                crate::errln!("opsdeck {command}: stopped by {}", signal.name());
                signal.exit_code()
            }
            (Err(stop), Some(signal)) => {
                crate::errln!(
                    "opsdeck {command}: stopped by {}: {}",
                    signal.name(),
                    super::clean(&stop.to_string())
                );
                signal.exit_code()
            }
        }
    }
}
