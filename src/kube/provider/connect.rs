//! A client for a context: from the kubeconfig files (kubectl's rules), or for an EKS cluster
//! straight from DescribeCluster. EKS credentials are a token opsdeck signs and renews itself
//! (see `token.rs`) whenever the context's exec plugin only fetches one; any other plugin runs
//! as kubectl would run it, never attached to the console's terminal.

use super::kubeconfig::{self, KubeconfigError};
use super::token::{TokenCell, TokenSource, spawn_renewer};
use super::{KubeSettings, eks, refused_setup};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::kube::model::{ContextRef, EksAuth};
use aws_credential_types::provider::SharedCredentialsProvider;
use kube::config::{
    AuthInfo, Cluster, Context, ExecInteractiveMode, KubeConfigOptions, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A connected cluster.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    /// Set by the token renewer when the token could not be renewed in time.
    pub auth_problem: Arc<Mutex<Option<String>>>,
}

impl Connection {
    pub fn auth_problem(&self) -> Option<String> {
        self.auth_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Everything a connection may need from the session.
pub struct Session<'a> {
    pub settings: &'a KubeSettings,
    pub sdk: &'a aws_config::SdkConfig,
    pub eks: &'a super::eks::Eks,
}

impl From<KubeconfigError> for ProviderError {
    fn from(e: KubeconfigError) -> ProviderError {
        ProviderError::new(ErrorKind::Invalid, e.0)
    }
}

pub async fn connect(session: &Session<'_>, context: &ContextRef) -> ProviderResult<Connection> {
    match context {
        ContextRef::Kubeconfig { context } => {
            let flag = session.settings.kubeconfig.clone();
            let loaded = tokio::task::spawn_blocking(move || kubeconfig::load(flag.as_deref()))
                .await
                .map_err(|e| refused_setup(format!("cannot read the kubeconfig: {e}")))??;
            let view = kubeconfig::view(&loaded);
            let Some(info) = view.context(context) else {
                return Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!(
                        "no context {context} in {}; :ctx lists the contexts",
                        if view.files.is_empty() {
                            "the kubeconfig (no file found)".to_string()
                        } else {
                            view.files.join(", ")
                        }
                    ),
                ));
            };
            let eks = info.eks.clone();
            let options = KubeConfigOptions {
                context: Some(context.clone()),
                ..KubeConfigOptions::default()
            };
            let config = kube::Config::from_custom_kubeconfig(loaded.config, &options)
                .await
                .map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("context {context} cannot be used: {e}"),
                    )
                })?;
            match eks {
                Some(auth) => native(session, config, &auth).await,
                None => with_kubeconfig_auth(config).await,
            }
        }
        ContextRef::Eks { name, region, .. } => {
            let endpoint = eks::endpoint(session.eks, name).await?;
            let config = in_memory(&endpoint)?;
            let config = kube::Config::from_custom_kubeconfig(
                config,
                &KubeConfigOptions {
                    context: Some(endpoint.arn.clone()),
                    ..KubeConfigOptions::default()
                },
            )
            .await
            .map_err(|e| {
                ProviderError::new(
                    ErrorKind::Invalid,
                    format!("EKS cluster {name} cannot be used: {e}"),
                )
            })?;
            let auth = EksAuth {
                cluster: name.clone(),
                region: Some(region.clone()),
                profile: None,
            };
            native(session, config, &auth).await
        }
    }
}

/// A kubeconfig holding only this cluster, with no user: the token comes from opsdeck.
fn in_memory(endpoint: &eks::ClusterEndpoint) -> ProviderResult<Kubeconfig> {
    Ok(Kubeconfig {
        clusters: vec![NamedCluster {
            name: endpoint.arn.clone(),
            cluster: Some(Cluster {
                server: Some(endpoint.endpoint.clone()),
                certificate_authority_data: Some(endpoint.certificate_authority.clone()),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: endpoint.arn.clone(),
            auth_info: Some(AuthInfo::default()),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: endpoint.arn.clone(),
            context: Some(Context {
                cluster: endpoint.arn.clone(),
                user: Some(endpoint.arn.clone()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(endpoint.arn.clone()),
        ..Kubeconfig::default()
    })
}

/// What opsdeck changes in every client's configuration.
fn tune(config: &mut kube::Config) {
    // The engine owns retries (reads with backoff, changes never); kube's own would retry a
    // change on 503 up to 15 times.
    config.default_retry = false;
    config.connect_timeout = Some(Duration::from_secs(10));
    // kube matches NO_PROXY against the proxy's address, not the cluster's: decide here.
    if let Some(host) = config.cluster_url.host()
        && bypasses_proxy(host)
    {
        config.proxy_url = None;
    }
}

/// Whether a cluster host is reached directly: loopback, or listed in `NO_PROXY`.
pub fn bypasses_proxy(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if matches!(host, "localhost" | "::1") || host.starts_with("127.") {
        return true;
    }
    let list = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    no_proxy_matches(&list, host)
}

pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry.split(':').next().unwrap_or(entry);
            entry == "*"
                || host.eq_ignore_ascii_case(entry.trim_start_matches('.'))
                || host.to_ascii_lowercase().ends_with(&format!(
                    ".{}",
                    entry.trim_start_matches('.').to_ascii_lowercase()
                ))
        })
}

/// The kubeconfig's own credentials (token, certificate, a foreign exec plugin). kube runs
/// a plugin while building the client, synchronously: off the async threads, never attached
/// to the terminal.
async fn with_kubeconfig_auth(mut config: kube::Config) -> ProviderResult<Connection> {
    tune(&mut config);
    if let Some(exec) = config.auth_info.exec.as_mut() {
        exec.interactive_mode = Some(ExecInteractiveMode::Never);
    }
    let client = tokio::task::spawn_blocking(move || {
        kube::client::ClientBuilder::try_from(config).map(|b| b.build())
    })
    .await
    .map_err(|e| refused_setup(format!("cannot build the client: {e}")))?
    .map_err(|e| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "cannot connect with the kubeconfig's credentials: {}",
                super::short(&e)
            ),
        )
    })?;
    Ok(Connection {
        client,
        auth_problem: Arc::default(),
    })
}

/// The EKS token signed here, renewed every 10 minutes.
async fn native(
    session: &Session<'_>,
    mut config: kube::Config,
    auth: &EksAuth,
) -> ProviderResult<Connection> {
    tune(&mut config);
    let region = auth
        .region
        .clone()
        .or_else(|| session.sdk.region().map(|r| r.to_string()))
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "no region for the EKS token of {}: use --region or AWS_REGION",
                    auth.cluster
                ),
            )
        })?;
    let provider = credentials(session, auth.profile.as_deref(), &region).await?;
    let source = Arc::new(TokenSource::new(provider, &region, &auth.cluster));
    let (token, _) = source
        .token()
        .await
        .map_err(|e| ProviderError::new(ErrorKind::Credentials, e))?;
    let cell = TokenCell::new(&token).map_err(|e| ProviderError::new(ErrorKind::Invalid, e))?;
    config.auth_info = AuthInfo::default();
    let layer_cell = cell.clone();
    let layer =
        tower::util::MapRequestLayer::new(move |mut request: http::Request<kube::client::Body>| {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, layer_cell.get());
            request
        });
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "cannot build the client for {}: {}",
                    auth.cluster,
                    super::short(&e)
                ),
            )
        })?
        .with_layer(&layer)
        .build();
    let auth_problem: Arc<Mutex<Option<String>>> = Arc::default();
    let state = auth_problem.clone();
    spawn_renewer(
        source,
        &cell,
        Arc::new(move |problem| {
            *state.lock().unwrap_or_else(|p| p.into_inner()) = problem;
        }),
    );
    Ok(Connection {
        client,
        auth_problem,
    })
}

/// The credential chain, for the plugin's profile when it names one.
async fn credentials(
    session: &Session<'_>,
    profile: Option<&str>,
    region: &str,
) -> ProviderResult<SharedCredentialsProvider> {
    let provider = match profile {
        None => session.sdk.credentials_provider(),
        Some(profile) => aws_config::defaults(aws_config::BehaviorVersion::latest())
            .profile_name(profile)
            .region(aws_config::Region::new(region.to_string()))
            .load()
            .await
            .credentials_provider(),
    };
    provider.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Credentials,
            "no AWS credential provider is configured for the EKS token",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_and_domains() {
        assert!(no_proxy_matches("*", "k"));
        assert!(no_proxy_matches(
            "10.0.0.1,.eks.amazonaws.com",
            "abc.gr7.eu-west-1.eks.amazonaws.com"
        ));
        assert!(no_proxy_matches(
            "eks.amazonaws.com:443",
            "x.eks.amazonaws.com"
        ));
        assert!(!no_proxy_matches("example.com", "eks.amazonaws.com"));
        assert!(bypasses_proxy("127.0.0.1") && bypasses_proxy("[::1]"));
    }
}
