//! Tasks that are not operations (an assistant's answer) and new clients for the tasks that
//! follow (`:region`): the parts of the scheduler the assistant and the shell added.

use super::{Engine, EngineEvent, lock};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult, Providers};
use crate::engine::retry::human;
use crate::engine::stream;
use crate::engine::task::TaskCtx;
use crate::model::{JobId, JobKind, JobState};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::sync::Arc;

impl Engine {
    /// Point tasks started from now on at new clients (the session moved to another region).
    /// Running tasks keep theirs, so what a running job talks to never changes under it.
    pub fn set_providers(&self, providers: BoxFuture<'static, Arc<Providers>>) {
        let providers = providers.shared();
        *lock(&self.inner.providers) = providers.clone();
        let events = self.inner.events.clone();
        tokio::spawn(async move {
            let providers = providers.await;
            let _ = events.send(EngineEvent::CloudReady {
                region: providers.sts.region(),
            });
        });
    }

    /// A task that is not an operation on a service (an assistant's answer, which reads
    /// through the engine and proposes through the gate like anyone): recorded as a job,
    /// cancellable with [`Engine::cancel`], its log kept, its updates sent to the console
    /// through a bounded stream like a follow's. It ends with [`EngineEvent::TaskDone`].
    /// `None` when the job store cannot record it.
    pub fn submit_task<F, Fut>(&self, operation: &str, title: String, run: F) -> Option<JobId>
    where
        F: FnOnce(TaskCtx) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ProviderResult<String>> + Send + 'static,
    {
        let (handle, cancel) = self.create_job(JobKind::Read, operation, title, None, None)?;
        let job = handle.id;
        let (sink, updates) = stream::channel(job, self.inner.events.clone());
        let _ = self.inner.events.send(EngineEvent::StreamOpened(updates));
        let engine = self.clone();
        tokio::spawn(async move {
            engine.set_running(job);
            let mut ctx = engine.ctx(handle.clone(), cancel.clone());
            ctx.stream = Some(sink);
            let limit = engine.inner.config.mutation_timeout;
            let result = tokio::select! {
                r = tokio::time::timeout(limit, run(ctx)) => r.unwrap_or_else(|_| {
                    Err(ProviderError::new(
                        ErrorKind::Network,
                        format!("stopped after {}", human(limit)),
                    ))
                }),
                _ = cancel.cancelled() => Err(ProviderError::new(ErrorKind::Cancelled, "stopped")),
            };
            let log = engine.ctx(handle, cancel);
            let state = match &result {
                Ok(summary) => {
                    log.info(summary);
                    JobState::Succeeded
                }
                Err(e) if e.kind == ErrorKind::Cancelled => {
                    log.info("stopped");
                    JobState::Cancelled
                }
                Err(e) => {
                    log.error(e.to_string());
                    JobState::Failed
                }
            };
            engine.finish(job, state, result.as_ref().err().map(|e| e.to_string()));
            let _ = engine
                .inner
                .events
                .send(EngineEvent::TaskDone { job, result });
        });
        Some(job)
    }
}
