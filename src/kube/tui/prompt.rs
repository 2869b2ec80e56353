//! Kubernetes' small overlays: the replica field of a scale (prefilled with the current
//! count; Enter asks the gate for the confirmation showing current → new) and the container
//! picker of `l`/`p` on a pod with several containers.

use crate::kube::model::ContextRef;
use crate::kube::ops::{KubeRead, LogRequest};
use crate::kube::plan::{ScaleSeed, parse_replicas};
use crate::ops::{MutatingOp, ReadOp};
use crate::registry::{self, Action, Context};
use crate::tui::input::LineInput;
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, Mode, State, ToastLevel};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub enum KubePrompt {
    Replicas(Box<ReplicaField>),
    Containers(ContainerPicker),
}

pub struct ReplicaField {
    pub seed: ScaleSeed,
    pub input: LineInput,
    pub error: Option<String>,
}

pub struct ContainerPicker {
    pub context: ContextRef,
    pub namespace: String,
    pub pod: String,
    pub containers: Vec<String>,
    pub previous: bool,
    pub selected: usize,
}

pub fn on_key(state: &mut State, prompt: KubePrompt, key: KeyEvent) -> Vec<Cmd> {
    match prompt {
        KubePrompt::Replicas(field) => replicas_key(state, field, key),
        KubePrompt::Containers(picker) => picker_key(state, picker, key),
    }
}

fn replicas_key(state: &mut State, mut field: Box<ReplicaField>, key: KeyEvent) -> Vec<Cmd> {
    let cancelled = key.code == KeyCode::Esc
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL));
    if cancelled {
        state.toast(ToastLevel::Info, "not scaled; nothing changed");
        return Vec::new();
    }
    if key.code == KeyCode::Enter {
        match parse_replicas(field.input.text()) {
            Ok(replicas) if replicas == field.seed.current => {
                field.error = Some(format!(
                    "it already has {replicas} replicas; type another count, or Esc"
                ));
            }
            Ok(replicas) => {
                let op = MutatingOp::from(field.seed.with_replicas(replicas));
                match state.gate.request(op) {
                    Ok(request) => state.open_confirm(request),
                    Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
                }
                return Vec::new();
            }
            Err(e) => field.error = Some(e),
        }
    } else {
        field.input.handle(key);
        field.error = None;
    }
    state.mode = Mode::Kube(KubePrompt::Replicas(field));
    Vec::new()
}

fn picker_key(state: &mut State, mut picker: ContainerPicker, key: KeyEvent) -> Vec<Cmd> {
    let last = picker.containers.len().saturating_sub(1);
    match registry::lookup(&[Context::List], &key) {
        Some(Action::Shell(ShellAction::Up)) => picker.selected = picker.selected.saturating_sub(1),
        Some(Action::Shell(ShellAction::Down)) => picker.selected = (picker.selected + 1).min(last),
        Some(Action::Shell(ShellAction::Top)) => picker.selected = 0,
        Some(Action::Shell(ShellAction::Bottom)) => picker.selected = last,
        Some(Action::Shell(ShellAction::Back)) => return Vec::new(),
        Some(Action::Shell(ShellAction::Open)) => {
            let container = picker.containers.get(picker.selected).cloned();
            let request = LogRequest {
                context: picker.context,
                namespace: picker.namespace,
                pods: vec![picker.pod],
                container,
                previous: picker.previous,
                workload: None,
            };
            return vec![Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))];
        }
        _ if key.code == KeyCode::Char('p') => picker.previous = !picker.previous,
        _ => {}
    }
    state.mode = Mode::Kube(KubePrompt::Containers(picker));
    Vec::new()
}
