//! What `check-template` and `show-compliance` answer outside the pane (`opsdeck run`, the
//! assistant's tools): the same judgement the Compliance pane shows — the library with its
//! defaults, or a deployed stack's template with its current parameters — as compact JSON.
//! Rules run on a blocking thread, never on the caller's loop.

use crate::cfn::plan;
use crate::compliance::Checker;
use crate::compliance::report::{ControlState, Report};
use crate::compliance::tui::{StackRef, judge_library, judge_stack};
use crate::ops::{PlanCtx, PlanError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Failures listed in one answer at most; the rest are counted.
const MAX_FAILURES: usize = 40;

/// Judge the library (no stack) or the stack `stack` names; the report and what it covers.
async fn judge(ctx: &dyn PlanCtx, stack: Option<&str>) -> Result<(String, Report), PlanError> {
    let checker: Arc<Checker> = ctx.checker().ok_or_else(|| {
        PlanError::Failed(
            "the compliance rules are not loaded here, so nothing could be judged".into(),
        )
    })?;
    let judged = match stack {
        None => tokio::task::spawn_blocking(move || judge_library(&checker)).await,
        Some(name) => {
            let summary = plan::resolve_stack(ctx, name).await?;
            let detail = plan::describe_stack(ctx, &summary).await?;
            let text = plan::get_template(ctx, &summary).await?;
            let parameters: BTreeMap<String, String> = detail
                .parameters
                .iter()
                .map(|p| (p.key.clone(), p.value.clone()))
                .collect();
            let account = plan::target(ctx, &summary).map(|t| t.environment);
            let environment = account.unwrap_or(crate::model::Environment::Unmapped);
            let stack = StackRef {
                id: summary.id.clone(),
                name: summary.name.clone(),
            };
            tokio::task::spawn_blocking(move || {
                judge_stack(&checker, stack, &text, &parameters, environment)
            })
            .await
        }
    };
    let judged = judged.map_err(|e| PlanError::Failed(format!("judging stopped: {e}")))?;
    Ok((judged.title, judged.report))
}

fn failure_rows<'a>(report: &'a Report, findings: impl Iterator<Item = &'a usize>) -> Vec<Value> {
    findings
        .filter_map(|&i| report.findings.get(i))
        .filter(|f| f.counts())
        .map(|f| {
            json!({
                "rule": f.rule,
                "severity": f.severity.as_str(),
                "source": f.source,
                "resource": f.resource,
                "message": f.message,
            })
        })
        .collect()
}

/// `check-template`: the summary, the unwaived failures (worst first) and what could not be
/// judged.
pub async fn check_template(ctx: &dyn PlanCtx, args: &Value) -> Result<Value, PlanError> {
    let stack = args
        .get("stack")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let (scope, report) = judge(ctx, stack).await?;
    let mut failures: Vec<&crate::compliance::model::Finding> =
        report.failures().collect::<Vec<_>>();
    failures.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    let total = failures.len();
    let listed: Vec<Value> = failures
        .into_iter()
        .take(MAX_FAILURES)
        .map(|f| {
            json!({
                "rule": f.rule,
                "severity": f.severity.as_str(),
                "source": f.source,
                "resource": f.resource,
                "controls": f.controls,
                "message": f.message,
            })
        })
        .collect();
    Ok(json!({
        "scope": scope,
        "summary": report.summary(),
        "failures": listed,
        "failures_not_listed": total.saturating_sub(MAX_FAILURES),
        "errors": report.errors,
    }))
}

/// `show-compliance`: every control (or the one asked for, by label such as `SC-28` or a
/// family such as `SC`) with its state and its unwaived failures.
pub async fn show_compliance(ctx: &dyn PlanCtx, args: &Value) -> Result<Value, PlanError> {
    let stack = args
        .get("stack")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let wanted = args
        .get("control")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase);
    let (scope, report) = judge(ctx, stack).await?;
    let matches = |label: &str, id: &str, family: &str| match &wanted {
        None => true,
        Some(w) => {
            let label = label.to_ascii_lowercase();
            // `SC-28` also covers its enhancements (`SC-28(1)`); `SC` is the family.
            label == *w || id == w || family == w || label.starts_with(&format!("{w}("))
        }
    };
    let controls: Vec<Value> = report
        .controls
        .iter()
        .filter(|c| matches(&c.control.label, &c.control.id, &c.control.family))
        .filter(|c| wanted.is_some() || c.state != ControlState::NotApplicable)
        .map(|c| {
            json!({
                "control": c.control.label,
                "title": c.control.title,
                "state": c.state.as_str(),
                "rules": c.rules,
                "failures": failure_rows(&report, c.findings.iter()),
            })
        })
        .collect();
    if let Some(w) = &wanted
        && controls.is_empty()
    {
        return Err(PlanError::NotFound(format!(
            "no rule in the compliance pack supports control {}; the pack covers {} controls (see the Compliance pane)",
            w.to_ascii_uppercase(),
            report.controls.len()
        )));
    }
    Ok(json!({
        "scope": scope,
        "summary": report.summary(),
        "controls": controls,
        "errors": report.errors,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ReadOutput;
    use crate::engine::ports::ProviderError;
    use crate::model::Environment;
    use futures::future::BoxFuture;

    struct Ctx(Option<Arc<Checker>>);

    impl crate::ops::SessionFacts for Ctx {
        fn region(&self) -> Option<String> {
            Some("us-east-1".into())
        }
        fn environment_of(&self, _: &str) -> Environment {
            Environment::Dev
        }
        fn kube_environment(&self, _: &str, _: &str) -> Environment {
            Environment::Dev
        }
        fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
            None
        }
    }

    impl PlanCtx for Ctx {
        fn read(&self, op: crate::ops::ReadOp) -> BoxFuture<'_, Result<ReadOutput, ProviderError>> {
            let name = op.name();
            Box::pin(async move {
                Err(ProviderError::new(
                    crate::engine::ports::ErrorKind::Invalid,
                    format!("no read expected ({name})"),
                ))
            })
        }
        fn checker(&self) -> Option<Arc<Checker>> {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn a_control_of_the_library_is_answered_with_its_state() {
        let ctx = Ctx(Some(crate::compliance::tui::bundled_checker()));
        let answer = show_compliance(&ctx, &json!({ "control": "sc-28" }))
            .await
            .expect("answers");
        let controls = answer["controls"].as_array().expect("a list");
        assert!(!controls.is_empty(), "{answer}");
        assert!(
            controls.iter().all(|c| c["control"]
                .as_str()
                .is_some_and(|l| l.starts_with("SC-28"))),
            "{answer}"
        );
        let unknown = show_compliance(&ctx, &json!({ "control": "ZZ-99" })).await;
        assert!(
            matches!(unknown, Err(PlanError::NotFound(_))),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn without_the_rules_nothing_is_said_to_pass() {
        let ctx = Ctx(None);
        let answer = check_template(&ctx, &json!({})).await;
        assert!(matches!(answer, Err(PlanError::Failed(_))), "{answer:?}");
    }
}
