//! One table of key bindings per context. It drives key handling, the `?` help screen and the
//! key hints, so the three can never disagree.

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

/// What a key means, before the state decides what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FocusNext,
    FocusPrev,
    Focus(Pane),
    ToggleZoom,
    OpenCommandLine,
    OpenFilter,
    OpenHelp,
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Refresh,
    DeleteStack,
    NextTab,
    PrevTab,
    ToggleFollow,
    CancelJob,
    SearchNext,
    SearchPrev,
    /// Pick a library template and open the deploy form.
    NewDeploy,
    /// Open the deploy form for the selected stack with its current template and values.
    UpdateStack,
    FollowStack,
    DetectDrift,
    ToggleProtection,
    SortByName,
    SortByStatus,
    SortByUpdated,
    FormNext,
    FormPrev,
    /// Enter: next field, or send from the last one.
    FormEnter,
    FormSubmit,
    FormClose,
    ChoiceNext,
    ChoicePrev,
    /// Judge the selected stack's deployed template (Compliance pane shows the report).
    CheckStack,
    /// Judge the template library again (defaults).
    CheckLibrary,
    /// Export the report on screen (choose the format).
    ExportReport,
    /// The stack of the report on screen, in Inventory.
    ShowInInventory,
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
    /// The deploy form (other keys type into the focused field).
    Form,
    /// The focused form field is a choice (AllowedValues).
    FormSelect,
    /// A confirmation dialog (other keys type the confirmation text).
    Dialog,
    /// The Compliance pane's report tree.
    Compliance,
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
            Context::Form => "Deploy form (other keys type into the field)",
            Context::FormSelect => "Deploy form: a field with a list of choices",
            Context::Dialog => "Confirmation and change-set review",
            Context::Compliance => "Compliance: report tree (Enter/l opens, h closes)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}
const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}
const fn code(code: KeyCode) -> Key {
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

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
}

const fn b(context: Context, keys: &'static [Key], action: Action, help: &'static str) -> Binding {
    Binding {
        context,
        keys,
        action,
        help,
    }
}

use Action as A;
use Context as C;

pub static KEYMAP: &[Binding] = &[
    b(C::Global, &[code(KeyCode::Tab)], A::FocusNext, "next pane"),
    b(
        C::Global,
        &[code(KeyCode::BackTab)],
        A::FocusPrev,
        "previous pane",
    ),
    b(C::Global, &[k('1')], A::Focus(Pane::Chat), "Chat"),
    b(C::Global, &[k('2')], A::Focus(Pane::Inventory), "Inventory"),
    b(C::Global, &[k('3')], A::Focus(Pane::Cost), "Cost"),
    b(
        C::Global,
        &[k('4')],
        A::Focus(Pane::Compliance),
        "Compliance",
    ),
    b(C::Global, &[k('5')], A::Focus(Pane::Jobs), "Jobs"),
    b(C::Global, &[k('z')], A::ToggleZoom, "zoom the pane / back"),
    b(
        C::Global,
        &[k(':')],
        A::OpenCommandLine,
        "command line (:help lists commands)",
    ),
    b(
        C::Global,
        &[k('/')],
        A::OpenFilter,
        "filter the list / search the log",
    ),
    b(
        C::Global,
        &[k('?'), code(KeyCode::F(1))],
        A::OpenHelp,
        "this help",
    ),
    b(C::Global, &[k('r'), ctrl('r')], A::Refresh, "refresh"),
    b(
        C::Global,
        &[k('q'), ctrl('c')],
        A::Quit,
        "quit (asks when jobs run)",
    ),
    b(C::List, &[k('j'), code(KeyCode::Down)], A::Down, "down"),
    b(C::List, &[k('k'), code(KeyCode::Up)], A::Up, "up"),
    b(
        C::List,
        &[ctrl('d'), code(KeyCode::PageDown), ctrl('f')],
        A::PageDown,
        "page down",
    ),
    b(
        C::List,
        &[ctrl('u'), code(KeyCode::PageUp), ctrl('b')],
        A::PageUp,
        "page up",
    ),
    b(C::List, &[k('g'), code(KeyCode::Home)], A::Top, "first"),
    b(C::List, &[k('G'), code(KeyCode::End)], A::Bottom, "last"),
    b(C::List, &[code(KeyCode::Enter), k('l')], A::Open, "open"),
    b(
        C::List,
        &[code(KeyCode::Esc), k('h')],
        A::Back,
        "back / clear filter",
    ),
    b(
        C::Inventory,
        &[k('d'), ctrl('k')],
        A::DeleteStack,
        "delete the stack (type its name)",
    ),
    b(
        C::StackDetail,
        &[k(']'), code(KeyCode::Right)],
        A::NextTab,
        "next section",
    ),
    b(
        C::StackDetail,
        &[k('['), code(KeyCode::Left)],
        A::PrevTab,
        "previous section",
    ),
    b(
        C::StackDetail,
        &[k('d'), ctrl('k')],
        A::DeleteStack,
        "delete this stack",
    ),
    b(
        C::Inventory,
        &[k('n')],
        A::NewDeploy,
        "deploy a library template (form, then change set)",
    ),
    b(
        C::Inventory,
        &[k('u')],
        A::UpdateStack,
        "update the stack (its template, new parameter values)",
    ),
    b(
        C::Inventory,
        &[k('f')],
        A::FollowStack,
        "follow the stack's events live (in Jobs)",
    ),
    b(
        C::Inventory,
        &[k('D')],
        A::DetectDrift,
        "detect drift (a job; result in the Drift tab)",
    ),
    b(
        C::Inventory,
        &[k('N')],
        A::SortByName,
        "sort by name (again: reverse)",
    ),
    b(
        C::Inventory,
        &[k('S')],
        A::SortByStatus,
        "sort by status (again: reverse)",
    ),
    b(
        C::Inventory,
        &[k('A')],
        A::SortByUpdated,
        "sort by last update, newest first (again: reverse)",
    ),
    b(
        C::StackDetail,
        &[k('u')],
        A::UpdateStack,
        "update this stack",
    ),
    b(
        C::StackDetail,
        &[k('f')],
        A::FollowStack,
        "follow this stack's events (in Jobs)",
    ),
    b(C::StackDetail, &[k('D')], A::DetectDrift, "detect drift"),
    b(
        C::StackDetail,
        &[k('p')],
        A::ToggleProtection,
        "turn termination protection on/off",
    ),
    b(
        C::Inventory,
        &[k('C')],
        A::CheckStack,
        "judge the stack's template for compliance (a read)",
    ),
    b(
        C::StackDetail,
        &[k('C')],
        A::CheckStack,
        "judge this stack's template for compliance",
    ),
    b(
        C::Compliance,
        &[k('c')],
        A::CheckLibrary,
        "judge the template library again (defaults)",
    ),
    b(
        C::Compliance,
        &[k('e')],
        A::ExportReport,
        "export the report (text, json, csv, sarif, oscal)",
    ),
    b(
        C::Compliance,
        &[k('i')],
        A::ShowInInventory,
        "show the report's stack in Inventory (also Enter on a resource)",
    ),
    b(C::Jobs, &[k('c')], A::CancelJob, "cancel the job"),
    b(
        C::JobLog,
        &[k('f'), k('F')],
        A::ToggleFollow,
        "follow the log on/off",
    ),
    b(C::JobLog, &[k('n')], A::SearchNext, "next match"),
    b(C::JobLog, &[k('N')], A::SearchPrev, "previous match"),
    b(C::JobLog, &[k('c')], A::CancelJob, "cancel the job"),
    b(C::Chat, &[code(KeyCode::Tab)], A::FocusNext, "next pane"),
    b(
        C::Chat,
        &[code(KeyCode::BackTab)],
        A::FocusPrev,
        "previous pane",
    ),
    b(C::Chat, &[ctrl('c')], A::Quit, "quit"),
    b(C::Chat, &[code(KeyCode::F(1))], A::OpenHelp, "help"),
    b(
        C::FormSelect,
        &[code(KeyCode::Right), k(' ')],
        A::ChoiceNext,
        "next choice",
    ),
    b(
        C::FormSelect,
        &[code(KeyCode::Left)],
        A::ChoicePrev,
        "previous choice",
    ),
    b(
        C::Form,
        &[code(KeyCode::Tab), code(KeyCode::Down)],
        A::FormNext,
        "next field",
    ),
    b(
        C::Form,
        &[code(KeyCode::BackTab), code(KeyCode::Up)],
        A::FormPrev,
        "previous field",
    ),
    b(
        C::Form,
        &[code(KeyCode::Enter)],
        A::FormEnter,
        "next field; on the last field, send",
    ),
    b(
        C::Form,
        &[ctrl('s')],
        A::FormSubmit,
        "send: review, then compute the change set",
    ),
    b(
        C::Form,
        &[code(KeyCode::Esc), ctrl('c')],
        A::FormClose,
        "leave the form (nothing has been sent)",
    ),
    b(
        C::Dialog,
        &[code(KeyCode::Down), k('j')],
        A::Down,
        "scroll down (j only off the text input)",
    ),
    b(
        C::Dialog,
        &[code(KeyCode::Up), k('k')],
        A::Up,
        "scroll up (k only off the text input)",
    ),
    b(
        C::Dialog,
        &[code(KeyCode::PageDown)],
        A::PageDown,
        "page down",
    ),
    b(C::Dialog, &[code(KeyCode::PageUp)], A::PageUp, "page up"),
];

/// The first binding in `contexts` (searched in order) that matches the key.
pub fn lookup(contexts: &[Context], ev: &KeyEvent) -> Option<Action> {
    contexts.iter().find_map(|ctx| {
        KEYMAP
            .iter()
            .filter(|b| b.context == *ctx)
            .find(|b| b.keys.iter().any(|key| key.matches(ev)))
            .map(|b| b.action)
    })
}

/// Help lines grouped by context, generated from [`KEYMAP`].
pub fn help_sections() -> Vec<(Context, Vec<(String, &'static str)>)> {
    let order = [
        C::Global,
        C::List,
        C::Inventory,
        C::StackDetail,
        C::Jobs,
        C::JobLog,
        C::Chat,
        C::Form,
        C::FormSelect,
        C::Dialog,
        C::Compliance,
    ];
    order
        .iter()
        .map(|ctx| {
            let rows = KEYMAP
                .iter()
                .filter(|b| b.context == *ctx)
                .map(|b| {
                    (
                        b.keys.iter().map(Key::label).collect::<Vec<_>>().join(" "),
                        b.help,
                    )
                })
                .collect();
            (*ctx, rows)
        })
        .collect()
}

/// Key hint for one action in one context, e.g. "d" for delete.
pub fn hint(context: Context, action: Action) -> Option<String> {
    KEYMAP
        .iter()
        .find(|b| b.context == context && b.action == action)
        .and_then(|b| b.keys.first())
        .map(Key::label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in KEYMAP.iter().enumerate() {
            for other in &KEYMAP[i + 1..] {
                if a.context != other.context {
                    continue;
                }
                for ka in a.keys {
                    for kb in other.keys {
                        assert!(
                            !(ka.code == kb.code && ka.mods == kb.mods),
                            "{} bound twice in {:?}",
                            ka.label(),
                            a.context
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn context_order_decides() {
        let d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(
            lookup(&[C::Inventory, C::List, C::Global], &d),
            Some(A::DeleteStack)
        );
        assert_eq!(lookup(&[C::Jobs, C::List, C::Global], &d), None);
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&[C::List], &shift_g), Some(A::Bottom));
    }

    #[test]
    fn help_lists_every_binding() {
        let total: usize = help_sections().iter().map(|(_, rows)| rows.len()).sum();
        assert_eq!(total, KEYMAP.len());
    }
}
