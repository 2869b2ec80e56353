//! Masks anything that looks like an AWS credential, session token, `Authorization` header or
//! request signature, so it cannot reach a log, whoever wrote the text (the SDK's trace
//! output, an error message that quotes a canonical request, a service's answer).
//!
//! This is the second line of defence: the first is that the crates which see credentials
//! never log below `info` (see `diagnostics`). A pattern cannot recognise a NoEcho parameter
//! value; those are kept out by `ops::Secret` and that cap. See `docs/security.md`.

use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a masked value becomes (the same as `ops::Secret` prints).
pub const MASK: &str = "****";

/// `Authorization` takes the rest of its value, spaces included
/// (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`).
// A literal pattern; `tests` compile every one of them.
#[allow(clippy::expect_used)]
static AUTHORIZATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((?:proxy-)?authorization"?\s*[:=,]\s*"?)[^"\r\n]+"#)
        .expect("the pattern is a literal that compiles (tested)")
});

/// `key: value`, `key=value`, `"key": "value"`, `("key", "value")`, `<Key>value` for every key
/// that names a credential, token, signature or password.
// A literal pattern; `tests` compile every one of them.
#[allow(clippy::expect_used)]
static KEYED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?ix)
        # No word boundary before the key: in a debug dump a quoted request's lines run
        # together as `\nx-amz-security-token:…`.
        (
          (?: x-amz-security-token | x-amz-signature | x-amz-credential
            | (?:aws_?)?secret_?access_?key | (?:aws_?)?access_?key_?id
            | (?:aws_?)?session_?token | security_?token | access_?token | refresh_?token
            | client_?secret | signature | password
            # A key that is only `token`, `api_key`, `secret` or `passwd` (an application's
            # log line): from a word's start, so `NextToken` stays.
            | \b(?:(?:api|auth|bearer|id|private)_?)?token | \bapi_?key | \bsecret | \bpasswd )
          (?: "?\s*[:=,]\s*"? | > )
        )
        [^\s"'<>&,;]+"#,
    )
    .expect("the pattern is a literal that compiles (tested)")
});

/// Access key ids (`AKIA…` long-term, `ASIA…` temporary), the prefixes STS session tokens
/// start with, EKS tokens (`k8s-aws-v1.…`), JSON web tokens (Kubernetes service-account
/// tokens) and `Bearer …` values, wherever they appear.
// A literal pattern; `tests` compile every one of them.
#[allow(clippy::expect_used)]
static SHAPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]*|k8s-aws-v1\.[A-Za-z0-9_-]+|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|\b[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*",
    )
    .expect("the pattern is a literal that compiles (tested)")
});

/// Runs of base64 characters: a secret access key is 40 of them, mixed case; a session token
/// hundreds.
// A literal pattern; `tests` compile every one of them.
#[allow(clippy::expect_used)]
static BASE64_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9/+=]{40,}").expect("the pattern is a literal that compiles (tested)")
});

fn looks_secret(run: &str) -> bool {
    let body = run.trim_end_matches('=');
    let mixed = body.bytes().any(|b| b.is_ascii_uppercase())
        && body.bytes().any(|b| b.is_ascii_lowercase())
        && body.bytes().any(|b| b.is_ascii_digit());
    (body.len() == 40 && mixed) || body.len() >= 100
}

/// `text` with every credential-shaped value replaced by [`MASK`]. Borrowed when nothing
/// needed masking.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for re in [&*AUTHORIZATION, &*KEYED] {
        if re.is_match(&out) {
            out = Cow::Owned(
                re.replace_all(&out, |c: &Captures| format!("{}{MASK}", &c[1]))
                    .into_owned(),
            );
        }
    }
    if SHAPED.is_match(&out) {
        out = Cow::Owned(SHAPED.replace_all(&out, MASK).into_owned());
    }
    if BASE64_RUN.find_iter(&out).any(|m| looks_secret(m.as_str())) {
        out = Cow::Owned(
            BASE64_RUN
                .replace_all(&out, |c: &Captures| {
                    if looks_secret(&c[0]) {
                        MASK.to_string()
                    } else {
                        c[0].to_string()
                    }
                })
                .into_owned(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str =
        "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample+token/value==";

    fn clean(text: &str) -> String {
        redact(text).into_owned()
    }

    #[test]
    fn a_quoted_request_in_a_debug_dump_is_masked_too() {
        // `{:?}` of an SDK error escapes the quoted request's newlines: no word boundary.
        let dump = r#"message: Some("should have been 'POST\n/\n\nhost:h\nx-amz-security-token:TOKEN123\n\nhost;x-amz-date')"#;
        let masked = redact(dump);
        assert!(!masked.contains("TOKEN123"), "{masked}");
    }

    #[test]
    fn the_sigv4_canonical_request_loses_its_token() {
        let trace = "canonical_request=POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n\
                     host:127.0.0.1:45991\nx-amz-date:20261201T171710Z\n\
                     x-amz-security-token:opsdeck-marker-token\nx-amz-user-agent:aws-sdk-rust\n\n\
                     content-type;host;x-amz-date;x-amz-security-token;x-amz-user-agent\n";
        let out = clean(trace);
        assert!(!out.contains("opsdeck-marker-token"), "{out}");
        assert!(out.contains("x-amz-security-token:****"), "{out}");
        assert!(
            out.contains("host:127.0.0.1:45991"),
            "the rest stays: {out}"
        );
        assert!(
            out.contains("x-amz-date;x-amz-security-token;x-amz-user-agent"),
            "{out}"
        );
    }

    #[test]
    fn authorization_headers_and_signatures_are_masked_in_every_spelling() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261201/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
        for text in [
            format!("authorization: {header}\r\nhost: x"),
            format!("(\"authorization\", \"{header}\")"),
            format!("{{\"Authorization\": \"{header}\"}}"),
            format!("Authorization={header}"),
        ] {
            let out = clean(&text);
            assert!(!out.contains("AKIAIOSFODNN7EXAMPLE"), "{out}");
            assert!(!out.contains("fe5f80f77d5fa3be"), "{out}");
            assert!(!out.contains("Credential="), "{out}");
        }
        let url = "https://x/?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F2026&X-Amz-Signature=abc123&X-Amz-Security-Token=tok3n&other=1";
        let out = clean(url);
        for gone in ["AKIAIOSFODNN7EXAMPLE", "abc123", "tok3n"] {
            assert!(!out.contains(gone), "{out}");
        }
        assert!(out.contains("other=1"), "{out}");
    }

    #[test]
    fn credentials_in_answers_and_config_are_masked() {
        let xml = format!(
            "<Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials>"
        );
        let json = format!(
            "{{\"accessKeyId\":\"ASIAIOSFODNN7EXAMPLE\",\"secretAccessKey\":\"{SECRET}\",\"sessionToken\":\"{TOKEN}\"}}"
        );
        let ini = format!(
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}"
        );
        for text in [xml, json, ini] {
            let out = clean(&text);
            assert!(!out.contains("IOSFODNN7EXAMPLE"), "{out}");
            assert!(!out.contains("EXAMPLEKEY"), "{out}");
            assert!(!out.contains("b3JpZ2lu"), "{out}");
            assert!(!out.contains("example+token"), "{out}");
        }
    }

    #[test]
    fn bare_keys_and_tokens_are_masked_by_their_shape() {
        let out = clean(&format!(
            "key {SECRET} and token {TOKEN} and id AKIAIOSFODNN7EXAMPLE."
        ));
        assert_eq!(out, "key **** and token **** and id ****.");
    }

    #[test]
    fn application_and_kubernetes_tokens_are_masked() {
        let eks = "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eQ";
        let jwt =
            "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2lnbmF0dXJlLXBhcnQ";
        for (text, gone) in [
            (
                "connecting with token=s3cr3t-value-1".to_string(),
                "s3cr3t-value-1",
            ),
            ("config api_key: abc123def456".to_string(), "abc123def456"),
            ("API_KEY=abc123def456 started".to_string(), "abc123def456"),
            ("secret=hunter2".to_string(), "hunter2"),
            ("{\"auth_token\": \"tk-998877\"}".to_string(), "tk-998877"),
            (format!("exec plugin returned {eks} ok"), "aHR0cHM6Ly9zdHMu"),
            (format!("mounted {jwt}"), "eyJpc3MiOiJrdWJlcm5ldGVzIn0"),
            (
                "sent Bearer abcdefghijklmnop0123456789 upstream".to_string(),
                "abcdefghijklmnop0123",
            ),
        ] {
            let out = clean(&text);
            assert!(!out.contains(gone), "{text} → {out}");
            assert!(out.contains(MASK), "{text} → {out}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "arn:aws:cloudformation:us-east-1:123456789012:stack/web/0000-web",
            "SignatureDoesNotMatch: the request signature we calculated does not match",
            "no usable AWS credentials — check AWS credentials: `aws sso login`",
            "NextToken=abc sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "git 3f786850e387550fdab836ed7e6dc881de23001b",
            "CREATE_COMPLETE Bucket AWS::S3::Bucket",
            "tokens: 1200 in, 340 out; max_tokens=4096",
            "secretName: web-tls",
        ] {
            assert!(
                matches!(redact(text), Cow::Borrowed(_)),
                "changed: {text} → {}",
                clean(text)
            );
        }
    }
}
