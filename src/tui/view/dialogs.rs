//! Overlays: the confirmation dialogs, the deploy picker and form, and the help screen.

use super::{centered, env_badge, hard_wrap};
use crate::ops::{MutatingOp, RiskTier};
use crate::tui::keymap;
use crate::tui::state::{COMMANDS, ConfirmDialog, DialogFocus, Mode, State};
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
        _ => {}
    }
}

/// What confirming does, in the words of the button.
fn confirm_label(op: &MutatingOp) -> &'static str {
    match op {
        MutatingOp::DeleteStack(_) => " Delete ",
        MutatingOp::ExecuteChangeSet(_) => " Execute ",
        MutatingOp::CreateChangeSet(_) => " Compute change set ",
        MutatingOp::DiscardChangeSet(_) | MutatingOp::SetTerminationProtection(_) => " Confirm ",
    }
}

/// The fixed bottom of every confirmation: what it takes to confirm, the input, the buttons
/// and the last error. Returns the lines and the index of the input line, if any.
pub(super) fn footer(state: &State, dialog: &ConfirmDialog) -> (Vec<Line<'static>>, Option<usize>) {
    let s = &state.styles;
    let req = &dialog.request;
    let preview = matches!(req.op, MutatingOp::ExecuteChangeSet(_));
    let mut lines = vec![Line::raw("")];
    let mut input_line = None;
    match &req.tier {
        RiskTier::TypeName(name) => {
            let why = match &req.op {
                MutatingOp::DeleteStack(_) => " This cannot be undone. Type ",
                MutatingOp::ExecuteChangeSet(_) => " Type ",
                _ => " Type ",
            };
            lines.push(Line::from(vec![
                Span::raw(why),
                Span::styled(name.clone(), s.danger),
                Span::raw(if preview {
                    " to execute it:"
                } else {
                    " to confirm:"
                }),
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
        RiskTier::Simple => lines.push(Line::raw(if preview {
            " Tab to Execute, then Enter. Esc discards the change set."
        } else {
            " Press y to confirm, n or Esc to cancel."
        })),
    }
    lines.push(Line::raw(""));
    let button = |label: &'static str, focused: bool| {
        Span::styled(label, if focused { s.button_focused } else { s.button })
    };
    let matches = match &req.tier {
        RiskTier::TypeName(name) => dialog.input.text() == name,
        RiskTier::Simple => true,
    };
    let confirm_label = confirm_label(&req.op);
    let confirm_focused = dialog.focus == DialogFocus::Confirm;
    let mut confirm_span = button(confirm_label, confirm_focused);
    if !matches {
        confirm_span = Span::styled(confirm_label, s.disabled);
    } else if !confirm_focused {
        confirm_span = Span::styled(confirm_label, s.danger);
    }
    let cancel_label = if preview { " Discard " } else { " Cancel " };
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
    let s = &state.styles;
    let req = &dialog.request;
    if let MutatingOp::ExecuteChangeSet(execute) = &req.op {
        super::preview::render(frame, state, dialog, execute, area);
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let env_line = |env| {
        Line::from(vec![
            Span::styled(format!(" {:<12}", "Environment"), s.header),
            env_badge(state, env),
        ])
    };
    let target_lines = |lines: &mut Vec<Line>, t: &crate::ops::StackTarget| {
        lines.push(field("Stack", t.stack_name.clone()));
        lines.push(field("Stack id", t.stack_id.clone()));
        lines.push(field("Account", t.account.clone()));
        lines.push(field("Region", t.region.clone()));
        lines.push(env_line(t.environment));
    };
    match &req.op {
        MutatingOp::DeleteStack(d) => {
            lines.push(Line::styled(
                " Delete this CloudFormation stack and every resource it manages?",
                s.danger,
            ));
            lines.push(Line::raw(""));
            target_lines(&mut lines, &d.target);
            lines.push(field("Operation", req.op.name().to_string()));
            lines.push(Line::raw(""));
            if d.retained.is_empty() {
                lines.push(Line::styled(
                    " No resource has a Retain or Snapshot DeletionPolicy: everything is deleted.",
                    s.muted,
                ));
            } else {
                lines.push(Line::styled(" Kept after delete:", s.header));
                for r in &d.retained {
                    lines.push(Line::raw(format!(
                        "   {} ({}) — {}",
                        r.logical_id, r.resource_type, r.policy
                    )));
                }
            }
        }
        MutatingOp::CreateChangeSet(c) => {
            lines.push(Line::raw(format!(
                " Review: {} stack {} from {}",
                match c.kind() {
                    crate::model::ChangeSetKind::Create => "create",
                    crate::model::ChangeSetKind::Update => "update",
                },
                c.stack_name,
                c.template.origin()
            )));
            lines.push(Line::styled(
                " This computes a change set; nothing changes until you execute it.",
                s.info,
            ));
            lines.push(Line::raw(""));
            lines.push(field("Stack", c.stack_name.clone()));
            if let Some(id) = &c.existing_stack_id {
                lines.push(field("Stack id", id.clone()));
            }
            lines.push(field("Account", c.account.clone()));
            lines.push(field("Region", c.region.clone()));
            lines.push(env_line(c.environment));
            lines.push(field("Change set", c.change_set_name.clone()));
            // The provider always acknowledges the IAM capabilities: say when it matters.
            let iam = match &c.template {
                crate::ops::TemplateSource::Body { body, .. } => body.contains("AWS::IAM::"),
                crate::ops::TemplateSource::Previous => false,
            };
            if iam {
                lines.push(Line::styled(
                    " This template creates IAM resources: CAPABILITY_IAM and CAPABILITY_NAMED_IAM are acknowledged.",
                    s.warning,
                ));
            }
            compliance_lines(state, &c.compliance, &mut lines);
            lines.push(Line::raw(""));
            lines.push(Line::styled(" Parameters", s.header));
            let key_width = c
                .parameters
                .iter()
                .map(|p| p.key.len())
                .max()
                .unwrap_or(0)
                .min(32);
            for p in &c.parameters {
                let style = match p.value {
                    crate::ops::ParamValue::UsePrevious => s.muted,
                    _ => s.base,
                };
                lines.push(Line::from(vec![
                    Span::raw(format!("   {:<key_width$}  ", p.key)),
                    Span::styled(
                        match p.value.shown() {
                            "" => "(empty)".to_string(),
                            v => v.to_string(),
                        },
                        style,
                    ),
                ]));
            }
        }
        MutatingOp::SetTerminationProtection(p) => {
            let (what, style) = if p.enabled {
                (
                    " Turn termination protection ON: CloudFormation will refuse to delete this stack until it is turned off.",
                    s.info,
                )
            } else {
                (
                    " Turn termination protection OFF: this stack can then be deleted.",
                    s.danger,
                )
            };
            lines.push(Line::styled(what, style));
            lines.push(Line::raw(""));
            target_lines(&mut lines, &p.target);
            lines.push(field("Operation", req.op.name().to_string()));
        }
        other => {
            lines.push(Line::raw(format!(" {}", other.describe())));
            lines.push(field("Operation", other.name().to_string()));
        }
    }
    let (footer, input_line) = footer(state, dialog);
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

/// The compliance rules' verdict in the deploy's confirmation: every unwaived failure (rule,
/// severity, resource, controls, message), waived ones marked as such, and a template that
/// could not be judged said plainly.
fn compliance_lines(
    state: &State,
    verdict: &crate::ops::ComplianceVerdict,
    lines: &mut Vec<Line<'static>>,
) {
    let s = &state.styles;
    lines.push(Line::raw(""));
    if let Some(why) = verdict.unjudged() {
        lines.push(Line::styled(
            format!(" Compliance: NOT judged — {why}; this counts as a failure"),
            s.danger,
        ));
    }
    let errors = verdict.errors();
    if !errors.is_empty() {
        lines.push(Line::styled(
            format!(
                " Compliance: {} check(s) could not be made — each counts as an unwaived failure",
                errors.len()
            ),
            s.danger,
        ));
        for e in errors {
            lines.push(Line::styled(format!("   error    {e}"), s.danger));
        }
    }
    for note in verdict.notes() {
        lines.push(Line::styled(format!(" {note}"), s.warning));
    }
    let failures = verdict.failures();
    if failures.is_empty() && verdict.not_judged().is_empty() {
        lines.push(Line::styled(
            " Compliance: no unwaived failures (NIST 800-53 rules passed)",
            s.ok,
        ));
    } else if !failures.is_empty() {
        lines.push(Line::styled(
            format!(
                " Compliance: {} unwaived failure(s) — continue only by typing the stack name",
                failures.len()
            ),
            s.danger,
        ));
    }
    let row = |f: &crate::ops::ComplianceFailure, style, tag: &str| {
        [
            Line::from(vec![
                Span::styled(format!("   {:<8} ", f.severity.as_str()), style),
                Span::styled(format!("{} ", f.rule), style),
                Span::raw(format!("{} ", f.resource)),
                Span::styled(format!("[{}]{tag}", f.controls.join(", ")), s.muted),
            ]),
            Line::styled(format!("     {}", f.message), s.muted),
        ]
    };
    for f in failures {
        let style = if f.severity >= crate::compliance::model::Severity::High {
            s.danger
        } else {
            s.warning
        };
        lines.extend(row(f, style, ""));
    }
    for f in verdict.waived() {
        lines.extend(row(f, s.muted, " waived"));
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
