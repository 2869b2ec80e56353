//! Pod logs into the job's log. No line is dropped: each chunk the API server sent is split
//! into lines and stored (ring + spill file) before the next chunk is read, so a fast pod is
//! slowed by TCP backpressure rather than losing lines, and memory stays bounded however long
//! the log is. Lines keep the API server's RFC 3339 timestamp (asked for always; the view
//! hides it unless `t` is on). A merged workload log prefixes each line with its pod.

use super::classify;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::kube::model::LogTail;
use crate::kube::ops::{LogRequest, TailRequest};
use futures::{AsyncBufRead, AsyncBufReadExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use std::borrow::Cow;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

/// A line longer than this is stored in pieces (a binary blob on stdout, say).
pub const MAX_LINE: usize = 1024 * 1024;

pub use crate::engine::joblog::timestamp_prefix;

/// Store every line of `reader` into the job's log, `prefix` (a pod) after each line's
/// timestamp. Returns the lines stored.
pub async fn store_lines<R>(
    mut reader: Pin<&mut R>,
    prefix: Option<&str>,
    ctx: &TaskCtx,
) -> std::io::Result<u64>
where
    R: AsyncBufRead + ?Sized,
{
    let mut stored = 0u64;
    // The start of a line that continues in the next chunk.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let chunk = tokio::select! {
            chunk = reader.fill_buf() => chunk?,
            _ = ctx.cancelled() => break,
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        // In order: borrowed from the chunk when possible, owned when a line was completed
        // from the carry or needs a prefix.
        let mut batch: Vec<Cow<'_, str>> = Vec::with_capacity(64);
        let mut start = 0;
        while let Some(offset) = chunk[start..].iter().position(|&b| b == b'\n') {
            let piece = &chunk[start..start + offset];
            start += offset + 1;
            if carry.is_empty() {
                batch.push(line(piece, prefix));
            } else {
                carry.extend_from_slice(piece);
                batch.push(Cow::Owned(with_prefix(
                    &String::from_utf8_lossy(&carry),
                    prefix,
                )));
                carry.clear();
            }
        }
        carry.extend_from_slice(&chunk[start..]);
        while carry.len() >= MAX_LINE {
            let rest = carry.split_off(MAX_LINE);
            batch.push(Cow::Owned(with_prefix(
                &String::from_utf8_lossy(&carry),
                prefix,
            )));
            carry = rest;
        }
        // Stored before the next chunk is read: the pace of the store is the pace of the read.
        let count = ctx.info_lines(batch.iter().map(|c| c.as_ref()));
        stored += count as u64;
        drop(batch);
        reader.consume_unpin(len);
    }
    if !carry.is_empty() {
        // The last line had no newline: the container ended mid-line.
        ctx.info(with_prefix(&String::from_utf8_lossy(&carry), prefix));
        stored += 1;
    }
    Ok(stored)
}

/// A line as it goes into the log: borrowed from the chunk when it is UTF-8 and needs no
/// prefix (the common case: no copy), else owned.
fn line<'a>(piece: &'a [u8], prefix: Option<&str>) -> Cow<'a, str> {
    let text = String::from_utf8_lossy(piece);
    match prefix {
        None => text,
        Some(_) => Cow::Owned(with_prefix(&text, prefix)),
    }
}

fn with_prefix(line: &str, prefix: Option<&str>) -> String {
    match prefix {
        None => line.to_string(),
        Some(pod) => match timestamp_prefix(line) {
            Some(at) => format!("{}[{pod}] {}", &line[..at], &line[at..]),
            None => format!("[{pod}] {line}"),
        },
    }
}

/// Follow the request's pods (one, or a workload's, merged) until their containers end or
/// the job is cancelled.
pub async fn follow(
    client: &kube::Client,
    request: &LogRequest,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &request.namespace);
    let merged = request.workload.is_some();
    let total = AtomicU64::new(0);
    let follows = request.pods.iter().map(|pod| {
        let api = api.clone();
        let total = &total;
        async move {
            let params = LogParams {
                container: request.container.clone(),
                // The previous instance has ended: read it whole, nothing to follow.
                follow: !request.previous,
                previous: request.previous,
                timestamps: true,
                ..LogParams::default()
            };
            let stream = api.log_stream(pod, &params).await.map_err(classify)?;
            let mut stream = std::pin::pin!(stream);
            let prefix = merged.then_some(pod.as_str());
            let stored = store_lines(stream.as_mut(), prefix, ctx)
                .await
                .map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Network,
                        format!(
                            "the log stream of {pod} broke after {} lines: {e}",
                            total.load(Ordering::Relaxed)
                        ),
                    )
                })?;
            total.fetch_add(stored, Ordering::Relaxed);
            Ok::<u64, ProviderError>(stored)
        }
    });
    let results = futures::future::join_all(follows).await;
    if ctx.is_cancelled() {
        return Err(ProviderError::new(
            ErrorKind::Cancelled,
            format!(
                "stopped following after {} lines",
                total.load(Ordering::Relaxed)
            ),
        ));
    }
    let mut failures = Vec::new();
    for (pod, result) in request.pods.iter().zip(&results) {
        if let Err(e) = result {
            failures.push(format!("{pod}: {e}"));
        }
    }
    let lines = total.load(Ordering::Relaxed);
    if failures.len() == request.pods.len() {
        return Err(ProviderError::new(
            failures_kind(&results),
            failures.join("; "),
        ));
    }
    for failure in &failures {
        ctx.warn(failure);
    }
    let ended = if request.previous {
        "the previous container's log is complete"
    } else {
        "the container ended"
    };
    Ok(match &request.workload {
        Some(w) => format!(
            "{lines} lines from {} pods of {w}; {ended}",
            request.pods.len()
        ),
        None => format!("{lines} lines; {ended}"),
    })
}

/// A line of a tail longer than this is cut (the rest is said, not kept).
pub const MAX_TAIL_LINE: usize = 8 * 1024;
/// A tail stops reading after this many bytes (a server that ignores `tailLines`, say).
pub const MAX_TAIL_BYTES: u64 = 16 * 1024 * 1024;

/// What a tail read kept: at most `keep` lines, the newest, each cut to [`MAX_TAIL_LINE`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tail {
    pub lines: std::collections::VecDeque<String>,
    /// Lines that were cut to fit.
    pub cut_lines: u64,
    /// The read stopped at [`MAX_TAIL_BYTES`].
    pub stopped: bool,
}

/// Keep the last `keep` lines of `reader` (bounded in lines, line length and bytes read),
/// control characters removed. Ends when the reader ends (a read without follow does) or
/// the job is cancelled.
pub async fn keep_tail<R>(
    mut reader: Pin<&mut R>,
    keep: usize,
    ctx: &TaskCtx,
) -> std::io::Result<Tail>
where
    R: AsyncBufRead + ?Sized,
{
    let mut tail = Tail::default();
    let mut current: Vec<u8> = Vec::new();
    let mut current_cut = false;
    let mut read = 0u64;
    let push = |tail: &mut Tail, bytes: &[u8], cut: bool| {
        let mut text = crate::aws::clean(Some(&String::from_utf8_lossy(bytes)));
        if cut {
            text.push('…');
            tail.cut_lines += 1;
        }
        tail.lines.push_back(text);
        while tail.lines.len() > keep {
            tail.lines.pop_front();
        }
    };
    loop {
        let chunk = tokio::select! {
            chunk = reader.fill_buf() => chunk?,
            _ = ctx.cancelled() => break,
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            let room = MAX_TAIL_LINE.saturating_sub(current.len());
            if body.len() > room {
                current.extend_from_slice(&body[..room]);
                current_cut = true;
            } else {
                current.extend_from_slice(body);
            }
            if ends {
                push(&mut tail, &current, current_cut);
                current.clear();
                current_cut = false;
            }
        }
        reader.consume_unpin(len);
        read += len as u64;
        if read >= MAX_TAIL_BYTES {
            tail.stopped = true;
            break;
        }
    }
    if !current.is_empty() {
        push(&mut tail, &current, current_cut);
    }
    Ok(tail)
}

/// The last lines of one container's log, read once (`follow` off, `tailLines` set): the
/// read ends when the API server has sent them.
pub async fn tail(
    client: &kube::Client,
    request: &TailRequest,
    ctx: &TaskCtx,
) -> ProviderResult<LogTail> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &request.namespace);
    let params = LogParams {
        container: request.container.clone(),
        follow: false,
        previous: request.previous,
        tail_lines: Some(i64::from(request.lines)),
        timestamps: false,
        ..LogParams::default()
    };
    let stream = api
        .log_stream(&request.pod, &params)
        .await
        .map_err(classify)?;
    let stream = std::pin::pin!(stream);
    let tail = keep_tail(stream, request.lines as usize, ctx)
        .await
        .map_err(|e| {
            ProviderError::new(
                ErrorKind::Network,
                format!("the log of {} broke off: {e}", request.pod),
            )
        })?;
    if ctx.is_cancelled() {
        return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
    }
    let mut cut = Vec::new();
    if tail.cut_lines > 0 {
        cut.push(format!(
            "{} line(s) longer than {MAX_TAIL_LINE} bytes were cut (…)",
            tail.cut_lines
        ));
    }
    if tail.stopped {
        cut.push(format!(
            "the read stopped after {} MiB; these are the last lines read, not the log's end",
            MAX_TAIL_BYTES / (1024 * 1024)
        ));
    }
    ctx.info(format!("{} lines of {}", tail.lines.len(), request.pod));
    Ok(LogTail {
        context: request.context.name().to_string(),
        namespace: request.namespace.clone(),
        pod: request.pod.clone(),
        container: request.container.clone(),
        previous: request.previous,
        requested: request.lines,
        tail: tail.lines.into(),
        cut: (!cut.is_empty()).then(|| cut.join("; ")),
    })
}

fn failures_kind(results: &[ProviderResult<u64>]) -> ErrorKind {
    results
        .iter()
        .find_map(|r| r.as_ref().err().map(|e| e.kind))
        .unwrap_or(ErrorKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_recognised_and_pods_go_after_them() {
        let line = "2026-01-02T03:04:05.123456789Z hello world";
        assert_eq!(timestamp_prefix(line), Some(31));
        assert_eq!(timestamp_prefix("hello world"), None);
        assert_eq!(timestamp_prefix("2026-01-02T03:04:05+01:00 x"), Some(26));
        assert_eq!(
            with_prefix(line, Some("web-1")),
            "2026-01-02T03:04:05.123456789Z [web-1] hello world"
        );
        assert_eq!(with_prefix("plain", Some("web-1")), "[web-1] plain");
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    fn ctx() -> TaskCtx {
        TaskCtx::detached_with_ring(1, 1_000)
    }

    /// A reader that hands out its bytes in the chunks given (as TCP would, cutting lines).
    fn chunked(chunks: Vec<Vec<u8>>) -> impl AsyncBufRead {
        let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        futures::TryStreamExt::into_async_read(stream)
    }

    #[tokio::test]
    async fn lines_cut_across_chunks_arrive_whole_and_in_order() {
        let ctx = ctx();
        let reader = chunked(vec![
            b"2026-01-02T03:04:05Z fir".to_vec(),
            b"st\n2026-01-02T03:04:06Z second\n2026-01-02T03:04:07Z th".to_vec(),
            b"ird\nnot \xff utf-8\n".to_vec(),
            b"no newline at the end".to_vec(),
        ]);
        let reader = std::pin::pin!(reader);
        let stored = store_lines(reader, Some("web-1"), &ctx)
            .await
            .expect("read");
        assert_eq!(stored, 5);
        let log = ctx.handle.log.lock().unwrap();
        let lines: Vec<&str> = log.ring().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            lines,
            [
                "2026-01-02T03:04:05Z [web-1] first",
                "2026-01-02T03:04:06Z [web-1] second",
                "2026-01-02T03:04:07Z [web-1] third",
                "[web-1] not \u{fffd} utf-8",
                "[web-1] no newline at the end",
            ]
        );
    }

    #[tokio::test]
    async fn a_tail_keeps_the_newest_lines_each_bounded() {
        let ctx = ctx();
        let mut text = Vec::new();
        for i in 0..10 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        text.extend_from_slice(&vec![b'y'; MAX_TAIL_LINE + 100]);
        text.extend_from_slice(b"\n\x1b[2Jlast without newline");
        let reader = chunked(text.chunks(7).map(<[u8]>::to_vec).collect());
        let reader = std::pin::pin!(reader);
        let tail = keep_tail(reader, 3, &ctx).await.expect("read");
        let lines: Vec<&String> = tail.lines.iter().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "line 9");
        assert_eq!(lines[1].len(), MAX_TAIL_LINE + '…'.len_utf8());
        assert!(
            !lines[2].contains('\x1b'),
            "control characters removed: {:?}",
            lines[2]
        );
        assert!(lines[2].ends_with("last without newline"));
        assert_eq!(tail.cut_lines, 1);
        assert!(!tail.stopped);
    }

    #[tokio::test]
    async fn a_huge_line_is_stored_in_pieces_not_held_whole() {
        let ctx = ctx();
        let mut blob = vec![b'x'; MAX_LINE * 2 + 10];
        blob.push(b'\n');
        let reader = chunked(blob.chunks(64 * 1024).map(<[u8]>::to_vec).collect());
        let reader = std::pin::pin!(reader);
        let stored = store_lines(reader, None, &ctx).await.expect("read");
        assert_eq!(stored, 3);
    }
}
