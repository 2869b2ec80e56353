//! Drawing Kubernetes in the Inventory pane: k9s's columns per kind, only the rows that fit
//! (a list of 100,000 pods costs what 50 do), the describe/YAML view with a pod's events, and
//! the replica field and container picker.

use super::prompt::KubePrompt;
use super::{DetailView, Drill, KubeState, Shown};
use crate::kube::model::{KubeKind, KubeRow};
use crate::registry::Pane;
use crate::tui::state::State;
use crate::tui::styles::Styles;
use crate::tui::view::{centered, env_badge, fit, window_start};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub use crate::kube::model::age;

/// One column: a header and a width (0: what is left).
struct Col {
    title: &'static str,
    width: usize,
    /// Given up (right to left) when the pane is too narrow for the flexible column.
    optional: bool,
}

const fn col(title: &'static str, width: usize) -> Col {
    Col {
        title,
        width,
        optional: false,
    }
}

const fn opt(title: &'static str, width: usize) -> Col {
    Col {
        title,
        width,
        optional: true,
    }
}

/// The narrowest the flexible column (the name) gets before optional columns give way.
const MIN_FLEX: usize = 24;

/// Widths with the flexible column (width 0) taking what is left; optional columns dropped
/// (width 0, not drawn), last first, while it would be narrower than [`MIN_FLEX`].
fn widths(cols: &[Col], total: usize) -> Vec<usize> {
    let mut shown: Vec<bool> = vec![true; cols.len()];
    loop {
        let fixed: usize = cols
            .iter()
            .zip(&shown)
            .filter(|(_, s)| **s)
            .map(|(c, _)| c.width + 1)
            .sum();
        let flex = total.saturating_sub(fixed);
        let droppable = (0..cols.len())
            .rev()
            .find(|&i| shown[i] && cols[i].optional);
        match droppable {
            Some(i) if flex < MIN_FLEX => shown[i] = false,
            _ => {
                return cols
                    .iter()
                    .zip(&shown)
                    .map(|(c, s)| match (s, c.width) {
                        (false, _) => 0,
                        (true, 0) => flex.max(8),
                        (true, w) => w,
                    })
                    .collect();
            }
        }
    }
}

fn cells(texts: Vec<(String, Style)>, widths: &[usize]) -> Line<'static> {
    let mut spans = Vec::with_capacity(texts.len() * 2);
    for ((text, style), width) in texts.into_iter().zip(widths) {
        if *width == 0 {
            continue;
        }
        let shown = fit(&text, *width);
        let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(shown.as_str()));
        spans.push(Span::styled(shown, style));
        spans.push(Span::raw(" ".repeat(pad + 1)));
    }
    Line::from(spans)
}

fn status_style(s: &Styles, status: &str) -> Style {
    match status {
        "Running" | "Ready" | "Active" | "Succeeded" | "Completed" | "Normal" | "ACTIVE" => s.ok,
        "Pending" | "ContainerCreating" | "Terminating" | "CREATING" | "UPDATING" => s.warning,
        _ if status.starts_with("Init:") || status.contains("SchedulingDisabled") => s.warning,
        _ => s.danger,
    }
}

pub fn render(frame: &mut Frame, state: &State, area: Rect) {
    let kube = &state.kube;
    let border = if state.focus == Pane::Inventory {
        state.styles.border_focused
    } else {
        state.styles.border
    };
    let block = Block::bordered().border_style(border).title(title(state));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(detail) = &kube.detail {
        render_detail(frame, state, detail, inner);
        return;
    }
    let problem = problem(kube);
    let [body, footer] = if problem.is_some() {
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner)
    } else {
        [inner, Rect::default()]
    };
    if let Some(problem) = &problem {
        frame.render_widget(
            Line::styled(fit(problem, footer.width as usize), state.styles.danger),
            footer,
        );
    }
    if kube.visible.is_empty() {
        let text = empty_text(kube);
        frame.render_widget(
            Paragraph::new(Line::styled(text, state.styles.muted)).wrap(Wrap { trim: true }),
            body,
        );
        return;
    }
    let (cols, rows) = table(
        state,
        body.width as usize,
        body.height.saturating_sub(1) as usize,
    );
    let mut lines = Vec::with_capacity(rows.len() + 1);
    lines.push(cols.style(state.styles.header));
    lines.extend(rows);
    frame.render_widget(Paragraph::new(lines), body);
}

/// The pane's title: what is listed, how many, where, the environment, the filter.
fn title(state: &State) -> Line<'static> {
    let kube = &state.kube;
    let s = &state.styles;
    let focused = state.focus == Pane::Inventory;
    let title_style = if focused { s.title_focused } else { s.title };
    let what = match kube.shown_view() {
        Shown::Contexts => "contexts".to_string(),
        Shown::Eks => "EKS clusters".to_string(),
        Shown::Containers(_) => match kube.drill.last() {
            Some(Drill::Containers { pod, .. }) => format!("containers of {pod}"),
            _ => "containers".into(),
        },
        Shown::Kind(kind) => match kube.drill.last() {
            Some(Drill::Pods { kind: w, name, .. }) => {
                format!("pods of {} {name}", w.kind().word())
            }
            _ => kind.plural().to_string(),
        },
    };
    let total = match kube.shown_view() {
        Shown::Contexts => kube.contexts.as_ref().map_or(0, |c| c.contexts.len()),
        Shown::Eks => kube.eks.len(),
        Shown::Containers(p) => p.map_or(0, |p| p.containers.len()),
        Shown::Kind(kind) if kube.drill.is_empty() => kube.rows(kind).len(),
        Shown::Kind(_) => kube.visible.len(),
    };
    let mut spans = vec![Span::styled(
        format!(" 2 Inventory — {what} {}/{total}", kube.visible.len()),
        title_style,
    )];
    if let Some(context) = &kube.context {
        spans.push(Span::styled(format!(" @ {} ", context.name()), title_style));
        if let Some(env) = kube.environment {
            spans.push(env_badge(state, env));
        }
        let scope = match &kube.namespace {
            Some(ns) => format!(" ns {ns}"),
            None => " all namespaces".to_string(),
        };
        spans.push(Span::styled(scope, title_style));
    }
    if !kube.filter.is_empty() {
        spans.push(Span::styled(format!(" /{}", kube.filter), title_style));
    }
    if loading(kube) {
        spans.push(Span::styled(" ⟳", title_style));
    }
    spans.push(Span::styled(" ", title_style));
    Line::from(spans)
}

fn shown_kind(kube: &KubeState) -> Option<KubeKind> {
    match kube.shown_view() {
        Shown::Kind(k) => Some(k),
        Shown::Containers(_) => Some(KubeKind::Pod),
        Shown::Contexts | Shown::Eks => None,
    }
}

fn loading(kube: &KubeState) -> bool {
    match kube.shown_view() {
        Shown::Contexts => kube.contexts_loading,
        Shown::Eks => kube.eks_loading,
        Shown::Kind(k) => {
            kube.context.is_some()
                && kube.watch_error.is_none()
                && !kube.kind(k).is_some_and(|r| r.listed)
        }
        Shown::Containers(_) => false,
    }
}

/// Why the list may be stale or empty, in one line.
fn problem(kube: &KubeState) -> Option<String> {
    match kube.shown_view() {
        Shown::Contexts => kube
            .contexts_error
            .as_ref()
            .map(|e| format!("cannot read the kubeconfig: {e}")),
        Shown::Eks => kube
            .eks_error
            .as_ref()
            .map(|e| format!("cannot list EKS clusters: {e}")),
        Shown::Kind(_) | Shown::Containers(_) => {
            if let Some(e) = &kube.watch_error {
                return Some(e.clone());
            }
            let kind = shown_kind(kube)?;
            kube.kind(kind)
                .and_then(|r| r.disconnected.as_ref())
                .map(|reason| format!("disconnected: {reason} (retrying; rows may be stale)"))
        }
    }
}

fn empty_text(kube: &KubeState) -> String {
    if !kube.filter.is_empty() {
        return format!("Nothing matches /{} (Esc clears)", kube.filter);
    }
    match kube.shown_view() {
        Shown::Contexts if kube.contexts_loading => "Reading the kubeconfig…".into(),
        Shown::Contexts => {
            "No context in the kubeconfig. :eks lists EKS clusters (Enter connects).".into()
        }
        Shown::Eks if kube.eks_loading => "Listing EKS clusters…".into(),
        Shown::Eks => "No EKS cluster in this region.".into(),
        Shown::Containers(_) => "No container.".into(),
        Shown::Kind(kind) => {
            if kube.context.is_none() {
                if kube.contexts_loading {
                    "Reading the kubeconfig…".into()
                } else {
                    "No cluster: :ctx picks a context, :eks an EKS cluster.".into()
                }
            } else if loading(kube) {
                format!("Loading {}…", kind.plural())
            } else {
                format!("No {}.", kind.plural())
            }
        }
    }
}

/// The header and the rows that fit in `height`, around the selection.
fn table(state: &State, width: usize, height: usize) -> (Line<'static>, Vec<Line<'static>>) {
    let kube = &state.kube;
    let s = &state.styles;
    let now = state.now_ms;
    let all_ns = kube.namespace.is_none();
    let start = window_start(kube.selected, height);
    let window = kube.visible.iter().enumerate().skip(start).take(height);
    let select = |pos: usize, line: Line<'static>| {
        if pos == kube.selected && state.focus == Pane::Inventory {
            line.style(s.selection)
        } else {
            line
        }
    };
    let plain = |t: String| (t, s.base);
    let muted = |t: String| (t, s.muted);
    let header = |cols: &[Col], w: &[usize]| {
        cells(
            cols.iter()
                .map(|c| (c.title.to_string(), s.header))
                .collect(),
            w,
        )
    };
    match kube.shown_view() {
        Shown::Contexts => {
            let cols = [
                col("", 1),
                col("NAME", 0),
                opt("CLUSTER", 34),
                opt("AUTH", 18),
                col("NAMESPACE", 12),
                col("ENV", 4),
            ];
            let w = widths(&cols, width);
            let contexts = kube.contexts.as_ref().map_or(&[][..], |c| &c.contexts[..]);
            let rows = window
                .filter_map(|(pos, &i)| {
                    let c = contexts.get(i)?;
                    let env = crate::setup::kube_environment_of(
                        &state.config,
                        &c.name,
                        &c.cluster_id(),
                        state.session.env_override,
                    );
                    let env_style = if env.is_production_grade() {
                        s.danger
                    } else {
                        s.ok
                    };
                    let line = cells(
                        vec![
                            (if c.current { "*".into() } else { " ".into() }, s.info),
                            plain(c.name.clone()),
                            muted(c.cluster.clone()),
                            muted(c.auth.clone()),
                            muted(c.namespace.clone().unwrap_or_else(|| "(all)".into())),
                            (env.as_str().chars().take(3).collect(), env_style),
                        ],
                        &w,
                    );
                    Some(select(pos, line))
                })
                .collect();
            (header(&cols, &w), rows)
        }
        Shown::Eks => {
            let cols = [
                col("NAME", 0),
                col("VERSION", 7),
                col("STATUS", 9),
                col("NODE GROUPS (type min/desired/max)", 40),
            ];
            let w = widths(&cols, width);
            let rows = window
                .filter_map(|(pos, &i)| {
                    let c = kube.eks.get(i)?;
                    let groups = match &c.nodegroup_error {
                        Some(e) => format!("cannot list: {e}"),
                        None if c.nodegroups.is_empty() => "—".into(),
                        None => c
                            .nodegroups
                            .iter()
                            .map(|g| {
                                let size = |v: Option<i32>| v.map_or("?".into(), |v| v.to_string());
                                format!(
                                    "{} {} {}/{}/{}",
                                    g.name,
                                    g.instance_types.join(","),
                                    size(g.min),
                                    size(g.desired),
                                    size(g.max)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    };
                    let line = cells(
                        vec![
                            plain(c.name.clone()),
                            muted(c.version.clone()),
                            (c.status.clone(), status_style(s, &c.status)),
                            muted(groups),
                        ],
                        &w,
                    );
                    Some(select(pos, line))
                })
                .collect();
            (header(&cols, &w), rows)
        }
        Shown::Containers(pod) => {
            let cols = [
                col("NAME", 0),
                opt("IMAGE", 36),
                col("READY", 5),
                col("STATE", 26),
                col("RESTARTS", 8),
                col("INIT", 4),
            ];
            let w = widths(&cols, width);
            let rows = match pod {
                None => Vec::new(),
                Some(pod) => window
                    .filter_map(|(pos, &i)| {
                        let c = pod.containers.get(i)?;
                        let line = cells(
                            vec![
                                plain(c.name.clone()),
                                muted(c.image.clone()),
                                (
                                    if c.ready {
                                        "true".into()
                                    } else {
                                        "false".into()
                                    },
                                    if c.ready { s.ok } else { s.warning },
                                ),
                                (
                                    c.state.clone(),
                                    status_style(s, c.state.split(':').next().unwrap_or("")),
                                ),
                                plain(c.restarts.to_string()),
                                muted(if c.init { "yes".into() } else { "".into() }),
                            ],
                            &w,
                        );
                        Some(select(pos, line))
                    })
                    .collect(),
            };
            (header(&cols, &w), rows)
        }
        Shown::Kind(kind) => {
            let rows_of = kube.rows(kind);
            let mut cols: Vec<Col> = Vec::new();
            let namespaced = kind.namespaced() && all_ns;
            if namespaced {
                cols.push(col("NAMESPACE", 14));
            }
            match kind {
                KubeKind::Pod => cols.extend([
                    col("NAME", 0),
                    col("READY", 5),
                    col("STATUS", 18),
                    col("RESTARTS", 8),
                    col("AGE", 5),
                    opt("NODE", 22),
                ]),
                KubeKind::Deployment => cols.extend([
                    col("NAME", 0),
                    col("READY", 7),
                    col("UP-TO-DATE", 10),
                    col("AVAILABLE", 9),
                    col("AGE", 5),
                ]),
                KubeKind::StatefulSet => {
                    cols.extend([col("NAME", 0), col("READY", 7), col("AGE", 5)])
                }
                KubeKind::DaemonSet => cols.extend([
                    col("NAME", 0),
                    col("DESIRED", 7),
                    col("CURRENT", 7),
                    col("READY", 5),
                    opt("UP-TO-DATE", 10),
                    opt("AVAILABLE", 9),
                    col("AGE", 5),
                ]),
                KubeKind::Node => cols.extend([
                    col("NAME", 0),
                    col("STATUS", 26),
                    opt("ROLES", 14),
                    col("VERSION", 12),
                    col("AGE", 5),
                ]),
                KubeKind::Namespace => {
                    cols.extend([col("NAME", 0), col("STATUS", 12), col("AGE", 5)])
                }
                KubeKind::Event => cols.extend([
                    col("LAST SEEN", 9),
                    col("TYPE", 7),
                    col("REASON", 18),
                    col("OBJECT", 30),
                    col("COUNT", 5),
                    col("MESSAGE", 0),
                ]),
            }
            let w = widths(&cols, width);
            let rows = window
                .filter_map(|(pos, &i)| {
                    let row = rows_of.get(i)?;
                    let mut texts: Vec<(String, Style)> = Vec::with_capacity(cols.len());
                    if namespaced {
                        texts.push(muted(row.namespace().unwrap_or_default().to_string()));
                    }
                    match row {
                        KubeRow::Pod(p) => texts.extend([
                            plain(p.name.clone()),
                            (
                                format!("{}/{}", p.ready.0, p.ready.1),
                                if p.ready.0 == p.ready.1 {
                                    s.base
                                } else {
                                    s.warning
                                },
                            ),
                            (p.status.clone(), status_style(s, &p.status)),
                            (
                                p.restarts.to_string(),
                                if p.restarts > 0 { s.warning } else { s.base },
                            ),
                            muted(age(p.created, now)),
                            muted(p.node.clone()),
                        ]),
                        KubeRow::Deployment(d) => texts.extend([
                            plain(d.name.clone()),
                            (
                                format!("{}/{}", d.ready, d.desired),
                                if d.ready == d.desired {
                                    s.base
                                } else {
                                    s.warning
                                },
                            ),
                            plain(d.up_to_date.to_string()),
                            plain(d.available.to_string()),
                            muted(age(d.created, now)),
                        ]),
                        KubeRow::StatefulSet(d) => texts.extend([
                            plain(d.name.clone()),
                            (
                                format!("{}/{}", d.ready, d.desired),
                                if d.ready == d.desired {
                                    s.base
                                } else {
                                    s.warning
                                },
                            ),
                            muted(age(d.created, now)),
                        ]),
                        KubeRow::DaemonSet(d) => texts.extend([
                            plain(d.name.clone()),
                            plain(d.desired.to_string()),
                            plain(d.current.to_string()),
                            (
                                d.ready.to_string(),
                                if d.ready == d.desired {
                                    s.base
                                } else {
                                    s.warning
                                },
                            ),
                            plain(d.up_to_date.to_string()),
                            plain(d.available.to_string()),
                            muted(age(d.created, now)),
                        ]),
                        KubeRow::Node(n) => texts.extend([
                            plain(n.name.clone()),
                            (n.status.clone(), status_style(s, &n.status)),
                            muted(n.roles.clone()),
                            muted(n.version.clone()),
                            muted(age(n.created, now)),
                        ]),
                        KubeRow::Namespace(n) => texts.extend([
                            plain(n.name.clone()),
                            (n.status.clone(), status_style(s, &n.status)),
                            muted(age(n.created, now)),
                        ]),
                        KubeRow::Event(e) => texts.extend([
                            muted(age(e.last_seen, now)),
                            (
                                e.kind.clone(),
                                if e.kind == "Normal" {
                                    s.muted
                                } else {
                                    s.warning
                                },
                            ),
                            plain(e.reason.clone()),
                            plain(e.object.clone()),
                            muted(e.count.to_string()),
                            plain(e.message.clone()),
                        ]),
                    }
                    Some(select(pos, cells(texts, &w)))
                })
                .collect();
            (header(&cols, &w), rows)
        }
    }
}

fn render_detail(frame: &mut Frame, state: &State, detail: &DetailView, area: Rect) {
    let s = &state.styles;
    let mut lines: Vec<Line> = Vec::new();
    let what = match &detail.namespace {
        Some(ns) => format!("{} {ns}/{}", detail.kind, detail.name),
        None => format!("{} {}", detail.kind, detail.name),
    };
    lines.push(Line::styled(format!("{what} — Esc back"), s.header));
    match (&detail.yaml, &detail.error) {
        (_, Some(e)) => lines.push(Line::from(vec![
            Span::styled("Could not describe it: ", s.danger),
            Span::raw(e.clone()),
        ])),
        (Some(yaml), None) => {
            lines.extend(yaml.lines().map(|l| Line::raw(l.to_string())));
        }
        (None, None) => lines.push(Line::styled("Loading…", s.muted)),
    }
    if detail.kind == KubeKind::Pod {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Events:", s.header));
        let mut events: Vec<&crate::kube::model::EventRow> = state
            .kube
            .rows(KubeKind::Event)
            .iter()
            .filter_map(|r| match r {
                KubeRow::Event(e) if e.object_uid == detail.uid => Some(e),
                _ => None,
            })
            .collect();
        events.sort_by_key(|e| e.last_seen);
        if events.is_empty() {
            lines.push(Line::styled("  none watched", s.muted));
        }
        for e in events {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:>5} ", age(e.last_seen, state.now_ms)), s.muted),
                Span::styled(
                    format!("{:<8}", e.kind),
                    if e.kind == "Normal" {
                        s.muted
                    } else {
                        s.warning
                    },
                ),
                Span::raw(format!("{} ", e.reason)),
                Span::styled(format!("(x{}) ", e.count), s.muted),
                Span::raw(e.message.clone()),
            ]));
        }
    }
    let height = area.height as usize;
    let scroll = detail.scroll.min(lines.len().saturating_sub(1));
    let shown: Vec<Line> = lines.into_iter().skip(scroll).take(height).collect();
    frame.render_widget(Paragraph::new(shown), area);
}

/// The replica field or the container picker, over the panes.
pub fn render_prompt(frame: &mut Frame, state: &State, prompt: &KubePrompt, area: Rect) {
    let s = &state.styles;
    let (title, lines, cursor) = match prompt {
        KubePrompt::Replicas(field) => {
            let t = &field.seed.target;
            let mut lines = vec![
                Line::from(vec![
                    Span::styled(" Scale ", s.header),
                    Span::raw(format!(
                        "{} {}/{}",
                        t.kind.kind().word(),
                        t.namespace,
                        t.name
                    )),
                ]),
                Line::from(vec![
                    Span::styled(" In      ", s.header),
                    Span::raw(format!("{} ", t.cluster.context)),
                    env_badge(state, t.cluster.environment),
                ]),
                Line::from(vec![
                    Span::styled(" Now     ", s.header),
                    Span::raw(format!("{} replicas", field.seed.current)),
                ]),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(" Replicas > ", s.header),
                    Span::styled(field.input.text().to_string(), s.button_focused),
                ]),
                Line::styled(" Enter: review and confirm · Esc: cancel", s.muted),
            ];
            if let Some(e) = &field.error {
                lines.push(Line::styled(format!(" {e}"), s.danger));
            }
            (
                " Scale ",
                lines,
                Some((12 + field.input.cursor() as u16, 4u16)),
            )
        }
        KubePrompt::Containers(picker) => {
            let mut lines = vec![Line::styled(
                format!(
                    " {} of {}/{} — p: {}",
                    if picker.previous {
                        "Previous logs"
                    } else {
                        "Logs"
                    },
                    picker.namespace,
                    picker.pod,
                    if picker.previous {
                        "current instead"
                    } else {
                        "previous instead"
                    }
                ),
                s.header,
            )];
            for (i, c) in picker.containers.iter().enumerate() {
                let style = if i == picker.selected {
                    s.selection
                } else {
                    s.base
                };
                lines.push(Line::styled(format!("   {c}"), style));
            }
            lines.push(Line::styled(" Enter: follow · Esc: cancel", s.muted));
            (" Container ", lines, None)
        }
    };
    let height = (lines.len() + 2).min(area.height as usize) as u16;
    let rect = centered(area, area.width.saturating_sub(4).min(70), height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_style(s.border_focused)
        .title(Line::styled(title, s.title_focused))
        .style(s.base);
    let inner = block.inner(rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    if let Some((x, y)) = cursor {
        let (x, y) = (inner.x + x, inner.y + y);
        if x < rect.right() && y < rect.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_k9s() {
        let now = 1_000_000_000_000;
        assert_eq!(age(Some(now / 1000 - 45), now), "45s");
        assert_eq!(age(Some(now / 1000 - 600), now), "10m");
        assert_eq!(age(Some(now / 1000 - 5 * 3600), now), "5h");
        assert_eq!(age(Some(now / 1000 - 3 * 86_400), now), "3d");
        assert_eq!(age(None, now), "—");
    }
}
