//! A loopback fake Kubernetes API server (127.0.0.1 only, plain HTTP/1.1), started and
//! stopped by the test that uses it. It speaks the real protocol for what opsdeck uses:
//!
//! * `GET /version`;
//! * lists of namespaces, nodes, pods, events, deployments, statefulsets, daemonsets, jobs and
//!   cronjobs (cluster-wide and per namespace) with `resourceVersion`, `limit`/`continue` and
//!   `fieldSelector` on `metadata.name` / `metadata.namespace`;
//! * watches (`watch=true`): chunked JSON lines ADDED / MODIFIED / DELETED, a BOOKMARK after
//!   the replay, `timeoutSeconds` honoured, and `{"type":"ERROR", … "code":410}` for a
//!   resourceVersion older than the history it keeps ([`FakeApi::expire_watches`]);
//! * `GET …/pods/NAME/log` (`container`, `follow`, `previous`, `timestamps`, `tailLines`),
//!   streamed as the client reads it (so TCP backpressure holds), from lines a test appends
//!   or generates;
//! * `GET|PUT|PATCH …/{deployments,statefulsets}/NAME/scale`, merge and strategic merge PATCH
//!   of objects (maps only: RFC 7386), `DELETE` with `preconditions`;
//! * `Status` errors: 401 (wrong bearer token), 403 (a kind made forbidden), 404, 409 (uid or
//!   resourceVersion preconditions), and 500 while [`FakeApi::set_down`] holds.
//!
//! A scaled deployment's pods are made and removed as its controller would, so a console
//! watching it sees the scale happen. Every request is recorded for assertions.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, mpsc};

type Body = BoxBody<Bytes, Infallible>;

/// The kinds the fake serves: (plural, kind, apiVersion, API prefix, namespaced).
const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("namespaces", "Namespace", "v1", "/api/v1", false),
    ("nodes", "Node", "v1", "/api/v1", false),
    ("pods", "Pod", "v1", "/api/v1", true),
    ("events", "Event", "v1", "/api/v1", true),
    (
        "deployments",
        "Deployment",
        "apps/v1",
        "/apis/apps/v1",
        true,
    ),
    (
        "statefulsets",
        "StatefulSet",
        "apps/v1",
        "/apis/apps/v1",
        true,
    ),
    ("daemonsets", "DaemonSet", "apps/v1", "/apis/apps/v1", true),
    (
        "replicasets",
        "ReplicaSet",
        "apps/v1",
        "/apis/apps/v1",
        true,
    ),
    ("jobs", "Job", "batch/v1", "/apis/batch/v1", true),
    ("cronjobs", "CronJob", "batch/v1", "/apis/batch/v1", true),
];

fn kind_of(
    plural: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, &'static str, bool)> {
    KINDS.iter().find(|k| k.0 == plural)
}

/// How many changes a watch can be behind before it is told 410 Gone.
const HISTORY: usize = 200_000;

/// One request, as recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Clone)]
struct Change {
    rv: u64,
    plural: &'static str,
    namespace: Option<String>,
    kind: &'static str,
    object: Value,
}

/// A pod container's log.
#[derive(Default)]
struct LogSource {
    lines: Vec<String>,
    /// The container ended: a follow stops after the last line.
    ended: bool,
    /// Generated lines: (count, bytes of text per line), produced as the client reads.
    generated: Option<(u64, usize)>,
    /// Generated at this many lines per second (else as fast as the client reads).
    rate: Option<u64>,
    previous: Vec<String>,
    grew: Arc<Notify>,
}

#[derive(Default)]
struct World {
    rv: u64,
    /// plural → (namespace or "", name) → object
    objects: HashMap<&'static str, BTreeMap<(String, String), Value>>,
    history: VecDeque<Change>,
    /// Watches resuming from below this get 410 Gone.
    floor: u64,
    logs: HashMap<(String, String, String), LogSource>,
    requests: Vec<Recorded>,
    bearer: Option<String>,
    forbidden: Vec<String>,
    down: bool,
    next_uid: u64,
    /// Watches are ended (so the client reconnects) each time this moves.
    generation: u64,
}

/// A handle the tests hold; dropping it stops the server.
pub struct FakeApi {
    port: u16,
    world: Arc<Mutex<World>>,
    changes: broadcast::Sender<Change>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    end_watches: Arc<tokio::sync::watch::Sender<u64>>,
}

fn lock(world: &Mutex<World>) -> std::sync::MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeApi {
    /// Listen on 127.0.0.1 (a free port), on a thread of its own with its own runtime.
    pub fn start() -> FakeApi {
        let world = Arc::new(Mutex::new(World::default()));
        let (changes, _) = broadcast::channel(HISTORY);
        let (end_watches, _) = tokio::sync::watch::channel(0u64);
        let end_watches = Arc::new(end_watches);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = Server {
            world: world.clone(),
            changes: changes.clone(),
            end_watches: end_watches.clone(),
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            let server = server.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| {
                                    let server = server.clone();
                                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                                });
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
            // Dropping the runtime ends every connection and stream.
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        FakeApi {
            port,
            world,
            changes,
            shutdown: Some(stop_tx),
            thread: Some(thread),
            end_watches,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A kubeconfig pointing at this server with one context (`namespace` its scope).
    pub fn kubeconfig(&self, context: &str, namespace: Option<&str>, token: &str) -> String {
        let ns = namespace
            .map(|n| format!("\n    namespace: {n}"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: tester{ns}\nusers:\n- name: tester\n  user:\n    token: {token}\ncurrent-context: {context}\n",
            self.url()
        )
    }

    /// Answer 401 unless requests carry `Bearer token`.
    pub fn require_bearer(&self, token: &str) {
        lock(&self.world).bearer = Some(format!("Bearer {token}"));
    }

    /// Answer 403 to any request for this kind (plural).
    pub fn forbid(&self, plural: &str) {
        lock(&self.world).forbidden.push(plural.to_string());
    }

    /// While down, every request gets 500 and open watches end: a lost cluster.
    pub fn set_down(&self, down: bool) {
        let generation = {
            let mut w = lock(&self.world);
            w.down = down;
            w.generation += 1;
            w.generation
        };
        self.end_watches.send_replace(generation);
    }

    /// Forget the history (so resuming watches get 410 Gone) and end open watches.
    pub fn expire_watches(&self) {
        let generation = {
            let mut w = lock(&self.world);
            w.floor = w.rv + 1;
            w.history.clear();
            w.generation += 1;
            w.generation
        };
        self.end_watches.send_replace(generation);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.world).requests.clone()
    }

    /// Requests whose method and path match.
    pub fn requests_to(&self, method: &str, path_end: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(path_end))
            .collect()
    }

    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let w = lock(&self.world);
        let key: &'static str = kind_of(plural)?.0;
        w.objects
            .get(key)
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
    }

    pub fn count(&self, plural: &str) -> usize {
        let w = lock(&self.world);
        kind_of(plural)
            .and_then(|k| w.objects.get(k.0))
            .map_or(0, BTreeMap::len)
    }

    /// Create or replace an object (JSON of the kind, `metadata.name` set; uid and
    /// resourceVersion are filled in). Returns its uid.
    pub fn put(&self, plural: &str, object: Value) -> String {
        let server = Server {
            world: self.world.clone(),
            changes: self.changes.clone(),
            end_watches: self.end_watches.clone(),
        };
        server.upsert(plural, object)
    }

    pub fn remove(&self, plural: &str, namespace: &str, name: &str) {
        let server = Server {
            world: self.world.clone(),
            changes: self.changes.clone(),
            end_watches: self.end_watches.clone(),
        };
        server.delete_object(plural, namespace, name);
    }

    pub fn namespace(&self, name: &str) -> String {
        self.put(
            "namespaces",
            json!({"metadata": {"name": name}, "status": {"phase": "Active"}}),
        )
    }

    pub fn node(&self, name: &str) -> String {
        self.put(
            "nodes",
            json!({
                "metadata": {"name": name, "labels": {"node-role.kubernetes.io/worker": ""}},
                "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True"}],
                           "nodeInfo": node_info()}
            }),
        )
    }

    /// A deployment and its `replicas` running pods (through a ReplicaSet, as the controller
    /// makes them). Returns the deployment's uid.
    pub fn deployment(
        &self,
        namespace: &str,
        name: &str,
        replicas: i64,
        containers: &[&str],
    ) -> String {
        let uid = self.put(
            "deployments",
            json!({
                "metadata": {"name": name, "namespace": namespace, "generation": 1},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": containers.iter().map(|c| json!({"name": c, "image": format!("registry.example/{c}:1.0")})).collect::<Vec<_>>()}
                    }
                }
            }),
        );
        self.put(
            "replicasets",
            json!({
                "metadata": {"name": format!("{name}-5d4f8"), "namespace": namespace,
                             "labels": {"app": name},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": true}]},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}}
            }),
        );
        let server = Server {
            world: self.world.clone(),
            changes: self.changes.clone(),
            end_watches: self.end_watches.clone(),
        };
        server.reconcile(namespace, name);
        uid
    }

    /// A pod on its own (no controller).
    pub fn bare_pod(&self, namespace: &str, name: &str) -> String {
        self.put("pods", pod_json(namespace, name, None, &["app"]))
    }

    /// Lines for a container's log (a follow sees them as they come).
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, lines: &[&str]) {
        let notify = {
            let mut w = lock(&self.world);
            let source = w
                .logs
                .entry((namespace.into(), pod.into(), container.into()))
                .or_default();
            source.lines.extend(lines.iter().map(|l| l.to_string()));
            source.grew.clone()
        };
        notify.notify_waiters();
    }

    /// The previous instance's log (`p`).
    pub fn previous_log(&self, namespace: &str, pod: &str, container: &str, lines: &[&str]) {
        let mut w = lock(&self.world);
        let source = w
            .logs
            .entry((namespace.into(), pod.into(), container.into()))
            .or_default();
        source.previous = lines.iter().map(|l| l.to_string()).collect();
    }

    /// `count` generated lines of about `width` bytes, at `rate` lines a second (else as fast
    /// as the client reads); the container then ends.
    pub fn generated_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        count: u64,
        width: usize,
        rate: Option<u64>,
    ) {
        let mut w = lock(&self.world);
        let source = w
            .logs
            .entry((namespace.into(), pod.into(), container.into()))
            .or_default();
        source.generated = Some((count, width));
        source.rate = rate;
        source.ended = true;
    }

    /// The container ended: follows stop after the last line.
    pub fn end_log(&self, namespace: &str, pod: &str, container: &str) {
        let notify = {
            let mut w = lock(&self.world);
            let source = w
                .logs
                .entry((namespace.into(), pod.into(), container.into()))
                .or_default();
            source.ended = true;
            source.grew.clone()
        };
        notify.notify_waiters();
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        self.end_watches.send_replace(u64::MAX);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn node_info() -> Value {
    json!({"kubeletVersion": "v1.33.1", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://1.7", "kernelVersion": "6.1", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux", "osImage": "Amazon Linux 2023", "systemUUID": ""})
}

/// A running pod's JSON.
pub fn pod_json(
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str, &str, &str)>,
    containers: &[&str],
) -> Value {
    let mut meta = json!({"name": name, "namespace": namespace, "labels": {}});
    if let Some((kind, owner_name, uid, app)) = owner {
        meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner_name, "uid": uid, "controller": true}]);
        meta["labels"] = json!({"app": app});
    }
    json!({
        "metadata": meta,
        "spec": {"nodeName": "node-1", "containers": containers.iter().map(|c| json!({"name": c, "image": format!("registry.example/{c}:1.0")})).collect::<Vec<_>>()},
        "status": {"phase": "Running", "containerStatuses": containers.iter().map(|c| json!({
            "name": c, "ready": true, "restartCount": 0, "image": format!("registry.example/{c}:1.0"), "imageID": "",
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
        })).collect::<Vec<_>>()}
    })
}

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code});
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

fn respond(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("response")
}

fn error(code: u16, reason: &str, message: &str) -> Response<Body> {
    respond(code, &status(code, reason, message, None))
}

fn streaming(content_type: &str, rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut rx = rx;
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok::<_, Infallible>(Frame::data(b))))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("response")
}

/// RFC 7386: `null` removes, objects merge, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn query_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone)]
struct Server {
    world: Arc<Mutex<World>>,
    changes: broadcast::Sender<Change>,
    end_watches: Arc<tokio::sync::watch::Sender<u64>>,
}

/// What a path names.
struct Target {
    plural: &'static str,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match parts.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _, "v1", rest @ ..] => rest,
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let plural = kind_of(rest.first()?)?.0;
    Some(Target {
        plural,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

impl Server {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match req.into_body().collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            Err(_) => String::new(),
        };
        let (bearer, down, forbidden, generation) = {
            let mut w = lock(&self.world);
            w.requests.push(Recorded {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                content_type: content_type.clone(),
                authorization: authorization.clone(),
                body: body.clone(),
            });
            (w.bearer.clone(), w.down, w.forbidden.clone(), w.generation)
        };
        if bearer.is_some() && authorization != bearer {
            return error(401, "Unauthorized", "Unauthorized");
        }
        if down {
            return error(500, "InternalError", "etcdserver: request timed out");
        }
        if path == "/version" {
            return respond(
                200,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "platform": "linux/amd64"}),
            );
        }
        let Some(target) = parse_path(&path) else {
            return error(
                404,
                "NotFound",
                &format!("the server could not find the requested resource ({path})"),
            );
        };
        if forbidden.iter().any(|f| f == target.plural) {
            let ns = target.namespace.clone().unwrap_or_default();
            return respond(
                403,
                &status(
                    403,
                    "Forbidden",
                    &format!(
                        "{} is forbidden: User \"tester\" cannot list resource \"{}\" in API group \"\" in the namespace \"{ns}\"",
                        target.plural, target.plural
                    ),
                    Some(json!({"kind": target.plural})),
                ),
            );
        }
        let q = query_pairs(&query);
        match (method.as_str(), &target.name, target.sub.as_deref()) {
            ("GET", None, _) if q.get("watch").map(String::as_str) == Some("true") => {
                self.watch(&target, &q, generation)
            }
            ("GET", None, _) => self.list(&target, &q),
            ("GET", Some(name), None) => self.get(&target, name),
            ("GET", Some(name), Some("log")) => self.log(&target, name, &q),
            ("GET", Some(name), Some("scale")) => self.get_scale(&target, name),
            ("PUT", Some(name), Some("scale")) => self.put_scale(&target, name, &body),
            ("PATCH", Some(name), Some("scale")) => self.patch_scale(&target, name, &body),
            ("PATCH", Some(name), None) => self.patch(&target, name, &body),
            ("DELETE", Some(name), None) => self.delete(&target, name, &body),
            _ => error(
                405,
                "MethodNotAllowed",
                &format!("{method} {path} is not supported here"),
            ),
        }
    }

    fn objects_of<'w>(w: &'w World, target: &Target) -> Vec<&'w Value> {
        w.objects
            .get(target.plural)
            .map(|m| {
                m.iter()
                    .filter(|((ns, _), _)| target.namespace.as_ref().is_none_or(|want| want == ns))
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn list(&self, target: &Target, q: &HashMap<String, String>) -> Response<Body> {
        let (kind, api) = kind_of(target.plural)
            .map(|k| (k.1, k.2))
            .unwrap_or(("", "v1"));
        let w = lock(&self.world);
        let mut all = Self::objects_of(&w, target);
        // `fieldSelector=metadata.name=X,metadata.namespace=Y`: the two fields every kind
        // supports.
        if let Some(selector) = q.get("fieldSelector") {
            for term in selector.split(',').filter(|t| !t.is_empty()) {
                let Some((field, want)) = term.split_once('=') else {
                    return error(400, "BadRequest", &format!("invalid field selector {term}"));
                };
                let path = match field {
                    "metadata.name" => "name",
                    "metadata.namespace" => "namespace",
                    other => {
                        return error(
                            400,
                            "BadRequest",
                            &format!("field label not supported: {other}"),
                        );
                    }
                };
                all.retain(|o| o["metadata"][path].as_str().unwrap_or_default() == want);
            }
        }
        let start: usize = q
            .get("continue")
            .and_then(|c| c.strip_prefix("offset-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let limit: usize = q
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|&l| l > 0)
            .unwrap_or(usize::MAX);
        let items: Vec<&Value> = all.iter().skip(start).take(limit).copied().collect();
        let mut meta = json!({"resourceVersion": w.rv.to_string()});
        if start + items.len() < all.len() {
            meta["continue"] = json!(format!("offset-{}", start + items.len()));
        }
        respond(
            200,
            &json!({"kind": format!("{kind}List"), "apiVersion": api, "metadata": meta, "items": items}),
        )
    }

    fn get(&self, target: &Target, name: &str) -> Response<Body> {
        let w = lock(&self.world);
        let ns = target.namespace.clone().unwrap_or_default();
        match w
            .objects
            .get(target.plural)
            .and_then(|m| m.get(&(ns, name.to_string())))
        {
            Some(o) => respond(200, o),
            None => respond(
                404,
                &status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", target.plural),
                    Some(json!({"name": name, "kind": target.plural})),
                ),
            ),
        }
    }

    /// `generation`: when the request was let in; a watch ended (or the server taken down)
    /// since then ends this one too, even if it subscribes after the signal was sent.
    fn watch(
        &self,
        target: &Target,
        q: &HashMap<String, String>,
        generation: u64,
    ) -> Response<Body> {
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let from: u64 = q
            .get("resourceVersion")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(300u64)
            .min(600);
        let bookmarks = q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
        let plural = target.plural;
        let namespace = target.namespace.clone();
        let kind = kind_of(plural).map(|k| (k.1, k.2)).unwrap_or(("", "v1"));
        // Subscribe before reading the history, so nothing falls between the two.
        let mut live = self.changes.subscribe();
        let mut ended = self.end_watches.subscribe();
        let start_generation = generation;
        let (replay, gone, rv) = {
            let w = lock(&self.world);
            let gone = from != 0 && from < w.floor;
            let replay: Vec<Change> = w
                .history
                .iter()
                .filter(|c| {
                    c.rv > from
                        && c.plural == plural
                        && namespace
                            .as_ref()
                            .is_none_or(|ns| c.namespace.as_ref() == Some(ns))
                })
                .cloned()
                .collect();
            (replay, gone, w.rv)
        };
        tokio::spawn(async move {
            let line = |t: &str, object: &Value| {
                Bytes::from(format!("{}\n", json!({"type": t, "object": object})))
            };
            if gone {
                let status = status(
                    410,
                    "Expired",
                    &format!("too old resource version: {from} ({rv})"),
                    None,
                );
                let _ = tx.send(line("ERROR", &status)).await;
                return;
            }
            if *ended.borrow() != start_generation {
                return;
            }
            let mut last = from;
            for c in replay {
                last = c.rv;
                if tx.send(line(c.kind, &c.object)).await.is_err() {
                    return;
                }
            }
            if bookmarks {
                let mark = json!({"kind": kind.0, "apiVersion": kind.1, "metadata": {"resourceVersion": rv.max(last).to_string()}});
                if tx.send(line("BOOKMARK", &mark)).await.is_err() {
                    return;
                }
            }
            let deadline = tokio::time::sleep(Duration::from_secs(timeout));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    // An ended watch sends nothing more, whatever is waiting.
                    biased;
                    _ = &mut deadline => return,
                    changed = ended.changed() => {
                        if changed.is_err() || *ended.borrow() != start_generation {
                            return;
                        }
                    }
                    change = live.recv() => match change {
                        Ok(c) => {
                            if c.rv <= last || c.plural != plural || namespace.as_ref().is_some_and(|ns| c.namespace.as_ref() != Some(ns)) {
                                continue;
                            }
                            last = c.rv;
                            if tx.send(line(c.kind, &c.object)).await.is_err() {
                                return;
                            }
                        }
                        // Too far behind: the server has forgotten what it would send.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let status = status(410, "Expired", "too old resource version", None);
                            let _ = tx.send(line("ERROR", &status)).await;
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        streaming("application/json", rx)
    }

    fn log(&self, target: &Target, pod: &str, q: &HashMap<String, String>) -> Response<Body> {
        let ns = target.namespace.clone().unwrap_or_default();
        let container = {
            let w = lock(&self.world);
            let Some(object) = w
                .objects
                .get("pods")
                .and_then(|m| m.get(&(ns.clone(), pod.to_string())))
            else {
                return respond(
                    404,
                    &status(404, "NotFound", &format!("pods \"{pod}\" not found"), None),
                );
            };
            let containers: Vec<String> = object["spec"]["containers"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match q.get("container") {
                Some(c) if containers.contains(c) => c.clone(),
                Some(c) => {
                    return error(
                        400,
                        "BadRequest",
                        &format!("container {c} is not valid for pod {pod}"),
                    );
                }
                None if containers.len() == 1 => containers[0].clone(),
                None => {
                    return error(
                        400,
                        "BadRequest",
                        &format!(
                            "a container name must be specified for pod {pod}, choose one of: [{}]",
                            containers.join(" ")
                        ),
                    );
                }
            }
        };
        let follow = q.get("follow").map(String::as_str) == Some("true");
        // `tailLines=N`: start N lines before the end (then follow, if asked).
        let tail: Option<usize> = q.get("tailLines").and_then(|n| n.parse().ok());
        let previous = q.get("previous").map(String::as_str) == Some("true");
        let timestamps = q.get("timestamps").map(String::as_str) == Some("true");
        let key = (ns, pod.to_string(), container);
        let world = self.world.clone();
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        tokio::spawn(async move {
            let stamp = |i: u64| {
                format!(
                    "2026-01-02T03:{:02}:{:02}.{:09}Z ",
                    (i / 60) % 60,
                    i % 60,
                    i % 1_000_000_000
                )
            };
            let with_stamp = |i: u64, text: &str| {
                if timestamps {
                    format!("{}{text}\n", stamp(i))
                } else {
                    format!("{text}\n")
                }
            };
            if previous {
                let lines = lock(&world)
                    .logs
                    .get(&key)
                    .map(|s| s.previous.clone())
                    .unwrap_or_default();
                let skip = tail.map_or(0, |n| lines.len().saturating_sub(n));
                let text: String = lines
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .map(|(i, l)| with_stamp(i as u64, l))
                    .collect();
                let _ = tx.send(Bytes::from(text)).await;
                return;
            }
            let generated = lock(&world)
                .logs
                .get(&key)
                .and_then(|s| s.generated.map(|g| (g, s.rate)));
            if let Some(((count, width), rate)) = generated {
                // Produced as the client reads: each chunk waits for room in the channel.
                let filler = "x".repeat(width.saturating_sub(12));
                let mut i = tail.map_or(0, |n| count.saturating_sub(n as u64));
                let per_tick = rate.map(|r| (r / 100).max(1));
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                while i < count {
                    let batch = per_tick.unwrap_or(512).min(count - i);
                    if per_tick.is_some() {
                        tick.tick().await;
                    }
                    let mut chunk = String::with_capacity((batch as usize) * (width + 32));
                    for _ in 0..batch {
                        chunk.push_str(&with_stamp(i, &format!("line {i} {filler}")));
                        i += 1;
                    }
                    if tx.send(Bytes::from(chunk)).await.is_err() {
                        return;
                    }
                }
                return;
            }
            let mut sent = tail.map_or(0, |n| {
                lock(&world)
                    .logs
                    .get(&key)
                    .map_or(0, |s| s.lines.len().saturating_sub(n))
            });
            loop {
                let (lines, ended, grew) = {
                    let w = lock(&world);
                    match w.logs.get(&key) {
                        Some(s) => (
                            s.lines[sent.min(s.lines.len())..].to_vec(),
                            s.ended,
                            s.grew.clone(),
                        ),
                        None => (Vec::new(), false, Arc::new(Notify::new())),
                    }
                };
                let wait = grew.notified();
                tokio::pin!(wait);
                wait.as_mut().enable();
                if !lines.is_empty() {
                    let text: String = lines
                        .iter()
                        .enumerate()
                        .map(|(j, l)| with_stamp((sent + j) as u64, l))
                        .collect();
                    sent += lines.len();
                    if tx.send(Bytes::from(text)).await.is_err() {
                        return;
                    }
                    continue;
                }
                if ended || !follow {
                    return;
                }
                tokio::select! {
                    _ = &mut wait => {}
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        streaming("text/plain", rx)
    }

    fn scale_json(object: &Value) -> Value {
        let meta = &object["metadata"];
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
            "spec": {"replicas": object["spec"]["replicas"]},
            "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": format!("app={}", object["metadata"]["name"].as_str().unwrap_or_default())},
        })
    }

    fn find(&self, target: &Target, name: &str) -> Option<Value> {
        let w = lock(&self.world);
        let ns = target.namespace.clone().unwrap_or_default();
        w.objects
            .get(target.plural)
            .and_then(|m| m.get(&(ns, name.to_string())))
            .cloned()
    }

    fn not_found(target: &Target, name: &str) -> Response<Body> {
        respond(
            404,
            &status(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", target.plural),
                Some(json!({"name": name, "kind": target.plural})),
            ),
        )
    }

    fn conflict(target: &Target, name: &str, message: String) -> Response<Body> {
        respond(
            409,
            &status(
                409,
                "Conflict",
                &message,
                Some(json!({"name": name, "kind": target.plural})),
            ),
        )
    }

    fn get_scale(&self, target: &Target, name: &str) -> Response<Body> {
        match self.find(target, name) {
            Some(o) => respond(200, &Self::scale_json(&o)),
            None => Self::not_found(target, name),
        }
    }

    fn set_replicas(&self, target: &Target, name: &str, replicas: i64) -> Response<Body> {
        let Some(mut object) = self.find(target, name) else {
            return Self::not_found(target, name);
        };
        object["spec"]["replicas"] = json!(replicas);
        self.upsert(target.plural, object);
        let ns = target.namespace.clone().unwrap_or_default();
        if target.plural == "deployments" {
            self.reconcile(&ns, name);
        }
        let object = self.find(target, name).unwrap_or(Value::Null);
        respond(200, &Self::scale_json(&object))
    }

    fn put_scale(&self, target: &Target, name: &str, body: &str) -> Response<Body> {
        let Ok(scale) = serde_json::from_str::<Value>(body) else {
            return error(400, "BadRequest", "the body is not JSON");
        };
        let Some(object) = self.find(target, name) else {
            return Self::not_found(target, name);
        };
        if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
            && Some(rv) != object["metadata"]["resourceVersion"].as_str()
        {
            return Self::conflict(
                target,
                name,
                format!(
                    "Operation cannot be fulfilled on {}.apps \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    target.plural
                ),
            );
        }
        self.set_replicas(
            target,
            name,
            scale["spec"]["replicas"].as_i64().unwrap_or(0),
        )
    }

    fn patch_scale(&self, target: &Target, name: &str, body: &str) -> Response<Body> {
        let Ok(patch) = serde_json::from_str::<Value>(body) else {
            return error(400, "BadRequest", "the body is not JSON");
        };
        let Some(object) = self.find(target, name) else {
            return Self::not_found(target, name);
        };
        if let Some(uid) = patch["metadata"]["uid"].as_str()
            && Some(uid) != object["metadata"]["uid"].as_str()
        {
            return Self::conflict(
                target,
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            );
        }
        let mut scale = Self::scale_json(&object);
        merge(&mut scale, &patch);
        self.set_replicas(
            target,
            name,
            scale["spec"]["replicas"].as_i64().unwrap_or(0),
        )
    }

    fn patch(&self, target: &Target, name: &str, body: &str) -> Response<Body> {
        let Ok(patch) = serde_json::from_str::<Value>(body) else {
            return error(400, "BadRequest", "the body is not JSON");
        };
        let Some(mut object) = self.find(target, name) else {
            return Self::not_found(target, name);
        };
        if let Some(uid) = patch["metadata"]["uid"].as_str()
            && Some(uid) != object["metadata"]["uid"].as_str()
        {
            return Self::conflict(
                target,
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            );
        }
        merge(&mut object, &patch);
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
        object["metadata"]["generation"] = json!(generation);
        self.upsert(target.plural, object);
        respond(200, &self.find(target, name).unwrap_or(Value::Null))
    }

    fn delete(&self, target: &Target, name: &str, body: &str) -> Response<Body> {
        let Some(object) = self.find(target, name) else {
            return Self::not_found(target, name);
        };
        let options: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if let Some(uid) = options["preconditions"]["uid"].as_str()
            && Some(uid) != object["metadata"]["uid"].as_str()
        {
            return Self::conflict(
                target,
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object["metadata"]["uid"].as_str().unwrap_or_default()
                ),
            );
        }
        let ns = target.namespace.clone().unwrap_or_default();
        self.delete_object(target.plural, &ns, name);
        // A controller makes another pod in its place.
        if target.plural == "pods"
            && let Some(app) = object["metadata"]["labels"]["app"].as_str()
            && object["metadata"]["ownerReferences"].is_array()
        {
            self.reconcile(&ns, app);
        }
        respond(200, &object)
    }

    /// Store an object, filling in uid, resourceVersion and creation time, and tell watches.
    fn upsert(&self, plural: &str, mut object: Value) -> String {
        let Some(&(plural, kind, api, _, namespaced)) = kind_of(plural) else {
            panic!("the fake serves no {plural}");
        };
        let change = {
            let mut w = lock(&self.world);
            w.rv += 1;
            let rv = w.rv;
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let ns = if namespaced {
                object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string()
            } else {
                String::new()
            };
            let key = (ns.clone(), name);
            let existing = w.objects.get(plural).and_then(|m| m.get(&key)).cloned();
            let uid = match &existing {
                Some(e) => e["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                None => {
                    w.next_uid += 1;
                    format!("{:08x}-0000-4000-8000-{:012x}", w.next_uid, w.next_uid)
                }
            };
            object["kind"] = json!(kind);
            object["apiVersion"] = json!(api);
            object["metadata"]["uid"] = json!(uid);
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
            if namespaced {
                object["metadata"]["namespace"] = json!(ns);
            }
            if object["metadata"]["creationTimestamp"].is_null() {
                object["metadata"]["creationTimestamp"] = existing
                    .as_ref()
                    .map(|e| e["metadata"]["creationTimestamp"].clone())
                    .unwrap_or(json!("2026-01-01T00:00:00Z"));
            }
            w.objects
                .entry(plural)
                .or_default()
                .insert(key, object.clone());
            let change = Change {
                rv,
                plural,
                namespace: namespaced.then_some(ns),
                kind: if existing.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                },
                object,
            };
            w.history.push_back(change.clone());
            if w.history.len() > HISTORY
                && let Some(old) = w.history.pop_front()
            {
                w.floor = old.rv + 1;
            }
            change
        };
        let uid = change.object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let _ = self.changes.send(change);
        uid
    }

    fn delete_object(&self, plural: &str, namespace: &str, name: &str) {
        let Some(&(plural, _, _, _, namespaced)) = kind_of(plural) else {
            return;
        };
        let change = {
            let mut w = lock(&self.world);
            let key = (
                if namespaced {
                    namespace.to_string()
                } else {
                    String::new()
                },
                name.to_string(),
            );
            let Some(mut object) = w.objects.get_mut(plural).and_then(|m| m.remove(&key)) else {
                return;
            };
            w.rv += 1;
            object["metadata"]["resourceVersion"] = json!(w.rv.to_string());
            let change = Change {
                rv: w.rv,
                plural,
                namespace: namespaced.then(|| namespace.to_string()),
                kind: "DELETED",
                object,
            };
            w.history.push_back(change.clone());
            change
        };
        let _ = self.changes.send(change);
    }

    /// What a deployment's controller does: as many running pods as it wants, and its status.
    fn reconcile(&self, namespace: &str, name: &str) {
        let Some(deploy) = lock(&self.world)
            .objects
            .get("deployments")
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
        else {
            return;
        };
        let want = deploy["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let rs_name = format!("{name}-5d4f8");
        let rs_uid = lock(&self.world)
            .objects
            .get("replicasets")
            .and_then(|m| m.get(&(namespace.to_string(), rs_name.clone())))
            .and_then(|rs| rs["metadata"]["uid"].as_str().map(str::to_string))
            .unwrap_or_default();
        let containers: Vec<String> = deploy["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut pods: Vec<String> = lock(&self.world)
            .objects
            .get("pods")
            .map(|m| {
                m.iter()
                    .filter(|((ns, _), p)| {
                        ns == namespace && p["metadata"]["labels"]["app"] == name
                    })
                    .map(|((_, n), _)| n.clone())
                    .collect()
            })
            .unwrap_or_default();
        pods.sort();
        while pods.len() > want {
            if let Some(p) = pods.pop() {
                self.delete_object("pods", namespace, &p);
            }
        }
        let mut next = 0;
        while pods.len() < want {
            let candidate = format!("{rs_name}-{next:05}");
            next += 1;
            if pods.contains(&candidate) {
                continue;
            }
            let refs: Vec<&str> = containers.iter().map(String::as_str).collect();
            self.upsert(
                "pods",
                pod_json(
                    namespace,
                    &candidate,
                    Some(("ReplicaSet", &rs_name, &rs_uid, name)),
                    &refs,
                ),
            );
            pods.push(candidate);
        }
        let mut deploy = deploy;
        let n = want as i64;
        deploy["status"] = json!({"replicas": n, "readyReplicas": n, "updatedReplicas": n, "availableReplicas": n, "observedGeneration": deploy["metadata"]["generation"]});
        self.upsert("deployments", deploy);
    }
}
