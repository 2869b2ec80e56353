//! The installers in the console: `:installers` lists them (with their OS requirements),
//! Enter opens the generated form, then the target picker, then the gate's confirmation; the
//! run streams into Jobs (one job per target under the run's). Loading the catalog and
//! planning (preflight of every target) run off the UI thread as flows.

pub mod dialog_view;
pub mod form;
pub mod targets;
pub mod view;

use crate::installers::actions::InstallAction;
use crate::installers::catalog::{Catalog, Installer};
use crate::installers::ops::RunInstaller;
use crate::installers::plan::{self, RunRequest};
use crate::ops::{MutatingOp, PlanCtx, PlanError};
use crate::registry::{self, Action, Context};
use crate::tui::form::FormEvent;
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, Flow, Mode, State, ToastLevel, Waiting};
use crossterm::event::{KeyCode, KeyEvent};
use form::InstallForm;
use std::path::PathBuf;
use targets::TargetPicker;

/// The installers' memory between messages.
#[derive(Default)]
pub struct InstallersState {
    /// The user's installers folder (`~/.config/opsdeck/installers`).
    pub dir: PathBuf,
    /// The picker behind a plan being made: a refusal brings it back, as it was.
    pub parked: Option<Box<TargetPicker>>,
}

/// The list of installers.
pub struct InstallerList {
    pub installers: Vec<Installer>,
    /// User installers that could not be loaded (file:line: key: why).
    pub problems: Vec<String>,
    pub selected: usize,
    /// Hosts of the ssh config, for the target picker.
    pub ssh_hosts: Vec<String>,
}

/// Which installer overlay is open.
pub enum InstallMode {
    List(InstallerList),
    Form(Box<InstallForm>, Vec<String>),
    Targets(Box<TargetPicker>),
}

/// A flow the installers start in the console.
#[derive(Debug)]
pub enum InstallFlow {
    /// Load the catalog and the ssh config's hosts, then show the list (or, with `open`, that
    /// installer's form).
    Catalog {
        dir: PathBuf,
        ssh_config: Option<PathBuf>,
        open: Option<String>,
    },
    /// Preflight every target and resolve the run.
    Plan {
        config: crate::config::TargetsConfig,
        request: Box<RunRequest>,
    },
}

/// What a flow yields.
#[derive(Debug)]
pub enum InstallPlanned {
    Catalog {
        catalog: Catalog,
        ssh_hosts: Vec<String>,
        open: Option<String>,
    },
    Confirm(Box<RunInstaller>),
}

/// Run a flow off the UI thread.
pub async fn run(flow: InstallFlow, ctx: &dyn PlanCtx) -> Result<InstallPlanned, PlanError> {
    match flow {
        InstallFlow::Catalog {
            dir,
            ssh_config,
            open,
        } => {
            // A few small files, read on the flow's task (never on the UI thread).
            let catalog = Catalog::load(&dir);
            let path = ssh_config
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ssh/config")));
            let ssh_hosts = path
                .and_then(|p| crate::files::read_text(&p, crate::files::FileKind::SshConfig).ok())
                .map(|text| targets::ssh_hosts(&text))
                .unwrap_or_default();
            Ok(InstallPlanned::Catalog {
                catalog,
                ssh_hosts,
                open,
            })
        }
        InstallFlow::Plan { config, request } => plan::run_installer(ctx, &config, *request)
            .await
            .map(|run| InstallPlanned::Confirm(Box::new(run))),
    }
}

/// `:installers` (or `:install ID`): load the catalog off the UI thread.
pub fn open_list(state: &mut State, open: Option<&str>) -> Vec<Cmd> {
    vec![Cmd::Plan(Flow::Install(InstallFlow::Catalog {
        dir: state.installers.dir.clone(),
        ssh_config: state.config.targets.ssh_config.clone(),
        open: open.map(str::to_string),
    }))]
}

fn open_form(state: &mut State, installer: Installer, ssh_hosts: Vec<String>) {
    if state.refused_read_only(
        "run-installer",
        &format!("run installer {}", installer.manifest.id),
    ) {
        return;
    }
    state.mode = Mode::Installers(InstallMode::Form(
        Box::new(InstallForm::new(installer)),
        ssh_hosts,
    ));
}

/// A flow finished.
pub fn planned(state: &mut State, result: Result<InstallPlanned, PlanError>) -> Vec<Cmd> {
    match result {
        Ok(InstallPlanned::Catalog {
            catalog,
            ssh_hosts,
            open,
        }) => {
            let problems: Vec<String> = catalog.problems.iter().map(|p| p.to_string()).collect();
            if let Some(id) = open {
                match catalog.get(&id).cloned() {
                    Some(installer) => open_form(state, installer, ssh_hosts),
                    None => state.toast(
                        ToastLevel::Error,
                        format!("no installer {id:?}; :installers lists them"),
                    ),
                }
                return Vec::new();
            }
            state.mode = Mode::Installers(InstallMode::List(InstallerList {
                installers: catalog.installers,
                problems,
                selected: 0,
                ssh_hosts,
            }));
        }
        Ok(InstallPlanned::Confirm(run)) => {
            state.installers.parked = None;
            state.toast = None;
            state
                .waiting
                .push_back(Waiting::Confirm(MutatingOp::from(*run)));
        }
        Err(e) => {
            // Back to the picker, with the reason.
            match state.installers.parked.take() {
                Some(mut picker) if matches!(state.mode, Mode::Normal) => {
                    picker.error = Some(e.to_string());
                    state.mode = Mode::Installers(InstallMode::Targets(picker));
                }
                _ => state.toast(ToastLevel::Error, e.to_string()),
            }
        }
    }
    Vec::new()
}

/// A key while an installer overlay is open.
pub fn on_key(state: &mut State, mode: InstallMode, key: KeyEvent) -> Vec<Cmd> {
    match mode {
        InstallMode::List(list) => on_list_key(state, list, key),
        InstallMode::Form(form, hosts) => on_form_key(state, form, hosts, key),
        InstallMode::Targets(picker) => on_picker_key(state, picker, key),
    }
}

fn on_list_key(state: &mut State, mut list: InstallerList, key: KeyEvent) -> Vec<Cmd> {
    let last = list.installers.len().saturating_sub(1);
    match registry::lookup(&[Context::List], &key) {
        Some(Action::Shell(ShellAction::Up)) => list.selected = list.selected.saturating_sub(1),
        Some(Action::Shell(ShellAction::Down)) => list.selected = (list.selected + 1).min(last),
        Some(Action::Shell(ShellAction::Top | ShellAction::PageUp)) => list.selected = 0,
        Some(Action::Shell(ShellAction::Bottom | ShellAction::PageDown)) => list.selected = last,
        Some(Action::Shell(ShellAction::Open)) => {
            if let Some(installer) = list.installers.get(list.selected).cloned() {
                open_form(state, installer, list.ssh_hosts);
            }
            return Vec::new();
        }
        Some(Action::Shell(ShellAction::Back)) => return Vec::new(),
        _ if key.code == KeyCode::Char('q') => return Vec::new(),
        _ => {}
    }
    state.mode = Mode::Installers(InstallMode::List(list));
    Vec::new()
}

fn on_form_key(
    state: &mut State,
    mut form: Box<InstallForm>,
    hosts: Vec<String>,
    key: KeyEvent,
) -> Vec<Cmd> {
    match form.on_key(key) {
        FormEvent::Close => {
            state.toast(ToastLevel::Info, "installer form closed; nothing was run");
            return Vec::new();
        }
        FormEvent::Submit => {
            // Refused values stay in the form, under their fields.
            if let Ok(inputs) = form.resolve() {
                let picker = TargetPicker::new(form, inputs, &hosts);
                state.mode = Mode::Installers(InstallMode::Targets(Box::new(picker)));
                return Vec::new();
            }
        }
        FormEvent::Stay => {}
    }
    state.mode = Mode::Installers(InstallMode::Form(form, hosts));
    Vec::new()
}

fn on_picker_key(state: &mut State, mut picker: Box<TargetPicker>, key: KeyEvent) -> Vec<Cmd> {
    if let Some(mut input) = picker.adding.take() {
        match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => {
                if let Err(why) = picker.add(input.text()) {
                    picker.error = Some(why);
                    picker.adding = Some(input);
                } else {
                    picker.error = None;
                }
            }
            _ => {
                input.handle(key);
                picker.adding = Some(input);
            }
        }
        state.mode = Mode::Installers(InstallMode::Targets(picker));
        return Vec::new();
    }
    let last = picker.candidates.len().saturating_sub(1);
    match registry::lookup(&[Context::TargetPicker, Context::List], &key) {
        Some(Action::Install(InstallAction::ToggleTarget)) => picker.toggle(),
        Some(Action::Install(InstallAction::AddTarget)) => {
            picker.adding = Some(Default::default());
            picker.error = None;
        }
        Some(Action::Install(InstallAction::CycleConcurrency)) => picker.cycle_concurrency(),
        Some(Action::Install(InstallAction::CycleErrors)) => picker.cycle_errors(),
        Some(Action::Shell(ShellAction::Up)) => picker.selected = picker.selected.saturating_sub(1),
        Some(Action::Shell(ShellAction::Down)) => picker.selected = (picker.selected + 1).min(last),
        Some(Action::Shell(ShellAction::Top | ShellAction::PageUp)) => picker.selected = 0,
        Some(Action::Shell(ShellAction::Bottom | ShellAction::PageDown)) => picker.selected = last,
        Some(Action::Shell(ShellAction::Back)) => {
            let hosts = picker
                .candidates
                .iter()
                .filter_map(|c| match &c.target {
                    crate::installers::ops::Target::Ssh(h) => Some(h.clone()),
                    _ => None,
                })
                .collect();
            state.mode = Mode::Installers(InstallMode::Form(picker.form, hosts));
            return Vec::new();
        }
        Some(Action::Shell(ShellAction::Open)) => return submit(state, picker),
        _ => {}
    }
    state.mode = Mode::Installers(InstallMode::Targets(picker));
    Vec::new()
}

/// Plan the run off the UI thread; the confirmation opens when it is planned.
fn submit(state: &mut State, mut picker: Box<TargetPicker>) -> Vec<Cmd> {
    let targets = picker.chosen();
    if targets.is_empty() {
        picker.error = Some("select at least one target (Space), or add one (a)".into());
        state.mode = Mode::Installers(InstallMode::Targets(picker));
        return Vec::new();
    }
    if state.refused_read_only(
        "run-installer",
        &format!("run installer {}", picker.form.installer.manifest.id),
    ) {
        return Vec::new();
    }
    let request = RunRequest {
        installer: picker.form.installer.clone(),
        targets: targets.clone(),
        inputs: picker.inputs.clone(),
        max_concurrency: picker.max_concurrency,
        max_errors: picker.max_errors,
    };
    picker.error = None;
    state.toast(
        ToastLevel::Info,
        format!(
            "preflight of {} target(s): {}…",
            targets.len(),
            targets
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    state.installers.parked = Some(picker);
    vec![Cmd::Plan(Flow::Install(InstallFlow::Plan {
        config: state.config.targets.clone(),
        request: Box::new(request),
    }))]
}

/// A run finished: say how (each target's job holds its own log).
pub fn mutation_done(
    state: &mut State,
    _job: crate::model::JobId,
    _op: &crate::installers::ops::InstallMutation,
    result: Result<crate::engine::MutationOutput, String>,
) -> Vec<Cmd> {
    match result {
        Ok(output) => state.toast(ToastLevel::Info, output.summary()),
        Err(e) => state.toast(ToastLevel::Error, e),
    }
    Vec::new()
}
