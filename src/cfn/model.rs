//! CloudFormation data: stacks and their details, change-set previews, stack events, drift and
//! deletion policies. Plain data; the provider fills it, views draw it.

use serde::{Deserialize, Serialize};

/// Whether a change set creates a new stack or updates an existing one. Always passed to
/// CloudFormation explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeSetKind {
    Create,
    Update,
}

impl ChangeSetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSetKind::Create => "CREATE",
            ChangeSetKind::Update => "UPDATE",
        }
    }
}

/// One row of a change set: what CloudFormation will do to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import` or `Dynamic`.
    pub action: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `True`, `False` or `Conditional`; only for `Modify`.
    pub replacement: Option<String>,
    /// What part changes: `Properties`, `Metadata`, `CreationPolicy`, `UpdatePolicy`,
    /// `DeletionPolicy`, `UpdateReplacePolicy`, `Tags`.
    pub scope: Vec<String>,
    /// Names of the properties that change, with `(recreation: Always)` where that applies.
    pub details: Vec<String>,
}

impl ResourceChange {
    /// Removal or (possible) replacement: data may be lost. Drawn in the danger colour and
    /// raises the confirmation to the typed tier.
    pub fn is_destructive(&self) -> bool {
        self.action == "Remove"
            || matches!(self.replacement.as_deref(), Some("True" | "Conditional"))
            || self.is_nested_stack_update()
    }

    /// A nested stack's own changes are not listed in its parent's change set: whatever it
    /// removes or replaces is hidden, so it counts as destructive until proven otherwise.
    pub fn is_nested_stack_update(&self) -> bool {
        self.action == "Modify" && self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// A change set that CloudFormation finished computing, ready to be shown and confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeSetPreview {
    pub stack_name: String,
    /// The stack ARN. For a new stack it is the empty `REVIEW_IN_PROGRESS` stack that holds
    /// the change set.
    pub stack_id: String,
    pub change_set_id: String,
    pub change_set_name: String,
    pub kind: ChangeSetKind,
    pub changes: Vec<ResourceChange>,
}

impl ChangeSetPreview {
    pub fn destructive(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(|c| c.is_destructive())
    }

    pub fn has_destructive(&self) -> bool {
        self.destructive().next().is_some()
    }

    /// `Add 3, Modify 1, Remove 0, Replace 1` — for job titles, audit and toasts.
    pub fn counts(&self) -> String {
        let count = |a: &str| self.changes.iter().filter(|c| c.action == a).count();
        let replace = self
            .changes
            .iter()
            .filter(|c| matches!(c.replacement.as_deref(), Some("True" | "Conditional")))
            .count();
        format!(
            "Add {}, Modify {}, Remove {}, Replace {}",
            count("Add"),
            count("Modify"),
            count("Remove"),
            replace
        )
    }
}

/// How creating a change set ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeSetOutcome {
    /// Computed; waiting for a person to execute or discard it.
    Ready(ChangeSetPreview),
    /// CloudFormation said the change set "didn't contain changes"; opsdeck deleted it.
    NoChanges { stack_name: String, message: String },
}

/// One stack event, as CloudFormation reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackEvent {
    pub event_id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl StackEvent {
    /// A resource (not the stack itself) ended in a failure state; its reason is worth listing.
    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// A resource whose `DeletionPolicy` keeps something when the stack is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetainedResource {
    pub logical_id: String,
    pub resource_type: String,
    /// `Retain`, `Snapshot` or `RetainExceptOnCreate`.
    pub policy: String,
}

/// One property that differs between the template and the live resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDifference {
    /// JSON pointer into the resource's properties, e.g. `/VersioningConfiguration/Status`.
    pub path: String,
    pub expected: String,
    pub actual: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `IN_SYNC`, `MODIFIED`, `DELETED` or `NOT_CHECKED`.
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

/// The result of one drift detection run on a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDrift {
    pub stack_id: String,
    pub stack_name: String,
    /// `DRIFTED`, `IN_SYNC`, `UNKNOWN` or `NOT_CHECKED`.
    pub status: String,
    /// RFC 3339 time of the detection.
    pub detected: Option<String>,
    /// Every resource CloudFormation reported, drifted ones first.
    pub resources: Vec<ResourceDrift>,
}

impl StackDrift {
    pub fn drifted(&self) -> impl Iterator<Item = &ResourceDrift> {
        self.resources
            .iter()
            .filter(|r| r.status == "MODIFIED" || r.status == "DELETED")
    }
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

/// Field `index` of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`: 3 is the region,
/// 4 the account).
pub(crate) fn arn_field(arn: &str, index: usize) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, replacement: Option<&str>) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: "Bucket".into(),
            physical_id: None,
            resource_type: "AWS::S3::Bucket".into(),
            replacement: replacement.map(Into::into),
            scope: vec![],
            details: vec![],
        }
    }

    #[test]
    fn removal_and_replacement_are_destructive() {
        assert!(change("Remove", None).is_destructive());
        assert!(change("Modify", Some("True")).is_destructive());
        assert!(change("Modify", Some("Conditional")).is_destructive());
        assert!(!change("Modify", Some("False")).is_destructive());
        assert!(!change("Add", None).is_destructive());
        let nested = ResourceChange {
            resource_type: "AWS::CloudFormation::Stack".into(),
            ..change("Modify", Some("False"))
        };
        assert!(nested.is_destructive(), "its own changes are hidden");
    }

    #[test]
    fn counts_summarise_actions() {
        let preview = ChangeSetPreview {
            stack_name: "web".into(),
            stack_id: "arn".into(),
            change_set_id: "cs".into(),
            change_set_name: "opsdeck-1".into(),
            kind: ChangeSetKind::Update,
            changes: vec![
                change("Add", None),
                change("Modify", Some("True")),
                change("Remove", None),
            ],
        };
        assert_eq!(preview.counts(), "Add 1, Modify 1, Remove 1, Replace 1");
        assert!(preview.has_destructive());
    }

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
