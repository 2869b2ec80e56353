//! What the compliance engine reads and writes: rules' metadata, findings, waivers' effect.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule as its `metadata` declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    /// e.g. `S3-001`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// OSCAL control ids (`sc-28.1`), normalised and checked against the control table.
    pub controls: Vec<String>,
    /// CloudFormation (or, later, Kubernetes) types the rule judges.
    pub resource_types: Vec<String>,
    /// Other types the rule looks at but does not judge (e.g. bucket policies, to judge a
    /// bucket). Each rule sees only resources of `resource_types` and `reads`.
    pub reads: Vec<String>,
    pub remediation: String,
    /// The policy file it came from (`policies/s3.rego` or a user file).
    pub source: String,
}

/// How a waiver bears on a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum WaiverState {
    /// Waived until `expires` (a date, `YYYY-MM-DD`).
    Active {
        reason: String,
        ticket: String,
        expires: String,
    },
    /// A waiver matched but has expired: the finding counts again.
    Expired {
        reason: String,
        ticket: String,
        expires: String,
    },
}

/// One failed check of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    /// OSCAL control ids.
    pub controls: Vec<String>,
    /// Where the resource is: a template path, or `stack:NAME`.
    pub source: String,
    /// Logical id of the resource.
    pub resource: String,
    pub resource_type: String,
    /// Property path, e.g. `Properties.BucketEncryption`.
    pub path: String,
    /// 1-based line in the template, when known.
    pub line: Option<usize>,
    pub message: String,
    pub remediation: String,
    pub waiver: Option<WaiverState>,
}

impl Finding {
    /// Whether the finding counts as a failure (not under an active waiver).
    pub fn counts(&self) -> bool {
        !matches!(self.waiver, Some(WaiverState::Active { .. }))
    }
}
