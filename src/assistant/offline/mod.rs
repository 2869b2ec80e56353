//! Offline commands: when no model is configured or reachable, a forgiving parser maps common
//! operator phrasings to the same operations the model's tools are ("deploy the s3 bucket
//! template to dev as logs-bucket", "scale checkout to 5", "who am I"). It says what it
//! understood, asks when a target is ambiguous, offers suggestions when it understands
//! nothing, and never guesses a change: a phrasing that changes something must name its
//! target exactly.
//!
//! It plugs in as a [`ModelApi`], so what it understood runs through the very same turn, tool
//! executor, plan functions and gate as a model's tool call. Operation ids are resolved
//! through the registry: an id this build does not have (`scale-deployment` without the
//! Kubernetes capability, say) is answered with a sentence, never a panic.

use super::model::{Block, Message, Role, StopReason, Usage};
use super::port::{ModelApi, ModelError, ModelReply, ModelRequest, Sink};
use futures::future::BoxFuture;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use tokio_util::sync::CancellationToken;

mod rules;

use rules::{EXAMPLES, MASS, NOT_A_NAME, RULES, Slots};

/// What the parser made of a phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum Understood {
    /// An operation with its arguments. `what` names it in words, for "… is not available in
    /// this build"; `note` says how a name was matched.
    Op {
        id: &'static str,
        args: Value,
        what: &'static str,
        note: Option<String>,
    },
    /// A question back: the target is ambiguous or missing.
    Ask(String),
    /// Nothing matched: phrasings to try.
    Nothing(Vec<&'static str>),
}

static MASS_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(MASS).ok());

static COMPILED: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|r| match Regex::new(r.pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                // The table is literal and every pattern is compiled by the tests.
                tracing::error!("offline rule {} does not compile: {e}", r.id);
                None
            }
        })
        .collect()
});

/// The phrase as matched: lower-case ASCII (so positions match what was typed), polite
/// openings and closing punctuation gone, spaces single.
fn normalise(text: &str) -> String {
    let mut t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    while t.ends_with(['?', '.', '!', ',']) {
        t.pop();
    }
    let lower = t.to_ascii_lowercase();
    let openings = [
        "please ",
        "can you ",
        "could you ",
        "would you ",
        "will you ",
        "i want to ",
        "i'd like to ",
        "i would like to ",
        "let's ",
        "go ahead and ",
        "hey opsdeck ",
        "opsdeck ",
    ];
    let mut start = 0;
    while let Some(o) = openings.iter().find(|o| lower[start..].starts_with(**o)) {
        start += o.len();
    }
    let mut t = t[start..].to_string();
    let lower = t.to_ascii_lowercase();
    for closing in [" please", " for me", " now"] {
        if lower.ends_with(closing) {
            t.truncate(t.len() - closing.len());
            break;
        }
    }
    t
}

/// Match `name` (a stack named in the phrase) against the stacks the console knows.
fn resolve(
    name: &str,
    known: &[String],
    mutating: bool,
    id: &str,
) -> Result<(String, Option<String>), String> {
    if known.is_empty() || known.iter().any(|k| k == name) || name.starts_with("arn:") {
        return Ok((name.to_string(), None));
    }
    let lower = name.to_ascii_lowercase();
    let same: Vec<&String> = known
        .iter()
        .filter(|k| k.to_ascii_lowercase() == lower)
        .collect();
    if let [one] = same.as_slice() {
        return Ok(((*one).clone(), None));
    }
    let near: Vec<&String> = known
        .iter()
        .filter(|k| k.to_ascii_lowercase().contains(&lower))
        .collect();
    match near.as_slice() {
        [] => Ok((name.to_string(), None)),
        [one] if !mutating => Ok((
            (*one).clone(),
            Some(format!(
                "no stack is called {name}; using {one}, the only close match"
            )),
        )),
        [one] => Err(format!(
            "No stack is called {name}. Did you mean {one}? I do not guess the target of a change: say \"{} {one}\" to propose it.",
            id.split('-').next().unwrap_or(id)
        )),
        many => Err(format!(
            "Which stack do you mean: {}?",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Parse one phrase. `known_stacks` are the stack names the asker can see (for ambiguity);
/// empty when unknown.
pub fn parse(text: &str, known_stacks: &[String]) -> Understood {
    let text = normalise(text);
    let lower = text.to_ascii_lowercase();
    if lower.is_empty() {
        return Understood::Nothing(EXAMPLES[..4].to_vec());
    }
    if MASS_RE.as_ref().is_some_and(|re| re.is_match(&lower)) {
        return Understood::Ask(
            "I will not turn that into changes: each change is proposed on its own, with its target named. Name one, for example: \"delete stack logs-bucket\".".into(),
        );
    }
    for (rule, re) in RULES.iter().zip(COMPILED.iter()) {
        let Some(re) = re else { continue };
        let Some(caps) = re.captures(&lower) else {
            continue;
        };
        let slots = Slots { caps, text: &text };
        // Never a target picked by a pronoun or "everything".
        for slot in [
            "stack",
            "stack2",
            "stack3",
            "deployment",
            "pod",
            "installer",
        ] {
            if let Some(v) = slots.get(slot)
                && NOT_A_NAME.contains(&v.to_ascii_lowercase().as_str())
            {
                return Understood::Ask(if rule.mutating {
                    format!(
                        "I will not guess what to change from {v:?}. Name exactly one target, for example: \"delete stack logs-bucket\"."
                    )
                } else {
                    "Which one? Name it, for example: \"describe stack logs-bucket\".".to_string()
                });
            }
        }
        let mut args = match (rule.build)(&slots) {
            Ok(args) => args,
            Err(question) => return Understood::Ask(question),
        };
        let mut note = None;
        if rule.id != "deploy-template"
            && let Some(name) = args.get("stack").and_then(Value::as_str).map(String::from)
        {
            match resolve(&name, known_stacks, rule.mutating, rule.id) {
                Ok((resolved, why)) => {
                    args["stack"] = resolved.into();
                    note = why;
                }
                Err(question) => return Understood::Ask(question),
            }
        }
        return Understood::Op {
            id: rule.id,
            args,
            what: rule.what,
            note,
        };
    }
    Understood::Nothing(suggestions(&lower))
}

/// Up to four example phrasings, those sharing the most words with `lower` first.
fn suggestions(lower: &str) -> Vec<&'static str> {
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut scored: Vec<(usize, usize, &'static str)> = EXAMPLES
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let shared = e
                .split_whitespace()
                .filter(|w| w.len() > 2 && !["the", "and", "for", "all", "NAME"].contains(w))
                .filter(|w| {
                    words
                        .iter()
                        .any(|x| x.starts_with(&w.to_ascii_lowercase()[..3]))
                })
                .count();
            (shared, i, *e)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(4).map(|(_, _, e)| e).collect()
}

/// The parser as a model: a phrase becomes one tool call (what it understood), and the tool's
/// result becomes the answer, in words.
pub struct OfflineModel {
    known_stacks: Vec<String>,
    /// Why there is no model, said once at the start of an answer ("" for none).
    reason: String,
}

impl OfflineModel {
    pub fn new(known_stacks: Vec<String>, reason: impl Into<String>) -> OfflineModel {
        OfflineModel {
            known_stacks,
            reason: reason.into(),
        }
    }

    fn reply_to(&self, text: &str) -> Vec<Block> {
        let lead = if self.reason.is_empty() {
            String::new()
        } else {
            format!("({}; answering offline.)\n", self.reason)
        };
        match parse(text, &self.known_stacks) {
            Understood::Op {
                id,
                args,
                what,
                note,
            } => {
                if crate::registry::by_id(id).is_none() {
                    return vec![Block::Text(format!(
                        "{lead}Understood: {id}. But {what} is not available in this build of opsdeck."
                    ))];
                }
                let shown = if args.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    format!(" {args}")
                };
                let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
                vec![
                    Block::Text(format!("{lead}Understood: {id}{shown}{note}.\n")),
                    Block::ToolUse {
                        id: format!("offline-{}", crate::model::now_ms()),
                        name: id.to_string(),
                        input: args,
                    },
                ]
            }
            Understood::Ask(question) => vec![Block::Text(format!("{lead}{question}"))],
            Understood::Nothing(examples) => vec![Block::Text(format!(
                "{lead}I did not understand that. Without a model I know common phrasings, such as: {}. `help` lists the commands.",
                examples
                    .iter()
                    .map(|e| format!("\"{e}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))],
        }
    }
}

/// A tool's result in words: its data rendered, or its sentence.
pub fn describe_result(text: &str) -> String {
    match super::tools::data_of(text) {
        Some(value) => {
            let mut lines = Vec::new();
            render(&value, 0, &mut lines);
            if lines.is_empty() {
                "Nothing to show.".into()
            } else {
                lines.join("\n")
            }
        }
        None => text.to_string(),
    }
}

const LABEL_FIELDS: &[&str] = &[
    "name",
    "stack_name",
    "control",
    "rule",
    "id",
    "operation",
    "logical_id",
    "title",
    "status",
    "state",
    "resource",
    "severity",
    "timestamp",
    "reason",
    "message",
    "error",
    "command",
    "does",
];

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One line for an item of a list.
fn one_line(v: &Value) -> String {
    if let Some(n) = v.get("_not_shown").and_then(Value::as_u64) {
        return format!("… {n} more not shown");
    }
    match v {
        Value::Object(map) => {
            // An ARN is long and says little next to a name: left out of the one line.
            let parts: Vec<String> = LABEL_FIELDS
                .iter()
                .filter_map(|f| map.get(*f).and_then(scalar))
                .filter(|s| !s.is_empty() && !s.starts_with("arn:"))
                .take(4)
                .collect();
            if parts.is_empty() {
                map.iter()
                    .filter_map(|(k, v)| scalar(v).map(|s| format!("{k}: {s}")))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" · ")
            } else {
                parts.join(" · ")
            }
        }
        other => scalar(other).unwrap_or_else(|| other.to_string()),
    }
}

fn render(v: &Value, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let key = k.replace('_', " ");
                match item {
                    Value::Array(items) if items.is_empty() => {
                        out.push(format!("{pad}{key}: none"))
                    }
                    Value::Array(items) => {
                        let shown = items
                            .iter()
                            .filter(|i| i.get("_not_shown").is_none())
                            .count();
                        out.push(format!("{pad}{key} ({shown}):"));
                        for i in items.iter().take(25) {
                            out.push(format!("{pad}- {}", one_line(i)));
                        }
                    }
                    Value::Object(_) if depth < 2 => {
                        out.push(format!("{pad}{key}:"));
                        render(item, depth + 1, out);
                    }
                    Value::Null => {}
                    other => out.push(format!("{pad}{key}: {}", one_line(other))),
                }
            }
        }
        Value::Array(items) => {
            for i in items.iter().take(25) {
                out.push(format!("{pad}- {}", one_line(i)));
            }
        }
        other => out.push(format!("{pad}{}", one_line(other))),
    }
}

impl ModelApi for OfflineModel {
    fn model_id(&self) -> &str {
        "offline"
    }

    fn converse<'a>(
        &'a self,
        request: &'a ModelRequest,
        sink: &'a dyn Sink,
        _cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let last = request.messages.last().filter(|m| m.role == Role::User);
            let results: Vec<&str> = last
                .map(|m| {
                    m.blocks
                        .iter()
                        .filter_map(|b| match b {
                            Block::ToolResult { text, .. } => Some(text.as_str()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let blocks = if !results.is_empty() {
                vec![Block::Text(
                    results
                        .iter()
                        .map(|t| describe_result(t))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )]
            } else {
                self.reply_to(&last.map(Message::text).unwrap_or_default())
            };
            for b in &blocks {
                if let Block::Text(t) = b {
                    sink.text(t).await;
                }
            }
            let stop = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
                StopReason::ToolUse
            } else {
                StopReason::EndTurn
            };
            Ok(ModelReply {
                blocks,
                stop,
                usage: Usage::default(),
            })
        })
    }
}

#[cfg(test)]
mod tests;
