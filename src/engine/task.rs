//! What a running task can do: write its log, report progress, notice cancellation.

use crate::engine::EngineEvent;
use crate::engine::joblog::{LogLevel, SharedJobLog};
use crate::engine::scheduler::ChildJobs;
use crate::engine::store::JobStore;
use crate::engine::stream::{StreamItem, StreamSink};
use crate::model::{JobId, JobKind, JobState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// The UI's view of one job's log. `notified` coalesces "log grew" events: the task sends one
/// only when the flag was clear; the UI clears it when it handles the event.
#[derive(Clone)]
pub struct JobHandle {
    pub id: JobId,
    pub log: SharedJobLog,
    pub notified: Arc<AtomicBool>,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub struct TaskCtx {
    pub(crate) handle: JobHandle,
    pub(crate) cancel: CancellationToken,
    pub(crate) events: UnboundedSender<EngineEvent>,
    pub(crate) store: Arc<JobStore>,
    /// Last progress sent, in per-mille; -1 = none yet. Progress is sent only when it changes.
    pub(crate) last_progress: AtomicI32,
    /// A streaming task's updates to the console (`None` for a task that only logs).
    pub(crate) stream: Option<StreamSink>,
    /// The longest one AWS call of this task may take (the engine's per-call bound).
    pub(crate) call_timeout: Duration,
    /// Starts child jobs; `None` outside an engine.
    pub(crate) children: Option<ChildJobs>,
}

impl TaskCtx {
    /// A context with no engine behind it (its log in memory, nobody listening), for the
    /// crate's tests of provider code.
    #[cfg(test)]
    pub(crate) fn detached(id: JobId) -> TaskCtx {
        TaskCtx::detached_with_ring(id, 64)
    }

    /// [`TaskCtx::detached`], keeping the newest `ring` lines of its log in memory.
    #[cfg(test)]
    pub(crate) fn detached_with_ring(id: JobId, ring: usize) -> TaskCtx {
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        TaskCtx {
            handle: JobHandle {
                id,
                log: Arc::new(std::sync::Mutex::new(
                    crate::engine::joblog::JobLog::memory_only(ring),
                )),
                notified: Arc::new(AtomicBool::new(false)),
            },
            cancel: CancellationToken::new(),
            events,
            store: Arc::new(JobStore::open_in_memory().expect("in-memory store opens")),
            last_progress: AtomicI32::new(-1),
            stream: None,
            call_timeout: crate::engine::EngineConfig::DEFAULT_CALL_TIMEOUT,
            children: None,
        }
    }

    pub fn job_id(&self) -> JobId {
        self.handle.id
    }

    pub fn info(&self, text: impl AsRef<str>) {
        self.log(LogLevel::Info, text.as_ref());
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        self.log(LogLevel::Warn, text.as_ref());
    }

    pub fn error(&self, text: impl AsRef<str>) {
        self.log(LogLevel::Error, text.as_ref());
    }

    /// Append many lines at info level under one lock (a log follow's chunk), then say once
    /// that the log grew. Returns how many were appended.
    pub fn info_lines<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> usize {
        let mut count = 0;
        {
            let mut log = self.handle.log.lock().unwrap_or_else(|p| p.into_inner());
            for line in lines {
                log.push(LogLevel::Info, line);
                count += 1;
            }
        }
        if count > 0 && !self.handle.notified.swap(true, Ordering::AcqRel) {
            let _ = self.events.send(EngineEvent::LogGrew(self.handle.id));
        }
        count
    }

    pub fn log(&self, level: LogLevel, text: &str) {
        {
            let mut log = self.handle.log.lock().unwrap_or_else(|p| p.into_inner());
            log.push(level, text);
        }
        if !self.handle.notified.swap(true, Ordering::AcqRel) {
            let _ = self.events.send(EngineEvent::LogGrew(self.handle.id));
        }
    }

    /// Fraction done, 0.0..=1.0. Stored and sent only when it moves by at least 0.1%.
    pub fn progress(&self, fraction: f32) {
        let permille = (fraction.clamp(0.0, 1.0) * 1000.0).round() as i32;
        if self.last_progress.swap(permille, Ordering::AcqRel) == permille {
            return;
        }
        let value = permille as f32 / 1000.0;
        if let Err(e) = self.store.set_progress(self.handle.id, value) {
            tracing::warn!(job = self.handle.id, "could not store progress: {e}");
        }
        if let Ok(Some(record)) = self.store.get(self.handle.id) {
            let _ = self.events.send(EngineEvent::JobChanged(record));
        }
    }

    /// Hand one update to whoever watches this stream, waiting while they are behind (so a
    /// flood slows the producer instead of dropping updates). A task that is not a stream
    /// only logs: this does nothing. `false` when the watcher has gone.
    pub async fn emit(&self, item: StreamItem) -> bool {
        match &self.stream {
            Some(sink) => sink.send(item).await,
            None => true,
        }
    }

    /// The longest one AWS call of this task may take; providers bound every call by it.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Start a job that is part of this one (one target of a fan-out): queued now, with its
    /// own record naming this job as its parent, its own log, and a cancel token that this
    /// job's cancellation cancels too (and that can be cancelled alone). `None` when the job
    /// store cannot record it.
    pub fn child(&self, operation: &str, title: String, target: Option<String>) -> Option<TaskCtx> {
        self.children
            .as_ref()?
            .start(self, JobKind::Mutation, operation, title, target)
    }

    /// This (child) job starts running now.
    pub fn mark_running(&self) {
        if let Some(children) = &self.children {
            children.running(self.job_id());
        }
    }

    /// This (child) job ended: its state, its error, its log flushed to disk.
    pub fn finish(&self, state: JobState, error: Option<String>) {
        if let Some(children) = &self.children {
            children.finish(self.job_id(), state, error);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the job is cancelled (by the person, a newer read, or shutdown).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }
}
