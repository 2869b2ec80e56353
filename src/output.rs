//! What the command line prints, and how it ends when nobody reads any more.
//!
//! `opsdeck jobs --json | head` closes the pipe after a few lines. Rust ignores SIGPIPE, so
//! the next write fails with `EPIPE`; that is the reader's choice, not an error. Stdout goes
//! through [`QuietPipe`], which stops writing at a closed pipe and lets the command finish
//! (a deploy still ends and is audited; its exit code still says how), and stderr through
//! [`errln!`](crate::errln), which, unlike `eprintln!`, never panics. `print!`/`eprint!` and
//! friends are denied by clippy in this crate so nothing bypasses them.

use std::io::{self, Write};

/// `eprintln!` that ignores a closed or broken stderr instead of panicking.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that ignores a closed or broken stderr instead of panicking.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stderr(), $($arg)*);
    }};
}

/// A writer that goes quiet once its reader has gone: after the first `EPIPE` every write
/// "succeeds" without writing. Other errors are returned as they are.
pub struct QuietPipe<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> QuietPipe<W> {
    pub fn new(inner: W) -> QuietPipe<W> {
        QuietPipe {
            inner,
            closed: false,
        }
    }

    /// Whether the reader closed the pipe.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl<W: Write> Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Whether an error is, at bottom, a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// An error and its causes on one line, each said once: many error types already print
/// their cause in their own message, and `{:#}` would print it again.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly() {
        let mut out = QuietPipe::new(Closed);
        assert!(writeln!(out, "first").is_ok());
        assert!(out.closed());
        assert!(writeln!(out, "second").is_ok());
        assert!(out.flush().is_ok());
    }

    #[test]
    fn other_errors_still_fail() {
        let mut out = QuietPipe::new(std::fs::File::open("/dev/null").expect("open"));
        assert!(
            writeln!(out, "x").is_err(),
            "writing to a read-only file fails"
        );
        assert!(!out.closed());
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("themes/bad.toml: cannot read theme file: {source}")]
        struct Quoting {
            #[source]
            source: io::Error,
        }
        let inner = io::Error::other("Is a directory");
        let e = anyhow::Error::new(Quoting { source: inner }).context("cannot load the theme");
        assert_eq!(
            error_text(&e),
            "cannot load the theme: themes/bad.toml: cannot read theme file: Is a directory"
        );
        let piped = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_broken_pipe(&piped));
        assert!(!is_broken_pipe(&e));
    }
}
