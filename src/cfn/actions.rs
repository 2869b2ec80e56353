//! CloudFormation's entries in the action registry, and what each does in the console.

use crate::actions;
use crate::cfn::ops::{CancelUpdateStack, CfnRead, ContinueUpdateRollback};
use crate::cfn::plan;
use crate::cfn::tui::{self, deploy, stack_actions};
use crate::ops::{MutatingOp, Op, PlanCtx, PlanError, ReadOp};
use crate::registry::{
    self, Action, ActionSpec, Context, KeyCode, Kind, NO_ARGS, bind, code, ctrl, hint, k,
};
use crate::tui::state::{Cmd, State, ToastLevel, plan_action};
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// The argument schema of an action on one stack.
const STACK_ARG: &str = r#"{"type":"object","properties":{"stack":{"type":"string","description":"the stack's name or ARN"}},"required":["stack"],"additionalProperties":false}"#;

actions! {
    /// CloudFormation: stacks, their detail, deploys, drift, protection and deletes.
    pub enum CfnAction {
        ListStacks => ActionSpec::new("list-stacks", "List the CloudFormation stacks in the region", Kind::Read)
            .command("stacks", &["stack"], "")
            .help("focus Inventory on the stack list")
            .schema(NO_ARGS)
            .plan(plan_list),
        DescribeStack => ActionSpec::new("describe-stack", "Show a stack: status, parameters, outputs, resources, events", Kind::Read)
            .binds(&[hint(Context::Inventory, &[code(KeyCode::Enter)], "detail")])
            .command("describe", &[], "STACK")
            .help("open the stack's detail")
            .schema(STACK_ARG)
            .plan(plan_describe),
        StackEvents => ActionSpec::new("stack-events", "Show a stack's most recent events (newest first), with their reasons", Kind::Read)
            .command("stack-events", &[], "STACK")
            .help("the stack's recent events (its Events tab)")
            .schema(STACK_ARG)
            .plan(plan_events),
        NextSection => ActionSpec::new("next-section", "Next section of the stack's detail", Kind::Ui)
            .binds(&[hint(Context::StackDetail, &[k(']'), code(KeyCode::Right)], "section")])
            .help("next section"),
        PrevSection => ActionSpec::new("previous-section", "Previous section of the stack's detail", Kind::Ui)
            .binds(&[bind(Context::StackDetail, &[k('['), code(KeyCode::Left)])])
            .help("previous section"),
        CloseDetail => ActionSpec::new("close-detail", "Back to the stack list", Kind::Ui)
            .binds(&[hint(Context::StackDetail, &[code(KeyCode::Esc)], "back")])
            .help("back to the stack list"),
        DeployTemplate => ActionSpec::new("deploy-template", "Deploy a template by change set (form, review, confirm)", Kind::Mutating)
            .command("deploy", &[], "TEMPLATE [STACK]")
            .help("deploy a library template or file (form, then change set); alone: Kubernetes deployments, as in k9s")
            .tier("y/Enter to compute the change set, typed name in PRD or with compliance failures; executing: typed name for removals, replacements and PRD")
            .schema(r#"{"type":"object","properties":{"template":{"type":"string","description":"a library template name (s3-bucket, vpc-3az, ec2-instance, rds-postgres, alb, eks-cluster, eks-nodegroup, kms-key) or a template file"},"stack":{"type":"string","description":"the stack to create or update"},"parameters":{"type":"object","additionalProperties":{"type":"string"},"description":"parameter values; others keep their default (or current value); secrets cannot be given here"},"environment":{"type":"string","enum":["DEV","TST","PRD"],"description":"the environment the operator means; refused when the account is another"}},"required":["template","stack"],"additionalProperties":false}"#)
            .plan(plan_deploy),
        PickTemplate => ActionSpec::new("pick-template", "Pick a library template to deploy", Kind::Mutating)
            .binds(&[hint(Context::Inventory, &[k('n')], "deploy")])
            .help("deploy a library template or file (form, then change set)")
            .tier("as deploy-template"),
        UpdateStack => ActionSpec::new("update-stack", "Update a stack: its template, new parameter values", Kind::Mutating)
            .binds(&[
                hint(Context::Inventory, &[k('u')], "update"),
                hint(Context::StackDetail, &[k('u')], "update"),
            ])
            .help("update the stack (its template, new parameter values)")
            .tier("as deploy-template")
            .schema(r#"{"type":"object","properties":{"stack":{"type":"string","description":"the stack's name or ARN"},"parameters":{"type":"object","additionalProperties":{"type":"string"},"description":"new parameter values; the others stay as they are; secrets cannot be given here"}},"required":["stack"],"additionalProperties":false}"#)
            .plan(plan_update),
        DeleteStack => ActionSpec::new("delete-stack", "Delete a stack and the resources it manages", Kind::Mutating)
            .binds(&[
                hint(Context::Inventory, &[k('d'), ctrl('k')], "delete"),
                hint(Context::StackDetail, &[k('d'), ctrl('k')], "delete"),
            ])
            .help("delete the stack (lists what it keeps; type its name)")
            .tier("typed name, always")
            .schema(STACK_ARG)
            .plan(plan_delete),
        SetProtection => ActionSpec::new("set-termination-protection", "Turn a stack's termination protection on or off", Kind::Mutating)
            .binds(&[hint(Context::StackDetail, &[k('p')], "protect")])
            .help("turn termination protection on/off")
            .tier("turning it off: typed name, always; on: typed name in PRD")
            .schema(r#"{"type":"object","properties":{"stack":{"type":"string","description":"the stack's name or ARN"},"enabled":{"type":"boolean","description":"on or off; none: the opposite of now"}},"required":["stack"],"additionalProperties":false}"#)
            .plan(plan_protection),
        DetectDrift => ActionSpec::new("detect-drift", "Detect drift of a stack", Kind::Read)
            .binds(&[
                hint(Context::Inventory, &[k('D')], "drift"),
                hint(Context::StackDetail, &[k('D')], "drift"),
            ])
            .help("detect drift (a job; the result shows in the Drift tab)")
            .schema(STACK_ARG)
            .plan(plan_drift),
        FollowStack => ActionSpec::new("follow-stack", "Follow a stack's events live", Kind::Read)
            .binds(&[
                hint(Context::Inventory, &[k('f')], "follow"),
                hint(Context::StackDetail, &[k('f')], "follow"),
            ])
            .help("follow the stack's events live (in Jobs)")
            .schema(STACK_ARG)
            .plan(plan_follow),
        ContinueRollback => ActionSpec::new("continue-update-rollback", "Continue a stack's failed rollback (UPDATE_ROLLBACK_FAILED), skipping resources if asked", Kind::Mutating)
            .binds(&[
                bind(Context::Inventory, &[k('R')]),
                bind(Context::StackDetail, &[k('R')]),
            ])
            .command("continue-rollback", &[], "[STACK] [RESOURCE...]")
            .help("continue a failed rollback (:continue-rollback STACK RES… skips)")
            .tier("typed name when resources are skipped or in PRD; otherwise y/Enter")
            .schema(r#"{"type":"object","properties":{"stack":{"type":"string","description":"the stack's name or ARN"},"skip":{"type":"array","items":{"type":"string"},"description":"logical ids of resources to skip"}},"required":["stack"],"additionalProperties":false}"#)
            .plan(plan_continue_rollback),
        CancelUpdate => ActionSpec::new("cancel-update-stack", "Cancel a stack's update in progress (it rolls back)", Kind::Mutating)
            .binds(&[
                bind(Context::Inventory, &[k('X')]),
                bind(Context::StackDetail, &[k('X')]),
            ])
            .command("cancel-update", &[], "[STACK]")
            .help("cancel an update in progress (it rolls back)")
            .tier("typed name in PRD; otherwise y/Enter")
            .schema(STACK_ARG)
            .plan(plan_cancel_update),
        SortByName => ActionSpec::new("sort-by-name", "Sort stacks by name", Kind::Ui)
            .binds(&[bind(Context::Inventory, &[k('N')])])
            .help("sort by name (again: reverse)"),
        SortByStatus => ActionSpec::new("sort-by-status", "Sort stacks by status", Kind::Ui)
            .binds(&[bind(Context::Inventory, &[k('S')])])
            .help("sort by status (again: reverse)"),
        SortByUpdated => ActionSpec::new("sort-by-update", "Sort stacks by last update", Kind::Ui)
            .binds(&[bind(Context::Inventory, &[k('A')])])
            .help("sort by last update, newest first (again: reverse)"),
    }
}

fn plan_list<'a>(ctx: &'a dyn PlanCtx, _: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let scope = crate::ops::ReadScope {
            region: ctx.region().unwrap_or_else(|| "the default region".into()),
        };
        Ok(Op::Read(ReadOp::Cfn(CfnRead::ListStacks { scope })))
    })
}

fn plan_describe<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = registry::arg(args, "stack")?;
        let read = plan::stack_read(ctx, stack, |scope, stack_id, stack_name| {
            CfnRead::DescribeStack {
                scope,
                stack_id,
                stack_name,
            }
        });
        Ok(Op::Read(read.await?))
    })
}

fn plan_events<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = registry::arg(args, "stack")?;
        let read = plan::stack_read(ctx, stack, |scope, stack_id, stack_name| {
            CfnRead::StackEvents {
                scope,
                stack_id,
                stack_name,
            }
        });
        Ok(Op::Read(read.await?))
    })
}

/// A change set to compute: the template judged for compliance before the gate sees it.
fn plan_deploy<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let template = registry::arg(args, "template")?;
        let stack = registry::arg(args, "stack")?;
        let expected = args.get("environment").and_then(Value::as_str);
        let op = plan::deploy_template(ctx, template, stack, args, expected).await?;
        Ok(Op::Mutate(MutatingOp::from(op)))
    })
}

/// A change set on the stack's current template with new parameter values.
fn plan_update<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = registry::arg(args, "stack")?;
        let op = plan::update_stack(ctx, stack, args).await?;
        Ok(Op::Mutate(MutatingOp::from(op)))
    })
}

/// On or off as asked (none: the opposite of now), from the stack's detail.
fn plan_protection<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = plan::resolve_stack(ctx, registry::arg(args, "stack")?).await?;
        let detail = plan::describe_stack(ctx, &stack).await?;
        let mut op = plan::toggle_protection(ctx, &detail)?;
        if let Some(enabled) = args.get("enabled").and_then(Value::as_bool) {
            if enabled == detail.termination_protection {
                return Err(PlanError::Refused(format!(
                    "termination protection of {} is already {}",
                    stack.name,
                    if enabled { "on" } else { "off" }
                )));
            }
            op.enabled = enabled;
        }
        Ok(Op::Mutate(MutatingOp::from(op)))
    })
}

fn plan_drift<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = registry::arg(args, "stack")?;
        let read = plan::stack_read(ctx, stack, |scope, stack_id, stack_name| {
            CfnRead::DetectDrift {
                scope,
                stack_id,
                stack_name,
            }
        });
        Ok(Op::Read(read.await?))
    })
}

fn plan_follow<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = registry::arg(args, "stack")?;
        let read = plan::stack_read(ctx, stack, |scope, stack_id, stack_name| {
            CfnRead::FollowStack {
                scope,
                stack_id,
                stack_name,
            }
        });
        Ok(Op::Read(read.await?))
    })
}

/// What its DeletionPolicy keeps, read now; a protected stack is refused before any dialog.
fn plan_delete<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = plan::resolve_stack(ctx, registry::arg(args, "stack")?).await?;
        let (op, _) = plan::delete_stack(ctx, &stack).await?;
        Ok(Op::Mutate(MutatingOp::from(op)))
    })
}

/// From `UPDATE_ROLLBACK_FAILED` only; the resources to skip must be the stack's own.
fn plan_continue_rollback<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = plan::resolve_stack(ctx, registry::arg(args, "stack")?).await?;
        let detail = plan::describe_stack(ctx, &stack).await?;
        let status = &detail.summary.status;
        if status != "UPDATE_ROLLBACK_FAILED" {
            return Err(PlanError::Refused(format!(
                "stack {} is {status}: a rollback is continued only from UPDATE_ROLLBACK_FAILED",
                stack.name
            )));
        }
        let resources_to_skip = registry::arg_list(args, "skip")?;
        if let Some(unknown) = resources_to_skip
            .iter()
            .find(|id| !detail.resources.iter().any(|r| r.logical_id == **id))
        {
            return Err(PlanError::Input(format!(
                "stack {} has no resource {unknown} to skip (see its Resources tab)",
                stack.name
            )));
        }
        let target = plan::target(ctx, &detail.summary)?;
        Ok(Op::Mutate(MutatingOp::from(ContinueUpdateRollback {
            target,
            resources_to_skip,
        })))
    })
}

/// During `UPDATE_IN_PROGRESS` only.
fn plan_cancel_update<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let stack = plan::resolve_stack(ctx, registry::arg(args, "stack")?).await?;
        let detail = plan::describe_stack(ctx, &stack).await?;
        let status = &detail.summary.status;
        if status != "UPDATE_IN_PROGRESS" {
            return Err(PlanError::Refused(format!(
                "stack {} is {status}: only an update in progress (UPDATE_IN_PROGRESS) can be cancelled",
                stack.name
            )));
        }
        let target = plan::target(ctx, &detail.summary)?;
        Ok(Op::Mutate(MutatingOp::from(CancelUpdateStack { target })))
    })
}

/// The selected stack as a plan's argument: its ARN (what is confirmed is that stack, even if
/// another later takes its name).
fn selected(state: &mut State) -> Option<Value> {
    match stack_actions::current_stack(state) {
        Some(stack) => Some(json!({ "stack": stack.id })),
        None => {
            state.toast(ToastLevel::Info, "no stack selected");
            None
        }
    }
}

/// What a CloudFormation action does in the console.
pub fn apply(state: &mut State, action: CfnAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        CfnAction::ListStacks => {
            state.focus = crate::registry::Pane::Inventory;
            // The Inventory pane lists stacks again (it may have listed Kubernetes).
            state.kube.shown = false;
            state.inventory.detail = None;
            if !state.inventory.loaded && !state.inventory.loading {
                return tui::refresh_stacks(state);
            }
        }
        CfnAction::DescribeStack => {
            if let Some(name) = args.first() {
                return stack_actions::open_by_name(state, name);
            }
            return tui::open(state);
        }
        CfnAction::StackEvents => {
            let opened = match args.first() {
                Some(name) => stack_actions::open_by_name(state, name),
                None => tui::open(state),
            };
            if let Some(view) = &mut state.inventory.detail {
                view.tab = tui::DetailTab::Events;
            }
            return opened;
        }
        CfnAction::NextSection => tui::cycle_tab(state, true),
        CfnAction::PrevSection => tui::cycle_tab(state, false),
        CfnAction::CloseDetail => {
            tui::back(state);
        }
        CfnAction::DeployTemplate => match args {
            // `:deploy` alone is k9s's deployments view; `n` picks a template.
            [] if state.focus != crate::registry::Pane::Chat => {
                return crate::kube::actions::apply(
                    state,
                    crate::kube::actions::KubeAction::Deployments,
                    &[],
                );
            }
            [] => state.toast(
                ToastLevel::Info,
                format!(
                    "usage: deploy TEMPLATE [STACK] — library: {}",
                    crate::cfn::library::LIBRARY
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            [template, rest @ ..] => {
                return deploy::deploy_command(state, template, rest.first().copied());
            }
        },
        CfnAction::PickTemplate => return deploy::open_picker(state),
        CfnAction::UpdateStack => return deploy::request_update(state),
        CfnAction::DeleteStack => return stack_actions::request_delete(state),
        CfnAction::SetProtection => stack_actions::toggle_protection(state),
        CfnAction::DetectDrift => return stack_actions::detect_drift(state),
        CfnAction::FollowStack => return stack_actions::follow(state),
        CfnAction::ContinueRollback => {
            let args = match args {
                [stack, skip @ ..] => json!({ "stack": stack, "skip": skip }),
                [] => match selected(state) {
                    Some(args) => args,
                    None => return Vec::new(),
                },
            };
            return plan_action(state, Action::Cfn(action), args);
        }
        CfnAction::CancelUpdate => {
            let args = match args {
                [stack, ..] => json!({ "stack": stack }),
                [] => match selected(state) {
                    Some(args) => args,
                    None => return Vec::new(),
                },
            };
            return plan_action(state, Action::Cfn(action), args);
        }
        CfnAction::SortByName => stack_actions::sort(state, tui::StackSort::Name),
        CfnAction::SortByStatus => stack_actions::sort(state, tui::StackSort::Status),
        CfnAction::SortByUpdated => stack_actions::sort(state, tui::StackSort::Updated),
    }
    Vec::new()
}
