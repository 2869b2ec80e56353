//! Chat: the conversation so far and the text input.

use super::pane_block;
use crate::tui::keymap::Pane;
use crate::tui::state::{ChatRole, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let block = pane_block(state, Pane::Chat, "— no assistant configured");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [history, input] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(inner);

    let lines: Vec<Line> = state
        .chat
        .history
        .iter()
        .flat_map(|(role, text)| {
            let (who, style) = match role {
                ChatRole::User => ("you › ", s.header),
                ChatRole::System => ("opsdeck › ", s.muted),
            };
            text.lines()
                .enumerate()
                .map(move |(i, l)| {
                    let lead = if i == 0 { who } else { "  " };
                    Line::from(vec![Span::styled(lead, style), Span::raw(l.to_string())])
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Keep the newest lines in view: count the rows the wrapped lines take.
    let width = history.width.max(1) as usize;
    let total: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let scroll = (total as u16).saturating_sub(history.height);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false });
    frame.render_widget(para.scroll((scroll, 0)), history);

    let mut textarea = state.chat.input.clone();
    let border = if state.focus == Pane::Chat {
        s.border_focused
    } else {
        s.border
    };
    textarea.set_block(Block::new().borders(Borders::TOP).border_style(border));
    textarea.set_style(s.input);
    textarea.set_cursor_line_style(s.input);
    if state.focus != Pane::Chat {
        textarea.set_cursor_style(s.input);
    }
    frame.render_widget(&textarea, input);
}
