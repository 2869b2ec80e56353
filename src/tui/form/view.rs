//! Drawing a [`Form`]: a bordered box over the panes with the caller's title and header
//! lines, then every visible field grouped under headings (label, value, current value,
//! note, description, error), scrolled so the focused field is in view, and the keys.

use super::{FieldKind, Form};
use crate::registry::{self, Action, Context};
use crate::tui::shell::ShellAction;
use crate::tui::state::State;
use crate::tui::view::{centered, fit, hard_wrap, wrap_words};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

/// The panes' area: everything but the status bar and the bottom line.
pub fn over_panes(area: Rect) -> Rect {
    Rect {
        height: area.height.saturating_sub(2),
        ..area
    }
}

/// Draw `form` with `title` and `header` (where it lands, a refusal) above its fields.
pub fn render(
    frame: &mut Frame,
    state: &State,
    form: &Form,
    title: &str,
    header: Vec<Line<'static>>,
    area: Rect,
) {
    let s = &state.styles;
    let main = over_panes(area);
    let rect = centered(main, main.width.min(110), main.height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(
            fit(title, rect.width.saturating_sub(4) as usize),
            s.title_focused,
        ))
        .style(s.base);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let width = inner.width.max(1) as usize;
    let mut header = header;
    if let Some(error) = &form.error {
        for text in wrap_words(&format!("✗ {error}"), width) {
            header.push(Line::styled(text, s.danger));
        }
    }
    let header = hard_wrap(header, width);

    // Every visible field, grouped; remember where each starts and ends to scroll the
    // focused one in.
    let mut body: Vec<Line> = Vec::new();
    let mut ranges = vec![(0, 0); form.fields.len()];
    let mut cursor_at: Option<(usize, u16)> = None;
    let input_width = width.saturating_sub(6).clamp(8, 64);
    let mut previous_group: Option<&str> = None;
    for (i, field) in form.fields.iter().enumerate() {
        if field.hidden {
            continue;
        }
        let start = body.len();
        if previous_group != Some(field.group.as_str()) {
            if previous_group.is_some() {
                body.push(Line::raw(""));
            }
            body.push(Line::styled(format!("── {} ", field.group), s.header));
        }
        previous_group = Some(field.group.as_str());
        let focused = i == form.focus;
        let mut label = vec![
            Span::styled(if focused { "▸ " } else { "  " }, s.title_focused),
            Span::styled(
                field.label.clone(),
                if focused { s.title_focused } else { s.base },
            ),
        ];
        if let Some(tag) = &field.tag {
            label.push(Span::styled(tag.clone(), s.muted));
        }
        body.extend(hard_wrap(vec![Line::from(label)], width));
        let value_line = value_line(state, field, focused, input_width);
        if focused && !field.locked && !matches!(field.kind, FieldKind::Select(_)) {
            cursor_at = Some((body.len(), 4 + field.input.cursor() as u16));
        }
        body.extend(hard_wrap(vec![value_line], width));
        if let Some(current) = &field.current
            && field.kind != FieldKind::Secret
            && *current != field.value()
        {
            body.push(Line::styled(
                fit(&format!("    now: {current}"), width),
                s.muted,
            ));
        }
        if let Some(note) = &field.note {
            body.push(Line::styled(format!("    {note}"), s.muted));
        }
        if let Some(description) = &field.description {
            for text in wrap_words(description, width.saturating_sub(4)) {
                body.push(Line::styled(format!("    {text}"), s.muted));
            }
        }
        if let Some(error) = &field.error {
            for text in wrap_words(&format!("✗ {error}"), width.saturating_sub(4)) {
                body.push(Line::styled(format!("    {text}"), s.danger));
            }
        }
        ranges[i] = (start, body.len());
    }

    let [header_area, body_area, footer_area] = Layout::vertical([
        Constraint::Length(header.len() as u16 + 1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(header), header_area);

    let height = body_area.height as usize;
    let (start, end) = ranges.get(form.focus).copied().unwrap_or((0, 0));
    let mut offset = end.saturating_sub(height);
    if start < offset {
        offset = start;
    }
    let more_above = offset > 0;
    let more_below = body.len() > offset + height;
    let shown: Vec<Line> = body.into_iter().skip(offset).take(height).collect();
    frame.render_widget(Paragraph::new(shown), body_area);
    if let Some((line, x)) = cursor_at
        && line >= offset
        && line < offset + height
    {
        let x = body_area.x + x;
        let y = body_area.y + (line - offset) as u16;
        if x < body_area.right() {
            frame.set_cursor_position((x, y));
        }
    }

    let key = |ctx: Context, action: ShellAction| {
        registry::key_label(ctx, Action::Shell(action)).unwrap_or_default()
    };
    let mut footer = format!(
        "{}/↓ next · {}/↑ back · ← → choose · Enter next, sends on the last · {} send · {} leave (nothing sent)",
        key(Context::Form, ShellAction::FormNext),
        key(Context::Form, ShellAction::FormPrev),
        key(Context::Form, ShellAction::FormSubmit),
        key(Context::Form, ShellAction::FormClose),
    );
    if more_above || more_below {
        footer = format!(
            "{} {footer}",
            match (more_above, more_below) {
                (true, true) => "↕",
                (true, false) => "↑",
                _ => "↓",
            }
        );
    }
    frame.render_widget(Line::styled(fit(&footer, width), s.muted), footer_area);
}

fn value_line<'a>(state: &State, field: &super::Field, focused: bool, width: usize) -> Line<'a> {
    let s = &state.styles;
    let boxed = |text: String| {
        let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(text.as_str()));
        let style = if focused { s.selection } else { s.input };
        Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("{text}{}", " ".repeat(pad)), style),
        ])
    };
    match &field.kind {
        FieldKind::Select(choices) => {
            let mut spans = vec![Span::raw("    ")];
            for (i, choice) in choices.iter().enumerate() {
                let style = match (i == field.choice, focused) {
                    (true, true) => s.selection,
                    (true, false) => s.header,
                    _ => s.muted,
                };
                let mark = if i == field.choice { "●" } else { "○" };
                spans.push(Span::styled(format!("{mark} {choice}"), style));
                spans.push(Span::raw("  "));
            }
            Line::from(spans)
        }
        FieldKind::Secret => boxed("•".repeat(field.input.text().chars().count())),
        FieldKind::Text if field.locked => Line::from(vec![
            Span::raw("    "),
            Span::styled(field.input.text().to_string(), s.header),
        ]),
        FieldKind::Text => boxed(field.input.text().to_string()),
    }
}
