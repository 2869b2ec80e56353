//! The installers' entries in the action registry, and what each does in the console.

use crate::actions;
use crate::installers::tui;
use crate::registry::{ActionSpec, Context, Kind, hint, k};
use crate::tui::state::{Cmd, State};

actions! {
    /// Installers: the list, a run (form, targets, confirmation), and the target picker's keys.
    pub enum InstallAction {
        ListInstallers => ActionSpec::new("list-installers", "List the installers with their OS requirements", Kind::Ui)
            .command("installers", &[], "")
            .help("list the installers (Enter opens one's form)")
            .schema(crate::registry::NO_ARGS),
        RunInstaller => ActionSpec::new("run-installer", "Run an installer on targets (form, targets, confirm)", Kind::Mutating)
            .command("install", &[], "ID")
            .help("run an installer: its form, then the targets, then the confirmation")
            .tier("y/Enter; the installer's id typed when a target is in PRD or unmapped")
            .schema(r#"{"type":"object","properties":{"installer":{"type":"string","description":"the installer's id"},"targets":{"type":"array","items":{"type":"string","description":"local, ssh:HOST or ssm:INSTANCE_ID"}},"values":{"type":"object","additionalProperties":{"type":"string"}},"max_concurrency":{"type":"string"},"max_errors":{"type":"string"}},"required":["installer","targets"],"additionalProperties":false}"#),
        ToggleTarget => ActionSpec::new("toggle-target", "Select or unselect a target", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k(' '), k('x')], "select")])
            .help("select / unselect the target"),
        AddTarget => ActionSpec::new("add-target", "Type a target to add", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('a')], "add")])
            .help("add a target: local, ssh:HOST or ssm:INSTANCE_ID (Enter adds, Esc leaves)"),
        CycleConcurrency => ActionSpec::new("cycle-max-concurrency", "Change how many targets run at once", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('c')], "concurrency")])
            .help("max concurrency: 1, 2, 5, 10, 25%, 50%, 100%"),
        CycleErrors => ActionSpec::new("cycle-max-errors", "Change how many failed targets stop the run", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('e')], "errors")])
            .help("max errors: 0, 1, 2, 5, 10%, 50%, 100%"),
    }
}

/// What an installer action does in the console (the picker's keys are handled by the picker).
pub fn apply(state: &mut State, action: InstallAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        InstallAction::ListInstallers => tui::open_list(state, None),
        InstallAction::RunInstaller => match args.first() {
            Some(id) => tui::open_list(state, Some(id)),
            None => tui::open_list(state, None),
        },
        InstallAction::ToggleTarget
        | InstallAction::AddTarget
        | InstallAction::CycleConcurrency
        | InstallAction::CycleErrors => Vec::new(),
    }
}
