//! One cluster watched: a kube-runtime watcher per kind (namespaces, nodes, deployments,
//! statefulsets, daemonsets, pods, events), merged into one stream of rows for the console.
//!
//! The watcher lists, then watches from the list's resourceVersion and follows every event's
//! and bookmark's; a watch that ends is resumed from the last one; a `410 Gone` makes it list
//! again. A (re)list is sent as one `Listed` once complete, so rows that vanished while the
//! watch was away disappear too. Errors are sent as `Disconnected` with the reason (the rows
//! stay, shown stale) and retried with exponential backoff (0.8 s to 30 s, with jitter).
//! Objects become compact rows here, off the UI thread; nothing else of them is kept.

use super::connect::Connection;
use super::{classify, rows};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::stream::StreamItem;
use crate::engine::task::TaskCtx;
use crate::kube::model::{ContextRef, KubeKind, KubeRow, KubeUpdate};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Server-side watch timeout: a dead link is noticed within about this plus 5 s.
pub const WATCH_TIMEOUT_SECS: u32 = 60;

/// The reason a watcher gives, as a sentence.
pub fn reason(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => classify(clone_error(e)).to_string(),
        watcher::Error::WatchError(status) if status.code == 410 => {
            "the watch expired (410 Gone); listing again".to_string()
        }
        watcher::Error::WatchError(status) => format!(
            "the API server ended the watch ({}): {}",
            status.code,
            crate::aws::clean(Some(&status.message))
        ),
        watcher::Error::NoResourceVersion => {
            "the API server sent no resourceVersion; retrying".to_string()
        }
    }
}

/// kube's error is not `Clone`; what `classify` reads of it is.
fn clone_error(e: &kube::Error) -> kube::Error {
    match e {
        kube::Error::Api(status) => kube::Error::Api(status.clone()),
        other => kube::Error::Service(super::short(other).into()),
    }
}

fn kind_stream<K>(
    api: Api<K>,
    kind: KubeKind,
    row: fn(&K) -> KubeRow,
) -> BoxStream<'static, KubeUpdate>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    let inner = watcher::watcher(api, config).default_backoff().boxed();
    updates(inner, kind, row).boxed()
}

/// A watcher's events as the console's updates: a relist buffered until it is complete.
pub fn updates<K, S>(
    inner: S,
    kind: KubeKind,
    row: fn(&K) -> KubeRow,
) -> impl Stream<Item = KubeUpdate>
where
    K: Resource + Send + 'static,
    S: Stream<Item = Result<WatchEvent<K>, watcher::Error>> + Unpin + Send + 'static,
{
    futures::stream::unfold(
        (inner, None::<Vec<KubeRow>>),
        move |(mut inner, mut buffer)| async move {
            loop {
                let update = match inner.next().await? {
                    Ok(WatchEvent::Init) => {
                        buffer = Some(Vec::new());
                        None
                    }
                    Ok(WatchEvent::InitApply(object)) => {
                        buffer.get_or_insert_with(Vec::new).push(row(&object));
                        None
                    }
                    Ok(WatchEvent::InitDone) => Some(KubeUpdate::Listed {
                        kind,
                        rows: buffer.take().unwrap_or_default(),
                    }),
                    Ok(WatchEvent::Apply(object)) => Some(KubeUpdate::Applied(row(&object))),
                    Ok(WatchEvent::Delete(object)) => Some(KubeUpdate::Deleted {
                        kind,
                        uid: object.uid().unwrap_or_default(),
                    }),
                    Err(e) => Some(KubeUpdate::Disconnected {
                        kind,
                        reason: reason(&e),
                    }),
                };
                if let Some(update) = update {
                    return Some((update, (inner, buffer)));
                }
            }
        },
    )
}

fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// While a kind's watch is away: how often to ask whether the API server answers again (a
/// watch that resumes from its resourceVersion sends nothing until something changes).
pub const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether the API server answers a one-item list of `kind` (in the scope).
async fn answers(client: &kube::Client, kind: KubeKind, namespace: Option<&str>) -> bool {
    let params = ListParams::default().limit(1);
    let c = client;
    match kind {
        KubeKind::Namespace => Api::<Namespace>::all(c.clone())
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::Node => Api::<Node>::all(c.clone())
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::Deployment => scoped::<Deployment>(c, namespace)
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::StatefulSet => scoped::<StatefulSet>(c, namespace)
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::DaemonSet => scoped::<DaemonSet>(c, namespace)
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::Pod => scoped::<Pod>(c, namespace)
            .list_metadata(&params)
            .await
            .is_ok(),
        KubeKind::Event => scoped::<Event>(c, namespace)
            .list_metadata(&params)
            .await
            .is_ok(),
    }
}

/// Watch until cancelled (or until nobody reads the stream any more).
pub async fn watch(
    connection: &Connection,
    context: &ContextRef,
    namespace: Option<&str>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let client = &connection.client;
    let streams: Vec<BoxStream<'static, KubeUpdate>> = vec![
        kind_stream(
            Api::<Namespace>::all(client.clone()),
            KubeKind::Namespace,
            rows::namespace_row,
        ),
        kind_stream(
            Api::<Node>::all(client.clone()),
            KubeKind::Node,
            rows::node_row,
        ),
        kind_stream(
            scoped::<Deployment>(client, namespace),
            KubeKind::Deployment,
            rows::deployment_row,
        ),
        kind_stream(
            scoped::<StatefulSet>(client, namespace),
            KubeKind::StatefulSet,
            rows::statefulset_row,
        ),
        kind_stream(
            scoped::<DaemonSet>(client, namespace),
            KubeKind::DaemonSet,
            rows::daemonset_row,
        ),
        kind_stream(
            scoped::<Pod>(client, namespace),
            KubeKind::Pod,
            rows::pod_row,
        ),
        kind_stream(
            scoped::<Event>(client, namespace),
            KubeKind::Event,
            rows::event_row,
        ),
    ];
    let mut merged = futures::stream::select_all(streams);
    ctx.info(format!(
        "watching {context}, {}",
        namespace.map_or("all namespaces".to_string(), |ns| format!("namespace {ns}"))
    ));
    let mut away: std::collections::BTreeSet<KubeKind> = Default::default();
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let update = tokio::select! {
            update = merged.next() => update,
            _ = probe.tick(), if !away.is_empty() => {
                let mut back = None;
                for kind in away.iter().copied() {
                    if answers(client, kind, namespace).await {
                        back = Some(kind);
                        break;
                    }
                }
                match back {
                    Some(kind) => Some(KubeUpdate::Connected { kind }),
                    None => continue,
                }
            }
            _ = ctx.cancelled() => {
                return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
            }
        };
        let Some(mut update) = update else {
            return Ok(format!("the watch of {context} ended"));
        };
        match &update {
            KubeUpdate::Disconnected { kind, .. } => {
                away.insert(*kind);
            }
            KubeUpdate::Connected { kind }
            | KubeUpdate::Deleted { kind, .. }
            | KubeUpdate::Listed { kind, .. } => {
                away.remove(kind);
            }
            KubeUpdate::Applied(row) => {
                away.remove(&row.kind());
            }
        }
        if let KubeUpdate::Disconnected { reason, .. } = &mut update
            && let Some(problem) = connection.auth_problem()
        {
            *reason = format!("{problem}; {reason}");
        }
        let sent = tokio::select! {
            sent = ctx.emit(StreamItem::Kube(Box::new(update))) => sent,
            _ = ctx.cancelled() => {
                return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
            }
        };
        if !sent {
            return Ok(format!("nobody shows {context} any more"));
        }
    }
}
