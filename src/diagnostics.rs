//! Diagnostics: `tracing` output goes to `data_dir/opsdeck.log` (mode 0600), never to the
//! terminal the console draws on. `OPSDECK_LOG` picks what is logged (`tracing` directives,
//! default `info`), within two limits no directive can lift:
//!
//! 1. **A ceiling for the crates that see secrets.** The AWS SDK's signing, HTTP and runtime
//!    crates log canonical requests (with `x-amz-security-token`), signatures and whole
//!    request bodies (with NoEcho parameter values) at `debug`/`trace`. [`ceiling`] holds
//!    every crate in [`CAPPED_TARGETS`] at `info`. It is a separate filter layer: an event is
//!    written only when both it and `OPSDECK_LOG` allow it, so `OPSDECK_LOG=trace`,
//!    `aws_smithy_runtime::client::orchestrator=trace` or `[{x}]=trace` all stop at the ceiling.
//! 2. **A redacting writer.** Every event is formatted whole, passed through
//!    [`crate::redact::redact`] (access keys, secrets, session tokens, `Authorization`,
//!    signatures), and only then written.
//!
//! See `docs/security.md`.

use std::io::{self, Write};
use std::sync::Mutex;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::Paths;

/// Crates (target prefixes) that handle credentials, signatures or request bodies. Whatever
/// `OPSDECK_LOG` says, they log at most [`CAP`].
pub const CAPPED_TARGETS: &[&str] = &[
    "aws_sigv4",
    "aws_smithy",
    "aws_runtime",
    "aws_config",
    "aws_credential_types",
    "aws_types",
    "aws_sdk_",
    "aws_http",
    "hyper",
    "h2",
    "http",
    "rustls",
    "tokio_rustls",
    "reqwest",
    "tower",
    "kube",
];

/// The most the crates in [`CAPPED_TARGETS`] may log.
pub const CAP: LevelFilter = LevelFilter::INFO;

/// The filter no directive can override: [`CAP`] for [`CAPPED_TARGETS`], everything else
/// left to `OPSDECK_LOG`.
pub fn ceiling() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED_TARGETS.iter().map(|t| (*t, CAP)))
}

/// The whole subscriber: `directives` (as in `OPSDECK_LOG`; unparsable or absent means
/// `info`) under the [`ceiling`], written through a [`RedactingWriter`] into `out`.
pub fn subscriber<W: Write + Send + 'static>(
    directives: Option<&str>,
    out: W,
) -> impl tracing::Subscriber + Send + Sync {
    let wanted = directives
        .and_then(|d| tracing_subscriber::EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let format = tracing_subscriber::fmt::layer()
        .with_writer(RedactingWriter::new(out))
        .with_ansi(false);
    tracing_subscriber::registry()
        .with(ceiling())
        .with(wanted)
        .with(format)
}

/// Sends diagnostics to `paths.trace_log` (created 0600 in a 0700 directory; an existing file
/// is tightened). Nothing is logged when the file cannot be opened: diagnostics must never
/// stop opsdeck, and the terminal is not theirs.
pub fn init(paths: &Paths) {
    if let Some(dir) = paths.trace_log.parent() {
        let _ = crate::files::ensure_private_dir(dir);
    }
    let Ok(file) = crate::files::open_private_append(&paths.trace_log) else {
        return;
    };
    let directives = std::env::var("OPSDECK_LOG").ok();
    let _ = tracing::subscriber::set_global_default(subscriber(directives.as_deref(), file));
}

/// A `MakeWriter` that hands each event a buffer and, when the event is complete, writes it
/// redacted. Redacting whole events means a value split across several `write` calls is
/// still seen whole.
pub struct RedactingWriter<W> {
    out: Mutex<W>,
}

impl<W: Write> RedactingWriter<W> {
    pub fn new(out: W) -> RedactingWriter<W> {
        RedactingWriter {
            out: Mutex::new(out),
        }
    }
}

/// One event's text, written (redacted) when dropped.
pub struct EventBuffer<'a, W: Write> {
    out: &'a Mutex<W>,
    buf: Vec<u8>,
}

impl<W: Write> Write for EventBuffer<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for EventBuffer<'_, W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = crate::redact::redact(&text);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A diagnostics write that fails has nowhere to be reported.
        let _ = out.write_all(clean.as_bytes());
        let _ = out.flush();
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for RedactingWriter<W> {
    type Writer = EventBuffer<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer {
            out: &self.out,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// Logs, under `directives`, what the SDK's crates log about a signed request.
    fn log_a_signed_request(directives: &str) -> String {
        let out = Captured::default();
        let sub = subscriber(Some(directives), out.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::trace!(
                target: "aws_sigv4::http_request::sign",
                "canonical_request=POST\n/\nx-amz-security-token:marker-sigv4-trace\n"
            );
            tracing::debug!(
                target: "aws_smithy_runtime::client::orchestrator",
                "response body: marker-smithy-body"
            );
            tracing::trace!(target: "hyper_util::client::legacy::pool", "marker-hyper");
            tracing::trace!(target: "h2::codec", "marker-h2");
            tracing::trace!(target: "rustls::client", "marker-rustls");
            tracing::info!(target: "aws_config::meta", "info-from-the-sdk-stays");
            tracing::trace!(target: "opsdeck::providers::aws", "our-own-trace");
        });
        out.text()
    }

    #[test]
    fn no_directive_lifts_the_ceiling_on_the_sdk_crates() {
        for directives in [
            "trace",
            "aws_sigv4=trace",
            "aws_sigv4::http_request::sign=trace",
            "aws_smithy_runtime=trace,aws_smithy_runtime::client::orchestrator=trace",
            "hyper=trace,hyper_util=trace,h2=trace,rustls=trace",
            "[{rpc.system}]=trace,trace",
            "off,aws_sigv4=trace,aws_smithy_runtime::client=trace,hyper_util::client=trace,h2::codec=trace,rustls::client=trace",
        ] {
            let text = log_a_signed_request(directives);
            for marker in [
                "marker-sigv4-trace",
                "marker-smithy-body",
                "marker-hyper",
                "marker-h2",
                "marker-rustls",
            ] {
                assert!(
                    !text.contains(marker),
                    "{directives}: {marker} logged:\n{text}"
                );
            }
        }
        let text = log_a_signed_request("trace");
        assert!(text.contains("info-from-the-sdk-stays"), "{text}");
        assert!(
            text.contains("our-own-trace"),
            "our own targets follow OPSDECK_LOG: {text}"
        );
    }

    #[test]
    fn the_writer_redacts_whole_events() {
        let out = Captured::default();
        let sub = subscriber(Some("trace"), out.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::error!(
                target: "opsdeck::providers::aws",
                detail = "x-amz-security-token:marker-in-a-field",
                "SignatureDoesNotMatch: The Canonical String should have been 'POST\nx-amz-security-token:marker-in-a-message\n' with AKIAIOSFODNN7EXAMPLE"
            );
        });
        let text = out.text();
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
        for gone in [
            "marker-in-a-field",
            "marker-in-a-message",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(!text.contains(gone), "{gone} in:\n{text}");
        }
    }
}
