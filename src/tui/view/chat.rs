//! Chat: the conversation so far and the text input.

use super::pane_block;
use crate::registry::Pane;
use crate::tui::state::{ChatRole, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let block = pane_block(state, Pane::Chat, "— no assistant configured");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [history, input] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(inner);

    // Wrap by words ourselves so the row count is exact and the newest line is never cut off.
    let width = history.width.max(1) as usize;
    let mut rows: Vec<Line> = Vec::new();
    for (role, text) in &state.chat.history {
        let (who, style) = match role {
            ChatRole::User => ("you › ", s.header),
            ChatRole::System => ("opsdeck › ", s.muted),
        };
        for (i, line) in text.lines().enumerate() {
            let lead = if i == 0 { who } else { "  " };
            for (n, row) in word_wrap(&format!("{lead}{line}"), width)
                .into_iter()
                .enumerate()
            {
                rows.push(match row.strip_prefix(lead).filter(|_| n == 0) {
                    Some(rest) => {
                        Line::from(vec![Span::styled(lead, style), Span::raw(rest.to_string())])
                    }
                    None => Line::raw(row),
                });
            }
        }
    }
    let skip = rows.len().saturating_sub(history.height as usize);
    frame.render_widget(
        Paragraph::new(rows.into_iter().skip(skip).collect::<Vec<_>>()),
        history,
    );

    let mut textarea = state.chat.input.clone();
    let border = if state.focus == Pane::Chat {
        s.border_focused
    } else {
        s.border
    };
    textarea.set_block(Block::new().borders(Borders::TOP).border_style(border));
    textarea.set_style(s.input);
    textarea.set_cursor_line_style(s.input);
    // The widget's own placeholder grey ignores the theme, NO_COLOR and TERM=dumb.
    textarea.set_placeholder_style(s.muted);
    if state.focus != Pane::Chat {
        textarea.set_cursor_style(s.input);
    }
    frame.render_widget(&textarea, input);
}

/// Split `text` into rows of at most `width` columns at spaces; a word longer than a row is
/// split by characters.
fn word_wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let needed = if row.is_empty() {
            word.width()
        } else {
            row.width() + 1 + word.width()
        };
        if needed > width && !row.is_empty() {
            rows.push(std::mem::take(&mut row));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        for c in word.chars() {
            if row.width() + c.width().unwrap_or(0) > width {
                rows.push(std::mem::take(&mut row));
            }
            row.push(c);
        }
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::word_wrap;

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(word_wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(word_wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(word_wrap("", 4), [""]);
        assert!(
            word_wrap("opsdeck › No assistant is configured yet.", 12)
                .iter()
                .all(|r| unicode_width::UnicodeWidthStr::width(r.as_str()) <= 12)
        );
    }
}
