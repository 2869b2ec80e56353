//! The CloudFormation operations' values: targets resolved when the action is requested, and
//! everything a change set needs, held so that what is confirmed is exactly what runs.

use crate::model::{ChangeSetKind, ChangeSetPreview, Environment, RetainedResource};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

/// A CloudFormation stack, resolved to the account, region and environment it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct StackTarget {
    pub account: String,
    pub region: String,
    pub environment: Environment,
    pub stack_name: String,
    /// The stack ARN: deleting by ARN cannot hit a different stack that later took the name.
    pub stack_id: String,
}

impl fmt::Display for StackTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stack {} in {} / {} ({})",
            self.stack_name, self.account, self.region, self.environment
        )
    }
}

/// Delete one CloudFormation stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeleteStack {
    #[serde(flatten)]
    pub target: StackTarget,
    /// What its `DeletionPolicy` keeps or snapshots, as known when the delete was requested.
    pub retained: Vec<RetainedResource>,
}

/// A secret value (a `NoEcho` parameter). Its `Debug` and `Serialize` forms are `****`, so it
/// cannot leak into the audit log, a job log or the screen by being printed; only
/// [`Secret::expose`] gives the text, and only the provider calls it, to send it to AWS.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("****")
    }
}

/// The value a change set gives one template parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamValue {
    Plain(String),
    /// A `NoEcho` parameter's value.
    Secret(Secret),
    /// Keep the value the stack has now (updates only).
    UsePrevious,
}

impl ParamValue {
    /// How the value may be shown: secrets as `****`.
    pub fn shown(&self) -> &str {
        match self {
            ParamValue::Plain(v) => v,
            ParamValue::Secret(_) => "****",
            ParamValue::UsePrevious => "(unchanged)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeployParameter {
    pub key: String,
    pub value: ParamValue,
}

/// Which template a change set is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSource {
    /// Template text read when the deploy was requested. `origin` names the library entry or
    /// file; the audit log records the text's SHA-256, not the text.
    Body {
        origin: String,
        #[serde(skip)]
        body: String,
        sha256: String,
    },
    /// Keep the stack's current template: only parameters change.
    Previous,
}

impl TemplateSource {
    pub fn body(origin: impl Into<String>, body: impl Into<String>) -> TemplateSource {
        let body = body.into();
        let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
        TemplateSource::Body {
            origin: origin.into(),
            body,
            sha256,
        }
    }

    pub fn origin(&self) -> &str {
        match self {
            TemplateSource::Body { origin, .. } => origin,
            TemplateSource::Previous => "current template",
        }
    }
}

/// Create a change set (and, for a new stack, the empty `REVIEW_IN_PROGRESS` stack that holds
/// it), wait until CloudFormation has computed it, and return its preview. A change set that
/// failed, or "didn't contain changes", is deleted again by the same job, with the empty stack
/// if one was made for it. Nothing else changes until the preview is executed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CreateChangeSet {
    pub account: String,
    pub region: String,
    pub environment: Environment,
    pub stack_name: String,
    /// `Some(arn)`: update that stack. `None`: create a new stack of that name.
    pub existing_stack_id: Option<String>,
    /// Chosen when the deploy is requested, so the audit log names it before it exists.
    pub change_set_name: String,
    pub template: TemplateSource,
    pub parameters: Vec<DeployParameter>,
}

impl CreateChangeSet {
    pub fn kind(&self) -> ChangeSetKind {
        match self.existing_stack_id {
            Some(_) => ChangeSetKind::Update,
            None => ChangeSetKind::Create,
        }
    }
}

/// Execute exactly the change set the person saw: change sets are immutable, and it is named
/// by ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ExecuteChangeSet {
    #[serde(flatten)]
    pub target: StackTarget,
    pub preview: ChangeSetPreview,
}

/// Delete a change set that will not be executed, and the empty stack created to hold it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DiscardChangeSet {
    #[serde(flatten)]
    pub target: StackTarget,
    pub change_set_id: String,
    pub change_set_name: String,
    /// The stack was created empty (`REVIEW_IN_PROGRESS`) for this change set: delete it too.
    pub delete_empty_stack: bool,
}

/// Turn a stack's termination protection on or off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SetTerminationProtection {
    #[serde(flatten)]
    pub target: StackTarget,
    pub enabled: bool,
}
