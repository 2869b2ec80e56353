//! The Chat pane's entries in the action registry: sending, stopping an answer, scrolling,
//! clearing. The assistant's tools are not declared here: they are every other action.

use crate::actions;
use crate::assistant::tui as chat;
use crate::registry::{ActionSpec, Context, KeyCode, Kind, bind, code, ctrl, hint};
use crate::tui::state::{Cmd, State};

actions! {
    /// The Chat pane.
    pub enum AssistantAction {
        Send => ActionSpec::new("chat-send", "Send the message (a :command runs as one)", Kind::Ui)
            .binds(&[hint(Context::Chat, &[code(KeyCode::Enter)], "send")])
            .help("send to the assistant (Alt-Enter: new line; :command or a bare command word runs it)"),
        Escape => ActionSpec::new("chat-escape", "Clear the input, or leave Chat", Kind::Ui)
            .binds(&[bind(Context::Chat, &[code(KeyCode::Esc)])])
            .help("clear the input; on an empty input, leave Chat"),
        Stop => ActionSpec::new("stop-answer", "Stop the answer being written", Kind::Ui)
            .binds(&[hint(Context::ChatAnswering, &[code(KeyCode::Esc), ctrl('c')], "stop")])
            .help("stop the answer (what arrived stays)"),
        ScrollUp => ActionSpec::new("chat-scroll-up", "Scroll the conversation back", Kind::Ui)
            .binds(&[hint(Context::Chat, &[code(KeyCode::PageUp)], "scroll")])
            .help("scroll the conversation back"),
        ScrollDown => ActionSpec::new("chat-scroll-down", "Scroll the conversation forward", Kind::Ui)
            .binds(&[bind(Context::Chat, &[code(KeyCode::PageDown)])])
            .help("scroll forward (to the newest)"),
        Clear => ActionSpec::new("clear-chat", "Clear the conversation and its history", Kind::Ui)
            .command("clear", &[], "")
            .help("clear the conversation (and its saved history; usage records stay)"),
    }
}

/// What a Chat action does.
pub fn apply(state: &mut State, action: AssistantAction, _args: &[&str]) -> Vec<Cmd> {
    match action {
        AssistantAction::Send => chat::send(state),
        AssistantAction::Escape => {
            chat::escape(state);
            Vec::new()
        }
        AssistantAction::Stop => chat::stop(state),
        AssistantAction::ScrollUp => {
            chat::scroll(state, true);
            Vec::new()
        }
        AssistantAction::ScrollDown => {
            chat::scroll(state, false);
            Vec::new()
        }
        AssistantAction::Clear => chat::clear(state),
    }
}
