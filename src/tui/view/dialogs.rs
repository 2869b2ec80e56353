//! Overlays: the confirmation dialog and the help screen.

use super::hard_wrap;
use crate::ops::{MutatingOp, RiskTier};
use crate::tui::keymap;
use crate::tui::state::{COMMANDS, ConfirmDialog, DialogFocus, Mode, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn overlays(frame: &mut Frame, state: &State, area: Rect) {
    match &state.mode {
        Mode::Confirm(dialog) => confirm(frame, state, dialog, area),
        Mode::Help { scroll } => help(frame, state, *scroll, area),
        _ => {}
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn confirm(frame: &mut Frame, state: &State, dialog: &ConfirmDialog, area: Rect) {
    let s = &state.styles;
    let req = &dialog.request;
    let mut lines: Vec<Line> = Vec::new();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    match &req.op {
        MutatingOp::DeleteStack(d) => {
            let t = &d.target;
            lines.push(Line::styled(
                " Delete this CloudFormation stack and every resource it manages?",
                s.danger,
            ));
            lines.push(Line::raw(""));
            lines.push(field("Stack", t.stack_name.clone()));
            lines.push(field("Stack id", t.stack_id.clone()));
            lines.push(field("Account", t.account.clone()));
            lines.push(field("Region", t.region.clone()));
            let env_style = if t.environment.is_production_grade() {
                s.env_danger
            } else {
                s.env_safe
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<12}", "Environment"), s.header),
                Span::styled(format!(" {} ", t.environment), env_style),
            ]));
            lines.push(field("Operation", req.op.name().to_string()));
        }
        other => {
            lines.push(Line::raw(format!(" {}", other.describe())));
            lines.push(field("Operation", other.name().to_string()));
        }
    }
    lines.push(Line::raw(""));
    let mut input_line = None;
    let confirm_label = match &req.tier {
        RiskTier::TypeName(name) => {
            lines.push(Line::from(vec![
                Span::raw(" This cannot be undone. Type "),
                Span::styled(name.clone(), s.danger),
                Span::raw(" to confirm:"),
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
            " Delete "
        }
        RiskTier::Simple => {
            lines.push(Line::raw(" Press y to confirm, n or Esc to cancel."));
            " Confirm "
        }
    };
    lines.push(Line::raw(""));
    let button = |label: &'static str, focused: bool| {
        Span::styled(label, if focused { s.button_focused } else { s.button })
    };
    let matches = match &req.tier {
        RiskTier::TypeName(name) => dialog.input.text() == name,
        RiskTier::Simple => true,
    };
    let confirm_style_focus = dialog.focus == DialogFocus::Confirm;
    let mut confirm_span = button(confirm_label, confirm_style_focus);
    if !matches {
        confirm_span = Span::styled(confirm_label, s.disabled);
    } else if !confirm_style_focus {
        confirm_span = Span::styled(confirm_label, s.danger);
    }
    lines.push(Line::from(vec![
        Span::raw(" "),
        button(" Cancel ", dialog.focus == DialogFocus::Cancel),
        Span::raw("   "),
        confirm_span,
        Span::styled("   Esc cancels · Tab moves · Enter chooses", s.muted),
    ]));
    if let Some(err) = &dialog.error {
        lines.push(Line::styled(format!(" {err}"), s.danger));
    }
    let width = area.width.saturating_sub(4).min(100);
    let inner_width = width.saturating_sub(2).max(1) as usize;
    // Wrap by characters ourselves, so the height is exact and nothing (the buttons!) is cut.
    let input_row = input_line.map(|index| hard_wrap(lines[..index].to_vec(), inner_width).len());
    let lines = hard_wrap(lines, inner_width);
    let height = lines.len() as u16 + 2;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.danger)
        .title(Line::styled(
            format!(" Confirm: {} ", req.op.name()),
            s.danger,
        ))
        .style(s.base);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    if let Some(row) = input_row
        && dialog.focus == DialogFocus::Input
    {
        let x = rect.x + 1 + 3 + dialog.input.cursor() as u16;
        let y = rect.y + 1 + row as u16;
        if x < rect.right() && y < rect.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}

fn help(frame: &mut Frame, state: &State, scroll: u16, area: Rect) {
    let s = &state.styles;
    let mut lines = Vec::new();
    for (ctx, rows) in keymap::help_sections() {
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
    for (name, help) in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  :{name:<21}"), s.info),
            Span::raw(*help),
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
