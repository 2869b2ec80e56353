//! Files, both ways, in one place:
//!
//! * [`read`]: every file a person hands opsdeck (config, themes, waivers, policies,
//!   templates, an audit log to verify) is opened through one guard: a regular file only
//!   (never a FIFO, device or directory, so nothing can hang or stream forever), at most a
//!   size limit per kind, UTF-8. Errors name the file, its kind and the limit.
//! * [`private`]: every file opsdeck writes (trace log, job store, job logs, audit log,
//!   reports) is created `0600` in `0700` directories, whatever the umask, and existing ones
//!   it owns are tightened when it opens them.
//!
//! See `docs/security.md`.

pub mod private;
pub mod read;

pub use private::{
    create_new_private_file, create_private_file, ensure_private_dir, open_private_append,
    tighten_file,
};
pub use read::{FileError, FileKind, Problem, open_regular, read_text};

/// Runs `f` on a thread and waits for it with a generous bound, so a test of something that
/// would hang fails instead of hanging. (Not a speed assertion: what answers at all answers
/// in microseconds.)
#[cfg(test)]
pub(crate) fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("did not return within 60 s: it would hang")
}
