//! What the keys on a stack do besides deploying: follow, drift, termination protection,
//! delete and sorting. Pure like `state::update`: effects are returned as [`Cmd`]s.

use crate::cfn::model::{StackDrift, StackSummary};
use crate::cfn::ops::{CfnMutation, CfnRead};
use crate::cfn::tui::{StackDetailView, StackSort, describe};
use crate::ops::{DeleteStack, MutatingOp, ReadOp, SetTerminationProtection, StackTarget};
use crate::registry::Pane;
use crate::tui::state::{Cmd, Mode, State, ToastLevel};

/// The stack the keys act on: the open detail's, else the list selection.
pub fn current_stack(state: &State) -> Option<StackSummary> {
    match &state.inventory.detail {
        Some(view) => Some(view.stack.clone()),
        None => state.inventory.selected_stack().cloned(),
    }
}

/// The stack's ARN resolved into a full target. No fallback to the session's account or
/// region, so what a dialog shows is exactly what AWS will be asked to change.
fn target_of(state: &mut State, stack: &StackSummary) -> Option<StackTarget> {
    let (Some(account), Some(region)) = (stack.account_from_arn(), stack.region_from_arn()) else {
        state.toast(
            ToastLevel::Error,
            format!(
                "stack {} has no usable ARN ({:?}); refusing to ask",
                stack.name, stack.id
            ),
        );
        return None;
    };
    let (account, region) = (account.to_string(), region.to_string());
    let environment = state.environment_of(Some(&account));
    Some(StackTarget {
        account,
        region,
        environment,
        stack_name: stack.name.clone(),
        stack_id: stack.id.clone(),
    })
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
    let enabled = !detail.termination_protection;
    let stack = view.stack.clone();
    let Some(target) = target_of(state, &stack) else {
        return;
    };
    let op = MutatingOp::Cfn(CfnMutation::SetTerminationProtection(
        SetTerminationProtection { target, enabled },
    ));
    match state.gate.request(op) {
        Ok(request) => state.open_confirm(request),
        Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
    }
}

/// `d`: the delete dialog lists what the stack's DeletionPolicy keeps, so it needs the
/// stack's detail; when that is not loaded yet, it is loaded first and the dialog opens when
/// it arrives. A stack with termination protection on is refused before any dialog.
pub fn request_delete(state: &mut State) -> Vec<Cmd> {
    let Some(stack) = current_stack(state) else {
        state.toast(ToastLevel::Info, "no stack selected");
        return Vec::new();
    };
    let loaded = match &state.inventory.detail {
        Some(view) if view.stack.id == stack.id => view.detail.clone(),
        _ => None,
    };
    // Read-only: refuse at the gate now (audited); there is nothing to load for.
    if loaded.is_none() && !state.read_only() {
        let cmds = vec![Cmd::Read(describe(state, &stack))];
        state.toast(
            ToastLevel::Info,
            format!("loading {} to list what its delete keeps…", stack.name),
        );
        state.inventory.detail = Some(StackDetailView::new(stack.clone()));
        state.inventory.pending_delete = Some(stack.id);
        return cmds;
    }
    if let Some(detail) = &loaded
        && detail.termination_protection
    {
        state.toast(
            ToastLevel::Warn,
            format!(
                "{}: termination protection is on — press p to turn it off first",
                stack.name
            ),
        );
        return Vec::new();
    }
    let Some(target) = target_of(state, &stack) else {
        return Vec::new();
    };
    let op = MutatingOp::Cfn(CfnMutation::DeleteStack(DeleteStack {
        target,
        retained: loaded.map(|d| d.retained).unwrap_or_default(),
    }));
    match state.gate.request(op) {
        Ok(request) => state.open_confirm(request),
        Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
    }
    Vec::new()
}

/// The detail a delete waited for arrived: open its dialog now.
pub fn continue_delete(state: &mut State) -> Vec<Cmd> {
    let ready = match (&state.inventory.pending_delete, &state.inventory.detail) {
        (Some(id), Some(view)) => view.stack.id == *id && view.detail.is_some(),
        _ => false,
    };
    if !ready || !matches!(state.mode, Mode::Normal) {
        return Vec::new();
    }
    state.inventory.pending_delete = None;
    state.toast = None;
    request_delete(state)
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
