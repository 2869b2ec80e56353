//! Cost's plans, shared by the console, the headless commands and (later) the assistant: the
//! spend read for the session, deployed stacks' templates and parameter values for their
//! estimates, the cost verdict of a deploy, and reaping operations from idle findings.

use crate::cfn::model::StackSummary;
use crate::config::CostSettings;
use crate::cost::catalogue::Catalogue;
use crate::cost::estimate::{Pricing, SourceEstimate, estimate_template};
use crate::cost::model::{IdleFinding, IdleKind, SpendReport};
use crate::cost::ops::{
    CostMutation, DeleteVolumes, ReapTarget, Reapable, ReleaseAddresses, SpendQuery, StopInstances,
};
use crate::cost::usage::Usage;
use crate::cost::verdict::{CostDelta, CostVerdict, Money};
use crate::model::Environment;
use crate::ops::{PlanCtx, PlanError, SessionFacts};
use std::collections::BTreeMap;
use std::path::Path;

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
    }
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
