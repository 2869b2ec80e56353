//! Streaming tasks: a task that yields many updates until it ends or is cancelled (a stack
//! followed event by event, a Kubernetes cluster watched kind by kind; later a model's tokens,
//! installer output). Pod log follows write into their job's log instead (ring + spill). Updates travel through a bounded channel per job: when the console
//! falls behind, the producer waits (backpressure) — nothing is dropped and memory stays
//! bounded. The console is told that a stream has updates with one coalesced event, and
//! drains them at its own pace.

use crate::cfn::model::StackEvent;
use crate::engine::EngineEvent;
use crate::model::JobId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Updates a stream may carry, one variant per capability.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A stack event, as a follow sees it (oldest first, each once).
    CfnEvent {
        stack_id: String,
        event: Box<StackEvent>,
    },
    /// A cluster watch's rows (a relist, an object added, changed or gone) or its loss.
    Kube(Box<crate::kube::model::KubeUpdate>),
    /// An answer being written: text, tool lines, proposals (see `assistant::AssistantUpdate`).
    Assistant(crate::assistant::AssistantUpdate),
}

/// How many updates may wait for the console before the producer waits.
pub const STREAM_CAPACITY: usize = 256;

/// The producing end, held by the task (through its `TaskCtx`).
#[derive(Clone)]
pub struct StreamSink {
    job: JobId,
    tx: mpsc::Sender<StreamItem>,
    /// Set while a `StreamReady` is on its way and the console has not drained since.
    notified: Arc<AtomicBool>,
    events: mpsc::UnboundedSender<EngineEvent>,
}

/// The consuming end, handed to the console in `EngineEvent::StreamOpened`.
#[derive(Debug)]
pub struct StreamUpdates {
    pub job: JobId,
    rx: mpsc::Receiver<StreamItem>,
    notified: Arc<AtomicBool>,
}

/// A stream's two ends.
pub fn channel(
    job: JobId,
    events: mpsc::UnboundedSender<EngineEvent>,
) -> (StreamSink, StreamUpdates) {
    let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
    let notified = Arc::new(AtomicBool::new(false));
    (
        StreamSink {
            job,
            tx,
            notified: notified.clone(),
            events,
        },
        StreamUpdates { job, rx, notified },
    )
}

impl StreamSink {
    /// Send one update, waiting while the channel is full. `false` when nobody listens any
    /// more (the console closed the stream): the task should stop.
    pub async fn send(&self, item: StreamItem) -> bool {
        if self.tx.send(item).await.is_err() {
            return false;
        }
        if !self.notified.swap(true, Ordering::AcqRel) {
            let _ = self.events.send(EngineEvent::StreamReady(self.job));
        }
        true
    }
}

impl StreamUpdates {
    /// Take up to `budget` waiting updates without waiting. Clears the notification first, so
    /// an update sent while draining announces itself again.
    pub fn drain(&mut self, budget: usize) -> Vec<StreamItem> {
        self.notified.store(false, Ordering::Release);
        let mut out = Vec::new();
        while out.len() < budget {
            match self.rx.try_recv() {
                Ok(item) => out.push(item),
                Err(_) => break,
            }
        }
        out
    }

    /// Whether updates are still waiting (after a `drain` that hit its budget).
    pub fn has_more(&self) -> bool {
        !self.rx.is_empty()
    }
}
