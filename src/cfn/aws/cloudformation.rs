//! CloudFormation calls: paginated listing, describe with resources, events and retained
//! resources, delete-and-follow.

use super::changeset::unanswered_change;
use super::client::Cfn;
use super::events::{Follower, Goal, recent_events};
use crate::aws::{clean, clean_opt, time};
use crate::cfn::model::{StackDetail, StackOutput, StackParameter, StackResource, StackSummary};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::ops::{Approved, DeleteStack};

pub async fn list_stacks(cfn: &Cfn, ctx: &TaskCtx) -> ProviderResult<Vec<StackSummary>> {
    let mut pages = cfn.sdk.list_stacks().into_paginator().send();
    let mut stacks = Vec::new();
    let mut page_count = 0usize;
    while let Some(page) = cfn.page(ctx, "ListStacks", pages.next()).await? {
        page_count += 1;
        for s in page.stack_summaries() {
            let status = s
                .stack_status()
                .map(|s| clean(Some(s.as_str())))
                .unwrap_or_default();
            if status == "DELETE_COMPLETE" {
                continue;
            }
            stacks.push(StackSummary {
                name: clean(s.stack_name()),
                id: clean(s.stack_id()),
                status,
                status_reason: clean_opt(s.stack_status_reason()),
                created: time(s.creation_time()),
                updated: time(s.last_updated_time()),
                description: clean_opt(s.template_description()),
                parent_id: clean_opt(s.parent_id()),
                drift_status: s
                    .drift_information()
                    .and_then(|d| d.stack_drift_status())
                    .map(|d| clean(Some(d.as_str()))),
                drift_checked: time(s.drift_information().and_then(|d| d.last_check_timestamp())),
            });
        }
    }
    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    ctx.info(format!("{} stacks ({} page(s))", stacks.len(), page_count));
    Ok(stacks)
}

/// The detail view's data: the stack, its resources, the first page of its events (newest
/// first), and what its template's `DeletionPolicy` keeps. Events and retained resources are
/// extras: if they cannot be read the describe still succeeds, with a warning in the log.
pub async fn describe_stack(
    cfn: &Cfn,
    stack_id: &str,
    ctx: &TaskCtx,
) -> ProviderResult<StackDetail> {
    let mut detail = describe_core(cfn, stack_id, ctx).await?;
    match recent_events(cfn, ctx, stack_id).await {
        Ok(events) => detail.events = events,
        Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
        Err(e) => ctx.warn(format!("could not read stack events: {e}")),
    }
    match super::drift::get_template(cfn, stack_id, ctx).await {
        Ok(body) => match crate::cfn::retained::retained_resources(&body) {
            Ok(retained) => detail.retained = retained,
            Err(e) => ctx.warn(format!(
                "could not read DeletionPolicy from the template ({e}); retained resources unknown"
            )),
        },
        Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
        Err(e) => ctx.warn(format!(
            "could not read the template ({e}); retained resources unknown"
        )),
    }
    Ok(detail)
}

/// DescribeStacks + ListStackResources only.
async fn describe_core(cfn: &Cfn, stack_id: &str, ctx: &TaskCtx) -> ProviderResult<StackDetail> {
    let out = cfn
        .call(
            ctx,
            "DescribeStacks",
            cfn.sdk.describe_stacks().stack_name(stack_id).send(),
        )
        .await?;
    let Some(stack) = out.stacks().first() else {
        return Err(ProviderError::new(
            ErrorKind::NotFound,
            format!("stack {stack_id} does not exist"),
        ));
    };
    let summary = StackSummary {
        name: clean(stack.stack_name()),
        id: clean(stack.stack_id().or(Some(stack_id))),
        status: stack
            .stack_status()
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_default(),
        status_reason: clean_opt(stack.stack_status_reason()),
        created: time(stack.creation_time()),
        updated: time(stack.last_updated_time()),
        description: clean_opt(stack.description()),
        parent_id: clean_opt(stack.parent_id()),
        drift_status: stack
            .drift_information()
            .and_then(|d| d.stack_drift_status())
            .map(|d| clean(Some(d.as_str()))),
        drift_checked: time(
            stack
                .drift_information()
                .and_then(|d| d.last_check_timestamp()),
        ),
    };
    let parameters = stack
        .parameters()
        .iter()
        .map(|p| StackParameter {
            key: clean(p.parameter_key()),
            // CloudFormation returns NoEcho values as "****"; the resolved value is never fetched.
            value: clean(p.parameter_value()),
        })
        .collect();
    let outputs = stack
        .outputs()
        .iter()
        .map(|o| StackOutput {
            key: clean(o.output_key()),
            value: clean(o.output_value()),
            description: clean_opt(o.description()),
            export_name: clean_opt(o.export_name()),
        })
        .collect();
    let termination_protection = stack.enable_termination_protection().unwrap_or(false);

    let mut resources = Vec::new();
    let mut pages = cfn
        .sdk
        .list_stack_resources()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    while let Some(page) = cfn.page(ctx, "ListStackResources", pages.next()).await? {
        for r in page.stack_resource_summaries() {
            resources.push(StackResource {
                logical_id: clean(r.logical_resource_id()),
                physical_id: clean_opt(r.physical_resource_id()),
                resource_type: clean(r.resource_type()),
                status: r
                    .resource_status()
                    .map(|s| clean(Some(s.as_str())))
                    .unwrap_or_default(),
                status_reason: clean_opt(r.resource_status_reason()),
            });
        }
    }
    ctx.info(format!("{}: {} resources", summary.name, resources.len()));
    Ok(StackDetail {
        summary,
        parameters,
        outputs,
        resources,
        termination_protection,
        // Filled in by `describe_stack`.
        events: Vec::new(),
        retained: Vec::new(),
    })
}

/// Delete by ARN (so a newer stack that took the same name can never be hit) and follow the
/// stack's events until it is gone or the delete failed. A stack with termination protection
/// on is refused before anything is sent.
pub async fn delete_stack(
    cfn: &Cfn,
    approved: Approved<DeleteStack>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let target = approved.op().target.clone();
    let stack_id = target.stack_id.as_str();
    let detail = match describe_core(cfn, stack_id, ctx).await {
        Ok(detail) => detail,
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Ok(format!("{} was already gone", target.stack_name));
        }
        Err(e) => return Err(e),
    };
    if detail.termination_protection {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "{}: termination protection is on; turn it off first (p)",
                target.stack_name
            ),
        ));
    }
    let resource_total = detail.resources.len();
    ctx.info(format!(
        "DeleteStack {} ({} resources)",
        target, resource_total
    ));
    // Events from the stack's history (old failures, update clean-ups) are not this delete's:
    // note them now so following shows, counts and reports only what the delete causes.
    let mut follower = Follower::new(stack_id, &target.stack_name, resource_total);
    if let Err(e) = follower.preseed(cfn, ctx).await {
        ctx.warn(format!("could not read the stack's past events: {e}"));
    }
    // `call` sends nothing once the job is cancelled: the last moment to honour a cancel.
    cfn.call(
        ctx,
        "DeleteStack",
        cfn.sdk.delete_stack().stack_name(stack_id).send(),
    )
    .await
    .map_err(|e| unanswered_change(e, &target, &cfn.site))?;
    // The request is accepted; the approval has been used and is dropped here.
    drop(approved);
    follower
        .run(
            cfn,
            ctx,
            Goal::Delete,
            // The status may still be the one from before (e.g. UPDATE_COMPLETE, or the
            // DELETE_FAILED of an earlier try): believe a failure only once the delete shows.
            true,
            ProviderError::new(
                ErrorKind::Detached,
                "stopped following; the delete goes on in CloudFormation",
            ),
        )
        .await
}

/// Follow a stack that is changing now, whoever started it. Returns at once, successfully,
/// when it is not in progress.
pub async fn follow_stack(cfn: &Cfn, stack_id: &str, ctx: &TaskCtx) -> ProviderResult<String> {
    let detail = describe_core(cfn, stack_id, ctx).await?;
    let status = detail.summary.status.clone();
    if !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
        return Ok(format!("not in progress: {status}"));
    }
    ctx.info(format!("following {} ({status})", detail.summary.name));
    let mut follower = Follower::new(stack_id, &detail.summary.name, detail.resources.len());
    follower.preseed_before_current_operation(cfn, ctx).await?;
    follower
        .run(
            cfn,
            ctx,
            Goal::Any,
            false,
            ProviderError::new(
                ErrorKind::Cancelled,
                "stopped following; the change goes on in CloudFormation",
            ),
        )
        .await
}
