//! `opsdeck ask [--offline] [--json] TEXT` and `opsdeck secret set|delete bedrock-api-key`.
//!
//! `ask` prints what the assistant would do: its answer, and the operations it proposes. A
//! change is never run by `ask` (its tool result tells the model so); reads run to answer,
//! through the same plans and engine as the console. JSON:
//!
//! ```json
//! {"answer":"...","operations":[{"op":"delete-stack","target":{...},"mutating":true}],
//!  "usage":{"input_tokens":812,"output_tokens":57,"cost_usd":0.0033}}
//! ```
//!
//! `operations` is `[]` when nothing applies; `cost_usd` is `null` for a model with no price.
//! Exit 0 answered; 1 the model failed (what arrived is printed, then why); 2 bad input.

use super::model::{Message, Usage};
use super::offline::{OfflineModel, Understood};
use super::port::{ModelApi, ModelError, Sink};
use super::tools::{self, Executor, Proposal, ReadDone, ToolCall, ToolOutcome};
use super::turn::{self, Observer, Setup, TurnConfig};
use super::{prompt, secret, usage};
use crate::config::Paths;
use crate::headless::runner::Runner;
use crate::ops::{MutatingOp, PlanCtx, ReadOp};
use crate::setup::Options;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct AskArgs {
    pub text: String,
    pub offline: bool,
    pub json: bool,
}

/// `opsdeck ask`. Returns the exit code.
pub async fn ask(opts: &Options, paths: &Paths, args: AskArgs, out: &mut dyn Write) -> i32 {
    let text = args.text.trim().to_string();
    if text.is_empty() {
        crate::errln!(
            "opsdeck ask: say what you want to know, e.g. opsdeck ask \"which stacks failed?\""
        );
        return 2;
    }
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck ask: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    // The rules load while STS answers.
    let rules = {
        let paths = paths.clone();
        let settings = runner.config.compliance;
        tokio::task::spawn_blocking(move || {
            Arc::new(crate::compliance::Checker::load(&paths, &settings))
        })
    };
    let identity = runner.identify().await;
    if let Ok(checker) = rules.await {
        runner.set_checker(checker);
    }
    crate::headless::run::load_pricing(&mut runner, paths);
    let settings = runner.assistant.clone();
    let facts = prompt::Facts {
        account: identity.as_ref().ok().map(|i| i.account.clone()),
        principal: identity.as_ref().ok().map(|i| i.arn.clone()),
        region: runner.region.clone(),
        environment: identity
            .as_ref()
            .ok()
            .map(|i| runner.environment_of(&i.account)),
        role: None,
        read_only: runner
            .gate
            .latch()
            .is_engaged()
            .then(|| runner.gate.latch().reasons().join("; ")),
        selection: None,
        place: "`opsdeck ask` on the command line (nothing it proposes is run)",
    };
    let setup = Setup {
        system: prompt::system_prompt(&facts),
        tools: tools::specs(),
        max_tokens: settings.max_tokens,
        temperature: settings.temperature,
    };
    let known = if args.offline || settings.model_id.is_none() {
        known_stacks_for(&runner, &text).await
    } else {
        Vec::new()
    };
    let model: Result<Box<dyn ModelApi>, String> = if args.offline {
        Ok(Box::new(OfflineModel::new(known.clone(), "")))
    } else if settings.model_id.is_none() {
        Ok(Box::new(OfflineModel::new(
            known.clone(),
            "no model is configured ([assistant] model_id)",
        )))
    } else {
        let key = tokio::task::spawn_blocking(secret::key_for_bedrock)
            .await
            .ok()
            .flatten();
        super::bedrock::BedrockModel::connect(&runner.aws, &settings, key)
            .await
            .map(|m| Box::new(m) as Box<dyn ModelApi>)
    };
    let exec = AskExecutor {
        runner: &runner,
        operations: Mutex::new(Vec::new()),
        read_only: runner.gate.latch().is_engaged(),
    };
    let observer = AskObserver {
        answer: Mutex::new(String::new()),
        usage: Mutex::new((Usage::default(), Some(0.0))),
        prices: &settings.prices,
        model: Mutex::new(String::new()),
        json: args.json,
        store: runner.store().clone(),
    };
    let cancel = CancellationToken::new();
    let mut conversation = vec![Message::user(text.clone())];
    let config = TurnConfig::default();
    let run = async {
        match model {
            Ok(model) => {
                *observer.model.lock().unwrap_or_else(|p| p.into_inner()) = model.model_id().into();
                let result = turn::run(
                    &*model,
                    &config,
                    &setup,
                    &mut conversation,
                    &exec,
                    &observer,
                    &cancel,
                )
                .await;
                match result {
                    Err(e) if e.no_model() && !args.offline && observer.text().is_empty() => {
                        let offline = OfflineModel::new(
                            known_stacks_for(&runner, &text).await,
                            format!("the model did not answer: {e}"),
                        );
                        *observer.model.lock().unwrap_or_else(|p| p.into_inner()) =
                            "offline".into();
                        turn::run(
                            &offline,
                            &config,
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
            Err(why) => {
                let offline = OfflineModel::new(
                    known_stacks_for(&runner, &text).await,
                    format!("the model cannot be used: {why}"),
                );
                turn::run(
                    &offline,
                    &config,
                    &setup,
                    &mut conversation,
                    &exec,
                    &observer,
                    &cancel,
                )
                .await
            }
        }
    };
    let result = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            cancel.cancel();
            Err(ModelError::Cancelled)
        }
    };
    let (used, cost) = *observer.usage.lock().unwrap_or_else(|p| p.into_inner());
    let operations = exec
        .operations
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let answer = observer.text();
    let mut value = json!({
        "answer": answer,
        "operations": operations,
        "usage": {
            "input_tokens": used.input + used.cache_read + used.cache_write,
            "output_tokens": used.output,
            "cost_usd": cost,
        },
    });
    if let Err(e) = &result {
        value["error"] = e.to_string().into();
    }
    if args.json {
        let _ = writeln!(out, "{value:#}");
    } else {
        let _ = writeln!(out, "{}", crate::headless::clean(answer.trim_end()));
        for op in value["operations"].as_array().into_iter().flatten() {
            if op["mutating"] == true {
                let _ = writeln!(
                    out,
                    "proposed (not run): {} {}",
                    op["op"].as_str().unwrap_or_default(),
                    crate::headless::clean(&op["target"].to_string())
                );
            }
        }
        if !used.is_zero() {
            crate::errln!(
                "usage: {} tokens in, {} out, {}",
                value["usage"]["input_tokens"],
                used.output,
                usage::money(cost)
            );
        }
    }
    runner.shutdown();
    match result {
        Ok(_) => 0,
        Err(ModelError::Cancelled) => {
            crate::errln!("opsdeck ask: stopped");
            130
        }
        Err(e) => {
            crate::errln!("opsdeck ask: {}", crate::headless::clean(&e.to_string()));
            1
        }
    }
}

/// The stack names to resolve a phrase's target against, read only when the phrase names a
/// stack (the offline parser asks when one is ambiguous).
async fn known_stacks_for(runner: &Runner, text: &str) -> Vec<String> {
    match super::offline::parse(text, &[]) {
        Understood::Op { args, id, .. }
            if args.get("stack").is_some() && id != "deploy-template" =>
        {
            crate::cfn::plan::list_stacks(runner)
                .await
                .map(|stacks| stacks.into_iter().map(|s| s.name).collect())
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

struct AskObserver<'a> {
    answer: Mutex<String>,
    usage: Mutex<(Usage, Option<f64>)>,
    prices: &'a std::collections::BTreeMap<String, crate::config::ModelPrice>,
    model: Mutex<String>,
    json: bool,
    store: Arc<crate::engine::store::JobStore>,
}

impl AskObserver<'_> {
    fn text(&self) -> String {
        self.answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Sink for AskObserver<'_> {
    fn text<'a>(&'a self, delta: &'a str) -> BoxFuture<'a, ()> {
        self.answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_str(delta);
        Box::pin(async {})
    }

    fn note<'a>(&'a self, note: &'a str) -> BoxFuture<'a, ()> {
        crate::errln!("opsdeck ask: {}", crate::headless::clean(note));
        Box::pin(async {})
    }
}

impl Observer for AskObserver<'_> {
    fn tool<'a>(&'a self, _call: &'a ToolCall, outcome: &'a ToolOutcome) -> BoxFuture<'a, ()> {
        if !self.json {
            crate::errln!("  · {}", crate::headless::clean(&outcome.summary));
        }
        let mut answer = self.answer.lock().unwrap_or_else(|p| p.into_inner());
        if !answer.is_empty() && !answer.ends_with('\n') {
            answer.push('\n');
        }
        Box::pin(async {})
    }

    fn usage<'a>(&'a self, used: Usage) -> BoxFuture<'a, ()> {
        let model = self.model.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let cost = usage::price_for(&model, self.prices).map(|p| usage::cost(&used, &p));
        if !used.is_zero()
            && let Err(e) = usage::record(&self.store, &model, &used, cost)
        {
            tracing::warn!("assistant usage not recorded: {e}");
        }
        let mut total = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        total.0.add(used);
        total.1 = match (total.1, cost) {
            (Some(a), Some(b)) => Some(a + b),
            _ if used.is_zero() => total.1,
            _ => None,
        };
        Box::pin(async {})
    }
}

/// Tools for `ask`: reads run (a long one is not started), changes are listed, never run.
struct AskExecutor<'a> {
    runner: &'a Runner,
    operations: Mutex<Vec<Value>>,
    read_only: bool,
}

impl AskExecutor<'_> {
    fn list(&self, op: &str, target: Value, mutating: bool) {
        self.operations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(json!({ "op": op, "target": target, "mutating": mutating }));
    }
}

impl Executor for AskExecutor<'_> {
    fn plan_ctx(&self) -> &dyn PlanCtx {
        self.runner
    }

    fn run_read<'a>(
        &'a self,
        call: &'a ToolCall,
        op: ReadOp,
    ) -> BoxFuture<'a, Result<ReadDone, String>> {
        Box::pin(async move {
            self.list(&call.name, call.input.clone(), false);
            if op.long_running() {
                return Ok(ReadDone::Started(format!(
                    "not run: `opsdeck ask` does not start {} (it lasts until the stack settles); the operator can run it in the console or with `opsdeck run {}`",
                    op.title(),
                    call.name
                )));
            }
            PlanCtx::read(self.runner, op)
                .await
                .map(|output| ReadDone::Data(super::tui::task::read_data(&output)))
                .map_err(|e| e.to_string())
        })
    }

    fn propose<'a>(&'a self, call: &'a ToolCall, op: MutatingOp) -> BoxFuture<'a, Proposal> {
        Box::pin(async move {
            self.list(&call.name, op.target_json(), true);
            let how = if self.read_only {
                "and this session is read-only, so it would be refused".to_string()
            } else {
                format!(
                    "the operator can run it in the console, or with `opsdeck run {} … --confirm …`",
                    call.name
                )
            };
            Proposal::NotAsked(format!(
                "`opsdeck ask` never runs a change, so nothing changed ({}); {how}",
                op.describe()
            ))
        })
    }

    fn suggest<'a>(&'a self, call: &'a ToolCall, _command: String) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.list(&call.name, call.input.clone(), false) })
    }

    fn answered<'a>(&'a self, call: &'a ToolCall) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.list(&call.name, call.input.clone(), false) })
    }
}

/// `opsdeck secret set bedrock-api-key`: read the key from stdin (without echo on a terminal)
/// and keep it in the kernel keyring. Returns the exit code.
pub fn secret_set() -> i32 {
    let text = match read_secret("Bedrock API key (input hidden): ") {
        Ok(text) => text,
        Err(e) => {
            crate::errln!("opsdeck secret set: cannot read the key from stdin: {e}");
            return 2;
        }
    };
    let Some(key) = secret::ApiKey::new(&text) else {
        crate::errln!(
            "opsdeck secret set: no key was given (pipe it in, or type it at the prompt)"
        );
        return 2;
    };
    match secret::store(&key) {
        Ok(()) => {
            crate::errln!("opsdeck: the Bedrock API key is {}", secret::DURABILITY);
            0
        }
        Err(e) => {
            crate::errln!(
                "opsdeck secret set: {e}. Export AWS_BEARER_TOKEN_BEDROCK instead (opsdeck and the AWS SDK read it)."
            );
            1
        }
    }
}

/// `opsdeck secret delete bedrock-api-key`.
pub fn secret_delete() -> i32 {
    match secret::delete() {
        Ok(true) => {
            crate::errln!("opsdeck: the Bedrock API key was removed from the kernel keyring");
            0
        }
        Ok(false) => {
            crate::errln!("opsdeck: no Bedrock API key was stored");
            0
        }
        Err(e) => {
            crate::errln!("opsdeck secret delete: {e}");
            1
        }
    }
}

/// A line from stdin; on a terminal, with echo off while it is typed.
fn read_secret(prompt: &str) -> std::io::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdin.lock(), &mut text)?;
        return Ok(text);
    }
    let saved = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    crate::err!("{prompt}");
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    // Echo comes back whatever happened.
    let restored = tcsetattr(&stdin, SetArg::TCSANOW, &saved).map_err(std::io::Error::from);
    read?;
    restored?;
    Ok(line)
}
