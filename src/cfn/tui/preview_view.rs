//! The change-set review: every row CloudFormation computed, removals and replacements in the
//! danger colour, the resolved target, and the confirmation the op's tier asks for.

use crate::ops::ExecuteChangeSet;
use crate::tui::state::{ConfirmDialog, DialogFocus, State};
use crate::tui::view::dialogs::{DialogWords, footer};
use crate::tui::view::{centered, env_badge, fit, hard_wrap};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table};

pub fn render(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    words: &DialogWords,
    execute: &ExecuteChangeSet,
    area: Rect,
) {
    let s = &state.styles;
    let preview = &execute.preview;
    let t = &execute.target;
    // Over the panes: the status bar (account, environment) stays visible below.
    let panes = Rect {
        height: area.height.saturating_sub(2),
        ..area
    };
    let rect = centered(panes, area.width.saturating_sub(2).min(140), panes.height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.danger)
        .title(Line::styled(
            fit(
                &format!(
                    " Review change set {} ({}) ",
                    preview.change_set_name,
                    preview.kind.as_str()
                ),
                rect.width.saturating_sub(4) as usize,
            ),
            s.danger,
        ))
        .style(s.base);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let width = inner.width.max(1) as usize;

    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(fit(&v, width.saturating_sub(13))),
        ])
    };
    let destructive = preview.destructive().count();
    let mut top = vec![
        field("Stack", t.stack_name.clone()),
        field("Stack id", t.stack_id.clone()),
        Line::from(vec![
            Span::styled(format!(" {:<12}", "Where"), s.header),
            Span::raw(format!("{} / {} ", t.account, t.region)),
            env_badge(state, t.environment),
        ]),
        Line::from(vec![
            Span::styled(format!(" {:<12}", "Changes"), s.header),
            Span::raw(preview.counts()),
            if destructive > 0 {
                Span::styled(
                    format!(" — {destructive} row(s) remove or replace: data may be lost"),
                    s.danger,
                )
            } else {
                Span::raw("")
            },
        ]),
    ];
    // The monthly cost before → after and the budget; each row's delta is in the table.
    top.extend(crate::cost::tui::dialog_view::verdict_lines(
        state,
        &execute.cost,
        0,
    ));
    top = hard_wrap(top, width);
    let (bottom, input_line) = footer(state, dialog, words);
    let input_row = input_line.map(|index| hard_wrap(bottom[..index].to_vec(), width).len());
    let bottom = hard_wrap(bottom, width);
    let [top_area, table_area, bottom_area] = Layout::vertical([
        Constraint::Length(top.len() as u16),
        Constraint::Min(2),
        Constraint::Length(bottom.len() as u16),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(top), top_area);

    let rows_height = (table_area.height as usize).saturating_sub(1);
    let start = dialog
        .scroll
        .min(preview.changes.len().saturating_sub(rows_height));
    let with_details = width >= 100;
    let rows: Vec<Row> = preview
        .changes
        .iter()
        .skip(start)
        .take(rows_height)
        .map(|c| {
            let cost = execute
                .cost
                .delta()
                .and_then(|d| d.resources.iter().find(|r| r.logical_id == c.logical_id))
                .map(|r| crate::cost::estimate::signed_usd(r.delta_monthly.usd()))
                .unwrap_or_else(|| "—".into());
            let mut cells = vec![
                c.action.clone(),
                c.logical_id.clone(),
                c.resource_type.clone(),
                c.replacement.clone().unwrap_or_else(|| "—".into()),
                c.scope.join(","),
                cost,
            ];
            if with_details {
                cells.push(c.details.join(", "));
            }
            let row = Row::new(cells);
            if c.is_destructive() {
                row.style(s.danger)
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(12),
        Constraint::Fill(1),
        Constraint::Length(11),
    ];
    let mut header = vec![
        "ACTION",
        "LOGICAL ID",
        "TYPE",
        "REPLACEMENT",
        "SCOPE",
        "COST/MO",
    ];
    if with_details {
        widths.push(Constraint::Fill(2));
        header.push("DETAILS");
    }
    let more = preview.changes.len().saturating_sub(start + rows_height);
    let title = if preview.changes.is_empty() {
        // Parameters, outputs or stack tags only (some endpoints also omit resource rows).
        "CloudFormation lists no resource changes".to_string()
    } else if more > 0 || start > 0 {
        format!(
            "rows {}-{} of {} (j/k, PgUp/PgDn)",
            start + 1,
            (start + rows_height).min(preview.changes.len()),
            preview.changes.len()
        )
    } else {
        String::new()
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(s.header))
        .block(Block::new().title_bottom(Line::styled(title, s.muted)));
    frame.render_widget(table, table_area);
    frame.render_widget(Paragraph::new(bottom), bottom_area);
    if let Some(row) = input_row
        && dialog.focus == DialogFocus::Input
    {
        let x = inner.x + 3 + dialog.input.cursor() as u16;
        let y = bottom_area.y + row as u16;
        if x < rect.right() && y < rect.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}
