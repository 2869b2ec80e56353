//! Overlays: the confirmation dialogs, the deploy picker and form, and the help screen.

use super::{centered, hard_wrap};
use crate::ops::{MutatingOp, RiskTier};
use crate::registry;
use crate::tui::state::{ConfirmDialog, DialogFocus, Mode, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn overlays(frame: &mut Frame, state: &State, area: Rect) {
    match &state.mode {
        Mode::Confirm(dialog) => confirm(frame, state, dialog, area),
        Mode::Help { scroll } => help(frame, state, *scroll, area),
        Mode::Picker(picker) => super::form::picker(frame, state, picker, area),
        Mode::Form(form) => super::form::form(frame, state, form, area),
        Mode::Export { selected } => super::compliance::export_menu(frame, state, *selected, area),
        Mode::Installers(mode) => crate::installers::tui::view::render(frame, state, mode, area),
        Mode::Kube(prompt) => crate::kube::tui::view::render_prompt(frame, state, prompt, area),
        _ => {}
    }
}

/// The words a confirmation uses, chosen by the operation's capability.
#[derive(Debug, Clone, Copy)]
pub struct DialogWords {
    /// The confirm button: " Delete ", " Execute ", " Confirm ".
    pub confirm: &'static str,
    /// The cancel button: " Cancel ", or " Discard " when cancelling undoes something.
    pub cancel: &'static str,
    /// Before and after the name to type: " Type " NAME " to confirm:".
    pub type_before: &'static str,
    pub type_after: &'static str,
    /// The instruction of the `y`/`Enter` tier.
    pub simple: &'static str,
}

impl Default for DialogWords {
    fn default() -> DialogWords {
        DialogWords {
            confirm: " Confirm ",
            cancel: " Cancel ",
            type_before: " Type ",
            type_after: " to confirm:",
            simple: " Press y to confirm, n or Esc to cancel.",
        }
    }
}

/// The fixed bottom of every confirmation: what it takes to confirm, the input, the buttons
/// and the last error. Returns the lines and the index of the input line, if any.
pub(crate) fn footer(
    state: &State,
    dialog: &ConfirmDialog,
    words: &DialogWords,
) -> (Vec<Line<'static>>, Option<usize>) {
    let s = &state.styles;
    let req = &dialog.request;
    let mut lines = vec![Line::raw("")];
    let mut input_line = None;
    match &req.tier {
        RiskTier::TypeName(name) => {
            lines.push(Line::from(vec![
                Span::raw(words.type_before),
                Span::styled(name.clone(), s.danger),
                Span::raw(words.type_after),
            ]));
            let input_style = if dialog.focus == DialogFocus::Input {
                s.button_focused
            } else {
                s.input
            };
            input_line = Some(lines.len());
            lines.push(Line::from(vec![
                Span::styled(" > ", s.header),
                Span::styled(dialog.input.text().to_string(), input_style),
            ]));
        }
        RiskTier::Simple => lines.push(Line::raw(words.simple)),
    }
    lines.push(Line::raw(""));
    let button = |label: &'static str, focused: bool| {
        Span::styled(label, if focused { s.button_focused } else { s.button })
    };
    let matches = match &req.tier {
        RiskTier::TypeName(name) => dialog.input.text() == name,
        RiskTier::Simple => true,
    };
    let confirm_label = words.confirm;
    let confirm_focused = dialog.focus == DialogFocus::Confirm;
    let mut confirm_span = button(confirm_label, confirm_focused);
    if !matches {
        confirm_span = Span::styled(confirm_label, s.disabled);
    } else if !confirm_focused {
        confirm_span = Span::styled(confirm_label, s.danger);
    }
    let cancel_label = words.cancel;
    lines.push(Line::from(vec![
        Span::raw(" "),
        button(cancel_label, dialog.focus == DialogFocus::Cancel),
        Span::raw("   "),
        confirm_span,
        Span::styled("   Esc cancels · Tab moves · Enter chooses", s.muted),
    ]));
    if let Some(err) = &dialog.error {
        lines.push(Line::styled(format!(" {err}"), s.danger));
    }
    (lines, input_line)
}

fn confirm(frame: &mut Frame, state: &State, dialog: &ConfirmDialog, area: Rect) {
    match &dialog.request.op {
        MutatingOp::Cfn(op) => crate::cfn::tui::dialog_view::render(frame, state, dialog, op, area),
        MutatingOp::Install(op) => {
            crate::installers::tui::dialog_view::render(frame, state, dialog, op, area)
        }
        MutatingOp::Kube(op) => {
            crate::kube::tui::dialog_view::render(frame, state, dialog, op, area)
        }
        MutatingOp::Cost(op) => {
            crate::cost::tui::dialog_view::render(frame, state, dialog, op, area)
        }
    }
}

/// A confirmation over the panes: the capability's body `lines` above the fixed footer
/// (what it takes to confirm, the input, the buttons). The body scrolls when the terminal is
/// short; the footer is never cut.
pub(crate) fn render_confirm(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    words: &DialogWords,
    lines: Vec<Line<'static>>,
    area: Rect,
) {
    let s = &state.styles;
    let req = &dialog.request;
    let (footer, input_line) = footer(state, dialog, words);
    let width = area.width.saturating_sub(4).min(100);
    let inner_width = width.saturating_sub(2).max(1) as usize;
    // Wrap by characters ourselves, so heights are exact; the footer (the buttons!) is never
    // cut: the body scrolls above it when the terminal is short.
    let input_row = input_line.map(|index| hard_wrap(footer[..index].to_vec(), inner_width).len());
    let body = hard_wrap(lines, inner_width);
    let footer = hard_wrap(footer, inner_width);
    let height = (body.len() + footer.len() + 2).min(area.height as usize) as u16;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.danger)
        .title(Line::styled(
            format!(" Confirm: {} ", req.op.name()),
            s.danger,
        ))
        .style(s.base);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let body_height = (inner.height as usize).saturating_sub(footer.len());
    let max_scroll = body.len().saturating_sub(body_height);
    let scroll = dialog.scroll.min(max_scroll);
    let mut shown: Vec<Line> = body.into_iter().skip(scroll).take(body_height).collect();
    if scroll < max_scroll
        && let Some(last) = shown.last_mut()
    {
        *last = Line::styled(
            format!(
                " ↓ {} more line(s): ↓/PgDn scrolls",
                max_scroll - scroll + 1
            ),
            s.muted,
        );
    }
    let footer_top = inner.y + shown.len() as u16;
    frame.render_widget(Paragraph::new(shown), inner);
    let footer_area = Rect {
        y: footer_top,
        height: inner.bottom().saturating_sub(footer_top),
        ..inner
    };
    frame.render_widget(Paragraph::new(footer), footer_area);
    if let Some(row) = input_row
        && dialog.focus == DialogFocus::Input
    {
        let x = inner.x + 3 + dialog.input.cursor() as u16;
        let y = footer_top + row as u16;
        if x < rect.right() && y < rect.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}

fn help(frame: &mut Frame, state: &State, scroll: u16, area: Rect) {
    let s = &state.styles;
    let mut lines = Vec::new();
    for (ctx, rows) in registry::help_sections() {
        lines.push(Line::styled(ctx.title(), s.header));
        for (keys, help) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<22}"), s.info),
                Span::raw(help),
            ]));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("Commands (: or typed in Chat)", s.header));
    for (name, help) in registry::commands() {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{name:<21}"), s.info),
            Span::raw(help),
        ]));
    }
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(90),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(
            " Help — j/k scroll, Esc closes ",
            s.title_focused,
        ))
        .style(s.base);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}
