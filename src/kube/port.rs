//! Kubernetes as the engine sees it: the port a provider implements, what its reads and
//! changes yield, and the dispatch from an operation to the port's method. Every mutating
//! method demands the approval for exactly its operation.

use crate::engine::ports::ProviderResult;
use crate::engine::task::TaskCtx;
use crate::kube::model::{
    ContextRef, EksCluster, EksEndpoint, FoundObject, KubeKind, KubeconfigView, LogTail,
    NodeListing, ObjectInfo, PodListing, ScaleInfo,
};
use crate::kube::ops::{
    CordonNode, DeletePod, KubeMutation, KubeRead, LogRequest, RestartWorkload, ScaleWorkload,
    TailRequest, WorkloadKind,
};
use crate::ops::Approved;
use futures::future::BoxFuture;

/// What a Kubernetes read yields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KubeOutput {
    Contexts(KubeconfigView),
    EksClusters(Vec<EksCluster>),
    EksEndpoint(EksEndpoint),
    /// A watch ended (it was cancelled, or could not start).
    WatchEnded {
        context: ContextRef,
        summary: String,
    },
    Described {
        context: ContextRef,
        kind: KubeKind,
        namespace: Option<String>,
        name: String,
        /// YAML, managed fields dropped and a Secret's values never included.
        yaml: String,
    },
    /// A log follow ended: how many lines it stored, and why it ended.
    LogsEnded {
        summary: String,
    },
    Scale(ScaleInfo),
    Object(ObjectInfo),
    /// Objects for the compliance rules (JSON, as the API returned them).
    Workloads {
        context: ContextRef,
        namespace: Option<String>,
        objects: Vec<serde_json::Value>,
    },
    Pods(PodListing),
    Nodes(NodeListing),
    LogTail(LogTail),
    /// Objects found by name (plans).
    Found(Vec<FoundObject>),
}

impl KubeOutput {
    /// What `opsdeck run` prints for the outputs a person reads (the listings and a log's
    /// last lines); `None` for the others, which it reports as done.
    pub fn text(&self) -> Option<String> {
        match self {
            KubeOutput::Pods(listing) => Some(listing.text()),
            KubeOutput::Nodes(listing) => Some(listing.text()),
            KubeOutput::LogTail(tail) => Some(tail.text()),
            _ => None,
        }
    }
}

/// What a Kubernetes change yields: a one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeOutcome(pub String);

impl KubeOutcome {
    pub fn summary(&self) -> String {
        self.0.clone()
    }
}

/// An approved Kubernetes change narrowed to its operation.
#[derive(Debug)]
pub enum ApprovedKube {
    Scale(Approved<ScaleWorkload>),
    Restart(Approved<RestartWorkload>),
    DeletePod(Approved<DeletePod>),
    Cordon(Approved<CordonNode>),
}

impl Approved<KubeMutation> {
    pub fn split(self) -> ApprovedKube {
        let (op, proof) = self.into_parts();
        match op {
            KubeMutation::Scale(s) => ApprovedKube::Scale(proof.attach(s)),
            KubeMutation::Restart(r) => ApprovedKube::Restart(proof.attach(r)),
            KubeMutation::DeletePod(d) => ApprovedKube::DeletePod(proof.attach(d)),
            KubeMutation::Cordon(c) => ApprovedKube::Cordon(proof.attach(c)),
        }
    }
}

/// Kubernetes and EKS as the engine sees them.
pub trait KubeApi: Send + Sync {
    /// Every context of the kubeconfig files, as kubectl reads them.
    fn list_contexts<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<KubeconfigView>>;

    /// EKS clusters in the session's region, described, with their node groups.
    fn list_eks_clusters<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<EksCluster>>>;

    /// DescribeCluster of one EKS cluster.
    fn describe_eks_cluster<'a>(
        &'a self,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<EksEndpoint>>;

    /// Watch the inventory's kinds until the job is cancelled, sending rows through the
    /// job's stream (`KubeUpdate`). Errors of a watch are sent as `Disconnected` and retried
    /// with backoff; only a cluster that cannot be reached at all ends it with an error.
    fn watch<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    fn describe<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: KubeKind,
        namespace: Option<&'a str>,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// Follow the logs into the job's log, every line, at the pace they are stored.
    fn logs<'a>(
        &'a self,
        request: &'a LogRequest,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// The last lines of one container's log, read once (no follow): it ends.
    fn tail_logs<'a>(
        &'a self,
        request: &'a TailRequest,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<LogTail>>;

    /// The pods of a namespace (or all), listed once, bounded.
    fn list_pods<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<PodListing>>;

    /// The nodes, listed once, bounded.
    fn list_nodes<'a>(
        &'a self,
        context: &'a ContextRef,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<NodeListing>>;

    /// Objects of these kinds named `name`, in one namespace or in all.
    fn find_objects<'a>(
        &'a self,
        context: &'a ContextRef,
        kinds: &'a [KubeKind],
        namespace: Option<&'a str>,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<FoundObject>>>;

    fn get_scale<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: WorkloadKind,
        namespace: &'a str,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ScaleInfo>>;

    fn get_object<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: KubeKind,
        namespace: Option<&'a str>,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ObjectInfo>>;

    fn list_workloads<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<serde_json::Value>>>;

    /// PATCH the scale subresource (replicas, with the uid as precondition).
    fn scale<'a>(
        &'a self,
        approved: Approved<ScaleWorkload>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// The pod template's `kubectl.kubernetes.io/restartedAt` annotation, as kubectl sets it.
    fn restart<'a>(
        &'a self,
        approved: Approved<RestartWorkload>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// DELETE with the uid as precondition.
    fn delete_pod<'a>(
        &'a self,
        approved: Approved<DeletePod>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;

    /// `spec.unschedulable`, as kubectl cordon/uncordon patch it.
    fn cordon<'a>(
        &'a self,
        approved: Approved<CordonNode>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>>;
}

/// Run one Kubernetes read.
pub async fn read(api: &dyn KubeApi, op: &KubeRead, ctx: &TaskCtx) -> ProviderResult<KubeOutput> {
    match op {
        KubeRead::ListContexts => api.list_contexts(ctx).await.map(KubeOutput::Contexts),
        KubeRead::ListEksClusters { .. } => api
            .list_eks_clusters(ctx)
            .await
            .map(KubeOutput::EksClusters),
        KubeRead::DescribeEksCluster { name, .. } => api
            .describe_eks_cluster(name, ctx)
            .await
            .map(KubeOutput::EksEndpoint),
        KubeRead::Watch { context, namespace } => api
            .watch(context, namespace.as_deref(), ctx)
            .await
            .map(|summary| KubeOutput::WatchEnded {
                context: context.clone(),
                summary,
            }),
        KubeRead::Describe {
            context,
            kind,
            namespace,
            name,
        } => api
            .describe(context, *kind, namespace.as_deref(), name, ctx)
            .await
            .map(|yaml| KubeOutput::Described {
                context: context.clone(),
                kind: *kind,
                namespace: namespace.clone(),
                name: name.clone(),
                yaml,
            }),
        KubeRead::Logs(request) => api
            .logs(request, ctx)
            .await
            .map(|summary| KubeOutput::LogsEnded { summary }),
        KubeRead::GetScale {
            context,
            kind,
            namespace,
            name,
        } => api
            .get_scale(context, *kind, namespace, name, ctx)
            .await
            .map(KubeOutput::Scale),
        KubeRead::GetObject {
            context,
            kind,
            namespace,
            name,
        } => api
            .get_object(context, *kind, namespace.as_deref(), name, ctx)
            .await
            .map(KubeOutput::Object),
        KubeRead::ListWorkloads { context, namespace } => api
            .list_workloads(context, namespace.as_deref(), ctx)
            .await
            .map(|objects| KubeOutput::Workloads {
                context: context.clone(),
                namespace: namespace.clone(),
                objects,
            }),
        KubeRead::ListPods { context, namespace } => api
            .list_pods(context, namespace.as_deref(), ctx)
            .await
            .map(KubeOutput::Pods),
        KubeRead::ListNodes { context } => {
            api.list_nodes(context, ctx).await.map(KubeOutput::Nodes)
        }
        KubeRead::TailLogs(request) => api.tail_logs(request, ctx).await.map(KubeOutput::LogTail),
        KubeRead::FindObjects {
            context,
            kinds,
            namespace,
            name,
        } => api
            .find_objects(context, kinds, namespace.as_deref(), name, ctx)
            .await
            .map(KubeOutput::Found),
    }
}

/// Run one approved Kubernetes change through the provider method that demands it.
pub async fn execute(
    api: &dyn KubeApi,
    approved: Approved<KubeMutation>,
    ctx: &TaskCtx,
) -> ProviderResult<KubeOutcome> {
    let done = match approved.split() {
        ApprovedKube::Scale(a) => api.scale(a, ctx).await,
        ApprovedKube::Restart(a) => api.restart(a, ctx).await,
        ApprovedKube::DeletePod(a) => api.delete_pod(a, ctx).await,
        ApprovedKube::Cordon(a) => api.cordon(a, ctx).await,
    };
    done.map(KubeOutcome)
}

/// A Kubernetes port for engine and console tests: answers from memory and records what it
/// was asked, refusing (like the real provider) an approval its gate did not mint.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use crate::engine::ports::{ErrorKind, ProviderError};
    use crate::engine::stream::StreamItem;
    use crate::kube::model::{KubeRow, KubeUpdate, NamespaceRow};
    use crate::ops::GateBinding;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct FakeKube {
        pub calls: Mutex<Vec<String>>,
        /// Lines a log follow writes before its container "ends".
        pub log_lines: usize,
        pub binding: Mutex<Option<GateBinding>>,
    }

    impl FakeKube {
        fn call(&self, what: impl Into<String>) {
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(what.into());
        }

        pub fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }

        fn check<T>(&self, approved: &Approved<T>) -> ProviderResult<()> {
            match &*self.binding.lock().unwrap_or_else(|p| p.into_inner()) {
                Some(binding) => binding
                    .check(approved)
                    .map_err(|e| ProviderError::new(ErrorKind::Invalid, e.to_string())),
                None => Ok(()),
            }
        }
    }

    fn none<'a, T: Send + 'a>(what: &str) -> BoxFuture<'a, ProviderResult<T>> {
        let e = ProviderError::new(ErrorKind::NotFound, format!("{what}: not in this test"));
        Box::pin(async move { Err(e) })
    }

    impl KubeApi for FakeKube {
        fn list_contexts<'a>(
            &'a self,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<KubeconfigView>> {
            self.call("list-contexts");
            Box::pin(async { Ok(KubeconfigView::default()) })
        }

        fn list_eks_clusters<'a>(
            &'a self,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<Vec<EksCluster>>> {
            self.call("list-eks-clusters");
            Box::pin(async { Ok(Vec::new()) })
        }

        fn describe_eks_cluster<'a>(
            &'a self,
            name: &'a str,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<EksEndpoint>> {
            none(name)
        }

        /// One namespace listed, then nothing until cancelled.
        fn watch<'a>(
            &'a self,
            context: &'a ContextRef,
            _namespace: Option<&'a str>,
            ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            self.call(format!("watch {}", context.name()));
            Box::pin(async move {
                let row = KubeRow::Namespace(NamespaceRow {
                    name: "default".into(),
                    uid: "ns-1".into(),
                    status: "Active".into(),
                    created: None,
                });
                ctx.emit(StreamItem::Kube(Box::new(KubeUpdate::Listed {
                    kind: crate::kube::model::KubeKind::Namespace,
                    rows: vec![row],
                })))
                .await;
                ctx.cancelled().await;
                Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"))
            })
        }

        fn describe<'a>(
            &'a self,
            _context: &'a ContextRef,
            _kind: KubeKind,
            _namespace: Option<&'a str>,
            name: &'a str,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            none(name)
        }

        fn logs<'a>(
            &'a self,
            request: &'a LogRequest,
            ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            self.call(format!("logs {}", request.pods.join(",")));
            Box::pin(async move {
                let lines: Vec<String> = (0..self.log_lines).map(|i| format!("line {i}")).collect();
                ctx.info_lines(lines.iter().map(String::as_str));
                Ok(format!("{} lines; the container ended", self.log_lines))
            })
        }

        fn tail_logs<'a>(
            &'a self,
            request: &'a TailRequest,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<LogTail>> {
            none(&request.pod)
        }

        fn list_pods<'a>(
            &'a self,
            context: &'a ContextRef,
            _namespace: Option<&'a str>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<PodListing>> {
            none(context.name())
        }

        fn list_nodes<'a>(
            &'a self,
            context: &'a ContextRef,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<NodeListing>> {
            none(context.name())
        }

        fn find_objects<'a>(
            &'a self,
            _context: &'a ContextRef,
            _kinds: &'a [KubeKind],
            _namespace: Option<&'a str>,
            name: &'a str,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<Vec<FoundObject>>> {
            none(name)
        }

        fn get_scale<'a>(
            &'a self,
            _context: &'a ContextRef,
            _kind: WorkloadKind,
            _namespace: &'a str,
            name: &'a str,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<ScaleInfo>> {
            none(name)
        }

        fn get_object<'a>(
            &'a self,
            _context: &'a ContextRef,
            _kind: KubeKind,
            _namespace: Option<&'a str>,
            name: &'a str,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<ObjectInfo>> {
            none(name)
        }

        fn list_workloads<'a>(
            &'a self,
            _context: &'a ContextRef,
            _namespace: Option<&'a str>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<Vec<serde_json::Value>>> {
            Box::pin(async { Ok(Vec::new()) })
        }

        fn scale<'a>(
            &'a self,
            approved: Approved<ScaleWorkload>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            let checked = self.check(&approved);
            self.call(format!(
                "scale {} to {}",
                approved.op().target.name,
                approved.op().replicas
            ));
            Box::pin(async move { checked.map(|()| "scaled".to_string()) })
        }

        fn restart<'a>(
            &'a self,
            approved: Approved<RestartWorkload>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            let checked = self.check(&approved);
            self.call(format!("restart {}", approved.op().target.name));
            Box::pin(async move { checked.map(|()| "restarted".to_string()) })
        }

        fn delete_pod<'a>(
            &'a self,
            approved: Approved<DeletePod>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            let checked = self.check(&approved);
            self.call(format!("delete {}", approved.op().name));
            Box::pin(async move { checked.map(|()| "deleted".to_string()) })
        }

        fn cordon<'a>(
            &'a self,
            approved: Approved<CordonNode>,
            _ctx: &'a TaskCtx,
        ) -> BoxFuture<'a, ProviderResult<String>> {
            let checked = self.check(&approved);
            self.call(format!("cordon {}", approved.op().name));
            Box::pin(async move { checked.map(|()| "cordoned".to_string()) })
        }
    }
}
