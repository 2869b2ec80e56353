//! The CloudFormation operations' values: targets resolved when the action is requested, and
//! everything a change set needs, held so that what is confirmed is exactly what runs.

use crate::compliance::Checker;
use crate::compliance::model::{Finding, Severity};
use crate::model::{ChangeSetKind, ChangeSetPreview, Environment, RetainedResource};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    /// The compliance rules' verdict on this template with these parameters: confirmed and
    /// audited with the request; it raises the tier, and in PRD a high failure refuses it
    /// (see `MutatingOp::policy_block`).
    pub compliance: ComplianceVerdict,
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

/// One unwaived (or waived) compliance finding of the template a change set is computed from,
/// as the dialog shows it and the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ComplianceFailure {
    pub rule: String,
    pub severity: Severity,
    /// Logical id of the resource.
    pub resource: String,
    /// Control labels, e.g. `SC-28(1)`.
    pub controls: Vec<String>,
    pub message: String,
}

impl ComplianceFailure {
    fn of(f: &Finding) -> ComplianceFailure {
        ComplianceFailure {
            rule: f.rule.clone(),
            severity: f.severity,
            resource: f.resource.clone(),
            controls: f
                .controls
                .iter()
                .map(|c| {
                    crate::compliance::controls::lookup(c)
                        .map(|c| c.label.clone())
                        .unwrap_or_else(|| c.clone())
                })
                .collect(),
            message: f.message.clone(),
        }
    }
}

/// What the compliance rules said about the template and parameters of a change set, judged
/// when the deploy was requested. Fields are private: the only ways to make one are to judge
/// the template ([`ComplianceVerdict::judge`]) or to say why it could not be judged
/// ([`ComplianceVerdict::unavailable`]), which the dialog shows and which raises the tier; so
/// no caller (console, headless, later the assistant) can hand the gate an empty verdict.
///
/// Fail closed: a rule that could not judge the template (an evaluation error, the time
/// limit), a user policy that did not load, and a template that could not be judged at all
/// count like an unwaived high failure: the typed tier, and refused in PRD or an unmapped
/// account (see `MutatingOp::policy_block`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ComplianceVerdict(Box<Verdict>);

/// Boxed: operations travel in messages, and `Op` stays small.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
struct Verdict {
    /// Failures that count (not under an active waiver).
    failures: Vec<ComplianceFailure>,
    /// Failures under an active waiver: shown, never blocking.
    waived: Vec<ComplianceFailure>,
    /// Checks that could not be made: a rule that failed to evaluate or was stopped, a
    /// policy file that did not load. Each counts as an unwaived failure.
    errors: Vec<String>,
    /// Why the template was not judged at all (no text, does not parse).
    unjudged: Option<String>,
    /// Waivers that were not applied (file unreadable, an invalid entry): the findings they
    /// would cover count. Shown; raises the tier.
    notes: Vec<String>,
}

impl ComplianceVerdict {
    /// Judge `text` with the parameters the deploy passes, in the environment it lands in.
    pub fn judge(
        checker: &Checker,
        text: &str,
        source: &str,
        parameters: &BTreeMap<String, String>,
        environment: Environment,
    ) -> ComplianceVerdict {
        let env = (environment != Environment::Unmapped).then(|| environment.as_str());
        match checker.judge_template(text, source, parameters, env) {
            Ok(eval) => {
                let (counting, waived): (Vec<&Finding>, Vec<&Finding>) =
                    eval.findings.iter().partition(|f| f.counts());
                let errors: Vec<String> = checker
                    .load_errors
                    .iter()
                    .map(|e| format!("policy not loaded: {e}"))
                    .chain(eval.errors.iter().map(|e| e.to_string()))
                    .collect();
                let mut failures: Vec<ComplianceFailure> =
                    counting.into_iter().map(ComplianceFailure::of).collect();
                // Worst first, so a cut-off list still shows what blocks.
                failures.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
                ComplianceVerdict(Box::new(Verdict {
                    failures,
                    waived: waived.into_iter().map(ComplianceFailure::of).collect(),
                    errors,
                    unjudged: None,
                    notes: checker.waiver_problems().collect(),
                }))
            }
            Err(e) => {
                ComplianceVerdict::unavailable(format!("the template could not be judged: {e}"))
            }
        }
    }

    /// The template could not be judged (its text is not available): said in the dialog, and
    /// the change takes the typed tier (refused in PRD).
    pub fn unavailable(why: impl Into<String>) -> ComplianceVerdict {
        ComplianceVerdict(Box::new(Verdict {
            failures: Vec::new(),
            waived: Vec::new(),
            errors: Vec::new(),
            unjudged: Some(why.into()),
            notes: Vec::new(),
        }))
    }

    /// A verdict with these failures (tests of tiers and refusals).
    #[cfg(test)]
    pub fn with_failures(failures: Vec<ComplianceFailure>) -> ComplianceVerdict {
        ComplianceVerdict(Box::new(Verdict {
            failures,
            waived: Vec::new(),
            errors: Vec::new(),
            unjudged: None,
            notes: Vec::new(),
        }))
    }

    /// A verdict where a rule could not judge (tests of tiers and refusals).
    #[cfg(test)]
    pub fn with_errors(errors: Vec<String>) -> ComplianceVerdict {
        ComplianceVerdict(Box::new(Verdict {
            failures: Vec::new(),
            waived: Vec::new(),
            errors,
            unjudged: None,
            notes: Vec::new(),
        }))
    }

    pub fn failures(&self) -> &[ComplianceFailure] {
        &self.0.failures
    }

    pub fn waived(&self) -> &[ComplianceFailure] {
        &self.0.waived
    }

    pub fn unjudged(&self) -> Option<&str> {
        self.0.unjudged.as_deref()
    }

    /// Checks that could not be made (rules that failed to evaluate, policies not loaded).
    pub fn errors(&self) -> &[String] {
        &self.0.errors
    }

    /// Waivers not applied, and why.
    pub fn notes(&self) -> &[String] {
        &self.0.notes
    }

    /// Nothing failed, everything was judged, every waiver applied as written.
    pub fn clean(&self) -> bool {
        self.0.failures.is_empty()
            && self.0.errors.is_empty()
            && self.0.unjudged.is_none()
            && self.0.notes.is_empty()
    }

    /// Why the rules' answer is incomplete, if it is: a check that could not be made counts
    /// as a failure (refused in PRD), never as a pass.
    pub fn not_judged(&self) -> Vec<&str> {
        self.0
            .unjudged
            .iter()
            .map(String::as_str)
            .chain(self.0.errors.iter().map(String::as_str))
            .collect()
    }

    /// Failures of severity high or critical.
    pub fn blocking(&self) -> impl Iterator<Item = &ComplianceFailure> {
        self.0
            .failures
            .iter()
            .filter(|f| f.severity >= Severity::High)
    }
}
