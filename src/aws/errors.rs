//! SDK errors → [`ProviderError`] with a kind the engine can act on.

use crate::engine::ports::{ErrorKind, ProviderError};
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Classify any SDK error. Works for every service client (they share `SdkError`).
pub fn classify<E, R>(err: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: ProvideErrorMetadata,
{
    let code = err.code().map(str::to_string);
    let service_message = err.message().map(str::to_string);
    let full = DisplayErrorContext(&err).to_string();
    let kind = match &err {
        SdkError::TimeoutError(_) => ErrorKind::Network,
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => ErrorKind::Network,
        SdkError::ServiceError(_) => kind_from_code(code.as_deref(), service_message.as_deref()),
        SdkError::ResponseError(_) => ErrorKind::Server,
        _ if mentions_credentials(&full) => ErrorKind::Credentials,
        SdkError::DispatchFailure(_) => ErrorKind::Network,
        _ => ErrorKind::Other,
    };
    let status = status_of(&full);
    let kind = match (kind, status) {
        (ErrorKind::Other, Some(s)) if s >= 500 => ErrorKind::Server,
        (kind, _) => kind,
    };
    let message = match (service_message, code.as_ref(), status) {
        (Some(message), _, _) => message,
        // An answer that is not an AWS error document (an HTML 500 page, say): the SDK's parse
        // failure says nothing useful to an operator.
        (None, None, Some(s)) => {
            format!("the service answered HTTP {s} without a readable error message")
        }
        (None, _, _) => short(&full),
    };
    // A service's error can quote the request it refused (SignatureDoesNotMatch quotes the
    // canonical request, session token included): mask credentials before the text reaches a
    // job log, the audit log or the screen.
    ProviderError {
        kind,
        message: super::clean(Some(&crate::redact::redact(&message))),
        code: code.map(|c| super::clean(Some(&crate::redact::redact(&c)))),
    }
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

fn mentions_credentials(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("credentials")
        || lower.contains("no providers in chain")
        || lower.contains("sso")
}

/// The HTTP status from the error's debug text, when the SDK kept the raw response.
fn status_of(full: &str) -> Option<u16> {
    let idx = full.find("status: ")?;
    full[idx + 8..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The SDK's context chain can be long; keep the screen readable.
fn short(full: &str) -> String {
    const MAX: usize = 300;
    if full.len() <= MAX {
        return full.to_string();
    }
    let mut end = MAX;
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &full[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let text = "é".repeat(400);
        let cut = short(&text);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= 304);
    }
}
