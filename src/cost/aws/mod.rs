//! Cost through the AWS SDK: the only cost code that talks to AWS. Cost Explorer and the
//! billing metric (both us-east-1 only), CloudWatch metrics, EC2, ELB and RDS describes, and
//! the reaping calls, which refuse any approval their gate did not mint.

mod idle;
mod reap;
mod spend;

use crate::aws::AwsSettings;
use crate::aws::calls::Site;
use crate::cost::model::{IdleReport, SpendReport};
use crate::cost::ops::{DeleteVolumes, ReleaseAddresses, SpendQuery, StopInstances};
use crate::cost::port::CostApi;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::ops::{Approved, GateBinding, ReadScope};
use futures::future::BoxFuture;
use std::time::Duration;

/// The only region Cost Explorer and the billing metric answer in.
pub const BILLING_REGION: &str = "us-east-1";

/// Cost for one profile and region.
#[derive(Clone)]
pub struct CostProvider {
    ce: aws_sdk_costexplorer::Client,
    /// CloudWatch in us-east-1, for `AWS/Billing`.
    billing: aws_sdk_cloudwatch::Client,
    /// CloudWatch in the session's region, for the idle signals.
    cloudwatch: aws_sdk_cloudwatch::Client,
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    region: Option<String>,
    poll: Duration,
    /// Where each client's calls go, for the sentence a failure becomes.
    sites: CostSites,
    /// The gate whose approvals this provider accepts.
    binding: GateBinding,
}

#[derive(Clone)]
struct CostSites {
    ce: Site,
    billing: Site,
    cloudwatch: Site,
    ec2: Site,
    rds: Site,
    elb: Site,
}

impl CostProvider {
    pub fn new(
        config: &aws_config::SdkConfig,
        settings: &AwsSettings,
        binding: GateBinding,
    ) -> CostProvider {
        // `--endpoint-url` (or `AWS_ENDPOINT_URL`) points every client at one endpoint, which
        // outranks the SDK's service-specific variables: honour CloudWatch's here, so it can
        // be pointed elsewhere (a CloudWatch that speaks RPC v2 CBOR beside an emulator).
        match std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => {
                let cloudwatch = config.to_builder().endpoint_url(url).build();
                CostProvider::with_cloudwatch(config, &cloudwatch, settings, binding)
            }
            None => CostProvider::with_cloudwatch(config, config, settings, binding),
        }
    }

    /// As [`CostProvider::new`], with CloudWatch built from its own configuration (another
    /// endpoint: the tests' CBOR stub beside moto). `AWS_ENDPOINT_URL_CLOUDWATCH` does the
    /// same for [`CostProvider::new`].
    pub fn with_cloudwatch(
        config: &aws_config::SdkConfig,
        cloudwatch: &aws_config::SdkConfig,
        settings: &AwsSettings,
        binding: GateBinding,
    ) -> CostProvider {
        let billing_region = aws_config::Region::new(BILLING_REGION);
        let region = config.region().map(|r| r.to_string());
        let site = |service| settings.site(service, region.clone());
        let billing_site = |service| settings.site(service, Some(BILLING_REGION.to_string()));
        let sites = CostSites {
            ce: billing_site("Cost Explorer"),
            billing: billing_site("CloudWatch"),
            cloudwatch: site("CloudWatch"),
            ec2: site("EC2"),
            rds: site("RDS"),
            elb: site("Elastic Load Balancing"),
        };
        let ce = aws_sdk_costexplorer::config::Builder::from(config)
            .region(billing_region.clone())
            .build();
        let billing = aws_sdk_cloudwatch::config::Builder::from(cloudwatch)
            .region(billing_region)
            .build();
        CostProvider {
            ce: aws_sdk_costexplorer::Client::from_conf(ce),
            billing: aws_sdk_cloudwatch::Client::from_conf(billing),
            cloudwatch: aws_sdk_cloudwatch::Client::new(cloudwatch),
            ec2: aws_sdk_ec2::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            region,
            poll: settings.poll_interval,
            sites,
            binding,
        }
    }

    /// Why this provider must not run an approved change: an approval another gate minted, or
    /// a target in another region than the clients talk to.
    fn refusal<T>(&self, approved: &Approved<T>, region: &str) -> Option<ProviderError> {
        if let Err(foreign) = self.binding.check(approved) {
            return Some(ProviderError::new(ErrorKind::Invalid, foreign.to_string()));
        }
        let connected = self.region.as_deref()?;
        (connected != region).then(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "the resources are in {region} but opsdeck is connected to {connected}; restart with --region {region}"
                ),
            )
        })
    }

    fn region_of(&self, scope: &ReadScope) -> String {
        self.region.clone().unwrap_or_else(|| scope.region.clone())
    }
}

impl CostApi for CostProvider {
    fn spend<'a>(
        &'a self,
        query: &'a SpendQuery,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<SpendReport>> {
        Box::pin(spend::spend(self, query, ctx))
    }

    fn idle<'a>(
        &'a self,
        scope: &'a ReadScope,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<IdleReport>> {
        Box::pin(idle::scan(self, self.region_of(scope), ctx))
    }

    fn stop_instances<'a>(
        &'a self,
        approved: Approved<StopInstances>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async move {
            if let Some(refused) = self.refusal(&approved, &approved.op().target.region) {
                return Err(refused);
            }
            reap::stop_instances(self, approved.op(), ctx).await
        })
    }

    fn delete_volumes<'a>(
        &'a self,
        approved: Approved<DeleteVolumes>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async move {
            if let Some(refused) = self.refusal(&approved, &approved.op().target.region) {
                return Err(refused);
            }
            reap::delete_volumes(self, approved.op(), ctx).await
        })
    }

    fn release_addresses<'a>(
        &'a self,
        approved: Approved<ReleaseAddresses>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        Box::pin(async move {
            if let Some(refused) = self.refusal(&approved, &approved.op().target.region) {
                return Err(refused);
            }
            reap::release_addresses(self, approved.op(), ctx).await
        })
    }
}

/// What went wrong with a Cost Explorer or CloudWatch call, as a clause. An answer that is
/// not an AWS error document (an HTML page with HTTP 500, say) is named by its status.
pub(crate) fn describe_error<E>(
    site: &Site,
    call: &str,
    err: aws_sdk_costexplorer::error::SdkError<E, aws_sdk_costexplorer::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_costexplorer::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    // The clause only ("the service answered HTTP 500 …"): it stands in a report's line,
    // after "forecast unavailable", where the whole sentence would not fit.
    site.fail(call, err).message
}

/// The `Name` tag among `(key, value)` pairs.
fn tag<'a>(
    tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    key: &str,
) -> Option<String> {
    tags.into_iter()
        .find(|(k, _)| *k == Some(key))
        .and_then(|(_, v)| v)
        .map(|v| crate::aws::clean(Some(v)))
}
