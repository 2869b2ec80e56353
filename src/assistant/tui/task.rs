//! A turn in the console: an engine task (a job in Jobs, stopped by `Esc`/`Ctrl-C` or `c`)
//! that asks the model, runs its read tools through the engine, puts its proposals to the
//! console's dialog and waits for the operator's answer, and streams everything to the Chat
//! pane through the engine's bounded stream.

use crate::assistant::bedrock::BedrockModel;
use crate::assistant::model::{Message, Role, Usage};
use crate::assistant::offline::OfflineModel;
use crate::assistant::port::{ModelApi, ModelError, Sink};
use crate::assistant::tools::{self, Executor, Proposal, ReadDone, ToolCall, ToolOutcome};
use crate::assistant::turn::{self, Observer, Setup, TurnConfig};
use crate::assistant::{AssistantUpdate, HISTORY_KIND, prompt, secret, usage};
use crate::aws::AwsSettings;
use crate::config::settings::AssistantSettings;
use crate::engine::Engine;
use crate::engine::ReadOutput;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::store::JobStore;
use crate::engine::stream::StreamItem;
use crate::engine::task::TaskCtx;
use crate::ops::{MutatingOp, PlanCtx, ReadOp};
use crate::tui::state::State;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Mutex, OnceCell, mpsc};

/// The model client, built once (on the first message, off the UI thread).
pub struct Runtime {
    pub settings: AssistantSettings,
    aws: AwsSettings,
    model: OnceCell<Result<Arc<BedrockModel>, String>>,
    pub config: TurnConfig,
}

impl Runtime {
    pub fn new(settings: AssistantSettings, aws: AwsSettings) -> Arc<Runtime> {
        Arc::new(Runtime {
            settings,
            aws,
            model: OnceCell::new(),
            config: TurnConfig::default(),
        })
    }

    /// The configured model, or why there is none (`Err("")`: none configured).
    pub async fn model(&self) -> Result<Arc<dyn ModelApi>, String> {
        if self.settings.model_id.is_none() {
            return Err(String::new());
        }
        let built = self
            .model
            .get_or_init(|| async {
                // A syscall into the kernel keyring: off the runtime's threads.
                let key = tokio::task::spawn_blocking(secret::key_for_bedrock)
                    .await
                    .ok()
                    .flatten();
                BedrockModel::connect(&self.aws, &self.settings, key)
                    .await
                    .map(Arc::new)
            })
            .await;
        match built {
            Ok(model) => Ok(model.clone() as Arc<dyn ModelApi>),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Start a turn for `request` as an engine task.
pub fn start(
    state: &mut State,
    engine: &Engine,
    runtime: Arc<Runtime>,
    ctx: Arc<dyn PlanCtx>,
    request: super::TurnRequest,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    state.chat.decisions = Some(tx);
    let asked = request
        .conversation
        .last()
        .map(Message::text)
        .unwrap_or_default();
    let mut title: String = asked.chars().take(60).collect();
    if asked.chars().count() > 60 {
        title.push('…');
    }
    let engine_for_task = engine.clone();
    let job = engine.submit_task(
        "assistant-answer",
        format!("Assistant: {}", crate::engine::joblog::sanitized(&title)),
        move |task| answer(task, engine_for_task, runtime, ctx, request, rx),
    );
    super::started(state, job);
}

/// Keep one line of the conversation for the next session. A failure is logged, not fatal.
pub(crate) fn remember(store: &JobStore, role: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let record = serde_json::json!({ "role": role, "text": text });
    if let Err(e) = store.append_record(HISTORY_KIND, &record) {
        tracing::warn!("chat history not saved: {e}");
    }
}

async fn answer(
    task: TaskCtx,
    engine: Engine,
    runtime: Arc<Runtime>,
    ctx: Arc<dyn PlanCtx>,
    request: super::TurnRequest,
    decisions: mpsc::UnboundedReceiver<(u64, Proposal)>,
) -> ProviderResult<String> {
    let mut conversation = request.conversation;
    let first_new = conversation.len();
    let asked = conversation.last().map(Message::text).unwrap_or_default();
    remember(&task.store, "user", &asked);
    let setup = Setup {
        system: prompt::system_prompt(&request.facts),
        tools: tools::specs(),
        max_tokens: runtime.settings.max_tokens,
        temperature: runtime.settings.temperature,
    };
    let exec = ConsoleExecutor {
        ctx,
        engine,
        task: &task,
        decisions: Mutex::new(decisions),
        next: AtomicU64::new(1),
    };
    let cancel = task.cancel.clone();
    let offline = |reason: String| OfflineModel::new(request.known_stacks.clone(), reason);
    let mut observer = TaskObserver {
        task: &task,
        model: "offline".into(),
        prices: &runtime.settings.prices,
        saw_text: AtomicBool::new(false),
    };
    let result = match runtime.model().await {
        Ok(model) => {
            observer.model = model.model_id().to_string();
            let result = turn::run(
                &*model,
                &runtime.config,
                &setup,
                &mut conversation,
                &exec,
                &observer,
                &cancel,
            )
            .await;
            match result {
                // No model answers (unreachable, refused): the parser may, on the same words.
                Err(e) if e.no_model() && !observer.saw_text.load(Ordering::Acquire) => {
                    observer.model = "offline".into();
                    let reason = format!("the model did not answer: {e}");
                    turn::run(
                        &offline(reason),
                        &runtime.config,
                        &setup,
                        &mut conversation,
                        &exec,
                        &observer,
                        &cancel,
                    )
                    .await
                }
                other => other,
            }
        }
        Err(reason) => {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!("the model cannot be used: {reason}")
            };
            turn::run(
                &offline(reason),
                &runtime.config,
                &setup,
                &mut conversation,
                &exec,
                &observer,
                &cancel,
            )
            .await
        }
    };
    for m in conversation[first_new.min(conversation.len())..].iter() {
        if m.role == Role::Assistant {
            remember(&task.store, "assistant", &m.text());
        }
    }
    task.emit(StreamItem::Assistant(AssistantUpdate::Conversation(
        conversation,
    )))
    .await;
    match result {
        Ok(end) => Ok(format!(
            "answered by {} in {} model call(s): {} tokens in, {} out",
            observer.model, end.calls, end.usage.input, end.usage.output
        )),
        Err(ModelError::Cancelled) => Err(ProviderError::new(ErrorKind::Cancelled, "stopped")),
        Err(e) => {
            remember(
                &task.store,
                "note",
                &format!("The assistant could not answer: {e}"),
            );
            Err(ProviderError::new(ErrorKind::Other, e.to_string()))
        }
    }
}

/// The turn's updates, as stream items for the Chat pane.
struct TaskObserver<'a> {
    task: &'a TaskCtx,
    model: String,
    prices: &'a std::collections::BTreeMap<String, crate::config::ModelPrice>,
    saw_text: AtomicBool,
}

impl TaskObserver<'_> {
    async fn send(&self, update: AssistantUpdate) {
        self.task.emit(StreamItem::Assistant(update)).await;
    }
}

impl Sink for TaskObserver<'_> {
    fn text<'a>(&'a self, delta: &'a str) -> BoxFuture<'a, ()> {
        self.saw_text.store(true, Ordering::Release);
        Box::pin(self.send(AssistantUpdate::Text(delta.to_string())))
    }

    fn note<'a>(&'a self, note: &'a str) -> BoxFuture<'a, ()> {
        self.task.info(note);
        Box::pin(self.send(AssistantUpdate::Note(note.to_string())))
    }
}

impl Observer for TaskObserver<'_> {
    fn tool<'a>(&'a self, call: &'a ToolCall, outcome: &'a ToolOutcome) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.task.info(&outcome.summary);
            let role = if tools::find(&call.name).is_some_and(|t| t.mutating()) {
                "card"
            } else {
                "tool"
            };
            remember(&self.task.store, role, &outcome.summary);
            self.send(AssistantUpdate::Tool {
                summary: outcome.summary.clone(),
                ok: outcome.ok,
            })
            .await;
        })
    }

    fn usage<'a>(&'a self, used: Usage) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if used.is_zero() {
                return;
            }
            let cost = usage::price_for(&self.model, self.prices).map(|p| usage::cost(&used, &p));
            if let Err(e) = usage::record(&self.task.store, &self.model, &used, cost) {
                tracing::warn!("assistant usage not recorded: {e}");
            }
            self.send(AssistantUpdate::Usage {
                model: self.model.clone(),
                usage: used,
                cost_usd: cost,
            })
            .await;
        })
    }
}

/// Tools in the console: reads through the engine (long ones started as jobs), changes put to
/// the operator through the dialog.
struct ConsoleExecutor<'a> {
    ctx: Arc<dyn PlanCtx>,
    engine: Engine,
    task: &'a TaskCtx,
    decisions: Mutex<mpsc::UnboundedReceiver<(u64, Proposal)>>,
    next: AtomicU64,
}

/// A read's output for the model: without the outer capability tag (`{"cfn": …}`).
pub(crate) fn read_data(output: &ReadOutput) -> serde_json::Value {
    let value = crate::ops::to_json(output);
    match value {
        serde_json::Value::Object(map) if map.len() == 1 => {
            map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
        }
        other => other,
    }
}

impl Executor for ConsoleExecutor<'_> {
    fn plan_ctx(&self) -> &dyn PlanCtx {
        &*self.ctx
    }

    fn run_read<'a>(
        &'a self,
        _call: &'a ToolCall,
        op: ReadOp,
    ) -> BoxFuture<'a, Result<ReadDone, String>> {
        Box::pin(async move {
            if op.long_running() {
                // A follow or a drift check lasts as long as CloudFormation takes: a job of its
                // own, whose result the console shows where it always does.
                let title = op.title();
                return match self.engine.submit_read(op, None) {
                    Some(job) => Ok(ReadDone::Started(format!(
                        "{title}: started as job {job}; it runs in the Jobs pane and its result shows in the console when it ends"
                    ))),
                    None => Err("the job store could not record the read".into()),
                };
            }
            self.engine
                .read(op)
                .await
                .map(|output| ReadDone::Data(read_data(&output)))
                .map_err(|e| e.to_string())
        })
    }

    fn propose<'a>(&'a self, call: &'a ToolCall, op: MutatingOp) -> BoxFuture<'a, Proposal> {
        Box::pin(async move {
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            let update = AssistantUpdate::Proposal {
                id,
                tool: call.name.clone(),
                op: Box::new(op),
            };
            if !self.task.emit(StreamItem::Assistant(update)).await {
                return Proposal::Refused("the console is no longer listening".into());
            }
            let mut decisions = self.decisions.lock().await;
            loop {
                match decisions.recv().await {
                    Some((proposal, outcome)) if proposal == id => return outcome,
                    Some(_) => continue,
                    None => return Proposal::Refused("the console closed the question".into()),
                }
            }
        })
    }

    fn suggest<'a>(&'a self, call: &'a ToolCall, command: String) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.task
                .emit(StreamItem::Assistant(AssistantUpdate::Suggestion {
                    tool: call.name.clone(),
                    command,
                }))
                .await;
        })
    }
}
