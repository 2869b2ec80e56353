//! CloudFormation through aws-sdk-cloudformation: the only code that talks to CloudFormation.

pub(crate) mod changeset;
pub(crate) mod client;
pub(crate) mod cloudformation;
pub(crate) mod drift;
pub(crate) mod events;
pub(crate) mod leftovers;

pub use changeset::means_no_changes;
pub use drift::stack_name_from_arn;
pub use events::{Goal, Settlement, settlement};

use crate::cfn::model::{ChangeSetOutcome, StackDetail, StackDrift, StackSummary};
use crate::cfn::ops::{
    CancelUpdateStack, ContinueUpdateRollback, CreateChangeSet, DeleteStack, DiscardChangeSet,
    ExecuteChangeSet, SetTerminationProtection, StackTarget,
};
use crate::cfn::port::CfnApi;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::ops::{Approved, GateBinding};
use aws_sdk_cloudformation::config::http::HttpResponse;
use client::{Cfn, Cleanup};
use events::Follower;
use futures::future::BoxFuture;

/// CloudFormation for one profile and region.
#[derive(Clone)]
pub struct CfnProvider {
    cfn: Cfn,
    region: Option<String>,
    /// The gate whose approvals this provider accepts.
    binding: GateBinding,
}

impl CfnProvider {
    pub fn new(
        config: &aws_config::SdkConfig,
        settings: &crate::aws::AwsSettings,
        binding: GateBinding,
    ) -> CfnProvider {
        let region = config.region().map(|r| r.to_string());
        CfnProvider {
            cfn: Cfn {
                sdk: aws_sdk_cloudformation::Client::new(config),
                site: settings.site("CloudFormation", region.clone()),
                poll: settings.poll_policy(),
                cleanup: Cleanup {
                    budget: settings.cleanup_budget,
                    after_cancel: settings.cancel_cleanup_budget,
                },
            },
            region,
            binding,
        }
    }

    /// Send the request that starts a rollback the person asked for, then follow the stack until
    /// it settles: `UPDATE_ROLLBACK_COMPLETE` is the success.
    async fn start_rollback<T, O, E>(
        &self,
        approved: Approved<T>,
        target: &StackTarget,
        call: &str,
        request: impl std::future::Future<
            Output = Result<O, aws_sdk_cloudformation::error::SdkError<E, HttpResponse>>,
        >,
        ctx: &TaskCtx,
    ) -> ProviderResult<String>
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        // Events from before (the failed update, the failed rollback) are not this one's.
        let mut follower = Follower::new(&target.stack_id, &target.stack_name, 0);
        if let Err(e) = follower.preseed(&self.cfn, ctx).await {
            ctx.warn(format!("could not read the stack's past events: {e}"));
        }
        ctx.info(format!("{call} {target}"));
        // `call` sends nothing once the job is cancelled: the last moment to honour a cancel.
        self.cfn
            .call(ctx, call, request)
            .await
            .map_err(|e| changeset::unanswered_change(e, target, &self.cfn.site))?;
        // The request is accepted; the approval has been used and is dropped here.
        drop(approved);
        follower
            .run(
                &self.cfn,
                ctx,
                Goal::RolledBack,
                true,
                ProviderError::new(
                    ErrorKind::Detached,
                    "stopped following; the rollback goes on in CloudFormation",
                ),
            )
            .await
    }

    /// Why this provider must not run an approved change: an approval another gate minted, or
    /// a target in another region than the clients talk to.
    fn refusal<T>(
        &self,
        approved: &Approved<T>,
        region: &str,
        stack_name: &str,
    ) -> Option<ProviderError> {
        if let Err(foreign) = self.binding.check(approved) {
            return Some(ProviderError::new(ErrorKind::Invalid, foreign.to_string()));
        }
        let connected = self.region.as_deref()?;
        (connected != region).then(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "stack {stack_name} is in {region}, but opsdeck is connected to {connected}; refusing"
                ),
            )
        })
    }
}

fn refused<'a, T: Send + 'a>(e: ProviderError) -> BoxFuture<'a, ProviderResult<T>> {
    Box::pin(async move { Err(e) })
}

impl CfnApi for CfnProvider {
    fn list_stacks<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<StackSummary>>> {
        Box::pin(cloudformation::list_stacks(&self.cfn, ctx))
    }

    fn describe_stack<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDetail>> {
        Box::pin(cloudformation::describe_stack(&self.cfn, stack_id, ctx))
    }

    fn delete_stack<'a>(
        &'a self,
        approved: Approved<DeleteStack>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(cloudformation::delete_stack(&self.cfn, approved, ctx))
    }

    fn get_template<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(drift::get_template(&self.cfn, stack_id, ctx))
    }

    fn detect_drift<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDrift>> {
        Box::pin(drift::detect_drift(&self.cfn, stack_id, ctx))
    }

    fn follow_stack<'a>(
        &'a self,
        stack_id: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(cloudformation::follow_stack(&self.cfn, stack_id, ctx))
    }

    fn create_change_set<'a>(
        &'a self,
        approved: Approved<CreateChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ChangeSetOutcome>> {
        let op = approved.op();
        if let Some(e) = self.refusal(&approved, &op.region, &op.stack_name) {
            return refused(e);
        }
        Box::pin(changeset::create_change_set(&self.cfn, approved, ctx))
    }

    fn execute_change_set<'a>(
        &'a self,
        approved: Approved<ExecuteChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(changeset::execute_change_set(&self.cfn, approved, ctx))
    }

    fn discard_change_set<'a>(
        &'a self,
        approved: Approved<DiscardChangeSet>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(changeset::discard_change_set(&self.cfn, approved, ctx))
    }

    fn set_termination_protection<'a>(
        &'a self,
        approved: Approved<SetTerminationProtection>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(changeset::set_termination_protection(
            &self.cfn, approved, ctx,
        ))
    }

    fn continue_update_rollback<'a>(
        &'a self,
        approved: Approved<ContinueUpdateRollback>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(async move {
            let op = approved.op().clone();
            let skip = (!op.resources_to_skip.is_empty()).then(|| op.resources_to_skip.clone());
            let request = self
                .cfn
                .sdk
                .continue_update_rollback()
                .stack_name(&op.target.stack_id)
                .set_resources_to_skip(skip)
                .send();
            self.start_rollback(approved, &op.target, "ContinueUpdateRollback", request, ctx)
                .await
        })
    }

    fn cancel_update_stack<'a>(
        &'a self,
        approved: Approved<CancelUpdateStack>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        let t = &approved.op().target;
        if let Some(e) = self.refusal(&approved, &t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(async move {
            let target = approved.op().target.clone();
            let request = self
                .cfn
                .sdk
                .cancel_update_stack()
                .stack_name(&target.stack_id)
                .send();
            self.start_rollback(approved, &target, "CancelUpdateStack", request, ctx)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, MemoryAudit};
    use crate::cfn::ops::{CfnMutation, StackTarget};
    use crate::cfn::port::ApprovedCfn;
    use crate::model::Environment;
    use crate::ops::{MutatingOp, ReadOnlyLatch};
    use std::sync::Arc;

    fn gate() -> crate::ops::Gate {
        let actor = Actor {
            os_user: "alice".into(),
            principal: None,
        };
        crate::setup::test_gate(
            ReadOnlyLatch::new(),
            Arc::new(MemoryAudit::default()),
            actor,
            None,
        )
    }

    /// A second gate (built elsewhere in the crate, say by code that wanted to skip the
    /// dialog) mints a real approval; the provider bound to the console's gate refuses it
    /// before anything is sent.
    #[tokio::test]
    async fn the_provider_refuses_an_approval_another_gate_minted() {
        let console = gate();
        let mut stray = gate();
        let op = MutatingOp::from(DeleteStack {
            target: StackTarget {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                environment: Environment::Dev,
                stack_name: "web".into(),
                stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1".into(),
            },
            retained: vec![],
        });
        let request = stray.request(op).expect("the stray gate opens a request");
        let approved = stray.confirm(request.id, "web").expect("and approves it");
        let Ok(crate::ops::ApprovedMutation::Cfn(cfn)) = approved.split(&stray.binding()) else {
            panic!("split by the gate that minted it");
        };
        let ApprovedCfn::DeleteStack(delete) = cfn.split() else {
            panic!("a delete");
        };
        // Nothing listens there: a request that got out would fail differently.
        let config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let provider = CfnProvider::new(
            &config,
            &crate::aws::AwsSettings::default(),
            console.binding(),
        );
        let ctx = TaskCtx::detached(1);
        let refused = provider
            .delete_stack(delete, &ctx)
            .await
            .expect_err("refused");
        assert_eq!(refused.kind, ErrorKind::Invalid);
        assert!(
            refused
                .message
                .contains("not minted by this console's gate"),
            "{refused}"
        );
        // And the engine's split refuses it too.
        let request = stray
            .request(MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
                target: StackTarget {
                    account: "123456789012".into(),
                    region: "us-east-1".into(),
                    environment: Environment::Dev,
                    stack_name: "api".into(),
                    stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/api/1".into(),
                },
                retained: vec![],
            })))
            .expect("opens");
        let approved = stray.confirm(request.id, "api").expect("approves");
        assert!(approved.split(&console.binding()).is_err());
    }
}
