//! Streaming verification of an audit log's hash chain.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::AuditError;
use super::format::{GENESIS_HASH, MAX_LINE_BYTES, SUFFIX_LEN, sha256_hex, split_line};

/// Result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    /// Every line verified; `entries` is how many there are.
    Ok { entries: u64 },
    /// 1-based line number of the first line that does not verify, and why.
    Broken { line: u64, reason: String },
}

/// Checks the whole chain of the log at `path`, one line at a time (memory use is bounded by
/// the longest line, itself capped at [`super::MAX_LINE_BYTES`]).
///
/// For each line: it ends with `,"hash":"<64 hex>"}`, the hash matches SHA-256 of the body,
/// the line is a JSON object with a numeric `seq` and a string `prev`, `prev` equals the
/// previous line's hash (64 zeros for the first line) and `seq` is the previous seq + 1
/// (1 for the first line). The first failing line is reported. A final newline is expected
/// and fine; an empty line anywhere is broken. Truncation of the tail is *not* detectable.
///
/// `Err` only for I/O problems (missing file, read error).
pub fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    // A FIFO or a device would block or never end: only a regular file is opened.
    let file = crate::files::open_regular(path, crate::files::FileKind::AuditLog)
        .map_err(AuditError::Read)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut buf: Vec<u8> = Vec::new();
    let mut line_no: u64 = 0;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut prev_seq: u64 = 0;

    loop {
        buf.clear();
        // Read at most one byte past the cap, so an endless line cannot exhaust memory.
        let cap = MAX_LINE_BYTES as u64 + 2;
        let n = (&mut reader)
            .take(cap)
            .read_until(b'\n', &mut buf)
            .map_err(|e| AuditError::io(path, "read", e))?;
        if n == 0 {
            return Ok(VerifyReport::Ok { entries: line_no });
        }
        line_no += 1;
        let broken = |reason: String| {
            Ok(VerifyReport::Broken {
                line: line_no,
                reason,
            })
        };

        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE_BYTES {
            return broken(format!(
                "line is longer than {MAX_LINE_BYTES} bytes: not written by opsdeck"
            ));
        }
        // else: last line without a final newline; its content is still checked in full.

        match check_line(&buf, line_no, prev_seq, &prev_hash) {
            Ok((seq, hash)) => {
                prev_seq = seq;
                prev_hash = hash;
            }
            Err(reason) => return broken(reason),
        }
    }
}

/// Checks one line (without newline) against its predecessor. Returns its seq and hash.
fn check_line(
    line: &[u8],
    line_no: u64,
    prev_seq: u64,
    prev_hash: &str,
) -> Result<(u64, String), String> {
    if line.is_empty() {
        return Err("empty line".to_owned());
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "line is longer than {MAX_LINE_BYTES} bytes: not written by opsdeck"
        ));
    }
    let Some((body, stored_hash)) = split_line(line) else {
        return Err(format!(
            "malformed line: does not end with ,\"hash\":\"<64 lowercase hex>\"}} \
             ({SUFFIX_LEN} bytes); the line was modified or partially written"
        ));
    };
    if sha256_hex(body) != stored_hash {
        return Err("hash mismatch: line was modified".to_owned());
    }
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Err(format!("not valid JSON: {e}")),
    };
    let Some(object) = value.as_object() else {
        return Err("not a JSON object".to_owned());
    };
    let Some(seq) = object.get("seq").and_then(serde_json::Value::as_u64) else {
        return Err("missing or non-numeric seq".to_owned());
    };
    let Some(prev) = object.get("prev").and_then(serde_json::Value::as_str) else {
        return Err("missing or non-string prev".to_owned());
    };
    if prev != prev_hash {
        return Err(if line_no == 1 {
            "prev is not the genesis value (64 zeros): the start of the log was removed \
             or replaced"
                .to_owned()
        } else {
            format!(
                "prev does not match line {}'s hash: a line was removed, inserted or reordered",
                line_no - 1
            )
        });
    }
    let expected_seq = prev_seq.saturating_add(1);
    if seq != expected_seq {
        return Err(format!(
            "seq is {seq}, expected {expected_seq}: a line was removed, duplicated or reordered"
        ));
    }
    Ok((seq, stored_hash.to_owned()))
}
