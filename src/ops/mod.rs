//! The one door for change.
//!
//! Every operation opsdeck can perform is a value of [`Op`]: either a [`ReadOp`] or a
//! [`MutatingOp`]. The split is structural — a new operation has to be placed in one of the two
//! enums, and [`MutatingOp::risk`] will not compile until it is given a confirmation tier. Each
//! value carries its fully resolved target, so what is confirmed is exactly what runs.
//!
//! A mutating operation reaches the engine only wrapped in [`Approved`], which only the
//! [`Gate`] can mint (see `gate.rs`).

mod cloudformation;
mod gate;

pub use cloudformation::{
    ComplianceFailure, ComplianceVerdict, CreateChangeSet, DeleteStack, DeployParameter,
    DiscardChangeSet, ExecuteChangeSet, ParamValue, Secret, SetTerminationProtection, StackTarget,
    TemplateSource,
};

pub use gate::{
    Approved, ApprovedMutation, ConfirmError, ConfirmRequest, Gate, GateBinding, ReadOnlyLatch,
    Refusal,
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
    /// CloudFormation ListStacks (all pages, deleted stacks excluded).
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
    /// Follow a stack's events live until it settles, whoever started the change.
    FollowStack {
        scope: ReadScope,
        stack_id: String,
        stack_name: String,
    },
}

impl ReadOp {
    pub fn name(&self) -> &'static str {
        match self {
            ReadOp::WhoAmI => "who-am-i",
            ReadOp::ListStacks { .. } => "list-stacks",
            ReadOp::DescribeStack { .. } => "describe-stack",
            ReadOp::GetTemplate { .. } => "get-template",
            ReadOp::DetectDrift { .. } => "detect-drift",
            ReadOp::FollowStack { .. } => "follow-stack",
        }
    }

    pub fn title(&self) -> String {
        match self {
            ReadOp::WhoAmI => "Who am I (STS GetCallerIdentity)".to_string(),
            ReadOp::ListStacks { scope } => format!("List stacks in {}", scope.region),
            ReadOp::DescribeStack { stack_name, .. } => format!("Describe stack {stack_name}"),
            ReadOp::GetTemplate { stack_name, .. } => format!("Get template of {stack_name}"),
            ReadOp::DetectDrift { stack_name, .. } => format!("Detect drift of {stack_name}"),
            ReadOp::FollowStack { stack_name, .. } => format!("Follow stack {stack_name}"),
        }
    }
}

/// Operations that change something. Adding a variant forces a decision in `risk`, `name`,
/// `target_key` and in every `match` over [`ApprovedMutation`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MutatingOp {
    DeleteStack(DeleteStack),
    CreateChangeSet(CreateChangeSet),
    ExecuteChangeSet(ExecuteChangeSet),
    DiscardChangeSet(DiscardChangeSet),
    SetTerminationProtection(SetTerminationProtection),
}

/// How much a confirmation must cost the person giving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskTier {
    /// `y` or `Enter` confirms: reversible changes outside PRD.
    Simple,
    /// The person must type this text (the resource name): deletes, replacements, anything in PRD.
    TypeName(String),
}

impl MutatingOp {
    pub fn name(&self) -> &'static str {
        match self {
            MutatingOp::DeleteStack(_) => "delete-stack",
            MutatingOp::CreateChangeSet(_) => "create-change-set",
            MutatingOp::ExecuteChangeSet(_) => "execute-change-set",
            MutatingOp::DiscardChangeSet(_) => "discard-change-set",
            MutatingOp::SetTerminationProtection(_) => "set-termination-protection",
        }
    }

    pub fn risk(&self) -> RiskTier {
        match self {
            // Deletes are never reversible: always the typed tier, whatever the environment.
            MutatingOp::DeleteStack(d) => RiskTier::TypeName(d.target.stack_name.clone()),
            // Computing a change set changes no resource (the preview it yields is confirmed on
            // its own), and its failure or cancellation is cleaned up: `y`/`Enter`, except in
            // PRD, where every change is typed, and for a template that fails a compliance
            // rule (or could not be judged): the person continues only by typing the name.
            MutatingOp::CreateChangeSet(c) => {
                if c.environment.is_production_grade() || !c.compliance.clean() {
                    RiskTier::TypeName(c.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            MutatingOp::ExecuteChangeSet(e) => {
                if e.preview.has_destructive() || e.target.environment.is_production_grade() {
                    RiskTier::TypeName(e.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
            // Deleting an unexecuted change set (and its empty stack) undoes the request that
            // made it.
            MutatingOp::DiscardChangeSet(_) => RiskTier::Simple,
            // Turning protection off is what allows a delete: typed, always. Turning it on is
            // a reversible change, typed only in PRD.
            MutatingOp::SetTerminationProtection(p) => {
                if !p.enabled || p.target.environment.is_production_grade() {
                    RiskTier::TypeName(p.target.stack_name.clone())
                } else {
                    RiskTier::Simple
                }
            }
        }
    }

    /// Why the gate must refuse this operation outright, whoever asks and whatever is typed:
    /// in PRD (or an unmapped account) a template with an unwaived compliance failure of
    /// severity high or above is not deployed, nor one the rules could not fully judge (a
    /// rule that errored or was stopped, a policy that did not load, a template that could
    /// not be read): a check that cannot be made is a "no". Decided here, on the operation,
    /// so the console, the headless CLI and any later caller meet the same rule at the same
    /// door.
    pub fn policy_block(&self) -> Option<String> {
        match self {
            MutatingOp::CreateChangeSet(c) => {
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
                        "{} does not deploy a template with {}",
                        c.environment,
                        why.join(", nor one where ")
                    )
                })
            }
            // Deleting, executing a change set the gate already let through, discarding and
            // protection carry no template to judge.
            MutatingOp::DeleteStack(_)
            | MutatingOp::ExecuteChangeSet(_)
            | MutatingOp::DiscardChangeSet(_)
            | MutatingOp::SetTerminationProtection(_) => None,
        }
    }

    pub fn environment(&self) -> Environment {
        match self {
            MutatingOp::DeleteStack(d) => d.target.environment,
            MutatingOp::CreateChangeSet(c) => c.environment,
            MutatingOp::ExecuteChangeSet(e) => e.target.environment,
            MutatingOp::DiscardChangeSet(d) => d.target.environment,
            MutatingOp::SetTerminationProtection(p) => p.target.environment,
        }
    }

    /// One line saying exactly what will run, for the dialog, job title and audit.
    pub fn describe(&self) -> String {
        match self {
            MutatingOp::DeleteStack(d) => format!("Delete {}", d.target),
            MutatingOp::CreateChangeSet(c) => format!(
                "Create change set {} ({}) for stack {} in {} / {} ({}) from {}",
                c.change_set_name,
                c.kind().as_str(),
                c.stack_name,
                c.account,
                c.region,
                c.environment,
                c.template.origin()
            ),
            MutatingOp::ExecuteChangeSet(e) => format!(
                "Execute change set {} on {} ({})",
                e.preview.change_set_name,
                e.target,
                e.preview.counts()
            ),
            MutatingOp::DiscardChangeSet(d) => format!(
                "Discard change set {} of {}{}",
                d.change_set_name,
                d.target,
                if d.delete_empty_stack {
                    " and its empty stack"
                } else {
                    ""
                }
            ),
            MutatingOp::SetTerminationProtection(p) => format!(
                "Turn termination protection {} for {}",
                if p.enabled { "on" } else { "off" },
                p.target
            ),
        }
    }

    /// Mutations on the same key run one at a time.
    pub fn target_key(&self) -> String {
        match self {
            MutatingOp::DeleteStack(d) => format!("cfn:{}", d.target.stack_id),
            MutatingOp::CreateChangeSet(c) => match &c.existing_stack_id {
                Some(id) => format!("cfn:{id}"),
                None => format!("cfn-new:{}:{}:{}", c.account, c.region, c.stack_name),
            },
            MutatingOp::ExecuteChangeSet(e) => format!("cfn:{}", e.target.stack_id),
            MutatingOp::DiscardChangeSet(d) => format!("cfn:{}", d.target.stack_id),
            MutatingOp::SetTerminationProtection(p) => format!("cfn:{}", p.target.stack_id),
        }
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

    /// The resolved target as structured data, for the audit log.
    pub fn target_json(&self) -> serde_json::Value {
        let value = match self {
            MutatingOp::DeleteStack(d) => serde_json::to_value(d),
            // Parameters are included with NoEcho values as `****` (see `Secret`), the
            // template by origin and SHA-256, and the compliance verdict (failing rules,
            // resources, controls).
            MutatingOp::CreateChangeSet(c) => serde_json::to_value(c),
            MutatingOp::ExecuteChangeSet(e) => serde_json::to_value(e),
            MutatingOp::DiscardChangeSet(d) => serde_json::to_value(d),
            MutatingOp::SetTerminationProtection(p) => serde_json::to_value(p),
        };
        // Serialising plain strings and a unit enum cannot fail; fall back to a string anyway.
        value.unwrap_or_else(|e| serde_json::Value::String(format!("unserialisable target: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let delete = Op::Mutate(MutatingOp::DeleteStack(DeleteStack {
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
            let op = MutatingOp::DeleteStack(DeleteStack {
                target: target(env),
                retained: vec![],
            });
            assert_eq!(op.risk(), RiskTier::TypeName("web".into()));
        }
    }

    #[test]
    fn audit_target_carries_every_id() {
        let op = MutatingOp::DeleteStack(DeleteStack {
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
            MutatingOp::CreateChangeSet(c)
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
        assert_eq!(MutatingOp::CreateChangeSet(c).risk(), typed);
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
            MutatingOp::CreateChangeSet(c)
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
            let why = MutatingOp::CreateChangeSet(c)
                .policy_block()
                .expect("refused");
            assert!(why.contains("(no template text)"), "{why}");
        }
        // the audit target names the failing rules
        let json = with(Environment::Dev, vec![failure("S3-002", Severity::High)]).target_json();
        assert_eq!(json["compliance"]["failures"][0]["rule"], "S3-002");
        assert_eq!(json["compliance"]["failures"][0]["severity"], "high");
    }

    #[test]
    fn secrets_never_reach_the_audit_target_or_debug_output() {
        let op = MutatingOp::CreateChangeSet(create_change_set(Environment::Prd));
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
        use crate::model::{ChangeSetKind, ChangeSetPreview, ResourceChange};
        assert_eq!(
            MutatingOp::CreateChangeSet(create_change_set(Environment::Dev)).risk(),
            RiskTier::Simple
        );
        assert_eq!(
            MutatingOp::CreateChangeSet(create_change_set(Environment::Prd)).risk(),
            RiskTier::TypeName("db".into())
        );
        let execute = |env, action: &str, replacement: Option<&str>| {
            MutatingOp::ExecuteChangeSet(ExecuteChangeSet {
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
            MutatingOp::SetTerminationProtection(SetTerminationProtection {
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
