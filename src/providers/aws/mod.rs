//! AWS through the official Rust SDK: credentials and region from the standard chain (env,
//! profiles, SSO, instance role), exactly as the aws CLI finds them.

mod calls;
mod changeset;
mod cloudformation;
mod drift;
mod errors;
mod events;
mod leftovers;

use crate::engine::EngineConfig;
use crate::engine::ports::{CloudApi, ErrorKind, ProviderError, ProviderResult};
use crate::engine::retry::PollPolicy;
use crate::engine::task::TaskCtx;
use crate::model::{CallerIdentity, ChangeSetOutcome, StackDetail, StackDrift, StackSummary};
use crate::ops::{
    Approved, CreateChangeSet, DeleteStack, DiscardChangeSet, ExecuteChangeSet,
    SetTerminationProtection,
};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use futures::future::BoxFuture;
use std::time::Duration;

use calls::{Cfn, Cleanup, Site};
pub use changeset::means_no_changes;
pub use drift::stack_name_from_arn;
pub use errors::classify;
pub use events::{Goal, Settlement, settlement};
pub use leftovers::what_may_be_left;

/// Text from AWS is shown on the operator's terminal: strip control characters and escape
/// sequences at the boundary so no stack description or status reason can drive the terminal.
pub(crate) fn clean(text: Option<&str>) -> String {
    let mut out = String::new();
    crate::engine::joblog::sanitize_into(text.unwrap_or_default(), &mut out);
    out
}

pub(crate) fn clean_opt(text: Option<&str>) -> Option<String> {
    text.map(|t| clean(Some(t)))
}

/// An SDK timestamp as RFC 3339.
pub(crate) fn time(t: Option<&aws_sdk_cloudformation::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| {
        t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

/// Where the AWS clients point, and how patiently they ask. Every field but the timing ones
/// falls back to the standard chain when `None`; tests shorten the timing ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Points every client at e.g. a local emulator. `AWS_ENDPOINT_URL` is honoured by the SDK
    /// itself when this is `None`.
    pub endpoint_url: Option<String>,
    /// Pause between status polls of a change set, a stack being changed, or a drift check.
    pub poll_interval: Duration,
    /// Longest pause between polls while they fail (the pause doubles from `poll_interval`).
    pub poll_backoff_max: Duration,
    /// A poll stops once nothing answered for this long (and at least
    /// [`PollPolicy::DEFAULT_MIN_FAILURES`] polls in a row failed).
    pub poll_give_up_after: Duration,
    /// The SDK's operation timeout: the longest one call may take, whatever it waits on.
    pub call_timeout: Duration,
    /// How long removing a change set nobody will execute (and its empty stack) may take,
    /// retries included.
    pub cleanup_budget: Duration,
    /// The same once the job was cancelled (a signal, `c` in Jobs): quick, so a stopping
    /// process still cleans up.
    pub cancel_cleanup_budget: Duration,
}

impl AwsSettings {
    /// What CloudFormation's own console polls at; a faster pace mostly earns throttling.
    pub const DEFAULT_POLL: Duration = Duration::from_secs(3);
    pub const DEFAULT_CLEANUP_BUDGET: Duration = Duration::from_secs(60);
    pub const DEFAULT_CANCEL_CLEANUP_BUDGET: Duration = Duration::from_secs(10);

    /// How status polls pace themselves and when they give up.
    pub fn poll_policy(&self) -> PollPolicy {
        PollPolicy {
            interval: self.poll_interval,
            backoff_max: self.poll_backoff_max,
            give_up_after: self.poll_give_up_after,
            min_failures: PollPolicy::DEFAULT_MIN_FAILURES,
        }
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            profile: None,
            region: None,
            endpoint_url: None,
            poll_interval: AwsSettings::DEFAULT_POLL,
            poll_backoff_max: PollPolicy::DEFAULT_BACKOFF_MAX,
            poll_give_up_after: PollPolicy::DEFAULT_GIVE_UP_AFTER,
            call_timeout: EngineConfig::DEFAULT_CALL_TIMEOUT,
            cleanup_budget: AwsSettings::DEFAULT_CLEANUP_BUDGET,
            cancel_cleanup_budget: AwsSettings::DEFAULT_CANCEL_CLEANUP_BUDGET,
        }
    }
}

/// Live AWS clients for one profile and region.
#[derive(Clone)]
pub struct AwsProvider {
    cfn: Cfn,
    sts: aws_sdk_sts::Client,
    sts_site: Site,
    region: Option<String>,
}

impl AwsProvider {
    /// Resolves configuration (may read files and, on EC2, ask IMDS for the region); never
    /// fails: missing credentials show up on the first call.
    pub async fn load(settings: &AwsSettings) -> AwsProvider {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // The engine owns retries: reads are retried with backoff, mutations never.
            .retry_config(RetryConfig::disabled())
            // Each call on its own, never a sequence: see docs/faults.md.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT.min(settings.call_timeout))
                    .operation_timeout(settings.call_timeout)
                    .operation_attempt_timeout(settings.call_timeout)
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string());
        let site = |service| Site {
            service,
            region: region.clone(),
            endpoint: settings.endpoint_url.clone(),
            call_timeout: settings.call_timeout,
        };
        AwsProvider {
            cfn: Cfn {
                sdk: aws_sdk_cloudformation::Client::new(&config),
                site: site("CloudFormation"),
                poll: settings.poll_policy(),
                cleanup: Cleanup {
                    budget: settings.cleanup_budget,
                    after_cancel: settings.cancel_cleanup_budget,
                },
            },
            sts: aws_sdk_sts::Client::new(&config),
            sts_site: site("STS"),
            region,
        }
    }

    /// The clients talk to one region: a target resolved in another is refused.
    fn other_region(&self, region: &str, stack_name: &str) -> Option<ProviderError> {
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

/// Longest wait for a TCP connection (or TLS handshake) to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn refused<'a, T: Send + 'a>(e: ProviderError) -> BoxFuture<'a, ProviderResult<T>> {
    Box::pin(async move { Err(e) })
}

impl CloudApi for AwsProvider {
    fn region(&self) -> Option<String> {
        self.region.clone()
    }

    fn who_am_i<'a>(&'a self, ctx: &'a TaskCtx) -> BoxFuture<'a, ProviderResult<CallerIdentity>> {
        Box::pin(async move {
            let out = self
                .sts_site
                .call(
                    ctx,
                    "GetCallerIdentity",
                    self.sts.get_caller_identity().send(),
                )
                .await?;
            let identity = CallerIdentity {
                account: clean(out.account()),
                arn: clean(out.arn()),
                user_id: clean(out.user_id()),
            };
            if identity.account.is_empty() || identity.arn.is_empty() {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    "STS answered without an account or ARN; cannot decide who you are",
                ));
            }
            ctx.info(format!("account {} as {}", identity.account, identity.arn));
            Ok(identity)
        })
    }

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
        if let Some(e) = self.other_region(&t.region, &t.stack_name) {
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
        if let Some(e) = self.other_region(&op.region, &op.stack_name) {
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
        if let Some(e) = self.other_region(&t.region, &t.stack_name) {
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
        if let Some(e) = self.other_region(&t.region, &t.stack_name) {
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
        if let Some(e) = self.other_region(&t.region, &t.stack_name) {
            return refused(e);
        }
        Box::pin(changeset::set_termination_protection(
            &self.cfn, approved, ctx,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_aws_cannot_drive_the_terminal() {
        let hostile = "Stack failed\x1b]0;pwned\x07 \x1b[2J\x1b[31mred\r\nnext";
        let shown = clean(Some(hostile));
        assert!(
            !shown.chars().any(|c| c.is_control() && c != '\t'),
            "{shown:?}"
        );
        assert_eq!(shown, "Stack failed rednext");
        assert_eq!(clean(None), "");
        assert_eq!(clean_opt(Some("ok")), Some("ok".to_string()));
    }
}
