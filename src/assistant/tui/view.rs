//! Drawing the Chat pane: the conversation (paragraphs and lists wrapped by words, code
//! blocks kept as written), proposal cards, the scroll position, the model and its usage in
//! the title, and the input.

use super::{CardState, Entry};
use crate::assistant::usage::{money, short_count};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::styles::Styles;
use crate::tui::view::pane_block;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// The pane's title: the model (or offline), this session's tokens and cost, and whether an
/// answer is being written.
pub fn title(state: &State) -> String {
    title_of(&state.chat)
}

/// The title for `chat`.
pub fn title_of(chat: &super::ChatState) -> String {
    let mut title = match &chat.model {
        Some(model) => format!("— {}", short_model(model)),
        None => "— offline (no model configured)".to_string(),
    };
    if !chat.usage.is_zero() {
        let cost = if chat.unpriced {
            format!("≥{}", money(Some(chat.cost_usd)))
        } else {
            money(Some(chat.cost_usd))
        };
        title.push_str(&format!(
            " · {} in / {} out · {cost}",
            short_count(chat.usage.input + chat.usage.cache_read + chat.usage.cache_write),
            short_count(chat.usage.output),
        ));
    }
    if chat.answering.is_some() {
        title.push_str(" · answering (Esc stops)");
    }
    title
}

/// `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5`.
fn short_model(id: &str) -> String {
    let base = id.rsplit('.').next().unwrap_or(id);
    let base = base.split(['-', ':']).collect::<Vec<_>>();
    // Drop a date (8 digits) and what follows it.
    let end = base
        .iter()
        .position(|p| p.len() == 8 && p.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or(base.len());
    let short = base[..end].join("-");
    if short.is_empty() {
        id.to_string()
    } else {
        short
    }
}

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let block = pane_block(state, Pane::Chat, &title(state));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [history, input] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(inner);

    let width = history.width.max(1) as usize;
    let rows = rows(&state.chat.entries, s, width);
    let height = history.height as usize;
    let max_scroll = rows.len().saturating_sub(height);
    let scroll = state.chat.scroll.min(max_scroll);
    let end = rows.len() - scroll;
    let start = end.saturating_sub(height);
    let mut shown: Vec<Line> = rows[start..end].to_vec();
    if scroll > 0
        && let Some(last) = shown.last_mut()
    {
        *last = Line::styled(format!("↓ {scroll} more rows (PgDn)"), s.muted);
    }
    frame.render_widget(Paragraph::new(shown), history);

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

/// Every row of the conversation at `width` columns (only the visible ones are drawn).
pub fn rows(entries: &[Entry], s: &Styles, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::User(text) => {
                lead_text(&mut out, "you › ", s.header, text, Style::default(), width)
            }
            Entry::Note(text) => lead_text(&mut out, "opsdeck › ", s.muted, text, s.muted, width),
            Entry::Tool(text, ok) => {
                let style = if *ok { s.muted } else { s.warning };
                lead_text(&mut out, "  · ", style, text, style, width);
            }
            Entry::Assistant(text) => markdown(&mut out, text, s, width),
            Entry::Card(card) => {
                let (label, style) = match &card.state {
                    CardState::Waiting => (
                        "proposed — waiting for your confirmation".to_string(),
                        s.warning,
                    ),
                    CardState::Confirmed => (
                        "proposed — you confirmed it; it runs in Jobs".to_string(),
                        s.ok,
                    ),
                    CardState::Cancelled => {
                        ("proposed — cancelled, nothing changed".to_string(), s.muted)
                    }
                    CardState::Refused(why) => (format!("proposed — refused: {why}"), s.danger),
                    CardState::Suggested => (
                        "suggested command — not run; type it to run it".to_string(),
                        s.info,
                    ),
                };
                lead_text(
                    &mut out,
                    "▌ ",
                    style,
                    &format!("{}: {label}", card.tool),
                    style,
                    width,
                );
                lead_text(&mut out, "▌   ", style, &card.what, Style::default(), width);
            }
        }
    }
    out
}

/// `lead` then `text` wrapped by words, later rows indented under it.
fn lead_text(
    out: &mut Vec<Line<'static>>,
    lead: &str,
    lead_style: Style,
    text: &str,
    style: Style,
    width: usize,
) {
    // Continuation rows indent a little, not under the whole lead: panes can be narrow.
    let indent = " ".repeat(unicode_width::UnicodeWidthStr::width(lead).min(2));
    for (i, line) in text.lines().enumerate() {
        let first = if i == 0 { lead } else { indent.as_str() };
        push_wrapped(out, first, lead_style, &indent, line, style, width);
    }
    if text.is_empty() {
        out.push(Line::from(Span::styled(lead.to_string(), lead_style)));
    }
}

fn push_wrapped(
    out: &mut Vec<Line<'static>>,
    first: &str,
    lead_style: Style,
    indent: &str,
    text: &str,
    style: Style,
    width: usize,
) {
    let lead_w = unicode_width::UnicodeWidthStr::width(first);
    let body = width.saturating_sub(lead_w).max(8);
    for (n, row) in word_wrap(text, body).into_iter().enumerate() {
        let lead = if n == 0 { first } else { indent };
        out.push(Line::from(vec![
            Span::styled(lead.to_string(), lead_style),
            Span::styled(row, style),
        ]));
    }
}

/// The assistant's text: paragraphs and list items wrapped by words (items indented under
/// their marker), ``` code blocks kept as written and cut at the edge, `#` headings bold.
fn markdown(out: &mut Vec<Line<'static>>, text: &str, s: &Styles, width: usize) {
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            let code = crate::engine::joblog::sanitized(line).into_owned();
            for chunk in hard_chunks(&format!("  {code}"), width) {
                out.push(Line::styled(chunk, s.info));
            }
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix('#') {
            let heading = heading.trim_start_matches('#').trim();
            push_wrapped(out, "", s.header, "", heading, s.header, width);
            continue;
        }
        let marker = list_marker(trimmed);
        match marker {
            Some((marker, rest)) => {
                let depth = (line.len() - trimmed.len()).min(8);
                let first = format!("{}{marker} ", " ".repeat(depth));
                let indent = " ".repeat(unicode_width::UnicodeWidthStr::width(first.as_str()));
                push_wrapped(
                    out,
                    &first,
                    s.header,
                    &indent,
                    rest,
                    Style::default(),
                    width,
                );
            }
            None => push_wrapped(
                out,
                "",
                Style::default(),
                "",
                trimmed,
                Style::default(),
                width,
            ),
        }
    }
}

/// `- item`, `* item`, `12. item` → (marker, item).
fn list_marker(line: &str) -> Option<(&str, &str)> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some((&line[..1], rest));
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 && line[digits..].starts_with(". ") {
        return Some((&line[..digits + 1], &line[digits + 2..]));
    }
    None
}

fn hard_chunks(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.max(1) {
            rows.push(String::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push(c);
        }
        used += w;
    }
    rows
}

/// Split `text` into rows of at most `width` columns at spaces; a word longer than a row is
/// split by characters.
pub(crate) fn word_wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let width = width.max(1);
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
    use super::*;

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(word_wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(word_wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(word_wrap("", 4), [""]);
    }

    #[test]
    fn lists_hang_under_their_marker_and_code_keeps_its_lines() {
        let styles = Styles::monochrome();
        let entries = vec![Entry::Assistant(
            "Two stacks:\n- web is CREATE_COMPLETE and fine\n```\naws cloudformation describe-stacks\n```"
                .into(),
        )];
        let rows: Vec<String> = rows(&entries, &styles, 20)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(rows[0], "Two stacks:");
        assert_eq!(rows[1], "- web is");
        assert!(rows[2].starts_with("  CREATE_COMPLETE"), "{rows:?}");
        assert!(
            rows.iter().any(|r| r.starts_with("  aws cloudformation")),
            "{rows:?}"
        );
        assert!(
            rows.iter()
                .all(|r| unicode_width::UnicodeWidthStr::width(r.as_str()) <= 20),
            "{rows:?}"
        );
    }

    #[test]
    fn model_ids_are_shortened_for_the_title() {
        assert_eq!(
            short_model("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "claude-sonnet-4-5"
        );
        assert_eq!(short_model("my-model"), "my-model");
    }
}
