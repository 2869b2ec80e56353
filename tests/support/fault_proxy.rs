//! A loopback fault proxy in front of moto: it forwards every request as it is, except those a
//! test picked (by AWS action, and how many times), which it answers with a fault instead:
//!
//! * `Throttle`: 400 with an AWS `Throttling` error document;
//! * `ServerXml(status)`: a 5xx with an AWS error document (`InternalFailure` /
//!   `ServiceUnavailable`);
//! * `ServerHtml(status)`: a 5xx with an HTML page, as a load balancer sends;
//! * `Reset`: the request is read, then the connection is reset (RST);
//! * `Stall(d)`: the request reaches moto at once, its answer is held for `d` (so a change it
//!   asks for happens although the client may give up first);
//! * `BlackHole`: the request is read and never answered, nor forwarded.
//!
//! It listens on 127.0.0.1 only, runs on its own thread and runtime (so sync tests driving the
//! binary and async tests can both use it), records every request, and stops when dropped.
//! The action is the awsQuery form's `Action` (CloudFormation, STS) or, for JSON protocols, the
//! operation in `X-Amz-Target`. Requests must carry `Content-Length` (the AWS SDKs do).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerXml(u16),
    ServerHtml(u16),
    Reset,
    Stall(Duration),
    BlackHole,
}

/// How many matching requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Next(usize),
    Always,
}

struct Rule {
    action: String,
    fault: Fault,
    left: Option<usize>,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    /// Requests received per action (faulted or not).
    seen: HashMap<String, usize>,
    /// Requests answered with a fault per action.
    faulted: HashMap<String, usize>,
    /// Every action in arrival order.
    log: Vec<String>,
    /// Black-holed requests whose client gave up (closed the connection).
    abandoned: HashMap<String, usize>,
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultProxy {
    /// Start in front of `upstream` (`http://127.0.0.1:PORT`, e.g. moto's endpoint).
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy::start_on(0, upstream)
    }

    /// Start on a given port (0: any free one), e.g. one a client was pointed at before
    /// anything listened there.
    pub fn start_on(port: u16, upstream: &str) -> FaultProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("the upstream is an http:// URL")
            .trim_end_matches('/')
            .to_string();
        let std_listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the fault proxy");
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = std_listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fault proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        let state = state.clone();
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            serve(client, &upstream, &state).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every connection, black holes included.
        });
        FaultProxy {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answer the next `times` requests for `action` with `fault`. Rules apply in the order
    /// they were given; one that is used up gives way to the next.
    pub fn inject(&self, action: &str, fault: Fault, times: Times) {
        lock(&self.shared).rules.push(Rule {
            action: action.to_string(),
            fault,
            left: match times {
                Times::Next(n) => Some(n),
                Times::Always => None,
            },
        });
    }

    /// Forget every fault: from now on everything is forwarded.
    pub fn heal(&self) {
        lock(&self.shared).rules.clear();
    }

    /// Requests received for `action` so far.
    pub fn seen(&self, action: &str) -> usize {
        lock(&self.shared).seen.get(action).copied().unwrap_or(0)
    }

    /// Requests for `action` answered with a fault so far.
    pub fn faulted(&self, action: &str) -> usize {
        lock(&self.shared).faulted.get(action).copied().unwrap_or(0)
    }

    /// Black-holed requests for `action` whose client closed the connection.
    pub fn abandoned(&self, action: &str) -> usize {
        lock(&self.shared)
            .abandoned
            .get(action)
            .copied()
            .unwrap_or(0)
    }

    /// Every action received, in order.
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared).log.clone()
    }

    /// Block until `check` holds, polling. Panics after `guard` (only a guard against a hung
    /// test: nothing is asserted about how long it took).
    pub fn wait_until(&self, guard: Duration, what: &str, check: impl Fn(&FaultProxy) -> bool) {
        let deadline = Instant::now() + guard;
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "fault proxy: {what} did not happen within {guard:?}; requests: {:?}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP/1.1 request as received.
struct Request {
    head: String,
    body: Vec<u8>,
    action: String,
}

/// Serve one client connection: requests one after another (keep-alive).
async fn serve(mut client: TcpStream, upstream: &str, shared: &Mutex<Shared>) {
    let mut buffered = Vec::new();
    loop {
        let Some(request) = read_request(&mut client, &mut buffered).await else {
            return;
        };
        let fault = {
            let mut s = lock(shared);
            *s.seen.entry(request.action.clone()).or_default() += 1;
            s.log.push(request.action.clone());
            let fault = s
                .rules
                .iter_mut()
                .find(|r| r.action == request.action && r.left != Some(0))
                .map(|r| {
                    if let Some(n) = &mut r.left {
                        *n -= 1;
                    }
                    r.fault
                });
            if fault.is_some() {
                *s.faulted.entry(request.action.clone()).or_default() += 1;
            }
            fault
        };
        let answer = match fault {
            None => match forward(upstream, &request).await {
                Some(answer) => answer,
                None => return,
            },
            Some(Fault::Throttle) => aws_error(400, "Sender", "Throttling", "Rate exceeded"),
            Some(Fault::ServerXml(status)) => {
                let code = if status == 503 {
                    "ServiceUnavailable"
                } else {
                    "InternalFailure"
                };
                aws_error(status, "Receiver", code, "injected by the fault proxy")
            }
            Some(Fault::ServerHtml(status)) => response(
                status,
                "text/html",
                format!(
                    "<html><head><title>{status}</title></head><body><h1>{status} Bad Gateway</h1><p>nginx</p></body></html>"
                )
                .into_bytes(),
            ),
            Some(Fault::Reset) => {
                let _ = client.set_zero_linger();
                drop(client);
                return;
            }
            Some(Fault::Stall(hold)) => {
                let answer = forward(upstream, &request).await;
                tokio::time::sleep(hold).await;
                match answer {
                    Some(answer) => answer,
                    None => return,
                }
            }
            Some(Fault::BlackHole) => {
                // Never answer; note when the client gives up on it.
                let mut sink = [0u8; 1024];
                loop {
                    match client.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                *lock(shared)
                    .abandoned
                    .entry(request.action.clone())
                    .or_default() += 1;
                return;
            }
        };
        if client.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Read one request (head and `Content-Length` body). `None` when the client closed.
async fn read_request(client: &mut TcpStream, buffered: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(pos) = find(buffered, b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffered.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffered[..head_end]).into_owned();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buffered.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffered.extend_from_slice(&chunk[..n]);
    }
    let body = buffered[head_end..head_end + length].to_vec();
    buffered.drain(..head_end + length);
    let action = action_of(&head, &body);
    Some(Request { head, body, action })
}

fn action_of(head: &str, body: &[u8]) -> String {
    let form = String::from_utf8_lossy(body);
    if let Some(action) = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
    {
        return action.to_string();
    }
    header(head, "x-amz-target")
        .and_then(|t| t.rsplit('.').next().map(str::to_string))
        .unwrap_or_default()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Send the request to moto on a fresh connection and return the answer, re-framed with a
/// `Content-Length` for the client's kept-alive connection. `None` when moto cannot be reached.
async fn forward(upstream: &str, request: &Request) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    let mut head = String::new();
    for (i, line) in request.head.trim_end().lines().enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes()).await.ok()?;
    server.write_all(&request.body).await.ok()?;
    // Read the head, then the body as framed (Content-Length, chunked, or to the end): some
    // servers keep the connection open whatever `Connection: close` says.
    let mut raw = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&raw, b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = server.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let chunked =
        header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok());
    loop {
        let have = &raw[head_end..];
        let complete = match (chunked, length) {
            (true, _) => find(have, b"0\r\n\r\n").is_some(),
            (false, Some(n)) => have.len() >= n,
            (false, None) => false,
        };
        if complete {
            break;
        }
        let mut chunk = [0u8; 8192];
        match server.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    }
    let body = if chunked {
        dechunk(&raw[head_end..])
    } else {
        let end = length.map_or(raw.len(), |n| (head_end + n).min(raw.len()));
        raw[head_end..end].to_vec()
    };
    let mut out = String::new();
    for (i, line) in head.trim_end().lines().enumerate() {
        let lower = line.to_ascii_lowercase();
        if i > 0
            && (lower.starts_with("content-length:")
                || lower.starts_with("transfer-encoding:")
                || lower.starts_with("connection:"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut answer = out.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(data, b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        body.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    body
}

fn response(status: u16, content_type: &str, body: Vec<u8>) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: fault-proxy\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

fn aws_error(status: u16, kind: &str, code: &str, message: &str) -> Vec<u8> {
    response(
        status,
        "text/xml",
        format!(
            "<ErrorResponse xmlns=\"https://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
        )
        .into_bytes(),
    )
}
