//! Cost's entries in the action registry, and what each does in the console.

use crate::actions;
use crate::cost::tui;
use crate::ops::{MutatingOp, Op, PlanCtx, PlanError, ReadOp};
use crate::registry::{ActionSpec, Context, KeyCode, Kind, Pane, bind, code, hint, k, label};
use crate::tui::state::{Cmd, State};
use futures::future::BoxFuture;
use serde_json::Value;

actions! {
    /// Cost: spend, stack estimates, idle resources and reaping.
    pub enum CostAction {
        FetchSpend => ActionSpec::new("show-spend", "Fetch the account's spend (Cost Explorer within the daily call budget; the billing metric as fallback)", Kind::Read)
            .binds(&[label(Context::Cost, &[k('r')], "refresh")])
            .command("spend", &[], "[free]")
            .help("fetch the spend again (Cost Explorer, $0.01 a request; `:spend free` reads the free billing metric)")
            .schema(r#"{"type":"object","properties":{"months":{"type":"integer","minimum":0,"maximum":12,"description":"months before the current one (default 3)"},"free":{"type":"boolean","description":"read only the free AWS/Billing metric"}},"additionalProperties":false}"#)
            .plan(plan_spend),
        EstimateStacks => ActionSpec::new("estimate-cost", "Estimate the monthly cost of a library template, a template file or a deployed stack (its template and parameter values)", Kind::Read)
            .binds(&[hint(Context::Cost, &[k('e')], "estimate stacks")])
            .command("estimate", &[], "")
            .help("estimate the listed stacks (their templates and parameter values)")
            .schema(r#"{"type":"object","properties":{"template":{"type":"string","description":"a library template name (s3-bucket, vpc-3az, ec2-instance, rds-postgres, alb, eks-cluster, eks-nodegroup, kms-key) or a template file"},"stack":{"type":"string","description":"a deployed stack's name or ARN: its template and parameter values"},"parameters":{"type":"object","additionalProperties":{"type":"string"},"description":"parameter values over the defaults (a template) or the deployed values (a stack); secrets cannot be given here"}},"additionalProperties":false}"#)
            .answer(answer_estimate),
        FindIdle => ActionSpec::new("list-idle", "Find idle resources (Trusted Advisor's thresholds)", Kind::Read)
            .binds(&[hint(Context::Cost, &[k('i')], "idle")])
            .command("idle", &[], "")
            .help("scan for idle instances, volumes, Elastic IPs, load balancers, DB instances, NAT gateways")
            .schema(crate::registry::NO_ARGS)
            .plan(plan_idle),
        NextSection => ActionSpec::new("next-cost-section", "Next section of the Cost pane", Kind::Ui)
            .binds(&[hint(Context::Cost, &[k(']'), code(KeyCode::Right)], "section")])
            .help("next section (spend, stacks, idle)"),
        PrevSection => ActionSpec::new("previous-cost-section", "Previous section of the Cost pane", Kind::Ui)
            .binds(&[bind(Context::Cost, &[k('['), code(KeyCode::Left)])])
            .help("previous section"),
        Mark => ActionSpec::new("mark-idle", "Mark an idle resource for reaping", Kind::Ui)
            .binds(&[bind(Context::Cost, &[k(' ')])])
            .help("mark the idle resource (again: unmark)"),
        Reap => ActionSpec::new("reap-idle", "Reap idle DEV resources: stop instances, snapshot then delete unattached volumes, release Elastic IPs", Kind::Mutating)
            .binds(&[hint(Context::Cost, &[k('x')], "reap")])
            .command("reap", &[], "[ID...]")
            .help("reap the marked (or selected) idle resources — DEV only, typed name")
            .tier("typed name, always; refused outside DEV")
            .schema(r#"{"type":"object","properties":{"ids":{"type":"array","items":{"type":"string"},"description":"the idle findings to reap, by id as list-idle gives them (instance, volume or Elastic IP allocation ids); none: every reapable idle finding"},"kind":{"type":"string","enum":["instance","volume","elastic-ip"],"description":"reap only this kind; one request reaps one kind, so give it when the findings are of several kinds"}},"additionalProperties":false}"#)
            .plan(plan_reap),
    }
}

fn plan_spend<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let read = crate::cost::plan::spend_read(ctx, args).await?;
        Ok(Op::Read(ReadOp::Cost(read)))
    })
}

fn plan_idle<'a>(ctx: &'a dyn PlanCtx, _args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move { Ok(Op::Read(ReadOp::Cost(crate::cost::plan::idle_read(ctx)))) })
}

fn plan_reap<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let op = crate::cost::plan::reap_idle(ctx, args).await?;
        Ok(Op::Mutate(MutatingOp::Cost(op)))
    })
}

fn answer_estimate<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Value, PlanError>> {
    Box::pin(crate::cost::answers::estimate_cost(ctx, args))
}

/// What a cost action does in the console.
pub fn apply(state: &mut State, action: CostAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        CostAction::FetchSpend => {
            state.focus = Pane::Cost;
            state.cost.section = tui::Section::Spend;
            tui::fetch_spend(state, args.first() == Some(&"free"))
        }
        CostAction::EstimateStacks => {
            state.focus = Pane::Cost;
            state.cost.section = tui::Section::Stacks;
            tui::estimate_stacks(state)
        }
        CostAction::FindIdle => {
            state.focus = Pane::Cost;
            tui::find_idle(state)
        }
        CostAction::NextSection => {
            tui::cycle_section(state, true);
            Vec::new()
        }
        CostAction::PrevSection => {
            tui::cycle_section(state, false);
            Vec::new()
        }
        CostAction::Mark => {
            tui::toggle_mark(state);
            Vec::new()
        }
        CostAction::Reap => {
            // `:reap ID...`: exactly those findings.
            if !args.is_empty() {
                state.cost.marked = args.iter().map(|a| a.to_string()).collect();
            }
            tui::reap(state)
        }
    }
}
