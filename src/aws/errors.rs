//! SDK errors → [`ProviderError`]: a kind the engine can act on and a sentence a person can read
//! (what failed, against which endpoint, what to do). The SDK's own detail goes to the trace log
//! only. Classification reads the error's structure (the HTTP status of the raw response, the
//! dispatch failure's kind, the I/O error in its source chain), never its debug text.

use crate::engine::ports::{ErrorKind, ProviderError};
use crate::engine::retry::human;
use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::error::Error;
use std::time::Duration;

/// Classify any SDK error of `call` (already described with its endpoint, e.g.
/// `DescribeChangeSet to http://127.0.0.1:5000 (us-east-1)`). Works for every service client
/// (they share `SdkError`). `limit` is the per-call timeout, named when it struck.
pub fn classify<E>(err: SdkError<E, HttpResponse>, call: &str, limit: Duration) -> ProviderError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    tracing::debug!(call, error = %DisplayErrorContext(&err), "AWS call failed");
    // Masked before control characters go: a quoted request's header lines must still be
    // lines when the credentials in them are found.
    let code = err
        .code()
        .map(|c| super::clean(Some(&crate::redact::redact(c))));
    let service_message = err
        .message()
        .map(|m| super::clean(Some(&crate::redact::redact(m))));
    let status = err.raw_response().map(|r| r.status().as_u16());
    let (kind, message, maybe_delivered) = match &err {
        SdkError::TimeoutError(_) => (
            ErrorKind::Network,
            format!("no answer within {}", human(limit)),
            true,
        ),
        SdkError::DispatchFailure(d) => match d.as_connector_error() {
            Some(c) => from_connector(c, limit),
            None => (
                ErrorKind::Network,
                "the request could not be sent".into(),
                false,
            ),
        },
        SdkError::ServiceError(_) => {
            let kind = match kind_from_code(code.as_deref(), service_message.as_deref()) {
                ErrorKind::Other if status.is_some_and(|s| s >= 500) => ErrorKind::Server,
                kind => kind,
            };
            let message = match (&service_message, &code, status) {
                (Some(m), _, _) if !m.is_empty() => m.clone(),
                (_, Some(_), _) => "no message given".to_string(),
                // An answer that is not an AWS error document (an HTML 502 from a proxy, say).
                (_, None, Some(s)) => unreadable(s),
                (_, None, None) => "the service answered with an error it did not describe".into(),
            };
            (kind, message, false)
        }
        SdkError::ResponseError(_) => match status {
            Some(s) if s >= 500 => (ErrorKind::Server, unreadable(s), false),
            Some(s) => (
                ErrorKind::Other,
                format!("the answer (HTTP {s}) could not be read"),
                false,
            ),
            None => (
                ErrorKind::Network,
                "the answer could not be read".into(),
                true,
            ),
        },
        // Building the request failed: e.g. no credentials to sign it with.
        _ if mentions_credentials(&err) => (ErrorKind::Credentials, first_line(&err), false),
        _ => (
            ErrorKind::Other,
            format!("the request could not be built: {}", first_line(&err)),
            false,
        ),
    };
    // A service's error can quote the request it refused (SignatureDoesNotMatch quotes the
    // canonical request, session token included): mask credentials before the text reaches a
    // job log, the audit log or the screen.
    ProviderError {
        kind,
        message: crate::redact::redact(&message).into_owned(),
        code: code.map(|c| crate::redact::redact(&c).into_owned()),
        call: Some(call.to_string()),
        maybe_delivered,
        ..ProviderError::new(kind, "")
    }
}

fn unreadable(status: u16) -> String {
    format!("the service answered HTTP {status} without an AWS error document")
}

/// A failure to get an answer at all: refused, reset, timed out, or no credentials to sign with
/// (which the SDK reports while dispatching). The bool: whether the request may have arrived.
fn from_connector(
    c: &aws_sdk_cloudformation::error::ConnectorError,
    limit: Duration,
) -> (ErrorKind, String, bool) {
    if let Some(io) = io_error(c) {
        use std::io::ErrorKind as Io;
        let (text, delivered) = match io.kind() {
            Io::ConnectionRefused => ("the connection was refused (nothing listens there)", false),
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
                ("the connection was reset before an answer came", true)
            }
            Io::UnexpectedEof => ("the connection closed before an answer came", true),
            Io::TimedOut => ("the connection timed out", true),
            Io::NotFound | Io::AddrNotAvailable => (
                "the endpoint's address could not be resolved or reached",
                false,
            ),
            _ => ("", true),
        };
        if !text.is_empty() {
            return (ErrorKind::Network, text.to_string(), delivered);
        }
        return (
            ErrorKind::Network,
            format!(
                "a network error occurred ({})",
                super::clean(Some(&io.to_string()))
            ),
            true,
        );
    }
    if c.is_timeout() {
        return (
            ErrorKind::Network,
            format!("no connection or answer within {}", human(limit)),
            true,
        );
    }
    if c.is_io() {
        return (
            ErrorKind::Network,
            "the connection failed before an answer came".into(),
            true,
        );
    }
    if mentions_credentials(c) {
        return (ErrorKind::Credentials, first_line(c), false);
    }
    if c.is_user() {
        return (
            ErrorKind::Other,
            format!(
                "the request could not be sent (check --endpoint-url): {}",
                first_line(c)
            ),
            false,
        );
    }
    (
        ErrorKind::Network,
        format!("the request failed in transit ({})", first_line(c)),
        true,
    )
}

/// The I/O error somewhere in the source chain, if any.
fn io_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a std::io::Error> {
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        next = e.source();
    }
    None
}

/// The innermost message of the chain: the SDK's outer layers say "dispatch failure", "other".
fn first_line(err: &(dyn Error + 'static)) -> String {
    let mut inner = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let text = inner.to_string();
    super::clean(Some(text.lines().next().unwrap_or_default()))
}

fn kind_from_code(code: Option<&str>, message: Option<&str>) -> ErrorKind {
    match code.unwrap_or_default() {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "SlowDown" => ErrorKind::Throttled,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "RequestExpired"
        | "InvalidSignatureException"
        | "MissingAuthenticationToken"
        | "AuthFailure" => ErrorKind::Credentials,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            ErrorKind::AccessDenied
        }
        "InternalFailure" | "InternalError" | "ServiceUnavailable" | "InternalServiceError" => {
            ErrorKind::Server
        }
        "ChangeSetNotFound" | "ChangeSetNotFoundException" | "StackNotFoundException" => {
            ErrorKind::NotFound
        }
        "ValidationError" if message.is_some_and(|m| m.contains("does not exist")) => {
            ErrorKind::NotFound
        }
        "ValidationError" | "InvalidParameterValue" | "InvalidParameterCombination" => {
            ErrorKind::Invalid
        }
        _ => ErrorKind::Other,
    }
}

/// Whether the chain is about credentials: the credential providers' errors have no type the
/// SDK exports, so their text is the only sign.
fn mentions_credentials(err: &(dyn Error + 'static)) -> bool {
    let lower = DisplayErrorContext(err).to_string().to_ascii_lowercase();
    lower.contains("credentials")
        || lower.contains("no providers in chain")
        || lower.contains("sso")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::error::ConnectorError;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetError;

    const CALL: &str = "DescribeChangeSet to http://127.0.0.1:5000 (us-east-1)";
    const LIMIT: Duration = Duration::from_secs(60);

    fn dispatch(c: ConnectorError) -> ProviderError {
        classify::<DescribeChangeSetError>(SdkError::dispatch_failure(c), CALL, LIMIT)
    }

    fn answered(status: u16, body: &str) -> ProviderError {
        let raw = HttpResponse::new(
            status.try_into().expect("a valid status"),
            body.to_string().into(),
        );
        let err = DescribeChangeSetError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder().build(),
        );
        classify(SdkError::service_error(err, raw), CALL, LIMIT)
    }

    #[test]
    fn network_failures_are_sentences_and_say_whether_the_request_may_have_arrived() {
        let refused = dispatch(ConnectorError::io(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
        assert_eq!(refused.kind, ErrorKind::Network);
        assert!(!refused.maybe_delivered);
        let text = refused.to_string();
        assert!(
            text.starts_with(&format!(
                "{CALL} failed: the connection was refused (nothing listens there). Check"
            )),
            "{text}"
        );
        assert!(!text.contains("DispatchFailure") && !text.contains("ConnectorError"));

        let reset = dispatch(ConnectorError::io(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))));
        assert!(reset.maybe_delivered);
        assert!(reset.to_string().contains("the connection was reset"));

        let timeout = classify::<DescribeChangeSetError>(
            SdkError::timeout_error("operation timeout"),
            CALL,
            LIMIT,
        );
        assert_eq!(timeout.kind, ErrorKind::Network);
        assert!(timeout.maybe_delivered);
        assert!(timeout.to_string().contains("no answer within 1 min"));
    }

    #[test]
    fn an_html_5xx_is_a_5xx() {
        let html = answered(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
        assert_eq!(html.kind, ErrorKind::Server);
        assert!(html.is_transient());
        assert_eq!(
            html.to_string(),
            format!(
                "{CALL} failed: the service answered HTTP 502 without an AWS error document. The AWS service failed on its side; try again in a few minutes"
            )
        );
        // A 4xx without a document is not a server error.
        assert_eq!(answered(404, "<html/>").kind, ErrorKind::Other);
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            kind_from_code(Some("Throttling"), None),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind_from_code(Some("ExpiredToken"), None),
            ErrorKind::Credentials
        );
        assert_eq!(
            kind_from_code(Some("AccessDenied"), None),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_from_code(
                Some("ValidationError"),
                Some("Stack with id x does not exist")
            ),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_from_code(Some("ValidationError"), Some("bad")),
            ErrorKind::Invalid
        );
        assert_eq!(kind_from_code(None, None), ErrorKind::Other);
    }
}
