//! The changes, each sent exactly as confirmed and with the object's uid as a precondition,
//! so an object deleted and re-created under the same name since it was asked for is never
//! touched (the API server answers 409 Conflict, or 422 for a uid that differs in a patch).
//!
//! * scale: merge patch of the `scale` subresource (`spec.replicas`, `metadata.uid`);
//! * rollout restart: what `kubectl rollout restart` sends (strategic merge patch of the pod
//!   template's `kubectl.kubernetes.io/restartedAt` annotation, field manager
//!   `kubectl-rollout`), with the uid;
//! * delete pod: `DeleteOptions.preconditions.uid`;
//! * cordon/uncordon: what `kubectl cordon` sends (strategic merge patch of
//!   `spec.unschedulable`: `true`, or `null` to clear it), with the uid.

use super::classify;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::kube::ops::{CordonNode, DeletePod, RestartWorkload, ScaleWorkload, WorkloadKind};
use crate::ops::Approved;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;

/// The last look at the cancel token before a request leaves: a cancel always wins.
fn not_cancelled(ctx: &TaskCtx) -> ProviderResult<()> {
    if ctx.is_cancelled() {
        return Err(ProviderError::new(
            ErrorKind::Cancelled,
            "cancelled before it was sent",
        ));
    }
    Ok(())
}

pub fn scale_patch(op: &ScaleWorkload) -> serde_json::Value {
    json!({
        "metadata": { "uid": op.target.uid },
        "spec": { "replicas": op.replicas },
    })
}

pub fn restart_patch(op: &RestartWorkload) -> serde_json::Value {
    json!({
        "metadata": { "uid": op.target.uid },
        "spec": { "template": { "metadata": { "annotations": {
            "kubectl.kubernetes.io/restartedAt": op.restarted_at,
        } } } },
    })
}

pub fn cordon_patch(op: &CordonNode) -> serde_json::Value {
    let unschedulable = if op.cordon {
        json!(true)
    } else {
        serde_json::Value::Null
    };
    json!({
        "metadata": { "uid": op.uid },
        "spec": { "unschedulable": unschedulable },
    })
}

pub async fn scale(
    client: &kube::Client,
    approved: Approved<ScaleWorkload>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op();
    let t = &op.target;
    let patch = Patch::Merge(scale_patch(op));
    let params = PatchParams::default();
    ctx.info(format!(
        "PATCH scale of {t}: replicas {} → {}",
        op.current, op.replicas
    ));
    not_cancelled(ctx)?;
    let c = client.clone();
    let scale = match t.kind {
        WorkloadKind::Deployment => {
            Api::<Deployment>::namespaced(c, &t.namespace)
                .patch_scale(&t.name, &params, &patch)
                .await
        }
        WorkloadKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(c, &t.namespace)
                .patch_scale(&t.name, &params, &patch)
                .await
        }
        WorkloadKind::DaemonSet => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                "a daemonset has no replicas to scale",
            ));
        }
    }
    .map_err(classify)?;
    let now = scale.spec.and_then(|s| s.replicas).unwrap_or(op.replicas);
    Ok(format!(
        "{} {}/{} scaled from {} to {now} replicas",
        t.kind.kind().word(),
        t.namespace,
        t.name,
        op.current
    ))
}

pub async fn restart(
    client: &kube::Client,
    approved: Approved<RestartWorkload>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op();
    let t = &op.target;
    let patch = Patch::Strategic(restart_patch(op));
    let params = PatchParams {
        field_manager: Some("kubectl-rollout".into()),
        ..PatchParams::default()
    };
    ctx.info(format!(
        "PATCH {t}: kubectl.kubernetes.io/restartedAt={}",
        op.restarted_at
    ));
    not_cancelled(ctx)?;
    let c = client.clone();
    match t.kind {
        WorkloadKind::Deployment => Api::<Deployment>::namespaced(c, &t.namespace)
            .patch(&t.name, &params, &patch)
            .await
            .map(|_| ()),
        WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(c, &t.namespace)
            .patch(&t.name, &params, &patch)
            .await
            .map(|_| ()),
        WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(c, &t.namespace)
            .patch(&t.name, &params, &patch)
            .await
            .map(|_| ()),
    }
    .map_err(classify)?;
    Ok(format!(
        "{} {}/{} restarted (restartedAt {})",
        t.kind.kind().word(),
        t.namespace,
        t.name,
        op.restarted_at
    ))
}

pub async fn delete_pod(
    client: &kube::Client,
    approved: Approved<DeletePod>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op();
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(op.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    ctx.info(format!(
        "DELETE pod {}/{} with precondition uid {}",
        op.namespace, op.name, op.uid
    ));
    not_cancelled(ctx)?;
    Api::<Pod>::namespaced(client.clone(), &op.namespace)
        .delete(&op.name, &params)
        .await
        .map_err(classify)?;
    Ok(format!("pod {}/{} deleted", op.namespace, op.name))
}

pub async fn cordon(
    client: &kube::Client,
    approved: Approved<CordonNode>,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let op = approved.op();
    let patch = Patch::Strategic(cordon_patch(op));
    let verb = if op.cordon { "cordoned" } else { "uncordoned" };
    ctx.info(format!(
        "PATCH node {}: spec.unschedulable={}",
        op.name,
        if op.cordon { "true" } else { "null" }
    ));
    not_cancelled(ctx)?;
    Api::<Node>::all(client.clone())
        .patch(&op.name, &PatchParams::default(), &patch)
        .await
        .map_err(classify)?;
    Ok(format!("node {} {verb}", op.name))
}
