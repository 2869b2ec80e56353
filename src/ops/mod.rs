//! The one door for change.
//!
//! Every operation opsdeck can perform is a value of [`Op`]: either a [`ReadOp`] or a
//! [`MutatingOp`]. The split is structural — a new operation has to be placed in one of the two
//! enums, and [`MutatingOp::risk`] will not compile until it is given a confirmation tier. Each
//! value carries its fully resolved target, so what is confirmed is exactly what runs.
//!
//! A mutating operation reaches the engine only wrapped in [`Approved`], which only the
//! [`Gate`] can mint (see `gate.rs`).

mod gate;

pub use gate::{
    Approved, ApprovedMutation, ConfirmError, ConfirmRequest, Gate, GateBinding, ReadOnlyLatch,
    Refusal,
};

use crate::model::Environment;
use serde::Serialize;
use std::fmt;

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
}

impl ReadOp {
    pub fn name(&self) -> &'static str {
        match self {
            ReadOp::WhoAmI => "who-am-i",
            ReadOp::ListStacks { .. } => "list-stacks",
            ReadOp::DescribeStack { .. } => "describe-stack",
        }
    }

    pub fn title(&self) -> String {
        match self {
            ReadOp::WhoAmI => "Who am I (STS GetCallerIdentity)".to_string(),
            ReadOp::ListStacks { scope } => format!("List stacks in {}", scope.region),
            ReadOp::DescribeStack { stack_name, .. } => format!("Describe stack {stack_name}"),
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
    pub target: StackTarget,
}

/// Operations that change something. Adding a variant forces a decision in `risk`, `name`,
/// `target_key` and in every `match` over [`ApprovedMutation`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MutatingOp {
    DeleteStack(DeleteStack),
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
        }
    }

    pub fn risk(&self) -> RiskTier {
        match self {
            // Deletes are never reversible: always the typed tier, whatever the environment.
            MutatingOp::DeleteStack(d) => RiskTier::TypeName(d.target.stack_name.clone()),
        }
    }

    pub fn environment(&self) -> Environment {
        match self {
            MutatingOp::DeleteStack(d) => d.target.environment,
        }
    }

    /// One line saying exactly what will run, for the dialog, job title and audit.
    pub fn describe(&self) -> String {
        match self {
            MutatingOp::DeleteStack(d) => format!("Delete {}", d.target),
        }
    }

    /// Mutations on the same key run one at a time.
    pub fn target_key(&self) -> String {
        match self {
            MutatingOp::DeleteStack(d) => format!("cfn:{}", d.target.stack_id),
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
            MutatingOp::DeleteStack(d) => serde_json::to_value(&d.target),
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
            });
            assert_eq!(op.risk(), RiskTier::TypeName("web".into()));
        }
    }

    #[test]
    fn audit_target_carries_every_id() {
        let op = MutatingOp::DeleteStack(DeleteStack {
            target: target(Environment::Prd),
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
}
