//! The Chat pane: the conversation with the assistant (streamed as it is written, scrollable,
//! kept across restarts), proposal cards for the changes it proposes, and typed commands.
//!
//! A message starts a turn off the UI thread (`Cmd::Assistant` → an engine task, see
//! `task.rs`); its text and tool lines arrive through the engine's bounded stream
//! ([`on_update`]). A proposed change waits in `State::waiting` like any planned change and
//! opens the same confirmation dialog through the gate; what the operator decides goes back to
//! the turn ([`request_closed`]).

pub mod task;
pub mod view;

use super::AssistantUpdate;
use super::model::{Message, Usage};
use super::tools::Proposal;
use crate::model::JobId;
use crate::registry::{self, Pane};
use crate::tui::shell;
use crate::tui::state::{Cmd, State, Waiting};
use ratatui_textarea::TextArea;
use tokio::sync::mpsc;

/// One thing shown in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    User(String),
    Assistant(String),
    /// A line from opsdeck itself: a command's reply, a retry, an error.
    Note(String),
    /// A tool the assistant ran: its line, and whether it worked.
    Tool(String, bool),
    Card(Card),
}

/// A change the assistant proposed, or a command it suggested.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub id: u64,
    pub tool: String,
    /// Exactly what would run (the operation's own description), or the command.
    pub what: String,
    pub state: CardState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardState {
    /// Waiting for the dialog (or for another dialog to close first).
    Waiting,
    Confirmed,
    Cancelled,
    Refused(String),
    /// A console command shown to the operator, not run.
    Suggested,
}

/// A turn being answered.
#[derive(Debug, Clone, Default)]
pub struct Answering {
    /// The engine job running it, once started.
    pub job: Option<JobId>,
    /// The last entry is the answer being written (text goes on there).
    pub open: bool,
    /// The turn sent its conversation back (it ended on its own).
    pub settled: bool,
}

/// What the console asks the app loop to do for the assistant.
#[derive(Debug)]
pub enum AssistantCmd {
    /// Answer the last message of this conversation (off the UI thread).
    Turn(Box<TurnRequest>),
    /// Forget the saved history.
    ClearHistory,
}

/// Everything a turn needs from the console, taken when the message is sent.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// Ends with the operator's message.
    pub conversation: Vec<Message>,
    pub facts: super::prompt::Facts,
    /// Stack names the operator can see (for the offline parser's questions).
    pub known_stacks: Vec<String>,
}

pub struct ChatState {
    pub input: TextArea<'static>,
    pub entries: Vec<Entry>,
    /// Rows scrolled back from the newest (0: the newest rows show).
    pub scroll: usize,
    pub answering: Option<Answering>,
    /// What the model has been told so far.
    pub conversation: Vec<Message>,
    /// This session's tokens and their cost.
    pub usage: Usage,
    pub cost_usd: f64,
    /// A call of this session had no price: the cost shown is a floor, marked `?`.
    pub unpriced: bool,
    /// The configured model (`None`: offline only).
    pub model: Option<String>,
    /// Where decisions about proposals go back to the running turn.
    pub decisions: Option<mpsc::UnboundedSender<(u64, Proposal)>>,
    /// Open confirmations that came from proposals: (request id, proposal id).
    pub proposals: Vec<(u64, u64)>,
}

fn new_input() -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_placeholder_text("ask, or type a command (help, stacks, jobs) and press Enter");
    input
}

impl Default for ChatState {
    fn default() -> Self {
        ChatState {
            input: new_input(),
            entries: vec![Entry::Note(
                "Ask in plain words, or type a command (help). Changes are only proposed: you confirm them."
                    .into(),
            )],
            scroll: 0,
            answering: None,
            conversation: Vec::new(),
            usage: Usage::default(),
            cost_usd: 0.0,
            unpriced: false,
            model: None,
            decisions: None,
            proposals: Vec::new(),
        }
    }
}

impl ChatState {
    /// A line from opsdeck itself.
    pub fn note(&mut self, text: impl Into<String>) {
        self.close_answer();
        self.entries.push(Entry::Note(text.into()));
        self.scroll = 0;
    }

    fn close_answer(&mut self) {
        if let Some(a) = &mut self.answering {
            a.open = false;
        }
    }

    /// The model's name as shown and audited.
    pub fn model_label(&self) -> String {
        self.model
            .clone()
            .unwrap_or_else(|| "offline parser".to_string())
    }

    /// The history saved by earlier sessions (oldest first): shown again, and the words of
    /// the last exchanges told to the model again.
    pub fn restore(&mut self, records: Vec<serde_json::Value>) {
        let mut restored = Vec::new();
        for r in records {
            let text = r["text"].as_str().unwrap_or_default().to_string();
            restored.push(match r["role"].as_str() {
                Some("user") => Entry::User(text),
                Some("assistant") => Entry::Assistant(text),
                Some("card") => Entry::Note(format!("▌ {text}")),
                _ => Entry::Note(text),
            });
        }
        if restored.is_empty() {
            return;
        }
        let words: Vec<Message> = restored
            .iter()
            .filter_map(|e| match e {
                Entry::User(t) => Some(Message::user(t.clone())),
                Entry::Assistant(t) => Some(Message::assistant(t.clone())),
                _ => None,
            })
            .collect();
        let keep = words.len().saturating_sub(40);
        self.conversation = words[keep..].to_vec();
        self.entries = restored;
        self.entries.push(Entry::Note(
            "— history from earlier sessions above —".into(),
        ));
    }
}

/// Enter: a `:command` (or a bare command word such as `jobs`) runs as a command; anything
/// else goes to the assistant.
pub fn send(state: &mut State) -> Vec<Cmd> {
    let text = state.chat.input.lines().join("\n");
    let text = text.trim().to_string();
    if text.is_empty() {
        return Vec::new();
    }
    let command = text.strip_prefix(':').map(str::trim).or_else(|| {
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some(word), None) if registry::command(word).is_some() => Some(text.as_str()),
            _ => None,
        }
    });
    if let Some(command) = command {
        let command = command.to_string();
        state.chat.input = new_input();
        state.chat.close_answer();
        state.chat.entries.push(Entry::User(text.clone()));
        state.chat.scroll = 0;
        return shell::run_command(state, &command);
    }
    if state.chat.answering.is_some() {
        state.chat.note(
            "An answer is still being written: Esc stops it; your message stays in the input.",
        );
        return Vec::new();
    }
    state.chat.input = new_input();
    state.chat.entries.push(Entry::User(text.clone()));
    state.chat.scroll = 0;
    state.chat.conversation.push(Message::user(text));
    state.chat.answering = Some(Answering::default());
    let request = TurnRequest {
        conversation: state.chat.conversation.clone(),
        facts: facts(state),
        known_stacks: state
            .inventory
            .stacks
            .iter()
            .map(|s| s.name.clone())
            .collect(),
    };
    vec![Cmd::Assistant(AssistantCmd::Turn(Box::new(request)))]
}

/// The session as the model is told about it.
pub fn facts(state: &State) -> super::prompt::Facts {
    let identity = state.session.identity.as_ref();
    let selection = match state.focus {
        Pane::Jobs => state.jobs.selected_record().map(|j| {
            format!(
                "job {} ({}, {}): {}",
                j.id,
                j.operation,
                j.state.as_str(),
                j.title
            )
        }),
        _ => crate::cfn::tui::stack_actions::current_stack(state)
            .map(|s| format!("stack {} ({}) — {}", s.name, s.status, s.id)),
    };
    super::prompt::Facts {
        account: identity.map(|i| i.account.clone()),
        principal: identity.map(|i| i.arn.clone()),
        region: state.session.region.clone(),
        environment: identity.map(|_| state.environment()),
        role: state.session.role,
        read_only: state
            .read_only()
            .then(|| state.gate.latch().reasons().join("; ")),
        selection,
        place: "the console's Chat pane",
    }
}

/// Esc on the input: clear it; on an empty input, leave Chat (as Esc leaves insert mode).
pub fn escape(state: &mut State) {
    if state.chat.input.is_empty() {
        state.focus = Pane::Inventory;
    } else {
        state.chat.input = new_input();
    }
}

/// Esc / Ctrl-C while an answer is written: stop it (what arrived stays).
pub fn stop(state: &mut State) -> Vec<Cmd> {
    match state.chat.answering.as_ref().and_then(|a| a.job) {
        Some(job) => vec![Cmd::CancelJob(job)],
        None => Vec::new(),
    }
}

const SCROLL_PAGE: usize = 10;

pub fn scroll(state: &mut State, back: bool) {
    let chat = &mut state.chat;
    chat.scroll = if back {
        chat.scroll.saturating_add(SCROLL_PAGE)
    } else {
        chat.scroll.saturating_sub(SCROLL_PAGE)
    };
}

/// `:clear`: stop any answer, forget the conversation and its saved history.
pub fn clear(state: &mut State) -> Vec<Cmd> {
    let mut cmds = stop(state);
    state.chat.entries.clear();
    state.chat.conversation.clear();
    state.chat.scroll = 0;
    state.chat.note("Cleared.");
    cmds.push(Cmd::Assistant(AssistantCmd::ClearHistory));
    cmds
}

/// The app loop started the turn as job `job`.
pub fn started(state: &mut State, job: Option<JobId>) {
    match (job, state.chat.answering.as_mut()) {
        (Some(job), Some(a)) => a.job = Some(job),
        (None, _) => {
            state.chat.answering = None;
            state.chat.decisions = None;
            state
                .chat
                .note("The assistant could not start: the job store is unavailable (see the data directory).");
        }
        _ => {}
    }
}

/// An update of the turn `job`; `true` when something on screen changed.
pub fn on_update(state: &mut State, job: JobId, update: AssistantUpdate) -> bool {
    let ours = state
        .chat
        .answering
        .as_ref()
        .is_some_and(|a| a.job == Some(job));
    if !ours {
        return false;
    }
    let chat = &mut state.chat;
    match update {
        AssistantUpdate::Text(delta) => {
            let open = chat.answering.as_ref().is_some_and(|a| a.open);
            match chat.entries.last_mut() {
                Some(Entry::Assistant(text)) if open => text.push_str(&delta),
                _ => chat.entries.push(Entry::Assistant(delta)),
            }
            if let Some(a) = &mut chat.answering {
                a.open = true;
            }
        }
        AssistantUpdate::Note(note) => chat.note(note),
        AssistantUpdate::Tool { summary, ok } => {
            chat.close_answer();
            chat.entries.push(Entry::Tool(summary, ok));
        }
        AssistantUpdate::Proposal { id, tool, op } => {
            chat.close_answer();
            chat.entries.push(Entry::Card(Card {
                id,
                tool,
                what: op.describe(),
                state: CardState::Waiting,
            }));
            state.waiting.push_back(Waiting::Proposal {
                proposal: id,
                op: *op,
            });
        }
        AssistantUpdate::Suggestion { tool, command } => {
            chat.close_answer();
            chat.entries.push(Entry::Card(Card {
                id: 0,
                tool,
                what: format!(":{command}"),
                state: CardState::Suggested,
            }));
        }
        AssistantUpdate::Usage {
            usage, cost_usd, ..
        } => {
            chat.usage.add(usage);
            match cost_usd {
                Some(c) => chat.cost_usd += c,
                None => chat.unpriced = !usage.is_zero() || chat.unpriced,
            }
        }
        AssistantUpdate::Conversation(messages) => {
            chat.conversation = messages;
            if let Some(a) = &mut chat.answering {
                a.settled = true;
            }
            return false;
        }
    }
    state.chat.scroll = 0;
    true
}

/// The turn `job` ended.
pub fn task_done(
    state: &mut State,
    job: JobId,
    result: Result<String, crate::engine::ports::ProviderError>,
) {
    let chat = &mut state.chat;
    let Some(answering) = chat.answering.take_if(|a| a.job == Some(job)) else {
        return;
    };
    chat.decisions = None;
    if !answering.settled {
        // Stopped or failed before it could hand its conversation back: keep what was shown.
        let since_user = chat
            .entries
            .iter()
            .rposition(|e| matches!(e, Entry::User(_)))
            .map_or(0, |i| i + 1);
        let shown: String = chat.entries[since_user..]
            .iter()
            .filter_map(|e| match e {
                Entry::Assistant(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        if !shown.trim().is_empty() {
            chat.conversation.push(Message::assistant(shown));
        }
    }
    match result {
        Ok(_) => {}
        Err(e) if e.kind == crate::engine::ports::ErrorKind::Cancelled => {
            chat.note("(stopped — what arrived is above)")
        }
        Err(e) => chat.note(format!("The assistant could not answer: {}", e.message)),
    }
    // A proposal whose dialog never opened is no longer anyone's question.
    state
        .waiting
        .retain(|w| !matches!(w, Waiting::Proposal { .. }));
    for entry in &mut state.chat.entries {
        if let Entry::Card(card) = entry
            && card.state == CardState::Waiting
            && !state.chat.proposals.iter().any(|(_, p)| *p == card.id)
        {
            card.state = CardState::Cancelled;
        }
    }
}

/// The gate opened the confirmation `request` for proposal `proposal`.
pub fn proposal_opened(state: &mut State, proposal: u64, request: u64) {
    state.chat.proposals.push((request, proposal));
}

/// What became of proposal `proposal`: shown on its card and told to the turn.
pub fn decided(state: &mut State, proposal: u64, outcome: Proposal) {
    for entry in &mut state.chat.entries {
        if let Entry::Card(card) = entry
            && card.id == proposal
            && card.state == CardState::Waiting
        {
            card.state = match &outcome {
                Proposal::Confirmed => CardState::Confirmed,
                Proposal::Cancelled => CardState::Cancelled,
                Proposal::Refused(why) | Proposal::NotAsked(why) => CardState::Refused(why.clone()),
            };
        }
    }
    if let Some(tx) = &state.chat.decisions {
        let _ = tx.send((proposal, outcome));
    }
}

/// The confirmation `request` closed (confirmed, cancelled, refused): if a proposal opened
/// it, tell the turn.
pub fn request_closed(state: &mut State, request: u64, outcome: Proposal) {
    let Some(pos) = state.chat.proposals.iter().position(|(r, _)| *r == request) else {
        return;
    };
    let (_, proposal) = state.chat.proposals.remove(pos);
    decided(state, proposal, outcome);
}

/// A proposal's dialog could not open: the gate refused it.
pub fn proposal_refused(state: &mut State, proposal: u64, why: String) {
    decided(state, proposal, Proposal::Refused(why));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::JobStore;

    #[test]
    fn the_conversation_is_kept_across_restarts_in_the_job_store() {
        let store = JobStore::open_in_memory().expect("store");
        task::remember(&store, "user", "which stacks failed?");
        task::remember(&store, "tool", "list-stacks: List stacks in us-east-1");
        task::remember(&store, "assistant", "None failed.");
        task::remember(&store, "card", "delete-stack: cancelled by the operator");
        task::remember(&store, "user", "   ");
        let records: Vec<serde_json::Value> = store
            .records(crate::assistant::HISTORY_KIND, 0, 200)
            .expect("records")
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(records.len(), 4, "blank lines are not kept");
        let mut chat = ChatState::default();
        chat.restore(records);
        assert_eq!(chat.entries[0], Entry::User("which stacks failed?".into()));
        assert_eq!(chat.entries[2], Entry::Assistant("None failed.".into()));
        assert!(
            matches!(chat.entries.last(), Some(Entry::Note(n)) if n.contains("earlier sessions"))
        );
        let words: Vec<String> = chat.conversation.iter().map(Message::text).collect();
        assert_eq!(words, ["which stacks failed?", "None failed."]);
        // `:clear` forgets them.
        assert_eq!(
            store
                .delete_records(crate::assistant::HISTORY_KIND)
                .expect("delete"),
            4
        );
    }

    #[test]
    fn the_title_shows_the_model_and_what_the_session_cost() {
        let mut chat = ChatState {
            model: Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0".into()),
            usage: Usage {
                input: 1200,
                output: 340,
                cache_read: 0,
                cache_write: 0,
            },
            cost_usd: 0.00957,
            ..ChatState::default()
        };
        let shown = view::title_of(&chat);
        assert_eq!(shown, "— claude-sonnet-4-5 · 1.2k in / 340 out · $0.0096");
        chat.unpriced = true;
        assert!(view::title_of(&chat).ends_with("≥$0.0096"));
        assert_eq!(
            view::title_of(&ChatState::default()),
            "— offline (no model configured)"
        );
    }
}
