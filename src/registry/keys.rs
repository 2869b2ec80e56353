//! Keys and where they apply: panes, contexts and key chords, as the registry's bindings name
//! them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Panes in the order of their number keys and Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Chat,
    Inventory,
    Cost,
    Compliance,
    Jobs,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Chat,
        Pane::Inventory,
        Pane::Cost,
        Pane::Compliance,
        Pane::Jobs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Chat => "Chat",
            Pane::Inventory => "Inventory",
            Pane::Cost => "Cost",
            Pane::Compliance => "Compliance",
            Pane::Jobs => "Jobs",
        }
    }

    pub fn number(self) -> usize {
        match self {
            Pane::Chat => 1,
            Pane::Inventory => 2,
            Pane::Cost => 3,
            Pane::Compliance => 4,
            Pane::Jobs => 5,
        }
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Anywhere outside text input and dialogs.
    Global,
    /// Any list (stacks, jobs, log).
    List,
    Inventory,
    StackDetail,
    Jobs,
    JobLog,
    /// The chat input has focus: only these keys are taken from the text.
    Chat,
    /// Chat, while an answer is being written (looked up before `Chat`).
    ChatAnswering,
    /// The deploy form (other keys type into the focused field).
    Form,
    /// The focused form field is a choice (AllowedValues).
    FormSelect,
    /// A confirmation dialog (other keys type the confirmation text).
    Dialog,
    /// The Compliance pane's report tree.
    Compliance,
    /// Choosing the targets of an installer run.
    TargetPicker,
    /// Inventory listing Kubernetes: contexts, EKS clusters, a watched kind, a drill-down.
    Kube,
    /// Inventory: a Kubernetes object's YAML view.
    KubeDetail,
    /// The Cost pane.
    Cost,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::List => "Lists",
            Context::Inventory => "Inventory: stacks",
            Context::StackDetail => "Inventory: stack detail",
            Context::Jobs => "Jobs",
            Context::JobLog => "Jobs: log (Enter on a job)",
            Context::Chat => "Chat (other keys type)",
            Context::ChatAnswering => "Chat: while an answer is being written",
            Context::Form => "Forms: deploy, installer (other keys type into the field)",
            Context::FormSelect => "Forms: a field with a list of choices",
            Context::Dialog => "Confirmation and change-set review",
            Context::Compliance => "Compliance: report tree (Enter/l opens, h closes)",
            Context::TargetPicker => "Installer: targets (Enter continues, Esc back to the form)",
            Context::Kube => "Inventory: Kubernetes (Enter drills down, Esc goes back)",
            Context::KubeDetail => "Inventory: a Kubernetes object's YAML",
            Context::Cost => "Cost: spend, stacks and idle resources",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

pub const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}
pub const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}
pub const fn code(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

impl Key {
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        // Terminals report Shift on upper-case letters and symbols inconsistently: compare
        // characters as typed and only Control/Alt as modifiers.
        let significant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        match (self.code, ev.code) {
            (KeyCode::BackTab, KeyCode::BackTab) => true,
            (KeyCode::Tab, KeyCode::Tab) => !ev.modifiers.contains(KeyModifiers::SHIFT),
            (a, b) => a == b && (ev.modifiers & significant) == (self.mods & significant),
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.mods.contains(KeyModifiers::CONTROL) {
            format!("C-{base}")
        } else {
            base
        }
    }
}
