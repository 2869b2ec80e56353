//! The one door for change.
//!
//! Every operation opsdeck can perform is a value of [`Op`]: either a [`ReadOp`] or a
//! [`MutatingOp`]. The split is structural: each capability declares its reads and its
//! mutations as enums of its own (`cfn::ops::CfnRead`, `cfn::ops::CfnMutation`, …), nested here
//! as one variant each, and a capability's mutation enum does not compile until it implements
//! [`Mutation`], which asks for a confirmation tier, a target and an audit record for every
//! variant (exhaustive matches in the capability's own folder). Each value carries its fully
//! resolved target, so what is confirmed is exactly what runs.
//!
//! A mutating operation reaches the engine only wrapped in [`Approved`], which only the
//! [`Gate`] can mint (see `gate.rs`).

mod gate;
mod plan;

pub use crate::cfn::ops::{
    CfnMutation, CfnRead, ComplianceFailure, ComplianceVerdict, CreateChangeSet, DeleteStack,
    DeployParameter, DiscardChangeSet, ExecuteChangeSet, ParamValue, Secret,
    SetTerminationProtection, StackTarget, TemplateSource,
};

pub use crate::cost::ops::{CostMutation, CostRead};
pub use crate::installers::ops::{InstallMutation, InstallRead};
pub use crate::kube::ops::{KubeMutation, KubeRead};

pub use plan::{PlanCtx, PlanError, SessionFacts};

pub use gate::{
    Approved, ApprovedMutation, ConfirmError, ConfirmRequest, Dismissal, ForeignApproval, Gate,
    GateBinding, Proof, ReadOnlyLatch, Refusal,
};

use crate::model::Environment;
use serde::Serialize;

/// Any operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Read(ReadOp),
    Mutate(MutatingOp),
}

impl Op {
    pub fn is_mutating(&self) -> bool {
        match self {
            Op::Read(_) => false,
            Op::Mutate(_) => true,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Read(op) => op.name(),
            Op::Mutate(op) => op.name(),
        }
    }
}

/// Where a read looks. Region is resolved when the read is requested.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ReadScope {
    pub region: String,
}

/// Operations that change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadOp {
    /// STS GetCallerIdentity.
    WhoAmI,
    Cfn(CfnRead),
    Install(InstallRead),
    Kube(KubeRead),
    Cost(CostRead),
}

/// What every capability's read enum says about each of its reads.
pub trait Read {
    /// The operation id (kebab-case), as in job records and JSON output.
    fn name(&self) -> &'static str;
    /// One line for the Jobs pane.
    fn title(&self) -> String;
    /// Reads that last as long as the service takes (drift checks, follows): they get their
    /// own slots and the long timeout.
    fn long_running(&self) -> bool;
    /// Reads that yield updates as they go (a follow's events): the engine gives them a
    /// stream to the console (`engine::stream`).
    fn streams(&self) -> bool;
    /// Reads that last until they are cancelled or their source ends (a cluster watch, a log
    /// follow): no timeout and no retries from the engine (they reconnect and back off
    /// themselves), and slots of their own so they never hold those of other reads.
    fn open_ended(&self) -> bool {
        false
    }
}

impl ReadOp {
    fn inner(&self) -> Option<&dyn Read> {
        match self {
            ReadOp::WhoAmI => None,
            ReadOp::Cfn(r) => Some(r),
            ReadOp::Install(r) => Some(r),
            ReadOp::Kube(r) => Some(r),
            ReadOp::Cost(r) => Some(r),
        }
    }

    pub fn name(&self) -> &'static str {
        self.inner().map_or("whoami", |r| r.name())
    }

    pub fn title(&self) -> String {
        self.inner().map_or_else(
            || "Who am I (STS GetCallerIdentity)".to_string(),
            |r| r.title(),
        )
    }

    pub fn long_running(&self) -> bool {
        self.inner().is_some_and(|r| r.long_running())
    }

    pub fn streams(&self) -> bool {
        self.inner().is_some_and(|r| r.streams())
    }

    pub fn open_ended(&self) -> bool {
        self.inner().is_some_and(|r| r.open_ended())
    }
}

impl From<KubeRead> for ReadOp {
    fn from(r: KubeRead) -> ReadOp {
        ReadOp::Kube(r)
    }
}

impl From<CfnRead> for ReadOp {
    fn from(r: CfnRead) -> ReadOp {
        ReadOp::Cfn(r)
    }
}

impl From<CostRead> for ReadOp {
    fn from(r: CostRead) -> ReadOp {
        ReadOp::Cost(r)
    }
}

/// Operations that change something, one variant per capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MutatingOp {
    Cfn(CfnMutation),
    Install(InstallMutation),
    Kube(KubeMutation),
    Cost(CostMutation),
}

/// How much a confirmation must cost the person giving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskTier {
    /// `y` or `Enter` confirms: reversible changes outside PRD.
    Simple,
    /// The person must type this text (the resource name): deletes, replacements, anything in PRD.
    TypeName(String),
}

/// What every capability's mutation enum must say about each of its operations. Implemented
/// with exhaustive matches in the capability's folder, so a new variant does not compile until
/// it has a tier, a target and a description.
pub trait Mutation {
    /// The operation id (kebab-case), as in the audit log and JSON output.
    fn name(&self) -> &'static str;
    /// The confirmation the dialog demands.
    fn risk(&self) -> RiskTier;
    /// Why the gate must refuse this operation outright, whoever asks and whatever is typed.
    fn policy_block(&self) -> Option<String>;
    fn environment(&self) -> Environment;
    /// One line saying exactly what will run, for the dialog, job title and audit.
    fn describe(&self) -> String;
    /// Mutations on the same key run one at a time.
    fn target_key(&self) -> String;
    /// The resolved target as structured data, for the audit log. Secrets as `****`.
    fn target_json(&self) -> serde_json::Value;
    /// The target in a few words, for the job list.
    fn target_line(&self) -> String;
    /// Rows the confirmation dialog can scroll through.
    fn dialog_rows(&self) -> usize;
    /// The operation that undoes this one's request when its dialog is dismissed (a change
    /// set's review discards the change set), if any. The gate mints its approval itself.
    fn on_dismiss(&self) -> Option<MutatingOp>;
    /// A clean-up of what an earlier operation made (a discard): the one kind of change a
    /// headless run still starts after a stop signal.
    fn is_cleanup(&self) -> bool;
    /// What may be left in the service if the process stops while this runs, and how to deal
    /// with it (`endpoint`: the configured endpoint, for the commands); `None` when nothing.
    fn what_may_be_left(&self, endpoint: Option<&str>) -> Option<String>;
}

impl MutatingOp {
    fn inner(&self) -> &dyn Mutation {
        match self {
            MutatingOp::Cfn(m) => m,
            MutatingOp::Install(m) => m,
            MutatingOp::Kube(m) => m,
            MutatingOp::Cost(m) => m,
        }
    }

    pub fn name(&self) -> &'static str {
        self.inner().name()
    }

    /// Whether running it asks AWS with the session's credentials: a headless run then settles
    /// who the person is first, for the audit entries. An EKS cluster's token is minted with
    /// them; a cluster from a kubeconfig alone is reached with the kubeconfig's credentials;
    /// an installer run on `local` or `ssh:` targets asks AWS nothing, and runs on a bastion
    /// without AWS credentials.
    pub fn uses_aws(&self) -> bool {
        match self {
            MutatingOp::Cfn(_) | MutatingOp::Cost(_) => true,
            MutatingOp::Kube(m) => m.uses_aws(),
            MutatingOp::Install(InstallMutation::RunInstaller(run)) => run.uses_aws(),
        }
    }

    pub fn risk(&self) -> RiskTier {
        self.inner().risk()
    }

    /// Why the gate must refuse this operation outright (see [`Mutation::policy_block`]).
    /// Decided on the operation, so the console, the headless CLI and any later caller meet
    /// the same rule at the same door.
    pub fn policy_block(&self) -> Option<String> {
        self.inner().policy_block()
    }

    pub fn environment(&self) -> Environment {
        self.inner().environment()
    }

    pub fn describe(&self) -> String {
        self.inner().describe()
    }

    pub fn target_key(&self) -> String {
        self.inner().target_key()
    }

    pub fn target_json(&self) -> serde_json::Value {
        self.inner().target_json()
    }

    pub fn target_line(&self) -> String {
        self.inner().target_line()
    }

    pub fn dialog_rows(&self) -> usize {
        self.inner().dialog_rows()
    }

    pub fn on_dismiss(&self) -> Option<MutatingOp> {
        self.inner().on_dismiss()
    }

    pub fn is_cleanup(&self) -> bool {
        self.inner().is_cleanup()
    }

    pub fn what_may_be_left(&self, endpoint: Option<&str>) -> Option<String> {
        self.inner().what_may_be_left(endpoint)
    }

    /// The audit entry for one decision about this operation.
    pub fn audit_record(
        &self,
        actor: &crate::audit::Actor,
        request_id: u64,
        decision: crate::audit::Decision,
        detail: Option<String>,
    ) -> crate::audit::AuditRecord {
        crate::audit::AuditRecord {
            actor: actor.clone(),
            operation: self.name().to_string(),
            target: self.target_json(),
            environment: self.environment().as_str().to_string(),
            decision,
            request_id: Some(request_id),
            detail,
        }
    }
}

impl From<InstallRead> for ReadOp {
    fn from(r: InstallRead) -> ReadOp {
        ReadOp::Install(r)
    }
}

impl From<CfnMutation> for MutatingOp {
    fn from(m: CfnMutation) -> MutatingOp {
        MutatingOp::Cfn(m)
    }
}

impl From<KubeMutation> for MutatingOp {
    fn from(m: KubeMutation) -> MutatingOp {
        MutatingOp::Kube(m)
    }
}

/// Serialise an operation's target for the audit log. Plain strings and unit enums cannot fail
/// to serialise; fall back to a string anyway.
pub fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::Value::String(format!("unserialisable target: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::model::ChangeSetKind;

    fn target(env: Environment) -> StackTarget {
        StackTarget {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment: env,
            stack_name: "web".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1".into(),
        }
    }

    #[test]
    fn classification_is_structural() {
        let read = Op::Read(ReadOp::WhoAmI);
        let delete = Op::Mutate(MutatingOp::from(DeleteStack {
            target: target(Environment::Dev),
            retained: vec![],
        }));
        assert!(!read.is_mutating());
        assert!(delete.is_mutating());
        assert_eq!(delete.name(), "delete-stack");
        assert_eq!(read.name(), "whoami");
    }

    #[test]
    fn dismissing_only_a_change_set_review_has_an_undo() {
        let delete = MutatingOp::from(DeleteStack {
            target: target(Environment::Dev),
            retained: vec![],
        });
        assert_eq!(delete.on_dismiss(), None);
        let review = MutatingOp::from(ExecuteChangeSet {
            target: target(Environment::Dev),
            preview: crate::cfn::model::ChangeSetPreview {
                stack_name: "web".into(),
                stack_id: target(Environment::Dev).stack_id,
                change_set_id: "cs".into(),
                change_set_name: "opsdeck-1".into(),
                kind: ChangeSetKind::Create,
                changes: vec![],
            },
            cost: crate::cost::verdict::CostVerdict::none(),
        });
        let Some(MutatingOp::Cfn(CfnMutation::DiscardChangeSet(d))) = review.on_dismiss() else {
            panic!("a review's dismissal discards its change set");
        };
        assert!(d.delete_empty_stack);
    }
}
