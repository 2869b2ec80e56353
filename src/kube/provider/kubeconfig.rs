//! Kubeconfig files as kubectl reads them, and `opsdeck eks kubeconfig` writing one.
//!
//! Which files: `--kubeconfig FILE` alone when given (it must exist); else every path of
//! `KUBECONFIG` (colon-separated; empty entries and missing files skipped), merged with the
//! first file winning for each name and for `current-context`; else `~/.kube/config` (none is
//! an empty configuration). Each file goes through the one guarded reader for user files, and
//! relative certificate, key, token-file and exec paths are made absolute against the file's
//! directory, as kubectl does.

use crate::kube::model::{ContextInfo, EksAuth, KubeconfigView};
use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, Kubeconfig, NamedAuthInfo,
    NamedCluster, NamedContext,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The kubeconfig files and what they hold.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub files: Vec<PathBuf>,
    pub config: Kubeconfig,
}

/// Why kubeconfig files could not be used, as a sentence naming the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KubeconfigError(pub String);

/// The files kubectl would read, in order.
pub fn paths(flag: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = flag {
        return vec![path.to_path_buf()];
    }
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let listed: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !listed.is_empty() {
            return listed;
        }
    }
    default_path().into_iter().collect()
}

/// `~/.kube/config`.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
}

/// Read and merge the files (see the module's rules). A file named by `--kubeconfig` must
/// exist; listed or default files that do not are skipped, as kubectl skips them.
pub fn load(flag: Option<&Path>) -> Result<Loaded, KubeconfigError> {
    let mut loaded = Loaded::default();
    for path in paths(flag) {
        let text = match crate::files::read_text(&path, crate::files::FileKind::Kubeconfig) {
            Ok(text) => text,
            Err(e) if flag.is_none() && e.is_missing() => continue,
            Err(e) => return Err(KubeconfigError(e.to_string())),
        };
        let config = parse(&text, &path)?;
        loaded.config = loaded.config.merge(config).map_err(|e| {
            KubeconfigError(format!(
                "{}: cannot merge it with the files before it: {e}",
                path.display()
            ))
        })?;
        loaded.files.push(path);
    }
    Ok(loaded)
}

/// One file's text, with relative paths made absolute against its directory.
pub fn parse(text: &str, path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let mut config = Kubeconfig::from_yaml(text)
        .map_err(|e| KubeconfigError(format!("{}: not a kubeconfig file: {e}", path.display())))?;
    if let Some(dir) = path.parent() {
        absolutize(&mut config, dir);
    }
    Ok(config)
}

fn absolute(dir: &Path, path: &mut String) {
    let p = Path::new(path.as_str());
    if p.is_relative() && !path.is_empty() {
        *path = dir.join(p).display().to_string();
    }
}

fn absolutize(config: &mut Kubeconfig, dir: &Path) {
    for cluster in config
        .clusters
        .iter_mut()
        .filter_map(|c| c.cluster.as_mut())
    {
        if let Some(ca) = cluster.certificate_authority.as_mut() {
            absolute(dir, ca);
        }
    }
    for auth in config
        .auth_infos
        .iter_mut()
        .filter_map(|a| a.auth_info.as_mut())
    {
        for path in [
            auth.client_certificate.as_mut(),
            auth.client_key.as_mut(),
            auth.token_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            absolute(dir, path);
        }
        // Like client-go: only a command with a path separator is a path; `aws` is looked up
        // in PATH.
        if let Some(command) = auth.exec.as_mut().and_then(|e| e.command.as_mut())
            && command.contains('/')
        {
            absolute(dir, command);
        }
    }
}

/// What `:ctx` lists.
pub fn view(loaded: &Loaded) -> KubeconfigView {
    let config = &loaded.config;
    let contexts = config
        .contexts
        .iter()
        .map(|named| {
            let context = named.context.clone().unwrap_or_default();
            let cluster = config
                .clusters
                .iter()
                .find(|c| c.name == context.cluster)
                .and_then(|c| c.cluster.as_ref());
            let auth = context.user.as_ref().and_then(|user| {
                config
                    .auth_infos
                    .iter()
                    .find(|a| &a.name == user)
                    .and_then(|a| a.auth_info.as_ref())
            });
            ContextInfo {
                name: crate::aws::clean(Some(&named.name)),
                cluster: crate::aws::clean(Some(&context.cluster)),
                server: cluster.and_then(|c| c.server.clone()),
                user: context.user.clone(),
                namespace: context.namespace.clone().filter(|n| !n.is_empty()),
                auth: auth.map_or_else(|| "none".to_string(), describe_auth),
                eks: auth.and_then(|a| a.exec.as_ref()).and_then(eks_auth),
                current: config.current_context.as_deref() == Some(named.name.as_str()),
            }
        })
        .collect();
    KubeconfigView {
        files: loaded
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        current: config.current_context.clone(),
        contexts,
    }
}

/// How a user authenticates, in a few words (never the secret itself).
fn describe_auth(auth: &AuthInfo) -> String {
    if let Some(exec) = &auth.exec {
        let command = exec.command.as_deref().unwrap_or("?");
        let base = Path::new(command)
            .file_name()
            .map_or(command.to_string(), |n| n.to_string_lossy().into_owned());
        return format!("exec {base}");
    }
    if auth.token.is_some() || auth.token_file.is_some() {
        "token".into()
    } else if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() {
        "client certificate".into()
    } else if auth.auth_provider.is_some() {
        "auth provider".into()
    } else if auth.username.is_some() {
        "basic".into()
    } else {
        "none".into()
    }
}

/// The value after `flag` (`--flag V` or `--flag=V`).
fn arg(args: &[String], flags: &[&str]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        for flag in flags {
            if a == flag {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Whether an exec plugin only fetches an EKS token opsdeck can sign itself, and for which
/// cluster: `aws eks get-token --cluster-name N [--region R]`, `aws-iam-authenticator token
/// -i N`, or `opsdeck eks token --cluster N [--region R]`. Anything else (an assumed role,
/// an Outposts cluster id, other environment) is left to the plugin.
pub fn eks_auth(exec: &ExecConfig) -> Option<EksAuth> {
    let command = exec.command.as_deref()?;
    let base = Path::new(command)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let args = exec.args.clone().unwrap_or_default();
    let has = |word: &str| args.iter().any(|a| a == word);
    let mut profile = None;
    for entry in exec.env.iter().flatten() {
        match (entry.get("name").map(String::as_str), entry.get("value")) {
            (Some("AWS_PROFILE"), Some(value)) => profile = Some(value.clone()),
            (Some("AWS_REGION" | "AWS_DEFAULT_REGION" | "AWS_STS_REGIONAL_ENDPOINTS"), _) => {}
            // Something the plugin would see that opsdeck would not honour.
            _ => return None,
        }
    }
    let region = arg(&args, &["--region"]);
    let (cluster, profile) = match base.as_str() {
        "aws" => {
            if !(has("eks") && has("get-token"))
                || has("--role-arn")
                || has("--cluster-id")
                || arg(&args, &["--role-arn", "--cluster-id"]).is_some()
            {
                return None;
            }
            let profile = arg(&args, &["--profile"]).or(profile);
            (arg(&args, &["--cluster-name"])?, profile)
        }
        "aws-iam-authenticator" => {
            if !has("token") || arg(&args, &["-r", "--role"]).is_some() {
                return None;
            }
            (arg(&args, &["-i", "--cluster-id"])?, profile)
        }
        name if name == "opsdeck" || is_this_binary(command) => {
            if !(has("eks") && has("token")) {
                return None;
            }
            let profile = arg(&args, &["--profile"]).or(profile);
            (arg(&args, &["--cluster"])?, profile)
        }
        _ => return None,
    };
    Some(EksAuth {
        cluster,
        region,
        profile,
    })
}

fn is_this_binary(command: &str) -> bool {
    std::env::current_exe()
        .ok()
        .is_some_and(|exe| Path::new(command) == exe)
}

/// The kubeconfig entry `opsdeck eks kubeconfig` writes for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksEntry {
    pub arn: String,
    pub name: String,
    pub region: String,
    pub endpoint: String,
    /// Base64 PEM, as DescribeCluster returns it.
    pub certificate_authority: String,
    pub profile: Option<String>,
    /// The context's name; default the cluster's ARN, as `aws eks update-kubeconfig`.
    pub alias: Option<String>,
    /// The command kubectl runs for a token: this binary.
    pub command: String,
}

/// Which file `opsdeck eks kubeconfig` writes: the flag's; else the KUBECONFIG file that
/// already holds the cluster; else the first KUBECONFIG file; else `~/.kube/config`.
pub fn target_file(flag: Option<&Path>, arn: &str) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    let listed = paths(None);
    for path in &listed {
        if let Ok(text) = crate::files::read_text(path, crate::files::FileKind::Kubeconfig)
            && let Ok(config) = Kubeconfig::from_yaml(&text)
            && config.clusters.iter().any(|c| c.name == arn)
        {
            return Some(path.clone());
        }
    }
    listed.into_iter().next()
}

/// Insert or replace the cluster, user and context of `entry` in `config` (entries of the
/// same name are replaced in place), and make the context current. Returns the context name.
pub fn merge_entry(config: &mut Kubeconfig, entry: &EksEntry) -> String {
    let context_name = entry.alias.clone().unwrap_or_else(|| entry.arn.clone());
    let cluster = NamedCluster {
        name: entry.arn.clone(),
        cluster: Some(Cluster {
            server: Some(entry.endpoint.clone()),
            certificate_authority_data: Some(entry.certificate_authority.clone()),
            ..Cluster::default()
        }),
        ..NamedCluster::default()
    };
    let mut args = vec![
        "eks".to_string(),
        "token".to_string(),
        "--cluster".to_string(),
        entry.name.clone(),
        "--region".to_string(),
        entry.region.clone(),
    ];
    if let Some(profile) = &entry.profile {
        args.push("--profile".into());
        args.push(profile.clone());
    }
    let user = NamedAuthInfo {
        name: entry.arn.clone(),
        auth_info: Some(AuthInfo {
            exec: Some(ExecConfig {
                api_version: Some("client.authentication.k8s.io/v1beta1".into()),
                command: Some(entry.command.clone()),
                args: Some(args),
                env: entry.profile.as_ref().map(|p| {
                    vec![HashMap::from([
                        ("name".to_string(), "AWS_PROFILE".to_string()),
                        ("value".to_string(), p.clone()),
                    ])]
                }),
                // The token comes from the credential chain: nothing is ever asked on the
                // terminal.
                interactive_mode: Some(ExecInteractiveMode::Never),
                ..ExecConfig::default()
            }),
            ..AuthInfo::default()
        }),
        ..NamedAuthInfo::default()
    };
    let context = NamedContext {
        name: context_name.clone(),
        context: Some(Context {
            cluster: entry.arn.clone(),
            user: Some(entry.arn.clone()),
            ..Context::default()
        }),
        ..NamedContext::default()
    };
    match config.clusters.iter_mut().find(|c| c.name == cluster.name) {
        Some(existing) => *existing = cluster,
        None => config.clusters.push(cluster),
    }
    match config.auth_infos.iter_mut().find(|a| a.name == user.name) {
        Some(existing) => *existing = user,
        None => config.auth_infos.push(user),
    }
    match config.contexts.iter_mut().find(|c| c.name == context.name) {
        Some(existing) => *existing = context,
        None => config.contexts.push(context),
    }
    if config.api_version.is_none() {
        config.api_version = Some("v1".into());
    }
    if config.kind.is_none() {
        config.kind = Some("Config".into());
    }
    config.current_context = Some(context_name.clone());
    context_name
}

/// Write (or merge into) `path`: read only that file as it is (relative paths kept), add the
/// entry, and replace the file atomically with a 0600 file.
pub fn write_entry(path: &Path, entry: &EksEntry) -> Result<String, KubeconfigError> {
    let mut config = match crate::files::read_text(path, crate::files::FileKind::Kubeconfig) {
        Ok(text) => Kubeconfig::from_yaml(&text).map_err(|e| {
            KubeconfigError(format!(
                "{}: not a kubeconfig file, so it was left alone: {e}",
                path.display()
            ))
        })?,
        Err(e) if e.is_missing() => Kubeconfig::default(),
        Err(e) => return Err(KubeconfigError(e.to_string())),
    };
    let name = merge_entry(&mut config, entry);
    let text = yaml_serde::to_string(&config)
        .map_err(|e| KubeconfigError(format!("cannot write the kubeconfig: {e}")))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::ensure_private_dir(dir)
            .map_err(|e| KubeconfigError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = path.with_extension(format!("opsdeck-{}.tmp", std::process::id()));
    let written = (|| {
        use std::io::Write;
        let mut file = crate::files::create_private_file(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(KubeconfigError(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(command: &str, args: &[&str]) -> ExecConfig {
        ExecConfig {
            command: Some(command.into()),
            args: Some(args.iter().map(|s| s.to_string()).collect()),
            ..ExecConfig::default()
        }
    }

    #[test]
    fn eks_plugins_are_recognised_and_others_left_alone() {
        let aws = exec(
            "aws",
            &[
                "--region",
                "eu-west-1",
                "eks",
                "get-token",
                "--cluster-name",
                "dev",
                "--output",
                "json",
            ],
        );
        assert_eq!(
            eks_auth(&aws),
            Some(EksAuth {
                cluster: "dev".into(),
                region: Some("eu-west-1".into()),
                profile: None
            })
        );
        let mut with_profile = aws.clone();
        with_profile.env = Some(vec![HashMap::from([
            ("name".to_string(), "AWS_PROFILE".to_string()),
            ("value".to_string(), "ops".to_string()),
        ])]);
        assert_eq!(
            eks_auth(&with_profile).and_then(|e| e.profile).as_deref(),
            Some("ops")
        );
        let iam = exec(
            "/usr/local/bin/aws-iam-authenticator",
            &["token", "-i", "prod"],
        );
        assert_eq!(eks_auth(&iam).map(|e| e.cluster).as_deref(), Some("prod"));
        let ours = exec(
            "/opt/opsdeck",
            &["eks", "token", "--cluster", "x", "--region", "us-east-1"],
        );
        assert_eq!(eks_auth(&ours).map(|e| e.cluster).as_deref(), Some("x"));
        // An assumed role or an unknown plugin is the plugin's business.
        let role = exec(
            "aws",
            &[
                "eks",
                "get-token",
                "--cluster-name",
                "dev",
                "--role-arn",
                "arn:aws:iam::1:role/x",
            ],
        );
        assert_eq!(eks_auth(&role), None);
        assert_eq!(eks_auth(&exec("gke-gcloud-auth-plugin", &[])), None);
    }

    #[test]
    fn relative_paths_are_made_absolute_against_the_file() {
        let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://k\n    certificate-authority: ca.pem\nusers:\n- name: u\n  user:\n    client-certificate: certs/me.pem\n    exec:\n      command: ./bin/auth\n      apiVersion: client.authentication.k8s.io/v1\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: shop\ncurrent-context: x\n";
        let config = parse(text, Path::new("/etc/kube/config")).expect("parses");
        let cluster = config.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(
            cluster.certificate_authority.as_deref(),
            Some("/etc/kube/ca.pem")
        );
        let user = config.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(
            user.client_certificate.as_deref(),
            Some("/etc/kube/certs/me.pem")
        );
        assert_eq!(
            user.exec.as_ref().and_then(|e| e.command.as_deref()),
            Some("/etc/kube/./bin/auth")
        );
        let view = view(&Loaded {
            files: vec![],
            config,
        });
        assert_eq!(view.contexts[0].namespace.as_deref(), Some("shop"));
        assert!(view.contexts[0].current);
        assert_eq!(view.contexts[0].auth, "exec auth");
    }

    #[test]
    fn merging_an_entry_replaces_same_names_and_keeps_the_rest() {
        let mut config = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://o\nusers:\n- name: other\n  user:\n    token: keep-me\ncontexts:\n- name: other\n  context:\n    cluster: other\n    user: other\ncurrent-context: other\n",
        )
        .expect("parses");
        let entry = EksEntry {
            arn: "arn:aws:eks:eu-west-1:123456789012:cluster/dev".into(),
            name: "dev".into(),
            region: "eu-west-1".into(),
            endpoint: "https://ABC.gr7.eu-west-1.eks.amazonaws.com".into(),
            certificate_authority: "LS0tLS1CRUdJTg==".into(),
            profile: Some("ops".into()),
            alias: None,
            command: "/usr/local/bin/opsdeck".into(),
        };
        assert_eq!(merge_entry(&mut config, &entry), entry.arn);
        assert_eq!(
            merge_entry(&mut config, &entry),
            entry.arn,
            "twice: replaced in place"
        );
        assert_eq!(config.clusters.len(), 2);
        assert_eq!(config.contexts.len(), 2);
        assert_eq!(config.current_context.as_deref(), Some(entry.arn.as_str()));
        let text = yaml_serde::to_string(&config).expect("serialises");
        assert!(text.contains("keep-me"), "{text}");
        assert!(text.contains("interactiveMode: Never"), "{text}");
        let back = Kubeconfig::from_yaml(&text).expect("round trip");
        let exec = back.auth_infos[1]
            .auth_info
            .as_ref()
            .and_then(|a| a.exec.clone())
            .expect("exec");
        assert_eq!(
            eks_auth(&ExecConfig {
                command: Some("opsdeck".into()),
                ..exec
            }),
            Some(EksAuth {
                cluster: "dev".into(),
                region: Some("eu-west-1".into()),
                profile: Some("ops".into())
            })
        );
    }
}
