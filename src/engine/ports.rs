//! Ports: what the engine needs from the outside world, one trait per capability (the
//! capability's own lives in its folder, e.g. `cfn::port::CfnApi`). Providers implement them;
//! tests use recording fakes. Every mutating method demands the approval for exactly its
//! operation.

use crate::cfn::port::CfnApi;
use crate::cost::port::CostApi;
use crate::engine::task::TaskCtx;
use crate::installers::port::InstallApi;
use crate::kube::port::KubeApi;
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
    /// What went wrong, as a clause: "the connection was refused".
    pub message: String,
    /// The AWS call that failed and where it went, e.g.
    /// `DescribeChangeSet to http://127.0.0.1:5000 (us-east-1)`.
    pub call: Option<String>,
    /// How often the failing step was tried before this error stood. Only whoever retried
    /// sets it above 1, so no message claims a retry that did not happen.
    pub attempts: u32,
    /// The request may have reached AWS although no answer came (a timeout, a reset, a call
    /// cancelled in flight): a change it asked for may have happened.
    pub maybe_delivered: bool,
    /// Put around the sentence: see [`ProviderError::context`] and [`ProviderError::note`].
    /// Boxed: most errors have neither, and errors travel in every `Result`.
    pub framing: Option<Box<Framing>>,
}

/// What is said before and after an error's own sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Framing {
    /// What opsdeck was doing, put first: "gave up waiting for change set opsdeck-1".
    pub context: Option<String>,
    /// Put last: what may be left in AWS and how to remove it.
    pub note: Option<String>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind,
            code: None,
            message: message.into(),
            call: None,
            attempts: 1,
            maybe_delivered: false,
            framing: None,
        }
    }

    /// An error the service answered with its own code.
    pub fn with_code(
        kind: ErrorKind,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ProviderError {
        ProviderError {
            code: Some(code.into()),
            ..ProviderError::new(kind, message)
        }
    }

    /// Put what opsdeck was doing in front ("gave up waiting for ...").
    pub fn context(mut self, context: impl Into<String>) -> ProviderError {
        let context = context.into();
        let framing = self.framing.get_or_insert_with(Default::default);
        framing.context = Some(match framing.context.take() {
            Some(inner) => format!("{context}: {inner}"),
            None => context,
        });
        self
    }

    /// Add a closing sentence: what may be left in AWS and how to remove it.
    pub fn note(mut self, note: impl Into<String>) -> ProviderError {
        let note = note.into();
        let framing = self.framing.get_or_insert_with(Default::default);
        framing.note = Some(match framing.note.take() {
            Some(first) => format!("{first} {note}"),
            None => note,
        });
        self
    }

    /// Whether a read may be tried again after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Server | ErrorKind::Network
        )
    }

    /// Whether the service itself refused the credentials (expired or invalid token), as
    /// against none being found here.
    pub fn credentials_refused(&self) -> bool {
        self.kind == ErrorKind::Credentials && self.code.is_some()
    }

    /// What to do about it, as a sentence. It never says that something was retried: the
    /// attempts are counted in [`ProviderError::attempts`] by whoever made them.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::Credentials if self.credentials_refused() => Some(
                "Renew the credentials (`aws sso login`, a fresh session token) or check AWS_PROFILE",
            ),
            ErrorKind::Credentials => Some(
                "Check AWS credentials: `aws sts get-caller-identity`, `aws sso login`, or AWS_PROFILE",
            ),
            ErrorKind::Network => Some(
                "Check that the endpoint is reachable from this host (network, proxy, --region, --endpoint-url), then try again",
            ),
            ErrorKind::AccessDenied => Some(
                "The IAM principal lacks permission for this call; ask for it or use another profile",
            ),
            ErrorKind::Throttled => {
                Some("AWS is limiting this account's request rate; wait a minute, then try again")
            }
            ErrorKind::Server => {
                Some("The AWS service failed on its side; try again in a few minutes")
            }
            _ => None,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let framing = self.framing.as_deref();
        if let Some(context) = framing.and_then(|f| f.context.as_deref()) {
            write!(f, "{context}: ")?;
        }
        if let Some(call) = &self.call {
            write!(f, "{call} failed: ")?;
        }
        let message = self.message.trim_end_matches('.');
        match (&self.kind, &self.code) {
            // Missing credentials is the most common first-run problem: say it plainly first,
            // the SDK's detail after.
            (ErrorKind::Credentials, None) => {
                write!(f, "no usable AWS credentials were found ({message})")?
            }
            (ErrorKind::Credentials, Some(code)) => {
                write!(f, "AWS refused the credentials ({code}: {message})")?
            }
            (_, Some(code)) => write!(f, "{code}: {message}")?,
            (_, None) => f.write_str(message)?,
        }
        if self.attempts > 1 {
            write!(f, " (tried {} times)", self.attempts)?;
        }
        if let Some(hint) = self.hint() {
            write!(f, ". {hint}")?;
        }
        if let Some(note) = framing.and_then(|f| f.note.as_deref()) {
            write!(f, ". {}", note.trim_end_matches('.'))?;
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
    pub install: Arc<dyn InstallApi>,
    pub kube: Arc<dyn KubeApi>,
    pub cost: Arc<dyn CostApi>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_errors_lead_with_the_plain_reason() {
        let e = ProviderError::new(ErrorKind::Credentials, "failed to load IMDS session token");
        assert_eq!(
            e.to_string(),
            "no usable AWS credentials were found (failed to load IMDS session token). Check AWS credentials: `aws sts get-caller-identity`, `aws sso login`, or AWS_PROFILE"
        );
        let expired = ProviderError {
            call: Some("GetCallerIdentity to STS in us-east-1".into()),
            ..ProviderError::with_code(
                ErrorKind::Credentials,
                "ExpiredToken",
                "The security token included in the request is expired",
            )
        };
        assert_eq!(
            expired.to_string(),
            "GetCallerIdentity to STS in us-east-1 failed: AWS refused the credentials (ExpiredToken: The security token included in the request is expired). Renew the credentials (`aws sso login`, a fresh session token) or check AWS_PROFILE"
        );
    }

    #[test]
    fn no_message_claims_a_retry_that_did_not_happen() {
        let once = ProviderError::with_code(ErrorKind::Throttled, "Throttling", "Rate exceeded");
        let text = once.to_string();
        assert!(
            !text.contains("retried") && !text.contains("tried"),
            "{text}"
        );
        assert_eq!(
            text,
            "Throttling: Rate exceeded. AWS is limiting this account's request rate; wait a minute, then try again"
        );
        let polled = ProviderError {
            attempts: 4,
            call: Some("DescribeChangeSet to http://127.0.0.1:5000 (us-east-1)".into()),
            ..once
        }
        .context("gave up waiting for change set opsdeck-1")
        .note("Left in AWS: change set opsdeck-1.");
        assert_eq!(
            polled.to_string(),
            "gave up waiting for change set opsdeck-1: DescribeChangeSet to http://127.0.0.1:5000 (us-east-1) failed: Throttling: Rate exceeded (tried 4 times). AWS is limiting this account's request rate; wait a minute, then try again. Left in AWS: change set opsdeck-1"
        );
    }
}
