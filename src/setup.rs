//! What the console and the headless commands both build before they may act: config, the
//! audit log, the job store (settling jobs a dead process left running), the read-only latch
//! and the gate. One function, so `opsdeck deploy` is guarded exactly like the console.

use crate::audit::{Actor, AuditLog, AuditRecord, AuditSink, Decision};
use crate::config::{Config, Paths, RoleResolution};
use crate::engine::store::{JobStore, RecoveredJob};
use crate::model::{Environment, JobKind, Role};
use crate::ops::{Gate, ReadOnlyLatch};
use anyhow::Context as _;
use std::sync::Arc;

pub use crate::config::{Options, Settings};

/// The guarded context every mode starts from. Local files only: no network.
pub struct Guarded {
    pub config: Arc<Config>,
    pub audit: Arc<dyn AuditSink>,
    pub store: Arc<JobStore>,
    pub gate: Gate,
    pub os_user: String,
    /// The role, when it is known before STS answers.
    pub role: Option<Role>,
    /// The command line, config and environment, resolved once.
    pub settings: Settings,
    /// Jobs a dead process left running, now marked interrupted.
    pub recovered: Vec<RecoveredJob>,
}

/// The right to build a [`Gate`]. Only this module can make one, so every gate in the program
/// is built here, with the audit log, job store and read-only latch `open` sets up: no other
/// code (a capability, the assistant) can make a gate of its own to mint approvals with.
pub struct GateKey(());

/// A gate for the crate's own unit tests, over any audit sink.
#[cfg(test)]
pub(crate) fn test_gate(
    latch: ReadOnlyLatch,
    audit: Arc<dyn AuditSink>,
    actor: Actor,
    identity_pending: Option<String>,
) -> Gate {
    Gate::new(GateKey(()), latch, audit, actor, identity_pending)
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
    let settings = Settings::from_process(opts, &config);
    // 0700, and tightened if an older run left it looser: everything below is private.
    crate::files::ensure_private_dir(&paths.data_dir)
        .with_context(|| format!("cannot create data dir {}", paths.data_dir.display()))?;
    let audit: Arc<dyn AuditSink> = Arc::new(AuditLog::open(&paths.audit_log)?);
    let store = Arc::new(JobStore::open(&paths.jobs_db)?);
    let user = os_user();
    let recovered = store.recover_interrupted()?;
    record_lost_changes(audit.as_ref(), &user, &recovered);

    let latch = ReadOnlyLatch::new();
    for reason in &settings.read_only {
        latch.engage(reason.clone());
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
    let gate = Gate::new(GateKey(()), latch, audit.clone(), actor, pending);
    Ok(Guarded {
        config: Arc::new(config),
        audit,
        store,
        gate,
        os_user: user,
        role,
        settings,
        recovered,
    })
}

/// Changes that were running when an earlier opsdeck died (crash, SIGKILL) have `started` but
/// no outcome in the audit log: close them as interrupted, so every request has an ending.
pub fn record_lost_changes(audit: &dyn AuditSink, os_user: &str, recovered: &[RecoveredJob]) {
    for lost in recovered
        .iter()
        // A target's job of an installer run is closed by its run's entry.
        .filter(|j| j.record.kind == JobKind::Mutation && j.record.parent.is_none())
    {
        let job = &lost.record;
        // What was recorded when the change was submitted: the same actor, environment,
        // request id and target as the `started` entry this one closes. Rows written by an
        // older version have none, and say so.
        let (actor, environment, request_id, target) = match &lost.origin {
            Some(origin) => {
                let mut target = origin.target.clone();
                if let Some(fields) = target.as_object_mut() {
                    fields.insert("job".into(), job.id.into());
                }
                (
                    origin.actor.clone(),
                    origin.environment.clone(),
                    Some(origin.request_id),
                    target,
                )
            }
            None => (
                Actor {
                    os_user: os_user.to_string(),
                    principal: None,
                },
                "UNKNOWN".to_string(),
                None,
                serde_json::json!({ "job": job.id, "target": job.target }),
            ),
        };
        let record = AuditRecord {
            actor,
            operation: job.operation.clone(),
            target,
            environment,
            decision: Decision::Interrupted,
            request_id,
            detail: Some(format!(
                "opsdeck ended while this change was running (found when {os_user} next ran opsdeck); check its state in AWS"
            )),
        };
        if let Err(e) = audit.append(&record) {
            tracing::error!("could not record interrupted job {}: {e}", job.id);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MemoryAudit;
    use crate::model::{JobRecord, JobState};

    fn lost(id: i64, kind: JobKind) -> RecoveredJob {
        RecoveredJob {
            record: lost_record(id, kind),
            origin: None,
        }
    }

    fn lost_record(id: i64, kind: JobKind) -> JobRecord {
        JobRecord {
            id,
            kind,
            operation: if kind == JobKind::Mutation {
                "delete-stack".into()
            } else {
                "list-stacks".into()
            },
            title: "t".into(),
            target: Some("stack web in 123456789012 / us-east-1 (DEV)".into()),
            state: JobState::Interrupted,
            created_ms: 0,
            started_ms: Some(0),
            finished_ms: Some(1),
            progress: None,
            error: None,
            log_path: None,
            parent: None,
        }
    }

    #[test]
    fn changes_lost_in_a_crash_get_an_interrupted_audit_entry() {
        let audit = MemoryAudit::default();
        record_lost_changes(
            &audit,
            "alice",
            &[lost(1, JobKind::Read), lost(2, JobKind::Mutation)],
        );
        let records = audit.records();
        assert_eq!(records.len(), 1, "reads are not audited");
        assert_eq!(records[0].decision, Decision::Interrupted);
        assert_eq!(records[0].operation, "delete-stack");
        assert_eq!(records[0].target["job"], 2);
        assert_eq!(records[0].actor.os_user, "alice");
    }

    #[test]
    fn a_lost_change_keeps_the_actor_and_environment_recorded_with_its_request() {
        let audit = MemoryAudit::default();
        let origin = crate::engine::store::ChangeOrigin {
            actor: Actor {
                os_user: "alice".into(),
                principal: Some("arn:aws:iam::123456789012:role/ops".into()),
            },
            environment: "PRD".into(),
            request_id: 42,
            target: serde_json::json!({ "stack_name": "web", "account": "123456789012" }),
        };
        record_lost_changes(
            &audit,
            "bob",
            &[RecoveredJob {
                record: lost_record(7, JobKind::Mutation),
                origin: Some(origin),
            }],
        );
        let records = audit.records();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.decision, Decision::Interrupted);
        assert_eq!(r.environment, "PRD");
        assert_eq!(r.actor.os_user, "alice", "who asked, not who found it");
        assert_eq!(
            r.actor.principal.as_deref(),
            Some("arn:aws:iam::123456789012:role/ops")
        );
        assert_eq!(r.request_id, Some(42));
        assert_eq!(r.target["stack_name"], "web");
        assert_eq!(r.target["job"], 7);
        assert!(
            r.detail.as_deref().unwrap_or_default().contains("bob"),
            "{r:?}"
        );
    }
}
