//! The body of `run-installer`'s confirmation: exactly what will run, as resolved when it was
//! asked for — the installer, its version and hash, every target with its environment and
//! what preflight found, the rate control, and the inputs with sensitive ones as `****`.

use crate::installers::ops::InstallMutation;
use crate::ops::Mutation;
use crate::tui::state::{ConfirmDialog, State};
use crate::tui::view::dialogs::{DialogWords, render_confirm};
use crate::tui::view::env_badge;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn words(op: &InstallMutation) -> DialogWords {
    match op {
        InstallMutation::RunInstaller(_) => DialogWords {
            confirm: " Run ",
            type_after: " to run it:",
            simple: " Press y to run it, n or Esc to cancel.",
            ..DialogWords::default()
        },
    }
}

pub fn render(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    op: &InstallMutation,
    area: Rect,
) {
    let lines = body(state, op);
    render_confirm(frame, state, dialog, &words(op), lines, area);
}

fn body(state: &State, op: &InstallMutation) -> Vec<Line<'static>> {
    let s = &state.styles;
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let mut lines = Vec::new();
    match op {
        InstallMutation::RunInstaller(r) => {
            lines.push(Line::styled(
                format!(
                    " Run installer {} {} on {} target(s)? It runs as root and changes the machine.",
                    r.installer,
                    r.version,
                    r.targets.len()
                ),
                s.warning,
            ));
            lines.push(Line::raw(""));
            lines.push(field("Installer", format!("{} ({})", r.name, r.installer)));
            lines.push(field("Version", r.version.clone()));
            lines.push(field("Hash", r.hash.clone()));
            lines.push(field("Source", r.origin.to_string()));
            lines.push(field("Operation", op.name().to_string()));
            lines.push(field("Run", r.run_id.clone()));
            lines.push(Line::raw(""));
            lines.push(Line::styled(" Targets", s.header));
            for t in &r.targets {
                lines.push(Line::from(vec![
                    Span::raw("   "),
                    env_badge(state, t.environment),
                    Span::raw(format!(" {}", t.target)),
                ]));
                lines.push(Line::styled(
                    format!("       {}", t.facts.summary()),
                    s.muted,
                ));
            }
            lines.push(Line::raw(""));
            lines.push(field(
                "Rate",
                format!(
                    "max concurrency {} · max errors {}",
                    r.max_concurrency, r.max_errors
                ),
            ));
            lines.push(field(
                "Timeout",
                format!(
                    "{}s per target · {}",
                    r.timeout_seconds,
                    if r.idempotent {
                        format!(
                            "idempotent: a failed target is tried up to {} times (never after exit 1)",
                            crate::installers::targets::MAX_ATTEMPTS
                        )
                    } else {
                        "not idempotent: never retried".to_string()
                    }
                ),
            ));
            lines.push(Line::raw(""));
            lines.push(Line::styled(" Inputs", s.header));
            if r.inputs.is_empty() {
                lines.push(Line::styled("   none", s.muted));
            }
            let key_width = r
                .inputs
                .iter()
                .map(|i| i.name.len())
                .max()
                .unwrap_or(0)
                .min(32);
            for input in &r.inputs {
                lines.push(Line::from(vec![
                    Span::raw(format!("   {:<key_width$}  ", input.name)),
                    Span::styled(
                        match input.shown() {
                            "" => "(empty)".to_string(),
                            v => v.to_string(),
                        },
                        if input.is_secret() { s.muted } else { s.base },
                    ),
                ]));
            }
        }
    }
    lines
}
