//! CloudFormation as the engine sees it: the port its provider implements, the values its
//! reads and changes yield, and the dispatch from an operation to the port's method. Providers
//! implement [`CfnApi`]; tests use recording fakes. Every mutating method demands the approval
//! for exactly its operation.

use crate::cfn::model::{ChangeSetOutcome, StackDetail, StackDrift, StackSummary};
use crate::cfn::ops::{
    CancelUpdateStack, CfnMutation, CfnRead, ContinueUpdateRollback, CreateChangeSet, DeleteStack,
    DiscardChangeSet, ExecuteChangeSet, SetTerminationProtection,
};
use crate::engine::ports::ProviderResult;
use crate::engine::task::TaskCtx;
use crate::ops::Approved;
use futures::future::BoxFuture;

/// What a CloudFormation read yields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CfnOutput {
    Stacks(Vec<StackSummary>),
    StackDetail(Box<StackDetail>),
    Template {
        stack_id: String,
        stack_name: String,
        body: String,
    },
    Drift(Box<StackDrift>),
    /// A stack's most recent events, newest first.
    Events {
        stack_id: String,
        stack_name: String,
        events: Vec<crate::cfn::model::StackEvent>,
    },
    /// A follow ended: the summary of what happened.
    Followed {
        stack_id: String,
        summary: String,
    },
}

/// What a CloudFormation change yields.
#[derive(Debug, Clone, PartialEq)]
pub enum CfnOutcome {
    /// A one-line summary of what was done.
    Done(String),
    /// A change set was computed (and waits for a decision) or had nothing to change.
    ChangeSet(ChangeSetOutcome),
}

impl CfnOutcome {
    /// The line for the job log and the audit entry.
    pub fn summary(&self) -> String {
        match self {
            CfnOutcome::Done(s) => s.clone(),
            CfnOutcome::ChangeSet(ChangeSetOutcome::Ready(p)) => format!(
                "change set {} for {} is ready: {}",
                p.change_set_name,
                p.stack_name,
                p.counts()
            ),
            CfnOutcome::ChangeSet(ChangeSetOutcome::NoChanges {
                stack_name,
                message,
            }) => format!("nothing to do for {stack_name}: {message}"),
        }
    }
}

/// An approved CloudFormation change narrowed to its operation.
#[derive(Debug)]
pub enum ApprovedCfn {
    DeleteStack(Approved<DeleteStack>),
    CreateChangeSet(Approved<CreateChangeSet>),
    ExecuteChangeSet(Approved<ExecuteChangeSet>),
    DiscardChangeSet(Approved<DiscardChangeSet>),
    SetTerminationProtection(Approved<SetTerminationProtection>),
    ContinueUpdateRollback(Approved<ContinueUpdateRollback>),
    CancelUpdateStack(Approved<CancelUpdateStack>),
}

impl Approved<CfnMutation> {
    pub fn split(self) -> ApprovedCfn {
        let (op, proof) = self.into_parts();
        match op {
            CfnMutation::DeleteStack(d) => ApprovedCfn::DeleteStack(proof.attach(d)),
            CfnMutation::CreateChangeSet(c) => ApprovedCfn::CreateChangeSet(proof.attach(c)),
            CfnMutation::ExecuteChangeSet(e) => ApprovedCfn::ExecuteChangeSet(proof.attach(e)),
            CfnMutation::DiscardChangeSet(d) => ApprovedCfn::DiscardChangeSet(proof.attach(d)),
            CfnMutation::SetTerminationProtection(p) => {
                ApprovedCfn::SetTerminationProtection(proof.attach(p))
            }
            CfnMutation::ContinueUpdateRollback(c) => {
                ApprovedCfn::ContinueUpdateRollback(proof.attach(c))
            }
            CfnMutation::CancelUpdateStack(c) => ApprovedCfn::CancelUpdateStack(proof.attach(c)),
        }
    }
}

/// CloudFormation as the engine sees it.
pub trait CfnApi: Send + Sync {
    /// All stacks except deleted ones, every page.
    fn list_stacks<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<StackSummary>>>;

    fn describe_stack<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDetail>>;

    /// The stack's current template text (GetTemplate, original stage).
    fn get_template<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// DetectStackDrift, poll its status until it finishes, then DescribeStackResourceDrifts
    /// (every page). Progress is logged to the job.
    fn detect_drift<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDrift>>;

    /// Follow the stack's events into the job log (each event once, by event id) with progress,
    /// until the stack is no longer in progress. Returns a summary listing every failure reason;
    /// a stack that ended failed or rolled back is an error carrying that summary.
    fn follow_stack<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// Delete the stack and follow it until it is gone or the delete failed. Returns a summary.
    fn delete_stack<'a>(
        &'a self,
        approved: Approved<DeleteStack>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// Create the change set (always passing its type), wait for it, and describe every change
    /// (all pages). A change set that "didn't contain changes" or failed is deleted again, with
    /// the empty stack made for a new one.
    fn create_change_set<'a>(
        &'a self,
        approved: Approved<CreateChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ChangeSetOutcome>>;

    /// Execute the change set by ARN, then follow the stack as [`CfnApi::follow_stack`] does.
    fn execute_change_set<'a>(
        &'a self,
        approved: Approved<ExecuteChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// Delete an unexecuted change set, and the empty stack that was made for it.
    fn discard_change_set<'a>(
        &'a self,
        approved: Approved<DiscardChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    fn set_termination_protection<'a>(
        &'a self,
        approved: Approved<SetTerminationProtection>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// ContinueUpdateRollback (skipping the resources named), then follow the stack until the
    /// rollback settles; `UPDATE_ROLLBACK_COMPLETE` is the success.
    fn continue_update_rollback<'a>(
        &'a self,
        approved: Approved<ContinueUpdateRollback>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// CancelUpdateStack, then follow the rollback it starts until it settles.
    fn cancel_update_stack<'a>(
        &'a self,
        approved: Approved<CancelUpdateStack>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;
}

/// Run one CloudFormation read.
pub async fn read(api: &dyn CfnApi, op: &CfnRead, ctx: &TaskCtx) -> ProviderResult<CfnOutput> {
    match op {
        CfnRead::ListStacks { .. } => api.list_stacks(ctx).await.map(CfnOutput::Stacks),
        CfnRead::DescribeStack { stack_id, .. } => api
            .describe_stack(stack_id, ctx)
            .await
            .map(|d| CfnOutput::StackDetail(Box::new(d))),
        CfnRead::GetTemplate {
            stack_id,
            stack_name,
            ..
        } => api
            .get_template(stack_id, ctx)
            .await
            .map(|body| CfnOutput::Template {
                stack_id: stack_id.clone(),
                stack_name: stack_name.clone(),
                body,
            }),
        CfnRead::StackEvents {
            stack_id,
            stack_name,
            ..
        } => api
            .describe_stack(stack_id, ctx)
            .await
            .map(|d| CfnOutput::Events {
                stack_id: stack_id.clone(),
                stack_name: stack_name.clone(),
                events: d.events,
            }),
        CfnRead::DetectDrift { stack_id, .. } => api
            .detect_drift(stack_id, ctx)
            .await
            .map(|d| CfnOutput::Drift(Box::new(d))),
        CfnRead::FollowStack { stack_id, .. } => {
            api.follow_stack(stack_id, ctx)
                .await
                .map(|summary| CfnOutput::Followed {
                    stack_id: stack_id.clone(),
                    summary,
                })
        }
    }
}

/// Run one approved CloudFormation change through the provider method that demands it.
pub async fn execute(
    api: &dyn CfnApi,
    approved: Approved<CfnMutation>,
    ctx: &TaskCtx,
) -> ProviderResult<CfnOutcome> {
    match approved.split() {
        ApprovedCfn::DeleteStack(a) => api.delete_stack(a, ctx).await.map(CfnOutcome::Done),
        ApprovedCfn::CreateChangeSet(a) => api
            .create_change_set(a, ctx)
            .await
            .map(CfnOutcome::ChangeSet),
        ApprovedCfn::ExecuteChangeSet(a) => {
            api.execute_change_set(a, ctx).await.map(CfnOutcome::Done)
        }
        ApprovedCfn::DiscardChangeSet(a) => {
            api.discard_change_set(a, ctx).await.map(CfnOutcome::Done)
        }
        ApprovedCfn::SetTerminationProtection(a) => api
            .set_termination_protection(a, ctx)
            .await
            .map(CfnOutcome::Done),
        ApprovedCfn::ContinueUpdateRollback(a) => api
            .continue_update_rollback(a, ctx)
            .await
            .map(CfnOutcome::Done),
        ApprovedCfn::CancelUpdateStack(a) => {
            api.cancel_update_stack(a, ctx).await.map(CfnOutcome::Done)
        }
    }
}
