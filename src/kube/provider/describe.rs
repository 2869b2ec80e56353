//! Reading single objects: the describe/YAML view, what plans need (uid, owner, replicas),
//! and the workloads the compliance rules judge.

use super::{classify, short};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::kube::model::{KubeKind, ObjectInfo, ScaleInfo};
use crate::kube::ops::WorkloadKind;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

/// Pages read of one listing (500 objects each).
const MAX_PAGES: usize = 400;

fn namespace_required(kind: KubeKind, namespace: Option<&str>) -> ProviderResult<&str> {
    namespace.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("a {} lives in a namespace; none was given", kind.word()),
        )
    })
}

async fn get_value<K>(api: Api<K>, name: &str) -> ProviderResult<Value>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let object = api.get(name).await.map_err(classify)?;
    serde_json::to_value(&object)
        .map_err(|e| ProviderError::new(ErrorKind::Other, format!("cannot show it: {e}")))
}

/// One object as JSON, by kind.
async fn object(
    client: &kube::Client,
    kind: KubeKind,
    namespace: Option<&str>,
    name: &str,
) -> ProviderResult<Value> {
    let c = client.clone();
    match kind {
        KubeKind::Namespace => get_value(Api::<Namespace>::all(c), name).await,
        KubeKind::Node => get_value(Api::<Node>::all(c), name).await,
        KubeKind::Deployment => {
            get_value(
                Api::<Deployment>::namespaced(c, namespace_required(kind, namespace)?),
                name,
            )
            .await
        }
        KubeKind::StatefulSet => {
            get_value(
                Api::<StatefulSet>::namespaced(c, namespace_required(kind, namespace)?),
                name,
            )
            .await
        }
        KubeKind::DaemonSet => {
            get_value(
                Api::<DaemonSet>::namespaced(c, namespace_required(kind, namespace)?),
                name,
            )
            .await
        }
        KubeKind::Pod => {
            get_value(
                Api::<Pod>::namespaced(c, namespace_required(kind, namespace)?),
                name,
            )
            .await
        }
        KubeKind::Event => {
            get_value(
                Api::<Event>::namespaced(c, namespace_required(kind, namespace)?),
                name,
            )
            .await
        }
    }
}

/// What the describe view may show of an object: managed fields dropped, and a Secret's
/// values replaced by their sizes (also in the last-applied annotation, which copies them).
pub fn redact(value: &mut Value) {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    if value.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(entries) = value.get_mut(field).and_then(Value::as_object_mut) {
            for (_, v) in entries.iter_mut() {
                let size = v.as_str().map_or(0, str::len);
                *v = Value::String(format!("(hidden: {size} bytes)"));
            }
        }
    }
    if let Some(annotations) = value
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The object as YAML for the describe view, every line safe to draw.
pub fn to_yaml(mut value: Value) -> ProviderResult<String> {
    redact(&mut value);
    let text = yaml_serde::to_string(&value).map_err(|e| {
        ProviderError::new(ErrorKind::Other, format!("cannot show it as YAML: {e}"))
    })?;
    Ok(text
        .lines()
        .map(|l| crate::aws::clean(Some(l)))
        .collect::<Vec<_>>()
        .join("\n"))
}

pub async fn describe(
    client: &kube::Client,
    kind: KubeKind,
    namespace: Option<&str>,
    name: &str,
) -> ProviderResult<String> {
    to_yaml(object(client, kind, namespace, name).await?)
}

pub async fn get_scale(
    client: &kube::Client,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> ProviderResult<ScaleInfo> {
    let c = client.clone();
    let scale = match kind {
        WorkloadKind::Deployment => {
            Api::<Deployment>::namespaced(c, namespace)
                .get_scale(name)
                .await
        }
        WorkloadKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(c, namespace)
                .get_scale(name)
                .await
        }
        WorkloadKind::DaemonSet => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                "a daemonset runs one pod per node: it has no replicas to scale",
            ));
        }
    }
    .map_err(classify)?;
    Ok(ScaleInfo {
        replicas: scale.spec.and_then(|s| s.replicas).unwrap_or(0),
        uid: scale.metadata.uid.unwrap_or_default(),
    })
}

fn info<K: Resource>(object: &K, unschedulable: bool) -> ObjectInfo {
    ObjectInfo {
        uid: object.meta().uid.clone().unwrap_or_default(),
        resource_version: object.meta().resource_version.clone().unwrap_or_default(),
        owner: super::rows::owner(object.meta()),
        unschedulable,
    }
}

pub async fn get_object(
    client: &kube::Client,
    kind: KubeKind,
    namespace: Option<&str>,
    name: &str,
) -> ProviderResult<ObjectInfo> {
    let c = client.clone();
    Ok(match kind {
        KubeKind::Namespace => info(
            &Api::<Namespace>::all(c).get(name).await.map_err(classify)?,
            false,
        ),
        KubeKind::Node => {
            let node = Api::<Node>::all(c).get(name).await.map_err(classify)?;
            let cordoned = node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false);
            info(&node, cordoned)
        }
        KubeKind::Deployment => info(
            &Api::<Deployment>::namespaced(c, namespace_required(kind, namespace)?)
                .get(name)
                .await
                .map_err(classify)?,
            false,
        ),
        KubeKind::StatefulSet => info(
            &Api::<StatefulSet>::namespaced(c, namespace_required(kind, namespace)?)
                .get(name)
                .await
                .map_err(classify)?,
            false,
        ),
        KubeKind::DaemonSet => info(
            &Api::<DaemonSet>::namespaced(c, namespace_required(kind, namespace)?)
                .get(name)
                .await
                .map_err(classify)?,
            false,
        ),
        KubeKind::Pod => info(
            &Api::<Pod>::namespaced(c, namespace_required(kind, namespace)?)
                .get(name)
                .await
                .map_err(classify)?,
            false,
        ),
        KubeKind::Event => info(
            &Api::<Event>::namespaced(c, namespace_required(kind, namespace)?)
                .get(name)
                .await
                .map_err(classify)?,
            false,
        ),
    })
}

/// Every object of a kind, every page, as JSON (managed fields and status dropped).
async fn list_all<K>(api: Api<K>, keep: impl Fn(&K) -> bool) -> ProviderResult<Vec<Value>>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut params = ListParams::default().limit(500);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.map_err(classify)?;
        for object in page.items.iter().filter(|o| keep(o)) {
            let mut value = serde_json::to_value(object).map_err(|e| {
                ProviderError::new(
                    ErrorKind::Other,
                    format!("cannot read {}: {e}", object.name_any()),
                )
            })?;
            redact(&mut value);
            if let Some(map) = value.as_object_mut() {
                map.remove("status");
            }
            out.push(value);
        }
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(out)
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

/// The workloads the rules judge: deployments, statefulsets, daemonsets, jobs, cronjobs and
/// pods no controller made (a controller's pods are judged through it). A kind the person may
/// not list is said in the job's log and left out; if none can be listed, that is the error.
pub async fn list_workloads(
    client: &kube::Client,
    namespace: Option<&str>,
    ctx: &TaskCtx,
) -> ProviderResult<Vec<Value>> {
    let results = [
        (
            "deployments",
            list_all(scoped::<Deployment>(client, namespace), |_| true).await,
        ),
        (
            "statefulsets",
            list_all(scoped::<StatefulSet>(client, namespace), |_| true).await,
        ),
        (
            "daemonsets",
            list_all(scoped::<DaemonSet>(client, namespace), |_| true).await,
        ),
        (
            "jobs",
            list_all(scoped::<Job>(client, namespace), |j| {
                j.owner_references().is_empty()
            })
            .await,
        ),
        (
            "cronjobs",
            list_all(scoped::<CronJob>(client, namespace), |_| true).await,
        ),
        (
            "pods",
            list_all(scoped::<Pod>(client, namespace), |p| {
                super::rows::owner(p.meta()).is_none()
            })
            .await,
        ),
    ];
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for (what, result) in results {
        match result {
            Ok(mut list) => {
                ctx.info(format!("{} {what}", list.len()));
                objects.append(&mut list);
            }
            Err(e) => {
                ctx.warn(format!("cannot list {what}: {e}"));
                errors.push(format!("{what}: {}", short(&e)));
            }
        }
    }
    if errors.len() == 6 {
        return Err(ProviderError::new(
            ErrorKind::Other,
            format!("no workload could be listed: {}", errors.join("; ")),
        ));
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_its_values() {
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "managedFields": [{"manager": "x"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"token": "hunter2"}
        });
        let yaml = to_yaml(secret).expect("yaml");
        assert!(!yaml.contains("aHVudGVyMg"), "{yaml}");
        assert!(!yaml.contains("hunter2"), "{yaml}");
        assert!(yaml.contains("(hidden: 12 bytes)"), "{yaml}");
        assert!(!yaml.contains("managedFields"), "{yaml}");
    }
}
