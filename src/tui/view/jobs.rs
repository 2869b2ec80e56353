//! Jobs: every task with state and duration; the selected job's live log.

use super::{duration_text, fit, pane_block, window_start};
use crate::engine::joblog::{LogLevel, LogLine};
use crate::model::{JobRecord, JobState};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::styles::Styles;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let jobs = &state.jobs;
    let running = jobs.running();
    let mut suffix = format!("— {} jobs", jobs.records.len());
    if running > 0 {
        suffix.push_str(&format!(", {running} running"));
    }
    if !jobs.filter.is_empty() {
        suffix.push_str(&format!(" /{}", jobs.filter));
    }
    let block = pane_block(state, Pane::Jobs, &suffix);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if jobs.records.is_empty() {
        frame.render_widget(Line::styled("No jobs yet.", state.styles.muted), inner);
        return;
    }
    let (list_area, log_area) = split(inner, jobs.log_open);
    if let Some(list_area) = list_area {
        list(frame, state, list_area);
    }
    if log_area.height > 1 {
        log(frame, state, log_area);
    }
}

/// The job list (unless the log is open alone) and the log, inside the pane's border.
fn split(inner: Rect, log_open: bool) -> (Option<Rect>, Rect) {
    if log_open {
        return (None, inner);
    }
    let list_height = (inner.height / 2).max(2).min(inner.height);
    let [list_area, log_area] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(0)]).areas(inner);
    (Some(list_area), log_area)
}

/// How many log lines the Jobs pane shows on a terminal of `size`, as `render` lays it out.
pub fn log_height(state: &State) -> usize {
    let (width, height) = state.term_size;
    let layout = super::areas(Rect::new(0, 0, width, height), state.zoomed, state.focus);
    let Some((_, pane)) = layout.panes.iter().find(|(p, _)| *p == Pane::Jobs) else {
        return 0;
    };
    let inner = Block::bordered().inner(*pane);
    let (_, log_area) = split(inner, state.jobs.log_open);
    // One line of header above the lines.
    log_area.height.saturating_sub(1) as usize
}

fn state_mark(state: JobState, s: &Styles) -> (&'static str, Style) {
    match state {
        JobState::Queued => ("… queued", s.muted),
        JobState::Running => ("▶ running", s.warning),
        JobState::Succeeded => ("✓ done", s.ok),
        JobState::Failed => ("✗ failed", s.danger),
        JobState::Cancelled => ("⊘ cancelled", s.muted),
        JobState::Interrupted => ("! interrupted", s.danger),
    }
}

fn list(frame: &mut Frame, state: &State, area: Rect) {
    let jobs = &state.jobs;
    let s = &state.styles;
    let height = area.height as usize;
    let start = window_start(jobs.selected, height);
    let width = area.width as usize;
    let lines: Vec<Line> = jobs
        .visible
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(pos, &i)| {
            let line = job_line(&jobs.records[i], state.now_ms, width, s);
            if pos == jobs.selected && state.focus == Pane::Jobs {
                line.style(s.selection)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn job_line<'a>(r: &JobRecord, now_ms: i64, width: usize, s: &Styles) -> Line<'a> {
    let (mark, style) = state_mark(r.state, s);
    let duration = r.duration_ms(now_ms).map(duration_text).unwrap_or_default();
    let progress = match (r.state, r.progress) {
        (JobState::Running, Some(p)) => progress_bar(p, if width >= 60 { 10 } else { 0 }),
        _ => String::new(),
    };
    let fixed = 6 + 14 + 8 + progress.chars().count();
    let title_width = width.saturating_sub(fixed).max(4);
    // A target's job sits under its installer run's.
    let title = match r.parent {
        Some(_) => fit(&format!("└ {}", r.title), title_width),
        None => fit(&r.title, title_width),
    };
    let pad = title_width.saturating_sub(unicode_width::UnicodeWidthStr::width(title.as_str()));
    Line::from(vec![
        Span::styled(format!("#{:<5}", r.id), s.muted),
        Span::styled(format!("{mark:<14}"), style),
        Span::raw(format!("{title}{}", " ".repeat(pad))),
        Span::styled(progress, s.warning),
        Span::styled(format!(" {duration:>7}"), s.muted),
    ])
}

/// ` ███░░░░░░░  30%`: a bar of `cells` (none on a narrow pane) and the percentage.
fn progress_bar(fraction: f32, cells: usize) -> String {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (fraction * cells as f32).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(cells - filled));
    let space = if cells > 0 { " " } else { "" };
    format!(" {bar}{space}{:>3.0}%", fraction * 100.0)
}

fn log(frame: &mut Frame, state: &State, area: Rect) {
    let jobs = &state.jobs;
    let s = &state.styles;
    let Some(record) = jobs.selected_record() else {
        return;
    };
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let height = body.height as usize;

    let Some(handle) = jobs.handles.get(&record.id) else {
        let text = match &record.log_path {
            Some(_) => "log of an earlier session: Enter opens it".to_string(),
            None => "no log kept for this job".into(),
        };
        frame.render_widget(Line::styled(text, s.muted), header);
        return;
    };
    // Memory only: lines that left the ring come from the window the state read off the UI
    // thread (`Cmd::ReadLogWindow`); until it is here, the view says so.
    let log = handle.log.lock().unwrap_or_else(|p| p.into_inner());
    let total = log.total();
    let view = &jobs.log;
    let bottom_top = total.saturating_sub(height as u64);
    let top = if view.follow {
        bottom_top
    } else {
        view.top.min(bottom_top)
    };
    let lines: Vec<LogLine> = if top >= log.first_in_ring() {
        let skip = (top - log.first_in_ring()) as usize;
        log.ring().iter().skip(skip).take(height).cloned().collect()
    } else {
        match &view.window {
            Some(w) if w.job == record.id && w.start == top => w.lines.clone(),
            _ => Vec::new(),
        }
    };
    let spill_error = log.spill_error().map(str::to_string);
    drop(log);
    if lines.is_empty() && total > 0 {
        frame.render_widget(
            Line::styled(format!("reading lines from {}…", top + 1), s.muted),
            body,
        );
    }

    let mut head = vec![
        Span::styled(format!("log #{} ", record.id), s.header),
        Span::styled(format!("{} lines ", total), s.muted),
        if view.follow {
            Span::styled("[follow]", s.ok)
        } else {
            Span::styled(format!("[line {}]", top + 1), s.warning)
        },
    ];
    if let Some(needle) = &view.search {
        head.push(Span::styled(
            format!(
                " /{needle} {}/{}",
                view.matches.len().min(view.match_idx + 1),
                view.matches.len()
            ),
            s.info,
        ));
    }
    if view.timestamps {
        head.push(Span::styled(" [t]", s.info));
    }
    if view.wrap {
        head.push(Span::styled(" [wrap]", s.info));
    }
    if let Some(err) = spill_error {
        head.push(Span::styled(
            format!(" (log kept in memory only: {err})"),
            s.danger,
        ));
    }
    frame.render_widget(Line::from(head).style(Style::new()), header);

    let width = body.width as usize;
    let text_width = width.saturating_sub(9).max(1);
    let mut rendered: Vec<Line> = Vec::with_capacity(lines.len());
    for line in lines.iter().map(|l| {
        let style = match l.level {
            LogLevel::Info => s.base,
            LogLevel::Warn => s.warning,
            LogLevel::Error => s.danger,
        };
        let ts = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(l.ts_ms.max(0) as u64),
        )
        .to_string();
        let time = ts.get(11..19).unwrap_or("").to_string();
        let is_match = view.search.is_some() && view.matches.get(view.match_idx) == Some(&l.seq);
        let text_style = if is_match { s.match_highlight } else { style };
        // A source's own timestamp (a pod's log) shows only with `t`.
        let text = match crate::engine::joblog::timestamp_prefix(&l.text) {
            Some(at) if !view.timestamps => &l.text[at..],
            _ => l.text.as_str(),
        };
        let text = if view.wrap {
            text.to_string()
        } else {
            fit(text, text_width)
        };
        Line::from(vec![
            Span::styled(format!("{time} "), s.muted),
            Span::styled(text, text_style),
        ])
    }) {
        if view.wrap {
            rendered.extend(super::hard_wrap(vec![line], width.max(1)));
        } else {
            rendered.push(line);
        }
    }
    // Wrapped lines take more rows: following, the newest stay in view.
    if view.wrap && rendered.len() > height {
        let skip = if view.follow {
            rendered.len() - height
        } else {
            0
        };
        rendered = rendered.into_iter().skip(skip).take(height).collect();
    }
    frame.render_widget(
        Paragraph::new(rendered).block(Block::new().borders(Borders::NONE)),
        body,
    );
}
