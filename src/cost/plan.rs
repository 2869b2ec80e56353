//! Cost's plans, shared by the console, the headless commands and (later) the assistant: the
//! spend read for the session, deployed stacks' templates and parameter values for their
//! estimates, the cost verdict of a deploy, and reaping operations from idle findings.

use crate::cfn::model::StackSummary;
use crate::config::CostSettings;
use crate::cost::catalogue::Catalogue;
use crate::cost::estimate::{Pricing, SourceEstimate, estimate_template};
use crate::cost::headless::PricingInputs;
use crate::cost::model::{IdleFinding, IdleKind, IdleReport, SpendReport};
use crate::cost::ops::{
    CostMutation, CostRead, DeleteVolumes, PriceBook, ReapTarget, Reapable, ReleaseAddresses,
    SpendQuery, StopInstances,
};
use crate::cost::port::CostOutput;
use crate::cost::usage::Usage;
use crate::cost::verdict::{CostDelta, CostVerdict, Money};
use crate::engine::ReadOutput;
use crate::model::Environment;
use crate::ops::{PlanCtx, PlanError, ReadOp, ReadScope, SessionFacts};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The spend read: `months` before this one, the configured tag and call budget.
pub fn spend_query(
    settings: &CostSettings,
    data_dir: &Path,
    now_ms: i64,
    months: u32,
    free_only: bool,
) -> SpendQuery {
    SpendQuery {
        months,
        allocation_tag: settings.allocation_tag.clone(),
        budget: crate::cost::spend::call_budget(data_dir, settings.daily_call_budget),
        free_only,
        today: crate::cost::dates::format_day(crate::cost::dates::today(now_ms)),
        cache: None,
    }
}

/// What the cost plans need from where they run: the catalogue, the usage file, the settings
/// and the data dir (the call counter and the spend cache), or why there is none.
fn pricing(ctx: &dyn PlanCtx, what: &str) -> Result<Arc<PricingInputs>, PlanError> {
    ctx.pricing().ok_or_else(|| {
        PlanError::Failed(format!(
            "the price catalogue is not loaded here (a usage file that does not load stops it too), so {what}"
        ))
    })
}

/// `show-spend`: the spend read as `opsdeck spend` makes it — `months` before this one (0 to
/// 12, default 3), `free` for the billing metric only — counted against the data dir's daily
/// Cost Explorer call budget (the provider takes each request from it before sending it) and
/// answered from the account's cache while that is fresh. No settings here: no read at all,
/// never a paid request outside the budget.
pub async fn spend_read(
    ctx: &dyn PlanCtx,
    args: &serde_json::Value,
) -> Result<CostRead, PlanError> {
    let months = match args.get("months") {
        None | Some(serde_json::Value::Null) => 3,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|m| *m <= 12)
            .ok_or_else(|| {
                PlanError::Input(format!("months {v}: give a whole number from 0 to 12"))
            })? as u32,
    };
    let free_only = flag(args, "free")?;
    let inputs = pricing(
        ctx,
        "no spend is read (its call budget and cache live beside it)",
    )?;
    let account = crate::cfn::plan::account(ctx).await?;
    let now = crate::model::now_ms();
    let mut query = spend_query(&inputs.settings, &inputs.data_dir, now, months, free_only);
    query.cache = Some(crate::cost::spend::cache_for(
        &inputs.data_dir,
        &account,
        inputs.settings.cache_hours,
        false,
    ));
    Ok(CostRead::Spend(query))
}

/// A yes/no argument: a boolean, or `true`/`false` as text (`opsdeck run --arg free=true`).
fn flag(args: &serde_json::Value, name: &str) -> Result<bool, PlanError> {
    match args.get(name) {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(PlanError::Input(format!("{name} {v}: give true or false"))),
    }
}

/// `list-idle`: the idle scan of the session's region, priced with the catalogue loaded here
/// (none loaded: the findings come unpriced, never with made-up figures).
pub fn idle_read(ctx: &dyn PlanCtx) -> CostRead {
    CostRead::Idle {
        scope: ReadScope {
            region: ctx
                .region()
                .unwrap_or_else(|| "the default region".to_string()),
        },
        prices: ctx.pricing().map(|p| PriceBook(p.catalogue.clone())),
    }
}

/// `reap-idle`: scan (through the engine), then resolve exactly the findings to reap into one
/// reaping operation, resolved to the account, region and environment now. `ids`: exactly
/// those findings (an id the scan did not find is refused); none: every reapable finding, of
/// `kind` when given. One operation reaps one kind: findings of several kinds are refused
/// with the kinds and ids to ask for. Nothing runs here: the gate (DEV only, never in
/// read-only mode) and the typed confirmation decide.
pub async fn reap_idle(
    ctx: &dyn PlanCtx,
    args: &serde_json::Value,
) -> Result<CostMutation, PlanError> {
    let ids = crate::registry::arg_list(args, "ids")?;
    if ids.is_empty() && args.get("ids").is_some_and(|v| !v.is_null()) {
        // An empty list is not "every finding": leaving `ids` out is how that is asked.
        return Err(PlanError::Input(
            "ids is empty: name the findings to reap, or leave ids out to reap every reapable finding (of kind, when given)".into(),
        ));
    }
    let kind = match args.get("kind") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(k)) if k.is_empty() => None,
        Some(serde_json::Value::String(k)) => Some(
            REAPABLE_KINDS
                .iter()
                .copied()
                .find(|r| r.as_str() == k)
                .ok_or_else(|| {
                    PlanError::Input(format!(
                        "kind {k:?}: opsdeck reaps kind=instance, kind=volume or kind=elastic-ip"
                    ))
                })?,
        ),
        Some(other) => {
            return Err(PlanError::Input(format!(
                "kind {other}: give kind=instance, kind=volume or kind=elastic-ip"
            )));
        }
    };
    let account = crate::cfn::plan::account(ctx).await?;
    let report = match ctx.read(ReadOp::Cost(idle_read(ctx))).await {
        Ok(ReadOutput::Cost(CostOutput::Idle(report))) => *report,
        Ok(_) => {
            return Err(PlanError::Failed(
                "cannot scan for idle resources: the engine answered another read".into(),
            ));
        }
        Err(e) => return Err(PlanError::read_failed("scan for idle resources", e)),
    };
    let findings = select_reapable(&report, &ids, kind)?;
    reap(ctx, &account, &findings)
}

/// The kinds opsdeck reaps, in the order it names them.
const REAPABLE_KINDS: [IdleKind; 3] = [IdleKind::Instance, IdleKind::Volume, IdleKind::Address];

/// A finding reaping can take: a stopped-able instance, an unattached volume, a loose
/// Elastic IP.
fn reapable(f: &IdleFinding) -> bool {
    match f.kind {
        IdleKind::Volume => f.reason.starts_with("unattached"),
        other => other.reaping().is_some(),
    }
}

/// The findings `ids` names (all of them found), or every reapable one (of `kind`); refused
/// when nothing is left or they span several kinds.
pub fn select_reapable(
    report: &IdleReport,
    ids: &[String],
    kind: Option<IdleKind>,
) -> Result<Vec<IdleFinding>, PlanError> {
    let chosen: Vec<IdleFinding> = if ids.is_empty() {
        report
            .findings
            .iter()
            .filter(|f| reapable(f) && kind.is_none_or(|k| f.kind == k))
            .cloned()
            .collect()
    } else {
        if let Some(unknown) = ids
            .iter()
            .find(|id| !report.findings.iter().any(|f| &f.id == *id))
        {
            return Err(PlanError::Refused(format!(
                "{unknown} is not among the idle findings in {} (list-idle shows them)",
                report.region
            )));
        }
        let chosen: Vec<IdleFinding> = report
            .findings
            .iter()
            .filter(|f| ids.contains(&f.id))
            .cloned()
            .collect();
        if let (Some(k), Some(other)) = (kind, chosen.iter().find(|f| Some(f.kind) != kind)) {
            return Err(PlanError::Input(format!(
                "{} is of kind {}, not {}",
                other.id,
                other.kind.as_str(),
                k.as_str()
            )));
        }
        chosen
    };
    if chosen.is_empty() {
        return Err(PlanError::Refused(format!(
            "no idle {} to reap in {} ({} finding(s), none that opsdeck reaps)",
            kind.map_or("resource", IdleKind::as_str),
            report.region,
            report.findings.len()
        )));
    }
    let kinds: Vec<String> = REAPABLE_KINDS
        .iter()
        .chain(&[
            IdleKind::LoadBalancer,
            IdleKind::DbInstance,
            IdleKind::NatGateway,
        ])
        .filter_map(|k| {
            let of: Vec<&str> = chosen
                .iter()
                .filter(|f| f.kind == *k)
                .map(|f| f.id.as_str())
                .collect();
            (!of.is_empty()).then(|| format!("kind={} ({})", k.as_str(), of.join(", ")))
        })
        .collect();
    if kinds.len() > 1 {
        return Err(PlanError::Refused(format!(
            "the idle resources to reap are of several kinds: {}; one request reaps one kind, so ask for one kind (or its ids) at a time",
            kinds.join("; ")
        )));
    }
    Ok(chosen)
}

/// A deployed stack's template text and parameter values.
#[derive(Debug, Clone)]
pub struct DeployedTemplate {
    pub stack: StackSummary,
    pub body: String,
    /// Values as DescribeStacks gives them; NoEcho ones (`****`) left out.
    pub parameters: BTreeMap<String, String>,
}

/// Read each stack's template and parameter values (GetTemplate, DescribeStacks), as jobs.
pub async fn deployed_templates(
    ctx: &dyn PlanCtx,
    stacks: &[StackSummary],
) -> Vec<(StackSummary, Result<DeployedTemplate, PlanError>)> {
    let mut out = Vec::with_capacity(stacks.len());
    for stack in stacks {
        let result = async {
            let detail = crate::cfn::plan::describe_stack(ctx, stack).await?;
            let body = crate::cfn::plan::get_template(ctx, stack).await?;
            Ok(DeployedTemplate {
                stack: stack.clone(),
                body,
                parameters: detail
                    .parameters
                    .into_iter()
                    .filter(|p| p.value != "****")
                    .map(|p| (p.key, p.value))
                    .collect(),
            })
        }
        .await;
        out.push((stack.clone(), result));
    }
    out
}

/// One deployed stack's estimate, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct StackCost {
    pub name: String,
    pub estimate: Result<SourceEstimate, String>,
}

/// Estimate deployed stacks' templates.
pub fn estimate_stacks(
    pricing: Pricing<'_>,
    templates: Vec<(StackSummary, Result<DeployedTemplate, PlanError>)>,
) -> Vec<StackCost> {
    templates
        .into_iter()
        .map(|(stack, t)| StackCost {
            name: stack.name.clone(),
            estimate: t.map_err(|e| e.to_string()).and_then(|t| {
                estimate_template(
                    pricing,
                    &t.body,
                    &format!("stack {}", stack.name),
                    &t.parameters,
                )
                .map_err(|e| e.to_string())
            }),
        })
        .collect()
}

/// The template a change is estimated from: text and parameter values.
pub struct Side<'a> {
    pub body: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
}

/// The cost verdict of a deploy: `before` (the stack's current template, for an update) →
/// `after`, judged against the environment's budget from the account's cached spend.
#[allow(clippy::too_many_arguments)]
pub fn change_verdict(
    catalogue: &Catalogue,
    usage: &Usage,
    region: &str,
    before: Option<Side<'_>>,
    after: Side<'_>,
    origin: &str,
    environment: Environment,
    settings: &CostSettings,
    spend: Option<(&SpendReport, &str)>,
    now_ms: i64,
) -> CostVerdict {
    let budget = settings.budget_for(environment);
    let pricing = Pricing {
        catalogue,
        usage,
        region,
    };
    let after = match estimate_template(pricing, after.body, origin, after.parameters) {
        Ok(e) => e,
        Err(e) => {
            return CostVerdict::unavailable(
                format!("the template could not be estimated: {e}"),
                environment,
                budget,
            );
        }
    };
    let before = match before {
        Some(side) => {
            match estimate_template(pricing, side.body, "current template", side.parameters) {
                Ok(e) => Some(e),
                Err(e) => {
                    return CostVerdict::unavailable(
                        format!("the stack's current template could not be estimated: {e}"),
                        environment,
                        budget,
                    );
                }
            }
        }
        None => None,
    };
    let delta = CostDelta::between(before.as_ref(), &after, catalogue.as_of_line());
    let baseline =
        spend.and_then(|(report, account)| crate::cost::spend::baseline(report, account, now_ms));
    CostVerdict::judge(delta, environment, budget, baseline)
}

/// Reaping the findings: one operation for findings of one kind (instances, unattached
/// volumes, Elastic IPs), resolved to the account, region and environment now.
pub fn reap(
    facts: &dyn SessionFacts,
    account: &str,
    findings: &[IdleFinding],
) -> Result<CostMutation, PlanError> {
    let Some(first) = findings.first() else {
        return Err(PlanError::Refused("nothing selected to reap".into()));
    };
    if findings
        .iter()
        .any(|f| f.kind != first.kind || f.region != first.region)
    {
        return Err(PlanError::Refused(
            "reap one kind of resource in one region at a time (mark only instances, volumes or Elastic IPs)".into(),
        ));
    }
    if first.kind == IdleKind::Volume
        && let Some(f) = findings
            .iter()
            .find(|f| !f.reason.starts_with("unattached"))
    {
        return Err(PlanError::Refused(format!(
            "{} is attached: only unattached volumes are reaped (stop or detach it first)",
            f.id
        )));
    }
    let target = ReapTarget {
        account: account.to_string(),
        region: first.region.clone(),
        environment: facts.environment_of(account),
    };
    let items: Vec<Reapable> = findings
        .iter()
        .map(|f| Reapable {
            id: f.id.clone(),
            name: f.name.clone(),
            detail: f.detail.clone(),
            reason: f.reason.clone(),
            monthly_saving: f.monthly.map(Money::from_usd),
        })
        .collect();
    match first.kind {
        IdleKind::Instance => Ok(CostMutation::StopInstances(StopInstances {
            target,
            instances: items,
        })),
        IdleKind::Volume => Ok(CostMutation::DeleteVolumes(DeleteVolumes {
            target,
            volumes: items,
        })),
        IdleKind::Address => Ok(CostMutation::ReleaseAddresses(ReleaseAddresses {
            target,
            addresses: items,
        })),
        IdleKind::LoadBalancer | IdleKind::DbInstance | IdleKind::NatGateway => {
            Err(PlanError::Refused(format!(
                "opsdeck does not reap a {}: delete it from its stack",
                first.kind.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: IdleKind, id: &str, reason: &str) -> IdleFinding {
        IdleFinding {
            kind,
            id: id.into(),
            name: None,
            region: "us-east-1".into(),
            reason: reason.into(),
            monthly: Some(1.0),
            priced_as: String::new(),
            stack: None,
            detail: String::new(),
            price: None,
        }
    }

    fn report(findings: Vec<IdleFinding>) -> IdleReport {
        IdleReport {
            region: "us-east-1".into(),
            findings,
            ..IdleReport::default()
        }
    }

    fn ids(found: Result<Vec<IdleFinding>, PlanError>) -> Result<Vec<String>, String> {
        found
            .map(|f| f.into_iter().map(|f| f.id).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn exactly_the_findings_asked_for_are_reaped_one_kind_at_a_time() {
        let instances = report(vec![
            finding(IdleKind::Instance, "i-1", "CPU ≤ 10 %"),
            finding(
                IdleKind::Volume,
                "vol-root",
                "under 1 IOPS a day for 7 days",
            ),
            finding(IdleKind::LoadBalancer, "arn:lb", "no healthy targets"),
            finding(IdleKind::Instance, "i-2", "CPU ≤ 10 %"),
        ]);
        let mixed = report(vec![
            finding(IdleKind::Instance, "i-1", "CPU ≤ 10 %"),
            finding(IdleKind::Volume, "vol-1", "unattached"),
            finding(IdleKind::Address, "eipalloc-1", "not associated"),
        ]);
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Nothing named: every reapable finding (an attached volume and a load balancer are not).
        assert_eq!(
            ids(select_reapable(&instances, &[], None)),
            Ok(list(&["i-1", "i-2"]))
        );
        // Named: exactly those, in the scan's order.
        assert_eq!(
            ids(select_reapable(&instances, &list(&["i-2"]), None)),
            Ok(list(&["i-2"]))
        );
        assert_eq!(
            ids(select_reapable(
                &mixed,
                &list(&["eipalloc-1", "eipalloc-1"]),
                None
            )),
            Ok(list(&["eipalloc-1"]))
        );
        // Of one kind.
        assert_eq!(
            ids(select_reapable(&mixed, &[], Some(IdleKind::Volume))),
            Ok(list(&["vol-1"]))
        );
        // Refused: an unknown id, several kinds, a named finding of another kind, nothing left.
        let why = ids(select_reapable(&instances, &list(&["i-1", "i-9"]), None)).unwrap_err();
        assert!(
            why.contains("i-9 is not among the idle findings in us-east-1"),
            "{why}"
        );
        let why = ids(select_reapable(&mixed, &[], None)).unwrap_err();
        for expected in [
            "kind=instance (i-1)",
            "kind=volume (vol-1)",
            "kind=elastic-ip (eipalloc-1)",
            "one kind",
        ] {
            assert!(why.contains(expected), "{expected} in {why}");
        }
        let why = ids(select_reapable(&mixed, &list(&["i-1", "vol-1"]), None)).unwrap_err();
        assert!(why.contains("several kinds"), "{why}");
        let why = ids(select_reapable(
            &mixed,
            &list(&["i-1"]),
            Some(IdleKind::Volume),
        ))
        .unwrap_err();
        assert!(why.contains("i-1 is of kind instance, not volume"), "{why}");
        let why = ids(select_reapable(&instances, &[], Some(IdleKind::Address))).unwrap_err();
        assert!(why.contains("no idle elastic-ip to reap"), "{why}");
        assert!(ids(select_reapable(&report(vec![]), &[], None)).is_err());
    }
}
