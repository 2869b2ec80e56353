//! The reaping confirmation: every resource with its saving and why it is idle, the account,
//! region and environment, and the typed name.

use crate::cost::estimate::usd;
use crate::cost::ops::CostMutation;
use crate::ops::Mutation;
use crate::tui::state::{ConfirmDialog, State};
use crate::tui::view::dialogs::{DialogWords, render_confirm};
use crate::tui::view::env_badge;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn words(op: &CostMutation) -> DialogWords {
    let plain = DialogWords::default();
    match op {
        CostMutation::StopInstances(_) => DialogWords {
            confirm: " Stop ",
            type_before: " Type ",
            ..plain
        },
        CostMutation::DeleteVolumes(_) => DialogWords {
            confirm: " Snapshot and delete ",
            type_before: " The volumes are deleted after their snapshots complete. Type ",
            ..plain
        },
        CostMutation::ReleaseAddresses(_) => DialogWords {
            confirm: " Release ",
            type_before: " A released address may not come back. Type ",
            ..plain
        },
    }
}

pub fn render(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    op: &CostMutation,
    area: Rect,
) {
    let s = &state.styles;
    let t = op.target();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let mut lines = vec![
        Line::styled(format!(" {}?", op.describe()), s.danger),
        Line::raw(""),
        field("Account", t.account.clone()),
        field("Region", t.region.clone()),
        Line::from(vec![
            Span::styled(format!(" {:<12}", "Environment"), s.header),
            env_badge(state, t.environment),
        ]),
        field("Operation", op.name().to_string()),
        field("Saves", format!("{} a month", op.saving())),
        Line::raw(""),
        Line::styled(" Resources", s.header),
    ];
    for item in op.items() {
        let name = item
            .name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::raw(format!("   {}{name}  {}  ", item.id, item.detail)),
            Span::styled(
                item.monthly_saving
                    .map(|m| format!("{}/mo", usd(m.usd())))
                    .unwrap_or_else(|| "saving not priced".into()),
                s.warning,
            ),
        ]));
        lines.push(Line::styled(format!("     idle: {}", item.reason), s.muted));
    }
    if let CostMutation::StopInstances(_) = op {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            " Stopped instances keep their EBS volumes (and their cost); start them again from EC2.",
            s.muted,
        ));
    }
    render_confirm(frame, state, dialog, &words(op), lines, area);
}

/// The cost of a deploy in its confirmation and review: before → after a month and the
/// delta, the itemised rows (up to `max_rows`), what is not priced or depends on usage, the
/// budget (over it: the danger colour), and "prices as of".
pub fn verdict_lines(
    state: &State,
    verdict: &crate::cost::verdict::CostVerdict,
    max_rows: usize,
) -> Vec<Line<'static>> {
    use crate::cost::estimate::signed_usd;
    let s = &state.styles;
    let mut lines = Vec::new();
    let over = verdict.over_budget();
    match verdict.delta() {
        None => lines.push(Line::styled(
            format!(
                " Cost: not estimated — {}",
                verdict.unestimated().unwrap_or("unknown")
            ),
            s.warning,
        )),
        Some(d) => {
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<12}", "Cost"), s.header),
                Span::styled(
                    format!(
                        "{} → {} a month ({})",
                        d.before_monthly,
                        d.after_monthly,
                        signed_usd(d.delta_monthly.usd())
                    ),
                    if over { s.danger } else { s.base },
                ),
            ]));
            for row in d.resources.iter().take(max_rows) {
                lines.push(Line::raw(format!(
                    "   {:<8} {:<28} {:>12}{}",
                    row.action,
                    row.logical_id,
                    signed_usd(row.delta_monthly.usd()),
                    if row.incomplete {
                        "  (not fully priced)"
                    } else {
                        ""
                    }
                )));
            }
            if max_rows > 0 && d.resources.len() > max_rows {
                lines.push(Line::styled(
                    format!("   … {} more row(s)", d.resources.len() - max_rows),
                    s.muted,
                ));
            }
            let mut notes = Vec::new();
            if d.not_priced > 0 {
                notes.push(format!("{} not priced", d.not_priced));
            }
            if d.usage_pending > 0 {
                notes.push(format!("{} depend on usage (0 counted)", d.usage_pending));
            }
            if d.estimated > 0 {
                notes.push(format!("{} from us-east-1 prices (estimate)", d.estimated));
            }
            if !notes.is_empty() {
                lines.push(Line::styled(format!("   {}", notes.join(" · ")), s.muted));
            }
            lines.push(Line::styled(format!("   {}", d.prices_as_of), s.muted));
        }
    }
    if let Some(b) = verdict.budget() {
        let style = match b.over {
            Some(true) => s.danger,
            Some(false) => s.ok,
            None => s.warning,
        };
        let mut text = format!(" {}", crate::cost::verdict::budget_line(b));
        if verdict.needs_typed_name() {
            text.push_str(" — continue only by typing the name");
        }
        lines.push(Line::styled(text, style));
    }
    lines
}
