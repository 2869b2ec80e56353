//! AWS through the official Rust SDK: credentials and region from the standard chain (env,
//! profiles, SSO, instance role), exactly as the aws CLI finds them.

pub(crate) mod calls;
mod errors;

use crate::engine::EngineConfig;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult, Providers, StsApi};
use crate::engine::retry::PollPolicy;
use crate::engine::task::TaskCtx;
use crate::model::CallerIdentity;
use crate::ops::GateBinding;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use calls::Site;
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
    /// How installer targets are reached (`[targets]` in config); the SSM target uses the same
    /// SDK configuration as every other client.
    pub targets: crate::installers::targets::TargetSettings,
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

    /// Where calls to `service` go, for error messages and removal commands.
    pub(crate) fn site(&self, service: &'static str, region: Option<String>) -> Site {
        Site {
            service,
            region,
            endpoint: self.endpoint_url.clone(),
            call_timeout: self.call_timeout,
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
            targets: crate::installers::targets::TargetSettings::default(),
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
    loader.load().await
}

/// Every capability's provider, built from one SDK configuration, with the kubeconfig found
/// as kubectl finds it. Each mutating provider holds `binding` and refuses an approval its
/// gate did not mint.
pub async fn providers(settings: &AwsSettings, binding: GateBinding) -> Providers {
    providers_with(settings, &crate::kube::KubeSettings::default(), binding).await
}

/// [`providers`], with the kubeconfig the command line named (`--kubeconfig`).
pub async fn providers_with(
    settings: &AwsSettings,
    kube: &crate::kube::KubeSettings,
    binding: GateBinding,
) -> Providers {
    let config = sdk_config(settings).await;
    Providers {
        sts: Arc::new(StsProvider::new(&config, settings)),
        cfn: Arc::new(crate::cfn::aws::CfnProvider::new(
            &config,
            settings,
            binding.clone(),
        )),
        install: Arc::new(crate::installers::targets::InstallProvider::new(
            &config,
            settings,
            binding.clone(),
        )),
        kube: Arc::new(crate::kube::provider::KubeProvider::new(
            &config,
            settings,
            kube.clone(),
            binding.clone(),
        )),
        cost: Arc::new(crate::cost::aws::CostProvider::new(
            &config, settings, binding,
        )),
    }
}

/// Longest wait for a TCP connection (or TLS handshake) to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// STS: who the console is.
#[derive(Clone)]
pub struct StsProvider {
    sts: aws_sdk_sts::Client,
    site: Site,
    region: Option<String>,
}

impl StsProvider {
    pub fn new(config: &aws_config::SdkConfig, settings: &AwsSettings) -> StsProvider {
        let region = config.region().map(|r| r.to_string());
        StsProvider {
            sts: aws_sdk_sts::Client::new(config),
            site: settings.site("STS", region.clone()),
            region,
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
                .site
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
