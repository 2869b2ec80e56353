//! The status bar and the bottom line (command line, filter, toast or key hints).

use super::fit;
use crate::registry;
use crate::tui::state::{Mode, State, ToastLevel};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn status_bar(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let sess = &state.session;
    let sep = || Span::styled(" │ ", s.status);
    // What must never be cut off on a narrow terminal comes first: READ-ONLY and the environment.
    let mut spans = vec![Span::styled(" opsdeck ", s.status)];
    if state.read_only() {
        spans.push(Span::styled(" READ-ONLY ", s.read_only));
        spans.push(Span::styled(" ", s.status));
    }
    let env = state.environment();
    let env_style = if env.is_production_grade() {
        s.env_danger
    } else {
        s.env_safe
    };
    spans.push(Span::styled(format!(" {env} "), env_style));
    spans.push(sep());
    // Until STS answers, what stands in the way: no credentials, an unreachable endpoint, or
    // STS refusing them (opsdeck keeps asking; `r` asks at once).
    let account = match (&sess.identity, sess.identity_problem, &sess.identity_error) {
        (Some(id), _, _) => id.account.clone(),
        (None, Some(problem), _) => problem.label().to_string(),
        (None, None, Some(_)) => "identity unknown".to_string(),
        (None, None, None) => "account …".to_string(),
    };
    let account_style = if sess.identity.is_none() && sess.identity_error.is_some() {
        s.danger
    } else {
        s.status
    };
    spans.push(Span::styled(account, account_style));
    if let Some(profile) = &sess.profile {
        spans.push(Span::styled(format!(" ({profile})"), s.status));
    }
    spans.push(sep());
    spans.push(Span::styled(
        sess.region.clone().unwrap_or_else(|| "no region".into()),
        s.status,
    ));
    spans.push(sep());
    spans.push(Span::styled(
        sess.role.map(|r| r.as_str()).unwrap_or("role …"),
        s.status,
    ));
    let running = state.jobs.running();
    if running > 0 {
        spans.push(sep());
        spans.push(Span::styled(format!("{running} running"), s.warning));
    }
    if let Some(url) = &sess.endpoint_url {
        spans.push(sep());
        spans.push(Span::styled(format!("endpoint {url}"), s.muted));
    }
    frame.render_widget(Line::from(spans).style(s.status), area);
}

pub fn bottom_line(frame: &mut Frame, state: &State, area: Rect) {
    let s = &state.styles;
    let width = area.width as usize;
    let line = match &state.mode {
        Mode::Command(input) => {
            frame.set_cursor_position((area.x + 1 + input.cursor() as u16, area.y));
            Line::from(vec![
                Span::styled(":", s.header),
                Span::raw(input.text().to_string()),
            ])
        }
        Mode::Filter(input) => {
            frame.set_cursor_position((area.x + 1 + input.cursor() as u16, area.y));
            Line::from(vec![
                Span::styled("/", s.header),
                Span::raw(input.text().to_string()),
            ])
        }
        Mode::QuitConfirm => Line::styled(
            format!(
                "{} job(s) still running — quit anyway? They will be recorded as interrupted. (y/n)",
                state.jobs.running()
            ),
            s.warning,
        ),
        _ => match &state.toast {
            Some(toast) => {
                let style = match toast.level {
                    ToastLevel::Info => s.info,
                    ToastLevel::Warn => s.warning,
                    ToastLevel::Error => s.danger,
                };
                Line::styled(fit(&toast.text, width), style)
            }
            // Overlays carry their own key line; the pane's keys do not apply under them.
            None if matches!(
                state.mode,
                Mode::Confirm(_)
                    | Mode::Picker(_)
                    | Mode::Form(_)
                    | Mode::Help { .. }
                    | Mode::Export { .. }
            ) =>
            {
                Line::default()
            }
            None => hints(state),
        },
    };
    frame.render_widget(line, area);
}

/// Key hints for the focused pane and the global keys, generated from the registry.
fn hints(state: &State) -> Line<'static> {
    let s = &state.styles;
    let read_only = state.read_only();
    let mut spans: Vec<Span<'static>> = Vec::new();
    for hint in registry::hints(&state.contexts()) {
        let refused = hint.mutating && read_only;
        let key_style = if refused { s.disabled } else { s.header };
        let label_style = if refused { s.disabled } else { s.muted };
        spans.push(Span::styled(hint.key, key_style));
        spans.push(Span::styled(format!(" {}  ", hint.label), label_style));
    }
    if read_only {
        let reason = state.gate.latch().reason().unwrap_or_default();
        spans.push(Span::styled(format!("read-only: {reason}"), s.read_only));
    }
    Line::from(spans)
}
