//! AWS through the official Rust SDK: credentials and region from the standard chain (env,
//! profiles, SSO, instance role), exactly as the aws CLI finds them.

mod cloudformation;
mod errors;

use crate::engine::ports::{CloudApi, ErrorKind, ProviderError, ProviderResult};
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

pub use errors::classify;

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

/// Where the AWS clients point. Every field falls back to the standard chain when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Points every client at e.g. a local emulator. `AWS_ENDPOINT_URL` is honoured by the SDK
    /// itself when this is `None`.
    pub endpoint_url: Option<String>,
}

/// Live AWS clients for one profile and region.
#[derive(Clone)]
pub struct AwsProvider {
    cfn: aws_sdk_cloudformation::Client,
    sts: aws_sdk_sts::Client,
    region: Option<String>,
}

impl AwsProvider {
    /// Resolves configuration (may read files and, on EC2, ask IMDS for the region); never
    /// fails: missing credentials show up on the first call.
    pub async fn load(settings: &AwsSettings) -> AwsProvider {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // The engine owns retries: reads are retried with backoff, mutations never.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
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
        AwsProvider {
            region: config.region().map(|r| r.to_string()),
            cfn: aws_sdk_cloudformation::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
        }
    }
}

impl CloudApi for AwsProvider {
    fn region(&self) -> Option<String> {
        self.region.clone()
    }

    fn who_am_i<'a>(&'a self, ctx: &'a TaskCtx) -> BoxFuture<'a, ProviderResult<CallerIdentity>> {
        Box::pin(async move {
            let out = self
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(classify)?;
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
        // The clients talk to one region: refuse a target resolved in another.
        if let Some(region) = &self.region
            && *region != approved.op().target.region
        {
            let message = format!(
                "stack {} is in {}, but opsdeck is connected to {region}; refusing",
                approved.op().target.stack_name,
                approved.op().target.region
            );
            return Box::pin(async move { Err(ProviderError::new(ErrorKind::Invalid, message)) });
        }
        Box::pin(cloudformation::delete_stack(&self.cfn, approved, ctx))
    }

    fn get_template<'a>(
        &'a self,
        _stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(unbuilt("GetTemplate")) })
    }

    fn detect_drift<'a>(
        &'a self,
        _stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<StackDrift>> {
        Box::pin(async { Err(unbuilt("DetectStackDrift")) })
    }

    fn follow_stack<'a>(
        &'a self,
        _stack_id: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(unbuilt("DescribeStackEvents")) })
    }

    fn create_change_set<'a>(
        &'a self,
        _approved: Approved<CreateChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ChangeSetOutcome>> {
        Box::pin(async { Err(unbuilt("CreateChangeSet")) })
    }

    fn execute_change_set<'a>(
        &'a self,
        _approved: Approved<ExecuteChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(unbuilt("ExecuteChangeSet")) })
    }

    fn discard_change_set<'a>(
        &'a self,
        _approved: Approved<DiscardChangeSet>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(unbuilt("DeleteChangeSet")) })
    }

    fn set_termination_protection<'a>(
        &'a self,
        _approved: Approved<SetTerminationProtection>,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async { Err(unbuilt("UpdateTerminationProtection")) })
    }
}

// Placeholder while the change-set calls are written; replaced before issue 3 closes.
fn unbuilt(call: &str) -> ProviderError {
    ProviderError::new(ErrorKind::Other, format!("{call} is not wired up yet"))
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
