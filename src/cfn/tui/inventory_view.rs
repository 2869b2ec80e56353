//! Inventory: the stack list and the stack detail view.

use super::stack_tabs_view as stack_tabs;
use crate::cfn::model::classify_stack_status;
use crate::cfn::tui::{DetailTab, StackDetailView, StackSort};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::view::{fit, pane_block, window_start};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    match &state.inventory.detail {
        Some(view) => detail(frame, state, view, area),
        None => list(frame, state, area),
    }
}

fn list(frame: &mut Frame, state: &State, area: Rect) {
    let inv = &state.inventory;
    let mut suffix = format!("— stacks {}/{}", inv.visible.len(), inv.stacks.len());
    if let Some(region) = &state.session.region {
        suffix.push_str(&format!(" in {region}"));
    }
    if !inv.filter.is_empty() {
        suffix.push_str(&format!(" /{}", inv.filter));
    }
    if inv.loading {
        suffix.push_str(" ⟳");
    }
    let block = pane_block(state, Pane::Inventory, &suffix);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let s = &state.styles;
    if inv.stacks.is_empty() || inv.visible.is_empty() {
        let line = if let Some(err) = &inv.error {
            Line::from(vec![
                Span::styled("Could not list stacks: ", s.danger),
                Span::raw(err.clone()),
            ])
        } else if !inv.loaded {
            Line::styled("Loading stacks…", s.muted)
        } else if inv.stacks.is_empty() {
            Line::styled(
                format!(
                    "No stacks in {}.",
                    state.session.region.as_deref().unwrap_or("this region")
                ),
                s.muted,
            )
        } else {
            Line::styled(
                format!("No stack matches /{} (Esc clears)", inv.filter),
                s.muted,
            )
        };
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), inner);
        return;
    }

    let [body, footer] = if inv.error.is_some() {
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner)
    } else {
        [inner, Rect::default()]
    };
    let rows_height = body.height.saturating_sub(1) as usize;
    let start = window_start(inv.selected, rows_height);
    let status_width = 22usize;
    let drift_width = 9usize;
    // The update time gives way first on a narrow pane; name, status and drift stay.
    let updated_width = if body.width >= 76 { 20usize } else { 0 };
    let name_width = (body.width as usize)
        .saturating_sub(status_width + drift_width + updated_width + 3)
        .max(8);
    let rows = inv
        .visible
        .iter()
        .enumerate()
        .skip(start)
        .take(rows_height)
        .map(|(pos, &i)| {
            let stack = &inv.stacks[i];
            let status_style = s.for_status(classify_stack_status(&stack.status));
            let depth = inv.depth.get(pos).copied().unwrap_or(0) as usize;
            let indent = if depth == 0 {
                String::new()
            } else {
                format!("{}└ ", "  ".repeat(depth - 1))
            };
            let name = fit(&format!("{indent}{}", stack.name), name_width);
            let mut name_cell = vec![Span::raw(name.clone())];
            let room =
                name_width.saturating_sub(unicode_width::UnicodeWidthStr::width(name.as_str()));
            if stack.needs_delete_before_recreate() && room >= 2 {
                let flag = " ⚠ delete before re-create";
                let flag = if room >= unicode_width::UnicodeWidthStr::width(flag) {
                    flag
                } else {
                    " ⚠"
                };
                name_cell.push(Span::styled(flag, s.warning));
            }
            let drift = inv.drift_status(stack);
            let drift_style = match drift {
                Some("DRIFTED") => s.danger,
                Some("IN_SYNC") => s.ok,
                _ => s.muted,
            };
            let row = Row::new(vec![
                ratatui::widgets::Cell::from(Line::from(name_cell)),
                ratatui::widgets::Cell::from(Span::styled(
                    fit(&stack.status, status_width),
                    status_style,
                )),
                ratatui::widgets::Cell::from(Span::styled(
                    fit(
                        match drift {
                            Some("NOT_CHECKED") | None => "—",
                            Some(d) => d,
                        },
                        drift_width,
                    ),
                    drift_style,
                )),
                ratatui::widgets::Cell::from(Span::styled(
                    fit(
                        stack
                            .updated
                            .as_deref()
                            .or(stack.created.as_deref())
                            .unwrap_or(""),
                        updated_width,
                    ),
                    s.muted,
                )),
            ]);
            if pos == inv.selected && state.focus == Pane::Inventory {
                row.style(s.selection)
            } else {
                row
            }
        });
    let sorted = |key: StackSort, label: &str| {
        if inv.sort != key {
            label.to_string()
        } else if inv.sort_reversed {
            format!("{label}↑")
        } else {
            format!("{label}↓")
        }
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_width as u16),
            Constraint::Length(status_width as u16),
            Constraint::Length(drift_width as u16),
            Constraint::Length(updated_width as u16),
        ],
    )
    .header(
        Row::new(vec![
            sorted(StackSort::Name, "NAME"),
            sorted(StackSort::Status, "STATUS"),
            "DRIFT".to_string(),
            sorted(StackSort::Updated, "UPDATED"),
        ])
        .style(s.header),
    );
    frame.render_widget(table, body);
    if let Some(err) = &inv.error {
        frame.render_widget(
            Line::styled(
                fit(&format!("refresh failed: {err}"), footer.width as usize),
                s.danger,
            ),
            footer,
        );
    }
}

fn detail(frame: &mut Frame, state: &State, view: &StackDetailView, area: Rect) {
    let s = &state.styles;
    let block = pane_block(state, Pane::Inventory, &format!("— {}", view.stack.name));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [tabs_row, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);

    let mut tabs = Vec::new();
    let full: usize = DetailTab::ALL.iter().map(|t| t.title().len() + 3).sum();
    let short = full > tabs_row.width as usize;
    for tab in DetailTab::ALL {
        let style = if tab == view.tab {
            s.title_focused
        } else {
            s.muted
        };
        let title = if short {
            tab.short_title()
        } else {
            tab.title()
        };
        tabs.push(Span::styled(format!(" {title} "), style));
        tabs.push(Span::styled("│", s.border));
    }
    tabs.pop();
    frame.render_widget(Line::from(tabs), tabs_row);

    if view.tab == DetailTab::Drift {
        stack_tabs::drift(frame, state, view, body);
        return;
    }
    let Some(detail) = &view.detail else {
        let line = match &view.error {
            Some(err) => Line::from(vec![
                Span::styled("Could not describe the stack: ", s.danger),
                Span::raw(err.clone()),
            ]),
            None => Line::styled("Loading…", s.muted),
        };
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), body);
        return;
    };
    let width = body.width as usize;
    let height = body.height as usize;
    match view.tab {
        DetailTab::Overview => {
            let st = &detail.summary;
            let field = |k: &str, v: String| {
                Line::from(vec![
                    Span::styled(format!("{k:<14}"), s.header),
                    Span::raw(v),
                ])
            };
            let mut lines = vec![
                field("Name", st.name.clone()),
                Line::from(vec![
                    Span::styled(format!("{:<14}", "Status"), s.header),
                    Span::styled(
                        st.status.clone(),
                        s.for_status(classify_stack_status(&st.status)),
                    ),
                ]),
                field("Stack id", st.id.clone()),
                field("Created", st.created.clone().unwrap_or_default()),
                field("Updated", st.updated.clone().unwrap_or_else(|| "—".into())),
                field(
                    "Protection",
                    if detail.termination_protection {
                        "termination protection ON".into()
                    } else {
                        "off".into()
                    },
                ),
                field(
                    "Contents",
                    format!(
                        "{} resources, {} outputs, {} parameters",
                        detail.resources.len(),
                        detail.outputs.len(),
                        detail.parameters.len()
                    ),
                ),
            ];
            if let Some(reason) = &st.status_reason {
                lines.push(field("Reason", reason.clone()));
            }
            if st.needs_delete_before_recreate() {
                lines.push(Line::from(vec![
                    Span::styled(format!("{:<14}", "Note"), s.header),
                    Span::styled(
                        "creation failed and rolled back: delete the stack before re-creating it",
                        s.warning,
                    ),
                ]));
            }
            if !detail.retained.is_empty() {
                lines.push(field(
                    "Kept on delete",
                    detail
                        .retained
                        .iter()
                        .map(|r| format!("{} ({})", r.logical_id, r.policy))
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
            if let Some(desc) = &st.description {
                lines.push(field("Description", desc.clone()));
            }
            let para = Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((view.scroll as u16, 0));
            frame.render_widget(para, body);
        }
        DetailTab::Resources => {
            let rows: Vec<Row> = detail
                .resources
                .iter()
                .skip(view.scroll)
                .take(height.saturating_sub(1))
                .map(|r| {
                    Row::new(vec![
                        Span::raw(r.logical_id.clone()),
                        Span::styled(r.resource_type.clone(), s.muted),
                        Span::styled(
                            r.status.clone(),
                            s.for_status(classify_stack_status(&r.status)),
                        ),
                        Span::raw(r.physical_id.clone().unwrap_or_default()),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Fill(2),
                    Constraint::Fill(2),
                    Constraint::Length(18),
                    Constraint::Fill(3),
                ],
            )
            .header(Row::new(vec!["LOGICAL ID", "TYPE", "STATUS", "PHYSICAL ID"]).style(s.header));
            frame.render_widget(table, body);
        }
        DetailTab::Outputs => {
            let rows: Vec<Row> = detail
                .outputs
                .iter()
                .skip(view.scroll)
                .take(height.saturating_sub(1))
                .map(|o| {
                    Row::new(vec![
                        Span::raw(o.key.clone()),
                        Span::raw(fit(&o.value, width / 2)),
                        Span::styled(
                            o.export_name
                                .clone()
                                .or(o.description.clone())
                                .unwrap_or_default(),
                            s.muted,
                        ),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Percentage(25),
                    Constraint::Percentage(50),
                    Constraint::Percentage(25),
                ],
            )
            .header(Row::new(vec!["KEY", "VALUE", "EXPORT / DESCRIPTION"]).style(s.header));
            frame.render_widget(table, body);
        }
        DetailTab::Events => stack_tabs::events(frame, state, detail, view.scroll, body),
        DetailTab::Drift => {}
        DetailTab::Parameters => {
            let rows: Vec<Row> = detail
                .parameters
                .iter()
                .skip(view.scroll)
                .take(height.saturating_sub(1))
                .map(|p| Row::new(vec![Span::raw(p.key.clone()), Span::raw(p.value.clone())]))
                .collect();
            let table = Table::new(
                rows,
                [Constraint::Percentage(40), Constraint::Percentage(60)],
            )
            .header(Row::new(vec!["KEY", "VALUE (NoEcho shown as ****)"]).style(s.header));
            frame.render_widget(table, body);
        }
    }
}
