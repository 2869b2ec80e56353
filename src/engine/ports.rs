//! Ports: what the engine needs from the outside world, one trait per capability (the
//! capability's own lives in its folder, e.g. `cfn::port::CfnApi`). Providers implement them;
//! tests use recording fakes. Every mutating method demands the approval for exactly its
//! operation.

use crate::cfn::port::CfnApi;
use crate::cost::port::CostApi;
use crate::engine::task::TaskCtx;
use crate::model::CallerIdentity;
use futures::future::BoxFuture;
use std::fmt;
use std::sync::Arc;

/// What kind of failure a provider call ended in; decides retries and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Rate limited: retry with backoff (reads only).
    Throttled,
    /// 5xx from the service: retry with backoff (reads only).
    Server,
    /// Could not reach the endpoint, or it timed out.
    Network,
    /// No credentials, or they expired or were rejected.
    Credentials,
    AccessDenied,
    NotFound,
    /// The request was rejected as invalid.
    Invalid,
    Cancelled,
    /// AWS accepted a change, then opsdeck stopped following it; its outcome is unknown here.
    Detached,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    /// The service's error code, e.g. `ThrottlingException`.
    pub code: Option<String>,
    pub message: String,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Whether a read may be tried again after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Server | ErrorKind::Network
        )
    }

    /// One line for the screen: what happened and what to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::Credentials => Some(
                "check AWS credentials: `aws sts get-caller-identity`, `aws sso login`, or AWS_PROFILE",
            ),
            ErrorKind::Network => Some("check the network, --region and --endpoint-url"),
            ErrorKind::AccessDenied => Some("the IAM principal lacks permission for this call"),
            ErrorKind::Throttled => Some("AWS is rate-limiting requests; retried with backoff"),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Missing credentials is the most common first-run problem: say it plainly first, the
        // SDK's detail after.
        if self.kind == ErrorKind::Credentials {
            f.write_str("no usable AWS credentials — ")?;
            if let Some(hint) = self.hint() {
                write!(f, "{hint}. Detail: ")?;
            }
        }
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if let Some(hint) = self.hint().filter(|_| self.kind != ErrorKind::Credentials) {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

pub type ProviderResult<T> = Result<T, ProviderError>;

/// Who the console is: STS GetCallerIdentity.
pub trait StsApi: Send + Sync {
    /// The region the clients talk to, if the credential chain found one.
    fn region(&self) -> Option<String>;

    fn who_am_i<'a>(&'a self, ctx: &'a TaskCtx) -> BoxFuture<'a, ProviderResult<CallerIdentity>>;
}

/// Every capability's port, as one engine drives them: one field per capability. The engine
/// reads the field an operation's capability names, so a new capability adds a field here and
/// the compiler points at the dispatch that must use it.
#[derive(Clone)]
pub struct Providers {
    pub sts: Arc<dyn StsApi>,
    pub cfn: Arc<dyn CfnApi>,
    pub cost: Arc<dyn CostApi>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_errors_lead_with_the_plain_reason() {
        let e = ProviderError::new(ErrorKind::Credentials, "failed to load IMDS session token");
        let text = e.to_string();
        assert!(
            text.starts_with("no usable AWS credentials — check AWS credentials"),
            "{text}"
        );
        assert!(
            text.ends_with("failed to load IMDS session token"),
            "{text}"
        );
        let throttled = ProviderError {
            kind: ErrorKind::Throttled,
            code: Some("Throttling".into()),
            message: "Rate exceeded".into(),
        };
        assert_eq!(
            throttled.to_string(),
            "Throttling: Rate exceeded (AWS is rate-limiting requests; retried with backoff)"
        );
    }
}
