//! Plain data shared by every layer: environments, roles, identities, jobs. Each capability
//! keeps its own model (e.g. `cfn::model`).
//! Nothing here does I/O.

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
    /// The job this one is a part of (one target of an installer run), if any.
    #[serde(default)]
    pub parent: Option<JobId>,
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
