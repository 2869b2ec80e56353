//! Kubernetes as opsdeck shows it: contexts, EKS clusters, and compact rows of the watched
//! objects. Rows are built from the API objects by the provider (off the UI thread) and keep
//! only what the views, drill-downs and plans need, so 10,000 pods stay small. Nothing here
//! does I/O.

use serde::Serialize;
use std::fmt;

/// The kinds the inventory watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum KubeKind {
    Namespace,
    Node,
    Deployment,
    StatefulSet,
    DaemonSet,
    Pod,
    Event,
}

impl KubeKind {
    pub const ALL: [KubeKind; 7] = [
        KubeKind::Namespace,
        KubeKind::Node,
        KubeKind::Deployment,
        KubeKind::StatefulSet,
        KubeKind::DaemonSet,
        KubeKind::Pod,
        KubeKind::Event,
    ];

    /// The kind as the API names it (`Deployment`).
    pub fn as_str(self) -> &'static str {
        match self {
            KubeKind::Namespace => "Namespace",
            KubeKind::Node => "Node",
            KubeKind::Deployment => "Deployment",
            KubeKind::StatefulSet => "StatefulSet",
            KubeKind::DaemonSet => "DaemonSet",
            KubeKind::Pod => "Pod",
            KubeKind::Event => "Event",
        }
    }

    /// Lower-case, as in `kubectl get deployment` and job titles.
    pub fn word(self) -> &'static str {
        match self {
            KubeKind::Namespace => "namespace",
            KubeKind::Node => "node",
            KubeKind::Deployment => "deployment",
            KubeKind::StatefulSet => "statefulset",
            KubeKind::DaemonSet => "daemonset",
            KubeKind::Pod => "pod",
            KubeKind::Event => "event",
        }
    }

    /// The plural, as in view titles (`pods`).
    pub fn plural(self) -> &'static str {
        match self {
            KubeKind::Namespace => "namespaces",
            KubeKind::Node => "nodes",
            KubeKind::Deployment => "deployments",
            KubeKind::StatefulSet => "statefulsets",
            KubeKind::DaemonSet => "daemonsets",
            KubeKind::Pod => "pods",
            KubeKind::Event => "events",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        match self {
            KubeKind::Namespace | KubeKind::Node => false,
            KubeKind::Deployment
            | KubeKind::StatefulSet
            | KubeKind::DaemonSet
            | KubeKind::Pod
            | KubeKind::Event => true,
        }
    }
}

impl fmt::Display for KubeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which cluster a view or an operation talks to: a kubeconfig context (by name), or an EKS
/// cluster reached natively (endpoint and CA from DescribeCluster, a token opsdeck signs),
/// which needs no kubeconfig at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum ContextRef {
    Kubeconfig {
        context: String,
    },
    Eks {
        arn: String,
        name: String,
        region: String,
    },
}

impl ContextRef {
    pub fn kubeconfig(name: impl Into<String>) -> ContextRef {
        ContextRef::Kubeconfig {
            context: name.into(),
        }
    }

    /// The name people know it by: the context, or the EKS cluster's name.
    pub fn name(&self) -> &str {
        match self {
            ContextRef::Kubeconfig { context } => context,
            ContextRef::Eks { name, .. } => name,
        }
    }
}

impl fmt::Display for ContextRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextRef::Kubeconfig { context } => write!(f, "context {context}"),
            ContextRef::Eks { name, region, .. } => write!(f, "EKS cluster {name} ({region})"),
        }
    }
}

/// An EKS cluster a context's credentials come from (its exec plugin, or the cluster's ARN as
/// its kubeconfig name), so opsdeck can sign the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EksAuth {
    pub cluster: String,
    /// `--region`, when the plugin names one.
    pub region: Option<String>,
    /// `AWS_PROFILE` in the plugin's environment, when set.
    pub profile: Option<String>,
}

/// One kubeconfig context, as `:ctx` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextInfo {
    pub name: String,
    /// The kubeconfig cluster entry's name (an ARN for contexts `aws eks update-kubeconfig`
    /// wrote).
    pub cluster: String,
    pub server: Option<String>,
    pub user: Option<String>,
    /// The context's namespace: the starting scope (else all namespaces).
    pub namespace: Option<String>,
    /// How the user authenticates, in a few words: `token`, `exec aws`, `client certificate`.
    pub auth: String,
    /// Set when the context's credentials are an EKS token opsdeck can sign natively.
    pub eks: Option<EksAuth>,
    pub current: bool,
}

impl ContextInfo {
    /// What identifies the cluster for environment mapping and audit: an EKS ARN when the
    /// kubeconfig names one, else the EKS cluster name, else the kubeconfig cluster name.
    pub fn cluster_id(&self) -> String {
        if self.cluster.starts_with("arn:") {
            return self.cluster.clone();
        }
        match &self.eks {
            Some(eks) => eks.cluster.clone(),
            None => self.cluster.clone(),
        }
    }
}

/// Every context of the kubeconfig files opsdeck reads (kubectl's rules), and which files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct KubeconfigView {
    pub files: Vec<String>,
    pub current: Option<String>,
    pub contexts: Vec<ContextInfo>,
}

impl KubeconfigView {
    pub fn context(&self, name: &str) -> Option<&ContextInfo> {
        self.contexts.iter().find(|c| c.name == name)
    }
}

/// An EKS managed node group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EksNodegroup {
    pub name: String,
    pub status: String,
    pub instance_types: Vec<String>,
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub desired: Option<i32>,
}

/// An EKS cluster, from ListClusters + DescribeCluster + its node groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EksCluster {
    pub name: String,
    pub arn: String,
    pub region: String,
    pub version: String,
    pub status: String,
    pub endpoint: String,
    pub nodegroups: Vec<EksNodegroup>,
    /// Why the node groups could not be listed, if they could not.
    pub nodegroup_error: Option<String>,
}

/// What a kubeconfig entry needs of an EKS cluster (DescribeCluster).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EksEndpoint {
    pub name: String,
    pub arn: String,
    pub region: String,
    pub endpoint: String,
    /// Base64 PEM.
    pub certificate_authority: String,
}

/// An object's owner, as its first controller reference names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Owner {
    pub kind: String,
    pub name: String,
    pub uid: String,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRow {
    pub name: String,
    pub uid: String,
    pub status: String,
    /// Creation time, seconds since the epoch.
    pub created: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    pub uid: String,
    /// `Ready`, `NotReady`, `Unknown`, with `,SchedulingDisabled` when cordoned.
    pub status: String,
    pub roles: String,
    pub version: String,
    pub unschedulable: bool,
    pub created: Option<i64>,
}

/// A deployment or a statefulset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRow {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `spec.replicas`.
    pub desired: i32,
    pub ready: i32,
    pub up_to_date: i32,
    pub available: i32,
    /// `spec.selector.matchLabels`, to find its pods.
    pub selector: Vec<(String, String)>,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSetRow {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub desired: i32,
    pub current: i32,
    pub ready: i32,
    pub up_to_date: i32,
    pub available: i32,
    pub selector: Vec<(String, String)>,
    pub created: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRow {
    pub name: String,
    pub image: String,
    pub init: bool,
    pub ready: bool,
    /// `Running`, `Waiting: CrashLoopBackOff`, `Terminated: Completed`…
    pub state: String,
    pub restarts: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Ready containers / containers.
    pub ready: (u16, u16),
    /// As kubectl shows it: the phase, or the reason a container waits or ended.
    pub status: String,
    pub restarts: i32,
    pub node: String,
    pub owner: Option<Owner>,
    pub labels: Vec<(String, String)>,
    pub containers: Vec<ContainerRow>,
    pub created: Option<i64>,
}

impl PodRow {
    /// Whether its labels match a selector (matchLabels).
    pub fn matches(&self, selector: &[(String, String)]) -> bool {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(k, v)| self.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }

    /// The containers logs can be read from (init containers last).
    pub fn log_containers(&self) -> Vec<&ContainerRow> {
        let mut out: Vec<&ContainerRow> = self.containers.iter().filter(|c| !c.init).collect();
        out.extend(self.containers.iter().filter(|c| c.init));
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub namespace: String,
    pub uid: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    /// `Pod/web-1`.
    pub object: String,
    pub object_uid: String,
    pub message: String,
    pub count: i32,
    /// When it was last seen, seconds since the epoch.
    pub last_seen: Option<i64>,
}

/// One watched object, as a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeRow {
    Namespace(NamespaceRow),
    Node(NodeRow),
    Deployment(WorkloadRow),
    StatefulSet(WorkloadRow),
    DaemonSet(DaemonSetRow),
    Pod(Box<PodRow>),
    Event(EventRow),
}

impl KubeRow {
    pub fn kind(&self) -> KubeKind {
        match self {
            KubeRow::Namespace(_) => KubeKind::Namespace,
            KubeRow::Node(_) => KubeKind::Node,
            KubeRow::Deployment(_) => KubeKind::Deployment,
            KubeRow::StatefulSet(_) => KubeKind::StatefulSet,
            KubeRow::DaemonSet(_) => KubeKind::DaemonSet,
            KubeRow::Pod(_) => KubeKind::Pod,
            KubeRow::Event(_) => KubeKind::Event,
        }
    }

    pub fn uid(&self) -> &str {
        match self {
            KubeRow::Namespace(r) => &r.uid,
            KubeRow::Node(r) => &r.uid,
            KubeRow::Deployment(r) | KubeRow::StatefulSet(r) => &r.uid,
            KubeRow::DaemonSet(r) => &r.uid,
            KubeRow::Pod(r) => &r.uid,
            KubeRow::Event(r) => &r.uid,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            KubeRow::Namespace(r) => &r.name,
            KubeRow::Node(r) => &r.name,
            KubeRow::Deployment(r) | KubeRow::StatefulSet(r) => &r.name,
            KubeRow::DaemonSet(r) => &r.name,
            KubeRow::Pod(r) => &r.name,
            KubeRow::Event(r) => &r.reason,
        }
    }

    pub fn namespace(&self) -> Option<&str> {
        match self {
            KubeRow::Namespace(_) | KubeRow::Node(_) => None,
            KubeRow::Deployment(r) | KubeRow::StatefulSet(r) => Some(&r.namespace),
            KubeRow::DaemonSet(r) => Some(&r.namespace),
            KubeRow::Pod(r) => Some(&r.namespace),
            KubeRow::Event(r) => Some(&r.namespace),
        }
    }
}

/// What a cluster watch tells the console, per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeUpdate {
    /// A (re)list finished: these are all the objects of the kind (absent ones are gone).
    Listed {
        kind: KubeKind,
        rows: Vec<KubeRow>,
    },
    /// Added or modified.
    Applied(KubeRow),
    Deleted {
        kind: KubeKind,
        uid: String,
    },
    /// The watch of this kind failed; it backs off and resumes (relisting on 410 Gone). The
    /// rows stay, shown as stale, until it is back.
    Disconnected {
        kind: KubeKind,
        reason: String,
    },
    /// The API server answers for this kind again (its watch resumes where it was).
    Connected {
        kind: KubeKind,
    },
}

/// A workload's scale subresource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleInfo {
    pub replicas: i32,
    pub uid: String,
}

/// What a plan needs to know about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    pub uid: String,
    pub resource_version: String,
    pub owner: Option<Owner>,
    /// Nodes: whether it is cordoned.
    pub unschedulable: bool,
}

/// `5d`, `3h`, `12m`, `40s`, as k9s shows ages (`created`: seconds since the epoch).
pub fn age(created: Option<i64>, now_ms: i64) -> String {
    let Some(created) = created else {
        return "—".into();
    };
    let secs = (now_ms / 1000 - created).max(0);
    if secs < 120 {
        format!("{secs}s")
    } else if secs < 120 * 60 {
        format!("{}m", secs / 60)
    } else if secs < 48 * 3600 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}d", secs / 86_400)
    }
}

/// One pod as `list-pods` answers it: the Pods view's columns, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodLine {
    pub name: String,
    /// Only when the listing spans namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Ready containers / containers (`1/2`).
    pub ready: String,
    pub status: String,
    pub restarts: i32,
    pub age: String,
    pub node: String,
}

impl PodLine {
    /// The row as the Pods view shows it, `now_ms` deciding the age.
    pub fn of(row: &PodRow, with_namespace: bool, now_ms: i64) -> PodLine {
        PodLine {
            name: row.name.clone(),
            namespace: with_namespace.then(|| row.namespace.clone()),
            ready: format!("{}/{}", row.ready.0, row.ready.1),
            status: row.status.clone(),
            restarts: row.restarts,
            age: age(row.created, now_ms),
            node: row.node.clone(),
        }
    }
}

/// `list-pods`: a one-shot listing (not a watch), bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodListing {
    /// The context's name.
    pub context: String,
    /// The namespace listed; `None`: all namespaces.
    pub namespace: Option<String>,
    pub pods: Vec<PodLine>,
    /// Set when the cluster has more pods than a listing holds: what was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// One node as `list-nodes` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeLine {
    pub name: String,
    /// `Ready`, `NotReady` or `Unknown` (with `,SchedulingDisabled` when cordoned).
    pub status: String,
    pub cordoned: bool,
    pub roles: String,
    /// The kubelet's version.
    pub version: String,
    pub age: String,
}

impl NodeLine {
    pub fn of(row: &NodeRow, now_ms: i64) -> NodeLine {
        NodeLine {
            name: row.name.clone(),
            status: row.status.clone(),
            cordoned: row.unschedulable,
            roles: row.roles.clone(),
            version: row.version.clone(),
            age: age(row.created, now_ms),
        }
    }
}

/// `list-nodes`: a one-shot listing, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeListing {
    pub context: String,
    pub nodes: Vec<NodeLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// `pod-logs` from the command line and the assistant: the last lines of a container's log,
/// read once (no follow), so the read ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogTail {
    pub context: String,
    pub namespace: String,
    pub pod: String,
    /// `None`: the pod's only (or default) container.
    pub container: Option<String>,
    /// The previous instance of the container.
    pub previous: bool,
    /// How many lines were asked for.
    pub requested: u32,
    /// The lines, oldest first, control characters removed. (A list named `tail` is the end
    /// of something longer: the assistant's compaction keeps its end.)
    pub tail: Vec<String>,
    /// Set when a line or the whole read was cut to stay bounded: what was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
}

/// An object a plan looked for by name (`find-objects`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundObject {
    pub kind: KubeKind,
    pub namespace: String,
    pub name: String,
}

/// Columns, left-aligned, two spaces apart (as kubectl prints them).
fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out
    };
    let mut lines = vec![line(header.iter().map(|h| h.to_string()).collect())];
    lines.extend(rows.iter().cloned().map(line));
    lines.join("\n")
}

impl PodListing {
    /// What `opsdeck run list-pods` prints: the Pods view's columns, then what was left out.
    pub fn text(&self) -> String {
        let scope = match &self.namespace {
            Some(ns) => format!("namespace {ns}"),
            None => "all namespaces".to_string(),
        };
        if self.pods.is_empty() {
            return format!("No pods in {scope} of {}.", self.context);
        }
        let spans = self.pods.iter().any(|p| p.namespace.is_some());
        let mut header = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"];
        if spans {
            header.insert(0, "NAMESPACE");
        }
        let rows: Vec<Vec<String>> = self
            .pods
            .iter()
            .map(|p| {
                let mut row = vec![
                    p.name.clone(),
                    p.ready.clone(),
                    p.status.clone(),
                    p.restarts.to_string(),
                    p.age.clone(),
                    p.node.clone(),
                ];
                if spans {
                    row.insert(0, p.namespace.clone().unwrap_or_default());
                }
                row
            })
            .collect();
        let mut text = columns(&header, &rows);
        if let Some(more) = &self.more {
            text.push_str(&format!("\n({more})"));
        }
        text
    }
}

impl NodeListing {
    /// What `opsdeck run list-nodes` prints.
    pub fn text(&self) -> String {
        if self.nodes.is_empty() {
            return format!("No nodes in {}.", self.context);
        }
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| {
                vec![
                    n.name.clone(),
                    n.status.clone(),
                    n.roles.clone(),
                    n.age.clone(),
                    n.version.clone(),
                ]
            })
            .collect();
        let mut text = columns(&["NAME", "STATUS", "ROLES", "AGE", "VERSION"], &rows);
        if let Some(more) = &self.more {
            text.push_str(&format!("\n({more})"));
        }
        text
    }
}

impl LogTail {
    /// What `opsdeck run pod-logs` prints: the lines, then what was cut, if anything.
    pub fn text(&self) -> String {
        let mut lines = self.tail.clone();
        if let Some(cut) = &self.cut {
            lines.push(format!("({cut})"));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod listing_tests {
    use super::*;

    #[test]
    fn listings_print_as_kubectl_columns() {
        let pod = |name: &str, namespace: Option<&str>| PodLine {
            name: name.into(),
            namespace: namespace.map(str::to_string),
            ready: "1/1".into(),
            status: "Running".into(),
            restarts: 0,
            age: "5d".into(),
            node: "node-1".into(),
        };
        let listing = PodListing {
            context: "dev".into(),
            namespace: Some("shop".into()),
            pods: vec![pod("web-1", None), pod("checkout-2", None)],
            more: None,
        };
        assert_eq!(
            listing.text(),
            "NAME        READY  STATUS   RESTARTS  AGE  NODE\n\
             web-1       1/1    Running  0         5d   node-1\n\
             checkout-2  1/1    Running  0         5d   node-1"
        );
        let all = PodListing {
            namespace: None,
            pods: vec![pod("web-1", Some("shop"))],
            more: Some("more pods than the 1 shown; name a namespace".into()),
            ..listing
        };
        assert!(all.text().starts_with("NAMESPACE  NAME"), "{}", all.text());
        assert!(
            all.text()
                .ends_with("(more pods than the 1 shown; name a namespace)")
        );
        let none = PodListing {
            pods: Vec::new(),
            more: None,
            ..all
        };
        assert_eq!(none.text(), "No pods in all namespaces of dev.");
    }
}
