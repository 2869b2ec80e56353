//! The body of each CloudFormation confirmation: exactly what will run, resolved when it was
//! asked for (stack, ids, account, region, environment, what a delete keeps, a deploy's
//! parameters and compliance verdict). A change set's review has a view of its own
//! (`preview_view`).

use crate::cfn::ops::CfnMutation;
use crate::tui::state::{ConfirmDialog, State};
use crate::tui::view::dialogs::{DialogWords, render_confirm};
use crate::tui::view::env_badge;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

/// The words of each operation's dialog.
pub fn words(op: &CfnMutation) -> DialogWords {
    let plain = DialogWords::default();
    match op {
        CfnMutation::DeleteStack(_) => DialogWords {
            confirm: " Delete ",
            type_before: " This cannot be undone. Type ",
            ..plain
        },
        CfnMutation::ExecuteChangeSet(_) => DialogWords {
            confirm: " Execute ",
            cancel: " Discard ",
            type_after: " to execute it:",
            simple: " Tab to Execute, then Enter. Esc discards the change set.",
            ..plain
        },
        CfnMutation::CreateChangeSet(_) => DialogWords {
            confirm: " Compute change set ",
            ..plain
        },
        // Every other change: the plain words.
        _ => plain,
    }
}

pub fn render(
    frame: &mut Frame,
    state: &State,
    dialog: &ConfirmDialog,
    op: &CfnMutation,
    area: Rect,
) {
    let words = words(op);
    if let CfnMutation::ExecuteChangeSet(execute) = op {
        super::preview_view::render(frame, state, dialog, &words, execute, area);
        return;
    }
    let lines = body(state, dialog, op);
    render_confirm(frame, state, dialog, &words, lines, area);
}

fn body(state: &State, dialog: &ConfirmDialog, op: &CfnMutation) -> Vec<Line<'static>> {
    let s = &state.styles;
    let req = &dialog.request;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!(" {k:<12}"), s.header),
            Span::raw(v),
        ])
    };
    let env_line = |env| {
        Line::from(vec![
            Span::styled(format!(" {:<12}", "Environment"), s.header),
            env_badge(state, env),
        ])
    };
    let target_lines = |lines: &mut Vec<Line>, t: &crate::ops::StackTarget| {
        lines.push(field("Stack", t.stack_name.clone()));
        lines.push(field("Stack id", t.stack_id.clone()));
        lines.push(field("Account", t.account.clone()));
        lines.push(field("Region", t.region.clone()));
        lines.push(env_line(t.environment));
    };
    match op {
        CfnMutation::DeleteStack(d) => {
            lines.push(Line::styled(
                " Delete this CloudFormation stack and every resource it manages?",
                s.danger,
            ));
            lines.push(Line::raw(""));
            target_lines(&mut lines, &d.target);
            lines.push(field("Operation", req.op.name().to_string()));
            lines.push(Line::raw(""));
            if d.retained.is_empty() {
                lines.push(Line::styled(
                    " No resource has a Retain or Snapshot DeletionPolicy: everything is deleted.",
                    s.muted,
                ));
            } else {
                lines.push(Line::styled(" Kept after delete:", s.header));
                for r in &d.retained {
                    lines.push(Line::raw(format!(
                        "   {} ({}) — {}",
                        r.logical_id, r.resource_type, r.policy
                    )));
                }
            }
        }
        CfnMutation::CreateChangeSet(c) => {
            lines.push(Line::raw(format!(
                " Review: {} stack {} from {}",
                match c.kind() {
                    crate::cfn::model::ChangeSetKind::Create => "create",
                    crate::cfn::model::ChangeSetKind::Update => "update",
                },
                c.stack_name,
                c.template.origin()
            )));
            lines.push(Line::styled(
                " This computes a change set; nothing changes until you execute it.",
                s.info,
            ));
            lines.push(Line::raw(""));
            lines.push(field("Stack", c.stack_name.clone()));
            if let Some(id) = &c.existing_stack_id {
                lines.push(field("Stack id", id.clone()));
            }
            lines.push(field("Account", c.account.clone()));
            lines.push(field("Region", c.region.clone()));
            lines.push(env_line(c.environment));
            lines.push(field("Change set", c.change_set_name.clone()));
            // The provider always acknowledges the IAM capabilities: say when it matters.
            let iam = match &c.template {
                crate::ops::TemplateSource::Body { body, .. } => body.contains("AWS::IAM::"),
                crate::ops::TemplateSource::Previous => false,
            };
            if iam {
                lines.push(Line::styled(
                    " This template creates IAM resources: CAPABILITY_IAM and CAPABILITY_NAMED_IAM are acknowledged.",
                    s.warning,
                ));
            }
            compliance_lines(state, &c.compliance, &mut lines);
            lines.push(Line::raw(""));
            lines.push(Line::styled(" Parameters", s.header));
            let key_width = c
                .parameters
                .iter()
                .map(|p| p.key.len())
                .max()
                .unwrap_or(0)
                .min(32);
            for p in &c.parameters {
                let style = match p.value {
                    crate::ops::ParamValue::UsePrevious => s.muted,
                    _ => s.base,
                };
                lines.push(Line::from(vec![
                    Span::raw(format!("   {:<key_width$}  ", p.key)),
                    Span::styled(
                        match p.value.shown() {
                            "" => "(empty)".to_string(),
                            v => v.to_string(),
                        },
                        style,
                    ),
                ]));
            }
            // What it will cost a month, after what it is deployed with.
            lines.push(Line::raw(""));
            lines.extend(crate::cost::tui::dialog_view::verdict_lines(
                state, &c.cost, 12,
            ));
        }
        CfnMutation::SetTerminationProtection(p) => {
            let (what, style) = if p.enabled {
                (
                    " Turn termination protection ON: CloudFormation will refuse to delete this stack until it is turned off.",
                    s.info,
                )
            } else {
                (
                    " Turn termination protection OFF: this stack can then be deleted.",
                    s.danger,
                )
            };
            lines.push(Line::styled(what, style));
            lines.push(Line::raw(""));
            target_lines(&mut lines, &p.target);
            lines.push(field("Operation", req.op.name().to_string()));
        }
        // Its own view: see `render`.
        CfnMutation::ExecuteChangeSet(_) => {}
        // Any other change to one stack: what runs, where, and the operation.
        other => {
            lines.push(Line::raw(format!(" {}", req.op.describe())));
            lines.push(Line::raw(""));
            if let Some(target) = other.stack_target() {
                target_lines(&mut lines, target);
            }
            lines.push(field("Operation", req.op.name().to_string()));
        }
    }
    lines
}

/// The compliance rules' verdict in the deploy's confirmation: every unwaived failure (rule,
/// severity, resource, controls, message), waived ones marked as such, and a template that
/// could not be judged said plainly.
fn compliance_lines(
    state: &State,
    verdict: &crate::ops::ComplianceVerdict,
    lines: &mut Vec<Line<'static>>,
) {
    let s = &state.styles;
    lines.push(Line::raw(""));
    if let Some(why) = verdict.unjudged() {
        lines.push(Line::styled(
            format!(" Compliance: NOT judged — {why}; this counts as a failure"),
            s.danger,
        ));
    }
    let errors = verdict.errors();
    if !errors.is_empty() {
        lines.push(Line::styled(
            format!(
                " Compliance: {} check(s) could not be made — each counts as an unwaived failure",
                errors.len()
            ),
            s.danger,
        ));
        for e in errors {
            lines.push(Line::styled(format!("   error    {e}"), s.danger));
        }
    }
    for note in verdict.notes() {
        lines.push(Line::styled(format!(" {note}"), s.warning));
    }
    let failures = verdict.failures();
    if failures.is_empty() && verdict.not_judged().is_empty() {
        lines.push(Line::styled(
            " Compliance: no unwaived failures (NIST 800-53 rules passed)",
            s.ok,
        ));
    } else if !failures.is_empty() {
        lines.push(Line::styled(
            format!(
                " Compliance: {} unwaived failure(s) — continue only by typing the stack name",
                failures.len()
            ),
            s.danger,
        ));
    }
    let row = |f: &crate::ops::ComplianceFailure, style, tag: &str| {
        [
            Line::from(vec![
                Span::styled(format!("   {:<8} ", f.severity.as_str()), style),
                Span::styled(format!("{} ", f.rule), style),
                Span::raw(format!("{} ", f.resource)),
                Span::styled(format!("[{}]{tag}", f.controls.join(", ")), s.muted),
            ]),
            Line::styled(format!("     {}", f.message), s.muted),
        ]
    };
    for f in failures {
        let style = if f.severity >= crate::compliance::model::Severity::High {
            s.danger
        } else {
            s.warning
        };
        lines.extend(row(f, style, ""));
    }
    for f in verdict.waived() {
        lines.extend(row(f, s.muted, " waived"));
    }
}
