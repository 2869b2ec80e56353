//! Kubernetes' operations: reads (contexts, EKS clusters, the watch, describe, logs, what a
//! plan must know) and mutations (scale, rollout restart, delete pod, cordon/uncordon), each
//! holding its target resolved when it was asked for: context, cluster, environment,
//! namespace, name and uid, so what is confirmed is exactly what runs.

use crate::kube::model::{ContextRef, KubeKind, Owner};
use crate::model::Environment;
use crate::ops::{MutatingOp, Mutation, Read, ReadScope, RiskTier, to_json};
use serde::Serialize;
use std::fmt;

/// The workloads scale and restart act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn kind(self) -> KubeKind {
        match self {
            WorkloadKind::Deployment => KubeKind::Deployment,
            WorkloadKind::StatefulSet => KubeKind::StatefulSet,
            WorkloadKind::DaemonSet => KubeKind::DaemonSet,
        }
    }

    pub fn of(kind: KubeKind) -> Option<WorkloadKind> {
        match kind {
            KubeKind::Deployment => Some(WorkloadKind::Deployment),
            KubeKind::StatefulSet => Some(WorkloadKind::StatefulSet),
            KubeKind::DaemonSet => Some(WorkloadKind::DaemonSet),
            KubeKind::Namespace | KubeKind::Node | KubeKind::Pod | KubeKind::Event => None,
        }
    }
}

/// One log follow: a pod's container, or every pod of a workload merged (each line prefixed
/// with its pod).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogRequest {
    pub context: ContextRef,
    pub namespace: String,
    /// The pods whose logs are read; one, or all of a workload's.
    pub pods: Vec<String>,
    /// `None`: the pod's only (or default) container.
    pub container: Option<String>,
    /// The previous instance of the container (`p`).
    pub previous: bool,
    /// The workload whose pods these are, for `L` (lines are then prefixed with their pod).
    pub workload: Option<String>,
}

/// The last lines of one container's log, read once: the bounded read `pod-logs` runs from
/// the command line and for the assistant (the console's `l` follows instead).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TailRequest {
    pub context: ContextRef,
    pub namespace: String,
    pub pod: String,
    /// `None`: the pod's only (or default) container.
    pub container: Option<String>,
    /// The previous instance of the container.
    pub previous: bool,
    /// How many lines, from the end (1 to [`TailRequest::MAX_LINES`]).
    pub lines: u32,
}

impl TailRequest {
    /// Lines when none are asked for.
    pub const DEFAULT_LINES: u32 = 200;
    /// The most lines one read returns.
    pub const MAX_LINES: u32 = 5_000;
}

/// Kubernetes' reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KubeRead {
    /// Every context of the kubeconfig files (kubectl's rules).
    ListContexts,
    /// ListClusters, DescribeCluster and the node groups of each, in the session's region.
    ListEksClusters { scope: ReadScope },
    /// DescribeCluster of one: what a kubeconfig entry needs (ARN, endpoint, CA).
    DescribeEksCluster { scope: ReadScope, name: String },
    /// Watch namespaces, nodes, deployments, statefulsets, daemonsets, pods and events of one
    /// cluster (in one namespace, or all), until cancelled. Streams rows to the console.
    Watch {
        context: ContextRef,
        namespace: Option<String>,
    },
    /// One object as YAML (managed fields dropped; a Secret's data never).
    Describe {
        context: ContextRef,
        kind: KubeKind,
        namespace: Option<String>,
        name: String,
    },
    /// Follow logs into the job's log until the containers end or the job is cancelled.
    Logs(LogRequest),
    /// A deployment's or statefulset's scale: current replicas and uid (plans).
    GetScale {
        context: ContextRef,
        kind: WorkloadKind,
        namespace: String,
        name: String,
    },
    /// An object's uid, owner and (nodes) schedulability (plans).
    GetObject {
        context: ContextRef,
        kind: KubeKind,
        namespace: Option<String>,
        name: String,
    },
    /// Deployments, statefulsets, daemonsets, jobs, cronjobs and pods with no controller,
    /// as objects for the compliance rules.
    ListWorkloads {
        context: ContextRef,
        namespace: Option<String>,
    },
    /// The pods of a namespace (or all), listed once: the Pods view's columns (bounded).
    ListPods {
        context: ContextRef,
        namespace: Option<String>,
    },
    /// The nodes, listed once (bounded).
    ListNodes { context: ContextRef },
    /// The last lines of a container's log, read once: it ends.
    TailLogs(TailRequest),
    /// Where objects of these kinds with this name are: in one namespace, or in all of them
    /// (plans, to resolve a name given without its namespace).
    FindObjects {
        context: ContextRef,
        kinds: Vec<KubeKind>,
        namespace: Option<String>,
        name: String,
    },
}

impl Read for KubeRead {
    fn name(&self) -> &'static str {
        match self {
            KubeRead::ListContexts => "list-contexts",
            KubeRead::ListEksClusters { .. } => "list-eks-clusters",
            KubeRead::DescribeEksCluster { .. } => "describe-eks-cluster",
            KubeRead::Watch { .. } => "watch-cluster",
            KubeRead::Describe { .. } => "describe-object",
            KubeRead::Logs(r) if r.workload.is_some() => "workload-logs",
            KubeRead::Logs(_) => "pod-logs",
            KubeRead::GetScale { .. } => "get-scale",
            KubeRead::GetObject { .. } => "get-object",
            KubeRead::ListWorkloads { .. } => "list-workloads",
            KubeRead::ListPods { .. } => "list-pods",
            KubeRead::ListNodes { .. } => "list-nodes",
            KubeRead::TailLogs(_) => "tail-pod-logs",
            KubeRead::FindObjects { .. } => "find-objects",
        }
    }

    fn title(&self) -> String {
        let scope = |ns: &Option<String>| match ns {
            Some(ns) => format!("namespace {ns}"),
            None => "all namespaces".to_string(),
        };
        match self {
            KubeRead::ListContexts => "List kubeconfig contexts".to_string(),
            KubeRead::ListEksClusters { scope } => {
                format!("List EKS clusters in {}", scope.region)
            }
            KubeRead::DescribeEksCluster { scope, name } => {
                format!("Describe EKS cluster {name} in {}", scope.region)
            }
            KubeRead::Watch { context, namespace } => {
                format!("Watch {context}, {}", scope(namespace))
            }
            KubeRead::Describe {
                context,
                kind,
                namespace,
                name,
            } => match namespace {
                Some(ns) => format!("Describe {} {ns}/{name} in {context}", kind.word()),
                None => format!("Describe {} {name} in {context}", kind.word()),
            },
            KubeRead::Logs(r) => {
                let previous = if r.previous { " (previous)" } else { "" };
                let container = r
                    .container
                    .as_deref()
                    .map(|c| format!(" container {c}"))
                    .unwrap_or_default();
                match &r.workload {
                    Some(w) => format!(
                        "Logs of {w} ({} pods) in {}/{}{previous}",
                        r.pods.len(),
                        r.context.name(),
                        r.namespace
                    ),
                    None => format!(
                        "Logs of pod {}/{}{container} in {}{previous}",
                        r.namespace,
                        r.pods.first().map(String::as_str).unwrap_or("?"),
                        r.context.name()
                    ),
                }
            }
            KubeRead::GetScale {
                context,
                kind,
                namespace,
                name,
            } => format!(
                "Get the scale of {} {namespace}/{name} in {context}",
                kind.kind().word()
            ),
            KubeRead::GetObject {
                context,
                kind,
                namespace,
                name,
            } => match namespace {
                Some(ns) => format!("Get {} {ns}/{name} in {context}", kind.word()),
                None => format!("Get {} {name} in {context}", kind.word()),
            },
            KubeRead::ListWorkloads { context, namespace } => {
                format!("List workloads of {context}, {}", scope(namespace))
            }
            KubeRead::ListPods { context, namespace } => {
                format!("List pods of {context}, {}", scope(namespace))
            }
            KubeRead::ListNodes { context } => format!("List nodes of {context}"),
            KubeRead::TailLogs(r) => format!(
                "Last {} lines of pod {}/{}{}{} in {}",
                r.lines,
                r.namespace,
                r.pod,
                r.container
                    .as_deref()
                    .map(|c| format!(" container {c}"))
                    .unwrap_or_default(),
                if r.previous { " (previous)" } else { "" },
                r.context.name()
            ),
            KubeRead::FindObjects {
                context,
                kinds,
                namespace,
                name,
            } => format!(
                "Find {} {name} in {context}, {}",
                kinds
                    .iter()
                    .map(|k| k.word())
                    .collect::<Vec<_>>()
                    .join(" or "),
                scope(namespace)
            ),
        }
    }

    fn long_running(&self) -> bool {
        match self {
            KubeRead::Watch { .. } | KubeRead::Logs(_) => true,
            KubeRead::ListContexts
            | KubeRead::ListEksClusters { .. }
            | KubeRead::DescribeEksCluster { .. }
            | KubeRead::Describe { .. }
            | KubeRead::GetScale { .. }
            | KubeRead::GetObject { .. }
            | KubeRead::ListWorkloads { .. }
            | KubeRead::ListPods { .. }
            | KubeRead::ListNodes { .. }
            | KubeRead::TailLogs(_)
            | KubeRead::FindObjects { .. } => false,
        }
    }

    fn streams(&self) -> bool {
        match self {
            // Rows, as the watchers see them, into the inventory.
            KubeRead::Watch { .. } => true,
            // Log lines go into the job's own log (ring + spill), not through a stream.
            KubeRead::Logs(_)
            | KubeRead::ListContexts
            | KubeRead::ListEksClusters { .. }
            | KubeRead::DescribeEksCluster { .. }
            | KubeRead::Describe { .. }
            | KubeRead::GetScale { .. }
            | KubeRead::GetObject { .. }
            | KubeRead::ListWorkloads { .. }
            | KubeRead::ListPods { .. }
            | KubeRead::ListNodes { .. }
            | KubeRead::TailLogs(_)
            | KubeRead::FindObjects { .. } => false,
        }
    }

    fn open_ended(&self) -> bool {
        match self {
            // A watch lasts until it is replaced or the console ends; a follow until the
            // containers end. Both reconnect and back off themselves.
            KubeRead::Watch { .. } | KubeRead::Logs(_) => true,
            KubeRead::ListContexts
            | KubeRead::ListEksClusters { .. }
            | KubeRead::DescribeEksCluster { .. }
            | KubeRead::Describe { .. }
            | KubeRead::GetScale { .. }
            | KubeRead::GetObject { .. }
            | KubeRead::ListWorkloads { .. }
            | KubeRead::ListPods { .. }
            | KubeRead::ListNodes { .. }
            | KubeRead::TailLogs(_)
            | KubeRead::FindObjects { .. } => false,
        }
    }
}

/// A cluster, resolved to the environment it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ClusterTarget {
    pub context: ContextRef,
    /// The cluster: its EKS ARN (or name) when known, else the kubeconfig cluster's name.
    pub cluster: String,
    pub environment: Environment,
}

impl fmt::Display for ClusterTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.context, self.environment)
    }
}

/// A deployment, statefulset or daemonset, by name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct WorkloadTarget {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// Sent as a precondition: a newer object of the same name is never touched.
    pub uid: String,
}

impl fmt::Display for WorkloadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} in {}",
            self.kind.kind().word(),
            self.namespace,
            self.name,
            self.cluster
        )
    }
}

/// Set a deployment's or statefulset's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ScaleWorkload {
    #[serde(flatten)]
    pub target: WorkloadTarget,
    /// The replicas when the scale was asked for.
    pub current: i32,
    pub replicas: i32,
}

/// `kubectl rollout restart`: the `kubectl.kubernetes.io/restartedAt` annotation on the pod
/// template, with the time decided when it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RestartWorkload {
    #[serde(flatten)]
    pub target: WorkloadTarget,
    pub restarted_at: String,
}

/// Delete one pod, with its uid as the precondition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeletePod {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Its controller (`ReplicaSet/web-5d4f`), which makes a new pod; none for a bare pod.
    pub owner: Option<Owner>,
}

/// Cordon (no new pods) or uncordon a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CordonNode {
    #[serde(flatten)]
    pub cluster: ClusterTarget,
    pub name: String,
    pub uid: String,
    /// true: cordon; false: uncordon.
    pub cordon: bool,
}

/// Kubernetes' mutations. A new variant does not compile until every match below and
/// `kube::port::execute` decide about it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KubeMutation {
    Scale(ScaleWorkload),
    Restart(RestartWorkload),
    DeletePod(DeletePod),
    Cordon(CordonNode),
}

macro_rules! into_mutation {
    ($($variant:ident($ty:ident)),* $(,)?) => {$(
        impl From<$ty> for KubeMutation {
            fn from(op: $ty) -> KubeMutation {
                KubeMutation::$variant(op)
            }
        }
        impl From<$ty> for MutatingOp {
            fn from(op: $ty) -> MutatingOp {
                MutatingOp::Kube(KubeMutation::$variant(op))
            }
        }
    )*};
}

into_mutation!(
    Scale(ScaleWorkload),
    Restart(RestartWorkload),
    DeletePod(DeletePod),
    Cordon(CordonNode),
);

impl KubeMutation {
    fn cluster(&self) -> &ClusterTarget {
        match self {
            KubeMutation::Scale(s) => &s.target.cluster,
            KubeMutation::Restart(r) => &r.target.cluster,
            KubeMutation::DeletePod(d) => &d.cluster,
            KubeMutation::Cordon(c) => &c.cluster,
        }
    }

    /// Whether reaching the cluster takes the session's AWS credentials: an EKS cluster
    /// (opsdeck mints its token with them), not a cluster from a kubeconfig alone.
    pub fn uses_aws(&self) -> bool {
        let cluster = self.cluster();
        matches!(cluster.context, ContextRef::Eks { .. }) || cluster.cluster.starts_with("arn:aws")
    }
}

impl Mutation for KubeMutation {
    fn name(&self) -> &'static str {
        match self {
            KubeMutation::Scale(_) => "scale-workload",
            KubeMutation::Restart(_) => "restart-workload",
            KubeMutation::DeletePod(_) => "delete-pod",
            KubeMutation::Cordon(c) if c.cordon => "cordon-node",
            KubeMutation::Cordon(_) => "uncordon-node",
        }
    }

    fn risk(&self) -> RiskTier {
        let prd = self.cluster().environment.is_production_grade();
        match self {
            // Scaling to zero stops the workload: typed, wherever it runs.
            KubeMutation::Scale(s) if prd || s.replicas == 0 => {
                RiskTier::TypeName(s.target.name.clone())
            }
            KubeMutation::Scale(_) => RiskTier::Simple,
            KubeMutation::Restart(r) if prd => RiskTier::TypeName(r.target.name.clone()),
            KubeMutation::Restart(_) => RiskTier::Simple,
            // A pod with no controller is not made again: its delete is for good.
            KubeMutation::DeletePod(d) if prd || d.owner.is_none() => {
                RiskTier::TypeName(d.name.clone())
            }
            KubeMutation::DeletePod(_) => RiskTier::Simple,
            KubeMutation::Cordon(c) if prd => RiskTier::TypeName(c.name.clone()),
            KubeMutation::Cordon(_) => RiskTier::Simple,
        }
    }

    fn policy_block(&self) -> Option<String> {
        match self {
            // Nothing here carries a template to judge; tiers decide.
            KubeMutation::Scale(_)
            | KubeMutation::Restart(_)
            | KubeMutation::DeletePod(_)
            | KubeMutation::Cordon(_) => None,
        }
    }

    fn environment(&self) -> Environment {
        self.cluster().environment
    }

    fn describe(&self) -> String {
        match self {
            KubeMutation::Scale(s) => format!(
                "Scale {}: {} → {} replicas",
                s.target, s.current, s.replicas
            ),
            KubeMutation::Restart(r) => format!(
                "Rollout restart {} (restartedAt {})",
                r.target, r.restarted_at
            ),
            KubeMutation::DeletePod(d) => format!(
                "Delete pod {}/{} (uid {}) in {}{}",
                d.namespace,
                d.name,
                d.uid,
                d.cluster,
                match &d.owner {
                    Some(owner) => format!("; {owner} makes a new one"),
                    None => "; no controller makes it again".to_string(),
                }
            ),
            KubeMutation::Cordon(c) => format!(
                "{} node {} in {}",
                if c.cordon { "Cordon" } else { "Uncordon" },
                c.name,
                c.cluster
            ),
        }
    }

    fn target_key(&self) -> String {
        let cluster = &self.cluster().cluster;
        match self {
            KubeMutation::Scale(ScaleWorkload { target, .. })
            | KubeMutation::Restart(RestartWorkload { target, .. }) => format!(
                "kube:{cluster}/{}/{}/{}",
                target.namespace,
                target.kind.kind().word(),
                target.name
            ),
            KubeMutation::DeletePod(d) => format!("kube:{cluster}/{}/pod/{}", d.namespace, d.name),
            KubeMutation::Cordon(c) => format!("kube:{cluster}/node/{}", c.name),
        }
    }

    fn target_json(&self) -> serde_json::Value {
        match self {
            KubeMutation::Scale(s) => to_json(s),
            KubeMutation::Restart(r) => to_json(r),
            KubeMutation::DeletePod(d) => to_json(d),
            KubeMutation::Cordon(c) => to_json(c),
        }
    }

    fn target_line(&self) -> String {
        match self {
            KubeMutation::Scale(s) => s.target.to_string(),
            KubeMutation::Restart(r) => r.target.to_string(),
            KubeMutation::DeletePod(d) => {
                format!("pod {}/{} in {}", d.namespace, d.name, d.cluster)
            }
            KubeMutation::Cordon(c) => format!("node {} in {}", c.name, c.cluster),
        }
    }

    fn dialog_rows(&self) -> usize {
        match self {
            KubeMutation::Scale(_)
            | KubeMutation::Restart(_)
            | KubeMutation::DeletePod(_)
            | KubeMutation::Cordon(_) => 12,
        }
    }

    fn on_dismiss(&self) -> Option<MutatingOp> {
        match self {
            KubeMutation::Scale(_)
            | KubeMutation::Restart(_)
            | KubeMutation::DeletePod(_)
            | KubeMutation::Cordon(_) => None,
        }
    }

    fn is_cleanup(&self) -> bool {
        match self {
            KubeMutation::Scale(_)
            | KubeMutation::Restart(_)
            | KubeMutation::DeletePod(_)
            | KubeMutation::Cordon(_) => false,
        }
    }

    fn what_may_be_left(&self, _endpoint: Option<&str>) -> Option<String> {
        match self {
            // One request each: it was applied or it was not; nothing half-made stays behind.
            KubeMutation::Scale(_)
            | KubeMutation::Restart(_)
            | KubeMutation::DeletePod(_)
            | KubeMutation::Cordon(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(environment: Environment) -> ClusterTarget {
        ClusterTarget {
            context: ContextRef::kubeconfig("dev-eu"),
            cluster: "arn:aws:eks:eu-west-1:123456789012:cluster/dev".into(),
            environment,
        }
    }

    #[test]
    fn only_an_eks_cluster_takes_the_sessions_aws_credentials() {
        let cordon = |cluster: ClusterTarget| {
            KubeMutation::Cordon(CordonNode {
                cluster,
                name: "n1".into(),
                uid: "u1".into(),
                cordon: true,
            })
        };
        // A kubeconfig context whose cluster is an EKS ARN, and an EKS cluster itself.
        assert!(cordon(cluster(Environment::Dev)).uses_aws());
        let eks = ClusterTarget {
            context: ContextRef::Eks {
                arn: "arn:aws:eks:eu-west-1:123456789012:cluster/dev".into(),
                name: "dev".into(),
                region: "eu-west-1".into(),
            },
            cluster: "dev".into(),
            environment: Environment::Dev,
        };
        assert!(cordon(eks).uses_aws());
        let kind = ClusterTarget {
            context: ContextRef::kubeconfig("kind-local"),
            cluster: "kind-local".into(),
            environment: Environment::Dev,
        };
        assert!(!cordon(kind).uses_aws());
    }

    fn workload(environment: Environment) -> WorkloadTarget {
        WorkloadTarget {
            cluster: cluster(environment),
            kind: WorkloadKind::Deployment,
            namespace: "shop".into(),
            name: "web".into(),
            uid: "u-1".into(),
        }
    }

    fn scale(environment: Environment, current: i32, replicas: i32) -> MutatingOp {
        MutatingOp::from(ScaleWorkload {
            target: workload(environment),
            current,
            replicas,
        })
    }

    fn delete(environment: Environment, owned: bool) -> MutatingOp {
        MutatingOp::from(DeletePod {
            cluster: cluster(environment),
            namespace: "shop".into(),
            name: "web-1".into(),
            uid: "p-1".into(),
            owner: owned.then(|| Owner {
                kind: "ReplicaSet".into(),
                name: "web-5d4f".into(),
                uid: "rs-1".into(),
            }),
        })
    }

    #[test]
    fn tiers_follow_the_issue() {
        let typed = |name: &str| RiskTier::TypeName(name.into());
        for env in [Environment::Dev, Environment::Tst] {
            assert_eq!(scale(env, 3, 5).risk(), RiskTier::Simple);
            assert_eq!(scale(env, 3, 0).risk(), typed("web"), "scale to 0");
            assert_eq!(delete(env, true).risk(), RiskTier::Simple);
            assert_eq!(delete(env, false).risk(), typed("web-1"), "a bare pod");
            let restart = MutatingOp::from(RestartWorkload {
                target: workload(env),
                restarted_at: "2026-01-01T00:00:00Z".into(),
            });
            assert_eq!(restart.risk(), RiskTier::Simple);
            let cordon = MutatingOp::from(CordonNode {
                cluster: cluster(env),
                name: "ip-10-0-0-1".into(),
                uid: "n-1".into(),
                cordon: true,
            });
            assert_eq!(cordon.risk(), RiskTier::Simple);
        }
        for env in [Environment::Prd, Environment::Unmapped] {
            assert_eq!(scale(env, 3, 5).risk(), typed("web"));
            assert_eq!(delete(env, true).risk(), typed("web-1"));
            let cordon = MutatingOp::from(CordonNode {
                cluster: cluster(env),
                name: "ip-10-0-0-1".into(),
                uid: "n-1".into(),
                cordon: false,
            });
            assert_eq!(cordon.risk(), typed("ip-10-0-0-1"));
            assert_eq!(cordon.name(), "uncordon-node");
        }
    }

    #[test]
    fn the_audit_target_names_context_cluster_namespace_name_and_uid() {
        let json = scale(Environment::Dev, 3, 5).target_json();
        assert_eq!(json["context"]["context"], "dev-eu");
        assert_eq!(
            json["cluster"],
            "arn:aws:eks:eu-west-1:123456789012:cluster/dev"
        );
        assert_eq!(json["namespace"], "shop");
        assert_eq!(json["name"], "web");
        assert_eq!(json["uid"], "u-1");
        assert_eq!(json["current"], 3);
        assert_eq!(json["replicas"], 5);
        assert_eq!(json["environment"], "DEV");
        let op = scale(Environment::Dev, 3, 5);
        assert_eq!(op.name(), "scale-workload");
        assert!(op.describe().contains("3 → 5"), "{}", op.describe());
        assert_eq!(
            op.target_key(),
            "kube:arn:aws:eks:eu-west-1:123456789012:cluster/dev/shop/deployment/web"
        );
    }

    #[test]
    fn watches_and_follows_are_open_ended_streams_or_logs() {
        let watch = KubeRead::Watch {
            context: ContextRef::kubeconfig("dev"),
            namespace: None,
        };
        assert!(watch.streams() && watch.open_ended() && watch.long_running());
        let logs = KubeRead::Logs(LogRequest {
            context: ContextRef::kubeconfig("dev"),
            namespace: "shop".into(),
            pods: vec!["web-1".into()],
            container: None,
            previous: false,
            workload: None,
        });
        assert!(!logs.streams() && logs.open_ended());
        assert_eq!(logs.name(), "pod-logs");
        assert!(!KubeRead::ListContexts.open_ended());
    }
}
