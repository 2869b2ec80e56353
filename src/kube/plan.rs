//! Kubernetes' plans: from what was selected (a context, a kind, a namespace and a name) to a
//! fully resolved operation, read when the action is asked for: the cluster the context
//! points at and its environment, the object's uid and owner, a workload's current replicas.
//! The console runs them off the UI thread (`kube::tui::flows`); headless callers and, later,
//! the assistant call the same functions, so each asks for exactly the same operation.

use crate::engine::ReadOutput;
use crate::kube::model::{ContextRef, KubeKind, KubeconfigView, ObjectInfo};
use crate::kube::ops::{
    ClusterTarget, CordonNode, DeletePod, KubeRead, RestartWorkload, ScaleWorkload, WorkloadKind,
    WorkloadTarget,
};
use crate::kube::port::KubeOutput;
use crate::ops::{PlanCtx, PlanError, ReadOp};
use std::time::SystemTime;

async fn read(ctx: &dyn PlanCtx, op: KubeRead, what: &str) -> Result<KubeOutput, PlanError> {
    match ctx.read(ReadOp::Kube(op)).await {
        Ok(ReadOutput::Kube(output)) => Ok(output),
        Ok(_) => Err(PlanError::Failed(format!(
            "cannot {what}: the engine answered another read"
        ))),
        Err(e) => Err(PlanError::read_failed(what, e)),
    }
}

/// The kubeconfig's contexts, as kubectl reads the files.
pub async fn contexts(ctx: &dyn PlanCtx) -> Result<KubeconfigView, PlanError> {
    match read(ctx, KubeRead::ListContexts, "read the kubeconfig").await? {
        KubeOutput::Contexts(view) => Ok(view),
        _ => Err(PlanError::Failed(
            "cannot read the kubeconfig: unexpected answer".into(),
        )),
    }
}

/// The cluster a context points at now, and the environment config maps it to (unmapped
/// counts as PRD).
pub async fn cluster(ctx: &dyn PlanCtx, context: &ContextRef) -> Result<ClusterTarget, PlanError> {
    let cluster = match context {
        ContextRef::Eks { arn, .. } => arn.clone(),
        ContextRef::Kubeconfig { context: name } => contexts(ctx)
            .await?
            .context(name)
            .map(|c| c.cluster_id())
            .ok_or_else(|| PlanError::NotFound(format!("the kubeconfig has no context {name}")))?,
    };
    Ok(ClusterTarget {
        environment: ctx.kube_environment(context.name(), &cluster),
        context: context.clone(),
        cluster,
    })
}

async fn object(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    kind: KubeKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<ObjectInfo, PlanError> {
    let what = match namespace {
        Some(ns) => format!("read {} {ns}/{name}", kind.word()),
        None => format!("read {} {name}", kind.word()),
    };
    let op = KubeRead::GetObject {
        context: context.clone(),
        kind,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    };
    match read(ctx, op, &what).await? {
        KubeOutput::Object(info) if !info.uid.is_empty() => Ok(info),
        KubeOutput::Object(_) => Err(PlanError::Refused(format!(
            "{} {name} has no uid; refusing to act on it",
            kind.word()
        ))),
        _ => Err(PlanError::Failed(format!(
            "cannot {what}: unexpected answer"
        ))),
    }
}

/// Where a scale starts: the workload resolved (cluster, uid) and its replicas now, for the
/// field the person edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleSeed {
    pub target: WorkloadTarget,
    pub current: i32,
}

impl ScaleSeed {
    /// The operation once the new count is known.
    pub fn with_replicas(&self, replicas: i32) -> ScaleWorkload {
        ScaleWorkload {
            target: self.target.clone(),
            current: self.current,
            replicas,
        }
    }
}

/// `scale-workload`: GET the scale subresource for the replicas now and the uid.
pub async fn scale(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> Result<ScaleSeed, PlanError> {
    if kind == WorkloadKind::DaemonSet {
        return Err(PlanError::Refused(format!(
            "daemonset {namespace}/{name} runs one pod per node: it has no replicas to scale"
        )));
    }
    let cluster = cluster(ctx, context).await?;
    let what = format!(
        "read the scale of {} {namespace}/{name}",
        kind.kind().word()
    );
    let op = KubeRead::GetScale {
        context: context.clone(),
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    let scale = match read(ctx, op, &what).await? {
        KubeOutput::Scale(scale) => scale,
        _ => {
            return Err(PlanError::Failed(format!(
                "cannot {what}: unexpected answer"
            )));
        }
    };
    if scale.uid.is_empty() {
        return Err(PlanError::Refused(format!(
            "{} {namespace}/{name} has no uid; refusing to scale it",
            kind.kind().word()
        )));
    }
    Ok(ScaleSeed {
        target: WorkloadTarget {
            cluster,
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: scale.uid,
        },
        current: scale.replicas,
    })
}

/// Parse the replica field: a whole number from 0 to 10,000.
pub fn parse_replicas(text: &str) -> Result<i32, String> {
    match text.trim().parse::<i32>() {
        Ok(n) if (0..=10_000).contains(&n) => Ok(n),
        Ok(_) => Err("replicas must be between 0 and 10000".into()),
        Err(_) => Err(format!(
            "{:?} is not a whole number of replicas",
            text.trim()
        )),
    }
}

/// `restart-workload`: the uid now, and the restart time decided now (what is confirmed is
/// the annotation value that is sent).
pub async fn restart(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    now: SystemTime,
) -> Result<RestartWorkload, PlanError> {
    let cluster = cluster(ctx, context).await?;
    let info = object(ctx, context, kind.kind(), Some(namespace), name).await?;
    Ok(RestartWorkload {
        target: WorkloadTarget {
            cluster,
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: info.uid,
        },
        restarted_at: humantime::format_rfc3339_seconds(now).to_string(),
    })
}

/// `delete-pod`: its uid (the precondition) and its controller, which decides the tier.
pub async fn delete_pod(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    namespace: &str,
    name: &str,
) -> Result<DeletePod, PlanError> {
    let cluster = cluster(ctx, context).await?;
    let info = object(ctx, context, KubeKind::Pod, Some(namespace), name).await?;
    Ok(DeletePod {
        cluster,
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: info.uid,
        owner: info.owner,
    })
}

/// `cordon-node` / `uncordon-node`: refused when the node already is as asked.
pub async fn cordon(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    name: &str,
    cordon: bool,
) -> Result<CordonNode, PlanError> {
    let cluster = cluster(ctx, context).await?;
    let info = object(ctx, context, KubeKind::Node, None, name).await?;
    if info.unschedulable == cordon {
        return Err(PlanError::Refused(format!(
            "node {name} is already {}",
            if cordon { "cordoned" } else { "schedulable" }
        )));
    }
    Ok(CordonNode {
        cluster,
        name: name.to_string(),
        uid: info.uid,
        cordon,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_whole_numbers_in_range() {
        assert_eq!(parse_replicas(" 5 "), Ok(5));
        assert_eq!(parse_replicas("0"), Ok(0));
        assert!(parse_replicas("-1").is_err());
        assert!(
            parse_replicas("many")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(parse_replicas("100000").is_err());
    }
}
