//! How every AWS call is made: bounded by the task's per-call timeout, dropped at once when the
//! task is cancelled (so a signal never waits out a request), and, when it fails, described as
//! a sentence naming the call and where it went.

use super::errors::classify;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::retry::human;
use crate::engine::task::TaskCtx;
use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// Where one client's calls go, for error messages and removal commands.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// "CloudFormation", "STS".
    pub service: &'static str,
    pub region: Option<String>,
    /// The configured endpoint (`--endpoint-url`), when not the AWS default.
    pub endpoint: Option<String>,
    /// The SDK's operation timeout, named when it strikes.
    pub call_timeout: Duration,
}

impl Site {
    /// `DescribeChangeSet to http://127.0.0.1:5000 (us-east-1)`, or
    /// `DescribeChangeSet to CloudFormation in us-east-1` for the AWS endpoint.
    pub fn describe(&self, call: &str) -> String {
        match (&self.endpoint, &self.region) {
            (Some(url), Some(region)) => format!("{call} to {url} ({region})"),
            (Some(url), None) => format!("{call} to {url}"),
            (None, Some(region)) => format!("{call} to {} in {region}", self.service),
            (None, None) => format!("{call} to {} (no region configured)", self.service),
        }
    }

    /// A failed call of this client as a sentence (for calls made outside [`Site::call`]).
    pub fn fail<E>(&self, call: &str, err: SdkError<E, HttpResponse>) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(err, &self.describe(call), self.call_timeout)
    }

    /// ` --region R [--endpoint-url URL]`: what an aws CLI command needs to reach the same place.
    pub fn cli_args(&self) -> String {
        cli_args(self.region.as_deref(), self.endpoint.as_deref())
    }

    /// Make one call for a task: not sent at all once the task is cancelled, dropped at once
    /// when it is cancelled in flight, and bounded by the task's per-call timeout.
    pub async fn call<T, E, F>(&self, ctx: &TaskCtx, call: &str, request: F) -> ProviderResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if ctx.is_cancelled() {
            return Err(ProviderError {
                call: Some(self.describe(call)),
                ..ProviderError::new(ErrorKind::Cancelled, "cancelled before it was sent")
            });
        }
        tokio::select! {
            biased;
            _ = ctx.cancelled() => Err(ProviderError {
                call: Some(self.describe(call)),
                maybe_delivered: true,
                ..ProviderError::new(ErrorKind::Cancelled, "cancelled while waiting for the answer")
            }),
            answer = self.bounded(ctx, call, request) => answer,
        }
    }

    /// Make one call that must go on although the task is cancelled: the clean-up after a
    /// cancel. Still bounded by the per-call timeout (and by the clean-up's own budget).
    pub async fn call_through_cancel<T, E, F>(
        &self,
        ctx: &TaskCtx,
        call: &str,
        request: F,
    ) -> ProviderResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.bounded(ctx, call, request).await
    }

    /// One page of a paginator, as [`Site::call`]; `None` after the last page.
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
        self.call(ctx, call, async { next.await.transpose() }).await
    }

    async fn bounded<T, E, F>(&self, ctx: &TaskCtx, call: &str, request: F) -> ProviderResult<T>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let limit = ctx.call_timeout();
        match tokio::time::timeout(limit, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(classify(e, &self.describe(call), self.call_timeout)),
            Err(_) => Err(ProviderError {
                call: Some(self.describe(call)),
                maybe_delivered: true,
                ..ProviderError::new(
                    ErrorKind::Network,
                    format!("no answer within {}", human(limit)),
                )
            }),
        }
    }
}

/// ` --region R [--endpoint-url URL]` for an aws CLI command.
pub(crate) fn cli_args(region: Option<&str>, endpoint: Option<&str>) -> String {
    let mut args = String::new();
    if let Some(region) = region {
        args.push_str(&format!(" --region {region}"));
    }
    if let Some(url) = endpoint {
        args.push_str(&format!(" --endpoint-url {url}"));
    }
    args
}
