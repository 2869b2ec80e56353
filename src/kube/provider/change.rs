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

#[cfg(test)]
mod tests {
    //! The requests as they leave, through kube's tower-test mock service.

    use super::*;
    use crate::audit::{Actor, MemoryAudit};
    use crate::kube::model::ContextRef;
    use crate::kube::ops::{ClusterTarget, WorkloadTarget};
    use crate::model::Environment;
    use crate::ops::{MutatingOp, ReadOnlyLatch};
    use http::{Method, Request, Response};
    use kube::client::Body;
    use std::sync::Arc;

    fn ctx() -> TaskCtx {
        TaskCtx::detached_with_ring(1, 100)
    }

    fn approve<T>(
        op: MutatingOp,
        narrow: impl FnOnce(crate::kube::port::ApprovedKube) -> Option<Approved<T>>,
    ) -> Approved<T> {
        let mut gate = crate::setup::test_gate(
            ReadOnlyLatch::new(),
            Arc::new(MemoryAudit::default()),
            Actor {
                os_user: "t".into(),
                principal: None,
            },
            None,
        );
        let request = gate.request(op).expect("opens");
        let typed = match &request.tier {
            crate::ops::RiskTier::TypeName(n) => n.clone(),
            crate::ops::RiskTier::Simple => String::new(),
        };
        let approved = gate.confirm(request.id, &typed).expect("approves");
        let crate::ops::ApprovedMutation::Kube(kube) =
            approved.split(&gate.binding()).expect("own gate")
        else {
            panic!("a Kubernetes change");
        };
        narrow(kube.split()).expect("the variant")
    }

    fn cluster() -> ClusterTarget {
        ClusterTarget {
            context: ContextRef::kubeconfig("dev"),
            cluster: "dev".into(),
            environment: Environment::Dev,
        }
    }

    #[tokio::test]
    async fn delete_sends_the_uid_as_a_precondition() {
        let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (req, send) = handle.next_request().await.expect("a request");
            assert_eq!(req.method(), Method::DELETE);
            assert_eq!(req.uri().path(), "/api/v1/namespaces/shop/pods/web-1");
            let body = http_body_util::BodyExt::collect(req.into_body())
                .await
                .expect("body")
                .to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(body, serde_json::json!({"preconditions": {"uid": "p-1"}}));
            let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
            send.send_response(Response::new(Body::from(
                serde_json::to_vec(&status).unwrap(),
            )));
        });
        let client = kube::Client::new(svc, "default");
        let op = MutatingOp::from(DeletePod {
            cluster: cluster(),
            namespace: "shop".into(),
            name: "web-1".into(),
            uid: "p-1".into(),
            owner: None,
        });
        let approved = approve(op, |k| match k {
            crate::kube::port::ApprovedKube::DeletePod(a) => Some(a),
            _ => None,
        });
        let done = delete_pod(&client, approved, &ctx())
            .await
            .expect("deleted");
        assert_eq!(done, "pod shop/web-1 deleted");
        server.await.expect("the mock saw its request");
    }

    #[tokio::test]
    async fn scale_is_a_merge_patch_of_the_scale_subresource_with_the_uid() {
        let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let (req, send) = handle.next_request().await.expect("a request");
            assert_eq!(req.method(), Method::PATCH);
            assert_eq!(
                req.uri().path(),
                "/apis/apps/v1/namespaces/shop/statefulsets/db/scale"
            );
            assert_eq!(
                req.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/merge-patch+json")
            );
            let body = http_body_util::BodyExt::collect(req.into_body())
                .await
                .expect("body")
                .to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(
                body,
                serde_json::json!({"metadata": {"uid": "s-1"}, "spec": {"replicas": 0}})
            );
            let scale = serde_json::json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "db", "namespace": "shop", "uid": "s-1"}, "spec": {"replicas": 0}, "status": {"replicas": 3}});
            send.send_response(Response::new(Body::from(
                serde_json::to_vec(&scale).unwrap(),
            )));
        });
        let client = kube::Client::new(svc, "default");
        let op = MutatingOp::from(ScaleWorkload {
            target: WorkloadTarget {
                cluster: cluster(),
                kind: WorkloadKind::StatefulSet,
                namespace: "shop".into(),
                name: "db".into(),
                uid: "s-1".into(),
            },
            current: 3,
            replicas: 0,
        });
        let approved = approve(op, |k| match k {
            crate::kube::port::ApprovedKube::Scale(a) => Some(a),
            _ => None,
        });
        let done = scale(&client, approved, &ctx()).await.expect("scaled");
        assert_eq!(done, "statefulset shop/db scaled from 3 to 0 replicas");
        server.await.expect("the mock saw its request");
    }

    #[tokio::test]
    async fn a_cancelled_change_sends_nothing() {
        let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(svc, "default");
        let op = MutatingOp::from(CordonNode {
            cluster: cluster(),
            name: "n1".into(),
            uid: "n-1".into(),
            cordon: true,
        });
        let approved = approve(op, |k| match k {
            crate::kube::port::ApprovedKube::Cordon(a) => Some(a),
            _ => None,
        });
        let ctx = ctx();
        ctx.cancel.cancel();
        let e = cordon(&client, approved, &ctx)
            .await
            .expect_err("cancelled");
        assert_eq!(e.kind, ErrorKind::Cancelled);
        drop(client);
        let mut handle = std::pin::pin!(handle);
        assert!(handle.next_request().await.is_none(), "nothing was sent");
    }
}
