//! One turn of the conversation: ask the model, run the tools it calls (reads at once,
//! changes only as proposals through the executor), hand it the results, and ask again until
//! it answers in words. Shared by the console (as an engine task) and `opsdeck ask`.
//!
//! Throttling and model errors before any text arrived are retried with a bounded backoff,
//! then said plainly; an answer that breaks off keeps what arrived.

use super::model::{Block, Message, Role, StopReason, Usage, well_formed};
use super::port::{ModelApi, ModelError, ModelReply, ModelRequest, Sink};
use super::tools::{self, Executor, ToolCall, ToolOutcome};
use crate::engine::retry::Backoff;
use futures::future::BoxFuture;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How patient a turn is.
#[derive(Debug, Clone, Copy)]
pub struct TurnConfig {
    /// Model calls per turn at most (each tool round is one): a model that keeps calling
    /// tools is stopped.
    pub max_rounds: usize,
    /// Tries of one model call that is throttled or fails on the service's side.
    pub attempts: u32,
    pub backoff: Backoff,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            max_rounds: 10,
            attempts: 4,
            backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(8),
            },
        }
    }
}

/// What a turn reports while it goes, beside the text.
pub trait Observer: Sink {
    /// A tool ran (or was proposed): what the operator should see of it.
    fn tool<'a>(&'a self, call: &'a ToolCall, outcome: &'a ToolOutcome) -> BoxFuture<'a, ()>;
    /// One model call's tokens.
    fn usage<'a>(&'a self, usage: Usage) -> BoxFuture<'a, ()>;
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEnd {
    pub usage: Usage,
    pub stop: StopReason,
    /// Model calls made.
    pub calls: u32,
}

/// The parts of a request that stay the same through a turn.
#[derive(Debug, Clone)]
pub struct Setup {
    pub system: String,
    pub tools: Vec<super::port::ToolSpec>,
    pub max_tokens: u32,
    pub temperature: f32,
}

/// Run one turn on `conversation` (its last message is the operator's), adding the model's
/// messages and the tool results to it.
pub async fn run(
    model: &dyn ModelApi,
    config: &TurnConfig,
    setup: &Setup,
    conversation: &mut Vec<Message>,
    exec: &dyn Executor,
    observer: &dyn Observer,
    cancel: &CancellationToken,
) -> Result<TurnEnd, ModelError> {
    let mut end = TurnEnd {
        usage: Usage::default(),
        stop: StopReason::EndTurn,
        calls: 0,
    };
    for _ in 0..config.max_rounds {
        let request = ModelRequest {
            system: setup.system.clone(),
            messages: well_formed(conversation),
            tools: setup.tools.clone(),
            max_tokens: setup.max_tokens,
            temperature: setup.temperature,
        };
        let reply = match ask(model, config, &request, observer, cancel).await {
            Ok(reply) => reply,
            Err((e, partial)) => {
                if !partial.is_empty() {
                    conversation.push(Message::assistant(partial));
                }
                return Err(e);
            }
        };
        end.calls += 1;
        end.stop = reply.stop;
        end.usage.add(reply.usage);
        observer.usage(reply.usage).await;
        let message = Message {
            role: Role::Assistant,
            blocks: reply.blocks,
        };
        let calls: Vec<ToolCall> = message
            .tool_uses()
            .map(|(id, name, input)| ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                input: input.clone(),
            })
            .collect();
        conversation.push(message);
        if calls.is_empty() {
            return Ok(end);
        }
        let mut results = Vec::with_capacity(calls.len());
        for call in &calls {
            let outcome = tokio::select! {
                outcome = tools::call(exec, call) => outcome,
                _ = cancel.cancelled() => return Err(ModelError::Cancelled),
            };
            observer.tool(call, &outcome).await;
            results.push(Block::ToolResult {
                id: call.id.clone(),
                text: outcome.text,
                ok: outcome.ok,
            });
        }
        conversation.push(Message {
            role: Role::User,
            blocks: results,
        });
    }
    observer
        .note("stopped: the model kept calling tools; ask again to go on")
        .await;
    Ok(end)
}

/// A sink that remembers whether (and what) text arrived.
struct Tracking<'a> {
    inner: &'a dyn Sink,
    text: Mutex<String>,
}

impl Sink for Tracking<'_> {
    fn text<'a>(&'a self, delta: &'a str) -> BoxFuture<'a, ()> {
        self.text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_str(delta);
        self.inner.text(delta)
    }

    fn note<'a>(&'a self, note: &'a str) -> BoxFuture<'a, ()> {
        self.inner.note(note)
    }
}

/// One model call, tried again after a pause while it is throttled or the service fails and
/// nothing has arrived yet. The error comes with the text that did arrive.
async fn ask(
    model: &dyn ModelApi,
    config: &TurnConfig,
    request: &ModelRequest,
    sink: &dyn Sink,
    cancel: &CancellationToken,
) -> Result<ModelReply, (ModelError, String)> {
    let mut attempt = 1;
    loop {
        let seen = Tracking {
            inner: sink,
            text: Mutex::new(String::new()),
        };
        let result = model.converse(request, &seen, cancel).await;
        let partial = seen.text.into_inner().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(reply) => return Ok(reply),
            Err(e) if e.retryable() && partial.is_empty() && attempt < config.attempts => {
                let delay = config.backoff.delay(attempt);
                attempt += 1;
                sink.note(&format!(
                    "{e}; trying again in {}s ({attempt}/{})",
                    delay.as_secs_f32(),
                    config.attempts
                ))
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return Err((ModelError::Cancelled, partial)),
                }
            }
            Err(ModelError::Throttled(why)) if partial.is_empty() => {
                return Err((
                    ModelError::Throttled(format!(
                        "{why}; tried {attempt} times. Wait a minute, then ask again"
                    )),
                    partial,
                ));
            }
            Err(ModelError::Unavailable(why)) if partial.is_empty() => {
                return Err((
                    ModelError::Unavailable(format!(
                        "{why}; tried {attempt} times. Try again in a few minutes"
                    )),
                    partial,
                ));
            }
            Err(e) => return Err((e, partial)),
        }
    }
}
