//! One-shot listings: the pods and nodes `list-pods` and `list-nodes` answer (the command line
//! and the assistant), and the objects a plan finds by name. Each is read page by page up to a
//! bound and then ends — a watch is the console's, not theirs. Rows are the inventory's own
//! (`rows.rs`), so a listing shows what the Pods and Nodes views show.

use super::{classify, rows};
use crate::engine::ports::ProviderResult;
use crate::engine::task::TaskCtx;
use crate::kube::model::{
    ContextRef, FoundObject, KubeKind, KubeRow, NodeLine, NodeListing, PodLine, PodListing,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use kube::api::{Api, ListParams, ObjectList};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// The most objects one listing returns; past it, the listing says how many more there are.
pub const MAX_LISTED: usize = 1_000;
/// Objects asked for per page.
const PAGE: u32 = 250;

/// Up to `max` objects, page by page; and, when there were more, about how many (the API
/// server's `remainingItemCount`, when it gives one). Bounded in pages too: a server that
/// keeps answering empty pages with a continue token, or ignores `limit`, ends the read.
async fn first<K>(
    api: &Api<K>,
    params: ListParams,
    max: usize,
) -> ProviderResult<(Vec<K>, Option<Option<i64>>)>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let pages = max.div_ceil(PAGE as usize) + 1;
    for _ in 0..pages {
        let want = max.saturating_sub(out.len()).clamp(1, PAGE as usize) as u32;
        let mut page_params = params.clone().limit(want);
        if let Some(t) = &token {
            page_params = page_params.continue_token(t);
        }
        let page: ObjectList<K> = api.list(&page_params).await.map_err(classify)?;
        let remaining = page.metadata.remaining_item_count;
        out.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if out.len() > max {
            // The server sent more than asked for.
            let extra = (out.len() - max) as i64;
            out.truncate(max);
            return Ok((out, Some(Some(extra + remaining.unwrap_or(0)))));
        }
        if token.is_none() {
            return Ok((out, None));
        }
        if out.len() == max {
            return Ok((out, Some(remaining)));
        }
    }
    // Pages that kept coming without filling the listing.
    Ok((out, Some(None)))
}

/// What a listing left out, said: "250 more pods than the 1000 shown; name a namespace".
fn more(what: &str, shown: usize, remaining: Option<Option<i64>>, hint: &str) -> Option<String> {
    remaining.map(|count| match count {
        Some(n) => format!("{n} more {what} than the {shown} shown{hint}"),
        None => format!("more {what} than the {shown} shown{hint}"),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub async fn pods(
    client: &kube::Client,
    context: &ContextRef,
    namespace: Option<&str>,
    ctx: &TaskCtx,
) -> ProviderResult<PodListing> {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (items, remaining) = first(&api, ListParams::default(), MAX_LISTED).await?;
    let now = now_ms();
    let pods: Vec<PodLine> = items
        .iter()
        .filter_map(|pod| match rows::pod_row(pod) {
            KubeRow::Pod(row) => Some(PodLine::of(&row, namespace.is_none(), now)),
            _ => None,
        })
        .collect();
    ctx.info(format!("{} pods", pods.len()));
    let hint = if namespace.is_none() {
        "; name a namespace"
    } else {
        ""
    };
    let more = more("pods", pods.len(), remaining, hint);
    Ok(PodListing {
        context: context.name().to_string(),
        namespace: namespace.map(str::to_string),
        pods,
        more,
    })
}

pub async fn nodes(
    client: &kube::Client,
    context: &ContextRef,
    ctx: &TaskCtx,
) -> ProviderResult<NodeListing> {
    let api: Api<Node> = Api::all(client.clone());
    let (items, remaining) = first(&api, ListParams::default(), MAX_LISTED).await?;
    let now = now_ms();
    let nodes: Vec<NodeLine> = items
        .iter()
        .filter_map(|node| match rows::node_row(node) {
            KubeRow::Node(row) => Some(NodeLine::of(&row, now)),
            _ => None,
        })
        .collect();
    ctx.info(format!("{} nodes", nodes.len()));
    Ok(NodeListing {
        context: context.name().to_string(),
        more: more("nodes", nodes.len(), remaining, ""),
        nodes,
    })
}

/// The namespaces (`""` for a cluster-wide kind) holding an object named `name`.
async fn named<K>(api: Api<K>, name: &str) -> ProviderResult<Vec<String>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    // Names are unique in a namespace: more than a page means more namespaces than anyone
    // will pick from, and the plan asks which anyway.
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    let (items, _) = first(&api, params, PAGE as usize).await?;
    Ok(items
        .iter()
        .filter(|o| o.name_any() == name)
        .map(|o| o.namespace().unwrap_or_default())
        .collect())
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

/// Objects of `kinds` named `name`: in `namespace`, or in every namespace.
pub async fn find(
    client: &kube::Client,
    kinds: &[KubeKind],
    namespace: Option<&str>,
    name: &str,
) -> ProviderResult<Vec<FoundObject>> {
    let mut found = Vec::new();
    for kind in kinds {
        let c = client;
        let namespaces = match kind {
            KubeKind::Namespace => named(Api::<Namespace>::all(c.clone()), name).await?,
            KubeKind::Node => named(Api::<Node>::all(c.clone()), name).await?,
            KubeKind::Deployment => named(scoped::<Deployment>(c, namespace), name).await?,
            KubeKind::StatefulSet => named(scoped::<StatefulSet>(c, namespace), name).await?,
            KubeKind::DaemonSet => named(scoped::<DaemonSet>(c, namespace), name).await?,
            KubeKind::Pod => named(scoped::<Pod>(c, namespace), name).await?,
            KubeKind::Event => named(scoped::<Event>(c, namespace), name).await?,
        };
        found.extend(namespaces.into_iter().map(|namespace| FoundObject {
            kind: *kind,
            namespace,
            name: name.to_string(),
        }));
    }
    found.sort_by(|a, b| (&a.namespace, a.kind).cmp(&(&b.namespace, b.kind)));
    Ok(found)
}
