//! The deploy flow's update logic: template picker → form → `CreateChangeSet` confirmation →
//! (job) → change-set review (`ExecuteChangeSet`) → execute or discard. Also updates of an
//! existing stack (`u`, `:deploy TEMPLATE STACK`), which wait for the stack's template and
//! current parameters before the form opens.
//!
//! Pure like `state::update`: effects are returned as [`Cmd`]s. The compliance rules judge a
//! submitted form off the UI thread (`Cmd::JudgeDeploy`): the form waits, locked, and the
//! gate is asked when the verdict comes back (`Msg::DeployJudged`), with exactly the
//! operation that was resolved at submit and the verdict on exactly its template.

use crate::cfn::deploy::{change_set_name, existing_stack_for_deploy, resolve_parameters};
use crate::cfn::library::{self, ChosenTemplate};
use crate::cfn::model::{ChangeSetPreview, StackSummary};
use crate::cfn::ops::CfnMutation;
use crate::cfn::template::Template;
use crate::cfn::tui::flows::CfnFlow;
use crate::cfn::tui::form::{
    DeployForm, DeployTarget, FormEvent, FormTemplate, validate_stack_name,
};
use crate::ops::{ComplianceVerdict, CreateChangeSet, MutatingOp, Refusal, TemplateSource};
use crate::registry::{self, Action, Context, Pane};
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, Flow, Mode, State, ToastLevel, Waiting};
use crossterm::event::KeyEvent;
use std::path::Path;

/// The deploy flow's memory between messages.
#[derive(Default)]
pub struct DeployState {
    /// The form behind the open `CreateChangeSet` confirmation: cancelling returns to it.
    pub parked_form: Option<Box<DeployForm>>,
    /// The last change-set name's time, so two requests in one tick still differ.
    last_change_set_ms: i64,
    /// A submitted deploy whose template is being judged: asked of the gate when the verdict
    /// with its id comes back.
    pub judging: Option<PendingJudgement>,
    /// Ids for judgements, so a late verdict of a cancelled request is dropped.
    next_judgement: u64,
}

/// A deploy resolved at submit, waiting for its compliance verdict.
pub struct PendingJudgement {
    pub id: u64,
    /// Everything but the verdict, which replaces the placeholder when it arrives.
    pub op: CreateChangeSet,
}

/// What judging a deploy's template needs, handed to a blocking task.
pub struct DeployJudgement {
    pub id: u64,
    pub checker: crate::compliance::tui::SharedChecker,
    pub text: String,
    pub source: String,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub environment: crate::model::Environment,
}

// Parameters are shown by name only: values stay out of debug output.
impl std::fmt::Debug for DeployJudgement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployJudgement")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("parameters", &self.parameters.keys().collect::<Vec<_>>())
            .field("environment", &self.environment)
            .finish()
    }
}

impl DeployJudgement {
    /// Judge it (on a blocking thread): the id and the verdict.
    pub fn run(self) -> (u64, ComplianceVerdict) {
        let verdict = ComplianceVerdict::judge(
            &self.checker.0,
            &self.text,
            &self.source,
            &self.parameters,
            self.environment,
        );
        (self.id, verdict)
    }
}

/// The library list shown by `n`.
pub struct TemplatePicker {
    /// Name and the first sentence of its description.
    pub entries: Vec<(String, String)>,
    pub selected: usize,
}

pub fn open_picker(state: &mut State) -> Vec<Cmd> {
    if state.refused_read_only("create-change-set", "deploy") {
        return Vec::new();
    }
    let entries = library::LIBRARY
        .iter()
        .map(|t| {
            let description = Template::parse(t.body, Path::new(t.name))
                .ok()
                .and_then(|t| t.description)
                .unwrap_or_default();
            let short = description
                .split(": ")
                .next()
                .unwrap_or_default()
                .trim_start_matches("opsdeck - ")
                .to_string();
            (t.name.to_string(), short)
        })
        .collect();
    state.mode = Mode::Picker(TemplatePicker {
        entries,
        selected: 0,
    });
    Vec::new()
}

pub fn on_picker_key(state: &mut State, mut picker: TemplatePicker, key: KeyEvent) -> Vec<Cmd> {
    let last = picker.entries.len().saturating_sub(1);
    match registry::lookup(&[Context::List], &key) {
        Some(Action::Shell(ShellAction::Up)) => picker.selected = picker.selected.saturating_sub(1),
        Some(Action::Shell(ShellAction::Down)) => picker.selected = (picker.selected + 1).min(last),
        Some(Action::Shell(ShellAction::Top | ShellAction::PageUp)) => picker.selected = 0,
        Some(Action::Shell(ShellAction::Bottom | ShellAction::PageDown)) => picker.selected = last,
        Some(Action::Shell(ShellAction::Open)) => {
            let Some((name, _)) = picker.entries.get(picker.selected) else {
                return Vec::new();
            };
            match library::choose(name) {
                Ok(chosen) => open_new_form(state, chosen, ""),
                Err(e) => state.toast(ToastLevel::Error, e.to_string()),
            }
            return Vec::new();
        }
        Some(Action::Shell(ShellAction::Back)) => return Vec::new(),
        _ => {}
    }
    state.mode = Mode::Picker(picker);
    Vec::new()
}

fn open_new_form(state: &mut State, chosen: ChosenTemplate, stack_name: &str) {
    let mut form = DeployForm::new(
        chosen.origin,
        FormTemplate::Body(chosen.body),
        chosen.template,
        DeployTarget::New,
        stack_name,
        &[],
    );
    // The library's templates tag resources with an `Environment` parameter: start it at the
    // environment the stack lands in, so the tag matches where it runs.
    let environment = state.environment();
    if environment != crate::model::Environment::Unmapped {
        form.preselect("Environment", environment.as_str());
    }
    state.mode = Mode::Form(Box::new(form));
}

/// `:deploy TEMPLATE [STACK]`.
pub fn deploy_command(state: &mut State, spec: &str, stack: Option<&str>) -> Vec<Cmd> {
    if state.refused_read_only("create-change-set", "deploy") {
        return Vec::new();
    }
    let chosen = match library::choose(spec) {
        Ok(chosen) => chosen,
        Err(e) => {
            state.toast(ToastLevel::Error, e.to_string());
            return Vec::new();
        }
    };
    let Some(name) = stack else {
        open_new_form(state, chosen, "");
        return Vec::new();
    };
    let existing = listed_stack(state, name).cloned();
    match existing_stack_for_deploy(name, existing.as_ref()) {
        Err(why) => {
            state.toast(ToastLevel::Error, why);
            Vec::new()
        }
        Ok(None) => {
            open_new_form(state, chosen, name);
            Vec::new()
        }
        Ok(Some(_)) => {
            let Some(stack) = existing else {
                return Vec::new();
            };
            start_update(state, stack, Some(chosen))
        }
    }
}

fn listed_stack<'a>(state: &'a State, name: &str) -> Option<&'a StackSummary> {
    state
        .inventory
        .stacks
        .iter()
        .find(|s| s.name == name && s.status != "DELETE_COMPLETE")
}

/// `u` on a stack: its current template, new parameter values.
pub fn request_update(state: &mut State) -> Vec<Cmd> {
    if state.refused_read_only("create-change-set", "update") {
        return Vec::new();
    }
    let Some(stack) = crate::cfn::tui::stack_actions::current_stack(state) else {
        state.toast(ToastLevel::Info, "no stack selected");
        return Vec::new();
    };
    match existing_stack_for_deploy(&stack.name, Some(&stack)) {
        Err(why) => {
            state.toast(ToastLevel::Error, why);
            Vec::new()
        }
        Ok(None) => {
            state.toast(
                ToastLevel::Info,
                format!(
                    "stack {} holds only an unexecuted change set: deploy it with :deploy TEMPLATE {}",
                    stack.name, stack.name
                ),
            );
            Vec::new()
        }
        Ok(Some(_)) => start_update(state, stack, None),
    }
}

/// Load the stack's current parameters (and, when none was chosen, its template) off the UI
/// thread; the form opens when they are here.
fn start_update(
    state: &mut State,
    stack: StackSummary,
    template: Option<ChosenTemplate>,
) -> Vec<Cmd> {
    state.focus = Pane::Inventory;
    state.toast(
        ToastLevel::Info,
        format!("loading {} to update it…", stack.name),
    );
    vec![Cmd::Plan(Flow::Cfn(CfnFlow::Update { stack, template }))]
}

pub fn on_form_key(state: &mut State, mut form: Box<DeployForm>, key: KeyEvent) -> Vec<Cmd> {
    if form.judging {
        // Locked while its template is judged: what is judged is what is sent. Esc cancels.
        if registry::lookup(&[Context::Form], &key) == Some(Action::Shell(ShellAction::FormClose)) {
            state.deploy.judging = None;
            form.judging = false;
            form.error =
                Some("cancelled while the template was being judged; nothing was sent".into());
        }
        state.mode = Mode::Form(form);
        return Vec::new();
    }
    match form.on_key(key) {
        FormEvent::Submit => return submit(state, form),
        FormEvent::Close => {
            state.toast(ToastLevel::Info, "deploy form closed; nothing was sent");
            return Vec::new();
        }
        FormEvent::Stay => {}
    }
    state.mode = Mode::Form(form);
    Vec::new()
}

/// Check everything, resolve the target and ask the gate for the confirmation. Whatever is
/// refused stays in the form, under its field.
fn submit(state: &mut State, mut form: Box<DeployForm>) -> Vec<Cmd> {
    form.error = None;
    let stack_name = form.stack_name();
    let mut errors: Vec<(String, String)> = Vec::new();
    if form.target == DeployTarget::New
        && let Err(e) = validate_stack_name(&stack_name)
    {
        errors.push((String::new(), e));
    }
    let existing_keys = match &form.target {
        DeployTarget::Update { existing_keys, .. } => Some(existing_keys.clone()),
        DeployTarget::New => None,
    };
    let parameters =
        match resolve_parameters(&form.template, &form.given(), existing_keys.as_deref()) {
            Ok(parameters) => parameters,
            Err(refused) => {
                errors.extend(refused.into_iter().map(|e| (e.name, e.message)));
                Vec::new()
            }
        };
    if !errors.is_empty() {
        form.show_errors(&errors);
        form.error = Some(format!(
            "{} field(s) need attention (marked ✗)",
            errors.len()
        ));
        state.mode = Mode::Form(form);
        return Vec::new();
    }
    match resolve_target(state, &form, &stack_name) {
        Ok(existing_stack_id) => {
            let Some((account, region)) = session_account_region(state) else {
                form.error = Some(
                    "the AWS account or region is not known yet (STS has not answered, or no region is set)"
                        .into(),
                );
                state.mode = Mode::Form(form);
                return Vec::new();
            };
            let environment = state.environment_of(Some(&account));
            let (template, text) = match &form.source {
                FormTemplate::Body(body) => (
                    TemplateSource::body(form.origin.clone(), body.clone()),
                    body.as_str(),
                ),
                FormTemplate::Previous(text) => (TemplateSource::Previous, text.as_str()),
            };
            // The cost before → after, against the environment's budget: on the update loop
            // (pricing is arithmetic on a catalogue; the 1,000-resource budget is 20 ms).
            let before = form
                .current_template
                .clone()
                .map(|body| (body, form.current_parameters()));
            let cost = crate::cost::tui::deploy_verdict(
                state,
                &account,
                &region,
                environment,
                before.as_ref().map(|(b, p)| (b.as_str(), p)),
                (text, &form.judged_parameters()),
                &form.origin,
            );
            let text = text.to_string();
            let now = state.now_ms.max(state.deploy.last_change_set_ms + 1);
            state.deploy.last_change_set_ms = now;
            let op = CreateChangeSet {
                account,
                region,
                environment,
                stack_name,
                existing_stack_id,
                change_set_name: change_set_name(now),
                template,
                parameters,
                // Replaced by the verdict on exactly this template before the gate sees it.
                compliance: ComplianceVerdict::unavailable(
                    "the template text is not available, so it was not judged",
                ),
                cost,
            };
            if text.trim().is_empty() {
                return ask_gate(state, form, op);
            }
            // Judged off the update loop (a user's rule may take up to its time limit); the
            // form stays locked until the verdict is back.
            state.deploy.next_judgement += 1;
            let id = state.deploy.next_judgement;
            let judgement = DeployJudgement {
                id,
                checker: crate::compliance::tui::SharedChecker(state.compliance.checker()),
                text,
                source: form.origin.clone(),
                parameters: form.judged_parameters(),
                environment,
            };
            state.deploy.judging = Some(PendingJudgement { id, op });
            form.judging = true;
            state.mode = Mode::Form(form);
            return vec![Cmd::JudgeDeploy(Box::new(judgement))];
        }
        Err(why) => {
            form.error = Some(why);
            state.mode = Mode::Form(form);
        }
    }
    Vec::new()
}

/// The verdict on a submitted deploy came back: ask the gate with the operation resolved at
/// submit. A verdict for a request that was cancelled (or replaced) is dropped.
pub fn judged(state: &mut State, id: u64, verdict: ComplianceVerdict) -> Vec<Cmd> {
    let Some(pending) = state.deploy.judging.take_if(|p| p.id == id) else {
        return Vec::new();
    };
    let form = match std::mem::replace(&mut state.mode, Mode::Normal) {
        Mode::Form(form) if form.judging => form,
        other => {
            // The form is gone (it cannot close while locked; defensive): nothing is asked.
            state.mode = other;
            return Vec::new();
        }
    };
    let mut form = form;
    form.judging = false;
    let mut op = pending.op;
    op.compliance = verdict;
    ask_gate(state, form, op)
}

/// Ask the gate for the confirmation of `op`; a refusal stays in the form.
fn ask_gate(state: &mut State, mut form: Box<DeployForm>, op: CreateChangeSet) -> Vec<Cmd> {
    match state
        .gate
        .request(MutatingOp::Cfn(CfnMutation::CreateChangeSet(op)))
    {
        Ok(request) => {
            state.deploy.parked_form = Some(form);
            state.open_confirm(request);
        }
        Err(refusal) => {
            if matches!(refusal, Refusal::Policy(_)) {
                state.toast(
                    ToastLevel::Error,
                    "deploy refused by the compliance gate (nothing was sent); fix the template or record a waiver",
                );
            }
            form.error = Some(format!("refused: {refusal}"));
            state.mode = Mode::Form(form);
        }
    }
    Vec::new()
}

/// The stack to update (its ARN), or `None` to create one; or why the deploy cannot go ahead.
fn resolve_target(
    state: &State,
    form: &DeployForm,
    stack_name: &str,
) -> Result<Option<String>, String> {
    let listed = listed_stack(state, stack_name);
    let existing = existing_stack_for_deploy(stack_name, listed)?;
    match (&form.target, existing) {
        (DeployTarget::New, Some(_)) => Err(format!(
            "stack {stack_name} already exists: update it with u on the stack (or :deploy TEMPLATE {stack_name}) so its current values are kept"
        )),
        (DeployTarget::New, None) => Ok(None),
        (DeployTarget::Update { stack_id, .. }, Some(id)) if *stack_id == id => Ok(Some(id)),
        (DeployTarget::Update { .. }, Some(_)) => Err(format!(
            "stack {stack_name} was replaced by another stack of that name since the form opened; close the form and start again"
        )),
        (DeployTarget::Update { .. }, None) => Err(format!(
            "stack {stack_name} is no longer in the stack list (deleted?); refresh (r) and start again"
        )),
    }
}

fn session_account_region(state: &State) -> Option<(String, String)> {
    let account = state.session.identity.as_ref()?.account.clone();
    let region = state.session.region.clone()?;
    Some((account, region))
}

/// A `CreateChangeSet` job finished with a computed change set: its review opens (through
/// the gate) as soon as no other dialog or form is open.
pub fn change_set_ready(
    state: &mut State,
    preview: ChangeSetPreview,
    cost: &crate::cost::verdict::CostVerdict,
) {
    match crate::cfn::plan::execute_change_set(&*state, preview, cost) {
        Ok(execute) => state
            .waiting
            .push_back(Waiting::Confirm(MutatingOp::from(execute))),
        Err(e) => state.toast(
            ToastLevel::Error,
            format!("{e}; it stays in AWS until deleted"),
        ),
    }
}
