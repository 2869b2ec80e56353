//! Change sets: create (and wait for) one, execute it and follow the stack, discard it; and
//! termination protection.
//!
//! About 860 lines: the create/wait/execute/discard calls share their error mapping and the
//! cleanup of a change set left behind, which are easier to check side by side.

use super::client::Cfn;
use super::events::{Follower, Goal};
use super::leftovers::ChangeSetLeft;
use crate::aws::{clean, clean_opt};
use crate::cfn::model::{ChangeSetKind, ChangeSetOutcome, ChangeSetPreview, ResourceChange};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::retry::{Backoff, Poller, until_done, within};
use crate::engine::task::TaskCtx;
use crate::ops::{
    Approved, CreateChangeSet, DiscardChangeSet, ExecuteChangeSet, ParamValue,
    SetTerminationProtection, TemplateSource,
};
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
    cfn: &Cfn,
    approved: Approved<CreateChangeSet>,
    ctx: &TaskCtx,
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
        .sdk
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
    // `call` sends nothing once the job is cancelled: the last moment to honour a cancel.
    let out = match cfn.call(ctx, "CreateChangeSet", request.send()).await {
        Ok(out) => out,
        // Some endpoints refuse an unchanged update at once instead of failing the change set.
        Err(e) if e.kind == ErrorKind::Invalid && means_no_changes(&e.message) => {
            ctx.info(format!("nothing to change: {}", e.message));
            return Ok(ChangeSetOutcome::NoChanges {
                stack_name: op.stack_name.clone(),
                message: e.message,
            });
        }
        Err(e) if e.kind == ErrorKind::Cancelled && !e.maybe_delivered => {
            return Err(cancelled_before_start());
        }
        // Sent, but no answer came: AWS may have made the change set all the same.
        Err(e) if e.maybe_delivered => return Err(remove_unconfirmed(cfn, ctx, &op, e).await),
        Err(e) => return Err(e),
    };
    drop(approved);
    let change_set_id = clean(out.id());
    let stack_id = clean_opt(out.stack_id()).unwrap_or_default();
    let made = Made {
        change_set_id,
        stack_id,
        stack_name: op.stack_name.clone(),
        kind,
    };
    // The change set must sit on exactly the chosen stack (an update), or on a stack in the
    // account and region the person saw in the dialog (a new one).
    let arn = crate::cfn::model::StackSummary {
        id: made.stack_id.clone(),
        ..Default::default()
    };
    let placed = arn.account_from_arn() == Some(op.account.as_str())
        && arn.region_from_arn() == Some(op.region.as_str());
    if !placed
        || op
            .existing_stack_id
            .as_ref()
            .is_some_and(|e| *e != made.stack_id)
    {
        let expected = op
            .existing_stack_id
            .clone()
            .unwrap_or_else(|| format!("a stack in {} / {}", op.account, op.region));
        // E.g. the name now belongs to another stack than the one the person chose: remove
        // the change set only, never that stack.
        let only_change_set = Made {
            kind: ChangeSetKind::Update,
            ..made.clone()
        };
        let left = only_change_set.clean_up(cfn, ctx).await;
        let mut err = ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "the change set for {} was placed on {:?}, not on {expected}; refresh and deploy again",
                op.stack_name,
                if made.stack_id.is_empty() {
                    "no stack"
                } else {
                    made.stack_id.as_str()
                }
            ),
        );
        if let Some(note) = left {
            err = err.note(note);
        }
        return Err(err);
    }
    ctx.info(format!(
        "change set {} created; waiting for CloudFormation",
        made.change_set_id
    ));

    let mut poller = Poller::new(
        ctx,
        cfn.poll,
        format!("read change set {}", op.change_set_name),
    );
    loop {
        let described = cfn
            .call(
                ctx,
                "DescribeChangeSet",
                cfn.sdk
                    .describe_change_set()
                    .change_set_name(&made.change_set_id)
                    .send(),
            )
            .await;
        match described {
            Ok(out) => {
                poller.answered();
                if let Some(outcome) = made.settle(cfn, ctx, &op.change_set_name, out).await? {
                    return Ok(outcome);
                }
            }
            Err(e) if e.kind == ErrorKind::Cancelled => break,
            Err(e) => {
                if let Err(stop) = poller.failed(e) {
                    let left = made.clean_up(cfn, ctx).await;
                    let stop = stop.context(format!(
                        "gave up waiting for change set {} of {}",
                        op.change_set_name, op.stack_name
                    ));
                    return Err(match left {
                        Some(note) => stop.note(note),
                        None => stop.note("The change set was removed"),
                    });
                }
            }
        }
        if poller.pause().await.is_err() {
            break;
        }
    }
    // Cancelled (a person, a signal): the in-flight call was dropped; remove what was made.
    ctx.warn("cancelled while CloudFormation computed the change set; removing it");
    let left = made.clean_up(cfn, ctx).await;
    Err(match left {
        None => ProviderError::new(
            ErrorKind::Cancelled,
            "cancelled; the change set was removed",
        ),
        Some(note) => ProviderError::new(
            ErrorKind::Cancelled,
            "cancelled; the change set could not be removed",
        )
        .note(note),
    })
}

/// CreateChangeSet got no answer (timeout, reset, cancelled in flight): the change set may
/// exist. Look for it by name and remove it (with a new stack's empty shell); the error then
/// says what was found, and what may still be left with the commands to remove it.
async fn remove_unconfirmed(
    cfn: &Cfn,
    ctx: &TaskCtx,
    op: &CreateChangeSet,
    err: ProviderError,
) -> ProviderError {
    ctx.warn(format!(
        "CreateChangeSet got no answer ({err}); looking for change set {} to remove it",
        op.change_set_name
    ));
    let stack = op.existing_stack_id.as_deref().unwrap_or(&op.stack_name);
    let mut last = None;
    let lookup = until_done(
        ctx,
        CLEANUP_BACKOFF,
        "look for the change set",
        &mut last,
        || async {
            match cfn
                .site
                .call_through_cancel(
                    ctx,
                    "DescribeChangeSet",
                    cfn.sdk
                        .describe_change_set()
                        .change_set_name(&op.change_set_name)
                        .stack_name(stack)
                        .send(),
                )
                .await
            {
                Ok(out) => Ok(Some((
                    clean(out.change_set_id()),
                    clean_opt(out.stack_id()).unwrap_or_default(),
                ))),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        },
    );
    let found = within(ctx, cfn.cleanup.budget, cfn.cleanup.after_cancel, lookup).await;
    let unknown = ChangeSetLeft {
        change_set: &op.change_set_name,
        stack_name: &op.stack_name,
        stack,
        change_set_left: true,
        empty_stack_left: op.existing_stack_id.is_none(),
        certain: false,
    };
    match found {
        Some(Ok(Some((change_set_id, stack_id)))) => {
            let made = Made {
                change_set_id,
                stack_id,
                stack_name: op.stack_name.clone(),
                kind: op.kind(),
            };
            match made.clean_up(cfn, ctx).await {
                None => err.note(format!(
                    "AWS had made change set {} all the same; it was removed",
                    op.change_set_name
                )),
                Some(note) => err.note(format!(
                    "AWS had made change set {} all the same and it could not be removed. {note}",
                    op.change_set_name
                )),
            }
        }
        Some(Ok(None)) => err.note(format!(
            "Change set {} was not found just now, but AWS may still make it. {}",
            op.change_set_name,
            unknown.note(&cfn.site.cli_args()).unwrap_or_default()
        )),
        Some(Err(_)) | None => err.note(unknown.note(&cfn.site.cli_args()).unwrap_or_default()),
    }
}

/// Pauses between tries of a clean-up step; the whole clean-up is bounded by
/// [`super::AwsSettings::cleanup_budget`].
const CLEANUP_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    max: Duration::from_secs(4),
};

/// A change set this job created, and what to remove if it is not to be kept.
#[derive(Clone)]
struct Made {
    change_set_id: String,
    stack_id: String,
    stack_name: String,
    kind: ChangeSetKind,
}

/// What a clean-up has yet to remove.
struct Remaining {
    change_set: bool,
    empty_stack: bool,
    last_error: Option<ProviderError>,
    /// What became of the empty stack: deleted, already gone, kept for another change set.
    stack_outcome: Option<String>,
    /// A delete is on its way: if the budget cuts it off, it may have happened.
    in_flight: std::sync::atomic::AtomicBool,
}

impl Made {
    /// `Some(outcome)` when the change set reached a final status; `None` while CloudFormation
    /// is still computing it. A failed or unexpected change set is removed before the error.
    async fn settle(
        &self,
        cfn: &Cfn,
        ctx: &TaskCtx,
        change_set_name: &str,
        out: aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
    ) -> ProviderResult<Option<ChangeSetOutcome>> {
        let status = out
            .status()
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_default();
        let reason = clean(out.status_reason());
        let with_leftovers = |err: ProviderError, left: Option<String>| match left {
            Some(note) => err.note(note),
            None => err,
        };
        match status.as_str() {
            "CREATE_COMPLETE" => {
                let changes = match read_changes(cfn, ctx, &self.change_set_id, out).await {
                    Ok(changes) => changes,
                    Err(e) => {
                        let left = self.clean_up(cfn, ctx).await;
                        return Err(with_leftovers(e, left));
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
                if let Some(note) = self.clean_up(cfn, ctx).await {
                    ctx.warn(note);
                }
                Ok(Some(ChangeSetOutcome::NoChanges {
                    stack_name: self.stack_name.clone(),
                    message: reason,
                }))
            }
            "FAILED" => {
                ctx.error(format!("change set failed: {reason}"));
                let left = self.clean_up(cfn, ctx).await;
                Err(with_leftovers(
                    ProviderError::new(
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
                    ),
                    left,
                ))
            }
            "CREATE_PENDING" | "CREATE_IN_PROGRESS" | "" => Ok(None),
            other => {
                let left = self.clean_up(cfn, ctx).await;
                Err(with_leftovers(
                    ProviderError::new(
                        ErrorKind::Other,
                        format!("change set {change_set_name} is {other}: {reason}"),
                    ),
                    left,
                ))
            }
        }
    }

    /// Remove the change set and, for a new stack, the empty stack made to hold it, retrying
    /// each step with backoff within the clean-up budget (10 s once the job is cancelled). Runs
    /// after a failure or cancel: problems are logged, never raised over the first error.
    /// Returns what is left and how to remove it; `None` when nothing is.
    async fn clean_up(&self, cfn: &Cfn, ctx: &TaskCtx) -> Option<String> {
        self.clean_up_reporting(cfn, ctx).await.0
    }

    /// [`Made::clean_up`], also saying what became of the empty stack.
    async fn clean_up_reporting(
        &self,
        cfn: &Cfn,
        ctx: &TaskCtx,
    ) -> (Option<String>, Option<String>) {
        let mut remaining = Remaining {
            change_set: true,
            empty_stack: self.kind == ChangeSetKind::Create && !self.stack_id.is_empty(),
            last_error: None,
            stack_outcome: None,
            in_flight: std::sync::atomic::AtomicBool::new(false),
        };
        let finished = within(
            ctx,
            cfn.cleanup.budget,
            cfn.cleanup.after_cancel,
            self.remove(cfn, ctx, &mut remaining),
        )
        .await
        .is_some();
        if !finished {
            ctx.error("the clean-up ran out of time before AWS answered");
        }
        if let Some(e) = &remaining.last_error {
            ctx.error(format!("clean-up incomplete: {e}"));
        }
        let left = ChangeSetLeft {
            change_set: &self.change_set_id,
            stack_name: &self.stack_name,
            stack: &self.stack_id,
            change_set_left: remaining.change_set,
            empty_stack_left: remaining.empty_stack,
            // Cut short while a delete was on its way: it may have happened.
            certain: finished
                || !remaining
                    .in_flight
                    .load(std::sync::atomic::Ordering::Relaxed),
        }
        .note(&cfn.site.cli_args());
        (left, remaining.stack_outcome)
    }

    async fn remove(&self, cfn: &Cfn, ctx: &TaskCtx, remaining: &mut Remaining) {
        let in_flight = &remaining.in_flight;
        let deleted = until_done(
            ctx,
            CLEANUP_BACKOFF,
            "delete the change set",
            &mut remaining.last_error,
            || async {
                in_flight.store(true, std::sync::atomic::Ordering::Relaxed);
                let done = delete_change_set(cfn, ctx, &self.change_set_id).await;
                in_flight.store(false, std::sync::atomic::Ordering::Relaxed);
                done
            },
        )
        .await;
        if deleted.is_err() {
            return;
        }
        remaining.change_set = false;
        if !remaining.empty_stack {
            return;
        }
        let in_flight = &remaining.in_flight;
        let stack = until_done(
            ctx,
            CLEANUP_BACKOFF,
            "delete the empty stack",
            &mut remaining.last_error,
            || async {
                in_flight.store(true, std::sync::atomic::Ordering::Relaxed);
                let done = delete_if_empty(cfn, ctx, &self.stack_id, &self.stack_name).await;
                in_flight.store(false, std::sync::atomic::Ordering::Relaxed);
                done
            },
        )
        .await;
        if let Ok(outcome) = stack {
            remaining.empty_stack = false;
            remaining.stack_outcome = Some(outcome);
        }
    }
}

/// DeleteChangeSet by ARN; a change set that is already gone counts as deleted. Goes on
/// through a cancel: it is the clean-up.
async fn delete_change_set(cfn: &Cfn, ctx: &TaskCtx, change_set_id: &str) -> ProviderResult<()> {
    match cfn
        .site
        .call_through_cancel(
            ctx,
            "DeleteChangeSet",
            cfn.sdk
                .delete_change_set()
                .change_set_name(change_set_id)
                .send(),
        )
        .await
    {
        Ok(_) => {
            ctx.info(format!("deleted change set {change_set_id}"));
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            ctx.info(format!("change set {change_set_id} was already gone"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Most pages of ListChangeSets read to decide whether an empty stack is someone else's.
const MAX_CHANGE_SET_PAGES: usize = 20;

/// Delete the stack only while it is the empty `REVIEW_IN_PROGRESS` shell of a new stack's
/// change set: a stack that holds resources, or another change set, is never touched here.
async fn delete_if_empty(
    cfn: &Cfn,
    ctx: &TaskCtx,
    stack_id: &str,
    stack_name: &str,
) -> ProviderResult<String> {
    let status = match cfn
        .site
        .call_through_cancel(
            ctx,
            "DescribeStacks",
            cfn.sdk.describe_stacks().stack_name(stack_id).send(),
        )
        .await
    {
        Ok(out) => out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_else(|| "DELETE_COMPLETE".into()),
        Err(e) if e.kind == ErrorKind::NotFound => "DELETE_COMPLETE".into(),
        Err(e) => return Err(e),
    };
    match status.as_str() {
        "REVIEW_IN_PROGRESS" => {}
        "DELETE_COMPLETE" => return Ok(format!("stack {stack_name} was already gone")),
        other => {
            ctx.info(format!(
                "stack {stack_name} is {other}, not an empty REVIEW_IN_PROGRESS stack; left alone"
            ));
            return Ok(format!("stack {stack_name} ({other}) left alone"));
        }
    }
    // Someone else may be reviewing their own change set on the same empty stack: leave it
    // to them. Only this stack's change sets count (some endpoints ignore the filter).
    let mut others = 0usize;
    let mut token: Option<String> = None;
    for _ in 0..MAX_CHANGE_SET_PAGES {
        let out = cfn
            .site
            .call_through_cancel(
                ctx,
                "ListChangeSets",
                cfn.sdk
                    .list_change_sets()
                    .stack_name(stack_id)
                    .set_next_token(token.take())
                    .send(),
            )
            .await?;
        others += out
            .summaries()
            .iter()
            .filter(|s| s.stack_id() == Some(stack_id))
            .count();
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if token.is_some() {
        let msg = format!(
            "kept the empty stack {stack_name}: it has more change sets than opsdeck reads"
        );
        ctx.info(&msg);
        return Ok(msg);
    }
    if others > 0 {
        let msg =
            format!("kept the empty stack {stack_name}: it holds {others} other change set(s)");
        ctx.info(&msg);
        return Ok(msg);
    }
    cfn.site
        .call_through_cancel(
            ctx,
            "DeleteStack",
            cfn.sdk.delete_stack().stack_name(stack_id).send(),
        )
        .await?;
    ctx.info(format!("deleted the empty stack {stack_name}"));
    Ok(format!("the empty stack {stack_name} was deleted"))
}

/// Every change of a computed change set: the first page (already read) and all the rest.
async fn read_changes(
    cfn: &Cfn,
    ctx: &TaskCtx,
    change_set_id: &str,
    first: aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> ProviderResult<Vec<ResourceChange>> {
    let mut changes: Vec<ResourceChange> = first.changes().iter().filter_map(change_of).collect();
    let mut token = first.next_token().map(str::to_string);
    // A page that fails transiently is read again, as patiently as a status poll.
    let mut poller = Poller::new(ctx, cfn.poll, "read the change set's next page of changes");
    while let Some(next) = token.take() {
        let page = cfn
            .call(
                ctx,
                "DescribeChangeSet",
                cfn.sdk
                    .describe_change_set()
                    .change_set_name(change_set_id)
                    .next_token(&next)
                    .send(),
            )
            .await;
        match page {
            Ok(page) => {
                poller.answered();
                changes.extend(page.changes().iter().filter_map(change_of));
                token = page.next_token().map(str::to_string);
            }
            Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
            Err(e) => {
                poller.failed(e)?;
                if poller.pause().await.is_err() {
                    return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
                }
                token = Some(next);
            }
        }
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
    cfn: &Cfn,
    approved: Approved<ExecuteChangeSet>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    let target = &op.target;
    let mut follower = Follower::new(
        &target.stack_id,
        &target.stack_name,
        op.preview.changes.len(),
    );
    // Events from before the change are not this change's: noted before anything is sent.
    follower.preseed(cfn, ctx).await?;
    ctx.info(format!(
        "ExecuteChangeSet {} on {} ({})",
        op.preview.change_set_name,
        target,
        op.preview.counts()
    ));
    cfn.call(
        ctx,
        "ExecuteChangeSet",
        cfn.sdk
            .execute_change_set()
            .change_set_name(&op.preview.change_set_id)
            .send(),
    )
    .await
    .map_err(|e| unanswered_change(e, target, &cfn.site))?;
    // The request is accepted; the approval has been used.
    drop(approved);
    follower
        .run(
            cfn,
            ctx,
            Goal::Deploy,
            true,
            ProviderError::new(
                ErrorKind::Detached,
                "stopped following; the change goes on in CloudFormation",
            ),
        )
        .await
}

/// A change request (execute, delete) that got no answer may have been accepted: its outcome
/// must be checked in AWS (`Detached`, audited so). Cancelled before sending stays cancelled.
pub(crate) fn unanswered_change(
    e: ProviderError,
    target: &crate::ops::StackTarget,
    site: &crate::aws::calls::Site,
) -> ProviderError {
    if !e.maybe_delivered {
        return match e.kind {
            ErrorKind::Cancelled => cancelled_before_start(),
            _ => e,
        };
    }
    let note = format!(
        "AWS may have accepted the change to {}: check it with `aws cloudformation describe-stacks --stack-name {}{}`",
        target.stack_name,
        target.stack_id,
        site.cli_args()
    );
    ProviderError {
        kind: ErrorKind::Detached,
        ..e
    }
    .note(note)
}

/// Delete an unexecuted change set, then the empty stack made for it (only while it is empty).
/// Each step is retried with backoff within the clean-up budget; a cancel (a signal) shortens
/// that budget but does not stop the discard, which is itself the clean-up.
pub async fn discard_change_set(
    cfn: &Cfn,
    approved: Approved<DiscardChangeSet>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    ctx.info(format!(
        "DeleteChangeSet {} of {}",
        op.change_set_name, op.target
    ));
    // No "cancelled before it started" here: a discard is itself the clean-up, so a cancel
    // (a signal) only shortens its budget.
    drop(approved);
    let made = Made {
        change_set_id: op.change_set_id.clone(),
        stack_id: op.target.stack_id.clone(),
        stack_name: op.target.stack_name.clone(),
        kind: if op.delete_empty_stack {
            ChangeSetKind::Create
        } else {
            ChangeSetKind::Update
        },
    };
    match made.clean_up_reporting(cfn, ctx).await {
        (None, stack) => {
            let mut summary = format!("change set {} discarded", op.change_set_name);
            if let Some(stack) = stack {
                summary.push_str("; ");
                summary.push_str(&stack);
            }
            Ok(summary)
        }
        (Some(note), _) => Err(ProviderError::new(
            ErrorKind::Other,
            format!("could not discard change set {}", op.change_set_name),
        )
        .note(note)),
    }
}

pub async fn set_termination_protection(
    cfn: &Cfn,
    approved: Approved<SetTerminationProtection>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op().clone();
    let state = if op.enabled { "on" } else { "off" };
    ctx.info(format!(
        "UpdateTerminationProtection {state} for {}",
        op.target
    ));
    cfn.call(
        ctx,
        "UpdateTerminationProtection",
        cfn.sdk
            .update_termination_protection()
            .stack_name(&op.target.stack_id)
            .enable_termination_protection(op.enabled)
            .send(),
    )
    .await
    .map_err(|e| unanswered_change(e, &op.target, &cfn.site))?;
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
