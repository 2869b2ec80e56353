//! What the keys on a stack do besides deploying: follow, drift, termination protection,
//! delete and sorting. Pure like `state::update`: effects are returned as [`Cmd`]s.

use crate::cfn::actions::CfnAction;
use crate::cfn::model::{StackDrift, StackSummary};
use crate::cfn::ops::CfnRead;
use crate::cfn::tui::{StackDetailView, StackSort, describe};
use crate::ops::{DeleteStack, MutatingOp, ReadOp, StackTarget};
use crate::registry::Action;
use crate::registry::Pane;
use crate::tui::state::{Cmd, State, ToastLevel, plan_action};

/// The stack the keys act on: the open detail's, else the list selection.
pub fn current_stack(state: &State) -> Option<StackSummary> {
    match &state.inventory.detail {
        Some(view) => Some(view.stack.clone()),
        None => state.inventory.selected_stack().cloned(),
    }
}

/// The stack's ARN resolved into a full target (no fallback to the session's account or
/// region), or why not, said on screen.
fn target_of(state: &mut State, stack: &StackSummary) -> Option<StackTarget> {
    match crate::cfn::plan::target(&*state, stack) {
        Ok(target) => Some(target),
        Err(e) => {
            state.toast(ToastLevel::Error, e.to_string());
            None
        }
    }
}

/// `:describe STACK`: open the named stack's detail.
pub fn open_by_name(state: &mut State, name: &str) -> Vec<Cmd> {
    let Some(stack) = state
        .inventory
        .stacks
        .iter()
        .find(|s| s.name == name && s.status != "DELETE_COMPLETE")
        .cloned()
    else {
        state.toast(
            ToastLevel::Error,
            format!("no stack named {name} in the list (r refreshes it)"),
        );
        return Vec::new();
    };
    state.focus = crate::registry::Pane::Inventory;
    let op = describe(state, &stack);
    state.inventory.detail = Some(StackDetailView::new(stack));
    vec![Cmd::Read(op)]
}

/// `f`: follow the stack's events as a job; Jobs takes focus so its live log shows.
pub fn follow(state: &mut State) -> Vec<Cmd> {
    let Some(stack) = current_stack(state) else {
        state.toast(ToastLevel::Info, "no stack selected");
        return Vec::new();
    };
    state.focus = Pane::Jobs;
    state.jobs.log_open = false;
    state.jobs.follow_newest = true;
    state.jobs.filter.clear();
    state.jobs.selected = 0;
    vec![Cmd::Read(ReadOp::Cfn(CfnRead::FollowStack {
        scope: crate::cfn::tui::scope(state),
        stack_id: stack.id,
        stack_name: stack.name,
    }))]
}

/// `D`: detect drift as a job (a read: it changes no resource).
pub fn detect_drift(state: &mut State) -> Vec<Cmd> {
    let Some(stack) = current_stack(state) else {
        state.toast(ToastLevel::Info, "no stack selected");
        return Vec::new();
    };
    state.toast(
        ToastLevel::Info,
        format!(
            "detecting drift of {} (a job in Jobs; the result shows in the Drift tab)",
            stack.name
        ),
    );
    vec![Cmd::Read(ReadOp::Cfn(CfnRead::DetectDrift {
        scope: crate::cfn::tui::scope(state),
        stack_id: stack.id,
        stack_name: stack.name,
    }))]
}

pub fn drift_arrived(state: &mut State, drift: StackDrift) {
    let drifted = drift.drifted().count();
    let text = match drifted {
        0 => format!("drift of {}: {}", drift.stack_name, drift.status),
        n => format!(
            "drift of {}: {} ({n} resource(s) drifted; Drift tab)",
            drift.stack_name, drift.status
        ),
    };
    state.toast(
        if drifted > 0 {
            ToastLevel::Warn
        } else {
            ToastLevel::Info
        },
        text,
    );
    state.inventory.drift.insert(drift.stack_id.clone(), drift);
}

/// `p` in the stack detail: flip termination protection, through the gate.
pub fn toggle_protection(state: &mut State) {
    let Some(view) = &state.inventory.detail else {
        return;
    };
    let Some(detail) = &view.detail else {
        state.toast(
            ToastLevel::Info,
            "the stack detail is still loading; press p again when it shows",
        );
        return;
    };
    let op = match crate::cfn::plan::toggle_protection(&*state, detail) {
        Ok(op) => MutatingOp::from(op),
        Err(e) => {
            state.toast(ToastLevel::Error, e.to_string());
            return;
        }
    };
    match state.gate.request(op) {
        Ok(request) => state.open_confirm(request),
        Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
    }
}

/// `d`: the delete dialog lists what the stack's DeletionPolicy keeps and a protected stack
/// is refused before any dialog, so the stack's detail is read first, off the UI thread (the
/// delete flow); the dialog opens when it is here. Read-only mode refuses at the gate at once
/// (audited): there is nothing to load for.
pub fn request_delete(state: &mut State) -> Vec<Cmd> {
    let Some(stack) = current_stack(state) else {
        state.toast(ToastLevel::Info, "no stack selected");
        return Vec::new();
    };
    if state.read_only() {
        let Some(target) = target_of(state, &stack) else {
            return Vec::new();
        };
        let op = MutatingOp::from(DeleteStack {
            target,
            retained: Vec::new(),
        });
        if let Err(refusal) = state.gate.request(op) {
            state.toast(ToastLevel::Error, format!("refused: {refusal}"));
        }
        return Vec::new();
    }
    let args = serde_json::json!({ "stack": stack.id });
    plan_action(state, Action::Cfn(CfnAction::DeleteStack), args)
}

/// `N`/`S`/`A`: sort the list; the same key again reverses it. The selection stays on its stack.
pub fn sort(state: &mut State, by: StackSort) {
    let inv = &mut state.inventory;
    let selected = inv.selected_stack().map(|s| s.id.clone());
    if inv.sort == by {
        inv.sort_reversed = !inv.sort_reversed;
    } else {
        inv.sort = by;
        inv.sort_reversed = false;
    }
    inv.refilter();
    if let Some(id) = selected
        && let Some(pos) = inv.visible.iter().position(|&i| inv.stacks[i].id == id)
    {
        inv.selected = pos;
    }
    let what = match by {
        StackSort::Name => "name",
        StackSort::Status => "status",
        StackSort::Updated => "last update",
    };
    let dir = if inv.sort_reversed { " (reversed)" } else { "" };
    state.toast(ToastLevel::Info, format!("sorted by {what}{dir}"));
}
