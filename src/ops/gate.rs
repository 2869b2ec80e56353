//! The gate: the only place an [`Approved`] token can be created.
//!
//! Flow: `request(op)` records the request and opens a confirmation (or refuses it);
//! the confirmation dialog calls `confirm(id, typed)`, which checks the open request's id and
//! tier, records the confirmation durably, and only then mints the token. Read-only mode is a
//! one-way latch: nothing can release it once engaged.

use super::{CfnMutation, CostMutation, InstallMutation, KubeMutation, MutatingOp, RiskTier};
use crate::audit::{Actor, AuditSink, Decision};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Proof that a person confirmed exactly this operation in the dialog.
///
/// Private fields, not `Clone`, `Default` or `Deserialize`: it can only be minted by
/// [`Gate::confirm`] and is consumed by the engine or provider method that executes it.
/// Reading it is allowed:
///
/// ```
/// # use opsdeck::ops::{Approved, MutatingOp};
/// fn who(a: &Approved<MutatingOp>) -> (u64, &str) {
///     (a.request_id(), a.op().name())
/// }
/// ```
///
/// Building one outside the gate does not compile:
///
/// ```compile_fail
/// # use opsdeck::ops::{Approved, MutatingOp};
/// fn forge(op: MutatingOp, actor: opsdeck::audit::Actor) -> Approved<MutatingOp> {
///     Approved { op: Box::new(op), request_id: 1, actor, gate: 1 }
/// }
/// ```
///
/// nor does copying one, or aiming one's proof at another operation:
///
/// ```compile_fail
/// # use opsdeck::ops::{Approved, MutatingOp};
/// fn twice(a: Approved<MutatingOp>) -> (Approved<MutatingOp>, Approved<MutatingOp>) {
///     (a.clone(), a)
/// }
/// ```
///
/// ```compile_fail
/// # use opsdeck::ops::{Approved, MutatingOp};
/// fn re_aim(a: Approved<MutatingOp>, other: MutatingOp) -> Approved<MutatingOp> {
///     let (_, proof) = a.into_parts();
///     proof.attach(other)
/// }
/// ```
#[derive(Debug)]
#[must_use = "an approval does nothing until it is submitted to the engine"]
pub struct Approved<T> {
    /// Boxed: operations carry whole change-set previews, and approvals travel in messages.
    op: Box<T>,
    request_id: u64,
    actor: Actor,
    /// The gate that minted it; an engine accepts only its own gate's approvals.
    gate: u64,
}

impl<T> Approved<T> {
    pub fn op(&self) -> &T {
        &self.op
    }

    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// The proof part of an approval (request, actor, minting gate), taken off its operation so
/// that an operation enum's `split` can put it on the variant it holds. Not `Clone`: it goes
/// on exactly one value.
#[derive(Debug)]
pub struct Proof {
    request_id: u64,
    actor: Actor,
    gate: u64,
}

impl Proof {
    /// Put the proof back on the value it was taken from, narrowed to its variant.
    pub(crate) fn attach<U>(self, op: U) -> Approved<U> {
        Approved {
            op: Box::new(op),
            request_id: self.request_id,
            actor: self.actor,
            gate: self.gate,
        }
    }
}

impl<T> Approved<T> {
    /// Take the approval apart to narrow it: only each operation enum's `split` does this,
    /// attaching the proof to the variant's own value, unchanged.
    pub(crate) fn into_parts(self) -> (T, Proof) {
        (
            *self.op,
            Proof {
                request_id: self.request_id,
                actor: self.actor,
                gate: self.gate,
            },
        )
    }
}

/// An approved mutation narrowed to its capability, so each capability's executor (and then
/// each provider method) can demand the approval for exactly its own operation.
#[derive(Debug)]
pub enum ApprovedMutation {
    Cfn(Approved<CfnMutation>),
    Install(Approved<InstallMutation>),
    Kube(Approved<KubeMutation>),
    Cost(Approved<CostMutation>),
}

/// An approval minted by another gate than the one this engine or provider serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this approval was not minted by this console's gate; refusing to run it")]
pub struct ForeignApproval;

impl Approved<MutatingOp> {
    /// Narrow to the capability, after checking that `binding`'s gate minted this approval.
    pub fn split(self, binding: &GateBinding) -> Result<ApprovedMutation, ForeignApproval> {
        binding.check(&self)?;
        let (op, proof) = self.into_parts();
        Ok(match op {
            MutatingOp::Cfn(m) => ApprovedMutation::Cfn(proof.attach(m)),
            MutatingOp::Install(m) => ApprovedMutation::Install(proof.attach(m)),
            MutatingOp::Kube(m) => ApprovedMutation::Kube(proof.attach(m)),
            MutatingOp::Cost(m) => ApprovedMutation::Cost(proof.attach(m)),
        })
    }
}

/// Read-only mode. Engaged at start (flag, config, viewer role) or later (a viewer role
/// discovered once STS answers); never released. Clones share the same latch, so the gate and
/// the engine always agree.
#[derive(Debug, Clone, Default)]
pub struct ReadOnlyLatch {
    inner: Arc<LatchInner>,
}

#[derive(Debug, Default)]
struct LatchInner {
    engaged: AtomicBool,
    reasons: Mutex<Vec<String>>,
}

impl ReadOnlyLatch {
    pub fn new() -> ReadOnlyLatch {
        ReadOnlyLatch::default()
    }

    pub fn engage(&self, reason: impl Into<String>) {
        let mut reasons = self.inner.reasons.lock().unwrap_or_else(|p| p.into_inner());
        reasons.push(reason.into());
        self.inner.engaged.store(true, Ordering::SeqCst);
    }

    pub fn is_engaged(&self) -> bool {
        self.inner.engaged.load(Ordering::SeqCst)
    }

    /// Why read-only mode is on, in the order the reasons arrived.
    pub fn reasons(&self) -> Vec<String> {
        self.inner
            .reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The first reason, for short displays.
    pub fn reason(&self) -> Option<String> {
        self.reasons().into_iter().next()
    }
}

fn first_request_id() -> u64 {
    let millis = crate::model::now_ms().max(0) as u64;
    (millis << 16) | u64::from(std::process::id() & 0xffff)
}

/// A confirmation the dialog must show: exactly what will run and what it takes to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmRequest {
    pub id: u64,
    pub op: MutatingOp,
    pub tier: RiskTier,
}

/// What dismissing a confirmation led to.
#[derive(Debug)]
#[must_use = "an undo approval does nothing until it is submitted, and an audit failure must be shown"]
pub struct Dismissal {
    /// The approval to undo the dismissed request (a change set's review: discard it).
    pub undo: Option<Approved<MutatingOp>>,
    /// Audit entries that could not be written, said plainly.
    pub unrecorded: Option<String>,
}

/// `reason`, plus the audit failure when recording it failed.
fn unrecorded(reason: String, recorded: Result<(), String>) -> String {
    match recorded {
        Ok(()) => reason,
        Err(e) => format!("{reason} (and the refusal could not be written to the audit log: {e})"),
    }
}

/// Why a request was refused before any dialog opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("read-only mode: {0}")]
    ReadOnly(String),
    #[error("waiting for the AWS identity before changes are allowed: {0}")]
    IdentityPending(String),
    #[error("another confirmation is already open")]
    Busy,
    #[error("the audit log cannot be written, so no change is allowed: {0}")]
    AuditUnavailable(String),
    /// The operation itself is not allowed (`MutatingOp::policy_block`): in PRD, a template
    /// with unwaived high or critical compliance failures; reaping outside DEV. The text says
    /// which rule (`compliance: …`, `cost: …`).
    #[error("{0}")]
    Policy(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("no open confirmation with id {0}")]
    NoSuchRequest(u64),
    #[error("type {expected:?} exactly to confirm")]
    TextMismatch { expected: String },
    #[error("read-only mode: {0}")]
    ReadOnly(String),
    #[error("the audit log cannot be written, so the change was not approved: {0}")]
    AuditUnavailable(String),
}

pub struct Gate {
    latch: ReadOnlyLatch,
    audit: Arc<dyn AuditSink>,
    actor: Actor,
    identity_pending: Option<String>,
    next_id: u64,
    open: Option<ConfirmRequest>,
    /// Distinguishes this gate's approvals from any other gate's.
    serial: u64,
}

/// What an engine needs from the one gate it serves: the gate's read-only latch, and the
/// means to recognise that gate's approvals. An approval minted by any other `Gate` (say one
/// built with a fresh latch) is refused by the engine, so the dialog's gate is the only door.
#[derive(Debug, Clone)]
pub struct GateBinding {
    serial: u64,
    latch: ReadOnlyLatch,
}

impl GateBinding {
    pub fn latch(&self) -> &ReadOnlyLatch {
        &self.latch
    }

    pub fn minted<T>(&self, approved: &Approved<T>) -> bool {
        approved.gate == self.serial
    }

    /// `Ok` only for an approval this binding's gate minted.
    pub fn check<T>(&self, approved: &Approved<T>) -> Result<(), ForeignApproval> {
        if self.minted(approved) {
            Ok(())
        } else {
            Err(ForeignApproval)
        }
    }
}

static NEXT_GATE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Gate {
    /// `identity_pending`: Some(reason) when the role cannot be decided until STS answers; changes
    /// are refused until [`Gate::identity_resolved`] is called.
    ///
    /// Only `setup` can make the [`GateKey`](crate::setup::GateKey), so every gate is built
    /// there:
    ///
    /// ```compile_fail
    /// # use opsdeck::ops::{Gate, ReadOnlyLatch};
    /// # fn audit() -> std::sync::Arc<dyn opsdeck::audit::AuditSink> { todo!() }
    /// let actor = opsdeck::audit::Actor { os_user: "x".into(), principal: None };
    /// // error: GateKey has a private field
    /// let gate = Gate::new(opsdeck::setup::GateKey(()), ReadOnlyLatch::new(), audit(), actor, None);
    /// ```
    pub fn new(
        _key: crate::setup::GateKey,
        latch: ReadOnlyLatch,
        audit: Arc<dyn AuditSink>,
        actor: Actor,
        identity_pending: Option<String>,
    ) -> Gate {
        Gate {
            latch,
            audit,
            actor,
            identity_pending,
            // Unique across processes sharing one audit log: start from the clock and the pid,
            // so requested/confirmed/outcome entries of different consoles never share an id.
            next_id: first_request_id(),
            open: None,
            serial: NEXT_GATE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Bind an engine to this gate (see [`GateBinding`]).
    pub fn binding(&self) -> GateBinding {
        GateBinding {
            serial: self.serial,
            latch: self.latch.clone(),
        }
    }

    pub fn latch(&self) -> &ReadOnlyLatch {
        &self.latch
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// STS answered with `principal`, which config maps to `role`: a viewer engages the
    /// read-only latch (for good), and changes are no longer held back for the identity.
    pub fn identity_resolved(&mut self, principal: String, role: crate::model::Role) {
        if role == crate::model::Role::Viewer {
            self.latch.engage(format!(
                "IAM principal {principal} maps to role viewer in config"
            ));
        }
        self.actor.principal = Some(principal);
        self.identity_pending = None;
    }

    /// Whether changes wait for STS to say who the person is (role rules name principals).
    pub fn identity_pending(&self) -> bool {
        self.identity_pending.is_some()
    }

    pub fn open_request(&self) -> Option<&ConfirmRequest> {
        self.open.as_ref()
    }

    /// Record a request for `op` and open its confirmation, or refuse it.
    pub fn request(&mut self, op: MutatingOp) -> Result<ConfirmRequest, Refusal> {
        self.request_with(op, None)
    }

    /// As [`Gate::request`], for a request that did not come from the operator's own keys: the
    /// `requested` entry says where it came from ("proposed by the assistant (model …)"). The
    /// confirmation is the same dialog with the same checks; nothing else differs.
    pub fn request_from(
        &mut self,
        op: MutatingOp,
        origin: &str,
    ) -> Result<ConfirmRequest, Refusal> {
        self.request_with(op, Some(origin.to_string()))
    }

    fn request_with(
        &mut self,
        op: MutatingOp,
        origin: Option<String>,
    ) -> Result<ConfirmRequest, Refusal> {
        let id = self.next_id;
        self.next_id += 1;
        self.record(&op, id, Decision::Requested, origin)
            .map_err(Refusal::AuditUnavailable)?;
        let refusal = if self.latch.is_engaged() {
            Some(Refusal::ReadOnly(self.latch.reason().unwrap_or_default()))
        } else if let Some(why) = &self.identity_pending {
            Some(Refusal::IdentityPending(why.clone()))
        } else if let Some(why) = op.policy_block() {
            Some(Refusal::Policy(why))
        } else if self.open.is_some() {
            Some(Refusal::Busy)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let decision = match refusal {
                Refusal::ReadOnly(_) => Decision::RefusedReadOnly,
                _ => Decision::Refused,
            };
            self.record(&op, id, decision, Some(refusal.to_string()))
                .map_err(Refusal::AuditUnavailable)?;
            return Err(refusal);
        }
        let request = ConfirmRequest {
            id,
            tier: op.risk(),
            op,
        };
        self.open = Some(request.clone());
        Ok(request)
    }

    /// The dialog's answer. Mints the approval only for the open request, with the tier's text
    /// typed exactly, outside read-only mode, and after the confirmation is durably audited.
    pub fn confirm(&mut self, id: u64, typed: &str) -> Result<Approved<MutatingOp>, ConfirmError> {
        let open = match &self.open {
            Some(open) if open.id == id => open,
            _ => return Err(ConfirmError::NoSuchRequest(id)),
        };
        if let RiskTier::TypeName(expected) = &open.tier
            && typed != expected
        {
            return Err(ConfirmError::TextMismatch {
                expected: expected.clone(),
            });
        }
        let Some(open) = self.open.take() else {
            return Err(ConfirmError::NoSuchRequest(id));
        };
        if self.latch.is_engaged() {
            let reason = self.latch.reason().unwrap_or_default();
            let recorded = self.record(
                &open.op,
                id,
                Decision::RefusedReadOnly,
                Some(reason.clone()),
            );
            return Err(ConfirmError::ReadOnly(unrecorded(reason, recorded)));
        }
        self.record(&open.op, id, Decision::Confirmed, None)
            .map_err(ConfirmError::AuditUnavailable)?;
        Ok(Approved {
            op: Box::new(open.op),
            request_id: id,
            actor: self.actor.clone(),
            gate: self.serial,
        })
    }

    /// The dialog was dismissed. Unknown ids are ignored (`None`).
    ///
    /// Dismissing a change set's preview also means "do not keep it" (`Mutation::on_dismiss`):
    /// the gate then mints the approval to undo exactly that request (discard that change set,
    /// and the empty stack made for a new one), audited as its own confirmed request. Nothing
    /// is minted in read-only mode. An audit entry that could not be written is reported in
    /// the answer, never dropped.
    pub fn cancel(&mut self, id: u64) -> Option<Dismissal> {
        let open = self.open.take_if(|open| open.id == id)?;
        let mut problems = Vec::new();
        if let Err(e) = self.record(&open.op, id, Decision::Cancelled, None) {
            problems.push(format!("the cancellation could not be audited: {e}"));
        }
        let mut undo = None;
        if let Some(discard) = open.op.on_dismiss() {
            match self.mint_undo(id, discard) {
                Ok(approved) => undo = approved,
                Err(e) => problems.push(e),
            }
        }
        Some(Dismissal {
            undo,
            unrecorded: (!problems.is_empty()).then(|| problems.join("; ")),
        })
    }

    /// The approval to undo dismissed request `id` with `undo`, audited as its own request;
    /// `Ok(None)` in read-only mode (refused, and audited as such).
    fn mint_undo(
        &mut self,
        id: u64,
        undo: MutatingOp,
    ) -> Result<Option<Approved<MutatingOp>>, String> {
        let undo_id = self.next_id;
        self.next_id += 1;
        let why = format!("the preview of request {id} was cancelled");
        self.record(&undo, undo_id, Decision::Requested, Some(why))
            .map_err(|e| format!("not undone: the audit log cannot be written: {e}"))?;
        if self.latch.is_engaged() {
            let reason = self.latch.reason().unwrap_or_default();
            self.record(&undo, undo_id, Decision::RefusedReadOnly, Some(reason))
                .map_err(|e| format!("the read-only refusal could not be audited: {e}"))?;
            return Ok(None);
        }
        self.record(&undo, undo_id, Decision::Confirmed, None)
            .map_err(|e| format!("not undone: the audit log cannot be written: {e}"))?;
        Ok(Some(Approved {
            op: Box::new(undo),
            request_id: undo_id,
            actor: self.actor.clone(),
            gate: self.serial,
        }))
    }

    /// A change refused in read-only mode before its operation could even be built (`n` would
    /// open the deploy form): no request exists, but the refusal is audited all the same.
    pub fn refuse_before_request(&self, operation: &str, what: &str) -> Result<(), String> {
        let record = crate::audit::AuditRecord {
            actor: self.actor.clone(),
            operation: operation.to_string(),
            target: serde_json::json!({ "action": what }),
            environment: "UNKNOWN".to_string(),
            decision: Decision::RefusedReadOnly,
            request_id: None,
            detail: self.latch.reason(),
        };
        self.audit.append(&record).map_err(|e| e.to_string())
    }

    fn record(
        &self,
        op: &MutatingOp,
        id: u64,
        decision: Decision,
        detail: Option<String>,
    ) -> Result<(), String> {
        let record = op.audit_record(&self.actor, id, decision, detail);
        self.audit.append(&record).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MemoryAudit;
    use crate::model::Environment;
    use crate::ops::{DeleteStack, StackTarget};

    fn delete(name: &str) -> MutatingOp {
        MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
            target: StackTarget {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                environment: Environment::Dev,
                stack_name: name.into(),
                stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
            },
            retained: vec![],
        }))
    }

    fn gate(latch: ReadOnlyLatch) -> (Gate, Arc<MemoryAudit>) {
        let audit = Arc::new(MemoryAudit::default());
        let actor = Actor {
            os_user: "alice".into(),
            principal: None,
        };
        (
            crate::setup::test_gate(latch, audit.clone(), actor, None),
            audit,
        )
    }

    fn decisions(audit: &MemoryAudit) -> Vec<Decision> {
        audit.records().iter().map(|r| r.decision).collect()
    }

    #[test]
    fn typed_name_must_match_exactly() {
        let (mut gate, audit) = gate(ReadOnlyLatch::new());
        let req = gate.request(delete("web")).expect("opens");
        assert!(matches!(
            gate.confirm(req.id, "we"),
            Err(ConfirmError::TextMismatch { .. })
        ));
        assert!(matches!(
            gate.confirm(req.id, "WEB"),
            Err(ConfirmError::TextMismatch { .. })
        ));
        // a mismatch keeps the dialog open
        assert!(gate.open_request().is_some());
        let approved = gate.confirm(req.id, "web").expect("approved");
        assert_eq!(approved.op(), &delete("web"));
        assert_eq!(
            decisions(&audit),
            vec![Decision::Requested, Decision::Confirmed]
        );
        // consumed: the same request cannot be confirmed twice
        assert_eq!(
            gate.confirm(req.id, "web").unwrap_err(),
            ConfirmError::NoSuchRequest(req.id)
        );
    }

    #[test]
    fn a_request_from_the_assistant_says_so_and_needs_the_same_confirmation() {
        let (mut gate, audit) = gate(ReadOnlyLatch::new());
        let req = gate
            .request_from(delete("web"), "proposed by the assistant (model m)")
            .expect("opens");
        assert_eq!(req.tier, RiskTier::TypeName("web".into()));
        assert!(
            gate.confirm(req.id, "").is_err(),
            "the typed name is still needed"
        );
        let records = audit.records();
        assert_eq!(records[0].decision, Decision::Requested);
        assert_eq!(
            records[0].detail.as_deref(),
            Some("proposed by the assistant (model m)")
        );
    }

    #[test]
    fn wrong_id_never_approves() {
        let (mut gate, _) = gate(ReadOnlyLatch::new());
        let req = gate.request(delete("web")).expect("opens");
        assert!(gate.confirm(req.id + 1, "web").is_err());
        let _ = gate.cancel(req.id);
        assert!(gate.confirm(req.id, "web").is_err());
    }

    #[test]
    fn read_only_refuses_and_records() {
        let latch = ReadOnlyLatch::new();
        latch.engage("--read-only flag");
        let (mut gate, audit) = gate(latch);
        assert_eq!(
            gate.request(delete("web")).unwrap_err(),
            Refusal::ReadOnly("--read-only flag".into())
        );
        assert_eq!(
            decisions(&audit),
            vec![Decision::Requested, Decision::RefusedReadOnly]
        );
    }

    #[test]
    fn latch_engaged_while_dialog_open_still_refuses() {
        let latch = ReadOnlyLatch::new();
        let (mut gate, audit) = gate(latch.clone());
        let req = gate.request(delete("web")).expect("opens");
        latch.engage("principal maps to viewer");
        assert!(matches!(
            gate.confirm(req.id, "web"),
            Err(ConfirmError::ReadOnly(_))
        ));
        assert_eq!(decisions(&audit).last(), Some(&Decision::RefusedReadOnly));
    }

    #[test]
    fn audit_failure_fails_closed() {
        let (mut gate, audit) = gate(ReadOnlyLatch::new());
        let req = gate.request(delete("web")).expect("opens");
        audit.set_failing(true);
        assert!(matches!(
            gate.confirm(req.id, "web"),
            Err(ConfirmError::AuditUnavailable(_))
        ));
        assert!(matches!(
            gate.request(delete("api")),
            Err(Refusal::AuditUnavailable(_))
        ));
    }

    #[test]
    fn pending_identity_refuses_until_resolved() {
        let audit = Arc::new(MemoryAudit::default());
        let actor = Actor {
            os_user: "alice".into(),
            principal: None,
        };
        let mut gate = crate::setup::test_gate(
            ReadOnlyLatch::new(),
            audit,
            actor,
            Some("role rules name principals".into()),
        );
        assert!(matches!(
            gate.request(delete("web")),
            Err(Refusal::IdentityPending(_))
        ));
        gate.identity_resolved(
            "arn:aws:iam::123456789012:user/alice".into(),
            crate::model::Role::Operator,
        );
        assert!(gate.request(delete("web")).is_ok());
    }

    #[test]
    fn prd_high_compliance_failure_is_refused_at_the_gate_and_audited() {
        use crate::compliance::model::Severity;
        use crate::ops::{ComplianceFailure, ComplianceVerdict, CreateChangeSet, TemplateSource};
        let (mut gate, audit) = gate(ReadOnlyLatch::new());
        let op = |environment| {
            MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                environment,
                stack_name: "assets".into(),
                existing_stack_id: None,
                change_set_name: "opsdeck-1".into(),
                template: TemplateSource::body("bucket.yaml", "Resources: {}\n"),
                parameters: vec![],
                compliance: ComplianceVerdict::with_failures(vec![ComplianceFailure {
                    rule: "S3-002".into(),
                    severity: Severity::High,
                    resource: "Assets".into(),
                    controls: vec!["AC-3".into()],
                    message: "public".into(),
                }]),
                cost: crate::cost::verdict::CostVerdict::none(),
            }))
        };
        let refusal = gate.request(op(Environment::Prd)).unwrap_err();
        assert!(matches!(&refusal, Refusal::Policy(why) if why.contains("S3-002")));
        assert!(gate.open_request().is_none(), "no dialog opens");
        let records = audit.records();
        assert_eq!(
            decisions(&audit),
            vec![Decision::Requested, Decision::Refused]
        );
        let refused = &records[1];
        assert!(
            refused
                .detail
                .as_deref()
                .is_some_and(|d| d.contains("S3-002 (high) on Assets"))
        );
        assert_eq!(
            refused.target["compliance"]["failures"][0]["rule"],
            "S3-002"
        );
        // in DEV the same template opens the typed confirmation
        let request = gate.request(op(Environment::Dev)).expect("opens");
        assert_eq!(request.tier, RiskTier::TypeName("assets".into()));
    }

    #[test]
    fn one_confirmation_at_a_time() {
        let (mut gate, _) = gate(ReadOnlyLatch::new());
        let first = gate.request(delete("web")).expect("opens");
        assert_eq!(gate.request(delete("api")).unwrap_err(), Refusal::Busy);
        assert_eq!(gate.open_request().map(|r| r.id), Some(first.id));
    }

    fn execute(name: &str, kind: crate::cfn::model::ChangeSetKind) -> MutatingOp {
        let MutatingOp::Cfn(CfnMutation::DeleteStack(d)) = delete(name) else {
            unreachable!("delete() builds a delete")
        };
        MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(
            crate::ops::ExecuteChangeSet {
                preview: crate::cfn::model::ChangeSetPreview {
                    stack_name: name.into(),
                    stack_id: d.target.stack_id.clone(),
                    change_set_id: format!(
                        "arn:aws:cloudformation:us-east-1:123456789012:changeSet/opsdeck-1/{name}"
                    ),
                    change_set_name: "opsdeck-1".into(),
                    kind,
                    changes: vec![],
                },
                target: d.target,
                cost: crate::cost::verdict::CostVerdict::none(),
            },
        ))
    }

    #[test]
    fn cancelling_a_preview_approves_discarding_exactly_that_change_set() {
        let (mut gate, audit) = gate(ReadOnlyLatch::new());
        let request = gate
            .request(execute("web", crate::cfn::model::ChangeSetKind::Create))
            .expect("opens");
        let approved = gate
            .cancel(request.id)
            .and_then(|d| d.undo)
            .expect("discard approved");
        let MutatingOp::Cfn(CfnMutation::DiscardChangeSet(discard)) = approved.op() else {
            panic!("expected a discard, got {:?}", approved.op());
        };
        assert_eq!(discard.change_set_name, "opsdeck-1");
        assert!(discard.change_set_id.ends_with("changeSet/opsdeck-1/web"));
        assert!(
            discard.delete_empty_stack,
            "a new stack's empty shell goes too"
        );
        assert_ne!(approved.request_id(), request.id);
        assert_eq!(
            decisions(&audit),
            vec![
                Decision::Requested,
                Decision::Cancelled,
                Decision::Requested,
                Decision::Confirmed
            ]
        );
        // an update's stack stays
        let request = gate
            .request(execute("web", crate::cfn::model::ChangeSetKind::Update))
            .expect("opens");
        let approved = gate
            .cancel(request.id)
            .and_then(|d| d.undo)
            .expect("discard approved");
        let MutatingOp::Cfn(CfnMutation::DiscardChangeSet(discard)) = approved.op() else {
            panic!("expected a discard");
        };
        assert!(!discard.delete_empty_stack);
        // other dialogs mint nothing on cancel
        let request = gate.request(delete("web")).expect("opens");
        assert!(gate.cancel(request.id).and_then(|d| d.undo).is_none());
    }

    #[test]
    fn cancelling_a_preview_in_read_only_mode_mints_nothing() {
        let latch = ReadOnlyLatch::new();
        let (mut gate, audit) = gate(latch.clone());
        let request = gate
            .request(execute("web", crate::cfn::model::ChangeSetKind::Create))
            .expect("opens");
        latch.engage("test");
        assert!(gate.cancel(request.id).and_then(|d| d.undo).is_none());
        assert_eq!(decisions(&audit).last(), Some(&Decision::RefusedReadOnly));
    }
}
