//! CloudFormation's plans: from a stack (by name or as listed) and the action's arguments to a
//! fully resolved operation, fetching first what must be known (what a delete keeps, whether
//! the stack is protected, its current template and parameters). The console runs them off
//! the UI thread (`cfn::tui::flows`), the headless commands await them (`cfn::headless`), and
//! the assistant will call the same functions, so each asks for exactly the same operation.

use crate::cfn::deploy::FormTemplate;
use crate::cfn::library::ChosenTemplate;
use crate::cfn::model::{ChangeSetKind, ChangeSetPreview, StackDetail, StackSummary};
use crate::cfn::ops::{
    CfnRead, DeleteStack, DiscardChangeSet, ExecuteChangeSet, SetTerminationProtection, StackTarget,
};
use crate::cfn::port::CfnOutput;
use crate::cfn::template::Template;
use crate::engine::ReadOutput;
use crate::ops::{PlanCtx, PlanError, ReadOp, ReadScope, SessionFacts};
use std::path::Path;

fn scope(ctx: &dyn SessionFacts) -> ReadScope {
    ReadScope {
        region: ctx
            .region()
            .unwrap_or_else(|| "the default region".to_string()),
    }
}

async fn read(ctx: &dyn PlanCtx, op: CfnRead, what: &str) -> Result<CfnOutput, PlanError> {
    match ctx.read(ReadOp::Cfn(op)).await {
        Ok(ReadOutput::Cfn(output)) => Ok(output),
        Ok(_) => Err(PlanError::Failed(format!(
            "cannot {what}: the engine answered another read"
        ))),
        Err(e) => Err(PlanError::read_failed(what, e)),
    }
}

/// Every stack in the session's region (deleted ones excluded).
pub async fn list_stacks(ctx: &dyn PlanCtx) -> Result<Vec<StackSummary>, PlanError> {
    let scope = scope(ctx);
    match read(ctx, CfnRead::ListStacks { scope }, "list the stacks").await? {
        CfnOutput::Stacks(stacks) => Ok(stacks),
        _ => Err(PlanError::Failed(
            "cannot list the stacks: unexpected answer".into(),
        )),
    }
}

/// The stack named `name` (not deleted), or `Ok(None)`.
pub async fn find_stack(ctx: &dyn PlanCtx, name: &str) -> Result<Option<StackSummary>, PlanError> {
    Ok(list_stacks(ctx)
        .await?
        .into_iter()
        .find(|s| s.name == name && s.status != "DELETE_COMPLETE"))
}

/// The stack named `name`, or why there is none.
pub async fn stack_named(ctx: &dyn PlanCtx, name: &str) -> Result<StackSummary, PlanError> {
    find_stack(ctx, name).await?.ok_or_else(|| {
        PlanError::NotFound(format!("no stack named {name} in {}", scope(ctx).region))
    })
}

/// The stack `name_or_arn` names (a name, or a stack ARN), or why there is none.
pub async fn resolve_stack(
    ctx: &dyn PlanCtx,
    name_or_arn: &str,
) -> Result<StackSummary, PlanError> {
    if !name_or_arn.starts_with("arn:") {
        return stack_named(ctx, name_or_arn).await;
    }
    // An ARN names one stack for good (its name is in it): whatever the plan reads next
    // (DescribeStacks by ARN) says whether it still exists.
    let name = crate::cfn::aws::stack_name_from_arn(name_or_arn)
        .ok_or_else(|| PlanError::Input(format!("{name_or_arn} is not a stack ARN")))?;
    Ok(StackSummary {
        id: name_or_arn.to_string(),
        name: name.to_string(),
        ..StackSummary::default()
    })
}

pub async fn describe_stack(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
) -> Result<StackDetail, PlanError> {
    let op = CfnRead::DescribeStack {
        scope: scope(ctx),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    };
    match read(ctx, op, &format!("describe stack {}", stack.name)).await? {
        CfnOutput::StackDetail(detail) => Ok(*detail),
        _ => Err(PlanError::Failed(format!(
            "cannot describe stack {}: unexpected answer",
            stack.name
        ))),
    }
}

pub async fn get_template(ctx: &dyn PlanCtx, stack: &StackSummary) -> Result<String, PlanError> {
    let op = CfnRead::GetTemplate {
        scope: scope(ctx),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    };
    match read(ctx, op, &format!("read the template of {}", stack.name)).await? {
        CfnOutput::Template { body, .. } => Ok(body),
        _ => Err(PlanError::Failed(format!(
            "cannot read the template of {}: unexpected answer",
            stack.name
        ))),
    }
}

/// The stack's target, from its ARN.
pub fn target(ctx: &dyn SessionFacts, stack: &StackSummary) -> Result<StackTarget, PlanError> {
    StackTarget::from_arn(&stack.id, &stack.name, |account| {
        ctx.environment_of(account)
    })
}

/// `delete-stack`: what its DeletionPolicy keeps, as CloudFormation says now; a protected
/// stack is refused before any dialog. Returns the detail too (the headless command prints it).
pub async fn delete_stack(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
) -> Result<(DeleteStack, StackDetail), PlanError> {
    let detail = describe_stack(ctx, stack).await?;
    if detail.termination_protection {
        return Err(PlanError::Refused(format!(
            "{}: termination protection is on; turn it off first (p on the stack)",
            stack.name
        )));
    }
    let op = DeleteStack {
        target: target(ctx, stack)?,
        retained: detail.retained.clone(),
    };
    Ok((op, detail))
}

/// A read of one stack (describe, drift, follow), resolved from its name or ARN.
pub async fn stack_read(
    ctx: &dyn PlanCtx,
    name_or_arn: &str,
    read: fn(ReadScope, String, String) -> CfnRead,
) -> Result<ReadOp, PlanError> {
    let stack = resolve_stack(ctx, name_or_arn).await?;
    Ok(ReadOp::Cfn(read(scope(ctx), stack.id, stack.name)))
}

/// `set-termination-protection`: the opposite of what the stack's detail says.
pub fn toggle_protection(
    ctx: &dyn SessionFacts,
    detail: &StackDetail,
) -> Result<SetTerminationProtection, PlanError> {
    Ok(SetTerminationProtection {
        target: target(ctx, &detail.summary)?,
        enabled: !detail.termination_protection,
    })
}

/// Executing a computed change set: the target is the change set's own stack ARN.
/// `cost` is the verdict of the request that computed it, itemised here by its rows.
pub fn execute_change_set(
    ctx: &dyn SessionFacts,
    preview: ChangeSetPreview,
    cost: &crate::cost::verdict::CostVerdict,
) -> Result<ExecuteChangeSet, PlanError> {
    let target = StackTarget::from_arn(&preview.stack_id, &preview.stack_name, |account| {
        ctx.environment_of(account)
    })
    .map_err(|_| {
        PlanError::Refused(format!(
            "change set {} names no usable stack ARN ({}); not offering to execute it",
            preview.change_set_name, preview.stack_id
        ))
    })?;
    let cost = cost.for_change_set(&preview.changes);
    Ok(ExecuteChangeSet {
        target,
        preview,
        cost,
    })
}

/// Deleting a computed change set nobody will execute, with the empty stack made for a new
/// one.
pub fn discard_change_set(execute: &ExecuteChangeSet) -> DiscardChangeSet {
    DiscardChangeSet {
        target: execute.target.clone(),
        change_set_id: execute.preview.change_set_id.clone(),
        change_set_name: execute.preview.change_set_name.clone(),
        delete_empty_stack: execute.preview.kind == ChangeSetKind::Create,
    }
}

/// What an update's form starts from: the stack, its current parameters, and the template to
/// deploy (the one chosen, else the stack's current one).
#[derive(Debug, Clone)]
pub struct UpdateSeed {
    pub stack: StackSummary,
    pub detail: StackDetail,
    /// `library:s3-bucket`, a file, or `current template of STACK`.
    pub origin: String,
    pub source: FormTemplate,
    pub template: Template,
    /// The stack's current template text: the cost before the update is estimated from it.
    pub current_body: String,
}

/// `update-stack` (and `deploy-template` onto an existing stack): the stack's current
/// parameters and, unless one was chosen, its current template.
pub async fn update_seed(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
    chosen: Option<ChosenTemplate>,
) -> Result<UpdateSeed, PlanError> {
    let detail = describe_stack(ctx, stack).await?;
    let current_body = get_template(ctx, stack).await?;
    let (origin, source, template) = match chosen {
        Some(chosen) => (
            chosen.origin,
            FormTemplate::Body(chosen.body),
            chosen.template,
        ),
        None => {
            let origin = format!("current template of {}", stack.name);
            let template = Template::parse(&current_body, Path::new(&origin)).map_err(|e| {
                PlanError::Failed(format!("cannot read the template of {}: {e}", stack.name))
            })?;
            (
                origin,
                FormTemplate::Previous(current_body.clone()),
                template,
            )
        }
    };
    Ok(UpdateSeed {
        stack: stack.clone(),
        detail,
        origin,
        source,
        template,
        current_body,
    })
}
