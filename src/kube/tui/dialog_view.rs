//! The body of each Kubernetes confirmation: exactly what will run, resolved when it was
//! asked for (context, cluster, environment, namespace, name, uid, current → new replicas).

use crate::kube::ops::{ClusterTarget, KubeMutation};
use crate::tui::state::{ConfirmDialog, State};
use crate::tui::view::dialogs::{DialogWords, render_confirm};
use crate::tui::view::env_badge;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn words(op: &KubeMutation) -> DialogWords {
    let plain = DialogWords::default();
    match op {
        KubeMutation::Scale(_) => DialogWords {
            confirm: " Scale ",
            ..plain
        },
        KubeMutation::Restart(_) => DialogWords {
            confirm: " Restart ",
            ..plain
        },
        KubeMutation::DeletePod(_) => DialogWords {
            confirm: " Delete ",
            ..plain
        },
        KubeMutation::Cordon(c) => DialogWords {
            confirm: if c.cordon { " Cordon " } else { " Uncordon " },
            ..plain
        },
    }
}

pub fn render(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    op: &KubeMutation,
    area: Rect,
) {
    let lines = body(state, dialog, op);
    render_confirm(frame, state, dialog, &words(op), lines, area);
}

fn body(state: &State, dialog: &ConfirmDialog, op: &KubeMutation) -> Vec<Line<'static>> {
    let s = &state.styles;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let cluster_lines = |lines: &mut Vec<Line<'static>>, c: &ClusterTarget| {
        lines.push(field("Context", c.context.to_string()));
        lines.push(field("Cluster", c.cluster.clone()));
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<12}", "Environment"), s.header),
            env_badge(state, c.environment),
        ]));
    };
    match op {
        KubeMutation::Scale(scale) => {
            let t = &scale.target;
            let (text, style) = if scale.replicas == 0 {
                (" Scale to 0: every pod of it stops.".to_string(), s.danger)
            } else {
                (
                    format!(" Set the replicas of this {}.", t.kind.kind().word()),
                    s.info,
                )
            };
            lines.push(Line::styled(text, style));
            lines.push(Line::raw(""));
            cluster_lines(&mut lines, &t.cluster);
            lines.push(field("Namespace", t.namespace.clone()));
            lines.push(field(t.kind.kind().as_str(), t.name.clone()));
            lines.push(field("UID", t.uid.clone()));
            lines.push(Line::from(vec![
                Span::styled(format!(" {:<12}", "Replicas"), s.header),
                Span::raw(format!("{} → ", scale.current)),
                Span::styled(
                    scale.replicas.to_string(),
                    if scale.replicas == 0 {
                        s.danger
                    } else {
                        s.warning
                    },
                ),
            ]));
        }
        KubeMutation::Restart(restart) => {
            let t = &restart.target;
            lines.push(Line::styled(
                format!(
                    " Rollout restart: every pod of this {} is replaced, as its strategy allows.",
                    t.kind.kind().word()
                ),
                s.info,
            ));
            lines.push(Line::raw(""));
            cluster_lines(&mut lines, &t.cluster);
            lines.push(field("Namespace", t.namespace.clone()));
            lines.push(field(t.kind.kind().as_str(), t.name.clone()));
            lines.push(field("UID", t.uid.clone()));
            lines.push(field(
                "Annotation",
                format!("kubectl.kubernetes.io/restartedAt={}", restart.restarted_at),
            ));
        }
        KubeMutation::DeletePod(d) => {
            match &d.owner {
                Some(owner) => lines.push(Line::styled(
                    format!(" Delete this pod; {owner} makes a new one."),
                    s.info,
                )),
                None => lines.push(Line::styled(
                    " Delete this pod. No controller owns it: it is gone for good.",
                    s.danger,
                )),
            }
            lines.push(Line::raw(""));
            cluster_lines(&mut lines, &d.cluster);
            lines.push(field("Namespace", d.namespace.clone()));
            lines.push(field("Pod", d.name.clone()));
            lines.push(field("UID", format!("{} (sent as a precondition)", d.uid)));
        }
        KubeMutation::Cordon(c) => {
            lines.push(Line::styled(
                if c.cordon {
                    " Cordon: no new pod is scheduled on this node (running pods stay)."
                } else {
                    " Uncordon: new pods may be scheduled on this node again."
                },
                s.info,
            ));
            lines.push(Line::raw(""));
            cluster_lines(&mut lines, &c.cluster);
            lines.push(field("Node", c.name.clone()));
            lines.push(field("UID", c.uid.clone()));
        }
    }
    lines.push(field("Operation", dialog.request.op.name().to_string()));
    lines
}
