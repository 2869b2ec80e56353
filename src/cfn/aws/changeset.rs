//! Change sets: create (and wait for) one, execute it and follow the stack, discard it; and
//! termination protection.

use super::events::{Follower, Goal};
use crate::aws::{classify, clean, clean_opt};
use crate::cfn::model::{ChangeSetKind, ChangeSetOutcome, ChangeSetPreview, ResourceChange};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::ops::{
    Approved, CreateChangeSet, DiscardChangeSet, ExecuteChangeSet, ParamValue,
    SetTerminationProtection, TemplateSource,
};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};
use std::time::Duration;

/// The phrases CloudFormation uses when a change set (or update) would change nothing.
pub fn means_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

fn cancelled_before_start() -> ProviderError {
    ProviderError::new(ErrorKind::Cancelled, "cancelled before it started")
}

/// The SDK parameters. The one place a NoEcho value is exposed: to be sent to AWS.
fn sdk_parameters(op: &CreateChangeSet) -> Vec<Parameter> {
    op.parameters
        .iter()
        .map(|p| {
            let builder = Parameter::builder().parameter_key(&p.key);
            match &p.value {
                ParamValue::Plain(v) => builder.parameter_value(v),
                ParamValue::Secret(s) => builder.parameter_value(s.expose()),
                ParamValue::UsePrevious => builder.use_previous_value(true),
            }
            .build()
        })
        .collect()
}

/// Create the change set, wait until CloudFormation computed it, and read every change. See
/// [`crate::cfn::port::CfnApi::create_change_set`].
pub async fn create_change_set(
    cfn: &Client,
    approved: Approved<CreateChangeSet>,
    ctx: &TaskCtx,
    poll: Duration,
) -> ProviderResult<ChangeSetOutcome> {
    let op = approved.op().clone();
    let kind = op.kind();
    // Keys only: values (NoEcho or not) never reach the job log.
    let keys: Vec<_> = op
        .parameters
        .iter()
        .map(|p| match p.value {
            ParamValue::UsePrevious => format!("{} (unchanged)", p.key),
            _ => p.key.clone(),
        })
        .collect();
    ctx.info(format!(
        "CreateChangeSet {} ({}) for {} from {}; parameters: {}",
        op.change_set_name,
        kind.as_str(),
        op.stack_name,
        op.template.origin(),
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        }
    ));
    let mut request = cfn
        .create_change_set()
        .change_set_name(&op.change_set_name)
        .description("opsdeck")
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .set_parameters(Some(sdk_parameters(&op)));
    request = match &op.existing_stack_id {
        // By name, because some endpoints (moto) look UPDATE change sets up by name only; the
        // stack the change set attached to is checked against the ARN right after, and the
        // change set is executed by its own ARN, so it can never reach another stack.
        Some(_) => request
            .stack_name(&op.stack_name)
            .change_set_type(ChangeSetType::Update),
        None => request
            .stack_name(&op.stack_name)
            .change_set_type(ChangeSetType::Create),
    };
    request = match &op.template {
        TemplateSource::Body { body, .. } => request.template_body(body),
        TemplateSource::Previous => request.use_previous_template(true),
    };
    // Last moment to honour a cancel: nothing has been sent to AWS yet.
    if ctx.is_cancelled() {
        return Err(cancelled_before_start());
    }
    let out = match request.send().await.map_err(classify) {
        Ok(out) => out,
        // Some endpoints refuse an unchanged update at once instead of failing the change set.
        Err(e) if e.kind == ErrorKind::Invalid && means_no_changes(&e.message) => {
            ctx.info(format!("nothing to change: {}", e.message));
            return Ok(ChangeSetOutcome::NoChanges {
                stack_name: op.stack_name.clone(),
                message: e.message,
            });
        }
        Err(e) => return Err(e),
    };
    drop(approved);
    let change_set_id = clean(out.id());
    let stack_id = clean_opt(out.stack_id()).unwrap_or_default();
    // The change set must sit on exactly the chosen stack (an update), or on a stack in the
    // account and region the person saw in the dialog (a new one).
    let arn = crate::cfn::model::StackSummary {
        id: stack_id.clone(),
        ..Default::default()
    };
    let placed = arn.account_from_arn() == Some(op.account.as_str())
        && arn.region_from_arn() == Some(op.region.as_str());
    if !placed
        || op
            .existing_stack_id
            .as_ref()
            .is_some_and(|e| *e != stack_id)
    {
        let expected = op
            .existing_stack_id
            .clone()
            .unwrap_or_else(|| format!("a stack in {} / {}", op.account, op.region));
        // E.g. the name now belongs to another stack than the one the person chose.
        let _ = delete_change_set(cfn, ctx, &change_set_id).await;
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "the change set for {} was placed on {:?}, not on {expected}; it was deleted: refresh and deploy again",
                op.stack_name,
                if stack_id.is_empty() {
                    "no stack"
                } else {
                    stack_id.as_str()
                }
            ),
        ));
    }
    ctx.info(format!(
        "change set {change_set_id} created; waiting for CloudFormation"
    ));
    let made = Made {
        change_set_id,
        stack_id,
        stack_name: op.stack_name.clone(),
        kind,
    };

    loop {
        let described = cfn
            .describe_change_set()
            .change_set_name(&made.change_set_id)
            .send()
            .await
            .map_err(classify);
        match described {
            Err(e) if e.is_transient() => {
                ctx.warn(format!(
                    "could not read the change set, will look again: {e}"
                ));
            }
            Err(e) => {
                made.clean_up(cfn, ctx).await;
                return Err(e);
            }
            Ok(out) => {
                if let Some(outcome) = made.settle(cfn, ctx, &op.change_set_name, out).await? {
                    return Ok(outcome);
                }
            }
        }
        tokio::select! {
            _ = ctx.cancelled() => {
                ctx.warn("cancelled while CloudFormation computed the change set; removing it");
                made.clean_up(cfn, ctx).await;
                return Err(ProviderError::new(
                    ErrorKind::Cancelled,
                    "cancelled; the change set was removed",
                ));
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// A change set this job created, and what to remove if it is not to be kept.
struct Made {
    change_set_id: String,
    stack_id: String,
    stack_name: String,
    kind: ChangeSetKind,
}

impl Made {
    /// `Some(outcome)` when the change set reached a final status; `None` while CloudFormation
    /// is still computing it. A failed or unexpected change set is removed before the error.
    async fn settle(
        &self,
        cfn: &Client,
        ctx: &TaskCtx,
        change_set_name: &str,
        out: aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
    ) -> ProviderResult<Option<ChangeSetOutcome>> {
        let status = out
            .status()
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_default();
        let reason = clean(out.status_reason());
        match status.as_str() {
            "CREATE_COMPLETE" => {
                let changes = match read_changes(cfn, &self.change_set_id, out).await {
                    Ok(changes) => changes,
                    Err(e) => {
                        self.clean_up(cfn, ctx).await;
                        return Err(e);
                    }
                };
                let preview = ChangeSetPreview {
                    stack_name: self.stack_name.clone(),
                    stack_id: self.stack_id.clone(),
                    change_set_id: self.change_set_id.clone(),
                    change_set_name: change_set_name.to_string(),
                    kind: self.kind,
                    changes,
                };
                ctx.info(format!("change set ready: {}", preview.counts()));
                for c in &preview.changes {
                    ctx.info(format!(
                        "  {} {} {}{}",
                        c.action,
                        c.logical_id,
                        c.resource_type,
                        c.replacement
                            .as_deref()
                            .map(|r| format!(" (replacement: {r})"))
                            .unwrap_or_default()
                    ));
                }
                Ok(Some(ChangeSetOutcome::Ready(preview)))
            }
            "FAILED" if means_no_changes(&reason) => {
                ctx.info(format!("nothing to change: {reason}"));
                self.clean_up(cfn, ctx).await;
                Ok(Some(ChangeSetOutcome::NoChanges {
                    stack_name: self.stack_name.clone(),
                    message: reason,
                }))
            }
            "FAILED" => {
                ctx.error(format!("change set failed: {reason}"));
                self.clean_up(cfn, ctx).await;
                Err(ProviderError::new(
                    ErrorKind::Other,
                    format!(
                        "change set {change_set_name} for {} failed: {}",
                        self.stack_name,
                        if reason.is_empty() {
                            "no reason given"
                        } else {
                            &reason
                        }
                    ),
                ))
            }
            "CREATE_PENDING" | "CREATE_IN_PROGRESS" | "" => Ok(None),
            other => {
                self.clean_up(cfn, ctx).await;
                Err(ProviderError::new(
                    ErrorKind::Other,
                    format!("change set {change_set_name} is {other}: {reason}"),
                ))
            }
        }
    }

    /// Remove the change set and, for a new stack, the empty stack made to hold it. Runs
    /// after a failure or cancel: problems are logged, never raised over the first error.
    async fn clean_up(&self, cfn: &Client, ctx: &TaskCtx) {
        delete_change_set(cfn, ctx, &self.change_set_id).await.ok();
        if self.kind == ChangeSetKind::Create && !self.stack_id.is_empty() {
            delete_if_empty(cfn, ctx, &self.stack_id, &self.stack_name)
                .await
                .ok();
        }
    }
}

/// DeleteChangeSet by ARN; a change set that is already gone counts as deleted.
async fn delete_change_set(cfn: &Client, ctx: &TaskCtx, change_set_id: &str) -> ProviderResult<()> {
    match cfn
        .delete_change_set()
        .change_set_name(change_set_id)
        .send()
        .await
        .map_err(classify)
    {
        Ok(_) => {
            ctx.info(format!("deleted change set {change_set_id}"));
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            ctx.info(format!("change set {change_set_id} was already gone"));
            Ok(())
        }
        Err(e) => {
            ctx.error(format!("could not delete change set {change_set_id}: {e}"));
            Err(e)
        }
    }
}

/// Delete the stack only while it is the empty `REVIEW_IN_PROGRESS` shell of a new stack's
/// change set: a stack that holds resources is never touched here.
async fn delete_if_empty(
    cfn: &Client,
    ctx: &TaskCtx,
    stack_id: &str,
    stack_name: &str,
) -> ProviderResult<String> {
    let status = match cfn
        .describe_stacks()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(classify)
    {
        Ok(out) => out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_else(|| "DELETE_COMPLETE".into()),
        Err(e) if e.kind == ErrorKind::NotFound => "DELETE_COMPLETE".into(),
        Err(e) => {
            ctx.error(format!("could not read the status of {stack_name}: {e}"));
            return Err(e);
        }
    };
    if status == "REVIEW_IN_PROGRESS" {
        // Someone else may be reviewing their own change set on the same empty stack: leave
        // it to them.
        match cfn
            .list_change_sets()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(out) if !out.summaries().is_empty() => {
                let msg = format!(
                    "kept the empty stack {stack_name}: it holds {} other change set(s)",
                    out.summaries().len()
                );
                ctx.info(&msg);
                return Ok(msg);
            }
            Ok(_) => {}
            Err(e) => {
                ctx.warn(format!(
                    "could not list the change sets of {stack_name}, so the empty stack was kept: {e}"
                ));
                return Err(e);
            }
        }
    }
    match status.as_str() {
        "REVIEW_IN_PROGRESS" => match cfn
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) => {
                ctx.info(format!("deleted the empty stack {stack_name}"));
                Ok(format!("the empty stack {stack_name} was deleted"))
            }
            Err(e) => {
                ctx.error(format!(
                    "could not delete the empty stack {stack_name}: {e}"
                ));
                Err(e)
            }
        },
        "DELETE_COMPLETE" => Ok(format!("stack {stack_name} was already gone")),
        other => {
            ctx.info(format!(
                "stack {stack_name} is {other}, not an empty REVIEW_IN_PROGRESS stack; left alone"
            ));
            Ok(format!("stack {stack_name} ({other}) left alone"))
        }
    }
}

/// Every change of a computed change set: the first page (already read) and all the rest.
async fn read_changes(
    cfn: &Client,
    change_set_id: &str,
    first: aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> ProviderResult<Vec<ResourceChange>> {
    let mut changes: Vec<ResourceChange> = first.changes().iter().filter_map(change_of).collect();
    let mut token = first.next_token().map(str::to_string);
    while let Some(next) = token.take() {
        let page = cfn
            .describe_change_set()
            .change_set_name(change_set_id)
            .next_token(next)
            .send()
            .await
            .map_err(classify)?;
        changes.extend(page.changes().iter().filter_map(change_of));
        token = page.next_token().map(str::to_string);
    }
    Ok(changes)
}

/// One row of the preview; `None` for change kinds without a resource (none exist today).
pub fn change_of(change: &aws_sdk_cloudformation::types::Change) -> Option<ResourceChange> {
    let rc = change.resource_change()?;
    let mut details: Vec<String> = Vec::new();
    for d in rc.details() {
        let Some(target) = d.target() else { continue };
        let name = clean_opt(target.name())
            .filter(|n| !n.is_empty())
            .or_else(|| target.attribute().map(|a| clean(Some(a.as_str()))))
            .unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let text = match target.requires_recreation().map(|r| r.as_str()) {
            Some("Always") => format!("{name} (recreation: Always)"),
            Some("Conditionally") => format!("{name} (recreation: Conditionally)"),
            _ => name,
        };
        // The same property is often listed twice (static and dynamic evaluation).
        if !details.contains(&text) {
            details.push(text);
        }
    }
    Some(ResourceChange {
        action: rc
            .action()
            .map(|a| clean(Some(a.as_str())))
            .unwrap_or_default(),
        logical_id: clean(rc.logical_resource_id()),
        physical_id: clean_opt(rc.physical_resource_id()).filter(|p| !p.is_empty()),
        resource_type: clean(rc.resource_type()),
        replacement: rc.replacement().map(|r| clean(Some(r.as_str()))),
        scope: rc.scope().iter().map(|s| clean(Some(s.as_str()))).collect(),
        details,
    })
}

/// Execute the change set by ARN and follow the stack until it settles.
pub async fn execute_change_set(
    cfn: &Client,
    approved: Approved<ExecuteChangeSet>,
    ctx: &TaskCtx,
    poll: Duration,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    let target = &op.target;
    let mut follower = Follower::new(
        &target.stack_id,
        &target.stack_name,
        op.preview.changes.len(),
    );
    // Events from before the change are not this change's: noted before anything is sent.
    follower.preseed(cfn).await?;
    ctx.info(format!(
        "ExecuteChangeSet {} on {} ({})",
        op.preview.change_set_name,
        target,
        op.preview.counts()
    ));
    if ctx.is_cancelled() {
        return Err(cancelled_before_start());
    }
    cfn.execute_change_set()
        .change_set_name(&op.preview.change_set_id)
        .send()
        .await
        .map_err(classify)?;
    // The request is accepted; the approval has been used.
    drop(approved);
    follower
        .run(
            cfn,
            ctx,
            Goal::Deploy,
            poll,
            true,
            ProviderError::new(
                ErrorKind::Detached,
                "stopped following; the change goes on in CloudFormation",
            ),
        )
        .await
}

/// Delete an unexecuted change set, then the empty stack made for it (only while it is empty).
pub async fn discard_change_set(
    cfn: &Client,
    approved: Approved<DiscardChangeSet>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    ctx.info(format!(
        "DeleteChangeSet {} of {}",
        op.change_set_name, op.target
    ));
    if ctx.is_cancelled() {
        return Err(cancelled_before_start());
    }
    delete_change_set(cfn, ctx, &op.change_set_id).await?;
    drop(approved);
    let mut summary = format!("change set {} discarded", op.change_set_name);
    if op.delete_empty_stack {
        let stack = delete_if_empty(cfn, ctx, &op.target.stack_id, &op.target.stack_name).await?;
        summary.push_str("; ");
        summary.push_str(&stack);
    }
    Ok(summary)
}

pub async fn set_termination_protection(
    cfn: &Client,
    approved: Approved<SetTerminationProtection>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    let state = if op.enabled { "on" } else { "off" };
    ctx.info(format!(
        "UpdateTerminationProtection {state} for {}",
        op.target
    ));
    if ctx.is_cancelled() {
        return Err(cancelled_before_start());
    }
    cfn.update_termination_protection()
        .stack_name(&op.target.stack_id)
        .enable_termination_protection(op.enabled)
        .send()
        .await
        .map_err(classify)?;
    Ok(format!(
        "termination protection is {state} for {}",
        op.target.stack_name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, Replacement, RequiresRecreation, ResourceAttribute,
        ResourceChange as SdkChange, ResourceChangeDetail, ResourceTargetDefinition,
    };

    #[test]
    fn no_change_phrases() {
        assert!(means_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(means_no_changes("No updates are to be performed."));
        assert!(!means_no_changes("Template format error"));
    }

    #[test]
    fn details_name_properties_with_recreation() {
        let detail = |name: &str, recreation| {
            ResourceChangeDetail::builder()
                .target(
                    ResourceTargetDefinition::builder()
                        .attribute(ResourceAttribute::Properties)
                        .name(name)
                        .requires_recreation(recreation)
                        .build(),
                )
                .build()
        };
        let change = Change::builder()
            .resource_change(
                SdkChange::builder()
                    .action(ChangeAction::Modify)
                    .logical_resource_id("Db")
                    .physical_resource_id("db-1")
                    .resource_type("AWS::RDS::DBInstance")
                    .replacement(Replacement::Conditional)
                    .scope(ResourceAttribute::Properties)
                    .details(detail("Engine", RequiresRecreation::Always))
                    .details(detail("Engine", RequiresRecreation::Always))
                    .details(detail(
                        "AllocatedStorage",
                        RequiresRecreation::Conditionally,
                    ))
                    .details(detail("Tags\x1b[31m", RequiresRecreation::Never))
                    .build(),
            )
            .build();
        let row = change_of(&change).expect("a resource change");
        assert_eq!(row.action, "Modify");
        assert_eq!(row.replacement.as_deref(), Some("Conditional"));
        assert_eq!(row.scope, ["Properties"]);
        assert_eq!(
            row.details,
            [
                "Engine (recreation: Always)",
                "AllocatedStorage (recreation: Conditionally)",
                "Tags",
            ]
        );
        assert!(row.is_destructive());
    }
}
