//! The installer overlays: the list (with OS requirements), the form, the target picker.

use super::form::InstallForm;
use super::targets::TargetPicker;
use super::{InstallMode, InstallerList};
use crate::installers::catalog::{Installer, Origin};
use crate::installers::ops::Target;
use crate::registry::{self, Action, Context};
use crate::tui::form::view::over_panes;
use crate::tui::shell::ShellAction;
use crate::tui::state::State;
use crate::tui::view::{centered, env_badge, fit, wrap_words};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn render(frame: &mut Frame, state: &State, mode: &InstallMode, area: Rect) {
    match mode {
        InstallMode::List(list) => render_list(frame, state, list, area),
        InstallMode::Form(form, _) => render_form(frame, state, form, area),
        InstallMode::Targets(picker) => render_picker(frame, state, picker, area),
    }
}

/// `debian 11+, ubuntu 20.04+ · 256 MiB RAM · 200 MiB disk · 1 core`.
pub fn requirements(installer: &Installer) -> String {
    let m = &installer.manifest;
    let mut parts = vec![m.os.to_string()];
    if let Some(ram) = m.resources.min_ram_mb {
        parts.push(format!("{ram} MiB RAM"));
    }
    if let Some(disk) = m.resources.min_disk_mb {
        parts.push(format!("{disk} MiB disk"));
    }
    if let Some(cores) = m.resources.min_cpu_cores {
        parts.push(format!("{cores} core(s)"));
    }
    parts.join(" · ")
}

fn bordered<'a>(state: &State, title: &str, width: u16) -> Block<'a> {
    let s = &state.styles;
    Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(
            fit(title, width.saturating_sub(4) as usize),
            s.title_focused,
        ))
        .style(s.base)
}

fn render_list(frame: &mut Frame, state: &State, list: &InstallerList, area: Rect) {
    let s = &state.styles;
    let main = over_panes(area);
    let width = main.width.saturating_sub(4).min(110);
    let height = (2 * list.installers.len() + list.problems.len() + 4) as u16;
    let rect = centered(main, width, height.min(main.height));
    frame.render_widget(Clear, rect);
    let inner_width = rect.width.saturating_sub(2) as usize;
    let id_width = list
        .installers
        .iter()
        .map(|i| i.manifest.id.len())
        .max()
        .unwrap_or(8)
        + 2;
    let mut lines: Vec<Line> = Vec::new();
    for (i, installer) in list.installers.iter().enumerate() {
        let m = &installer.manifest;
        let origin = match &installer.origin {
            Origin::Bundled => String::new(),
            Origin::User(_) => " (yours)".to_string(),
        };
        let head = Line::from(vec![
            Span::raw(format!(" {:<id_width$}", m.id)),
            Span::styled(format!("{} {}{origin}", m.name, m.version), s.base),
        ]);
        let detail = Line::styled(
            fit(
                &format!(" {:<id_width$}{}", "", requirements(installer)),
                inner_width,
            ),
            s.muted,
        );
        if i == list.selected {
            lines.push(head.style(s.selection));
            lines.push(detail.style(s.selection));
        } else {
            lines.push(head);
            lines.push(detail);
        }
    }
    for problem in &list.problems {
        lines.push(Line::styled(
            fit(&format!(" ✗ {problem}"), inner_width),
            s.danger,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit(
            " Enter opens the form · j/k move · Esc closes · opsdeck installers --json lists every field",
            inner_width,
        ),
        s.muted,
    ));
    // Keep the selected entry in view.
    let body = rect.height.saturating_sub(2) as usize;
    let skip = (2 * list.selected + 2).saturating_sub(body.saturating_sub(2));
    let shown: Vec<Line> = lines.into_iter().skip(skip).collect();
    let block = bordered(state, " Installers ", rect.width);
    frame.render_widget(Paragraph::new(shown).block(block), rect);
}

fn render_form(frame: &mut Frame, state: &State, form: &InstallForm, area: Rect) {
    let s = &state.styles;
    let m = &form.installer.manifest;
    let title = format!(" Install {} {} ({}) ", m.name, m.version, m.id);
    let mut header = vec![Line::from(vec![
        Span::styled("Needs ", s.header),
        Span::styled(requirements(&form.installer), s.muted),
    ])];
    header.push(Line::styled(
        format!(
            "Runs as root, non-interactive, at most {}s per target{}; targets come next",
            m.timeout_seconds,
            if m.idempotent { "; idempotent" } else { "" }
        ),
        s.muted,
    ));
    if m.inputs.is_empty() {
        header.push(Line::styled(
            "This installer takes no inputs: Ctrl-S continues.",
            s.info,
        ));
    }
    crate::tui::form::view::render(frame, state, &form.form, &title, header, area);
}

fn render_picker(frame: &mut Frame, state: &State, picker: &TargetPicker, area: Rect) {
    let s = &state.styles;
    let main = over_panes(area);
    let width = main.width.saturating_sub(4).min(100);
    let height = (picker.candidates.len() + 10) as u16;
    let rect = centered(main, width, height.min(main.height));
    frame.render_widget(Clear, rect);
    let inner_width = rect.width.saturating_sub(2) as usize;
    let m = &picker.form.installer.manifest;
    let mut lines = vec![Line::styled(
        fit(
            &format!(" Where should {} {} run?", m.id, m.version),
            inner_width,
        ),
        s.header,
    )];
    for (i, c) in picker.candidates.iter().enumerate() {
        let mark = if c.checked { "[x]" } else { "[ ]" };
        let environment = state.config.targets.environment_for(c.target.name(), &[]);
        let mut spans = vec![
            Span::raw(format!(" {mark} ")),
            Span::raw(format!("{:<40}", c.target.to_string())),
        ];
        match (environment, &c.target) {
            (Some(env), _) => spans.push(env_badge(state, env)),
            (None, Target::Ssm(_)) => {
                spans.push(Span::styled("by tags or account, at preflight", s.muted))
            }
            (None, _) => spans.push(env_badge(state, crate::model::Environment::Unmapped)),
        }
        let line = Line::from(spans);
        lines.push(if i == picker.selected {
            line.style(s.selection)
        } else {
            line
        });
    }
    lines.push(Line::raw(""));
    match &picker.adding {
        Some(input) => lines.push(Line::from(vec![
            Span::styled(" add > ", s.header),
            Span::styled(input.text().to_string(), s.button_focused),
            Span::styled("  (local, ssh:HOST, ssm:INSTANCE_ID; Enter adds)", s.muted),
        ])),
        None => lines.push(Line::styled(
            " a adds a target: local, ssh:HOST or ssm:INSTANCE_ID",
            s.muted,
        )),
    }
    lines.push(Line::from(vec![
        Span::styled(" max concurrency ", s.header),
        Span::raw(picker.max_concurrency.to_string()),
        Span::styled(" (c)   max errors ", s.header),
        Span::raw(picker.max_errors.to_string()),
        Span::styled(" (e)", s.header),
    ]));
    if let Some(error) = &picker.error {
        for text in wrap_words(&format!("✗ {error}"), inner_width.saturating_sub(1)) {
            lines.push(Line::styled(format!(" {text}"), s.danger));
        }
    }
    lines.push(Line::raw(""));
    let open =
        registry::key_label(Context::List, Action::Shell(ShellAction::Open)).unwrap_or_default();
    lines.push(Line::styled(
        fit(
            &format!(
                " Space selects · {open} preflights and asks to confirm · Esc back to the form"
            ),
            inner_width,
        ),
        s.muted,
    ));
    let block = bordered(state, &format!(" Install {}: targets ", m.id), rect.width);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    if let Some(input) = &picker.adding {
        let x = rect.x + 1 + 7 + input.cursor() as u16;
        let y = rect.y + 1 + (picker.candidates.len() + 2) as u16;
        if x < rect.right() && y < rect.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}
