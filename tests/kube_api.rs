//! opsdeck's Kubernetes provider against the loopback fake API server (`support/kube_api.rs`),
//! through the console's engine and gate: watches (list, watch, resume, 410 relist, a lost
//! cluster), logs (every line, previous, merged with pod prefixes, a 200,000-line log), the
//! changes exactly as kubectl sends them (scale, rollout restart, delete with a uid
//! precondition, cordon/uncordon), and the API server's Status errors as sentences.
//!
//! One more test runs against a real cluster when `OPSDECK_TEST_KUBECONFIG` names a
//! kubeconfig (its current context; reads only).

mod support;

use opsdeck::config::Config;
use opsdeck::engine::ports::ProviderError;
use opsdeck::engine::stream::{StreamItem, StreamUpdates};
use opsdeck::engine::task::JobHandle;
use opsdeck::engine::{Engine, EngineConfig, EngineEvent, MutationOutput, ReadOutput};
use opsdeck::kube::model::{ContextRef, KubeKind, KubeRow, KubeUpdate};
use opsdeck::kube::ops::{KubeRead, LogRequest, WorkloadKind};
use opsdeck::kube::port::KubeOutput;
use opsdeck::kube::{KubeSettings, plan};
use opsdeck::model::{Environment, JobId};
use opsdeck::ops::{Gate, MutatingOp, PlanCtx, ReadOp, RiskTier, SessionFacts};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use support::kube_api::FakeApi;
use support::{TestDirs, hermetic_aws_env};
use tokio::sync::mpsc::UnboundedReceiver;

/// A guard against a hung test only.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
const TOKEN: &str = "test-token-123";

/// The console's engine, gate and audit log over the real providers, the kubeconfig pointing
/// at a fake API server.
struct Harness {
    engine: Engine,
    events: UnboundedReceiver<EngineEvent>,
    gate: Gate,
    streams: HashMap<JobId, StreamUpdates>,
    handles: HashMap<JobId, JobHandle>,
    config: Arc<Config>,
    dirs: TestDirs,
    kubeconfig: PathBuf,
}

/// What the plans may use: engine reads and the config's environments.
struct Ctx {
    engine: Engine,
    config: Arc<Config>,
}

impl SessionFacts for Ctx {
    fn region(&self) -> Option<String> {
        Some(support::REGION.into())
    }
    fn environment_of(&self, _account: &str) -> Environment {
        Environment::Unmapped
    }
    fn kube_environment(&self, context: &str, cluster: &str) -> Environment {
        opsdeck::setup::kube_environment_of(&self.config, context, cluster, None)
    }
    fn kube_context(&self) -> Option<ContextRef> {
        None
    }
}

impl PlanCtx for Ctx {
    fn read(
        &self,
        op: ReadOp,
    ) -> futures::future::BoxFuture<'_, Result<ReadOutput, ProviderError>> {
        Box::pin(self.engine.read(op))
    }
}

impl Harness {
    /// `config` maps environments (TOML).
    fn start(api: &FakeApi, namespace: Option<&str>, config: &str) -> Harness {
        hermetic_aws_env();
        let dirs = TestDirs::new();
        let kubeconfig = dirs.root().join("kubeconfig");
        std::fs::write(&kubeconfig, api.kubeconfig("fake", namespace, TOKEN)).expect("kubeconfig");
        api.require_bearer(TOKEN);
        // The gate, audit log and job store exactly as the console builds them.
        let paths = dirs.paths();
        std::fs::create_dir_all(&paths.config_dir).expect("config dir");
        std::fs::write(&paths.config_file, config).expect("config");
        let guarded = opsdeck::setup::open(&opsdeck::setup::Options::default(), &paths)
            .expect("set up the guarded context");
        let (config, audit, store, gate) =
            (guarded.config, guarded.audit, guarded.store, guarded.gate);
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let settings = opsdeck::aws::AwsSettings {
            region: Some(support::REGION.into()),
            // Nothing here asks AWS anything.
            endpoint_url: Some(format!("http://127.0.0.1:{}", support::free_port())),
            ..Default::default()
        };
        let kube = KubeSettings {
            kubeconfig: Some(kubeconfig.clone()),
            context: None,
        };
        let binding = gate.binding();
        let providers: futures::future::BoxFuture<'static, Arc<opsdeck::engine::ports::Providers>> =
            Box::pin(async move {
                Arc::new(opsdeck::aws::providers_with(&settings, &kube, binding).await)
            });
        let engine = Engine::start(
            providers,
            store,
            audit,
            gate.binding(),
            tx,
            EngineConfig {
                logs_dir: Some(dirs.job_logs_dir()),
                ..EngineConfig::default()
            },
        );
        Harness {
            engine,
            events,
            gate,
            streams: HashMap::new(),
            handles: HashMap::new(),
            config,
            dirs,
            kubeconfig,
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            engine: self.engine.clone(),
            config: self.config.clone(),
        }
    }

    async fn next(&mut self) -> EngineEvent {
        self.next_or_none()
            .await
            .unwrap_or_else(|| panic!("no engine event for {EVENT_TIMEOUT:?}"))
    }

    async fn next_or_none(&mut self) -> Option<EngineEvent> {
        let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .ok()?
            .expect("engine alive");
        match &event {
            EngineEvent::JobCreated { record, handle } => {
                self.handles.insert(record.id, handle.clone());
            }
            EngineEvent::LogGrew(id) => {
                if let Some(h) = self.handles.get(id) {
                    h.notified
                        .store(false, std::sync::atomic::Ordering::Release);
                }
            }
            _ => {}
        }
        Some(event)
    }

    /// Start watching the context; returns the watch's job.
    async fn watch(&mut self, namespace: Option<&str>) -> JobId {
        let op = ReadOp::Kube(KubeRead::Watch {
            context: ContextRef::kubeconfig("fake"),
            namespace: namespace.map(str::to_string),
        });
        let job = self.engine.submit_refresh(op, Some("kube:watch".into()));
        loop {
            if let EngineEvent::StreamOpened(updates) = self.next().await {
                let id = updates.job;
                self.streams.insert(id, updates);
                if id == job {
                    return job;
                }
            }
        }
    }

    /// Watch updates of `job` until one satisfies `done`; every update seen, in order.
    async fn updates_until(
        &mut self,
        job: JobId,
        mut done: impl FnMut(&KubeUpdate) -> bool,
    ) -> Vec<KubeUpdate> {
        let mut seen = Vec::new();
        loop {
            if let Some(updates) = self.streams.get_mut(&job) {
                for item in updates.drain(10_000) {
                    let StreamItem::Kube(update) = item else {
                        continue;
                    };
                    let stop = done(&update);
                    seen.push(*update);
                    if stop {
                        return seen;
                    }
                }
            }
            match self.next_or_none().await {
                Some(EngineEvent::ReadDone { job: j, result, .. }) if j == job => {
                    panic!("the watch ended: {result:?}; seen {seen:?}");
                }
                Some(_) => {}
                None => panic!("no engine event for {EVENT_TIMEOUT:?}; seen {seen:?}"),
            }
        }
    }

    async fn read(&mut self, op: ReadOp) -> (JobId, Result<ReadOutput, ProviderError>) {
        let job = self.engine.submit_read(op, None).expect("job");
        loop {
            if let EngineEvent::ReadDone { job: j, result, .. } = self.next().await
                && j == job
            {
                return (job, result);
            }
        }
    }

    /// Ask the gate, confirm as a person would (typing when asked), run, wait.
    async fn change(&mut self, op: MutatingOp) -> Result<MutationOutput, String> {
        let request = self
            .gate
            .request(op)
            .expect("the gate opens a confirmation");
        let typed = match &request.tier {
            RiskTier::TypeName(name) => name.clone(),
            RiskTier::Simple => String::new(),
        };
        let approved = self.gate.confirm(request.id, &typed).expect("approved");
        let job = self.engine.submit_mutation(approved).expect("started");
        loop {
            if let EngineEvent::MutationDone { job: j, result, .. } = self.next().await
                && j == job
            {
                return result;
            }
        }
    }

    fn log_lines(&self, job: JobId) -> Vec<String> {
        let handle = self.handles.get(&job).expect("job created");
        let mut log = handle.log.lock().unwrap();
        let total = log.total();
        log.range(0, total as usize)
            .expect("log readable")
            .into_iter()
            .map(|l| l.text)
            .collect()
    }
}

fn pods(update: &KubeUpdate) -> Option<Vec<String>> {
    match update {
        KubeUpdate::Listed {
            kind: KubeKind::Pod,
            rows,
        } => {
            let mut names: Vec<String> = rows.iter().map(|r| r.name().to_string()).collect();
            names.sort();
            Some(names)
        }
        _ => None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn a_watch_lists_follows_changes_and_relists_after_410_gone() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.node("node-1");
    api.deployment("shop", "web", 2, &["app"]);
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let job = h.watch(Some("shop")).await;
        let seen = h.updates_until(job, |u| pods(u).is_some()).await;
        assert_eq!(
            seen.iter().find_map(pods).expect("listed"),
            ["web-5d4f8-00000", "web-5d4f8-00001"]
        );
        // An object added and one removed arrive as the watch sees them.
        api.bare_pod("shop", "debug");
        h.updates_until(job, |u| matches!(u, KubeUpdate::Applied(KubeRow::Pod(p)) if p.name == "debug"))
            .await;
        api.remove("pods", "shop", "debug");
        h.updates_until(job, |u| matches!(u, KubeUpdate::Deleted { kind: KubeKind::Pod, .. }))
            .await;
        // The server forgets its history: resuming gets 410 Gone, and the watcher lists again.
        api.expire_watches();
        api.bare_pod("shop", "after-410");
        let seen = h
            .updates_until(job, |u| pods(u).is_some_and(|p| p.contains(&"after-410".to_string())))
            .await;
        assert!(
            seen.iter().any(|u| matches!(u, KubeUpdate::Disconnected { kind: KubeKind::Pod, reason } if reason.contains("410"))),
            "{seen:?}"
        );
    });
    // The protocol as kube sends it: paged lists, then watches from their resourceVersion.
    let lists = api.requests_to("GET", "/api/v1/namespaces/shop/pods");
    assert!(
        lists
            .iter()
            .any(|r| r.query.contains("limit=500") && !r.query.contains("watch")),
        "{lists:?}"
    );
    assert!(
        lists.iter().any(|r| r.query.contains("watch=true")
            && r.query.contains("resourceVersion=")
            && r.query.contains("allowWatchBookmarks=true")),
        "{lists:?}"
    );
    assert!(
        lists
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    // Cluster-scoped kinds are watched cluster-wide whatever the scope.
    assert!(!api.requests_to("GET", "/api/v1/nodes").is_empty());
}

#[test]
fn long_lists_are_read_page_by_page() {
    let api = FakeApi::start();
    api.namespace("bulk");
    for i in 0..1_203 {
        api.put(
            "pods",
            support::kube_api::pod_json("bulk", &format!("p-{i:05}"), None, &["app"]),
        );
    }
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, None, "");
        let job = h.watch(None).await;
        let seen = h.updates_until(job, |u| pods(u).is_some()).await;
        assert_eq!(seen.iter().find_map(pods).expect("listed").len(), 1_203);
    });
    let pages = api
        .requests_to("GET", "/api/v1/pods")
        .into_iter()
        .filter(|r| !r.query.contains("watch"))
        .count();
    assert!(pages >= 3, "1,203 pods in pages of 500: {pages} requests");
}

#[test]
fn a_lost_cluster_is_disconnected_with_the_reason_then_comes_back() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.bare_pod("shop", "solo");
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let job = h.watch(Some("shop")).await;
        h.updates_until(job, |u| pods(u).is_some()).await;
        api.set_down(true);
        let seen = h
            .updates_until(job, |u| {
                matches!(
                    u,
                    KubeUpdate::Disconnected {
                        kind: KubeKind::Pod,
                        ..
                    }
                )
            })
            .await;
        let reason = seen
            .iter()
            .find_map(|u| match u {
                KubeUpdate::Disconnected {
                    kind: KubeKind::Pod,
                    reason,
                } => Some(reason.clone()),
                _ => None,
            })
            .expect("disconnected");
        assert!(
            reason.contains("500") || reason.contains("reach"),
            "{reason}"
        );
        api.set_down(false);
        // Back: said so even when nothing changed meanwhile (the watch resumes silently).
        h.updates_until(job, |u| {
            matches!(
                u,
                KubeUpdate::Connected {
                    kind: KubeKind::Pod
                }
            )
        })
        .await;
        api.bare_pod("shop", "second");
        h.updates_until(
            job,
            |u| matches!(u, KubeUpdate::Applied(KubeRow::Pod(p)) if p.name == "second"),
        )
        .await;
    });
}

#[test]
fn rbac_and_credential_errors_are_sentences() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.forbid("nodes");
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let job = h.watch(Some("shop")).await;
        let seen = h
            .updates_until(job, |u| matches!(u, KubeUpdate::Disconnected { kind: KubeKind::Node, .. }))
            .await;
        assert!(
            seen.iter().any(|u| matches!(u, KubeUpdate::Disconnected { reason, .. } if reason.contains("forbidden by the cluster's RBAC (403)"))),
            "{seen:?}"
        );
        // A missing object: 404, said so.
        let (_, result) = h
            .read(ReadOp::Kube(KubeRead::Describe {
                context: ContextRef::kubeconfig("fake"),
                kind: KubeKind::Pod,
                namespace: Some("shop".into()),
                name: "nope".into(),
            }))
            .await;
        let e = result.expect_err("no such pod");
        assert!(e.to_string().contains("not found (404)"), "{e}");
        // Wrong credentials: 401, with what to do.
        api.require_bearer("another-token");
        let (_, result) = h
            .read(ReadOp::Kube(KubeRead::ListWorkloads {
                context: ContextRef::kubeconfig("fake"),
                namespace: Some("shop".into()),
            }))
            .await;
        let e = result.expect_err("unauthorized");
        assert!(e.to_string().contains("401 Unauthorized"), "{e}");
    });
}

#[test]
fn logs_arrive_whole_follow_end_and_merge_with_pod_prefixes() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.deployment("shop", "web", 2, &["app"]);
    api.append_log("shop", "web-5d4f8-00000", "app", &["one", "two"]);
    api.previous_log(
        "shop",
        "web-5d4f8-00000",
        "app",
        &["crashed: out of memory"],
    );
    api.append_log("shop", "web-5d4f8-00001", "app", &["three"]);
    api.end_log("shop", "web-5d4f8-00001", "app");
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let request = |pods: &[&str], previous: bool, workload: Option<&str>| {
            ReadOp::Kube(KubeRead::Logs(LogRequest {
                context: ContextRef::kubeconfig("fake"),
                namespace: "shop".into(),
                pods: pods.iter().map(|p| p.to_string()).collect(),
                container: None,
                previous,
                workload: workload.map(str::to_string),
            }))
        };
        // A follow: lines as they come; the container ends; the job ends.
        let follow = h
            .engine
            .submit_read(request(&["web-5d4f8-00000"], false, None), None)
            .expect("job");
        loop {
            if let EngineEvent::JobCreated { record, .. } = h.next().await
                && record.id == follow
            {
                break;
            }
        }
        api.append_log("shop", "web-5d4f8-00000", "app", &["three", "four"]);
        api.end_log("shop", "web-5d4f8-00000", "app");
        let result = loop {
            if let EngineEvent::ReadDone { job, result, .. } = h.next().await
                && job == follow
            {
                break result;
            }
        };
        assert!(
            matches!(result, Ok(ReadOutput::Kube(KubeOutput::LogsEnded { .. }))),
            "{result:?}"
        );
        let lines = h.log_lines(follow);
        let texts: Vec<&str> = lines
            .iter()
            .map(|l| &l[opsdeck::engine::joblog::timestamp_prefix(l).expect("stamped")..])
            .collect();
        assert_eq!(texts, ["one", "two", "three", "four"]);
        // The previous container.
        let (job, result) = h.read(request(&["web-5d4f8-00000"], true, None)).await;
        assert!(result.is_ok(), "{result:?}");
        assert!(h.log_lines(job)[0].ends_with("crashed: out of memory"));
        // A workload's pods merged, each line prefixed with its pod after the timestamp.
        let (job, result) = h
            .read(request(
                &["web-5d4f8-00000", "web-5d4f8-00001"],
                false,
                Some("web"),
            ))
            .await;
        assert!(result.is_ok(), "{result:?}");
        let lines = h.log_lines(job);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains(" [web-5d4f8-00001] three")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .filter(|l| l.contains(" [web-5d4f8-00000] "))
                .count()
                == 4,
            "{lines:?}"
        );
    });
    let logs = api.requests_to("GET", "/log");
    assert!(
        logs.iter()
            .any(|r| r.query.contains("follow=true") && r.query.contains("timestamps=true"))
    );
    assert!(logs.iter().any(|r| r.query.contains("previous=true")));
}

#[test]
fn a_200000_line_log_arrives_whole() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.bare_pod("shop", "chatty");
    api.generated_log("shop", "chatty", "app", 200_000, 100, None);
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let (job, result) = h
            .read(ReadOp::Kube(KubeRead::Logs(LogRequest {
                context: ContextRef::kubeconfig("fake"),
                namespace: "shop".into(),
                pods: vec!["chatty".into()],
                container: None,
                previous: false,
                workload: None,
            })))
            .await;
        assert!(result.is_ok(), "{result:?}");
        let handle = h.handles.get(&job).expect("created").clone();
        let mut log = handle.log.lock().unwrap();
        assert_eq!(log.total(), 200_000);
        assert_eq!(log.dropped(), 0);
        // The first and the last line, read back from the spill file and the ring.
        let first = log.range(0, 1).expect("readable");
        assert!(first[0].text.contains("line 0 "), "{:?}", first[0]);
        let last = log.range(199_999, 1).expect("readable");
        assert!(last[0].text.contains("line 199999 "), "{:?}", last[0]);
        assert!(log.ring().len() <= opsdeck::engine::joblog::JobLog::DEFAULT_RING);
    });
}

#[test]
fn scale_restart_delete_and_cordon_are_sent_as_kubectl_sends_them() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.node("node-1");
    let deploy_uid = api.deployment("shop", "web", 2, &["app"]);
    api.bare_pod("shop", "debug");
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"fake\"]\n");
        let ctx = h.ctx();
        let context = ContextRef::kubeconfig("fake");
        // Scale: the current replicas and the uid read when asked; DEV, 2 → 4: `y`.
        let seed = plan::scale(&ctx, &context, WorkloadKind::Deployment, "shop", "web").await.expect("plan");
        assert_eq!(seed.current, 2);
        assert_eq!(seed.target.uid, deploy_uid);
        assert_eq!(seed.target.cluster.environment, Environment::Dev);
        let op = MutatingOp::from(seed.with_replicas(4));
        assert_eq!(op.risk(), RiskTier::Simple);
        let done = h.change(op).await.expect("scaled");
        assert!(done.summary().contains("from 2 to 4"), "{}", done.summary());
        assert_eq!(api.object("deployments", "shop", "web").unwrap()["spec"]["replicas"], 4);
        assert_eq!(api.count("pods"), 5, "the controller made two more pods");
        let patch = api.requests_to("PATCH", "/deployments/web/scale").pop().expect("patched");
        assert_eq!(patch.content_type.as_deref(), Some("application/merge-patch+json"));
        let body: serde_json::Value = serde_json::from_str(&patch.body).unwrap();
        assert_eq!(body, json!({"metadata": {"uid": deploy_uid}, "spec": {"replicas": 4}}));
        // Scaling to 0 takes the typed name even in DEV.
        let seed = plan::scale(&ctx, &context, WorkloadKind::Deployment, "shop", "web").await.expect("plan");
        assert_eq!(MutatingOp::from(seed.with_replicas(0)).risk(), RiskTier::TypeName("web".into()));

        // Rollout restart: strategic merge patch, kubectl's field manager and annotation.
        let op = plan::restart(&ctx, &context, WorkloadKind::Deployment, "shop", "web", std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
            .await
            .expect("plan");
        h.change(MutatingOp::from(op)).await.expect("restarted");
        let patch = api.requests_to("PATCH", "/deployments/web").pop().expect("patched");
        assert_eq!(patch.content_type.as_deref(), Some("application/strategic-merge-patch+json"));
        assert!(patch.query.contains("fieldManager=kubectl-rollout"), "{}", patch.query);
        let object = api.object("deployments", "shop", "web").unwrap();
        assert_eq!(
            object["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "2027-01-15T08:00:00Z"
        );

        // Delete a pod with its uid as the precondition; a controller's pod: `y` in DEV.
        let op = plan::delete_pod(&ctx, &context, "shop", "web-5d4f8-00000").await.expect("plan");
        let pod_uid = op.uid.clone();
        assert!(op.owner.is_some());
        assert_eq!(MutatingOp::from(op.clone()).risk(), RiskTier::Simple);
        h.change(MutatingOp::from(op)).await.expect("deleted");
        let delete = api.requests_to("DELETE", "/pods/web-5d4f8-00000").pop().expect("deleted");
        let body: serde_json::Value = serde_json::from_str(&delete.body).unwrap();
        assert_eq!(body["preconditions"]["uid"], pod_uid);
        // The controller made a new pod of the same name: the confirmed delete must not touch
        // it (409 from the precondition).
        let stale = plan::delete_pod(&ctx, &context, "shop", "web-5d4f8-00001").await.expect("plan");
        api.remove("pods", "shop", "web-5d4f8-00001");
        api.put("pods", support::kube_api::pod_json("shop", "web-5d4f8-00001", None, &["app"]));
        let refused = h.change(MutatingOp::from(stale)).await.expect_err("precondition");
        assert!(refused.contains("changed since it was asked for (409 Conflict)"), "{refused}");
        assert!(api.object("pods", "shop", "web-5d4f8-00001").is_some(), "the newer pod is safe");
        // A pod no controller owns: typed even in DEV.
        let bare = plan::delete_pod(&ctx, &context, "shop", "debug").await.expect("plan");
        assert_eq!(MutatingOp::from(bare).risk(), RiskTier::TypeName("debug".into()));

        // Cordon, then uncordon: spec.unschedulable true, then null.
        let op = plan::cordon(&ctx, &context, "node-1", true).await.expect("plan");
        h.change(MutatingOp::from(op)).await.expect("cordoned");
        assert_eq!(api.object("nodes", "", "node-1").unwrap()["spec"]["unschedulable"], true);
        assert!(plan::cordon(&ctx, &context, "node-1", true).await.is_err(), "already cordoned");
        let op = plan::cordon(&ctx, &context, "node-1", false).await.expect("plan");
        h.change(MutatingOp::from(op)).await.expect("uncordoned");
        assert!(api.object("nodes", "", "node-1").unwrap()["spec"].get("unschedulable").is_none());
        let patches = api.requests_to("PATCH", "/nodes/node-1");
        let bodies: Vec<serde_json::Value> = patches.iter().map(|p| serde_json::from_str(&p.body).unwrap()).collect();
        assert_eq!(bodies[0]["spec"]["unschedulable"], true);
        assert_eq!(bodies[1]["spec"]["unschedulable"], serde_json::Value::Null);

        // Everything requested, confirmed, started and finished is in the audit log.
        let audit = support::read_audit(&h.dirs.audit_log());
        let of = |op: &str| -> Vec<String> {
            audit
                .iter()
                .filter(|e| e["operation"] == op)
                .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(of("scale-workload"), ["requested", "confirmed", "started", "succeeded"]);
        assert_eq!(
            of("delete-pod"),
            ["requested", "confirmed", "started", "succeeded", "requested", "confirmed", "started", "failed"]
        );
        let scale = audit.iter().find(|e| e["operation"] == "scale-workload").unwrap();
        assert_eq!(scale["target"]["uid"], deploy_uid);
        assert_eq!(scale["environment"], "DEV");
        assert!(matches!(opsdeck::audit::verify(&h.dirs.audit_log()), Ok(opsdeck::audit::VerifyReport::Ok { .. })));
    });
}

#[test]
fn a_change_whose_context_now_points_elsewhere_is_refused() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.deployment("shop", "web", 1, &["app"]);
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let ctx = h.ctx();
        let seed = plan::scale(
            &ctx,
            &ContextRef::kubeconfig("fake"),
            WorkloadKind::Deployment,
            "shop",
            "web",
        )
        .await
        .expect("plan");
        // Unmapped counts as PRD: typed.
        assert_eq!(seed.target.cluster.environment, Environment::Unmapped);
        // Meanwhile the context is re-pointed at another cluster entry.
        let text = std::fs::read_to_string(&h.kubeconfig)
            .unwrap()
            .replace("    cluster: fake\n", "    cluster: other\n")
            .replace("- name: fake\n  cluster:", "- name: other\n  cluster:");
        std::fs::write(&h.kubeconfig, text).unwrap();
        let refused = h
            .change(MutatingOp::from(seed.with_replicas(3)))
            .await
            .expect_err("refused");
        assert!(refused.contains("now points at other"), "{refused}");
        assert_eq!(
            api.object("deployments", "shop", "web").unwrap()["spec"]["replicas"],
            1
        );
    });
}

#[test]
fn the_describe_view_drops_managed_fields() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.put(
        "pods",
        json!({"metadata": {"name": "p", "namespace": "shop", "managedFields": [{"manager": "kubectl"}]},
               "spec": {"containers": [{"name": "app"}]}}),
    );
    let rt = runtime();
    rt.block_on(async {
        let mut h = Harness::start(&api, Some("shop"), "");
        let (_, result) = h
            .read(ReadOp::Kube(KubeRead::Describe {
                context: ContextRef::kubeconfig("fake"),
                kind: KubeKind::Pod,
                namespace: Some("shop".into()),
                name: "p".into(),
            }))
            .await;
        let Ok(ReadOutput::Kube(KubeOutput::Described { yaml, .. })) = result else {
            panic!("{result:?}");
        };
        assert!(yaml.contains("name: p"), "{yaml}");
        assert!(!yaml.contains("managedFields"), "{yaml}");
    });
}

/// Against a real cluster, when one is configured: the current context's contexts, a watch
/// that lists pods, and its workloads (reads only).
#[test]
fn against_a_real_cluster_when_configured() {
    let Ok(path) = std::env::var("OPSDECK_TEST_KUBECONFIG") else {
        eprintln!("OPSDECK_TEST_KUBECONFIG is not set: no real cluster to read");
        return;
    };
    hermetic_aws_env();
    let rt = runtime();
    rt.block_on(async {
        let dirs = TestDirs::new();
        let guarded = opsdeck::setup::open(&opsdeck::setup::Options::default(), &dirs.paths())
            .expect("set up the guarded context");
        let (audit, store, gate) = (guarded.audit, guarded.store, guarded.gate);
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let kube = KubeSettings {
            kubeconfig: Some(path.into()),
            context: None,
        };
        let binding = gate.binding();
        let settings = opsdeck::aws::AwsSettings::default();
        let engine = Engine::start(
            Box::pin(async move {
                Arc::new(opsdeck::aws::providers_with(&settings, &kube, binding).await)
            }),
            store,
            audit,
            gate.binding(),
            tx,
            EngineConfig::default(),
        );
        let Ok(ReadOutput::Kube(KubeOutput::Contexts(view))) =
            engine.read(ReadOp::Kube(KubeRead::ListContexts)).await
        else {
            panic!("the kubeconfig could not be read");
        };
        let current = view.current.clone().expect("a current context");
        let context = ContextRef::kubeconfig(current);
        let op = ReadOp::Kube(KubeRead::Watch {
            context: context.clone(),
            namespace: None,
        });
        let job = engine.submit_refresh(op, Some("kube:watch".into()));
        let mut updates = loop {
            match tokio::time::timeout(EVENT_TIMEOUT, events.recv())
                .await
                .expect("event")
                .expect("alive")
            {
                EngineEvent::StreamOpened(u) if u.job == job => break u,
                _ => {}
            }
        };
        let listed = tokio::time::timeout(EVENT_TIMEOUT, async {
            loop {
                for item in updates.drain(10_000) {
                    if let StreamItem::Kube(u) = item
                        && let KubeUpdate::Listed {
                            kind: KubeKind::Pod,
                            rows,
                        } = *u
                    {
                        return rows.len();
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("pods listed");
        eprintln!("real cluster {context}: {listed} pods");
        let workloads = engine
            .read(ReadOp::Kube(KubeRead::ListWorkloads {
                context,
                namespace: None,
            }))
            .await;
        assert!(workloads.is_ok(), "{workloads:?}");
        engine.shutdown();
    });
}

// `opsdeck run` of the real binary: the Kubernetes actions as commands (and so as the
// assistant's tools, which run the same plans): bounded reads that end, and changes resolved
// exactly as the console's keys resolve them, through the same gate.

/// Environments for the tests below: the context `fake` is DEV.
const FAKE_IS_DEV: &str = "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"fake\"]\n";

/// Test directories with `config`, and a kubeconfig whose context `fake` (scoped to
/// `namespace`) points at the fake API server.
fn cli_setup(api: &FakeApi, namespace: Option<&str>, config: &str) -> (TestDirs, PathBuf) {
    let dirs = TestDirs::new();
    let kubeconfig = dirs.root().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig("fake", namespace, TOKEN)).expect("kubeconfig");
    api.require_bearer(TOKEN);
    let config_dir = dirs.config_home().join("opsdeck");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::write(config_dir.join("config.toml"), config).expect("config");
    (dirs, kubeconfig)
}

/// `opsdeck ARGS…` with that kubeconfig. AWS points at a port nothing listens on: a
/// Kubernetes action must not need it.
fn opsdeck_cli(
    dirs: &TestDirs,
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    hermetic_aws_env();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--endpoint-url")
        .arg(format!("http://127.0.0.1:{}", support::free_port()))
        .args(args)
        .env("OPSDECK_LOG", "warn")
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("run opsdeck");
    support::wait_bounded(child, &format!("opsdeck {}", args.join(" ")))
}

fn out_text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// stdout as JSON, after checking the exit code.
fn json_of(out: &std::process::Output, code: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(code), "{}", out_text(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out_text(out)))
}

fn watches(api: &FakeApi) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.query.contains("watch=true"))
        .count()
}

#[test]
fn run_lists_pods_and_nodes_once_and_compactly() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.namespace("other");
    api.node("node-1");
    api.deployment("shop", "web", 2, &["app"]);
    api.deployment("other", "db", 1, &["pg"]);
    let (dirs, kubeconfig) = cli_setup(&api, Some("shop"), FAKE_IS_DEV);

    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &["run", "list-pods", "--arg", "namespace=shop", "--json"],
    );
    let value = json_of(&out, 0);
    assert_eq!(value["action"], "list-pods");
    assert_eq!(value["mutating"], false);
    let listing = &value["output"]["kube"]["pods"];
    let pods = listing["pods"].as_array().expect("pods");
    let names: Vec<&str> = pods.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["web-5d4f8-00000", "web-5d4f8-00001"], "{listing}");
    // The Pods view's columns, compact: NAME READY STATUS RESTARTS AGE NODE.
    let pod = &pods[0];
    assert_eq!(pod["ready"], "1/1");
    assert_eq!(pod["status"], "Running");
    assert_eq!(pod["restarts"], 0);
    assert_eq!(pod["node"], "node-1");
    assert!(pod["age"].is_string(), "{pod}");
    assert!(
        pod.get("labels").is_none() && pod.get("containers").is_none(),
        "compact: {pod}"
    );
    assert_eq!(watches(&api), 0, "a listing, not a watch");

    // No namespace: the context's own (shop), as kubectl; all_namespaces: every one.
    let value = json_of(
        &opsdeck_cli(&dirs, &kubeconfig, &["run", "list-pods", "--json"]),
        0,
    );
    let names: Vec<String> = value["output"]["kube"]["pods"]["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["web-5d4f8-00000", "web-5d4f8-00001"]);
    let value = json_of(
        &opsdeck_cli(
            &dirs,
            &kubeconfig,
            &["run", "list-pods", "--arg", "all_namespaces=true", "--json"],
        ),
        0,
    );
    let pods = value["output"]["kube"]["pods"]["pods"]
        .as_array()
        .expect("pods")
        .clone();
    assert_eq!(pods.len(), 3, "{value}");
    assert!(
        pods.iter()
            .any(|p| p["name"] == "db-5d4f8-00000" && p["namespace"] == "other"),
        "{value}"
    );

    let value = json_of(
        &opsdeck_cli(&dirs, &kubeconfig, &["run", "list-nodes", "--json"]),
        0,
    );
    let nodes = value["output"]["kube"]["nodes"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 1, "{value}");
    assert_eq!(nodes[0]["name"], "node-1");
    assert_eq!(nodes[0]["status"], "Ready");
    assert_eq!(nodes[0]["cordoned"], false);
    assert_eq!(nodes[0]["version"], "v1.33.1");
    assert_eq!(watches(&api), 0);

    // Without --json, a person reads kubectl's columns.
    let out = opsdeck_cli(&dirs, &kubeconfig, &["run", "list-pods"]);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].ends_with("NODE"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("web-5d4f8-00000") && lines[1].contains("Running"),
        "{text}"
    );
    let out = opsdeck_cli(&dirs, &kubeconfig, &["run", "list-nodes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with("node-1")),
        "{text}"
    );
}

#[test]
fn run_list_nodes_is_bounded_and_says_what_it_left_out() {
    let api = FakeApi::start();
    for i in 0..1_003 {
        api.node(&format!("node-{i:04}"));
    }
    let (dirs, kubeconfig) = cli_setup(&api, None, FAKE_IS_DEV);
    let value = json_of(
        &opsdeck_cli(&dirs, &kubeconfig, &["run", "list-nodes", "--json"]),
        0,
    );
    let listing = &value["output"]["kube"]["nodes"];
    assert_eq!(listing["nodes"].as_array().expect("nodes").len(), 1_000);
    let more = listing["more"].as_str().expect("what was left out");
    assert!(more.contains("more nodes than the 1000 shown"), "{more}");
    // Page by page, each page asked for with a limit; and no page past the thousandth node.
    let pages = api.requests_to("GET", "/api/v1/nodes");
    assert_eq!(pages.len(), 4, "{pages:?}");
    assert!(
        pages.iter().all(|r| r.query.contains("limit=250")),
        "{pages:?}"
    );
}

#[test]
fn run_pod_logs_returns_the_last_lines_and_ends() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.deployment("shop", "web", 1, &["app"]);
    let lines: Vec<String> = (0..500).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    // The container keeps running: a follow would never end.
    api.append_log("shop", "web-5d4f8-00000", "app", &refs);
    let (dirs, kubeconfig) = cli_setup(&api, Some("shop"), FAKE_IS_DEV);

    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "pod-logs",
            "--arg",
            "pod=web-5d4f8-00000",
            "--arg",
            "tail=50",
            "--json",
        ],
    );
    let value = json_of(&out, 0);
    let tail = &value["output"]["kube"]["log_tail"];
    let got: Vec<&str> = tail["tail"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    let want: Vec<&str> = refs[450..].to_vec();
    assert_eq!(got, want, "{tail}");
    assert_eq!(tail["pod"], "web-5d4f8-00000");
    assert_eq!(tail["namespace"], "shop");
    let request = api
        .requests_to("GET", "/pods/web-5d4f8-00000/log")
        .pop()
        .expect("log read");
    assert!(request.query.contains("tailLines=50"), "{}", request.query);
    assert!(!request.query.contains("follow=true"), "{}", request.query);

    // The default is the last 200 lines; the container named works the same.
    let value = json_of(
        &opsdeck_cli(
            &dirs,
            &kubeconfig,
            &[
                "run",
                "pod-logs",
                "--arg",
                "pod=web-5d4f8-00000",
                "--arg",
                "container=app",
                "--json",
            ],
        ),
        0,
    );
    let got = value["output"]["kube"]["log_tail"]["tail"]
        .as_array()
        .expect("lines")
        .clone();
    assert_eq!(got.len(), 200);
    assert_eq!(got[199], "line 499");

    // Without --json: the lines themselves.
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "pod-logs",
            "--arg",
            "pod=web-5d4f8-00000",
            "--arg",
            "tail=3",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line 497\nline 498\nline 499\n",
        "{}",
        out_text(&out)
    );

    // Bounded: a count out of range is refused, saying the range.
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "pod-logs",
            "--arg",
            "pod=web-5d4f8-00000",
            "--arg",
            "tail=999999",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tail"),
        "{}",
        out_text(&out)
    );
    // A pod that does not exist is said plainly.
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &["run", "pod-logs", "--arg", "pod=nope"],
    );
    assert_ne!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{}",
        out_text(&out)
    );
}

#[test]
fn run_scale_deployment_plans_then_applies_with_the_uid_precondition() {
    let api = FakeApi::start();
    api.namespace("shop");
    let uid = api.deployment("shop", "web", 2, &["app"]);
    let (dirs, kubeconfig) = cli_setup(&api, Some("shop"), FAKE_IS_DEV);
    let scale = [
        "run",
        "scale-deployment",
        "--arg",
        "deployment=web",
        "--arg",
        "replicas=3",
    ];

    // --plan: the target resolved (context, cluster, environment, namespace, name, uid) and
    // current → new; nothing sent.
    let mut args = scale.to_vec();
    args.extend(["--plan", "--json"]);
    let value = json_of(&opsdeck_cli(&dirs, &kubeconfig, &args), 0);
    assert_eq!(value["action"], "scale-deployment");
    assert_eq!(value["operation"], "scale-workload");
    assert_eq!(value["mutating"], true);
    assert_eq!(value["result"], "planned");
    assert_eq!(value["environment"], "DEV");
    assert_eq!(value["confirmation"], "y");
    let target = &value["target"];
    assert_eq!(target["context"]["context"], "fake");
    assert_eq!(target["cluster"], "fake");
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["namespace"], "shop");
    assert_eq!(target["name"], "web");
    assert_eq!(target["uid"], uid);
    assert_eq!(target["current"], 2);
    assert_eq!(target["replicas"], 3);
    let mut args = scale.to_vec();
    args.push("--plan");
    let out = opsdeck_cli(&dirs, &kubeconfig, &args);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 → 3"),
        "{}",
        out_text(&out)
    );
    assert!(
        api.requests_to("PATCH", "/scale").is_empty(),
        "a plan sends nothing"
    );

    // --confirm: the same operation through the gate; the PATCH carries the uid.
    let mut args = scale.to_vec();
    args.extend(["--confirm", "y"]);
    let out = opsdeck_cli(&dirs, &kubeconfig, &args);
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let patch = api
        .requests_to("PATCH", "/deployments/web/scale")
        .pop()
        .expect("patched");
    let body: serde_json::Value = serde_json::from_str(&patch.body).expect("JSON");
    assert_eq!(
        body,
        json!({"metadata": {"uid": uid}, "spec": {"replicas": 3}})
    );
    assert_eq!(
        api.object("deployments", "shop", "web").expect("web")["spec"]["replicas"],
        3
    );
    let decisions: Vec<String> = support::read_audit(&dirs.audit_log())
        .iter()
        .filter(|e| e["operation"] == "scale-workload")
        .map(|e| e["decision"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        decisions,
        ["requested", "confirmed", "started", "succeeded"]
    );

    // A replica count that is not one is refused before anything is read.
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "scale-deployment",
            "--arg",
            "deployment=web",
            "--arg",
            "replicas=many",
            "--plan",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("replicas"),
        "{}",
        out_text(&out)
    );
}

#[test]
fn run_scale_is_refused_in_read_only_mode() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.deployment("shop", "web", 2, &["app"]);
    let (dirs, kubeconfig) = cli_setup(&api, Some("shop"), FAKE_IS_DEV);
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "--read-only",
            "run",
            "scale-deployment",
            "--arg",
            "deployment=web",
            "--arg",
            "replicas=3",
            "--confirm",
            "y",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only"),
        "{}",
        out_text(&out)
    );
    assert!(
        api.requests_to("PATCH", "/scale").is_empty(),
        "nothing sent"
    );
    assert_eq!(
        api.object("deployments", "shop", "web").expect("web")["spec"]["replicas"],
        2
    );
    let audit = support::read_audit(&dirs.audit_log());
    assert!(
        audit
            .iter()
            .any(|e| e["operation"] == "scale-workload" && e["decision"] == "refused-read-only"),
        "{audit:?}"
    );
    // Reads still work in read-only mode.
    let value = json_of(
        &opsdeck_cli(
            &dirs,
            &kubeconfig,
            &["--read-only", "run", "list-pods", "--json"],
        ),
        0,
    );
    assert_eq!(
        value["output"]["kube"]["pods"]["pods"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn run_asks_which_namespace_when_a_name_is_in_several() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.namespace("other");
    api.deployment("shop", "web", 2, &["app"]);
    let other_uid = api.deployment("other", "web", 1, &["app"]);
    api.deployment("other", "db", 1, &["pg"]);
    // The context names no namespace.
    let (dirs, kubeconfig) = cli_setup(&api, None, FAKE_IS_DEV);

    for action in [
        vec![
            "run",
            "scale-deployment",
            "--arg",
            "deployment=web",
            "--arg",
            "replicas=3",
            "--plan",
        ],
        vec![
            "run",
            "restart-deployment",
            "--arg",
            "deployment=web",
            "--plan",
        ],
    ] {
        let out = opsdeck_cli(&dirs, &kubeconfig, &action);
        assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for word in ["web", "several namespaces", "other", "shop", "namespace"] {
            assert!(stderr.contains(word), "{word}: {}", out_text(&out));
        }
    }
    assert!(api.requests_to("PATCH", "").is_empty(), "nothing sent");

    // Named, it resolves; found in one namespace only, it is that one.
    let value = json_of(
        &opsdeck_cli(
            &dirs,
            &kubeconfig,
            &[
                "run",
                "scale-deployment",
                "--arg",
                "deployment=web",
                "--arg",
                "namespace=other",
                "--arg",
                "replicas=3",
                "--plan",
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(value["target"]["uid"], other_uid);
    assert_eq!(value["target"]["current"], 1);
    let value = json_of(
        &opsdeck_cli(
            &dirs,
            &kubeconfig,
            &[
                "run",
                "restart-deployment",
                "--arg",
                "deployment=db",
                "--plan",
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(value["target"]["namespace"], "other");
    assert_eq!(value["target"]["name"], "db");
    // Not found anywhere: said so.
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "restart-deployment",
            "--arg",
            "deployment=nope",
            "--plan",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{}",
        out_text(&out)
    );
}

#[test]
fn run_restarts_deletes_a_pod_and_cordons_through_the_gate() {
    let api = FakeApi::start();
    api.namespace("shop");
    api.node("node-1");
    let uid = api.deployment("shop", "web", 2, &["app"]);
    let (dirs, kubeconfig) = cli_setup(&api, Some("shop"), FAKE_IS_DEV);

    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "restart-deployment",
            "--arg",
            "deployment=web",
            "--confirm",
            "y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let patch = api
        .requests_to("PATCH", "/deployments/web")
        .pop()
        .expect("patched");
    assert!(
        patch.query.contains("fieldManager=kubectl-rollout"),
        "{}",
        patch.query
    );
    assert!(
        api.object("deployments", "shop", "web").expect("web")["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    assert!(!uid.is_empty());

    let pod_uid =
        api.object("pods", "shop", "web-5d4f8-00000").expect("pod")["metadata"]["uid"].clone();
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "delete-pod",
            "--arg",
            "pod=web-5d4f8-00000",
            "--confirm",
            "y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    let delete = api
        .requests_to("DELETE", "/pods/web-5d4f8-00000")
        .pop()
        .expect("deleted");
    let body: serde_json::Value = serde_json::from_str(&delete.body).expect("JSON");
    assert_eq!(body["preconditions"]["uid"], pod_uid);

    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "cordon-node",
            "--arg",
            "node=node-1",
            "--confirm",
            "y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert_eq!(
        api.object("nodes", "", "node-1").expect("node")["spec"]["unschedulable"],
        true
    );
    let value = json_of(
        &opsdeck_cli(&dirs, &kubeconfig, &["run", "list-nodes", "--json"]),
        0,
    );
    assert_eq!(
        value["output"]["kube"]["nodes"]["nodes"][0]["cordoned"],
        true
    );
    let out = opsdeck_cli(
        &dirs,
        &kubeconfig,
        &[
            "run",
            "uncordon-node",
            "--arg",
            "node=node-1",
            "--confirm",
            "y",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", out_text(&out));
    assert!(
        api.object("nodes", "", "node-1").expect("node")["spec"]
            .get("unschedulable")
            .is_none()
    );
}
