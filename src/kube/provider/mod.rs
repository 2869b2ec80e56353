//! Kubernetes through kube-rs and EKS through aws-sdk-eks: the only code that talks to API
//! servers and to EKS. It holds the gate's binding and refuses an approval another gate
//! minted, and a change whose context now points at another cluster than the one confirmed.

pub mod change;
pub mod connect;
pub mod describe;
pub mod eks;
pub mod kubeconfig;
pub mod list;
pub mod logs;
pub mod rows;
pub mod token;
pub mod watch;

use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::kube::model::{
    ContextRef, EksCluster, EksEndpoint, FoundObject, KubeKind, KubeconfigView, LogTail,
    NodeListing, ObjectInfo, PodListing, ScaleInfo,
};
use crate::kube::ops::{
    ClusterTarget, CordonNode, DeletePod, LogRequest, RestartWorkload, ScaleWorkload, TailRequest,
    WorkloadKind,
};
use crate::kube::port::KubeApi;
use crate::ops::{Approved, GateBinding};
use connect::Connection;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;

/// Where the kubeconfig comes from and which context the console starts in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeSettings {
    /// `--kubeconfig FILE`; else `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`; else the kubeconfig's current context.
    pub context: Option<String>,
}

/// Kubernetes and EKS for one session.
pub struct KubeProvider {
    settings: KubeSettings,
    sdk: aws_config::SdkConfig,
    eks: eks::Eks,
    /// The gate whose approvals this provider accepts.
    binding: GateBinding,
    /// One client per cluster, made on first use.
    connections: tokio::sync::Mutex<HashMap<ContextRef, Connection>>,
}

impl KubeProvider {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        aws: &crate::aws::AwsSettings,
        settings: KubeSettings,
        binding: GateBinding,
    ) -> KubeProvider {
        KubeProvider {
            settings,
            eks: eks::Eks {
                client: aws_sdk_eks::Client::new(sdk),
                site: aws.site("EKS", sdk.region().map(|r| r.to_string())),
            },
            sdk: sdk.clone(),
            binding,
            connections: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn connection(&self, context: &ContextRef) -> ProviderResult<Connection> {
        let mut connections = self.connections.lock().await;
        if let Some(c) = connections.get(context) {
            return Ok(c.clone());
        }
        let session = connect::Session {
            settings: &self.settings,
            sdk: &self.sdk,
            eks: &self.eks,
        };
        let c = connect::connect(&session, context).await?;
        connections.insert(context.clone(), c.clone());
        Ok(c)
    }

    /// The cluster a context points at now (what `ClusterTarget::cluster` recorded).
    async fn cluster_of(&self, context: &ContextRef) -> ProviderResult<String> {
        match context {
            ContextRef::Eks { arn, .. } => Ok(arn.clone()),
            ContextRef::Kubeconfig { context } => {
                let view = self.view().await?;
                view.context(context)
                    .map(|c| c.cluster_id())
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::NotFound,
                            format!("the kubeconfig has no context {context} any more"),
                        )
                    })
            }
        }
    }

    async fn view(&self) -> ProviderResult<KubeconfigView> {
        let flag = self.settings.kubeconfig.clone();
        let loaded = tokio::task::spawn_blocking(move || kubeconfig::load(flag.as_deref()))
            .await
            .map_err(|e| refused_setup(format!("cannot read the kubeconfig: {e}")))??;
        Ok(kubeconfig::view(&loaded))
    }

    /// Why this provider must not run an approved change: another gate's approval, or a
    /// context that now points at another cluster than the one confirmed.
    async fn check<T>(
        &self,
        approved: &Approved<T>,
        cluster: &ClusterTarget,
    ) -> ProviderResult<()> {
        if let Err(foreign) = self.binding.check(approved) {
            return Err(ProviderError::new(ErrorKind::Invalid, foreign.to_string()));
        }
        let now = self.cluster_of(&cluster.context).await?;
        if now != cluster.cluster {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "{} now points at {now}, not at {} as confirmed; refusing",
                    cluster.context, cluster.cluster
                ),
            ));
        }
        Ok(())
    }
}

/// An error in opsdeck's own set-up (a task that could not run).
pub(crate) fn refused_setup(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Other, message)
}

/// The first line of an error's text, credentials masked.
pub(crate) fn short(e: &dyn std::fmt::Display) -> String {
    let full = e.to_string();
    let text = crate::redact::redact(&full);
    crate::aws::clean(Some(text.lines().next().unwrap_or_default()))
}

/// kube's error → a kind the engine acts on and a sentence for the person.
pub fn classify(e: kube::Error) -> ProviderError {
    match &e {
        kube::Error::Api(status) => {
            let message = crate::aws::clean(Some(&crate::redact::redact(&status.message)));
            let (kind, text) = match status.code {
                401 => (
                    ErrorKind::Other,
                    format!(
                        "the API server did not accept the credentials (401 Unauthorized): {message}; check the context's user, or run `opsdeck eks kubeconfig` for an EKS cluster"
                    ),
                ),
                403 => (
                    ErrorKind::Other,
                    format!("forbidden by the cluster's RBAC (403): {message}"),
                ),
                404 => (ErrorKind::NotFound, format!("not found (404): {message}")),
                409 => (
                    ErrorKind::Invalid,
                    format!("it changed since it was asked for (409 Conflict): {message}"),
                ),
                400 | 422 => (
                    ErrorKind::Invalid,
                    format!("refused ({}): {message}", status.code),
                ),
                429 => (
                    ErrorKind::Throttled,
                    format!("rate limited (429): {message}"),
                ),
                code if code >= 500 => (
                    ErrorKind::Server,
                    format!("the API server failed ({code}): {message}"),
                ),
                code => (ErrorKind::Other, format!("HTTP {code}: {message}")),
            };
            ProviderError {
                code: (!status.reason.is_empty()).then(|| crate::aws::clean(Some(&status.reason))),
                ..ProviderError::new(kind, text)
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            ProviderError::new(
                ErrorKind::Network,
                format!("cannot reach the API server: {}", short(&e)),
            )
        }
        kube::Error::Auth(_) => ProviderError::new(
            ErrorKind::Other,
            format!("cannot authenticate to the cluster: {}", short(&e)),
        ),
        _ => ProviderError::new(ErrorKind::Other, short(&e)),
    }
}

fn boxed<'a, T: Send + 'a>(
    f: impl std::future::Future<Output = ProviderResult<T>> + Send + 'a,
) -> BoxFuture<'a, ProviderResult<T>> {
    Box::pin(f)
}

impl KubeApi for KubeProvider {
    fn list_contexts<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<KubeconfigView>> {
        boxed(async move {
            let view = self.view().await?;
            ctx.info(format!(
                "{} context(s) from {}",
                view.contexts.len(),
                if view.files.is_empty() {
                    "no kubeconfig file".to_string()
                } else {
                    view.files.join(", ")
                }
            ));
            // A kubeconfig written since (opsdeck eks kubeconfig, say) takes effect now.
            self.connections.lock().await.clear();
            Ok(view)
        })
    }

    fn list_eks_clusters<'a>(
        &'a self,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<EksCluster>>> {
        boxed(async move {
            let region = self.sdk.region().map(|r| r.to_string()).ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    "no AWS region configured: use --region or AWS_REGION",
                )
            })?;
            eks::list_clusters(&self.eks, &region, ctx).await
        })
    }

    fn describe_eks_cluster<'a>(
        &'a self,
        name: &'a str,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<EksEndpoint>> {
        boxed(async move {
            let region = self.sdk.region().map(|r| r.to_string()).ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    "no AWS region configured: use --region or AWS_REGION",
                )
            })?;
            let endpoint = eks::endpoint(&self.eks, name).await?;
            ctx.info(format!("EKS cluster {name}: {}", endpoint.arn));
            Ok(EksEndpoint {
                name: name.to_string(),
                arn: endpoint.arn,
                region,
                endpoint: endpoint.endpoint,
                certificate_authority: endpoint.certificate_authority,
            })
        })
    }

    fn watch<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            watch::watch(&connection, context, namespace, ctx).await
        })
    }

    fn describe<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: KubeKind,
        namespace: Option<&'a str>,
        name: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            describe::describe(&connection.client, kind, namespace, name).await
        })
    }

    fn logs<'a>(
        &'a self,
        request: &'a LogRequest,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            let connection = self.connection(&request.context).await?;
            logs::follow(&connection.client, request, ctx).await
        })
    }

    fn tail_logs<'a>(
        &'a self,
        request: &'a TailRequest,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<LogTail>> {
        boxed(async move {
            let connection = self.connection(&request.context).await?;
            logs::tail(&connection.client, request, ctx).await
        })
    }

    fn list_pods<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<PodListing>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            list::pods(&connection.client, context, namespace, ctx).await
        })
    }

    fn list_nodes<'a>(
        &'a self,
        context: &'a ContextRef,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<NodeListing>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            list::nodes(&connection.client, context, ctx).await
        })
    }

    fn find_objects<'a>(
        &'a self,
        context: &'a ContextRef,
        kinds: &'a [KubeKind],
        namespace: Option<&'a str>,
        name: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<FoundObject>>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            list::find(&connection.client, kinds, namespace, name).await
        })
    }

    fn get_scale<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: WorkloadKind,
        namespace: &'a str,
        name: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ScaleInfo>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            describe::get_scale(&connection.client, kind, namespace, name).await
        })
    }

    fn get_object<'a>(
        &'a self,
        context: &'a ContextRef,
        kind: KubeKind,
        namespace: Option<&'a str>,
        name: &'a str,
        _ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<ObjectInfo>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            describe::get_object(&connection.client, kind, namespace, name).await
        })
    }

    fn list_workloads<'a>(
        &'a self,
        context: &'a ContextRef,
        namespace: Option<&'a str>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<Vec<serde_json::Value>>> {
        boxed(async move {
            let connection = self.connection(context).await?;
            describe::list_workloads(&connection.client, namespace, ctx).await
        })
    }

    fn scale<'a>(
        &'a self,
        approved: Approved<ScaleWorkload>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            self.check(&approved, &approved.op().target.cluster).await?;
            let connection = self
                .connection(&approved.op().target.cluster.context)
                .await?;
            change::scale(&connection.client, approved, ctx).await
        })
    }

    fn restart<'a>(
        &'a self,
        approved: Approved<RestartWorkload>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            self.check(&approved, &approved.op().target.cluster).await?;
            let connection = self
                .connection(&approved.op().target.cluster.context)
                .await?;
            change::restart(&connection.client, approved, ctx).await
        })
    }

    fn delete_pod<'a>(
        &'a self,
        approved: Approved<DeletePod>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            self.check(&approved, &approved.op().cluster).await?;
            let connection = self.connection(&approved.op().cluster.context).await?;
            change::delete_pod(&connection.client, approved, ctx).await
        })
    }

    fn cordon<'a>(
        &'a self,
        approved: Approved<CordonNode>,
        ctx: &'a TaskCtx,
    ) -> BoxFuture<'a, ProviderResult<String>> {
        boxed(async move {
            self.check(&approved, &approved.op().cluster).await?;
            let connection = self.connection(&approved.op().cluster.context).await?;
            change::cordon(&connection.client, approved, ctx).await
        })
    }
}
