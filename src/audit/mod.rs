//! The hash-chained, append-only audit log, and [`verify`] for it.
//!
//! Every change opsdeck is asked to make (and every refusal, confirmation and outcome) is
//! recorded through an [`AuditSink`] *before* the action proceeds; callers fail closed when
//! `append` returns `Err`.
//!
//! # File format
//!
//! JSON lines, UTF-8, one entry per line:
//!
//! ```text
//! {"seq":N,"ts":"<RFC 3339 UTC, millis>","prev":"<64 hex>","actor":{...},"operation":...,
//!  "target":...,"environment":...,"decision":...,"request_id":...,"detail":...,"hash":"<64 hex>"}
//! ```
//!
//! (on one line). `hash` is the lowercase hex SHA-256 of the exact bytes before
//! `,"hash":"`, so a one-byte change anywhere in a line is detected. The first entry has
//! `seq` 1 and `prev` = 64 zeros; each next entry has `seq` + 1 and `prev` = the previous
//! line's `hash`, so removing, inserting or reordering lines is detected too.
//!
//! # Concurrency and durability
//!
//! Several opsdeck processes may share one file. Each append opens the file, takes an
//! exclusive `flock`, reads the last line's `seq` and `hash` backwards from the end (never
//! the whole file), writes the new line with a single `write_all`, `fsync`s, and unlocks.
//! When `append` returns `Ok` the entry is on disk. If the last line is corrupt the entry is
//! still recorded (chained off whatever can be read of the corrupt line); [`verify`] reports
//! the break.
//!
//! # Limits — read before relying on this log
//!
//! * **Callers must not pass secrets.** This module cannot tell what is secret: everything in
//!   an [`AuditRecord`] (target, detail, ...) is written verbatim and kept forever. Pass ids,
//!   names and outcome messages — never credentials, tokens, session keys or parameter values
//!   that may be secret.
//! * **Truncation of the tail cannot be detected locally.** Removing the last N lines leaves
//!   a valid, shorter chain (and deleting the file starts a new one). Detecting that needs an
//!   external anchor, e.g. the latest hash held elsewhere; a later capability ships the log
//!   off-host for that reason.
//! * The chain proves integrity against accidental or casual edits only: anyone able to write
//!   the file can rewrite it from the modified point on with fresh hashes. The off-host copy
//!   is what makes it tamper-evident against a deliberate local attacker.

mod format;
mod verify;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::Mutex;
#[cfg(test)]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

pub use format::MAX_LINE_BYTES;
pub use verify::{VerifyReport, verify};

use format::{GENESIS_HASH, SUFFIX_LEN, finish_line, parse_seq_prefix, split_line};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub os_user: String,
    /// IAM principal ARN, None until STS answered
    pub principal: Option<String>,
}

/// What happened to a requested operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Requested,
    Confirmed,
    Cancelled,
    RefusedReadOnly,
    RefusedRole,
    Refused,
    Started,
    Succeeded,
    Failed,
    Interrupted,
    /// AWS accepted the change, then opsdeck stopped following it (cancel, timeout): the
    /// outcome is unknown here and must be checked in AWS.
    Detached,
}

/// One event to record. The log adds seq, ts, prev and hash itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub actor: Actor,
    /// Operation name, e.g. "delete-stack".
    pub operation: String,
    /// Fully resolved target as structured JSON (account, region, ids, names...).
    pub target: serde_json::Value,
    /// "DEV" | "TST" | "PRD" | "UNMAPPED"
    pub environment: String,
    pub decision: Decision,
    /// Confirmation request id this event belongs to, if any (ties requested/confirmed/outcome together).
    pub request_id: Option<u64>,
    /// Free text: the outcome message, refusal reason, error. Never secrets.
    pub detail: Option<String>,
}

/// Why an audit entry could not be recorded (or a log could not be read).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O step on the log (or its directory) failed.
    #[error("audit log {}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        /// What was being done, e.g. "open", "lock", "write", "fsync".
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// A log given to `audit verify` is not a regular file (a FIFO, a device) or is missing.
    #[error("{0}")]
    Read(crate::files::FileError),
    /// The record could not be turned into JSON.
    #[error("audit log {}: cannot serialize record: {source}", path.display())]
    Serialize {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The entry would exceed [`MAX_LINE_BYTES`]; nothing was written.
    #[error(
        "audit log {}: entry is {size} bytes, over the {MAX_LINE_BYTES}-byte limit; nothing was recorded",
        path.display()
    )]
    TooLarge { path: PathBuf, size: usize },
    /// The tests' in-memory sink was told to fail.
    #[cfg(test)]
    #[error("in-memory audit sink is set to fail")]
    MemoryFailing,
}

impl AuditError {
    fn io(path: &Path, action: &'static str, source: io::Error) -> AuditError {
        AuditError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }
}

/// Somewhere audit entries go.
pub trait AuditSink: Send + Sync {
    /// Append durably: when this returns Ok the line is written AND fsync'd.
    fn append(&self, record: &AuditRecord) -> Result<(), AuditError>;
}

impl<T: AuditSink + ?Sized> AuditSink for std::sync::Arc<T> {
    fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        (**self).append(record)
    }
}

/// The on-disk audit log. Cheap: holds only the path; each append opens, locks and closes
/// the file, so any number of handles and processes can share it.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// Creates parent dirs (mode 0700) and the file (mode 0600) if missing. Does not read the
    /// whole file. An existing file's mode is left as it is.
    pub fn open(path: impl Into<PathBuf>) -> Result<AuditLog, AuditError> {
        let path = path.into();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::files::ensure_private_dir(parent)
                .map_err(|e| AuditError::io(parent, "create directory", e))?;
        }
        // 0600, and an existing log of ours left looser is tightened.
        let file = crate::files::open_private_append(&path)
            .map_err(|e| AuditError::io(&path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| AuditError::io(&path, "stat", e))?
            .len();
        if len == 0 {
            // Possibly just created: make its directory entry durable too.
            sync_parent_dir(&path)?;
        }
        Ok(AuditLog { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serializes `record` as the body of entry `seq` chained to `prev`.
    fn body(&self, record: &AuditRecord, seq: u64, prev: &str) -> Result<Vec<u8>, AuditError> {
        #[derive(Serialize)]
        struct Body<'a> {
            seq: u64,
            ts: &'a str,
            prev: &'a str,
            actor: &'a Actor,
            operation: &'a str,
            target: &'a serde_json::Value,
            environment: &'a str,
            decision: Decision,
            request_id: Option<u64>,
            detail: Option<&'a str>,
        }
        let ts = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let body = Body {
            seq,
            ts: &ts,
            prev,
            actor: &record.actor,
            operation: &record.operation,
            target: &record.target,
            environment: &record.environment,
            decision: record.decision,
            request_id: record.request_id,
            detail: record.detail.as_deref(),
        };
        let mut bytes = serde_json::to_vec(&body).map_err(|source| AuditError::Serialize {
            path: self.path.clone(),
            source,
        })?;
        // A struct always serializes as `{...}`; drop the `}` so the hash field can follow.
        if bytes.pop() != Some(b'}') {
            return Err(AuditError::Serialize {
                path: self.path.clone(),
                source: serde::ser::Error::custom("record did not serialize as a JSON object"),
            });
        }
        Ok(bytes)
    }
}

impl AuditSink for AuditLog {
    fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let path = &self.path;
        // A fresh open file description per append: flock is per description, so this also
        // serializes threads sharing one AuditLog, not just processes.
        let file = open_rw(path)?;
        // Unlocks when dropped, on every path out of this function (also by close(2)).
        let file = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| AuditError::io(path, "lock", errno.into()))?;

        let len = file
            .metadata()
            .map_err(|e| AuditError::io(path, "stat", e))?
            .len();
        let tail = read_tail(&file, len).map_err(|e| AuditError::io(path, "read", e))?;

        let seq = tail.seq.saturating_add(1);
        let prev = tail.hash.as_deref().unwrap_or(GENESIS_HASH);
        let body = self.body(record, seq, prev)?;
        let line = finish_line(&body);
        if line.len() - 1 > MAX_LINE_BYTES {
            return Err(AuditError::TooLarge {
                path: path.clone(),
                size: line.len() - 1,
            });
        }

        let mut out = Vec::with_capacity(line.len() + 1);
        if tail.unterminated {
            // A previous write was cut short: end that fragment so ours is its own line.
            out.push(b'\n');
        }
        out.extend_from_slice(&line);

        let mut writer: &File = &file;
        if let Err(e) = writer.write_all(&out) {
            // Best effort: take back a partial line so the log stays well-formed.
            let _ = file.set_len(len);
            return Err(AuditError::io(path, "write", e));
        }
        file.sync_all()
            .map_err(|e| AuditError::io(path, "fsync", e))?;
        if len == 0 {
            sync_parent_dir(path)?;
        }
        drop(file);
        Ok(())
    }
}

/// Opens (creating with mode 0600 if missing) for reading and appending.
fn open_rw(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io(path, "open", e))
}

/// fsyncs the directory holding `path`, so a newly created file survives a crash.
fn sync_parent_dir(path: &Path) -> Result<(), AuditError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io(dir, "fsync directory", e))
}

/// What the writer needs to know about the end of the file.
#[derive(Debug, PartialEq, Eq)]
struct Tail {
    /// seq of the last line; 0 for an empty file or when it cannot be read.
    seq: u64,
    /// hash text of the last line, when its suffix is well-formed; None means chain off zeros.
    hash: Option<String>,
    /// The file does not end with a newline (a torn write).
    unterminated: bool,
}

/// Size of the chunks read while scanning backwards.
const SCAN_CHUNK: u64 = 8 * 1024;

/// Reads seq and hash of the last non-empty line of `file` (length `len`) from the end,
/// touching at most [`MAX_LINE_BYTES`] plus the trailing newlines.
fn read_tail(file: &File, len: u64) -> io::Result<Tail> {
    let mut tail = Tail {
        seq: 0,
        hash: None,
        unterminated: false,
    };
    if len == 0 {
        return Ok(tail);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    tail.unterminated = last[0] != b'\n';

    // Skip trailing newlines (stray blank lines): chain off the last real entry.
    let Some(last_byte) = rfind(file, len, 0, |b| b != b'\n')? else {
        return Ok(tail); // only newlines: nothing to chain off
    };
    let end = last_byte + 1;
    let floor = end.saturating_sub(MAX_LINE_BYTES as u64 + 1);
    let start = match rfind(file, end, floor, |b| b == b'\n')? {
        Some(nl) => Some(nl + 1),
        None if floor == 0 => Some(0),
        None => None, // longer than any line we write: start (and so seq) unknown
    };
    let line_len = end - start.unwrap_or(floor);

    if let Some(start) = start {
        let mut head = [0u8; 32];
        let n = (head.len() as u64).min(line_len) as usize;
        file.read_exact_at(&mut head[..n], start)?;
        tail.seq = parse_seq_prefix(&head[..n]).unwrap_or(0);
    }
    if line_len >= SUFFIX_LEN as u64 {
        let mut suffix = [0u8; SUFFIX_LEN];
        file.read_exact_at(&mut suffix, end - SUFFIX_LEN as u64)?;
        tail.hash = split_line(&suffix).map(|(_, hash)| hash.to_owned());
    }
    Ok(tail)
}

/// Offset of the last byte in `[floor, before)` matching `pred`, scanning backwards.
fn rfind(
    file: &File,
    before: u64,
    floor: u64,
    pred: impl Fn(u8) -> bool,
) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; SCAN_CHUNK as usize];
    let mut end = before;
    while end > floor {
        let start = end.saturating_sub(SCAN_CHUNK).max(floor);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| pred(b)) {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// In-memory sink for the crate's tests. Can be told to fail, to test fail-closed paths. Not
/// part of the product: a sink that records nothing must not be able to stand behind a gate.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct MemoryAudit {
    records: Mutex<Vec<AuditRecord>>,
    failing: AtomicBool,
}

#[cfg(test)]
impl MemoryAudit {
    /// Everything appended so far (while not failing), in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// While `true`, `append` records nothing and returns [`AuditError::MemoryFailing`].
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[cfg(test)]
impl AuditSink for MemoryAudit {
    fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AuditError::MemoryFailing);
        }
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(record.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
