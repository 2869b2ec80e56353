//! Following a stack's events while CloudFormation changes it: each event logged once (by
//! event id), progress as settled resources over the expected total, every failure reason
//! collected, until the stack leaves its `*_IN_PROGRESS` states.

use super::client::Cfn;
use crate::aws::calls::Site;
use crate::aws::{clean, clean_opt, time};
use crate::cfn::model::StackEvent;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::retry::Poller;
use crate::engine::stream::StreamItem;
use crate::engine::task::TaskCtx;
use std::collections::HashSet;

/// Most pages of DescribeStackEvents read in one poll. Pages hold 100 events; a poll that
/// finds no seen id within this many pages logs what it has and goes on.
const MAX_EVENT_PAGES: usize = 20;

/// Polls that may show the stack's old, settled status after ExecuteChangeSet before the
/// change is taken to have started anyway (AWS may answer DescribeStacks before it switched).
const START_GRACE_POLLS: u32 = 20;

/// What the person is waiting for; decides which final statuses are a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// An executed change set: CREATE/UPDATE/IMPORT_COMPLETE.
    Deploy,
    /// A delete: DELETE_COMPLETE (or the stack is gone).
    Delete,
    /// Whatever was started elsewhere: any of the above.
    Any,
    /// A rollback the person asked for (continuing a failed one, cancelling an update):
    /// UPDATE_ROLLBACK_COMPLETE.
    RolledBack,
}

/// Where a stack status stands for a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    InProgress,
    Succeeded,
    Failed,
}

/// Classify a stack status for `goal`. `*_IN_PROGRESS` (including rollbacks and clean-ups) is
/// still moving; any other status is final, a success only if it is one the goal aims at.
pub fn settlement(goal: Goal, status: &str) -> Settlement {
    if status.ends_with("_IN_PROGRESS") {
        return Settlement::InProgress;
    }
    let deployed = matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    );
    let deleted = status == "DELETE_COMPLETE";
    let ok = match goal {
        Goal::Deploy => deployed,
        Goal::Delete => deleted,
        Goal::Any => deployed || deleted,
        Goal::RolledBack => status == "UPDATE_ROLLBACK_COMPLETE",
    };
    if ok {
        Settlement::Succeeded
    } else {
        Settlement::Failed
    }
}

/// A resource's event that ends its part in the current phase.
fn settles(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
        && (status.ends_with("_COMPLETE")
            || status.ends_with("_FAILED")
            || status.ends_with("_SKIPPED"))
}

/// Statuses of the stack itself that begin an operation (not a rollback or clean-up).
fn starts_operation(status: &str) -> bool {
    matches!(
        status,
        "CREATE_IN_PROGRESS" | "UPDATE_IN_PROGRESS" | "DELETE_IN_PROGRESS" | "IMPORT_IN_PROGRESS"
    )
}

fn event_of(e: &aws_sdk_cloudformation::types::StackEvent) -> StackEvent {
    StackEvent {
        event_id: clean(e.event_id()),
        timestamp: time(e.timestamp()).unwrap_or_default(),
        logical_id: clean(e.logical_resource_id()),
        physical_id: clean_opt(e.physical_resource_id()),
        resource_type: clean(e.resource_type()),
        status: e
            .resource_status()
            .map(|s| clean(Some(s.as_str())))
            .unwrap_or_default(),
        // Custom resources set any reason they like: cleaned before it is kept or shown.
        reason: clean_opt(e.resource_status_reason()).filter(|r| !r.is_empty()),
    }
}

/// The first page of the stack's events, newest first.
pub async fn recent_events(
    cfn: &Cfn,
    ctx: &TaskCtx,
    stack_id: &str,
) -> ProviderResult<Vec<StackEvent>> {
    let out = cfn
        .call(
            ctx,
            "DescribeStackEvents",
            cfn.sdk.describe_stack_events().stack_name(stack_id).send(),
        )
        .await?;
    Ok(out.stack_events().iter().map(event_of).collect())
}

/// State of one follow: which events were shown, which resources settled, what failed.
pub struct Follower {
    pub stack_id: String,
    pub stack_name: String,
    seen: HashSet<String>,
    settled: HashSet<String>,
    failures: Vec<String>,
    /// Resources the progress counts against (0: progress only at the end).
    total: usize,
    progress: f32,
    /// A stack-level event arrived after the follow began: the change is under way.
    saw_stack_event: bool,
}

impl Follower {
    pub fn new(stack_id: &str, stack_name: &str, total: usize) -> Follower {
        Follower {
            stack_id: stack_id.to_string(),
            stack_name: stack_name.to_string(),
            seen: HashSet::new(),
            settled: HashSet::new(),
            failures: Vec::new(),
            total,
            progress: 0.0,
            saw_stack_event: false,
        }
    }

    /// Note every event that exists now, so following shows, counts and reports only what
    /// the change about to be made causes. An error here means nothing was sent yet.
    pub async fn preseed(&mut self, cfn: &Cfn, ctx: &TaskCtx) -> ProviderResult<()> {
        for event in recent_events(cfn, ctx, &self.stack_id).await? {
            self.seen.insert(event.event_id);
        }
        Ok(())
    }

    /// For a change already running: note only the events before the stack's most recent
    /// operation began, so the ones of the running operation are shown and counted.
    pub async fn preseed_before_current_operation(
        &mut self,
        cfn: &Cfn,
        ctx: &TaskCtx,
    ) -> ProviderResult<()> {
        let events = recent_events(cfn, ctx, &self.stack_id).await?;
        // Newest first: everything after the newest start event is older history.
        if let Some(start) = events
            .iter()
            .position(|e| self.is_stack_event(e) && starts_operation(&e.status))
        {
            for event in &events[start + 1..] {
                self.seen.insert(event.event_id.clone());
            }
        }
        Ok(())
    }

    fn is_stack_event(&self, e: &StackEvent) -> bool {
        e.physical_id.as_deref() == Some(self.stack_id.as_str())
            || (e.logical_id == self.stack_name && e.resource_type == "AWS::CloudFormation::Stack")
    }

    /// Read new events (paging back until a seen id, so a fast stack loses none), log them
    /// oldest first, and update progress. A stack that is gone has no events to read. An
    /// error is the poll's to count: events read before it are kept and logged.
    pub async fn poll(&mut self, cfn: &Cfn, ctx: &TaskCtx) -> ProviderResult<()> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        let mut failed = None;
        for _ in 0..MAX_EVENT_PAGES {
            let out = match cfn
                .call(
                    ctx,
                    "DescribeStackEvents",
                    cfn.sdk
                        .describe_stack_events()
                        .stack_name(&self.stack_id)
                        .set_next_token(token.take())
                        .send(),
                )
                .await
            {
                Ok(out) => out,
                Err(e) if e.kind == ErrorKind::NotFound => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let mut reached_seen = false;
            for event in out.stack_events().iter().map(event_of) {
                if self.seen.contains(&event.event_id) {
                    reached_seen = true;
                    break;
                }
                fresh.push(event);
            }
            token = out.next_token().map(str::to_string);
            if reached_seen || token.is_none() {
                break;
            }
        }
        // A page failed: what was read is newer than what is missing, so keep none of it and
        // read it all again next time (nothing is logged twice or skipped).
        if failed.is_some() {
            fresh.clear();
        }
        // The API returns newest first; show them in the order they happened.
        for event in fresh.into_iter().rev() {
            if !self.seen.insert(event.event_id.clone()) {
                continue;
            }
            self.note(&event, ctx);
            let item = StreamItem::CfnEvent {
                stack_id: self.stack_id.clone(),
                event: Box::new(event),
            };
            ctx.emit(item).await;
        }
        if self.total > 0 {
            // Monotonic and at most 1.0: a resource counts once, whatever a rollback does.
            let done = self.settled.len().min(self.total) as f32 / self.total as f32;
            if done > self.progress {
                self.progress = done;
                ctx.progress(done);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn note(&mut self, event: &StackEvent, ctx: &TaskCtx) {
        let reason = event.reason.as_deref().unwrap_or_default();
        let line = format!(
            "{} {} {} {}",
            event.logical_id, event.resource_type, event.status, reason
        );
        if event.is_failure() {
            ctx.error(line.trim_end());
            let failure = if reason.is_empty() {
                format!("{}: {}", event.logical_id, event.status)
            } else {
                format!("{}: {reason}", event.logical_id)
            };
            if !self.failures.contains(&failure) {
                self.failures.push(failure);
            }
        } else {
            ctx.info(line.trim_end());
        }
        if self.is_stack_event(event) {
            self.saw_stack_event = true;
        } else if settles(&event.status) {
            self.settled.insert(event.logical_id.clone());
        }
    }

    /// The stack's current status; a stack that is gone reads as `DELETE_COMPLETE`.
    async fn status(&self, cfn: &Cfn, ctx: &TaskCtx) -> ProviderResult<String> {
        match cfn
            .call(
                ctx,
                "DescribeStacks",
                cfn.sdk.describe_stacks().stack_name(&self.stack_id).send(),
            )
            .await
        {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| clean(Some(s.as_str())))
                .unwrap_or_else(|| "DELETE_COMPLETE".to_string())),
            Err(e) if e.kind == ErrorKind::NotFound => Ok("DELETE_COMPLETE".to_string()),
            Err(e) => Err(e),
        }
    }

    /// Poll until the stack's status is final for `goal`. `Ok(summary)` on success; an error
    /// listing every failure reason otherwise. A cancel ends the follow with `on_cancel`.
    /// `just_started`: the change was sent a moment ago, so a settled status is believed only
    /// once the change shows (an in-progress status or a new stack event), or after a grace.
    /// Polls that fail back off and, after the poll policy's limit, end the follow: the change
    /// goes on in CloudFormation (`Detached` when `on_cancel` is).
    pub async fn run(
        mut self,
        cfn: &Cfn,
        ctx: &TaskCtx,
        goal: Goal,
        just_started: bool,
        on_cancel: ProviderError,
    ) -> ProviderResult<String> {
        let mut started = !just_started;
        let mut polls = 0u32;
        let mut poller = Poller::new(ctx, cfn.poll, format!("follow {}", self.stack_name));
        loop {
            // Status first, then events: every event up to a final status is then read
            // before the follow ends.
            let status = self.status(cfn, ctx).await;
            let events = match &status {
                Ok(_) => self.poll(cfn, ctx).await,
                Err(_) => Ok(()),
            };
            match status.and_then(|status| events.map(|()| status)) {
                Ok(status) => {
                    poller.answered();
                    polls += 1;
                    let settled = settlement(goal, &status);
                    if settled == Settlement::InProgress || self.saw_stack_event {
                        started = true;
                    }
                    if !started && polls >= START_GRACE_POLLS {
                        ctx.warn(format!(
                            "{} still shows {status}; taking that as the outcome",
                            self.stack_name
                        ));
                        started = true;
                    }
                    // A stack that is gone cannot be a status from before the delete was sent.
                    let gone = goal == Goal::Delete && settled == Settlement::Succeeded;
                    if started || gone {
                        match settled {
                            Settlement::InProgress => {}
                            Settlement::Succeeded => {
                                ctx.progress(1.0);
                                return Ok(self.success(goal, &status));
                            }
                            Settlement::Failed => {
                                let reason = self.stack_reason(cfn, ctx).await;
                                return Err(self.failure(goal, &status, reason));
                            }
                        }
                    }
                }
                Err(e) if e.kind == ErrorKind::Cancelled => return Err(on_cancel),
                Err(e) => {
                    if let Err(stop) = poller.failed(e) {
                        return Err(self.stopped_following(stop, &on_cancel, &cfn.site));
                    }
                }
            }
            if poller.pause().await.is_err() {
                return Err(on_cancel);
            }
        }
    }

    /// The follow gave up: the change goes on without anyone watching it here.
    fn stopped_following(
        &self,
        stop: ProviderError,
        on_cancel: &ProviderError,
        site: &Site,
    ) -> ProviderError {
        let kind = if on_cancel.kind == ErrorKind::Detached {
            ErrorKind::Detached
        } else {
            stop.kind
        };
        ProviderError { kind, ..stop }
            .context(format!("stopped following {}", self.stack_name))
            .note(format!(
                "The change goes on in CloudFormation: check it with `aws cloudformation describe-stacks --stack-name {}{}`",
                self.stack_id,
                site.cli_args()
            ))
    }

    fn success(&self, goal: Goal, status: &str) -> String {
        match goal {
            Goal::Delete => format!("{} deleted", self.stack_name),
            Goal::Deploy | Goal::Any | Goal::RolledBack => {
                let mut s = format!("{}: {status}", self.stack_name);
                if !self.failures.is_empty() {
                    // e.g. a cleanup failure after a successful update
                    s.push_str(&format!(" (with failures: {})", self.failures.join("; ")));
                }
                s
            }
        }
    }

    async fn stack_reason(&self, cfn: &Cfn, ctx: &TaskCtx) -> Option<String> {
        let out = cfn
            .call(
                ctx,
                "DescribeStacks",
                cfn.sdk.describe_stacks().stack_name(&self.stack_id).send(),
            )
            .await
            .ok()?;
        clean_opt(out.stacks().first()?.stack_status_reason()).filter(|r| !r.is_empty())
    }

    fn failure(&self, goal: Goal, status: &str, stack_reason: Option<String>) -> ProviderError {
        let reasons = if self.failures.is_empty() {
            stack_reason.unwrap_or_else(|| "no reason given".to_string())
        } else {
            self.failures.join("; ")
        };
        let message = match goal {
            Goal::Delete => format!("delete of {} failed: {reasons}", self.stack_name),
            Goal::Deploy | Goal::Any | Goal::RolledBack => {
                format!("{} ended {status}: {reasons}", self.stack_name)
            }
        };
        ProviderError::new(ErrorKind::Other, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_settle_by_goal() {
        use Settlement::*;
        let table = [
            (Goal::Deploy, "CREATE_IN_PROGRESS", InProgress),
            (Goal::Deploy, "UPDATE_ROLLBACK_IN_PROGRESS", InProgress),
            (
                Goal::Deploy,
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                InProgress,
            ),
            (Goal::Deploy, "REVIEW_IN_PROGRESS", InProgress),
            (Goal::Deploy, "CREATE_COMPLETE", Succeeded),
            (Goal::Deploy, "UPDATE_COMPLETE", Succeeded),
            (Goal::Deploy, "IMPORT_COMPLETE", Succeeded),
            (Goal::Deploy, "ROLLBACK_COMPLETE", Failed),
            (Goal::Deploy, "UPDATE_ROLLBACK_COMPLETE", Failed),
            (Goal::Deploy, "UPDATE_ROLLBACK_FAILED", Failed),
            (Goal::Deploy, "CREATE_FAILED", Failed),
            (Goal::Deploy, "DELETE_COMPLETE", Failed),
            (Goal::Delete, "DELETE_COMPLETE", Succeeded),
            (Goal::Delete, "DELETE_FAILED", Failed),
            (Goal::Delete, "UPDATE_COMPLETE", Failed),
            (Goal::Any, "DELETE_COMPLETE", Succeeded),
            (Goal::Any, "UPDATE_COMPLETE", Succeeded),
            (Goal::RolledBack, "UPDATE_ROLLBACK_IN_PROGRESS", InProgress),
            (Goal::RolledBack, "UPDATE_ROLLBACK_COMPLETE", Succeeded),
            (Goal::RolledBack, "UPDATE_ROLLBACK_FAILED", Failed),
            (Goal::RolledBack, "UPDATE_COMPLETE", Failed),
            (Goal::Any, "IMPORT_ROLLBACK_COMPLETE", Failed),
        ];
        for (goal, status, want) in table {
            assert_eq!(settlement(goal, status), want, "{goal:?} {status}");
        }
    }

    #[test]
    fn resource_events_settle_on_final_states_only() {
        for s in [
            "CREATE_COMPLETE",
            "UPDATE_FAILED",
            "DELETE_SKIPPED",
            "DELETE_COMPLETE",
        ] {
            assert!(settles(s), "{s}");
        }
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
        ] {
            assert!(!settles(s), "{s}");
        }
    }
}
