//! The shell's actions: focus, zoom, the command line, filter, help, quit, moving in lists,
//! forms and dialogs. Lists, `Enter` and `Esc` mean what the focused pane makes of them; the
//! pane's own module does the work.

use crate::actions;
use crate::registry::{
    self, Action, ActionSpec, Context, KeyCode, Kind, Pane, bind, code, ctrl, hint, k, label,
};
use crate::tui::input::LineInput;
use crate::tui::jobs;
use crate::tui::state::{Cmd, Mode, State, ToastLevel};

actions! {
    /// Moving around the console: nothing is asked of any service.
    pub enum ShellAction {
        FocusNext => ActionSpec::new("focus-next", "Focus the next pane", Kind::Ui)
            .binds(&[
                bind(Context::Global, &[code(KeyCode::Tab)]),
                hint(Context::Chat, &[code(KeyCode::Tab)], "next pane"),
            ])
            .help("next pane"),
        FocusPrev => ActionSpec::new("focus-previous", "Focus the previous pane", Kind::Ui)
            .binds(&[
                bind(Context::Global, &[code(KeyCode::BackTab)]),
                bind(Context::Chat, &[code(KeyCode::BackTab)]),
            ])
            .help("previous pane"),
        FocusChat => ActionSpec::new("focus-chat", "Focus Chat", Kind::Ui)
            .binds(&[bind(Context::Global, &[k('1')])])
            .command("chat", &[], "")
            .help("Chat"),
        FocusInventory => ActionSpec::new("focus-inventory", "Focus Inventory", Kind::Ui)
            .binds(&[bind(Context::Global, &[k('2')])])
            .help("Inventory"),
        FocusCost => ActionSpec::new("focus-cost", "Focus Cost", Kind::Ui)
            .binds(&[bind(Context::Global, &[k('3')])])
            .command("cost", &[], "")
            .help("Cost"),
        FocusCompliance => ActionSpec::new("focus-compliance", "Focus Compliance", Kind::Ui)
            .binds(&[bind(Context::Global, &[k('4')])])
            .command("compliance", &[], "")
            .help("Compliance"),
        FocusJobs => ActionSpec::new("focus-jobs", "Focus Jobs", Kind::Ui)
            .binds(&[bind(Context::Global, &[k('5')])])
            .help("Jobs"),
        Zoom => ActionSpec::new("zoom", "Zoom the focused pane", Kind::Ui)
            .binds(&[hint(Context::Global, &[k('z')], "zoom")])
            .help("zoom the pane / back"),
        CommandLine => ActionSpec::new("command-line", "Open the command line", Kind::Ui)
            .binds(&[hint(Context::Global, &[k(':')], "command")])
            .help("command line (:help lists commands)"),
        Filter => ActionSpec::new("filter", "Filter the list or search the log", Kind::Ui)
            .binds(&[
                bind(Context::Global, &[k('/')]),
                label(Context::JobLog, &[k('/')], "search"),
                label(Context::Inventory, &[k('/')], "filter"),
                label(Context::Jobs, &[k('/')], "filter"),
            ])
            .help("filter the list / search the log"),
        Help => ActionSpec::new("help", "Show keys and commands", Kind::Ui)
            .binds(&[
                hint(Context::Global, &[k('?'), code(KeyCode::F(1))], "help"),
                bind(Context::Chat, &[code(KeyCode::F(1))]),
            ])
            .command("help", &["h"], "")
            .help("this help: keys and commands")
            .schema(registry::NO_ARGS)
            .answer(answer_help),
        WhoAmI => ActionSpec::new("whoami", "Say who opsdeck acts as: the AWS account, the IAM principal (STS GetCallerIdentity)", Kind::Read)
            .command("whoami", &[], "")
            .help("who you are in AWS (account, principal) and your role here")
            .schema(registry::NO_ARGS)
            .plan(plan_whoami),
        SetRegion => ActionSpec::new("set-region", "Point the console at another AWS region", Kind::Ui)
            .command("region", &[], "REGION")
            .help("switch the AWS region (the stack list reloads)")
            .schema(r#"{"type":"object","properties":{"region":{"type":"string","description":"an AWS region name such as eu-west-1"}},"required":["region"],"additionalProperties":false}"#),
        Refresh => ActionSpec::new("refresh", "Reload what the focused pane shows", Kind::Read)
            .binds(&[
                bind(Context::Global, &[k('r'), ctrl('r')]),
                label(Context::Inventory, &[k('r')], "refresh"),
            ])
            .command("refresh", &["r"], "")
            .help("refresh (the stack list or the open stack; in Cost: the section shown)"),
        Quit => ActionSpec::new("quit", "Quit", Kind::Ui)
            .binds(&[
                hint(Context::Global, &[k('q'), ctrl('c')], "quit"),
                bind(Context::Chat, &[ctrl('c')]),
            ])
            .command("quit", &["q"], "")
            .help("quit (asks when jobs run)"),
        QuitNow => ActionSpec::new("quit-now", "Quit without asking", Kind::Ui)
            .command("q!", &[], "")
            .help("quit without asking (running jobs are recorded as interrupted)"),
        ReadOnlyStatus => ActionSpec::new("read-only-status", "Say whether and why the console is read-only", Kind::Ui)
            .command("ro", &[], "")
            .help("show whether and why the console is read-only"),
        Theme => ActionSpec::new("set-theme", "Switch the colour theme", Kind::Ui)
            .command("theme", &[], "NAME")
            .help("switch colour theme (dark, light, high-contrast, ansi16, or your own)"),
        Up => ActionSpec::new("up", "Up", Kind::Ui)
            .binds(&[
                bind(Context::List, &[k('k'), code(KeyCode::Up)]),
                bind(Context::Dialog, &[code(KeyCode::Up), k('k')]),
            ])
            .help("up (in a dialog: scroll; k only off the text input)"),
        Down => ActionSpec::new("down", "Down", Kind::Ui)
            .binds(&[
                bind(Context::List, &[k('j'), code(KeyCode::Down)]),
                bind(Context::Dialog, &[code(KeyCode::Down), k('j')]),
            ])
            .help("down (in a dialog: scroll; j only off the text input)"),
        PageUp => ActionSpec::new("page-up", "Page up", Kind::Ui)
            .binds(&[
                bind(Context::List, &[ctrl('u'), code(KeyCode::PageUp), ctrl('b')]),
                bind(Context::Dialog, &[code(KeyCode::PageUp)]),
            ])
            .help("page up"),
        PageDown => ActionSpec::new("page-down", "Page down", Kind::Ui)
            .binds(&[
                bind(Context::List, &[ctrl('d'), code(KeyCode::PageDown), ctrl('f')]),
                bind(Context::Dialog, &[code(KeyCode::PageDown)]),
            ])
            .help("page down"),
        Top => ActionSpec::new("first", "First row", Kind::Ui)
            .binds(&[bind(Context::List, &[k('g'), code(KeyCode::Home)])])
            .help("first"),
        Bottom => ActionSpec::new("last", "Last row", Kind::Ui)
            .binds(&[bind(Context::List, &[k('G'), code(KeyCode::End)])])
            .help("last"),
        Open => ActionSpec::new("open", "Open the selected row", Kind::Ui)
            .binds(&[
                bind(Context::List, &[code(KeyCode::Enter), k('l')]),
                label(Context::Compliance, &[code(KeyCode::Enter)], "open"),
            ])
            .help("open"),
        Back => ActionSpec::new("back", "Back, or clear the filter", Kind::Ui)
            .binds(&[
                bind(Context::List, &[code(KeyCode::Esc), k('h')]),
                label(Context::Compliance, &[code(KeyCode::Esc)], "close"),
            ])
            .help("back / clear filter"),
        FormNext => ActionSpec::new("form-next", "Next field", Kind::Ui)
            .binds(&[bind(Context::Form, &[code(KeyCode::Tab), code(KeyCode::Down)])])
            .help("next field"),
        FormPrev => ActionSpec::new("form-previous", "Previous field", Kind::Ui)
            .binds(&[bind(Context::Form, &[code(KeyCode::BackTab), code(KeyCode::Up)])])
            .help("previous field"),
        FormEnter => ActionSpec::new("form-enter", "Next field, or send from the last", Kind::Ui)
            .binds(&[bind(Context::Form, &[code(KeyCode::Enter)])])
            .help("next field; on the last field, send"),
        FormSubmit => ActionSpec::new("form-send", "Send the form", Kind::Ui)
            .binds(&[bind(Context::Form, &[ctrl('s')])])
            .help("send: review, then confirm"),
        FormClose => ActionSpec::new("form-close", "Leave the form", Kind::Ui)
            .binds(&[bind(Context::Form, &[code(KeyCode::Esc), ctrl('c')])])
            .help("leave the form (nothing has been sent)"),
        ChoiceNext => ActionSpec::new("choice-next", "Next choice", Kind::Ui)
            .binds(&[bind(Context::FormSelect, &[code(KeyCode::Right), k(' ')])])
            .help("next choice"),
        ChoicePrev => ActionSpec::new("choice-previous", "Previous choice", Kind::Ui)
            .binds(&[bind(Context::FormSelect, &[code(KeyCode::Left)])])
            .help("previous choice"),
    }
}

/// What a shell action does.
pub fn apply(state: &mut State, action: ShellAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        ShellAction::FocusNext | ShellAction::FocusPrev => {
            let i = Pane::ALL
                .iter()
                .position(|p| *p == state.focus)
                .unwrap_or(0);
            let n = Pane::ALL.len();
            let next = if action == ShellAction::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = Pane::ALL[next];
        }
        ShellAction::FocusChat => state.focus = Pane::Chat,
        ShellAction::FocusInventory => state.focus = Pane::Inventory,
        ShellAction::FocusCost => state.focus = Pane::Cost,
        ShellAction::FocusCompliance => state.focus = Pane::Compliance,
        ShellAction::FocusJobs => state.focus = Pane::Jobs,
        ShellAction::Zoom => state.zoomed = !state.zoomed,
        ShellAction::CommandLine => state.mode = Mode::Command(LineInput::default()),
        ShellAction::Filter => open_filter(state),
        ShellAction::Help => state.mode = Mode::Help { scroll: 0 },
        ShellAction::Refresh => return refresh(state),
        ShellAction::WhoAmI => {
            let text = match &state.session.identity {
                Some(id) => format!(
                    "account {} as {} — role {}, environment {}",
                    id.account,
                    id.arn,
                    state.session.role.map(|r| r.as_str()).unwrap_or("pending"),
                    state.environment()
                ),
                None => "STS has not said who you are yet; asking again".to_string(),
            };
            reply(state, ToastLevel::Info, text);
            if state.session.identity.is_none() && !state.session.identity_pending {
                return state.ask_identity();
            }
        }
        ShellAction::SetRegion => return set_region(state, args.first().copied()),
        ShellAction::Quit => return request_quit(state),
        ShellAction::QuitNow => {
            state.quit = true;
            return vec![Cmd::Quit];
        }
        ShellAction::ReadOnlyStatus => {
            let text = if state.read_only() {
                format!("READ-ONLY: {}", state.gate.latch().reasons().join("; "))
            } else {
                format!(
                    "Not read-only: role {}; start with --read-only, set safety.read_only, or map your user to viewer",
                    state.session.role.map(|r| r.as_str()).unwrap_or("pending")
                )
            };
            reply(state, ToastLevel::Info, text);
        }
        ShellAction::Theme => match args.first() {
            Some(theme) => return vec![Cmd::LoadTheme(theme.to_string())],
            None => {
                let text = format!("theme {} — :theme NAME to switch", state.theme_name);
                reply(state, ToastLevel::Info, text);
            }
        },
        ShellAction::Up
        | ShellAction::Down
        | ShellAction::PageUp
        | ShellAction::PageDown
        | ShellAction::Top
        | ShellAction::Bottom => return move_selection(state, action),
        ShellAction::Open => return open(state),
        ShellAction::Back => back(state),
        // Form keys are handled by the form itself.
        ShellAction::FormNext
        | ShellAction::FormPrev
        | ShellAction::FormEnter
        | ShellAction::FormSubmit
        | ShellAction::FormClose
        | ShellAction::ChoiceNext
        | ShellAction::ChoicePrev => {}
    }
    Vec::new()
}

fn plan_whoami<'a>(
    _: &'a dyn crate::ops::PlanCtx,
    _: &'a serde_json::Value,
) -> futures::future::BoxFuture<'a, Result<crate::ops::Op, crate::ops::PlanError>> {
    Box::pin(async { Ok(crate::ops::Op::Read(crate::ops::ReadOp::WhoAmI)) })
}

/// `help` outside the console: every `:` command and what it does.
fn answer_help<'a>(
    _: &'a dyn crate::ops::PlanCtx,
    _: &'a serde_json::Value,
) -> futures::future::BoxFuture<'a, Result<serde_json::Value, crate::ops::PlanError>> {
    Box::pin(async {
        let commands: Vec<serde_json::Value> = registry::commands()
            .into_iter()
            .map(
                |(usage, help)| serde_json::json!({ "command": format!(":{usage}"), "does": help }),
            )
            .collect();
        Ok(serde_json::json!({ "commands": commands }))
    })
}

/// `:region NAME`: checked like `--region`; the clients are rebuilt for it by the app.
fn set_region(state: &mut State, region: Option<&str>) -> Vec<Cmd> {
    let Some(region) = region else {
        let text = format!(
            "region {} — :region NAME to switch",
            state.session.region.as_deref().unwrap_or("not set")
        );
        reply(state, ToastLevel::Info, text);
        return Vec::new();
    };
    if let Some(problem) = crate::config::region_problem(region) {
        reply(state, ToastLevel::Error, problem);
        return Vec::new();
    }
    if state.session.region.as_deref() == Some(region) {
        reply(state, ToastLevel::Info, format!("already in {region}"));
        return Vec::new();
    }
    state.session.region = Some(region.to_string());
    state.inventory.detail = None;
    reply(
        state,
        ToastLevel::Info,
        format!("region {region}: reloading the stacks"),
    );
    let mut cmds = vec![Cmd::SetRegion(region.to_string())];
    state.inventory.loaded = false;
    cmds.extend(crate::cfn::tui::refresh_stacks(state));
    cmds
}

/// An answer to a command: in the chat when it was typed there, else a toast.
pub(crate) fn reply(state: &mut State, level: ToastLevel, text: String) {
    if state.focus == Pane::Chat {
        state.chat.note(text);
    } else {
        state.toast(level, text);
    }
}

/// `:NAME ARGS…` (or the same typed in Chat): the registry names the action.
pub(crate) fn run_command(state: &mut State, line: &str) -> Vec<Cmd> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Vec::new();
    };
    let args: Vec<&str> = words.collect();
    match registry::command(name) {
        Some(action) => crate::tui::state::apply(state, action, &args),
        None => {
            reply(
                state,
                ToastLevel::Error,
                format!("unknown command `{name}` — :help lists commands"),
            );
            Vec::new()
        }
    }
}

/// `r`: reload what the focused pane shows; until STS has answered, ask it again at once too.
fn refresh(state: &mut State) -> Vec<Cmd> {
    let mut cmds = if state.session.identity.is_none() {
        state.ask_identity()
    } else {
        Vec::new()
    };
    cmds.extend(match state.focus {
        Pane::Inventory if state.kube.shown => crate::kube::tui::refresh(state),
        Pane::Inventory => crate::cfn::tui::refresh(state),
        Pane::Cost => crate::cost::tui::refresh(state),
        _ => crate::cfn::tui::refresh_stacks(state),
    });
    cmds
}

fn open_filter(state: &mut State) {
    let current = match state.focus {
        Pane::Jobs if state.jobs.log_open => state.jobs.log.search.clone().unwrap_or_default(),
        Pane::Jobs => state.jobs.filter.clone(),
        Pane::Inventory if state.kube.shown && state.kube.detail.is_none() => {
            state.kube.filter.clone()
        }
        Pane::Inventory if !state.kube.shown && state.inventory.detail.is_none() => {
            state.inventory.filter.clone()
        }
        _ => {
            state.toast(ToastLevel::Info, "nothing to filter here");
            return;
        }
    };
    state.mode = Mode::Filter(LineInput::with_text(&current));
}

pub(crate) fn request_quit(state: &mut State) -> Vec<Cmd> {
    if state.jobs.running() > 0 {
        state.mode = Mode::QuitConfirm;
        Vec::new()
    } else {
        state.quit = true;
        vec![Cmd::Quit]
    }
}

pub(crate) fn set_filter(state: &mut State, text: &str) {
    match state.focus {
        Pane::Jobs => {
            state.jobs.filter = text.to_string();
            state.jobs.refilter();
        }
        Pane::Inventory if state.kube.shown => crate::kube::tui::set_filter(state, text),
        _ => {
            state.inventory.filter = text.to_string();
            state.inventory.refilter();
        }
    }
}

/// `Enter`/`l` in a list: the focused pane opens its row.
fn open(state: &mut State) -> Vec<Cmd> {
    match state.focus {
        Pane::Inventory if state.kube.shown => crate::kube::tui::open(state),
        Pane::Inventory => crate::cfn::tui::open(state),
        Pane::Jobs => jobs::apply(state, jobs::JobsAction::OpenLog, &[]),
        Pane::Compliance => crate::compliance::tui::on_tree_action(state, ShellAction::Open),
        Pane::Chat | Pane::Cost => Vec::new(),
    }
}

/// `Esc`/`h` in a list: the focused pane steps back; at the top, the filter clears, then zoom.
fn back(state: &mut State) {
    if state.focus == Pane::Inventory && state.kube.shown {
        if !crate::kube::tui::back(state) && !state.kube.filter.is_empty() {
            set_filter(state, "");
        } else if state.kube.drill.is_empty() && state.kube.detail.is_none() {
            state.zoomed = false;
        }
        return;
    }
    if state.focus == Pane::Inventory && crate::cfn::tui::back(state) {
        return;
    }
    match state.focus {
        Pane::Inventory if !state.inventory.filter.is_empty() => set_filter(state, ""),
        Pane::Jobs if state.jobs.log_open => state.jobs.log_open = false,
        Pane::Jobs if !state.jobs.filter.is_empty() => set_filter(state, ""),
        Pane::Compliance => {
            crate::compliance::tui::on_tree_action(state, ShellAction::Back);
        }
        _ => state.zoomed = false,
    }
}

const PAGE: usize = 10;

/// The row a list movement lands on.
pub(crate) fn step(current: usize, len: usize, action: ShellAction) -> usize {
    let last = len.saturating_sub(1);
    match action {
        ShellAction::Up => current.saturating_sub(1),
        ShellAction::Down => (current + 1).min(last),
        ShellAction::PageUp => current.saturating_sub(PAGE),
        ShellAction::PageDown => (current + PAGE).min(last),
        ShellAction::Top => 0,
        ShellAction::Bottom => last,
        _ => current,
    }
}

fn move_selection(state: &mut State, action: ShellAction) -> Vec<Cmd> {
    match state.focus {
        Pane::Inventory if state.kube.shown => crate::kube::tui::move_selection(state, action),
        Pane::Inventory => crate::cfn::tui::move_selection(state, action),
        Pane::Jobs if state.jobs.log_open => return jobs::scroll_log(state, action),
        Pane::Jobs => {
            state.jobs.selected = step(state.jobs.selected, state.jobs.visible.len(), action);
            state.jobs.follow_newest = state.jobs.selected == 0;
        }
        Pane::Compliance => {
            return crate::compliance::tui::on_tree_action(state, action);
        }
        Pane::Cost => crate::cost::tui::move_selection(state, action),
        Pane::Chat => {}
    }
    Vec::new()
}

/// Lines in the help screen, which bounds its scrolling.
pub(crate) fn help_lines() -> u16 {
    let keys: usize = registry::help_sections()
        .iter()
        .map(|(_, rows)| rows.len() + 2)
        .sum();
    (keys + registry::commands().len() + 1) as u16
}

/// The action for a key in the focused pane, if any.
pub(crate) fn lookup(state: &State, key: &crossterm::event::KeyEvent) -> Option<Action> {
    registry::lookup(&state.contexts(), key)
}
