//! The stack detail's Events and Drift tabs.

use crate::cfn::model::{StackDetail, classify_stack_status};
use crate::cfn::tui::StackDetailView;
use crate::tui::state::State;
use crate::tui::view::{fit, hard_wrap};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

/// Newest first, as CloudFormation lists them: time, logical id, status (coloured), reason.
pub fn events(frame: &mut Frame, state: &State, detail: &StackDetail, scroll: usize, area: Rect) {
    let s = &state.styles;
    if detail.events.is_empty() {
        frame.render_widget(Line::styled("No events.", s.muted), area);
        return;
    }
    let width = area.width as usize;
    let status_w = if width >= 100 { 28usize } else { 22 };
    let (time_w, id_w) = (14usize, (width / 5).clamp(10, 28));
    let reason_w = width.saturating_sub(time_w + id_w + status_w + 3).max(8);
    let rows: Vec<Row> = detail
        .events
        .iter()
        .skip(scroll)
        .take((area.height as usize).saturating_sub(1))
        .map(|e| {
            // 2026-11-20T10:00:00Z → 11-20 10:00:00
            let time = e
                .timestamp
                .get(5..19)
                .map(|t| t.replacen('T', " ", 1))
                .unwrap_or_else(|| e.timestamp.clone());
            let reason_style = if e.is_failure() { s.danger } else { s.muted };
            Row::new(vec![
                Span::styled(time, s.muted),
                Span::raw(fit(&e.logical_id, id_w)),
                Span::styled(
                    fit(&e.status, status_w),
                    s.for_status(classify_stack_status(&e.status)),
                ),
                Span::styled(
                    fit(e.reason.as_deref().unwrap_or(""), reason_w),
                    reason_style,
                ),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(time_w as u16),
            Constraint::Length(id_w as u16),
            Constraint::Length(status_w as u16),
            Constraint::Min(8),
        ],
    )
    .header(Row::new(vec!["TIME", "LOGICAL ID", "STATUS", "REASON"]).style(s.header));
    frame.render_widget(table, area);
}

/// This session's drift result: each drifted resource, then each property that differs, with
/// long values wrapped. Without a result, CloudFormation's last status and how to check.
pub fn drift(frame: &mut Frame, state: &State, view: &StackDetailView, area: Rect) {
    let s = &state.styles;
    let width = area.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let Some(drift) = state.inventory.drift.get(&view.stack.id) else {
        let last = match (&view.stack.drift_status, &view.stack.drift_checked) {
            (Some(status), Some(when)) => {
                format!("CloudFormation's last result: {status} ({when}).")
            }
            (Some(status), None) => format!("CloudFormation's last result: {status}."),
            _ => "CloudFormation has no drift result for this stack.".to_string(),
        };
        lines.push(Line::styled(last, s.muted));
        lines.push(Line::styled(
            "Press D to detect drift now (a job; it changes no resource).",
            s.muted,
        ));
        frame.render_widget(Paragraph::new(hard_wrap(lines, width.max(1))), area);
        return;
    };
    let status_style = match drift.status.as_str() {
        "DRIFTED" => s.danger,
        "IN_SYNC" => s.ok,
        _ => s.warning,
    };
    lines.push(Line::from(vec![
        Span::styled("Drift ", s.header),
        Span::styled(drift.status.clone(), status_style),
        Span::styled(
            format!(
                "  {} of {} resource(s) drifted{}",
                drift.drifted().count(),
                drift.resources.len(),
                drift
                    .detected
                    .as_deref()
                    .map(|d| format!(" · detected {d}"))
                    .unwrap_or_default()
            ),
            s.muted,
        ),
    ]));
    if drift.drifted().next().is_none() {
        lines.push(Line::styled(
            "Every checked resource matches its template.",
            s.ok,
        ));
    }
    for r in drift.drifted() {
        lines.push(Line::from(vec![
            Span::raw(r.logical_id.clone()),
            Span::styled(format!("  {}  ", r.resource_type), s.muted),
            Span::styled(r.status.clone(), s.danger),
        ]));
        for d in &r.differences {
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", d.path), s.header),
                Span::styled(format!("  {}", d.kind), s.muted),
            ]));
            lines.push(Line::from(vec![
                Span::styled("    expected ", s.muted),
                Span::raw(d.expected.clone()),
            ]));
            lines.push(Line::from(vec![
                Span::styled("    actual   ", s.muted),
                Span::styled(d.actual.clone(), s.warning),
            ]));
        }
    }
    let wrapped = hard_wrap(lines, width.max(1));
    let start = view.scroll.min(wrapped.len().saturating_sub(1));
    frame.render_widget(
        Paragraph::new(wrapped.into_iter().skip(start).collect::<Vec<_>>()),
        area,
    );
}
