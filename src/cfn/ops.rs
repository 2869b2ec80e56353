//! The CloudFormation operations' values: targets resolved when the action is requested, and
//! everything a change set needs, held so that what is confirmed is exactly what runs.
//!
//! Over 800 lines because each operation's value sits beside its description, target and risk
//! tier, so one reading shows what a confirmation shows; the rest is tests.

use crate::cfn::model::{ChangeSetKind, ChangeSetPreview, RetainedResource};
use crate::compliance::Checker;
use crate::compliance::model::{Finding, Severity};
use crate::model::Environment;
use crate::ops::{MutatingOp, Mutation, Read, ReadScope, RiskTier, to_json};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// CloudFormation's reads. Targets are resolved when the read is requested.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CfnRead {
    /// ListStacks (all pages, deleted stacks excluded).
    ListStacks { scope: ReadScope },
    /// DescribeStacks + ListStackResources for one stack, by its ARN.
    DescribeStack {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
    /// GetTemplate: the stack's current template text (to update it with new parameters).
    GetTemplate {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
    /// DetectStackDrift, then poll until done, then DescribeStackResourceDrifts. Changes no
    /// resource (AWS's ReadOnlyAccess allows it).
    DetectDrift {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
    /// DescribeStacks for one stack, by its ARN: its most recent events.
    StackEvents {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
    /// Follow a stack's events live until it settles, whoever started the change.
    FollowStack {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
}

impl Read for CfnRead {
    fn name(&self) -> &'static str {
        match self {
            CfnRead::ListStacks { .. } => "list-stacks",
            CfnRead::DescribeStack { .. } => "describe-stack",
            CfnRead::GetTemplate { .. } => "get-template",
            CfnRead::DetectDrift { .. } => "detect-drift",
            CfnRead::StackEvents { .. } => "stack-events",
            CfnRead::FollowStack { .. } => "follow-stack",
        }
    }

    fn title(&self) -> String {
        match self {
            CfnRead::ListStacks { scope } => format!("List stacks in {}", scope.region),
            CfnRead::DescribeStack { stack_name, .. } => format!("Describe stack {stack_name}"),
            CfnRead::GetTemplate { stack_name, .. } => format!("Get template of {stack_name}"),
            CfnRead::DetectDrift { stack_name, .. } => format!("Detect drift of {stack_name}"),
            CfnRead::StackEvents { stack_name, .. } => format!("Events of stack {stack_name}"),
            CfnRead::FollowStack { stack_name, .. } => format!("Follow stack {stack_name}"),
        }
    }

    fn long_running(&self) -> bool {
        match self {
            CfnRead::ListStacks { .. }
            | CfnRead::DescribeStack { .. }
            | CfnRead::StackEvents { .. }
            | CfnRead::GetTemplate { .. } => false,
            // Drift detection and following last as long as CloudFormation takes.
            CfnRead::DetectDrift { .. } | CfnRead::FollowStack { .. } => true,
        }
    }

    fn streams(&self) -> bool {
        match self {
            // Each event as it happens, into the open stack's Events tab.
            CfnRead::FollowStack { .. } => true,
            CfnRead::ListStacks { .. }
            | CfnRead::DescribeStack { .. }
            | CfnRead::StackEvents { .. }
            | CfnRead::GetTemplate { .. }
            | CfnRead::DetectDrift { .. } => false,
        }
    }
}

/// CloudFormation's mutations. Adding a variant forces a decision in every match of the
/// [`Mutation`] impl below and in `cfn::port::execute`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CfnMutation {
    DeleteStack(DeleteStack),
    CreateChangeSet(CreateChangeSet),
    ExecuteChangeSet(ExecuteChangeSet),
    DiscardChangeSet(DiscardChangeSet),
    SetTerminationProtection(SetTerminationProtection),
    ContinueUpdateRollback(ContinueUpdateRollback),
    CancelUpdateStack(CancelUpdateStack),
}

impl CfnMutation {
    /// The stack a change is aimed at, resolved when it was asked for (`None` for a new
    /// stack's change set, which names its account and region itself).
    pub fn stack_target(&self) -> Option<&StackTarget> {
        match self {
            CfnMutation::DeleteStack(d) => Some(&d.target),
            CfnMutation::CreateChangeSet(_) => None,
            CfnMutation::ExecuteChangeSet(e) => Some(&e.target),
            CfnMutation::DiscardChangeSet(d) => Some(&d.target),
            CfnMutation::SetTerminationProtection(p) => Some(&p.target),
            CfnMutation::ContinueUpdateRollback(c) => Some(&c.target),
            CfnMutation::CancelUpdateStack(c) => Some(&c.target),
        }
    }
}

macro_rules! into_mutation {
    ($($variant:ident),* $(,)?) => {$(
        impl From<$variant> for CfnMutation {
            fn from(op: $variant) -> CfnMutation {
                CfnMutation::$variant(op)
            }
        }
        impl From<$variant> for MutatingOp {
            fn from(op: $variant) -> MutatingOp {
                MutatingOp::Cfn(CfnMutation::$variant(op))
            }
        }
    )*};
}

into_mutation!(
    DeleteStack,
    CreateChangeSet,
    ExecuteChangeSet,
    DiscardChangeSet,
    SetTerminationProtection,
    ContinueUpdateRollback,
    CancelUpdateStack,
);

impl Mutation for CfnMutation {
    fn name(&self) -> &'static str {
        match self {
            CfnMutation::DeleteStack(_) => "delete-stack",
            CfnMutation::CreateChangeSet(_) => "create-change-set",
            CfnMutation::ExecuteChangeSet(_) => "execute-change-set",
            CfnMutation::DiscardChangeSet(_) => "discard-change-set",
            CfnMutation::SetTerminationProtection(_) => "set-termination-protection",
            CfnMutation::ContinueUpdateRollback(_) => "continue-update-rollback",
            CfnMutation::CancelUpdateStack(_) => "cancel-update-stack",
        }
    }

    fn risk(&self) -> RiskTier {
        match self {
            // Deletes are never reversible: always the typed tier, whatever the environment.
            CfnMutation::DeleteStack(d) => RiskTier::TypeName(d.target.stack_name.clone()),
            // Computing a change set changes no resource (the preview it yields is confirmed on
            // its own), and its failure or cancellation is cleaned up: `y`/`Enter`, except in
            // PRD, where every change is typed, and for a template that fails a compliance
            // rule (or could not be judged): the person continues only by typing the name.
            // Over budget (or a budget that cannot be checked): typed, too.
            CfnMutation::CreateChangeSet(c) => {
                if c.environment.is_production_grade()
                    || !c.compliance.clean()
                    || c.cost.needs_typed_name()
                {
                    RiskTier::TypeName(c.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            CfnMutation::ExecuteChangeSet(e) => {
                if e.preview.has_destructive()
                    || e.target.environment.is_production_grade()
                    || e.cost.needs_typed_name()
                {
                    RiskTier::TypeName(e.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            // Deleting an unexecuted change set (and its empty stack) undoes the request that
            // made it.
            CfnMutation::DiscardChangeSet(_) => RiskTier::Simple,
            // Turning protection off is what allows a delete: typed, always. Turning it on is
            // a reversible change, typed only in PRD.
            CfnMutation::SetTerminationProtection(p) => {
                if !p.enabled || p.target.environment.is_production_grade() {
                    RiskTier::TypeName(p.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            // Skipping resources leaves them as they are while CloudFormation counts them
            // rolled back: typed, like anything in PRD.
            CfnMutation::ContinueUpdateRollback(c) => {
                if !c.resources_to_skip.is_empty() || c.target.environment.is_production_grade() {
                    RiskTier::TypeName(c.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            // Cancelling rolls the update back to what ran before: `y` outside PRD.
            CfnMutation::CancelUpdateStack(c) => {
                if c.target.environment.is_production_grade() {
                    RiskTier::TypeName(c.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
        }
    }

    /// In PRD (or an unmapped account) a template with an unwaived compliance failure of
    /// severity high or above is not deployed.
    fn policy_block(&self) -> Option<String> {
        match self {
            CfnMutation::CreateChangeSet(c) => {
                if !c.environment.is_production_grade() {
                    return None;
                }
                let mut blocking: Vec<String> = c
                    .compliance
                    .blocking()
                    .map(|f| format!("{} ({}) on {}", f.rule, f.severity, f.resource))
                    .collect();
                // One rule fails once per property: name each rule and resource once.
                blocking.dedup();
                // A check that cannot be made is a "no": a rule that errored or was stopped,
                // a policy that did not load, a template that could not be read.
                let not_judged = c.compliance.not_judged();
                let mut why = Vec::new();
                if !blocking.is_empty() {
                    why.push(format!(
                        "unwaived high or critical compliance failures: {}",
                        blocking.join(", ")
                    ));
                }
                if !not_judged.is_empty() {
                    why.push(format!(
                        "the compliance rules could not fully judge it ({})",
                        not_judged.join("; ")
                    ));
                }
                (!why.is_empty()).then(|| {
                    format!(
                        "compliance: {} does not deploy a template with {}",
                        c.environment,
                        why.join(", nor one where ")
                    )
                })
            }
            // Deleting, executing a change set the gate already let through, discarding and
            // protection carry no template to judge.
            CfnMutation::DeleteStack(_)
            | CfnMutation::ExecuteChangeSet(_)
            | CfnMutation::DiscardChangeSet(_)
            | CfnMutation::SetTerminationProtection(_)
            | CfnMutation::ContinueUpdateRollback(_)
            | CfnMutation::CancelUpdateStack(_) => None,
        }
    }

    fn environment(&self) -> Environment {
        match self {
            CfnMutation::DeleteStack(d) => d.target.environment,
            CfnMutation::CreateChangeSet(c) => c.environment,
            CfnMutation::ExecuteChangeSet(e) => e.target.environment,
            CfnMutation::DiscardChangeSet(d) => d.target.environment,
            CfnMutation::SetTerminationProtection(p) => p.target.environment,
            CfnMutation::ContinueUpdateRollback(c) => c.target.environment,
            CfnMutation::CancelUpdateStack(c) => c.target.environment,
        }
    }

    fn describe(&self) -> String {
        match self {
            CfnMutation::DeleteStack(d) => format!("Delete {}", d.target),
            CfnMutation::CreateChangeSet(c) => format!(
                "Create change set {} ({}) for stack {} in {} / {} ({}) from {}",
                c.change_set_name,
                c.kind().as_str(),
                c.stack_name,
                c.account,
                c.region,
                c.environment,
                c.template.origin()
            ),
            CfnMutation::ExecuteChangeSet(e) => format!(
                "Execute change set {} on {} ({})",
                e.preview.change_set_name,
                e.target,
                e.preview.counts()
            ),
            CfnMutation::DiscardChangeSet(d) => format!(
                "Discard change set {} of {}{}",
                d.change_set_name,
                d.target,
                if d.delete_empty_stack {
                    " and its empty stack"
                } else {
                    ""
                }
            ),
            CfnMutation::SetTerminationProtection(p) => format!(
                "Turn termination protection {} for {}",
                if p.enabled { "on" } else { "off" },
                p.target
            ),
            CfnMutation::ContinueUpdateRollback(c) if c.resources_to_skip.is_empty() => {
                format!("Continue the failed rollback of {}", c.target)
            }
            CfnMutation::ContinueUpdateRollback(c) => format!(
                "Continue the failed rollback of {}, skipping {}",
                c.target,
                c.resources_to_skip.join(", ")
            ),
            CfnMutation::CancelUpdateStack(c) => {
                format!("Cancel the update of {} (it rolls back)", c.target)
            }
        }
    }

    fn target_key(&self) -> String {
        match self {
            CfnMutation::DeleteStack(d) => format!("cfn:{}", d.target.stack_id),
            CfnMutation::CreateChangeSet(c) => match &c.existing_stack_id {
                Some(id) => format!("cfn:{id}"),
                None => format!("cfn-new:{}:{}:{}", c.account, c.region, c.stack_name),
            },
            CfnMutation::ExecuteChangeSet(e) => format!("cfn:{}", e.target.stack_id),
            CfnMutation::DiscardChangeSet(d) => format!("cfn:{}", d.target.stack_id),
            CfnMutation::SetTerminationProtection(p) => format!("cfn:{}", p.target.stack_id),
            CfnMutation::ContinueUpdateRollback(c) => format!("cfn:{}", c.target.stack_id),
            CfnMutation::CancelUpdateStack(c) => format!("cfn:{}", c.target.stack_id),
        }
    }

    fn target_json(&self) -> serde_json::Value {
        match self {
            CfnMutation::DeleteStack(d) => to_json(d),
            // Parameters are included with NoEcho values as `****` (see `Secret`), the
            // template by origin and SHA-256, and the compliance verdict (failing rules,
            // resources, controls).
            CfnMutation::CreateChangeSet(c) => to_json(c),
            CfnMutation::ExecuteChangeSet(e) => to_json(e),
            CfnMutation::DiscardChangeSet(d) => to_json(d),
            CfnMutation::SetTerminationProtection(p) => to_json(p),
            CfnMutation::ContinueUpdateRollback(c) => to_json(c),
            CfnMutation::CancelUpdateStack(c) => to_json(c),
        }
    }

    fn target_line(&self) -> String {
        match self {
            CfnMutation::DeleteStack(d) => d.target.to_string(),
            CfnMutation::CreateChangeSet(c) => format!(
                "stack {} in {} / {} ({})",
                c.stack_name, c.account, c.region, c.environment
            ),
            CfnMutation::ExecuteChangeSet(e) => e.target.to_string(),
            CfnMutation::DiscardChangeSet(d) => d.target.to_string(),
            CfnMutation::SetTerminationProtection(p) => p.target.to_string(),
            CfnMutation::ContinueUpdateRollback(c) => c.target.to_string(),
            CfnMutation::CancelUpdateStack(c) => c.target.to_string(),
        }
    }

    fn dialog_rows(&self) -> usize {
        match self {
            CfnMutation::ExecuteChangeSet(e) => e.preview.changes.len(),
            CfnMutation::CreateChangeSet(c) => {
                c.parameters.len()
                    + 3 * (c.compliance.failures().len() + c.compliance.waived().len())
                    + c.cost.delta().map_or(0, |d| d.resources.len())
                    + 22
            }
            CfnMutation::DeleteStack(d) => d.retained.len() + 12,
            CfnMutation::ContinueUpdateRollback(c) => c.resources_to_skip.len() + 12,
            CfnMutation::DiscardChangeSet(_)
            | CfnMutation::SetTerminationProtection(_)
            | CfnMutation::CancelUpdateStack(_) => 12,
        }
    }

    /// Dismissing a change set's review also means "do not keep it": discard exactly that
    /// change set, and the empty stack made for a new one.
    fn on_dismiss(&self) -> Option<MutatingOp> {
        match self {
            CfnMutation::ExecuteChangeSet(execute) => Some(MutatingOp::from(DiscardChangeSet {
                delete_empty_stack: execute.preview.kind == ChangeSetKind::Create,
                change_set_id: execute.preview.change_set_id.clone(),
                change_set_name: execute.preview.change_set_name.clone(),
                target: execute.target.clone(),
            })),
            CfnMutation::DeleteStack(_)
            | CfnMutation::CreateChangeSet(_)
            | CfnMutation::DiscardChangeSet(_)
            | CfnMutation::SetTerminationProtection(_)
            | CfnMutation::ContinueUpdateRollback(_)
            | CfnMutation::CancelUpdateStack(_) => None,
        }
    }

    fn is_cleanup(&self) -> bool {
        match self {
            CfnMutation::DiscardChangeSet(_) => true,
            CfnMutation::DeleteStack(_)
            | CfnMutation::CreateChangeSet(_)
            | CfnMutation::ExecuteChangeSet(_)
            | CfnMutation::SetTerminationProtection(_)
            | CfnMutation::ContinueUpdateRollback(_)
            | CfnMutation::CancelUpdateStack(_) => false,
        }
    }

    fn what_may_be_left(&self, endpoint: Option<&str>) -> Option<String> {
        use crate::aws::calls::cli_args;
        use crate::cfn::aws::leftovers::{ChangeSetLeft, goes_on};
        match self {
            CfnMutation::CreateChangeSet(c) => ChangeSetLeft {
                change_set: &c.change_set_name,
                stack_name: &c.stack_name,
                stack: c.existing_stack_id.as_deref().unwrap_or(&c.stack_name),
                change_set_left: true,
                empty_stack_left: c.existing_stack_id.is_none(),
                certain: false,
            }
            .note(&cli_args(Some(&c.region), endpoint)),
            CfnMutation::DiscardChangeSet(d) => ChangeSetLeft {
                change_set: &d.change_set_id,
                stack_name: &d.target.stack_name,
                stack: &d.target.stack_id,
                change_set_left: true,
                empty_stack_left: d.delete_empty_stack,
                certain: false,
            }
            .note(&cli_args(Some(&d.target.region), endpoint)),
            CfnMutation::ExecuteChangeSet(e) => Some(goes_on(&e.target, endpoint)),
            CfnMutation::DeleteStack(d) => Some(goes_on(&d.target, endpoint)),
            CfnMutation::ContinueUpdateRollback(c) => Some(goes_on(&c.target, endpoint)),
            CfnMutation::CancelUpdateStack(c) => Some(goes_on(&c.target, endpoint)),
            CfnMutation::SetTerminationProtection(_) => None,
        }
    }
}

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

impl StackTarget {
    /// The stack an ARN names, resolved to its account and region from the ARN itself (never
    /// from the session: what is confirmed is what the ARN says) and to the environment
    /// `environment_of` maps that account to.
    pub fn from_arn(
        stack_id: &str,
        stack_name: &str,
        environment_of: impl FnOnce(&str) -> Environment,
    ) -> Result<StackTarget, crate::ops::PlanError> {
        let field = |index| crate::cfn::model::arn_field(stack_id, index);
        let (Some(region), Some(account)) = (field(3), field(4)) else {
            return Err(crate::ops::PlanError::Refused(format!(
                "stack {stack_name} has no usable ARN ({stack_id}); refusing to ask"
            )));
        };
        Ok(StackTarget {
            account: account.to_string(),
            region: region.to_string(),
            environment: environment_of(account),
            stack_name: stack_name.to_string(),
            stack_id: stack_id.to_string(),
        })
    }
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
    /// The monthly cost before → after and the environment's budget: confirmed and audited
    /// with the request; a delta over budget (or a budget that cannot be checked) raises the
    /// tier.
    pub cost: crate::cost::verdict::CostVerdict,
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
    /// The cost verdict of the request that computed the change set, itemised by its rows.
    pub cost: crate::cost::verdict::CostVerdict,
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

/// Resume a rollback that failed (`UPDATE_ROLLBACK_FAILED`): CloudFormation tries it again,
/// skipping the resources named (left as they are, counted as rolled back).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ContinueUpdateRollback {
    #[serde(flatten)]
    pub target: StackTarget,
    /// Logical ids of resources to skip (checked against the stack's resources when asked).
    pub resources_to_skip: Vec<String>,
}

/// Cancel an update in progress (`UPDATE_IN_PROGRESS`): CloudFormation rolls it back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CancelUpdateStack {
    #[serde(flatten)]
    pub target: StackTarget,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Op, ReadOp};

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
    }

    #[test]
    fn delete_is_typed_tier_in_every_environment() {
        for env in [
            Environment::Dev,
            Environment::Tst,
            Environment::Prd,
            Environment::Unmapped,
        ] {
            let op = MutatingOp::from(DeleteStack {
                target: target(env),
                retained: vec![],
            });
            assert_eq!(op.risk(), RiskTier::TypeName("web".into()));
        }
    }

    #[test]
    fn audit_target_carries_every_id() {
        let op = MutatingOp::from(DeleteStack {
            target: target(Environment::Prd),
            retained: vec![],
        });
        let json = op.target_json();
        assert_eq!(json["account"], "123456789012");
        assert_eq!(json["region"], "us-east-1");
        assert_eq!(json["environment"], "PRD");
        assert_eq!(json["stack_name"], "web");
        assert!(
            json["stack_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("arn:aws:cloudformation"))
        );
    }

    fn create_change_set(env: Environment) -> CreateChangeSet {
        CreateChangeSet {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment: env,
            stack_name: "db".into(),
            existing_stack_id: None,
            change_set_name: "opsdeck-1".into(),
            template: TemplateSource::body("rds-postgres", "Resources: {}\n"),
            parameters: vec![
                DeployParameter {
                    key: "DBInstanceClass".into(),
                    value: ParamValue::Plain("db.t4g.micro".into()),
                },
                DeployParameter {
                    key: "MasterUserPassword".into(),
                    value: ParamValue::Secret(Secret::new("hunter2-very-secret")),
                },
            ],
            compliance: ComplianceVerdict::with_failures(Vec::new()),
            cost: crate::cost::verdict::CostVerdict::none(),
        }
    }

    fn failure(rule: &str, severity: crate::compliance::model::Severity) -> ComplianceFailure {
        ComplianceFailure {
            rule: rule.into(),
            severity,
            resource: "Bucket".into(),
            controls: vec!["SC-28".into()],
            message: "bucket Bucket is not encrypted".into(),
        }
    }

    #[test]
    fn compliance_failures_raise_the_tier_and_block_high_ones_in_prd() {
        use crate::compliance::model::Severity;
        let with = |env, failures| {
            let mut c = create_change_set(env);
            c.compliance = ComplianceVerdict::with_failures(failures);
            MutatingOp::from(c)
        };
        let typed = RiskTier::TypeName("db".into());
        // DEV: any unwaived failure → typed; never refused
        let dev = with(Environment::Dev, vec![failure("S3-002", Severity::High)]);
        assert_eq!(dev.risk(), typed);
        assert_eq!(dev.policy_block(), None);
        assert_eq!(with(Environment::Dev, vec![]).risk(), RiskTier::Simple);
        // could not be judged → typed
        let mut c = create_change_set(Environment::Dev);
        c.compliance = ComplianceVerdict::unavailable("no template text");
        assert_eq!(MutatingOp::from(c).risk(), typed);
        // PRD and unmapped: high or critical refuses; medium only types
        for env in [Environment::Prd, Environment::Unmapped] {
            let blocked = with(env, vec![failure("S3-002", Severity::Critical)]);
            let why = blocked.policy_block().expect("refused");
            assert!(why.contains("S3-002 (critical) on Bucket"), "{why}");
            assert_eq!(
                with(env, vec![failure("TAG-001", Severity::Medium)]).policy_block(),
                None
            );
        }
        // a rule that could not judge (or a template not judged at all) counts as a
        // failure: typed everywhere, refused in PRD and unmapped accounts
        let errored = |env| {
            let mut c = create_change_set(env);
            c.compliance = ComplianceVerdict::with_errors(vec![
                "policies/s3_encryption.rego: rule S3-001 could not judge t.yaml: stopped after 2 s".into(),
            ]);
            MutatingOp::from(c)
        };
        assert_eq!(errored(Environment::Dev).risk(), typed);
        assert_eq!(errored(Environment::Dev).policy_block(), None);
        for env in [Environment::Prd, Environment::Unmapped] {
            let why = errored(env).policy_block().expect("refused");
            assert!(
                why.contains("could not fully judge it (policies/s3_encryption.rego: rule S3-001"),
                "{why}"
            );
            let mut c = create_change_set(env);
            c.compliance = ComplianceVerdict::unavailable("no template text");
            let why = MutatingOp::from(c).policy_block().expect("refused");
            assert!(why.contains("(no template text)"), "{why}");
        }
        // the audit target names the failing rules
        let json = with(Environment::Dev, vec![failure("S3-002", Severity::High)]).target_json();
        assert_eq!(json["compliance"]["failures"][0]["rule"], "S3-002");
        assert_eq!(json["compliance"]["failures"][0]["severity"], "high");
    }

    #[test]
    fn secrets_never_reach_the_audit_target_or_debug_output() {
        let op = MutatingOp::from(create_change_set(Environment::Prd));
        let json = op.target_json().to_string();
        let debug = format!("{op:?}");
        for text in [&json, &debug, &op.describe()] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(
            json.contains("db.t4g.micro") && json.contains("****"),
            "{json}"
        );
        // the template is named and hashed, not copied
        assert!(json.contains("\"sha256\""), "{json}");
        assert!(!json.contains("Resources"), "{json}");
    }

    #[test]
    fn change_set_tiers_follow_the_preview_and_the_environment() {
        use crate::cfn::model::{ChangeSetPreview, ResourceChange};
        assert_eq!(
            MutatingOp::from(create_change_set(Environment::Dev)).risk(),
            RiskTier::Simple
        );
        assert_eq!(
            MutatingOp::from(create_change_set(Environment::Prd)).risk(),
            RiskTier::TypeName("db".into())
        );
        let execute = |env, action: &str, replacement: Option<&str>| {
            MutatingOp::from(ExecuteChangeSet {
                target: target(env),
                preview: ChangeSetPreview {
                    stack_name: "web".into(),
                    stack_id: target(env).stack_id,
                    change_set_id: "cs".into(),
                    change_set_name: "opsdeck-1".into(),
                    kind: ChangeSetKind::Update,
                    changes: vec![ResourceChange {
                        action: action.into(),
                        logical_id: "Bucket".into(),
                        physical_id: None,
                        resource_type: "AWS::S3::Bucket".into(),
                        replacement: replacement.map(Into::into),
                        scope: vec!["Properties".into()],
                        details: vec![],
                    }],
                },
                cost: crate::cost::verdict::CostVerdict::none(),
            })
            .risk()
        };
        let typed = RiskTier::TypeName("web".into());
        assert_eq!(execute(Environment::Dev, "Add", None), RiskTier::Simple);
        assert_eq!(
            execute(Environment::Tst, "Modify", Some("False")),
            RiskTier::Simple
        );
        assert_eq!(execute(Environment::Dev, "Modify", Some("True")), typed);
        assert_eq!(
            execute(Environment::Dev, "Modify", Some("Conditional")),
            typed
        );
        assert_eq!(execute(Environment::Dev, "Remove", None), typed);
        assert_eq!(execute(Environment::Prd, "Add", None), typed);
        assert_eq!(execute(Environment::Unmapped, "Add", None), typed);
        let protect = |env, enabled| {
            MutatingOp::from(SetTerminationProtection {
                target: target(env),
                enabled,
            })
            .risk()
        };
        assert_eq!(protect(Environment::Dev, false), typed);
        assert_eq!(protect(Environment::Dev, true), RiskTier::Simple);
        assert_eq!(protect(Environment::Prd, true), typed);
    }
}
