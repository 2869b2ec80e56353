//! The template picker and the deploy form, drawn over the panes (the status bar stays).

use crate::cfn::tui::deploy::TemplatePicker;
use crate::cfn::tui::form::{DeployForm, DeployTarget};
use crate::tui::form::view::over_panes;
use crate::tui::state::State;
use crate::tui::view::{centered, env_badge, fit};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn picker(frame: &mut Frame, state: &State, picker: &TemplatePicker, area: Rect) {
    let s = &state.styles;
    let main = over_panes(area);
    let width = main.width.saturating_sub(4).min(100);
    let rect = centered(main, width, picker.entries.len() as u16 + 5);
    frame.render_widget(Clear, rect);
    let inner_width = rect.width.saturating_sub(2) as usize;
    let name_width = picker
        .entries
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(8)
        + 2;
    let mut lines: Vec<Line> = picker
        .entries
        .iter()
        .enumerate()
        .map(|(i, (name, description))| {
            // Each template's monthly cost at its defaults (`+`: parts depend on usage).
            let cost = format!("{:>13} ", crate::cost::tui::library_monthly(state, name));
            let line = Line::from(vec![
                Span::raw(format!(" {name:<name_width$}")),
                Span::styled(cost, s.info),
                Span::styled(
                    fit(description, inner_width.saturating_sub(name_width + 16)),
                    s.muted,
                ),
            ]);
            if i == picker.selected {
                line.style(s.selection)
            } else {
                line
            }
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit(
            &format!(
                " a month at the defaults in {}; {}",
                if state.cost.library_region.is_empty() {
                    crate::cost::catalogue::BASE_REGION
                } else {
                    &state.cost.library_region
                },
                state
                    .cost
                    .catalogue
                    .as_ref()
                    .map(|c| c.as_of_line())
                    .unwrap_or_else(|| "prices loading".into())
            ),
            inner_width,
        ),
        s.muted,
    ));
    lines.push(Line::styled(
        fit(
            " Enter picks · j/k move · Esc closes · :deploy FILE deploys a file",
            inner_width,
        ),
        s.muted,
    ));
    let block = Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(" Deploy: pick a template ", s.title_focused))
        .style(s.base);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

pub fn form(frame: &mut Frame, state: &State, form: &DeployForm, area: Rect) {
    let s = &state.styles;
    let title = match &form.target {
        DeployTarget::New => format!(" Deploy a new stack from {} ", form.origin),
        DeployTarget::Update { stack_name, .. } => {
            format!(" Update {stack_name} from {} ", form.origin)
        }
    };
    // Where it lands, always in view.
    let account = state.session.identity.as_ref().map(|i| i.account.clone());
    let env = state.environment_of(account.as_deref());
    let header = vec![Line::from(vec![
        Span::styled("Lands in ", s.header),
        env_badge(state, env),
        Span::styled(
            format!(
                " account {} · region {}",
                account
                    .as_deref()
                    .unwrap_or("unknown (STS has not answered)"),
                state.session.region.as_deref().unwrap_or("not set")
            ),
            s.muted,
        ),
    ])];
    let mut header = header;
    if form.judging {
        header.push(Line::styled(
            "… judging the template against the compliance rules; the review opens when they are done (Esc cancels)",
            s.info,
        ));
    }
    crate::tui::form::view::render(frame, state, &form.form, &title, header, area);
}
