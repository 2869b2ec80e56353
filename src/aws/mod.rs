//! AWS through the official Rust SDK: credentials and region from the standard chain (env,
//! profiles, SSO, instance role), exactly as the aws CLI finds them.

mod errors;

use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult, Providers, StsApi};
use crate::engine::task::TaskCtx;
use crate::model::CallerIdentity;
use crate::ops::GateBinding;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use futures::future::BoxFuture;
use std::sync::Arc;
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

/// An SDK timestamp as RFC 3339.
pub(crate) fn time(t: Option<&aws_sdk_cloudformation::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| {
        t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

/// Where the AWS clients point. Every field but the poll interval falls back to the standard
/// chain when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Points every client at e.g. a local emulator. `AWS_ENDPOINT_URL` is honoured by the SDK
    /// itself when this is `None`.
    pub endpoint_url: Option<String>,
    /// Pause between status polls of a change set, a stack being changed, or a drift check.
    pub poll_interval: Duration,
}

impl AwsSettings {
    /// What CloudFormation's own console polls at; a faster pace mostly earns throttling.
    pub const DEFAULT_POLL: Duration = Duration::from_secs(3);
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            profile: None,
            region: None,
            endpoint_url: None,
            poll_interval: AwsSettings::DEFAULT_POLL,
        }
    }
}

/// The SDK configuration every client is built from: credentials and region from the standard
/// chain, the profile, region and endpoint from the settings. Resolving it may read files
/// and, on EC2, ask IMDS for the region; it never fails: missing credentials show up on the
/// first call.
pub async fn sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
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
    loader.load().await
}

/// Every capability's AWS provider, built from one SDK configuration. Each mutating provider
/// holds `binding` and refuses an approval its gate did not mint.
pub async fn providers(settings: &AwsSettings, binding: GateBinding) -> Providers {
    let config = sdk_config(settings).await;
    Providers {
        sts: Arc::new(StsProvider::new(&config)),
        cfn: Arc::new(crate::cfn::aws::CfnProvider::new(
            &config,
            settings.poll_interval,
            binding.clone(),
        )),
        cost: Arc::new(crate::cost::aws::CostProvider::new(
            &config,
            settings.poll_interval,
            binding,
        )),
    }
}

/// STS: who the console is.
#[derive(Clone)]
pub struct StsProvider {
    sts: aws_sdk_sts::Client,
    region: Option<String>,
}

impl StsProvider {
    pub fn new(config: &aws_config::SdkConfig) -> StsProvider {
        StsProvider {
            sts: aws_sdk_sts::Client::new(config),
            region: config.region().map(|r| r.to_string()),
        }
    }
}

impl StsApi for StsProvider {
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
