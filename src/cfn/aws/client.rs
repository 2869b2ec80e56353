//! The CloudFormation client with where it points, how patiently it polls and how long its
//! clean-ups may take; every call goes through `aws::calls::Site`.

use crate::aws::calls::Site;
use crate::engine::ports::ProviderResult;
use crate::engine::retry::PollPolicy;
use crate::engine::task::TaskCtx;
use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// How long removing what a job made may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cleanup {
    pub budget: Duration,
    /// Once the job is cancelled.
    pub after_cancel: Duration,
}

/// The CloudFormation client with where it points and how patiently it polls.
#[derive(Clone)]
pub(crate) struct Cfn {
    pub sdk: aws_sdk_cloudformation::Client,
    pub site: Site,
    pub poll: PollPolicy,
    pub cleanup: Cleanup,
}

impl Cfn {
    pub async fn call<T, E, F>(&self, ctx: &TaskCtx, call: &str, request: F) -> ProviderResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.site.call(ctx, call, request).await
    }

    pub async fn page<T, E, F>(
        &self,
        ctx: &TaskCtx,
        call: &str,
        next: F,
    ) -> ProviderResult<Option<T>>
    where
        F: Future<Output = Option<Result<T, SdkError<E, HttpResponse>>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.site.page(ctx, call, next).await
    }
}
