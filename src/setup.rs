//! What the console and the headless commands both build before they may act: config, the
//! audit log, the job store (settling jobs a dead process left running), the read-only latch
//! and the gate. One function, so `opsdeck deploy` is guarded exactly like the console.

use crate::audit::{Actor, AuditLog, AuditSink};
use crate::aws::AwsSettings;
use crate::config::{Config, Paths, RoleResolution};
use crate::engine::store::{JobStore, RecoveredJob};
use crate::model::{Environment, Role};
use crate::ops::{Gate, ReadOnlyLatch};
use anyhow::Context as _;
use std::path::PathBuf;
use std::sync::Arc;

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub read_only: bool,
    pub aws: AwsSettings,
    pub env_override: Option<Environment>,
    pub theme: Option<String>,
    pub config_path: Option<PathBuf>,
    /// `--kubeconfig`, `--context`.
    pub kube: crate::kube::KubeSettings,
}

/// The guarded context every mode starts from. Local files only: no network.
pub struct Guarded {
    pub config: Arc<Config>,
    pub audit: Arc<dyn AuditSink>,
    pub store: Arc<JobStore>,
    pub gate: Gate,
    pub os_user: String,
    /// The role, when it is known before STS answers.
    pub role: Option<Role>,
    /// AWS settings with config defaults applied.
    pub aws: AwsSettings,
    /// Jobs a dead process left running, now marked interrupted.
    pub recovered: Vec<RecoveredJob>,
}

/// The OS user running opsdeck, from the password database (not `$USER`, which anyone can set).
pub fn os_user() -> String {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid-{uid}"),
    }
}

pub fn open(opts: &Options, paths: &Paths) -> anyhow::Result<Guarded> {
    let config = Config::load(paths, opts.config_path.as_deref())?;
    let aws = AwsSettings {
        profile: opts.aws.profile.clone().or(config.aws.profile.clone()),
        region: opts.aws.region.clone().or(config.aws.region.clone()),
        endpoint_url: opts
            .aws
            .endpoint_url
            .clone()
            .or(config.aws.endpoint_url.clone())
            .or_else(|| {
                std::env::var("AWS_ENDPOINT_URL")
                    .ok()
                    .filter(|s| !s.is_empty())
            }),
        ..opts.aws.clone()
    };
    // 0700, and tightened if an older run left it looser: everything below is private.
    crate::files::ensure_private_dir(&paths.data_dir)
        .with_context(|| format!("cannot create data dir {}", paths.data_dir.display()))?;
    let audit: Arc<dyn AuditSink> = Arc::new(AuditLog::open(&paths.audit_log)?);
    let store = Arc::new(JobStore::open(&paths.jobs_db)?);
    let user = os_user();
    let recovered = store.recover_interrupted()?;
    crate::tui::app::record_lost_changes(audit.as_ref(), &user, &recovered);

    let latch = ReadOnlyLatch::new();
    if opts.read_only {
        latch.engage("started with --read-only");
    }
    if config.read_only {
        latch.engage(format!(
            "safety.read_only is set in {}",
            config.sources.join(" + ")
        ));
    }
    let resolution = config.role_for(&user, None);
    let (role, pending) = match resolution {
        RoleResolution::Resolved(role) => (Some(role), None),
        RoleResolution::Pending { provisional } => (
            (provisional == Role::Viewer).then_some(provisional),
            Some("role rules name IAM principals; waiting for STS to say who you are".to_string()),
        ),
    };
    if resolution.role() == Role::Viewer {
        latch.engage(format!("OS user {user} maps to role viewer"));
    }
    let actor = Actor {
        os_user: user.clone(),
        principal: None,
    };
    let gate = Gate::new(latch, audit.clone(), actor, pending);
    Ok(Guarded {
        config: Arc::new(config),
        audit,
        store,
        gate,
        os_user: user,
        role,
        aws,
        recovered,
    })
}

/// STS answered: settle the role by principal, engaging read-only for a viewer, and let the
/// gate allow changes. Returns the role.
pub fn identity_resolved(config: &Config, gate: &mut Gate, os_user: &str, arn: &str) -> Role {
    let role = match config.role_for(os_user, Some(arn)) {
        RoleResolution::Resolved(role) => role,
        RoleResolution::Pending { provisional } => provisional,
    };
    if role == Role::Viewer {
        gate.latch()
            .engage(format!("IAM principal {arn} maps to role viewer in config"));
    }
    gate.identity_resolved(arn.to_string());
    role
}

/// The environment of a Kubernetes cluster (its context's name and its ARN or name): config
/// mapping first, `--env` only where config is silent; unmapped counts as PRD.
pub fn kube_environment_of(
    config: &Config,
    context: &str,
    cluster: &str,
    env_override: Option<Environment>,
) -> Environment {
    match config.environment_for_kube(context, cluster) {
        Environment::Unmapped => env_override.unwrap_or(Environment::Unmapped),
        mapped => mapped,
    }
}

/// The environment of an account: config mapping first, `--env` only where config is silent.
pub fn environment_of(
    config: &Config,
    account: Option<&str>,
    profile: Option<&str>,
    env_override: Option<Environment>,
) -> Environment {
    match config.environment_for(account, profile) {
        Environment::Unmapped => env_override.unwrap_or(Environment::Unmapped),
        mapped => mapped,
    }
}
