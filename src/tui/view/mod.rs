//! Drawing. Views read the state and draw it; they hold no senders, write no state and do no
//! I/O (a job log's older lines are read off the UI thread into the state first).

pub(crate) mod dialogs;
pub(crate) mod jobs;
mod status;

use crate::cfn::tui::{form_view as form, inventory_view as inventory};
use crate::compliance::tui::view as compliance;

use crate::registry::Pane;
use crate::tui::state::State;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

/// Where each pane is drawn in `area` (the whole terminal), the status bar and the bottom
/// line: one pure function, so the state can know what the view will show (how many log
/// lines fit, say) without drawing.
pub struct Areas {
    pub panes: Vec<(Pane, Rect)>,
    pub status: Rect,
    pub bottom: Rect,
}

pub fn areas(area: Rect, zoomed: bool, focus: Pane) -> Areas {
    let [main, status, bottom] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let panes = if zoomed {
        vec![(focus, main)]
    } else {
        let [top, lower] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
        let [inventory, chat] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(top);
        let [jobs, side] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(lower);
        let [cost, compliance] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(side);
        vec![
            (Pane::Inventory, inventory),
            (Pane::Chat, chat),
            (Pane::Jobs, jobs),
            (Pane::Cost, cost),
            (Pane::Compliance, compliance),
        ]
    };
    Areas {
        panes,
        status,
        bottom,
    }
}

pub fn render(frame: &mut Frame, state: &State) {
    let area = frame.area();
    frame.render_widget(Block::new().style(state.styles.base), area);
    let layout = areas(area, state.zoomed, state.focus);
    for (pane, rect) in layout.panes {
        render_pane(frame, state, pane, rect);
    }
    status::status_bar(frame, state, layout.status);
    status::bottom_line(frame, state, layout.bottom);
    dialogs::overlays(frame, state, area);
}

fn render_pane(frame: &mut Frame, state: &State, pane: Pane, area: Rect) {
    match pane {
        Pane::Inventory if state.kube.shown => crate::kube::tui::view::render(frame, state, area),
        Pane::Inventory => inventory::render(frame, state, area),
        Pane::Jobs => jobs::render(frame, state, area),
        Pane::Chat => crate::assistant::tui::view::render(frame, state, area),
        Pane::Cost => crate::cost::tui::view::render(frame, state, area),
        Pane::Compliance => compliance::render(frame, state, area),
    }
}

/// The bordered frame of a pane, with its number, title and an optional suffix.
pub(crate) fn pane_block<'a>(state: &State, pane: Pane, suffix: &str) -> Block<'a> {
    let focused = state.focus == pane;
    let (border, title) = if focused {
        (state.styles.border_focused, state.styles.title_focused)
    } else {
        (state.styles.border, state.styles.title)
    };
    let mut text = format!(" {} {} ", pane.number(), pane.title());
    if !suffix.is_empty() {
        text.push_str(suffix);
        text.push(' ');
    }
    Block::bordered()
        .border_style(border)
        .title(Line::from(Span::styled(text, title)))
}

/// Cut `text` to at most `width` columns, marking the cut with `…`.
pub(crate) fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Split lines wider than `width` at character boundaries, keeping each span's style.
pub(crate) fn hard_wrap(lines: Vec<Line<'_>>, width: usize) -> Vec<Line<'_>> {
    use unicode_width::UnicodeWidthChar;
    let mut out = Vec::new();
    for line in lines {
        if line.width() <= width {
            out.push(line);
            continue;
        }
        let mut current: Vec<Span> = Vec::new();
        let mut used = 0;
        for span in line.spans {
            let mut piece = String::new();
            for c in span.content.chars() {
                let w = c.width().unwrap_or(0);
                if used + w > width {
                    current.push(Span::styled(std::mem::take(&mut piece), span.style));
                    out.push(Line::from(std::mem::take(&mut current)));
                    used = 0;
                }
                piece.push(c);
                used += w;
            }
            current.push(Span::styled(piece, span.style));
        }
        out.push(Line::from(current));
    }
    out
}

/// First row to show so that `selected` is visible in `height` rows.
pub(crate) fn window_start(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        selected.saturating_sub(height - 1)
    }
}

pub(crate) fn duration_text(ms: i64) -> String {
    let secs = ms / 1000;
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// Break `text` into lines of at most `width` columns at spaces (words longer than a line are
/// cut by `hard_wrap` later).
pub(crate) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.width() + 1 + word.width() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// A rectangle of at most `width` x `height`, centred in `area`.
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    use ratatui::layout::Flex;
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// The environment as a badge: PRD and unmapped in the danger colour.
pub(crate) fn env_badge(state: &State, env: crate::model::Environment) -> Span<'static> {
    let style = if env.is_production_grade() {
        state.styles.env_danger
    } else {
        state.styles.env_safe
    };
    Span::styled(format!(" {env} "), style)
}
