//! Kubernetes' plans: from what was selected (a context, a kind, a namespace and a name) to a
//! fully resolved operation, read when the action is asked for: the cluster the context
//! points at and its environment, the object's uid and owner, a workload's current replicas.
//! The console runs them off the UI thread (`kube::tui::flows`); headless callers and, later,
//! the assistant call the same functions, so each asks for exactly the same operation.

use crate::engine::ReadOutput;
use crate::kube::model::{ContextRef, FoundObject, KubeKind, KubeconfigView, ObjectInfo};
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

/// The context a tool or command acts in, and its namespace (the default scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub context: ContextRef,
    /// The context's namespace, as kubectl defaults to it; `None` when it names none.
    pub namespace: Option<String>,
}

/// " (it has: a, b)", to follow "no context X".
fn known_contexts(view: &KubeconfigView) -> String {
    if view.contexts.is_empty() {
        return format!(
            " ({} has no context)",
            if view.files.is_empty() {
                "the kubeconfig (no file found)".to_string()
            } else {
                view.files.join(", ")
            }
        );
    }
    let names: Vec<&str> = view.contexts.iter().map(|c| c.name.as_str()).collect();
    format!(" (it has: {})", names.join(", "))
}

/// The context named `asked`; else the session's (the console's current context,
/// `--context`); else the kubeconfig's current context — kubectl's order.
pub async fn scope(ctx: &dyn PlanCtx, asked: Option<&str>) -> Result<Scope, PlanError> {
    let session = ctx.kube_context();
    // An EKS cluster the console reached natively has no kubeconfig entry to look up.
    if let Some(eks @ ContextRef::Eks { .. }) = &session
        && asked.is_none_or(|name| name == eks.name())
    {
        return Ok(Scope {
            context: eks.clone(),
            namespace: None,
        });
    }
    let view = contexts(ctx).await?;
    let (name, whose) = match (asked, &session) {
        (Some(name), _) => (name.to_string(), "the kubeconfig"),
        (None, Some(ContextRef::Kubeconfig { context })) => {
            (context.clone(), "the kubeconfig (the session's context)")
        }
        (None, _) => match &view.current {
            Some(current) => (current.clone(), "the kubeconfig (its current context)"),
            None => {
                return Err(PlanError::Input(format!(
                    "no context was given and the kubeconfig has no current context; give context{}",
                    known_contexts(&view)
                )));
            }
        },
    };
    let info = view.context(&name).ok_or_else(|| {
        PlanError::NotFound(format!(
            "{whose} has no context {name}{}",
            known_contexts(&view)
        ))
    })?;
    Ok(Scope {
        namespace: info.namespace.clone(),
        context: ContextRef::kubeconfig(name),
    })
}

/// "deployment or statefulset".
fn kinds_in_words(kinds: &[KubeKind]) -> String {
    let words: Vec<&str> = kinds.iter().map(|k| k.word()).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

async fn find(
    ctx: &dyn PlanCtx,
    context: &ContextRef,
    kinds: &[KubeKind],
    namespace: Option<&str>,
    name: &str,
) -> Result<Vec<FoundObject>, PlanError> {
    let op = KubeRead::FindObjects {
        context: context.clone(),
        kinds: kinds.to_vec(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    };
    let what = format!("look for {} {name}", kinds_in_words(kinds));
    match read(ctx, op, &what).await? {
        KubeOutput::Found(found) => Ok(found),
        _ => Err(PlanError::Failed(format!(
            "cannot {what}: unexpected answer"
        ))),
    }
}

/// The one object of `kinds` named `name`: in `namespace` when one is given, else in the
/// context's namespace (as kubectl), else in whichever namespace holds it. Never a guess:
/// found in several namespaces, or as several kinds, the answer asks which.
pub async fn locate(
    ctx: &dyn PlanCtx,
    scope: &Scope,
    kinds: &[KubeKind],
    namespace: Option<&str>,
    name: &str,
) -> Result<FoundObject, PlanError> {
    let what = kinds_in_words(kinds);
    let context = &scope.context;
    let (namespace, from_context) = match (namespace, &scope.namespace) {
        (Some(ns), _) => (Some(ns), false),
        (None, Some(ns)) => (Some(ns.as_str()), true),
        (None, None) => (None, false),
    };
    let mut found = find(ctx, context, kinds, namespace, name).await?;
    if found.is_empty() {
        return Err(match namespace {
            None => PlanError::NotFound(format!(
                "no {what} named {name} in any namespace of {context}"
            )),
            Some(ns) if from_context => {
                let elsewhere = find(ctx, context, kinds, None, name).await?;
                let mut spaces: Vec<&str> =
                    elsewhere.iter().map(|f| f.namespace.as_str()).collect();
                spaces.dedup();
                if spaces.is_empty() {
                    PlanError::NotFound(format!(
                        "no {what} named {name} in namespace {ns} (the context's namespace) of {context}, nor in any other"
                    ))
                } else {
                    PlanError::NotFound(format!(
                        "no {what} named {name} in namespace {ns} (the context's namespace) of {context}; namespace {} has one: say which with namespace",
                        spaces.join(", ")
                    ))
                }
            }
            Some(ns) => PlanError::NotFound(format!(
                "no {what} named {name} in namespace {ns} of {context}"
            )),
        });
    }
    let mut spaces: Vec<&str> = found.iter().map(|f| f.namespace.as_str()).collect();
    spaces.dedup();
    if spaces.len() > 1 {
        return Err(PlanError::Input(format!(
            "{what} {name} is in several namespaces of {context}: {}; say which with namespace",
            spaces.join(", ")
        )));
    }
    if found.len() > 1 {
        let kinds: Vec<&str> = found.iter().map(|f| f.kind.word()).collect();
        return Err(PlanError::Input(format!(
            "more than one object is named {name} in namespace {} of {context} (a {}); say which with kind",
            spaces.first().copied().unwrap_or_default(),
            kinds.join(" and a ")
        )));
    }
    found
        .pop()
        .ok_or_else(|| PlanError::NotFound(format!("no {what} named {name} in {context}")))
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
