//! EKS through aws-sdk-eks: the clusters of the session's region (every page), each described,
//! with its node groups (instance types and sizes).

use crate::aws::calls::Site;
use crate::aws::clean;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::kube::model::{EksCluster, EksNodegroup};

/// Pages read of any one listing: far above any real account, a bound on a misbehaving peer.
const MAX_PAGES: usize = 100;

/// The EKS client of a session, and where its calls go (for the sentence a failure becomes).
pub struct Eks {
    pub client: aws_sdk_eks::Client,
    pub(crate) site: Site,
}

/// What a native connection needs of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterEndpoint {
    pub arn: String,
    pub endpoint: String,
    /// Base64 PEM.
    pub certificate_authority: String,
}

pub async fn list_clusters(
    eks: &Eks,
    region: &str,
    ctx: &TaskCtx,
) -> ProviderResult<Vec<EksCluster>> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = eks
            .client
            .list_clusters()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| eks.site.fail("ListClusters", e))?;
        names.extend(out.clusters().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    ctx.info(format!("{} EKS cluster(s) in {region}", names.len()));
    let mut clusters = Vec::with_capacity(names.len());
    for name in names {
        if ctx.is_cancelled() {
            return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
        }
        let out = eks
            .client
            .describe_cluster()
            .name(&name)
            .send()
            .await
            .map_err(|e| eks.site.fail("DescribeCluster", e))?;
        let Some(c) = out.cluster() else {
            continue;
        };
        let (nodegroups, nodegroup_error) = match list_nodegroups(eks, &name).await {
            Ok(groups) => (groups, None),
            Err(e) => {
                ctx.warn(format!("node groups of {name}: {e}"));
                (Vec::new(), Some(e.to_string()))
            }
        };
        clusters.push(EksCluster {
            name: clean(c.name().or(Some(&name))),
            arn: clean(c.arn()),
            region: region.to_string(),
            version: clean(c.version()),
            status: clean(c.status().map(|s| s.as_str())),
            endpoint: clean(c.endpoint()),
            nodegroups,
            nodegroup_error,
        });
    }
    Ok(clusters)
}

async fn list_nodegroups(eks: &Eks, cluster: &str) -> ProviderResult<Vec<EksNodegroup>> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let out = eks
            .client
            .list_nodegroups()
            .cluster_name(cluster)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| eks.site.fail("ListNodegroups", e))?;
        names.extend(out.nodegroups().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        let out = eks
            .client
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(&name)
            .send()
            .await
            .map_err(|e| eks.site.fail("DescribeNodegroup", e))?;
        let Some(g) = out.nodegroup() else {
            continue;
        };
        let scaling = g.scaling_config();
        groups.push(EksNodegroup {
            name: clean(Some(&name)),
            status: clean(g.status().map(|s| s.as_str())),
            instance_types: g.instance_types().iter().map(|t| clean(Some(t))).collect(),
            min: scaling.and_then(|s| s.min_size()),
            max: scaling.and_then(|s| s.max_size()),
            desired: scaling.and_then(|s| s.desired_size()),
        });
    }
    Ok(groups)
}

/// DescribeCluster, for what a connection needs.
pub async fn endpoint(eks: &Eks, name: &str) -> ProviderResult<ClusterEndpoint> {
    let out = eks
        .client
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| eks.site.fail("DescribeCluster", e))?;
    let c = out.cluster().ok_or_else(|| {
        ProviderError::new(ErrorKind::NotFound, format!("EKS has no cluster {name}"))
    })?;
    let endpoint = c.endpoint().unwrap_or_default().to_string();
    let ca = c
        .certificate_authority()
        .and_then(|a| a.data())
        .unwrap_or_default()
        .to_string();
    if endpoint.is_empty() || ca.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "EKS cluster {name} has no endpoint or certificate yet (status {}); try again once it is ACTIVE",
                c.status().map(|s| s.as_str()).unwrap_or("unknown")
            ),
        ));
    }
    Ok(ClusterEndpoint {
        arn: c.arn().unwrap_or_default().to_string(),
        endpoint,
        certificate_authority: ca,
    })
}
