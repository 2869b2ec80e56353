//! The confirmation dialog's controller: the only place the gate's `confirm` is called from
//! the console, so the dialog is the only door through which an approval is minted. It shows
//! exactly the request the gate opened and hands back exactly that.

use crate::ops::{ConfirmError, ConfirmRequest, RiskTier};
use crate::registry::{self, Action, Context};
use crate::tui::input::LineInput;
use crate::tui::shell;
use crate::tui::state::{Cmd, Mode, State, ToastLevel};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogFocus {
    Input,
    Cancel,
    Confirm,
}

pub struct ConfirmDialog {
    pub request: ConfirmRequest,
    pub input: LineInput,
    pub focus: DialogFocus,
    pub error: Option<String>,
    /// First row of the scrolled part (a change set's rows, a long parameter review).
    pub scroll: usize,
}

impl ConfirmDialog {
    /// Focus starts on Cancel, or on the text input when a name must be typed.
    pub fn new(request: ConfirmRequest) -> ConfirmDialog {
        let focus = match request.tier {
            RiskTier::TypeName(_) => DialogFocus::Input,
            RiskTier::Simple => DialogFocus::Cancel,
        };
        ConfirmDialog {
            request,
            input: LineInput::default(),
            focus,
            error: None,
            scroll: 0,
        }
    }

    /// Rows the dialog can scroll through.
    pub fn rows(&self) -> usize {
        self.request.op.dialog_rows()
    }
}

pub(crate) fn on_dialog_key(
    state: &mut State,
    mut dialog: ConfirmDialog,
    key: KeyEvent,
) -> Vec<Cmd> {
    let id = dialog.request.id;
    let typed_tier = matches!(dialog.request.tier, RiskTier::TypeName(_));
    // A dialog that opened by itself (a computed change set's review) and whose dismissal
    // undoes something.
    let is_preview = dialog.request.op.on_dismiss().is_some();
    let cancel = |state: &mut State| {
        // Cancelling a change set's review discards the change set: the gate hands back the
        // approval for exactly that, and only that.
        let dismissal = state.gate.cancel(id);
        crate::assistant::tui::request_closed(
            state,
            id,
            crate::assistant::tools::Proposal::Cancelled,
        );
        let unrecorded = dismissal.as_ref().and_then(|d| d.unrecorded.clone());
        let mut cmds = Vec::new();
        if let Some(discard) = dismissal.and_then(|d| d.undo) {
            state.toast(
                ToastLevel::Info,
                "not executed; change set discarded (nothing else changed)",
            );
            cmds.push(Cmd::Execute(discard));
        } else if is_preview {
            state.toast(
                ToastLevel::Warn,
                "not executed; the change set could not be discarded from here (read-only mode, or the audit log is unavailable) and stays in AWS",
            );
        } else if let Some(form) = state.deploy.parked_form.take() {
            // The form this confirmation was asked from: back to it, as it was.
            state.mode = Mode::Form(form);
            state.toast(ToastLevel::Info, "not sent; back to the form");
        } else {
            state.toast(ToastLevel::Info, "cancelled; nothing changed");
        }
        if let Some(problem) = unrecorded {
            // Never dropped: the person learns the trail has a gap, and why.
            state.toast(ToastLevel::Error, format!("cancelled, but {problem}"));
        }
        cmds
    };
    // Scrolling: arrows and pages always; j/k only when they would not type into the input.
    if let Some(Action::Shell(action)) = registry::lookup(&[Context::Dialog], &key)
        && (dialog.focus != DialogFocus::Input || !matches!(key.code, KeyCode::Char(_)))
    {
        dialog.scroll = shell::step(dialog.scroll, dialog.rows(), action);
        state.mode = Mode::Confirm(dialog);
        return Vec::new();
    }
    match key.code {
        KeyCode::Esc => return cancel(state),
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            return cancel(state);
        }
        KeyCode::Tab | KeyCode::BackTab => {
            dialog.focus = match (dialog.focus, typed_tier) {
                (DialogFocus::Input, _) => DialogFocus::Cancel,
                (DialogFocus::Cancel, _) => DialogFocus::Confirm,
                (DialogFocus::Confirm, true) => DialogFocus::Input,
                (DialogFocus::Confirm, false) => DialogFocus::Cancel,
            };
        }
        // A review opens by itself when CloudFormation has computed the change set, perhaps
        // while the person is typing elsewhere: single-letter answers do nothing there, so a
        // stray `y` cannot execute and a stray `n` cannot discard.
        KeyCode::Char('y' | 'n') if !typed_tier && is_preview => {
            dialog.error = Some("Tab to Execute, then Enter; Esc discards".into());
        }
        KeyCode::Char('n') if !typed_tier => return cancel(state),
        KeyCode::Char('y') if !typed_tier => return confirm(state, dialog),
        KeyCode::Enter => match dialog.focus {
            DialogFocus::Cancel => return cancel(state),
            DialogFocus::Input | DialogFocus::Confirm => return confirm(state, dialog),
        },
        _ if dialog.focus == DialogFocus::Input => {
            dialog.input.handle(key);
            dialog.error = None;
        }
        _ => {}
    }
    state.mode = Mode::Confirm(dialog);
    Vec::new()
}

fn confirm(state: &mut State, mut dialog: ConfirmDialog) -> Vec<Cmd> {
    match state.gate.confirm(dialog.request.id, dialog.input.text()) {
        Ok(approved) => {
            crate::assistant::tui::request_closed(
                state,
                dialog.request.id,
                crate::assistant::tools::Proposal::Confirmed,
            );
            state.deploy.parked_form = None;
            state.toast(
                ToastLevel::Info,
                format!("confirmed: {}", dialog.request.op.describe()),
            );
            vec![Cmd::Execute(approved)]
        }
        Err(ConfirmError::TextMismatch { expected }) => {
            dialog.error = Some(format!(
                "type {expected} exactly to confirm, or Esc to cancel"
            ));
            dialog.focus = DialogFocus::Input;
            state.mode = Mode::Confirm(dialog);
            Vec::new()
        }
        Err(e) => {
            crate::assistant::tui::request_closed(
                state,
                dialog.request.id,
                crate::assistant::tools::Proposal::Refused(format!("not approved: {e}")),
            );
            state.toast(ToastLevel::Error, format!("not approved: {e}"));
            Vec::new()
        }
    }
}
