//! The Compliance pane: the summary of control states, the report tree (family → control →
//! rule → resource) and the detail of the selected row, with the template excerpt around a
//! finding's line. Also the export format menu.

use crate::compliance::export::Format;
use crate::compliance::report::{ControlState, Report};
use crate::compliance::tui::{JudgedReport, Row, excerpt};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::styles::Styles;
use crate::tui::view::{centered, fit, pane_block, window_start, wrap_words};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

fn state_style(s: &Styles, state: ControlState) -> Style {
    match state {
        ControlState::Error | ControlState::Failed => s.danger,
        ControlState::Waived => s.warning,
        ControlState::Passed => s.ok,
        ControlState::NotApplicable => s.muted,
    }
}

fn state_mark(state: ControlState) -> &'static str {
    match state {
        ControlState::Error => "!",
        ControlState::Failed => "✗",
        ControlState::Waived => "~",
        ControlState::Passed => "✓",
        ControlState::NotApplicable => "·",
    }
}

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let c = &state.compliance;
    let Some(judged) = &c.current else {
        let text = if c.judging || c.judging_stack || c.pending_stack.is_some() {
            "Judging templates against the NIST 800-53 rules…"
        } else {
            "No report yet: c judges the template library, C on a stack judges what is deployed."
        };
        let body = Paragraph::new(Line::styled(text, s.muted))
            .wrap(Wrap { trim: true })
            .block(pane_block(state, Pane::Compliance, ""));
        frame.render_widget(body, area);
        return;
    };
    let block = pane_block(state, Pane::Compliance, &format!("— {}", judged.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let report = &judged.report;
    let width = inner.width as usize;
    let mut head = vec![summary_line(s, report)];
    // Policy, waiver and template errors: file:line, in the danger colour, never hidden.
    let shown_errors = if inner.height >= 12 { 3 } else { 1 };
    for e in report.errors.iter().take(shown_errors) {
        head.push(Line::styled(fit(&format!("! {e}"), width), s.danger));
    }
    if report.errors.len() > shown_errors {
        head.push(Line::styled(
            format!("  … {} more error(s)", report.errors.len() - shown_errors),
            s.danger,
        ));
    }
    let head_height = (head.len() as u16).min(inner.height);
    let [head_area, body] =
        Layout::vertical([Constraint::Length(head_height), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);
    if body.height == 0 {
        return;
    }
    let rows = c.rows();
    let selected = c.selected.min(rows.len().saturating_sub(1));
    let detail = rows.get(selected).map(|row| detail_lines(s, judged, row));
    // The detail goes beside the tree when there is room, else below it.
    let (tree_area, detail_area) = match &detail {
        Some(_) if body.width >= 100 => {
            let [tree, detail] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(body);
            (tree, Some(detail))
        }
        Some(_) if body.height >= 12 => {
            let [tree, detail] =
                Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(body);
            (tree, Some(detail))
        }
        _ => (body, None),
    };
    tree(frame, state, judged, &rows, selected, tree_area);
    if let (Some(lines), Some(area)) = (detail, detail_area) {
        let block = Block::new()
            .borders(ratatui::widgets::Borders::TOP | ratatui::widgets::Borders::LEFT)
            .border_style(s.border);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
    }
}

fn summary_line(s: &Styles, report: &Report) -> Line<'static> {
    let sum = report.summary();
    let part = |n: usize, label: &str, style: Style| {
        vec![
            Span::styled(n.to_string(), if n > 0 { style } else { s.muted }),
            Span::styled(format!(" {label}  "), s.muted),
        ]
    };
    let mut spans = vec![Span::styled("controls ", s.header)];
    if sum.error > 0 {
        spans.extend(part(sum.error, "error (not judged)", s.danger));
    }
    spans.extend(part(sum.failed, "failed", s.danger));
    spans.extend(part(sum.waived, "waived", s.warning));
    spans.extend(part(sum.passed, "passed", s.ok));
    spans.extend(part(sum.not_applicable, "n/a", s.muted));
    spans.push(Span::styled(
        format!(
            "· {} finding(s), {} source(s)",
            report.failures().count(),
            report.sources.len()
        ),
        s.muted,
    ));
    Line::from(spans)
}

fn tree(
    frame: &mut Frame,
    state: &State,
    judged: &JudgedReport,
    rows: &[Row],
    selected: usize,
    area: Rect,
) {
    let s = &state.styles;
    let report = &judged.report;
    let height = area.height as usize;
    let width = area.width as usize;
    let start = window_start(selected, height);
    let focused = state.focus == Pane::Compliance;
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate().skip(start).take(height) {
        let open = |key: String| state.compliance.expanded.contains(&key);
        let (arrow, text, style) = match row {
            Row::Family {
                id,
                title,
                state: st,
                controls,
            } => (
                if open(format!("f:{id}")) {
                    "▾"
                } else {
                    "▸"
                },
                format!(
                    "{} {} {title} ({controls})",
                    state_mark(*st),
                    id.to_uppercase()
                ),
                state_style(s, *st),
            ),
            Row::Control(ci) => {
                let c = &report.controls[*ci];
                (
                    if open(format!("c:{}", c.control.id)) {
                        "▾"
                    } else {
                        "▸"
                    },
                    format!(
                        "{} {} {}",
                        state_mark(c.state),
                        c.control.label,
                        c.control.title
                    ),
                    state_style(s, c.state),
                )
            }
            Row::Rule {
                control,
                rule,
                findings,
            } => {
                let counts = findings.iter().any(|&f| report.findings[f].counts());
                let first = &report.findings[findings[0]];
                let key = format!("r:{}:{rule}", report.controls[*control].control.id);
                (
                    if open(key) { "▾" } else { "▸" },
                    format!(
                        "{rule} {} [{}] ({})",
                        first.title,
                        first.severity,
                        findings.len()
                    ),
                    if counts { s.danger } else { s.warning },
                )
            }
            Row::RuleError(ei) => {
                let e = &report.rule_errors[*ei];
                (
                    " ",
                    format!("! {} could not judge {}", e.rule, e.source),
                    s.danger,
                )
            }
            Row::Resource(fi) => {
                let f = &report.findings[*fi];
                let at = f.line.map(|l| format!(" :{l}")).unwrap_or_default();
                (
                    " ",
                    format!(
                        "{}{} {} {}{at}",
                        if f.counts() { "✗" } else { "~" },
                        if f.counts() { "" } else { " waived" },
                        f.resource,
                        f.path.trim_start_matches("Properties."),
                    ),
                    if f.counts() { s.danger } else { s.warning },
                )
            }
        };
        let indent = "  ".repeat(row.depth());
        let line = fit(&format!("{indent}{arrow} {text}"), width);
        let style = if i == selected && focused {
            s.selection
        } else {
            style
        };
        lines.push(Line::styled(line, style));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// What the selected row says in full.
fn detail_lines(s: &Styles, judged: &JudgedReport, row: &Row) -> Vec<Line<'static>> {
    let report = &judged.report;
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let mut lines = Vec::new();
    match row {
        Row::Family {
            id,
            title,
            state,
            controls,
        } => {
            lines.push(Line::styled(
                format!("{} — {title}", id.to_uppercase()),
                s.header,
            ));
            lines.push(Line::styled(
                format!("{controls} control(s) judged, worst {}", state.as_str()),
                state_style(s, *state),
            ));
        }
        Row::Control(ci) => {
            let c = &report.controls[*ci];
            lines.push(Line::styled(
                format!("{} {}", c.control.label, c.control.title),
                s.header,
            ));
            lines.push(field("State", c.state.as_str().to_string()));
            lines.push(field("Rules", c.rules.join(", ")));
            lines.push(field("Findings", c.findings.len().to_string()));
        }
        Row::Rule { rule, findings, .. } => {
            let first = &report.findings[findings[0]];
            lines.push(Line::styled(format!("{rule} {}", first.title), s.header));
            lines.push(field("Severity", first.severity.to_string()));
            lines.push(field("Resources", findings.len().to_string()));
            lines.push(field("Fix", first.remediation.clone()));
        }
        Row::RuleError(ei) => {
            let e = &report.rule_errors[*ei];
            lines.push(Line::styled(
                format!("{} could not judge {}", e.rule, e.source),
                s.danger,
            ));
            lines.push(field(
                "State",
                "error: its controls were not judged, which counts as failed".into(),
            ));
            lines.push(field("Error", e.message.clone()));
        }
        Row::Resource(fi) => {
            let f = &report.findings[*fi];
            lines.push(Line::styled(
                format!("{} {} [{}]", f.rule, f.title, f.severity),
                if f.counts() { s.danger } else { s.warning },
            ));
            lines.push(field(
                "Resource",
                format!("{} ({})", f.resource, f.resource_type),
            ));
            let at = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            lines.push(field("Where", format!("{}{at}", f.source)));
            lines.push(field(
                "Property",
                f.path.trim_start_matches("Properties.").to_string(),
            ));
            lines.push(field("Message", f.message.clone()));
            lines.push(field("Fix", f.remediation.clone()));
            if let Some(w) = &f.waiver {
                use crate::compliance::model::WaiverState;
                let (label, reason, ticket, expires, style) = match w {
                    WaiverState::Active {
                        reason,
                        ticket,
                        expires,
                    } => ("waived", reason, ticket, expires, s.warning),
                    WaiverState::Expired {
                        reason,
                        ticket,
                        expires,
                    } => ("EXPIRED waiver", reason, ticket, expires, s.danger),
                };
                lines.push(Line::styled(
                    format!("{label} until {expires} ({ticket}): {reason}"),
                    style,
                ));
            }
            match (judged.texts.get(&f.source), f.line) {
                (Some(text), Some(line)) => {
                    lines.push(Line::raw(""));
                    for (n, l) in excerpt(text, line, 3) {
                        let style = if n == line { s.danger } else { s.muted };
                        lines.push(Line::from(vec![
                            Span::styled(format!("{n:>4} │ "), s.muted),
                            Span::styled(l.to_string(), style),
                        ]));
                    }
                }
                _ => lines.push(Line::styled("(no template line for this finding)", s.muted)),
            }
        }
    }
    lines
}

/// `e`: the export format menu.
pub fn export_menu(frame: &mut Frame, state: &State, selected: usize, area: Rect) {
    let s = &state.styles;
    let mut lines = vec![Line::styled(
        " Export the report to the data directory as:",
        s.header,
    )];
    for (i, format) in Format::ALL.iter().enumerate() {
        let style = if i == selected { s.selection } else { s.base };
        lines.push(Line::styled(
            format!(
                " {} {:<6} {}",
                crate::compliance::tui::export::menu_key(*format),
                format.name(),
                format.describe()
            ),
            style,
        ));
    }
    lines.push(Line::styled(
        " j/k moves · Enter or the letter writes · Esc cancels",
        s.muted,
    ));
    let width = area.width.saturating_sub(4).min(60);
    let inner_width = width.saturating_sub(2) as usize;
    let wrapped: Vec<Line> = lines
        .into_iter()
        .flat_map(|l| {
            if l.width() <= inner_width {
                vec![l]
            } else {
                let style = l.style;
                wrap_words(&l.to_string(), inner_width)
                    .into_iter()
                    .map(|t| Line::styled(t, style))
                    .collect()
            }
        })
        .collect();
    let rect = centered(area, width, wrapped.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(" Export compliance report ", s.title_focused))
        .style(s.base);
    frame.render_widget(Paragraph::new(wrapped).block(block), rect);
}
