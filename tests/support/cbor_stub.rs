//! A loopback CloudWatch that speaks Smithy RPC v2 CBOR, the protocol aws-sdk-cloudwatch
//! (≥ 1.100) uses and moto rejects: `POST /service/GraniteServiceVersion20100801/operation/<Op>`
//! with header `smithy-protocol: rpc-v2-cbor` and CBOR bodies; errors carry `__type`.
//! It answers GetMetricData (1 to 500 queries, `Id` checked, timestamps as CBOR tag 1) and
//! ListMetrics from metrics the test sets, records every call, and stops when dropped.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

/// A CBOR value, as much of it as CloudWatch uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Cbor {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Tag(u64, Box<Cbor>),
}

impl Cbor {
    pub fn get(&self, key: &str) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Cbor::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Cbor::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Cbor] {
        match self {
            Cbor::Array(items) => items,
            _ => &[],
        }
    }

    /// Seconds of a timestamp (tag 1 around a number).
    pub fn seconds(&self) -> Option<f64> {
        match self {
            Cbor::Tag(1, inner) => inner.seconds(),
            Cbor::Int(i) => Some(*i as f64),
            Cbor::Float(f) => Some(*f),
            _ => None,
        }
    }
}

fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Cbor::Text(k.into()), v))
            .collect(),
    )
}

pub fn decode(bytes: &[u8]) -> Result<Cbor, String> {
    let mut d = minicbor::Decoder::new(bytes);
    let value = decode_one(&mut d)?;
    Ok(value)
}

fn decode_one(d: &mut minicbor::Decoder) -> Result<Cbor, String> {
    use minicbor::data::Type;
    let e = |e: minicbor::decode::Error| e.to_string();
    Ok(match d.datatype().map_err(e)? {
        Type::Null | Type::Undefined => {
            d.skip().map_err(e)?;
            Cbor::Null
        }
        Type::Bool => Cbor::Bool(d.bool().map_err(e)?),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Cbor::Int(d.u64().map_err(e)? as i64),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => Cbor::Int(d.i64().map_err(e)?),
        Type::F16 | Type::F32 | Type::F64 => Cbor::Float(d.f64().map_err(e)?),
        Type::String => Cbor::Text(d.str().map_err(e)?.to_string()),
        Type::StringIndef => {
            let mut s = String::new();
            for part in d.str_iter().map_err(e)? {
                s.push_str(part.map_err(e)?);
            }
            Cbor::Text(s)
        }
        Type::Bytes => Cbor::Bytes(d.bytes().map_err(e)?.to_vec()),
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array().map_err(e)? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(decode_one(d)?);
                    }
                }
                None => loop {
                    if d.datatype().map_err(e)? == Type::Break {
                        d.skip().map_err(e)?;
                        break;
                    }
                    items.push(decode_one(d)?);
                },
            }
            Cbor::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut entries = Vec::new();
            match d.map().map_err(e)? {
                Some(n) => {
                    for _ in 0..n {
                        let k = decode_one(d)?;
                        let v = decode_one(d)?;
                        entries.push((k, v));
                    }
                }
                None => loop {
                    if d.datatype().map_err(e)? == Type::Break {
                        d.skip().map_err(e)?;
                        break;
                    }
                    let k = decode_one(d)?;
                    let v = decode_one(d)?;
                    entries.push((k, v));
                },
            }
            Cbor::Map(entries)
        }
        Type::Tag => {
            let tag = d.tag().map_err(e)?;
            Cbor::Tag(u64::from(tag), Box::new(decode_one(d)?))
        }
        other => return Err(format!("unexpected CBOR type {other}")),
    })
}

pub fn encode(value: &Cbor) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    encode_into(&mut e, value);
    e.into_writer()
}

fn encode_into(e: &mut minicbor::Encoder<Vec<u8>>, value: &Cbor) {
    // Writing to a Vec cannot fail.
    match value {
        Cbor::Null => {
            e.null().expect("vec");
        }
        Cbor::Bool(b) => {
            e.bool(*b).expect("vec");
        }
        Cbor::Int(i) => {
            e.i64(*i).expect("vec");
        }
        // Always f64: the SDK's decoder rejects f16.
        Cbor::Float(f) => {
            e.f64(*f).expect("vec");
        }
        Cbor::Text(t) => {
            e.str(t).expect("vec");
        }
        Cbor::Bytes(b) => {
            e.bytes(b).expect("vec");
        }
        Cbor::Array(items) => {
            e.array(items.len() as u64).expect("vec");
            for i in items {
                encode_into(e, i);
            }
        }
        Cbor::Map(entries) => {
            e.map(entries.len() as u64).expect("vec");
            for (k, v) in entries {
                encode_into(e, k);
                encode_into(e, v);
            }
        }
        Cbor::Tag(t, inner) => {
            e.tag(minicbor::data::Tag::new(*t)).expect("vec");
            encode_into(e, inner);
        }
    }
}

/// One metric the stub knows, with its datapoints.
#[derive(Debug, Clone)]
pub struct StubMetric {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    /// `(epoch seconds, value)`.
    pub points: Vec<(i64, f64)>,
}

impl StubMetric {
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> StubMetric {
        StubMetric {
            namespace: namespace.into(),
            name: name.into(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: Vec::new(),
        }
    }

    /// One point per day for the `days` days before today (UTC midnight), each `value`.
    pub fn daily(mut self, days: i64, value: f64) -> StubMetric {
        let today = now_secs().div_euclid(86_400) * 86_400;
        for d in 1..=days {
            self.points.push((today - d * 86_400, value));
        }
        self
    }
}

impl StubMetric {
    /// One point at today's midnight (UTC).
    pub fn today(mut self, value: f64) -> StubMetric {
        self.points
            .push((now_secs().div_euclid(86_400) * 86_400, value));
        self
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One GetMetricData query as the stub saw it: id, namespace, metric, dimensions, stat, period.
pub type SeenQuery = (String, String, String, Vec<(String, String)>, String, i64);

/// One call the stub answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    /// GetMetricData: the queries' (id, namespace, metric, dimensions, stat, period).
    pub queries: Vec<SeenQuery>,
    pub smithy_protocol: Option<String>,
}

#[derive(Default)]
struct State {
    metrics: Vec<StubMetric>,
    calls: Vec<Call>,
}

pub struct CborStub {
    endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CborStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl CborStub {
    /// Listens on 127.0.0.1:0 on the current tokio runtime.
    pub async fn start() -> CborStub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        CborStub {
            endpoint,
            state,
            task,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn add(&self, metric: StubMetric) {
        lock(&self.state).metrics.push(metric);
    }

    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state).calls.clone()
    }
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0usize;
        let mut protocol = None;
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("smithy-protocol") {
                    protocol = Some(v.trim().to_string());
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await?;
        let (status, reply) = handle(&state, &path, protocol, &body);
        let bytes = encode(&reply);
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\nx-amzn-requestid: stub\r\ncontent-length: {}\r\n\r\n",
            bytes.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(&bytes).await?;
        write.flush().await?;
    }
}

fn error(status: &'static str, code: &str, message: &str) -> (&'static str, Cbor) {
    (
        status,
        map(vec![
            (
                "__type",
                Cbor::Text(format!("com.amazonaws.cloudwatch#{code}")),
            ),
            ("message", Cbor::Text(message.into())),
        ]),
    )
}

fn id_ok(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn handle(
    state: &Mutex<State>,
    path: &str,
    protocol: Option<String>,
    body: &[u8],
) -> (&'static str, Cbor) {
    let Some(operation) = path.strip_prefix(PREFIX) else {
        return error("404 Not Found", "UnknownOperationException", path);
    };
    if protocol.as_deref() != Some("rpc-v2-cbor") {
        return error(
            "404 Not Found",
            "UnknownOperationException",
            "missing smithy-protocol: rpc-v2-cbor",
        );
    }
    let request = if body.is_empty() {
        Cbor::Map(vec![])
    } else {
        match decode(body) {
            Ok(v) => v,
            Err(e) => return error("400 Bad Request", "SerializationException", &e),
        }
    };
    let mut st = lock(state);
    let mut call = Call {
        operation: operation.to_string(),
        queries: Vec::new(),
        smithy_protocol: protocol,
    };
    let reply = match operation {
        "GetMetricData" => {
            let queries = request
                .get("MetricDataQueries")
                .map(|q| q.items().to_vec())
                .unwrap_or_default();
            if queries.is_empty() || queries.len() > 500 {
                st.calls.push(call);
                return error(
                    "400 Bad Request",
                    "InvalidParameterValue",
                    "between 1 and 500 MetricDataQueries are allowed",
                );
            }
            let start = request
                .get("StartTime")
                .and_then(Cbor::seconds)
                .unwrap_or(0.0) as i64;
            let end = request
                .get("EndTime")
                .and_then(Cbor::seconds)
                .unwrap_or(0.0) as i64;
            let mut results = Vec::new();
            for q in &queries {
                let id = q
                    .get("Id")
                    .and_then(Cbor::text)
                    .unwrap_or_default()
                    .to_string();
                if !id_ok(&id) {
                    st.calls.push(call);
                    return error(
                        "400 Bad Request",
                        "InvalidParameterValue",
                        &format!("Id {id:?} must match ^[a-z][a-zA-Z0-9_]*$"),
                    );
                }
                let stat = q.get("MetricStat");
                let metric = stat.and_then(|s| s.get("Metric"));
                let namespace = metric
                    .and_then(|m| m.get("Namespace"))
                    .and_then(Cbor::text)
                    .unwrap_or_default()
                    .to_string();
                let name = metric
                    .and_then(|m| m.get("MetricName"))
                    .and_then(Cbor::text)
                    .unwrap_or_default()
                    .to_string();
                let dims: Vec<(String, String)> = metric
                    .and_then(|m| m.get("Dimensions"))
                    .map(|d| {
                        d.items()
                            .iter()
                            .map(|x| {
                                (
                                    x.get("Name")
                                        .and_then(Cbor::text)
                                        .unwrap_or_default()
                                        .into(),
                                    x.get("Value")
                                        .and_then(Cbor::text)
                                        .unwrap_or_default()
                                        .into(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let stat_name = stat
                    .and_then(|s| s.get("Stat"))
                    .and_then(Cbor::text)
                    .unwrap_or_default()
                    .to_string();
                let period = match stat.and_then(|s| s.get("Period")) {
                    Some(Cbor::Int(p)) => *p,
                    _ => 0,
                };
                let mut points: Vec<(i64, f64)> = st
                    .metrics
                    .iter()
                    .filter(|m| {
                        m.namespace == namespace && m.name == name && {
                            let mut a = m.dimensions.clone();
                            let mut b = dims.clone();
                            a.sort();
                            b.sort();
                            a == b
                        }
                    })
                    .flat_map(|m| m.points.iter().copied())
                    .filter(|(t, _)| *t >= start && *t < end)
                    .collect();
                points.sort_by_key(|p| std::cmp::Reverse(p.0));
                call.queries
                    .push((id.clone(), namespace, name.clone(), dims, stat_name, period));
                results.push(map(vec![
                    ("Id", Cbor::Text(id)),
                    ("Label", Cbor::Text(name)),
                    ("StatusCode", Cbor::Text("Complete".into())),
                    (
                        "Timestamps",
                        Cbor::Array(
                            points
                                .iter()
                                .map(|(t, _)| Cbor::Tag(1, Box::new(Cbor::Float(*t as f64))))
                                .collect(),
                        ),
                    ),
                    (
                        "Values",
                        Cbor::Array(points.iter().map(|(_, v)| Cbor::Float(*v)).collect()),
                    ),
                ]));
            }
            (
                "200 OK",
                map(vec![
                    ("MetricDataResults", Cbor::Array(results)),
                    ("Messages", Cbor::Array(vec![])),
                ]),
            )
        }
        "ListMetrics" => {
            let namespace = request.get("Namespace").and_then(Cbor::text);
            let name = request.get("MetricName").and_then(Cbor::text);
            let metrics: Vec<Cbor> = st
                .metrics
                .iter()
                .filter(|m| namespace.is_none_or(|n| n == m.namespace))
                .filter(|m| name.is_none_or(|n| n == m.name))
                .map(|m| {
                    map(vec![
                        ("Namespace", Cbor::Text(m.namespace.clone())),
                        ("MetricName", Cbor::Text(m.name.clone())),
                        (
                            "Dimensions",
                            Cbor::Array(
                                m.dimensions
                                    .iter()
                                    .map(|(k, v)| {
                                        map(vec![
                                            ("Name", Cbor::Text(k.clone())),
                                            ("Value", Cbor::Text(v.clone())),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            ("200 OK", map(vec![("Metrics", Cbor::Array(metrics))]))
        }
        other => {
            st.calls.push(call);
            return error(
                "400 Bad Request",
                "UnknownOperationException",
                &format!("the stub does not implement {other}"),
            );
        }
    };
    st.calls.push(call);
    reply
}
