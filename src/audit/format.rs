//! The byte-level line format shared by the writer and by `verify`.
//!
//! A line is `BODY ,"hash":"<64 lowercase hex>"} \n` (without the spaces), where BODY is
//! `{"seq":N,"ts":...,"prev":...,...` — a JSON object missing its closing brace — and the
//! hash is SHA-256 of exactly the BODY bytes.

use sha2::{Digest, Sha256};

/// `prev` of the first entry.
pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// What sits between the body and the hex digest.
pub(crate) const HASH_PREFIX: &[u8] = b",\"hash\":\"";
/// What closes the line after the hex digest (the newline is not counted).
pub(crate) const HASH_CLOSE: &[u8] = b"\"}";
/// Length of the hex digest.
pub(crate) const HASH_HEX_LEN: usize = 64;
/// Length of `,"hash":"<64 hex>"}`.
pub(crate) const SUFFIX_LEN: usize = HASH_PREFIX.len() + HASH_HEX_LEN + HASH_CLOSE.len();

/// How every body starts; the writer always puts `seq` first.
pub(crate) const SEQ_PREFIX: &[u8] = b"{\"seq\":";

/// Longest line (without its newline) the writer produces and `verify` accepts. Keeps
/// `verify` and the tail reader bounded in memory even on a corrupt file with no newlines.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is exactly 64 lowercase hex digits.
pub(crate) fn is_hash_hex(s: &[u8]) -> bool {
    s.len() == HASH_HEX_LEN && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Splits a line (without its trailing newline) into body and stored hash, if the line
/// ends with a well-formed `,"hash":"<64 lowercase hex>"}`.
pub(crate) fn split_line(line: &[u8]) -> Option<(&[u8], &str)> {
    let suffix_start = line.len().checked_sub(SUFFIX_LEN)?;
    let (body, suffix) = line.split_at(suffix_start);
    let rest = suffix.strip_prefix(HASH_PREFIX)?;
    let hex = rest.strip_suffix(HASH_CLOSE)?;
    if !is_hash_hex(hex) {
        return None;
    }
    // is_hash_hex accepted only ASCII, so this cannot fail; no panic either way.
    let hex = std::str::from_utf8(hex).ok()?;
    Some((body, hex))
}

/// Reads `N` from a line head of the form `{"seq":N,`.
pub(crate) fn parse_seq_prefix(head: &[u8]) -> Option<u64> {
    let rest = head.strip_prefix(SEQ_PREFIX)?;
    let digits_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits_len == 0 || rest.get(digits_len) != Some(&b',') {
        return None;
    }
    std::str::from_utf8(&rest[..digits_len]).ok()?.parse().ok()
}

/// Completes a body into a full line, newline included.
pub(crate) fn finish_line(body: &[u8]) -> Vec<u8> {
    let hash = sha256_hex(body);
    let mut line = Vec::with_capacity(body.len() + SUFFIX_LEN + 1);
    line.extend_from_slice(body);
    line.extend_from_slice(HASH_PREFIX);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(HASH_CLOSE);
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_finish_round_trip() {
        let body = br#"{"seq":7,"x":1"#;
        let line = finish_line(body);
        assert_eq!(line.last(), Some(&b'\n'));
        let (b, h) = split_line(&line[..line.len() - 1]).expect("well-formed");
        assert_eq!(b, body);
        assert_eq!(h, sha256_hex(body));
        assert_eq!(parse_seq_prefix(b), Some(7));
        let mut whole = line.clone();
        whole.pop();
        let v: serde_json::Value = serde_json::from_slice(&whole).expect("line is JSON");
        assert_eq!(v["hash"], serde_json::Value::String(sha256_hex(body)));
    }

    #[test]
    fn rejects_malformed_suffixes_and_seq() {
        assert!(split_line(b"").is_none());
        assert!(split_line(b"{\"seq\":1,\"hash\":\"ABCDEF\"}").is_none());
        let upper = format!("{{\"seq\":1,\"hash\":\"{}\"}}", "A".repeat(64));
        assert!(split_line(upper.as_bytes()).is_none());
        assert_eq!(parse_seq_prefix(b"{\"seq\":,"), None);
        assert_eq!(parse_seq_prefix(b"{\"seq\":12"), None);
        assert_eq!(parse_seq_prefix(b"{\"seq\":99999999999999999999999,"), None);
        assert_eq!(parse_seq_prefix(b"{\"ts\":1,"), None);
    }
}
