//! The EKS bearer token, signed by opsdeck itself (no `aws` CLI, no aws-iam-authenticator).
//!
//! The token is `k8s-aws-v1.` + base64url (no padding) of an STS `GetCallerIdentity` URL
//! presigned with SigV4 (service `sts`, the cluster's region, `X-Amz-Expires=60`) whose signed
//! headers include `x-k8s-aws-id: <cluster name>`. EKS hands the URL to STS to learn who is
//! calling; STS accepts it for 15 minutes after its `X-Amz-Date`, so a token is treated as
//! expiring after 14 (as aws-cli and aws-iam-authenticator do) and renewed well before.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How long a token is used for (STS accepts it for 15 minutes).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
/// How often a connected cluster's token is renewed: well inside its lifetime, so one failed
/// renewal (retried with backoff) still leaves a valid token.
pub const RENEW_EVERY: Duration = Duration::from_secs(10 * 60);
/// The exec plugin API version kubectl gets when it does not say which it wants.
pub const DEFAULT_EXEC_API: &str = "client.authentication.k8s.io/v1beta1";

/// STS's regional endpoint host.
pub fn sts_host(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("sts.{region}.{suffix}")
}

/// Sign a token for `cluster` (its name) in `region` at `now`.
pub fn eks_token(
    creds: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<String, String> {
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(region)
    );
    // `SigningSettings` is non-exhaustive: change its fields.
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign the EKS token: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        [("x-k8s-aws-id", cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| format!("cannot sign the EKS token: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign the EKS token: {e}"))?
        .into_parts();
    let mut request = http::Request::get(url.as_str())
        .body(())
        .map_err(|e| format!("cannot sign the EKS token: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();
    Ok(format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    ))
}

/// The ExecCredential kubectl reads from an exec plugin's stdout. `api_version` echoes what
/// kubectl asked for in `KUBERNETES_EXEC_INFO` (v1 or v1beta1; else v1beta1).
pub fn exec_credential(token: &str, expires: SystemTime, api_version: &str) -> String {
    let stamp = humantime::format_rfc3339_seconds(expires).to_string();
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": { "expirationTimestamp": stamp, "token": token },
    })
    .to_string()
}

/// The API version to answer `KUBERNETES_EXEC_INFO` with.
pub fn exec_api_version(exec_info: Option<&str>) -> &'static str {
    let asked = exec_info
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v["apiVersion"].as_str().map(str::to_string));
    match asked.as_deref() {
        Some("client.authentication.k8s.io/v1") => "client.authentication.k8s.io/v1",
        _ => DEFAULT_EXEC_API,
    }
}

/// Signs tokens for one cluster from a credential provider, keeping the credentials while
/// they stay valid for five more minutes (the SDK's providers themselves do not cache).
pub struct TokenSource {
    provider: SharedCredentialsProvider,
    region: String,
    cluster: String,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

impl TokenSource {
    pub fn new(provider: SharedCredentialsProvider, region: &str, cluster: &str) -> TokenSource {
        TokenSource {
            provider,
            region: region.to_string(),
            cluster: cluster.to_string(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A fresh token and when it stops being used.
    pub async fn token(&self) -> Result<(String, SystemTime), String> {
        let creds = {
            let mut cached = self.cached.lock().await;
            let fresh = cached.as_ref().is_some_and(|c| {
                c.expiry()
                    .is_none_or(|e| e > SystemTime::now() + Duration::from_secs(300))
            });
            if !fresh {
                let creds = self.provider.provide_credentials().await.map_err(|e| {
                    format!(
                        "no usable AWS credentials for the EKS token of {}: {e}",
                        self.cluster
                    )
                })?;
                *cached = Some(creds);
            }
            cached.clone().ok_or("no AWS credentials")?
        };
        let now = SystemTime::now();
        let token = eks_token(&creds, &self.region, &self.cluster, now)?;
        Ok((token, now + TOKEN_LIFETIME))
    }
}

/// The `Authorization` header value every request of a connected EKS cluster carries,
/// replaced by the renewer; marked sensitive so no log prints it.
#[derive(Clone)]
pub struct TokenCell(Arc<RwLock<http::HeaderValue>>);

impl TokenCell {
    pub fn new(token: &str) -> Result<TokenCell, String> {
        Ok(TokenCell(Arc::new(RwLock::new(header(token)?))))
    }

    pub fn set(&self, token: &str) -> Result<(), String> {
        let value = header(token)?;
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = value;
        Ok(())
    }

    pub fn get(&self) -> http::HeaderValue {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A cell that ends its renewer once every client holding it is gone.
    pub fn downgrade(&self) -> std::sync::Weak<RwLock<http::HeaderValue>> {
        Arc::downgrade(&self.0)
    }
}

fn header(token: &str) -> Result<http::HeaderValue, String> {
    let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| "the EKS token is not a valid header value".to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Renew `cell` every [`RENEW_EVERY`] until no client holds it any more. A failed renewal is
/// retried with backoff (5 s doubling to 60 s) while the previous token is still valid;
/// `on_state` hears "auth expired: why" once the token is older than its lifetime, and `None`
/// when a renewal worked again.
pub fn spawn_renewer(
    source: Arc<TokenSource>,
    cell: &TokenCell,
    on_state: Arc<dyn Fn(Option<String>) + Send + Sync>,
) {
    let weak = cell.downgrade();
    tokio::spawn(async move {
        let mut issued = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let mut backoff = Duration::from_secs(5);
            loop {
                if weak.strong_count() == 0 {
                    return;
                }
                match source.token().await {
                    Ok((token, _)) => {
                        let Some(lock) = weak.upgrade() else {
                            return;
                        };
                        if let Ok(value) = header(&token) {
                            *lock.write().unwrap_or_else(|p| p.into_inner()) = value;
                        }
                        issued = tokio::time::Instant::now();
                        on_state(None);
                        break;
                    }
                    Err(e) => {
                        if issued.elapsed() >= TOKEN_LIFETIME {
                            on_state(Some(format!("auth expired: {e}")));
                        }
                        tracing::warn!("EKS token renewal failed: {e}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_credential_echoes_the_asked_version() {
        assert_eq!(exec_api_version(None), DEFAULT_EXEC_API);
        assert_eq!(
            exec_api_version(Some(
                r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}"#
            )),
            "client.authentication.k8s.io/v1"
        );
        assert_eq!(exec_api_version(Some("not json")), DEFAULT_EXEC_API);
        let text = exec_credential(
            "k8s-aws-v1.abc",
            std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            DEFAULT_EXEC_API,
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["status"]["expirationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(v["status"]["token"], "k8s-aws-v1.abc");
    }

    /// Credentials about to expire, counted each time they are asked for.
    #[derive(Debug, Default, Clone)]
    struct Counter(Arc<std::sync::atomic::AtomicUsize>);

    impl ProvideCredentials for Counter {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let expiry = SystemTime::now() + Duration::from_secs(60);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID",
                "secret",
                None,
                Some(expiry),
                "test",
            )))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connected_clusters_token_is_renewed_before_fourteen_minutes() {
        let counter = Counter::default();
        let provider = SharedCredentialsProvider::new(counter.clone());
        let source = Arc::new(TokenSource::new(provider, "eu-west-1", "dev"));
        let (token, expires) = source.token().await.expect("a token");
        assert!(expires <= SystemTime::now() + TOKEN_LIFETIME);
        let cell = TokenCell::new(&token).expect("a header");
        assert!(cell.get().is_sensitive(), "never printed by a log");
        let problems = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = problems.clone();
        spawn_renewer(
            source,
            &cell,
            Arc::new(move |p| seen.lock().unwrap().push(p)),
        );
        let asked = |c: &Counter| c.0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(asked(&counter), 1);
        tokio::time::sleep(RENEW_EVERY - Duration::from_secs(1)).await;
        assert_eq!(asked(&counter), 1, "not before its time");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            asked(&counter),
            2,
            "renewed after 10 minutes, well before 14"
        );
        assert!(RENEW_EVERY < TOKEN_LIFETIME);
        assert_eq!(*problems.lock().unwrap(), [None]);
        // Once no client holds the cell, the renewer stops.
        drop(cell);
        tokio::time::sleep(RENEW_EVERY * 3).await;
        assert_eq!(asked(&counter), 2);
    }

    #[test]
    fn china_regions_use_their_own_domain() {
        assert_eq!(sts_host("eu-west-1"), "sts.eu-west-1.amazonaws.com");
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn a_token_is_a_presigned_get_caller_identity_url() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = eks_token(&creds, "eu-west-1", "dev", now).expect("signs");
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.strip_prefix("k8s-aws-v1.").expect("prefix"))
                .expect("base64url"),
        )
        .expect("utf-8");
        assert!(
            url.starts_with(
                "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60"), "{url}");
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Date=20231114T221320Z"), "{url}");
        assert!(token.len() < 4096);
    }
}
