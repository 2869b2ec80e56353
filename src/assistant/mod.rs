//! The assistant: Claude on Amazon Bedrock in the Chat pane, whose tools are opsdeck's own
//! operations, and offline commands when no model answers.
//!
//! * `model.rs`    the conversation (messages of text, tool calls, tool results)
//! * `port.rs`     the model as a trait: the Bedrock provider and the offline parser
//! * `bedrock/`    ConverseStream through aws-sdk-bedrockruntime (the only code talking to it)
//! * `offline/`    the forgiving phrase parser, itself a model (its phrase table: `rules.rs`)
//! * `tools.rs`    one tool per registry action; results compact, scrubbed and delimited
//! * `turn.rs`     one turn: ask, run the tools, ask again; retries with backoff
//! * `prompt.rs`   the system prompt (session facts; data is never an instruction)
//! * `usage.rs`    tokens and cost per model, kept in the job store
//! * `secret.rs`   the Bedrock API key in the kernel keyring
//! * `headless.rs` `opsdeck ask` and `opsdeck secret`
//! * `actions.rs`  the Chat pane's entries in the action registry
//! * `tui/`        the Chat pane: streaming, scrollback, proposal cards, history
//!
//! Safety: a tool that changes something is planned by the action's own plan function and
//! handed to the gate exactly like a key press would (`Gate::request_from`, audited as
//! proposed by the assistant); only the operator's keys in the confirmation dialog can
//! approve it. The model only learns what became of it.

pub mod actions;
pub mod bedrock;
pub mod headless;
pub mod model;
pub mod offline;
pub mod port;
pub mod prompt;
pub mod secret;
pub mod tools;
pub mod tui;
pub mod turn;
pub mod usage;

use crate::ops::MutatingOp;
use model::{Message, Usage};

/// What an answer being made sends to the console, through the engine's bounded stream.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistantUpdate {
    /// A piece of the answer's text.
    Text(String),
    /// A line about the answer (a retry, a fall-back to offline).
    Note(String),
    /// A tool ran: one line for the operator.
    Tool { summary: String, ok: bool },
    /// The model proposes a change: ask the gate, open the dialog, and answer with what the
    /// operator decided (`tui::decided`).
    Proposal {
        id: u64,
        tool: String,
        op: Box<MutatingOp>,
    },
    /// The model suggests a console command; it is shown, not run.
    Suggestion { tool: String, command: String },
    /// One model call's tokens and what they cost (`None`: the model has no price).
    Usage {
        model: String,
        usage: Usage,
        cost_usd: Option<f64>,
    },
    /// The conversation after the turn, for the next one.
    Conversation(Vec<Message>),
}

/// The record kind of the chat's history in the job store.
pub const HISTORY_KIND: &str = "assistant.chat";
