//! A job's log: the newest lines in a bounded in-memory ring, every line spilled to a
//! file on disk so that older lines (and the whole log after a restart) can be read back.
//!
//! Spill file format, one line per [`LogLine`]: `<ts_ms>\t<I|W|E>\t<text>\n`. The line's
//! `seq` is its 0-based line number in the file. Text never contains a newline or a
//! control character other than `\t` (see [`sanitize_into`]), so it is safe to draw.
//!
//! Memory stays bounded however long the log gets: the ring holds at most `ring_capacity`
//! lines, the write buffer is 64 KiB, and a sparse index of byte offsets (used to seek
//! into the file for [`JobLog::range`]) is capped at [`MAX_CHECKPOINTS`] entries by
//! doubling its stride whenever it fills.
//!
//! The write buffer keeps ingest fast, but what sits in it is lost if the process is killed.
//! So the buffer reaches the file at least every [`JobLog::FLUSH_EVERY`]: on the next push
//! after that much time, and, for a log that has gone quiet, when the engine's ticker calls
//! [`JobLog::flush_if_dirty`]; the engine also flushes every log when its job ends. A
//! `kill -9` loses at most the last second of a log.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The letter used in the spill file.
    pub fn as_char(self) -> char {
        match self {
            LogLevel::Info => 'I',
            LogLevel::Warn => 'W',
            LogLevel::Error => 'E',
        }
    }

    fn from_byte(b: u8) -> Option<LogLevel> {
        match b {
            b'I' => Some(LogLevel::Info),
            b'W' => Some(LogLevel::Warn),
            b'E' => Some(LogLevel::Error),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 0-based position of the line in the job's log.
    pub seq: u64,
    pub ts_ms: i64,
    pub level: LogLevel,
    pub text: String,
}

pub type SharedJobLog = std::sync::Arc<std::sync::Mutex<JobLog>>;

/// Size of the spill file's write buffer and of the read buffers.
const IO_BUF: usize = 64 * 1024;
/// Upper bound on the sparse seek index (8 bytes each).
const MAX_CHECKPOINTS: usize = 4096;
/// Lines between seek checkpoints until the index first fills.
const INITIAL_STRIDE: u64 = 256;

enum Spill {
    /// No file at all (memory-only log).
    None,
    /// A file from an earlier process, not yet opened for writing (opened on first push).
    Lazy,
    Open(BufWriter<File>),
    /// Writing failed; the file may hold a prefix of the log, but nothing more is written.
    Failed,
}

pub struct JobLog {
    ring: VecDeque<LogLine>,
    capacity: usize,
    total: u64,
    /// Lines evicted from the ring that are not in the spill file.
    dropped: u64,
    path: Option<PathBuf>,
    spill: Spill,
    spill_error: Option<String>,
    /// Lines handed to the spill file (seq 0..spilled_lines).
    spilled_lines: u64,
    /// Bytes handed to the spill file; the offset where the next line starts.
    spilled_bytes: u64,
    /// `checkpoints[i]` is the byte offset of line `i * stride`.
    checkpoints: Vec<u64>,
    stride: u64,
    /// Bytes are in the write buffer that have not reached the file.
    dirty: bool,
    last_flush: Instant,
}

impl JobLog {
    pub const DEFAULT_RING: usize = 5_000;
    /// The longest a line waits in the write buffer while lines keep coming.
    pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

    /// Spill file at `path` (created, parent dirs created, truncated). Every line is
    /// appended to it (buffered); the ring keeps the newest `ring_capacity` lines in memory.
    pub fn create(path: impl Into<PathBuf>, ring_capacity: usize) -> io::Result<JobLog> {
        let path = path.into();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::files::ensure_private_dir(parent)?;
        }
        let file = crate::files::create_private_file(&path)?;
        let mut log = JobLog::empty(ring_capacity);
        log.path = Some(path);
        log.spill = Spill::Open(BufWriter::with_capacity(IO_BUF, file));
        Ok(log)
    }

    /// A log with no file (for tests and for when the disk is unwritable): ring only;
    /// lines past the ring are dropped, counted.
    pub fn memory_only(ring_capacity: usize) -> JobLog {
        JobLog::empty(ring_capacity)
    }

    fn empty(capacity: usize) -> JobLog {
        JobLog {
            // Don't reserve a huge ring up front; it grows to `capacity` as lines arrive.
            ring: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            total: 0,
            dropped: 0,
            path: None,
            spill: Spill::None,
            spill_error: None,
            spilled_lines: 0,
            spilled_bytes: 0,
            checkpoints: Vec::new(),
            stride: INITIAL_STRIDE,
            dirty: false,
            last_flush: Instant::now(),
        }
    }

    /// Re-open a spill file written by an earlier process: read-only view, ring filled with
    /// its last `ring_capacity` lines, total = number of complete lines in the file.
    /// `push()` on such a log appends to the file (an incomplete last line, left by a
    /// crash mid-write, is cut off first).
    pub fn open_existing(path: impl Into<PathBuf>, ring_capacity: usize) -> io::Result<JobLog> {
        let path = path.into();
        let mut log = JobLog::empty(ring_capacity);
        let mut reader = BufReader::with_capacity(IO_BUF, File::open(&path)?);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            log.note_line_start();
            log.spilled_bytes += n as u64;
            log.spilled_lines += 1;
        }
        log.total = log.spilled_lines;
        log.path = Some(path);
        log.spill = Spill::Lazy;
        let start = log.total.saturating_sub(ring_capacity as u64);
        let tail = log.read_file(start, log.total)?;
        log.ring.extend(tail);
        Ok(log)
    }

    /// Lines ever pushed (for a re-opened log: including those in the file).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The newest lines, oldest first.
    pub fn ring(&self) -> &VecDeque<LogLine> {
        &self.ring
    }

    pub fn ring_capacity(&self) -> usize {
        self.capacity
    }

    /// Seq of `ring().front()`, or `total()` when the ring is empty.
    pub fn first_in_ring(&self) -> u64 {
        self.ring.front().map_or(self.total, |l| l.seq)
    }

    /// Lines that left the ring without being in the spill file (memory-only log, or
    /// after a spill error). Such lines can't be read back.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Why the log stopped writing its spill file, if it did.
    pub fn spill_error(&self) -> Option<&str> {
        self.spill_error.as_deref()
    }

    /// Append `text` at `level`. Text with `'\n'` in it becomes several lines (a single
    /// trailing newline does not add an empty line); `'\r'`, escape sequences and other
    /// control characters except `'\t'` are removed.
    pub fn push(&mut self, level: LogLevel, text: &str) {
        if matches!(self.spill, Spill::Lazy) {
            self.open_for_append();
        }
        let ts_ms = now_ms();
        let body = text.strip_suffix('\n').unwrap_or(text);
        for piece in body.split('\n') {
            self.push_one(ts_ms, level, piece);
        }
        if self.dirty && self.last_flush.elapsed() >= JobLog::FLUSH_EVERY {
            // An error is kept in spill_error; the lines stay in the ring.
            let _ = self.flush();
        }
    }

    fn push_one(&mut self, ts_ms: i64, level: LogLevel, raw: &str) {
        let seq = self.total;
        self.total += 1;
        // Reuse the allocation of the line that falls out of the ring.
        let mut line = if self.capacity > 0 && self.ring.len() >= self.capacity {
            match self.ring.pop_front() {
                Some(mut old) => {
                    if old.seq >= self.spilled_lines {
                        self.dropped += 1;
                    }
                    old.seq = seq;
                    old.ts_ms = ts_ms;
                    old.level = level;
                    old.text.clear();
                    old
                }
                None => new_line(seq, ts_ms, level, raw.len()),
            }
        } else {
            new_line(seq, ts_ms, level, raw.len())
        };
        sanitize_into(raw, &mut line.text);
        self.spill_line(&line);
        if self.capacity == 0 {
            if line.seq >= self.spilled_lines {
                self.dropped += 1;
            }
        } else {
            self.ring.push_back(line);
        }
    }

    fn spill_line(&mut self, line: &LogLine) {
        if !matches!(self.spill, Spill::Open(_)) {
            return;
        }
        let mut head = [0u8; 24];
        let head_len = format_head(line.ts_ms, line.level, &mut head);
        let result = match &mut self.spill {
            Spill::Open(w) => w
                .write_all(&head[..head_len])
                .and_then(|()| w.write_all(line.text.as_bytes()))
                .and_then(|()| w.write_all(b"\n")),
            _ => return,
        };
        match result {
            Ok(()) => {
                self.note_line_start();
                self.spilled_bytes += (head_len + line.text.len() + 1) as u64;
                self.spilled_lines += 1;
                self.dirty = true;
            }
            Err(e) => self.fail(e),
        }
    }

    /// Record a checkpoint if line `spilled_lines` (about to be written at
    /// `spilled_bytes`) falls on the stride; halve the index when it is full.
    fn note_line_start(&mut self) {
        if self.spilled_lines == self.checkpoints.len() as u64 * self.stride {
            self.checkpoints.push(self.spilled_bytes);
            if self.checkpoints.len() > MAX_CHECKPOINTS {
                let mut i = 0;
                self.checkpoints.retain(|_| {
                    let keep = i % 2 == 0;
                    i += 1;
                    keep
                });
                self.stride *= 2;
            }
        }
    }

    fn open_for_append(&mut self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let opened = OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| {
                // A log an older version left world-readable is closed up before it grows.
                crate::files::tighten_file(&path)?;
                Ok(f)
            })
            .and_then(|mut f| {
                // Cut off an incomplete last line so the next line starts on its own.
                if f.metadata()?.len() != self.spilled_bytes {
                    f.set_len(self.spilled_bytes)?;
                }
                f.seek(SeekFrom::Start(self.spilled_bytes))?;
                Ok(f)
            });
        match opened {
            Ok(f) => self.spill = Spill::Open(BufWriter::with_capacity(IO_BUF, f)),
            Err(e) => self.fail(e),
        }
    }

    /// Stop writing the spill file: keep the ring, remember why.
    fn fail(&mut self, err: io::Error) {
        if let Spill::Open(w) = std::mem::replace(&mut self.spill, Spill::Failed) {
            // Discard buffered bytes without another write attempt (Drop would retry).
            let (_file, _unwritten) = w.into_parts();
        }
        let where_ = self
            .path
            .as_deref()
            .map_or_else(|| "job log".to_string(), |p| p.display().to_string());
        self.spill_error = Some(format!("{where_}: {err}"));
    }

    /// Write buffered lines to the spill file. On error the log becomes memory-only (see
    /// [`JobLog::spill_error`]) and the error is returned once.
    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        self.dirty = false;
        if let Spill::Open(w) = &mut self.spill
            && let Err(e) = w.flush()
        {
            let kind = e.kind();
            let msg = e.to_string();
            self.fail(e);
            return Err(io::Error::new(kind, msg));
        }
        Ok(())
    }

    /// [`JobLog::flush`] if anything was written since the last flush: the engine's ticker
    /// calls this every second for every running job.
    pub fn flush_if_dirty(&mut self) -> io::Result<()> {
        if self.dirty { self.flush() } else { Ok(()) }
    }

    /// Lines `[start, start+count)` (clipped to `total()`): from the ring when there, else
    /// read from the spill file (flushed first). Lines that are in neither (dropped) are
    /// left out, so check `seq` when it matters.
    pub fn range(&mut self, start: u64, count: usize) -> io::Result<Vec<LogLine>> {
        let end = start.saturating_add(count as u64).min(self.total);
        if start >= end {
            return Ok(Vec::new());
        }
        let first = self.first_in_ring();
        let mut out = Vec::with_capacity((end - start) as usize);
        if start < first && self.has_file() {
            // A flush error is remembered in spill_error; read what reached the file.
            let _ = self.flush();
            out = self.read_file(start, end.min(first))?;
        }
        if end > first {
            let skip = start.saturating_sub(first) as usize;
            let take = (end - start.max(first)) as usize;
            out.extend(self.ring.iter().skip(skip).take(take).cloned());
        }
        Ok(out)
    }

    /// Seq numbers (ascending) of lines whose text contains `needle`, ignoring case.
    /// Streams the spill file, then the ring lines not in the file. An empty needle
    /// matches nothing.
    pub fn search(&mut self, needle: &str) -> io::Result<Vec<u64>> {
        let mut hits = Vec::new();
        if needle.is_empty() {
            return Ok(hits);
        }
        let matcher = Matcher::new(needle);
        let mut in_file = 0u64;
        if self.has_file() {
            let _ = self.flush();
            if let Some(path) = &self.path {
                let mut reader = BufReader::with_capacity(IO_BUF, File::open(path)?);
                let mut buf = Vec::new();
                while in_file < self.total {
                    buf.clear();
                    let n = reader.read_until(b'\n', &mut buf)?;
                    if n == 0 || buf.last() != Some(&b'\n') {
                        break;
                    }
                    let (_, _, text) = split_record(&buf[..n - 1]);
                    if matcher.matches(text) {
                        hits.push(in_file);
                    }
                    in_file += 1;
                }
            }
        }
        hits.extend(
            self.ring
                .iter()
                .filter(|l| l.seq >= in_file && matcher.matches(l.text.as_bytes()))
                .map(|l| l.seq),
        );
        Ok(hits)
    }

    /// What exporting the whole log needs, taken quickly under the log's lock (the write
    /// buffer flushed, the spill file's name and line count, the ring's lines not in it), so
    /// the slow part, [`Export::write_to`], runs without the lock: a log being written to,
    /// and the screen drawing it, are not held up by a save.
    pub fn export(&mut self) -> Export {
        let mut in_file = 0;
        let mut path = None;
        if self.has_file() {
            let _ = self.flush();
            path = self.path.clone();
            in_file = self.spilled_lines;
        }
        Export {
            path,
            in_file,
            tail: self
                .ring
                .iter()
                .filter(|l| l.seq >= in_file)
                .map(|l| l.text.clone())
                .collect(),
        }
    }

    fn has_file(&self) -> bool {
        self.path.is_some() && !matches!(self.spill, Spill::None)
    }

    /// Parse lines `[start, end)` from the spill file, stopping early at its end.
    fn read_file(&self, start: u64, end: u64) -> io::Result<Vec<LogLine>> {
        let mut out = Vec::new();
        let Some(path) = &self.path else {
            return Ok(out);
        };
        if start >= end {
            return Ok(out);
        }
        let (mut seq, offset) = match self.checkpoints.len() {
            0 => (0, 0),
            len => {
                let idx = ((start / self.stride) as usize).min(len - 1);
                (idx as u64 * self.stride, self.checkpoints[idx])
            }
        };
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::with_capacity(IO_BUF, file);
        while seq < start {
            if reader.skip_until(b'\n')? == 0 {
                return Ok(out);
            }
            seq += 1;
        }
        let mut buf = Vec::new();
        while seq < end {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            out.push(parse_record(seq, &buf[..n - 1]));
            seq += 1;
        }
        Ok(out)
    }
}

impl Drop for JobLog {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn new_line(seq: u64, ts_ms: i64, level: LogLevel, cap: usize) -> LogLine {
    LogLine {
        seq,
        ts_ms,
        level,
        text: String::with_capacity(cap),
    }
}

/// A log's lines to be written out: see [`JobLog::export`].
pub struct Export {
    path: Option<PathBuf>,
    in_file: u64,
    tail: Vec<String>,
}

impl Export {
    /// Every line's text, oldest first, one per line. Returns how many were written.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<u64> {
        let mut written = 0u64;
        if let Some(path) = &self.path {
            let mut reader = BufReader::with_capacity(IO_BUF, File::open(path)?);
            let mut buf = Vec::new();
            while written < self.in_file {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf)?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break;
                }
                let (_, _, text) = split_record(&buf[..n - 1]);
                out.write_all(text)?;
                out.write_all(b"\n")?;
                written += 1;
            }
        }
        for line in &self.tail {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            written += 1;
        }
        out.flush()?;
        Ok(written)
    }
}

/// Writes `<ts_ms>\t<L>\t` into `buf` (an i64 has at most 20 characters, so 23 fit).
fn format_head(ts_ms: i64, level: LogLevel, buf: &mut [u8; 24]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = ts_ms.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    if ts_ms < 0 {
        buf[0] = b'-';
        len = 1;
    }
    let d = &digits[i..];
    buf[len..len + d.len()].copy_from_slice(d);
    len += d.len();
    buf[len] = b'\t';
    buf[len + 1] = level.as_char() as u8;
    buf[len + 2] = b'\t';
    len + 3
}

/// Splits a spill record (without its newline) into ts, level and text. A record that
/// doesn't have the expected shape is all text.
fn split_record(rec: &[u8]) -> (Option<i64>, Option<LogLevel>, &[u8]) {
    let mut parts = rec.splitn(3, |&b| b == b'\t');
    let (Some(ts), Some(level), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
        return (None, None, rec);
    };
    let ts = std::str::from_utf8(ts).ok().and_then(|s| s.parse().ok());
    let level = match level {
        [b] => LogLevel::from_byte(*b),
        _ => None,
    };
    match (ts, level) {
        (Some(ts), Some(level)) => (Some(ts), Some(level), text),
        _ => (None, None, rec),
    }
}

fn parse_record(seq: u64, rec: &[u8]) -> LogLine {
    let (ts, level, text) = split_record(rec);
    let mut clean = String::with_capacity(text.len());
    // The file may have been edited by hand: sanitize what comes back, too.
    sanitize_into(&String::from_utf8_lossy(text), &mut clean);
    LogLine {
        seq,
        ts_ms: ts.unwrap_or(0),
        level: level.unwrap_or(LogLevel::Info),
        text: clean,
    }
}

/// `src` without escape sequences and control characters (see [`sanitize_into`]): safe to
/// print to a terminal. Borrowed when there is nothing to remove.
pub fn sanitized(src: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    sanitize_into(src, &mut out);
    if out.len() == src.len() {
        std::borrow::Cow::Borrowed(src)
    } else {
        std::borrow::Cow::Owned(out)
    }
}

/// The length of an RFC 3339 timestamp and the space after it at the start of `text` (how
/// a source such as the Kubernetes API stamps each line it sends), if there is one.
pub fn timestamp_prefix(text: &str) -> Option<usize> {
    let end = text.find(' ')?;
    let stamp = text.as_bytes().get(..end)?;
    let zone = stamp.len().checked_sub(6).and_then(|i| stamp.get(i));
    let shaped = stamp.len() >= 20
        && stamp[..4].iter().all(u8::is_ascii_digit)
        && stamp[4] == b'-'
        && stamp[7] == b'-'
        && stamp[10] == b'T'
        && stamp[13] == b':'
        && (stamp.ends_with(b"Z") || matches!(zone, Some(b'+' | b'-')));
    shaped.then_some(end + 1)
}

/// Appends `src` to `out` without control characters other than `'\t'`. ANSI/VT escape
/// sequences (CSI like `ESC[31m`, OSC like `ESC]0;title BEL`, and two-character escapes)
/// are removed whole so that no stray `[31m` is left behind; any other control
/// character (C0, DEL, C1) is dropped. Nothing that reaches the screen can start an
/// escape sequence.
pub fn sanitize_into(src: &str, out: &mut String) {
    let clean = src
        .bytes()
        .all(|b| (b >= 0x20 && b != 0x7f && b != 0xc2) || b == b'\t');
    if clean {
        // 0xC2 is the lead byte of every C1 control (U+0080..=U+009F); without it and
        // without C0/DEL there is nothing to strip.
        out.push_str(src);
        return;
    }
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push('\t'),
            '\x1b' => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                Some(' '..='/') => {
                    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                    chars.next_if(|c| matches!(c, '0'..='~'));
                }
                Some('0'..='~') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// After `ESC [`: parameter and intermediate bytes, then one final byte.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars.next_if(|c| matches!(c, ' '..='?')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// After `ESC ]` (OSC) and the other string introducers: up to BEL or ST.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\x07' | '\u{9c}' => return,
            '\x1b' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

enum Matcher {
    /// Lower-cased ASCII needle, matched byte-wise (ASCII bytes never occur inside a
    /// multi-byte UTF-8 sequence, so this can't match mid-character).
    Ascii(Vec<u8>),
    Unicode(String),
}

impl Matcher {
    fn new(needle: &str) -> Matcher {
        if needle.is_ascii() {
            Matcher::Ascii(needle.to_ascii_lowercase().into_bytes())
        } else {
            Matcher::Unicode(needle.to_lowercase())
        }
    }

    fn matches(&self, hay: &[u8]) -> bool {
        match self {
            Matcher::Ascii(n) => {
                let Some((&first, rest)) = n.split_first() else {
                    return true;
                };
                hay.len() >= n.len()
                    && hay[..=hay.len() - n.len()]
                        .iter()
                        .enumerate()
                        .any(|(i, &b)| {
                            b.to_ascii_lowercase() == first
                                && hay[i + 1..i + n.len()].eq_ignore_ascii_case(rest)
                        })
            }
            Matcher::Unicode(n) => String::from_utf8_lossy(hay).to_lowercase().contains(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn ring_is_bounded_and_total_counts_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = JobLog::create(dir.path().join("a/b/job.log"), 10).unwrap();
        for i in 0..1000 {
            log.push(LogLevel::Info, &format!("line {i}"));
        }
        assert_eq!(log.total(), 1000);
        assert_eq!(log.ring().len(), 10);
        assert_eq!(log.first_in_ring(), 990);
        assert_eq!(log.ring().front().unwrap().text, "line 990");
        assert_eq!(log.ring().back().unwrap().seq, 999);
        assert_eq!(log.dropped(), 0);
        assert!(log.spill_error().is_none());
    }

    #[test]
    fn range_reads_old_lines_back_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = JobLog::create(dir.path().join("job.log"), 5).unwrap();
        for i in 0..50 {
            let level = match i % 3 {
                0 => LogLevel::Info,
                1 => LogLevel::Warn,
                _ => LogLevel::Error,
            };
            log.push(level, &format!("line {i}\twith tab"));
        }
        let ring: Vec<LogLine> = log.ring().iter().cloned().collect();
        let got = log.range(3, 4).unwrap();
        assert_eq!(got.iter().map(|l| l.seq).collect::<Vec<_>>(), [3, 4, 5, 6]);
        assert_eq!(got[0].text, "line 3\twith tab");
        assert_eq!(got[1].level, LogLevel::Warn);
        assert_eq!(got[2].level, LogLevel::Error);
        // Spanning the file and the ring, clipped at total.
        let got = log.range(40, 100).unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(
            got.iter().map(|l| l.seq).collect::<Vec<_>>(),
            (40..50).collect::<Vec<_>>()
        );
        assert_eq!(&got[5..], &ring[..]);
        // What comes back from disk equals what went in, timestamps included.
        let all = log.range(0, 50).unwrap();
        assert_eq!(all[45..], ring[..]);
        assert!(log.range(50, 10).unwrap().is_empty());
    }

    #[test]
    fn multi_line_text_is_split() {
        let mut log = JobLog::memory_only(100);
        log.push(LogLevel::Warn, "one\ntwo\r\nthree\n");
        log.push(LogLevel::Info, "");
        assert_eq!(log.total(), 4);
        let lines: Vec<LogLine> = log.ring().iter().cloned().collect();
        assert_eq!(texts(&lines), ["one", "two", "three", ""]);
        assert_eq!(
            lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(lines[..3].iter().all(|l| l.level == LogLevel::Warn));
    }

    #[test]
    fn control_chars_are_stripped() {
        let mut log = JobLog::memory_only(100);
        log.push(LogLevel::Info, "\x1b[31mred\x1b[0m plain");
        log.push(LogLevel::Info, "bell\x07 bs\x08 del\x7f nul\0 tab\tok");
        log.push(LogLevel::Info, "\x1b]0;evil title\x07after");
        log.push(LogLevel::Info, "c1\u{9b}2Jcsi \u{85}nel é ünïcode");
        log.push(LogLevel::Info, "lone esc\x1b");
        let t: Vec<&str> = log.ring().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(t[0], "red plain");
        assert_eq!(t[1], "bell bs del nul tab\tok");
        assert_eq!(t[2], "after");
        assert_eq!(t[3], "c1csi nel é ünïcode");
        assert_eq!(t[4], "lone esc");
        for line in log.ring() {
            assert!(
                line.text.chars().all(|c| c == '\t' || !c.is_control()),
                "{:?}",
                line.text
            );
        }
    }

    #[test]
    fn spilled_file_has_no_control_chars() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let mut log = JobLog::create(&path, 1).unwrap();
        log.push(LogLevel::Error, "\x1b[1mbold\r\x1b[2K");
        log.flush().unwrap();
        let raw = std::fs::read_to_string(&path).unwrap();
        let (ts, rest) = raw.split_once('\t').unwrap();
        assert!(ts.parse::<i64>().unwrap() > 0);
        assert_eq!(rest, "E\tbold\n");
    }

    #[test]
    fn search_finds_spilled_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = JobLog::create(dir.path().join("job.log"), 3).unwrap();
        for i in 0..20 {
            let text = if i % 7 == 0 {
                format!("Needle HERE {i}")
            } else {
                format!("hay {i}")
            };
            log.push(LogLevel::Info, &text);
        }
        assert_eq!(log.search("needle here").unwrap(), [0, 7, 14]);
        assert_eq!(log.search("HAY 19").unwrap(), [19]);
        assert!(log.search("absent").unwrap().is_empty());
        assert!(log.search("").unwrap().is_empty());
        // Only text is searched, not the timestamp or level columns.
        assert!(log.search("\tI\t").unwrap().is_empty());
    }

    #[test]
    fn search_unicode_case_insensitive() {
        let mut log = JobLog::memory_only(10);
        log.push(LogLevel::Info, "Größe ÄNDERN");
        log.push(LogLevel::Info, "other");
        assert_eq!(log.search("änd").unwrap(), [0]);
        assert_eq!(log.search("GRÖ").unwrap(), [0]);
    }

    #[test]
    fn open_existing_after_drop_recovers_total_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let before: Vec<LogLine> = {
            let mut log = JobLog::create(&path, 1000).unwrap();
            for i in 0..100 {
                log.push(LogLevel::Warn, &format!("line {i}"));
            }
            log.ring().iter().cloned().collect()
        };
        let mut log = JobLog::open_existing(&path, 10).unwrap();
        assert_eq!(log.total(), 100);
        assert_eq!(log.first_in_ring(), 90);
        assert_eq!(log.ring().iter().cloned().collect::<Vec<_>>(), before[90..]);
        assert_eq!(log.range(0, 100).unwrap(), before);
        assert_eq!(log.search("line 42").unwrap(), [42]);

        // Pushing appends to the same file.
        log.push(LogLevel::Error, "after restart");
        assert_eq!(log.total(), 101);
        drop(log);
        let mut log = JobLog::open_existing(&path, 2).unwrap();
        assert_eq!(log.total(), 101);
        assert_eq!(log.ring().back().unwrap().text, "after restart");
        assert_eq!(log.ring().back().unwrap().seq, 100);
        assert_eq!(log.range(99, 1).unwrap()[0].text, "line 99");
    }

    #[test]
    fn open_existing_ignores_and_cuts_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        std::fs::write(&path, "1\tI\tfirst\nnot a record\n2\tW\tsecond\n3\tE\tpart").unwrap();
        let mut log = JobLog::open_existing(&path, 10).unwrap();
        assert_eq!(log.total(), 3);
        let lines: Vec<LogLine> = log.ring().iter().cloned().collect();
        assert_eq!(texts(&lines), ["first", "not a record", "second"]);
        assert_eq!(lines[2].ts_ms, 2);
        assert_eq!(lines[2].level, LogLevel::Warn);
        log.push(LogLevel::Info, "third");
        drop(log);
        let raw = std::fs::read_to_string(&path).unwrap();
        assert!(raw.starts_with("1\tI\tfirst\nnot a record\n2\tW\tsecond\n"));
        assert!(raw.ends_with("\tI\tthird\n"));
        assert!(!raw.contains("part"));
    }

    #[test]
    fn memory_only_drops_beyond_ring_but_counts() {
        let mut log = JobLog::memory_only(4);
        for i in 0..10 {
            log.push(LogLevel::Info, &format!("{i}"));
        }
        assert_eq!(log.total(), 10);
        assert_eq!(log.dropped(), 6);
        assert_eq!(log.first_in_ring(), 6);
        assert!(log.path().is_none());
        let got = log.range(0, 10).unwrap();
        assert_eq!(got.iter().map(|l| l.seq).collect::<Vec<_>>(), [6, 7, 8, 9]);
        assert_eq!(log.search("3").unwrap(), Vec::<u64>::new());
        assert_eq!(log.search("8").unwrap(), [8]);
    }

    #[test]
    fn zero_capacity_ring_still_spills() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = JobLog::create(dir.path().join("job.log"), 0).unwrap();
        log.push(LogLevel::Info, "a\nb");
        assert!(log.ring().is_empty());
        assert_eq!(log.first_in_ring(), 2);
        assert_eq!(texts(&log.range(0, 5).unwrap()), ["a", "b"]);
        assert_eq!(log.dropped(), 0);
    }

    #[test]
    fn write_error_keeps_ring_and_goes_memory_only() {
        // /dev/full accepts opens and fails every write with ENOSPC.
        if !Path::new("/dev/full").exists() {
            return;
        }
        let mut log = JobLog::empty(3);
        log.path = Some(PathBuf::from("/dev/full"));
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        log.spill = Spill::Open(BufWriter::with_capacity(16, file));
        for i in 0..10 {
            log.push(LogLevel::Info, &format!("line number {i}"));
        }
        assert!(log.spill_error().unwrap().contains("/dev/full"));
        assert_eq!(log.total(), 10);
        assert_eq!(
            texts(&log.range(7, 3).unwrap()),
            ["line number 7", "line number 8", "line number 9"]
        );
        assert!(log.flush().is_ok());
        assert!(log.dropped() > 0);
    }

    #[test]
    fn flush_error_is_reported_once() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        let mut log = JobLog::empty(3);
        log.path = Some(PathBuf::from("/dev/full"));
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        log.spill = Spill::Open(BufWriter::with_capacity(IO_BUF, file));
        log.push(LogLevel::Info, "x");
        assert!(log.flush().is_err());
        assert!(log.spill_error().is_some());
        assert!(log.flush().is_ok());
        log.push(LogLevel::Info, "y");
        assert_eq!(texts(&log.range(0, 2).unwrap()), ["x", "y"]);
    }

    #[test]
    fn many_lines_checkpoint_index_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let mut log = JobLog::create(&path, JobLog::DEFAULT_RING).unwrap();
        for i in 0..200_000u32 {
            log.push(
                LogLevel::Info,
                &format!("line {i} some typical output text"),
            );
        }
        assert_eq!(log.total(), 200_000);
        assert_eq!(log.ring().len(), JobLog::DEFAULT_RING);
        assert!(log.checkpoints.len() <= MAX_CHECKPOINTS);
        for start in [0u64, 1, 255, 256, 12_345, 131_071, 194_999] {
            let got = log.range(start, 2).unwrap();
            assert_eq!(got[0].seq, start);
            assert_eq!(
                got[0].text,
                format!("line {start} some typical output text")
            );
            assert_eq!(got[1].seq, start + 1);
        }
        assert_eq!(log.search("line 199999 ").unwrap(), [199_999]);
        drop(log);
        let log = JobLog::open_existing(&path, 100).unwrap();
        assert_eq!(log.total(), 200_000);
        assert_eq!(
            log.ring().back().unwrap().text,
            "line 199999 some typical output text"
        );
    }

    #[test]
    fn checkpoint_index_compacts() {
        let mut log = JobLog::memory_only(1);
        // Simulate spilling: exercise the index arithmetic directly.
        for _ in 0..(MAX_CHECKPOINTS as u64 * INITIAL_STRIDE * 3) {
            log.note_line_start();
            log.spilled_bytes += 10;
            log.spilled_lines += 1;
        }
        assert!(log.checkpoints.len() <= MAX_CHECKPOINTS);
        assert!(log.stride > INITIAL_STRIDE);
        for (i, off) in log.checkpoints.iter().enumerate() {
            assert_eq!(*off, i as u64 * log.stride * 10);
        }
    }
}
