//! Plain data shared by every layer: environments, roles, identities, stacks, jobs.
//! Nothing here does I/O.

mod cfn;

pub use cfn::{
    ChangeSetKind, ChangeSetOutcome, ChangeSetPreview, PropertyDifference, ResourceChange,
    ResourceDrift, RetainedResource, StackDrift, StackEvent,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Deployment environment of an account or profile. Mapped from config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Environment {
    #[serde(rename = "DEV")]
    Dev,
    #[serde(rename = "TST")]
    Tst,
    #[serde(rename = "PRD")]
    Prd,
    /// No mapping matched. Treated as strictly as PRD where risk is decided.
    #[serde(rename = "UNMAPPED")]
    Unmapped,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "DEV",
            Environment::Tst => "TST",
            Environment::Prd => "PRD",
            Environment::Unmapped => "UNMAPPED",
        }
    }

    /// Whether every change here gets the typed-name confirmation.
    pub fn is_production_grade(self) -> bool {
        match self {
            Environment::Prd | Environment::Unmapped => true,
            Environment::Dev | Environment::Tst => false,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person may do. Ordered from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer of STS GetCallerIdentity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// One row of the stack list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSummary {
    pub name: String,
    /// The stack ARN; stable across the stack's life, unlike the name.
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub description: Option<String>,
    /// ARN of the parent stack, for nested stacks.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Last drift detection result (`DRIFTED`, `IN_SYNC`, `NOT_CHECKED`, `UNKNOWN`).
    #[serde(default)]
    pub drift_status: Option<String>,
    /// When drift was last checked (RFC 3339).
    #[serde(default)]
    pub drift_checked: Option<String>,
}

impl StackSummary {
    /// Being changed now (see [`is_moving`]).
    pub fn is_moving(&self) -> bool {
        is_moving(&self.status)
    }

    /// `ROLLBACK_COMPLETE` stacks cannot be updated: they must be deleted before re-creating.
    pub fn needs_delete_before_recreate(&self) -> bool {
        self.status == "ROLLBACK_COMPLETE"
    }

    /// Account id parsed from the stack ARN (`arn:aws:cloudformation:REGION:ACCOUNT:stack/...`).
    pub fn account_from_arn(&self) -> Option<&str> {
        arn_field(&self.id, 4)
    }

    /// Region parsed from the stack ARN.
    pub fn region_from_arn(&self) -> Option<&str> {
        arn_field(&self.id, 3)
    }
}

fn arn_field(arn: &str, index: usize) -> Option<&str> {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return None;
    }
    parts.nth(index - 1).filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackParameter {
    pub key: String,
    /// CloudFormation already masks NoEcho values as `****`.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub status_reason: Option<String>,
}

/// Everything the detail view shows about one stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDetail {
    pub summary: StackSummary,
    pub parameters: Vec<StackParameter>,
    pub outputs: Vec<StackOutput>,
    pub resources: Vec<StackResource>,
    pub termination_protection: bool,
    /// The most recent stack events, newest first (first page).
    #[serde(default)]
    pub events: Vec<StackEvent>,
    /// Resources the stack's `DeletionPolicy` keeps or snapshots on delete.
    #[serde(default)]
    pub retained: Vec<RetainedResource>,
}

/// Whether a stack in `status` is being changed now: `*_IN_PROGRESS`, except
/// `REVIEW_IN_PROGRESS`, the empty stack of a new stack's change set, which waits for a person
/// (it may stay so for days).
pub fn is_moving(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

/// Colour class of a CloudFormation status string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Ok,
    InProgress,
    Failed,
    Deleted,
}

pub fn classify_stack_status(status: &str) -> StatusClass {
    if status.ends_with("_IN_PROGRESS") {
        StatusClass::InProgress
    } else if status == "DELETE_COMPLETE" {
        StatusClass::Deleted
    } else if status.contains("FAILED") || status.contains("ROLLBACK") {
        StatusClass::Failed
    } else {
        StatusClass::Ok
    }
}

/// Row id of a job in the job store; unique across restarts.
pub type JobId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process ended (crash, SIGHUP, quit) while the job was queued or running.
    Interrupted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            "interrupted" => JobState::Interrupted,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Read,
    Mutation,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Read => "read",
            JobKind::Mutation => "mutation",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "read" => Some(JobKind::Read),
            "mutation" => Some(JobKind::Mutation),
            _ => None,
        }
    }
}

/// A job as stored and as listed in the Jobs pane. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    /// Operation name, e.g. `list-stacks`, `delete-stack`.
    pub operation: String,
    pub title: String,
    /// Human description of the resolved target, if any.
    pub target: Option<String>,
    pub state: JobState,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Fraction done, 0.0..=1.0, when known.
    pub progress: Option<f32>,
    pub error: Option<String>,
    pub log_path: Option<String>,
}

impl JobRecord {
    /// Milliseconds the job ran (or has been running, given `now_ms`).
    pub fn duration_ms(&self, now_ms: i64) -> Option<i64> {
        let start = self.started_ms?;
        Some(self.finished_ms.unwrap_or(now_ms).saturating_sub(start))
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_fields() {
        let s = StackSummary {
            name: "web".into(),
            id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/web/abc".into(),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
            created: None,
            updated: None,
            description: None,
            ..StackSummary::default()
        };
        assert_eq!(s.account_from_arn(), Some("123456789012"));
        assert_eq!(s.region_from_arn(), Some("eu-west-1"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(classify_stack_status("CREATE_COMPLETE"), StatusClass::Ok);
        assert_eq!(
            classify_stack_status("UPDATE_IN_PROGRESS"),
            StatusClass::InProgress
        );
        assert_eq!(
            classify_stack_status("ROLLBACK_COMPLETE"),
            StatusClass::Failed
        );
        assert_eq!(classify_stack_status("DELETE_FAILED"), StatusClass::Failed);
    }
}
