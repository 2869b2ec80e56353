//! The Chat pane: for now it accepts the same commands as `:`; the assistant comes later.

use crate::registry::{self, Pane};
use crate::tui::shell;
use crate::tui::state::{Cmd, State};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRole {
    User,
    System,
}

pub struct ChatState {
    pub input: TextArea<'static>,
    pub history: Vec<(ChatRole, String)>,
}

impl Default for ChatState {
    fn default() -> Self {
        let mut input = TextArea::default();
        input.set_placeholder_text(
            "type a command (stacks, jobs, theme NAME, help) and press Enter",
        );
        ChatState {
            input,
            history: vec![(
                ChatRole::System,
                "No assistant is configured yet. This pane accepts the same commands as `:` \
                 (try `help`)."
                    .to_string(),
            )],
        }
    }
}

pub(crate) fn on_chat_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    match key.code {
        KeyCode::Enter if !key.modifiers.contains(KeyModifiers::ALT) => {
            let text = state.chat.input.lines().join("\n");
            state.chat.input = ChatState::default().input;
            let text = text.trim();
            if text.is_empty() {
                return Vec::new();
            }
            state.chat.history.push((ChatRole::User, text.to_string()));
            let command = text.strip_prefix(':').unwrap_or(text);
            let known = command
                .split_whitespace()
                .next()
                .is_some_and(|name| registry::command(name).is_some());
            if known {
                shell::run_command(state, command)
            } else {
                state.chat.history.push((
                    ChatRole::System,
                    "No assistant is configured yet, so I can only run commands. Try `help`."
                        .into(),
                ));
                Vec::new()
            }
        }
        KeyCode::Esc => {
            // Esc clears the input; on an empty input it leaves Chat, as Esc leaves insert mode.
            if state.chat.input.is_empty() {
                state.focus = Pane::Inventory;
            } else {
                state.chat.input = ChatState::default().input;
            }
            Vec::new()
        }
        _ => {
            state.chat.input.input(key);
            Vec::new()
        }
    }
}
