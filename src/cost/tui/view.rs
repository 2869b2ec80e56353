//! The Cost pane: month to date and the month-end forecast with the daily trend and top
//! services; each deployed stack's estimate beside what it actually spends; idle resources
//! with what each costs a month. Every figure says where it comes from: "prices as of …",
//! the spend's source and age, Cost Explorer calls spent today.

use crate::cost::estimate::usd;
use crate::cost::model::Part;
use crate::cost::tui::{CostState, Section};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::view::{fit, pane_block, window_start};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let c = &state.cost;
    let s = &state.styles;
    let tabs: Vec<String> = Section::ALL
        .iter()
        .map(|t| {
            if *t == c.section {
                format!("[{}]", t.title())
            } else {
                t.title().to_string()
            }
        })
        .collect();
    let block = pane_block(state, Pane::Cost, &format!("— {}", tabs.join(" ")));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let width = inner.width as usize;
    let mut head = vec![spend_line(state, width)];
    head.push(totals_line(state, width));
    head.extend(assistant_line(state, width));
    let chart = c
        .spend
        .as_ref()
        .and_then(|r| r.daily.ok())
        .filter(|d| !d.is_empty() && inner.height >= 8);
    let [head_area, chart_area, body_area, foot_area] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Length(if chart.is_some() { 2 } else { 0 }),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(std::mem::take(&mut head)), head_area);
    if let Some(days) = chart {
        let data: Vec<u64> = days
            .iter()
            .map(|d| (d.amount * 100.0).max(0.0) as u64)
            .collect();
        let start = data.len().saturating_sub(chart_area.width as usize);
        frame.render_widget(
            Sparkline::default().data(&data[start..]).style(s.info),
            chart_area,
        );
    }
    let body = match c.section {
        Section::Spend => services(state, body_area.height as usize, width),
        Section::Stacks => stacks(state, body_area.height as usize, width),
        Section::Idle => idle(state, body_area.height as usize, width),
    };
    frame.render_widget(Paragraph::new(body), body_area);
    let prices = c
        .catalogue
        .as_ref()
        .map(|cat| cat.as_of_line())
        .unwrap_or_else(|| "loading the price catalogue…".into());
    frame.render_widget(
        Paragraph::new(Line::styled(fit(&prices, width), s.muted)),
        foot_area,
    );
}

fn spend_line(state: &State, width: usize) -> Line<'static> {
    let c = &state.cost;
    let s = &state.styles;
    let text = match (&c.spend, c.spend_loading) {
        (_, true) => "Spend: fetching…".to_string(),
        (Some(r), false) => format!(
            "Spend of {} via {}, {} old · CE calls today {}/{}{}",
            c.spend_account.as_deref().unwrap_or("this account"),
            r.source.as_str(),
            crate::cost::spend::age_text(r.fetched_ms, state.now_ms),
            c.calls_today,
            state.config.cost.daily_call_budget,
            if r.fallback_reason.is_some() {
                " (fallback)"
            } else {
                ""
            }
        ),
        (None, false) => match &c.spend_error {
            Some(e) => format!("Spend unavailable: {e}"),
            None if c.cache_checked => {
                "No spend fetched yet: r fetches it (Cost Explorer, $0.01 a request)".into()
            }
            None => "Spend: waiting for the account…".into(),
        },
    };
    let style = if c.spend_error.is_some() && c.spend.is_none() {
        s.danger
    } else {
        s.muted
    };
    Line::styled(fit(&text, width), style)
}

fn totals_line(state: &State, width: usize) -> Line<'static> {
    let s = &state.styles;
    let Some(r) = &state.cost.spend else {
        return Line::raw("");
    };
    let part = |p: &Part<f64>| match p {
        Part::Ok(v) => usd(*v),
        Part::Unavailable(_) => "unavailable".into(),
    };
    let mut spans = vec![
        Span::styled("Month to date ", s.header),
        Span::raw(part(&r.month_to_date)),
        Span::styled("   Forecast ", s.header),
        Span::raw(part(&r.forecast)),
    ];
    if let Some(why) = r.forecast.reason() {
        spans.push(Span::styled(format!(" ({why})"), s.muted));
    }
    let line = Line::from(spans);
    if line.width() > width {
        Line::raw(fit(
            &format!(
                "MTD {} · forecast {}",
                part(&r.month_to_date),
                part(&r.forecast)
            ),
            width,
        ))
    } else {
        line
    }
}

/// The assistant's tokens and what they cost, today and this month (once read).
fn assistant_line(state: &State, width: usize) -> Option<Line<'static>> {
    use crate::assistant::usage::{Totals, money, short_count};
    let s = &state.styles;
    let spend = match state.cost.assistant.as_ref()? {
        Ok(spend) => spend,
        Err(e) => {
            return Some(Line::styled(
                fit(&format!("Assistant usage unavailable: {e}"), width),
                s.warning,
            ));
        }
    };
    if spend.month.calls == 0 {
        return Some(Line::styled(
            fit("Assistant: no model calls this month", width),
            s.muted,
        ));
    }
    let period = |t: &Totals| {
        format!(
            "{} in / {} out {}",
            short_count(t.usage.input + t.usage.cache_read + t.usage.cache_write),
            short_count(t.usage.output),
            money(Some(t.cost_usd))
        )
    };
    let mut text = format!(
        "Assistant today {} · this month {}",
        period(&spend.today),
        period(&spend.month)
    );
    if spend.month.unpriced_calls > 0 {
        text.push_str(&format!(
            " (+{} calls of unpriced models)",
            spend.month.unpriced_calls
        ));
    }
    Some(Line::styled(fit(&text, width), s.muted))
}

fn services(state: &State, height: usize, width: usize) -> Vec<Line<'static>> {
    let s = &state.styles;
    let Some(r) = &state.cost.spend else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some(why) = r.months.reason() {
        lines.push(Line::styled(
            fit(&format!("by service: unavailable ({why})"), width),
            s.warning,
        ));
        return lines;
    }
    lines.push(Line::styled("Top services this month", s.header));
    let rows = r.top_services();
    let start = window_start(state.cost.selected, height.saturating_sub(1));
    for (i, a) in rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height.saturating_sub(1))
    {
        let amount = usd(a.amount);
        let name_width = width.saturating_sub(amount.len() + 3);
        let line = Line::raw(format!(
            " {:<name_width$} {amount}",
            fit(&a.name, name_width)
        ));
        lines.push(if i == state.cost.selected && state.focus == Pane::Cost {
            line.style(s.selection)
        } else {
            line
        });
    }
    lines
}

fn stacks(state: &State, height: usize, width: usize) -> Vec<Line<'static>> {
    let c: &CostState = &state.cost;
    let s = &state.styles;
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{:<24} {:>12} {:>12}  NOTE",
                "STACK", "ESTIMATE/MO", "ACTUAL MTD"
            ),
            width,
        ),
        s.header,
    )];
    if c.stacks_loading {
        lines.push(Line::styled("estimating the deployed stacks…", s.muted));
        return lines;
    }
    if c.stacks.is_empty() {
        lines.push(Line::styled(
            "no stack estimated yet: e estimates the listed stacks",
            s.muted,
        ));
        return lines;
    }
    let start = window_start(c.selected, height.saturating_sub(1));
    for (i, stack) in c
        .stacks
        .iter()
        .enumerate()
        .skip(start)
        .take(height.saturating_sub(1))
    {
        let actual = c
            .spend
            .as_ref()
            .and_then(|r| r.stack(&stack.name))
            .map(usd)
            .unwrap_or_else(|| "—".into());
        let (estimate, note, style) = match &stack.estimate {
            Ok(e) => {
                let mut notes = Vec::new();
                if e.not_priced() > 0 {
                    notes.push(format!("{} not priced", e.not_priced()));
                }
                if e.usage_pending() > 0 {
                    notes.push(format!("{} depend on usage", e.usage_pending()));
                }
                if e.estimated() > 0 {
                    notes.push("estimate".into());
                }
                (usd(e.total_monthly), notes.join(", "), s.base)
            }
            Err(e) => ("—".to_string(), e.clone(), s.warning),
        };
        let line = Line::styled(
            fit(
                &format!(
                    "{:<24} {estimate:>12} {actual:>12}  {note}",
                    fit(&stack.name, 24)
                ),
                width,
            ),
            style,
        );
        lines.push(if i == c.selected && state.focus == Pane::Cost {
            line.style(s.selection)
        } else {
            line
        });
    }
    lines
}

fn idle(state: &State, height: usize, width: usize) -> Vec<Line<'static>> {
    let c = &state.cost;
    let s = &state.styles;
    if c.idle_loading {
        return vec![Line::styled("scanning for idle resources…", s.muted)];
    }
    if let Some(e) = &c.idle_error {
        return vec![Line::styled(
            fit(&format!("idle scan failed: {e}"), width),
            s.danger,
        )];
    }
    let Some(report) = &c.idle else {
        return vec![Line::styled(
            "no idle scan yet: i scans (Trusted Advisor's thresholds)",
            s.muted,
        )];
    };
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{} idle in {}, {} a month · {} unknown · space marks, x reaps (DEV only)",
                report.findings.len(),
                report.region,
                usd(report.monthly_total()),
                report.unknown.len()
            ),
            width,
        ),
        s.header,
    )];
    for e in &report.errors {
        lines.push(Line::styled(fit(e, width), s.warning));
    }
    let room = height.saturating_sub(lines.len());
    let start = window_start(c.selected, room);
    for (i, f) in report.findings.iter().enumerate().skip(start).take(room) {
        let mark = if c.marked.contains(&f.id) {
            "[x]"
        } else {
            "[ ]"
        };
        let monthly = f.monthly.map(usd).unwrap_or_else(|| "—".into());
        let id = f
            .name
            .as_ref()
            .map_or(f.id.clone(), |n| format!("{} ({n})", f.id));
        let line = Line::raw(fit(
            &format!(
                "{mark} {:<13} {:<34} {monthly:>10}  {}",
                f.kind.as_str(),
                fit(&id, 34),
                f.reason
            ),
            width,
        ));
        lines.push(if i == c.selected && state.focus == Pane::Cost {
            line.style(s.selection)
        } else {
            line
        });
    }
    lines
}
