//! A loopback Amazon Bedrock runtime: `POST /model/{id}/converse-stream` answered with real
//! binary event-stream frames (prelude and message CRCs, `:event-type`, `:message-type`,
//! `:content-type` headers, written by `aws-smithy-eventstream`), and `POST
//! /model/{id}/converse` answered with the same reply as JSON. It plays a script of scripted
//! model turns, one per request, records every request (path, headers, JSON body), listens on
//! 127.0.0.1 only and stops when dropped.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every tool result the request hands the model, as (tool use id, text).
    pub fn tool_results(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for m in self.body["messages"].as_array().into_iter().flatten() {
            for block in m["content"].as_array().into_iter().flatten() {
                if let Some(r) = block.get("toolResult") {
                    let text = r["content"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("");
                    out.push((
                        r["toolUseId"].as_str().unwrap_or_default().to_string(),
                        text,
                    ));
                }
            }
        }
        out
    }

    /// The names of the tools offered.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["toolConfig"]["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["toolSpec"]["name"].as_str().map(String::from))
            .collect()
    }
}

/// One step of a streamed answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// An event frame (`:message-type` event) of this type and JSON payload.
    Event(&'static str, Value),
    /// An exception frame (`:message-type` exception) in the middle of the stream.
    Exception(&'static str, Value),
    /// Wait before the next frame.
    Pause(Duration),
    /// Keep the connection open, sending nothing, until the client goes away (or a minute).
    Hold,
}

/// What the stub answers one request with.
#[derive(Debug, Clone)]
pub enum Reply {
    Stream(Vec<Step>),
    /// An error before any stream: status, `x-amzn-ErrorType` code and message.
    Error {
        status: u16,
        code: &'static str,
        message: String,
    },
}

fn usage(input: u64, output: u64) -> Step {
    Step::Event(
        "metadata",
        json!({"usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}, "metrics": {"latencyMs": 12}}),
    )
}

fn text_steps(index: u64, pieces: &[&str]) -> Vec<Step> {
    let mut steps: Vec<Step> = pieces
        .iter()
        .map(|p| {
            Step::Event(
                "contentBlockDelta",
                json!({"contentBlockIndex": index, "delta": {"text": p}}),
            )
        })
        .collect();
    steps.push(Step::Event(
        "contentBlockStop",
        json!({"contentBlockIndex": index}),
    ));
    steps
}

impl Reply {
    /// A model that answers in words, in these pieces.
    pub fn text(pieces: &[&str]) -> Reply {
        let mut steps = vec![Step::Event("messageStart", json!({"role": "assistant"}))];
        steps.extend(text_steps(0, pieces));
        steps.push(Step::Event(
            "messageStop",
            json!({"stopReason": "end_turn"}),
        ));
        steps.push(usage(812, 57));
        Reply::Stream(steps)
    }

    /// A model that says `lead` and calls tool `name` with `input` (sent in two fragments).
    pub fn tool(lead: &str, id: &str, name: &str, input: Value) -> Reply {
        let mut steps = vec![Step::Event("messageStart", json!({"role": "assistant"}))];
        steps.extend(text_steps(0, &[lead]));
        let json = input.to_string();
        let (a, b) = json.split_at(json.len() / 2);
        steps.push(Step::Event(
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": id, "name": name}}}),
        ));
        for part in [a, b] {
            steps.push(Step::Event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": part}}}),
            ));
        }
        steps.push(Step::Event(
            "contentBlockStop",
            json!({"contentBlockIndex": 1}),
        ));
        steps.push(Step::Event(
            "messageStop",
            json!({"stopReason": "tool_use"}),
        ));
        steps.push(usage(900, 40));
        Reply::Stream(steps)
    }

    /// HTTP 429 ThrottlingException.
    pub fn throttled() -> Reply {
        Reply::Error {
            status: 429,
            code: "ThrottlingException",
            message: "Too many requests, please wait before trying again.".into(),
        }
    }

    /// Some text, then a `modelStreamErrorException` in the middle of the stream.
    pub fn broken_after(pieces: &[&str]) -> Reply {
        let mut steps = vec![Step::Event("messageStart", json!({"role": "assistant"}))];
        for p in pieces {
            steps.push(Step::Event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": p}}),
            ));
        }
        steps.push(Step::Exception(
            "modelStreamErrorException",
            json!({"message": "The model stopped producing output.", "originalStatusCode": 500, "originalMessage": "internal"}),
        ));
        Reply::Stream(steps)
    }

    /// A slow answer: one piece, then nothing until the client goes away.
    pub fn slow(first: &str) -> Reply {
        Reply::Stream(vec![
            Step::Event("messageStart", json!({"role": "assistant"})),
            Step::Event(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": first}}),
            ),
            Step::Hold,
        ])
    }
}

/// One binary event-stream frame.
pub fn frame(message_type: &'static str, kind: &'static str, payload: &Value) -> Vec<u8> {
    let kind_header = if message_type == "exception" {
        ":exception-type"
    } else {
        ":event-type"
    };
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(kind_header, HeaderValue::String(kind.into())))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).expect("frame encodes");
    out
}

#[derive(Default)]
struct Shared {
    script: VecDeque<Reply>,
    requests: Vec<Recorded>,
    /// Streams whose client went away while the stub held them open.
    abandoned: usize,
}

pub struct BedrockStub {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BedrockStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BedrockStub {
    /// Start on 127.0.0.1 with `script`: one reply per request, in order. When the script
    /// runs out it answers "(the script has ended)".
    pub async fn start(script: Vec<Reply>) -> BedrockStub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Mutex::new(Shared {
            script: script.into(),
            ..Shared::default()
        }));
        let state = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, state).await;
                });
            }
        });
        BedrockStub { url, shared, task }
    }

    /// Start it on its own runtime thread, for tests that drive a binary (tmux, `ask`).
    pub fn start_blocking(script: Vec<Reply>) -> (BedrockStub, tokio::runtime::Runtime) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let stub = rt.block_on(BedrockStub::start(script));
        (stub, rt)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().expect("not poisoned").requests.clone()
    }

    pub fn abandoned(&self) -> usize {
        self.shared.lock().expect("not poisoned").abandoned
    }

    /// Add replies to the script.
    pub fn push(&self, replies: Vec<Reply>) {
        self.shared
            .lock()
            .expect("not poisoned")
            .script
            .extend(replies);
    }
}

async fn serve(socket: tokio::net::TcpStream, state: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = {
        let mut shared = state.lock().expect("not poisoned");
        shared.requests.push(Recorded {
            path: path.clone(),
            headers,
            body,
        });
        shared
            .script
            .pop_front()
            .unwrap_or_else(|| Reply::text(&["(the script has ended)"]))
    };
    let streaming = path.ends_with("/converse-stream");
    match reply {
        Reply::Error {
            status,
            code,
            message,
        } => {
            let body = json!({ "message": message }).to_string();
            let head = format!(
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\nx-amzn-errortype: {code}:http://internal.amazon.com/coral/com.amazon.bedrock/\r\nx-amzn-requestid: stub\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            write.write_all(head.as_bytes()).await?;
        }
        Reply::Stream(steps) if !streaming => {
            let body = converse_json(&steps).to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-amzn-requestid: stub\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            write.write_all(head.as_bytes()).await?;
        }
        Reply::Stream(steps) => {
            write
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\nx-amzn-requestid: stub\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await?;
            for step in steps {
                let bytes = match step {
                    Step::Event(kind, payload) => frame("event", kind, &payload),
                    Step::Exception(kind, payload) => frame("exception", kind, &payload),
                    Step::Pause(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    Step::Hold => {
                        // Nothing more is sent: wait for the client to hang up.
                        let mut rest = [0u8; 64];
                        let closed = tokio::time::timeout(Duration::from_secs(60), async {
                            loop {
                                match reader.read(&mut rest).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(_) => {}
                                }
                            }
                        })
                        .await
                        .is_ok();
                        if closed {
                            state.lock().expect("not poisoned").abandoned += 1;
                        }
                        return Ok(());
                    }
                };
                write
                    .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
                    .await?;
                write.write_all(&bytes).await?;
                write.write_all(b"\r\n").await?;
                write.flush().await?;
            }
            write.write_all(b"0\r\n\r\n").await?;
        }
    }
    write.flush().await?;
    Ok(())
}

/// The Converse (non-streaming) answer with the same content as a scripted stream.
fn converse_json(steps: &[Step]) -> Value {
    let mut text = String::new();
    let mut tool: Option<(String, String, String)> = None;
    let mut stop = "end_turn".to_string();
    let mut usage = json!({"inputTokens": 0, "outputTokens": 0, "totalTokens": 0});
    for step in steps {
        let Step::Event(kind, payload) = step else {
            continue;
        };
        match *kind {
            "contentBlockStart" => {
                let t = &payload["start"]["toolUse"];
                tool = Some((
                    t["toolUseId"].as_str().unwrap_or_default().into(),
                    t["name"].as_str().unwrap_or_default().into(),
                    String::new(),
                ));
            }
            "contentBlockDelta" => {
                if let Some(t) = payload["delta"]["text"].as_str() {
                    text.push_str(t);
                } else if let (Some(part), Some(tool)) =
                    (payload["delta"]["toolUse"]["input"].as_str(), tool.as_mut())
                {
                    tool.2.push_str(part);
                }
            }
            "messageStop" => stop = payload["stopReason"].as_str().unwrap_or("end_turn").into(),
            "metadata" => usage = payload["usage"].clone(),
            _ => {}
        }
    }
    let mut content = vec![json!({ "text": text })];
    if let Some((id, name, input)) = tool {
        content.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": serde_json::from_str::<Value>(&input).unwrap_or(json!({}))}}));
    }
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage,
        "metrics": {"latencyMs": 10},
    })
}
