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
}

impl crate::ops::PlanCtx for Runner {
    fn read(
        &self,
        op: ReadOp,
    ) -> futures::future::BoxFuture<'_, Result<ReadOutput, ProviderError>> {
        Box::pin(self.engine.read(op))
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
    pub gate: Gate,
    pub config: Arc<Config>,
    os_user: String,
    profile: Option<String>,
    env_override: Option<Environment>,
    pub region: Option<String>,
    pub identity: Option<CallerIdentity>,
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
        let aws = guarded.aws.clone();
        let kube = opts.kube.clone();
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
        let region = guarded.aws.region.clone().or_else(|| {
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok()
                .filter(|s| !s.is_empty())
        });
        Ok(Runner {
            engine,
            events,
            handles: HashMap::new(),
            gate: guarded.gate,
            config: guarded.config,
            os_user: guarded.os_user,
            profile: guarded
                .aws
                .profile
                .clone()
                .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|s| !s.is_empty())),
            env_override: opts.env_override,
            region,
            identity: None,
        })
    }

    /// Ask STS who we are, settle the role (a viewer engages read-only), and learn the region.
    pub async fn identify(&mut self) -> Result<CallerIdentity, Stop> {
        let identity = match self.read(ReadOp::WhoAmI).await {
            Ok(ReadOutput::Identity(identity)) => identity,
            Ok(_) => return Err(Stop::Failed("unexpected answer to WhoAmI".into())),
            Err(e) => return Err(Stop::Failed(format!("cannot tell who you are: {e}"))),
        };
        setup::identity_resolved(&self.config, &mut self.gate, &self.os_user, &identity.arn);
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
        let Some(job) = self.engine.submit_read(op, None) else {
            return Err(ProviderError::new(
                crate::engine::ports::ErrorKind::Other,
                "the job store is unavailable",
            ));
        };
        loop {
            match self.next_event().await {
                EngineEvent::ReadDone {
                    job: done, result, ..
                } if done == job => return result,
                other => self.track(other, None),
            }
        }
    }

    /// Ask the gate for `op` and confirm it with `typed` (the command line's stand-in for the
    /// dialog), then run it, streaming its log to stderr.
    pub async fn change(&mut self, op: MutatingOp, typed: &str) -> Result<MutationOutput, Stop> {
        let request = self.gate.request(op)?;
        let approved = self.gate.confirm(request.id, typed)?;
        let job = self
            .engine
            .submit_mutation(approved)
            .map_err(|e| Stop::Refused(format!("refused: {e}")))?;
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        loop {
            let event = tokio::select! {
                ev = self.events.recv() => ev,
                _ = &mut interrupt => {
                    crate::errln!("interrupted: stopping job {job}");
                    self.engine.cancel(job);
                    interrupt.set(tokio::signal::ctrl_c());
                    continue;
                }
            };
            let Some(event) = event else {
                return Err(Stop::Failed("the engine stopped".into()));
            };
            match event {
                EngineEvent::MutationDone {
                    job: done, result, ..
                } if done == job => {
                    self.print_log(job);
                    return result.map_err(Stop::Failed);
                }
                other => self.track(other, Some(job)),
            }
        }
    }

    async fn next_event(&mut self) -> EngineEvent {
        match self.events.recv().await {
            Some(event) => event,
            // The engine holds the sender for as long as it lives.
            None => std::future::pending().await,
        }
    }

    /// Remember job handles and print the followed job's new log lines.
    fn track(&mut self, event: EngineEvent, follow: Option<JobId>) {
        match event {
            EngineEvent::JobCreated { record, handle } => {
                self.handles.insert(record.id, (handle, 0));
            }
            EngineEvent::LogGrew(id) => {
                if let Some((handle, _)) = self.handles.get(&id) {
                    handle.notified.store(false, Ordering::Release);
                }
                if follow == Some(id) {
                    self.print_log(id);
                }
            }
            _ => {}
        }
    }

    fn print_log(&mut self, job: JobId) {
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
            let _ = writeln!(err, "{} {}", line.level.as_char(), line.text);
        }
    }

    /// Record unfinished work as interrupted; call before exiting.
    pub fn shutdown(&self) {
        self.engine.shutdown();
    }

    /// End a command: shut down, print why it stopped, and give its exit code.
    pub fn finish(self, command: &str, result: Result<(), Stop>) -> i32 {
        self.shutdown();
        match result {
            Ok(()) => 0,
            Err(stop) => {
                crate::errln!("opsdeck {command}: {stop}");
                stop.exit_code()
            }
        }
    }
}
