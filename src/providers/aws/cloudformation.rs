//! CloudFormation calls: paginated listing, describe with resources, delete-and-follow.

use super::{classify, clean, clean_opt};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::model::{StackDetail, StackOutput, StackParameter, StackResource, StackSummary};
use crate::ops::{Approved, DeleteStack};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::DateTime;
use std::collections::HashSet;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(3);

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| {
        t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

pub async fn list_stacks(cfn: &Client, ctx: &TaskCtx) -> ProviderResult<Vec<StackSummary>> {
    let mut pages = cfn.list_stacks().into_paginator().send();
    let mut stacks = Vec::new();
    let mut page_count = 0usize;
    while let Some(page) = pages.next().await {
        let page = page.map_err(classify)?;
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

pub async fn describe_stack(
    cfn: &Client,
    stack_id: &str,
    ctx: &TaskCtx,
) -> ProviderResult<StackDetail> {
    let out = cfn
        .describe_stacks()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(classify)?;
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
        .list_stack_resources()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(classify)?;
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
        // Filled in by the change-set work (DescribeStackEvents, GetTemplate DeletionPolicy).
        events: Vec::new(),
        retained: Vec::new(),
    })
}

/// Delete by ARN (so a newer stack that took the same name can never be hit) and follow the
/// stack's events until it is gone or the delete failed.
pub async fn delete_stack(
    cfn: &Client,
    approved: Approved<DeleteStack>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let target = approved.op().target.clone();
    let stack_id = target.stack_id.as_str();
    let resource_total = match describe_stack(cfn, stack_id, ctx).await {
        Ok(detail) => detail.resources.len(),
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Ok(format!("{} was already gone", target.stack_name));
        }
        Err(e) => return Err(e),
    };
    ctx.info(format!(
        "DeleteStack {} ({} resources)",
        target, resource_total
    ));
    // Events from the stack's history (old failures, update clean-ups) are not this delete's:
    // note them now so following shows, counts and reports only what the delete causes.
    let mut seen_events = existing_event_ids(cfn, stack_id).await;
    // Last moment to honour a cancel: nothing has been sent to AWS yet.
    if ctx.is_cancelled() {
        return Err(ProviderError::new(
            ErrorKind::Cancelled,
            "cancelled before it started",
        ));
    }
    cfn.delete_stack()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(classify)?;
    // The request is accepted; the approval has been used and is dropped here.
    drop(approved);

    let mut settled = HashSet::new();
    let mut failures = Vec::new();
    loop {
        follow_events(
            cfn,
            stack_id,
            ctx,
            &mut seen_events,
            &mut settled,
            &mut failures,
        )
        .await?;
        if resource_total > 0 {
            ctx.progress(settled.len().min(resource_total) as f32 / resource_total as f32);
        }
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
                .unwrap_or_else(|| "DELETE_COMPLETE".to_string()),
            Err(e) if e.kind == ErrorKind::NotFound => "DELETE_COMPLETE".to_string(),
            Err(e) if e.is_transient() => {
                ctx.warn(format!("status check failed, will look again: {e}"));
                String::new()
            }
            Err(e) => return Err(e),
        };
        match status.as_str() {
            "DELETE_COMPLETE" => {
                ctx.progress(1.0);
                return Ok(format!("{} deleted", target.stack_name));
            }
            "DELETE_FAILED" => {
                let reasons = if failures.is_empty() {
                    "no reason given".to_string()
                } else {
                    failures.join("; ")
                };
                return Err(ProviderError::new(
                    ErrorKind::Other,
                    format!("delete of {} failed: {reasons}", target.stack_name),
                ));
            }
            _ => {}
        }
        tokio::select! {
            _ = ctx.cancelled() => {
                return Err(ProviderError::new(
                    ErrorKind::Detached,
                    "stopped following; the delete goes on in CloudFormation",
                ));
            }
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Ids of the stack's most recent events (first page), before a change starts.
async fn existing_event_ids(cfn: &Client, stack_id: &str) -> HashSet<String> {
    match cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
    {
        Ok(out) => out
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_string))
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// Log stack events not seen before, oldest first; note settled resources and failure reasons.
async fn follow_events(
    cfn: &Client,
    stack_id: &str,
    ctx: &TaskCtx,
    seen: &mut HashSet<String>,
    settled: &mut HashSet<String>,
    failures: &mut Vec<String>,
) -> ProviderResult<()> {
    let out = match cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = classify(e);
            if e.kind == ErrorKind::NotFound {
                return Ok(());
            }
            ctx.warn(format!("could not read stack events: {e}"));
            return Ok(());
        }
    };
    // The API returns newest first.
    for event in out.stack_events().iter().rev() {
        let id = clean(event.event_id());
        if !seen.insert(id) {
            continue;
        }
        let logical = clean(event.logical_resource_id());
        let logical = logical.as_str();
        let status = event
            .resource_status()
            .map(|s| s.as_str())
            .unwrap_or_default();
        // Custom resources set any reason they like: clean it before it is kept or shown.
        let reason = clean(event.resource_status_reason());
        let reason = reason.as_str();
        let line = format!(
            "{} {} {} {}",
            logical,
            clean(event.resource_type()),
            status,
            reason
        );
        if status.ends_with("FAILED") {
            ctx.error(line.trim_end());
            if !reason.is_empty() {
                failures.push(format!("{logical}: {reason}"));
            }
        } else {
            ctx.info(line.trim_end());
        }
        let is_stack = event.physical_resource_id() == Some(stack_id);
        if !is_stack && matches!(status, "DELETE_COMPLETE" | "DELETE_SKIPPED") {
            settled.insert(logical.to_string());
        }
    }
    Ok(())
}
