//! The console's state and its one pure update function:
//! `update(&mut State, Msg) -> Vec<Cmd>`. No I/O here except through the gate's audit sink;
//! effects are returned as [`Cmd`]s for the app loop to run.
//!
//! The shell's own state lives here (session, focus, modes, the dialog, toasts); each pane's
//! state lives with its capability (`cfn::tui::InventoryState`, `compliance::tui`, …) or
//! beside this file (`jobs`, `chat`). Keys go through the registry to each capability's
//! `apply`; engine results go to the capability whose operation they answer.

use crate::cfn::tui::deploy::{self, DeployState, TemplatePicker};
use crate::cfn::tui::form::DeployForm;
use crate::cfn::tui::{CfnView, InventoryState};
use crate::compliance::tui::{self as compliance, ComplianceState};
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::cost::tui::{CostState, CostView};
use crate::engine::task::JobHandle;
use crate::engine::{EngineEvent, ReadOutput};
use crate::model::{CallerIdentity, Environment, JobId, JobRecord, Role};
use crate::ops::{Approved, ConfirmRequest, Gate, MutatingOp, ReadOp};
use crate::registry::{Action, Context, Pane};
use crate::tui::input::LineInput;
use crate::tui::styles::Styles;
use crate::tui::{chat, dialog, jobs, shell};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use crate::tui::chat::{ChatRole, ChatState};
pub use crate::tui::dialog::{ConfirmDialog, DialogFocus};
pub use crate::tui::jobs::{JobsState, LogView};

/// Which part of the screen a read feeds. The app submits a read with its view's name as the
/// engine's supersede key, so a newer read for the same view cancels the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKey {
    Identity,
    Cfn(CfnView),
    Cost(CostView),
}

impl ViewKey {
    pub fn of(op: &ReadOp) -> ViewKey {
        match op {
            ReadOp::WhoAmI => ViewKey::Identity,
            ReadOp::Cfn(r) => ViewKey::Cfn(CfnView::of(r)),
            ReadOp::Cost(r) => ViewKey::Cost(CostView::of(r)),
        }
    }

    /// The engine's supersede key for a read feeding this view, if only the latest counts.
    pub fn supersede_key(self) -> Option<String> {
        match self {
            ViewKey::Identity => Some("identity".into()),
            ViewKey::Cfn(v) => v.supersede_key().map(|k| format!("cfn:{k}")),
            ViewKey::Cost(v) => Some(format!("cost:{}", v.supersede_key())),
        }
    }

    /// The view a finished read fed, from the key it was submitted with.
    pub fn from_key(key: &str) -> Option<ViewKey> {
        if key == "identity" {
            return Some(ViewKey::Identity);
        }
        if let Some(key) = key.strip_prefix("cost:") {
            return CostView::from_key(key).map(ViewKey::Cost);
        }
        key.strip_prefix("cfn:")
            .and_then(CfnView::from_key)
            .map(ViewKey::Cfn)
    }
}

/// A "fetch, then plan, then confirm" flow, run off the UI thread (`Cmd::Plan`).
// One flow at a time per action, moved once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Flow {
    Cfn(crate::cfn::tui::flows::CfnFlow),
    Cost(crate::cost::tui::CostFlow),
}

/// A flow's outcome (`Msg::Planned`).
#[derive(Debug)]
pub enum Planned {
    Cfn(Result<crate::cfn::tui::flows::CfnPlanned, crate::ops::PlanError>),
    Cost(Result<crate::cost::tui::CostPlanned, crate::ops::PlanError>),
}

/// What waits for the open dialog or form to close: a planned operation's confirmation, a
/// computed change set's review, or a form a flow prepared.
// The form is boxed; an operation is as large as it is, and rarely more than one waits.
#[allow(clippy::large_enum_variant)]
pub enum Waiting {
    Confirm(MutatingOp),
    Form(Box<DeployForm>),
}

/// Everything that can happen to the console.
pub enum Msg {
    Key(KeyEvent),
    Engine(EngineEvent),
    /// Once a second: durations move while jobs run, and the stack list refreshes on its
    /// schedule. A tick that changes nothing on screen sets `State::quiet`.
    Tick {
        now_ms: i64,
    },
    Resize,
    ThemeLoaded(Result<Theme, String>),
    /// A log search finished.
    SearchDone {
        job: JobId,
        needle: String,
        found: Result<Vec<u64>, String>,
    },
    /// An earlier session's log was opened (or could not be).
    PastLogOpened(Result<JobHandle, String>),
    /// A flow finished planning.
    Planned(Planned),
    /// SIGTERM / SIGHUP: leave now, no questions.
    Terminate(&'static str),
    /// The template library was judged (off the UI thread).
    LibraryJudged(Box<crate::compliance::tui::JudgedReport>),
    CheckerLoaded(crate::compliance::tui::SharedChecker),
    /// A report export was written (or not).
    ExportDone(Result<std::path::PathBuf, String>),
    /// A cost effect answered (catalogue loaded, spend cache read or written).
    Cost(crate::cost::tui::CostMsg),
}

/// Effects for the app loop.
// A few short-lived values per update: boxing the approval would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Cmd {
    Read(ReadOp),
    /// Run a flow off the UI thread; its outcome comes back as `Msg::Planned`.
    Plan(Flow),
    /// A background refresh (`Engine::submit_refresh`): no job record, result as for `Read`.
    Refresh(ReadOp),
    /// Only ever built from a token the gate minted in this update.
    Execute(Approved<MutatingOp>),
    CancelJob(JobId),
    /// Search a job's log (off the UI thread).
    SearchLog {
        handle: JobHandle,
        needle: String,
    },
    /// Open the spill file of a job from an earlier session, to show its log.
    OpenPastLog {
        job: JobId,
        path: String,
    },
    LoadTheme(String),
    /// Judge every library template with this checker, off the UI thread.
    CheckLibrary(crate::compliance::tui::SharedChecker),
    /// Load the user's policies and waivers (files) off the UI thread.
    LoadChecker,
    /// Write the report to `data_dir/reports/report-<stamp>.<ext>`, off the UI thread.
    ExportReport {
        report: Box<crate::compliance::report::Report>,
        format: crate::compliance::export::Format,
        stamp: String,
    },
    /// A cost effect (load the catalogue, read or write the spend cache), off the UI thread.
    Cost(crate::cost::tui::CostCmd),
    Quit,
}

/// Where the console points and who is at the keyboard.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub os_user: String,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub identity: Option<CallerIdentity>,
    /// Why the identity is unknown (e.g. no credentials), shown plainly.
    pub identity_error: Option<String>,
    pub role: Option<Role>,
    /// `--env`: used when config maps neither the account nor the profile.
    pub env_override: Option<Environment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastLevel {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub level: ToastLevel,
    pub text: String,
}

/// Modal modes, innermost first in key handling.
// The confirmation dialog holds the whole resolved operation (a change set's preview
// included) on purpose: it is shown and handed back exactly as it is.
#[allow(clippy::large_enum_variant)]
pub enum Mode {
    Normal,
    Command(LineInput),
    Filter(LineInput),
    Help {
        scroll: u16,
    },
    Confirm(ConfirmDialog),
    QuitConfirm,
    /// Choosing a library template to deploy.
    Picker(TemplatePicker),
    /// The deploy form (nothing has been sent while it is open).
    Form(Box<DeployForm>),
    /// Choosing the format to export the compliance report in.
    Export {
        selected: usize,
    },
}

pub struct State {
    pub session: Session,
    pub config: Arc<Config>,
    pub gate: Gate,
    pub focus: Pane,
    pub zoomed: bool,
    pub mode: Mode,
    pub inventory: InventoryState,
    pub jobs: JobsState,
    pub chat: ChatState,
    pub toast: Option<Toast>,
    pub theme_name: String,
    pub color_depth: ColorDepth,
    pub styles: Styles,
    pub now_ms: i64,
    /// Latest read job per view; results from older jobs are dropped.
    pub latest_reads: HashMap<ViewKey, JobId>,
    pub deploy: DeployState,
    pub compliance: ComplianceState,
    pub cost: CostState,
    /// Confirmations and forms waiting for the open dialog or form to close, oldest first.
    pub waiting: std::collections::VecDeque<Waiting>,
    /// The last update changed nothing on screen: the app loop skips the redraw, so an idle
    /// console writes nothing to the terminal.
    pub quiet: bool,
    pub quit: bool,
}

impl crate::ops::SessionFacts for State {
    fn region(&self) -> Option<String> {
        self.session.region.clone()
    }

    fn environment_of(&self, account: &str) -> Environment {
        State::environment_of(self, Some(account))
    }
}

impl State {
    pub fn new(
        session: Session,
        config: Arc<Config>,
        gate: Gate,
        theme: &Theme,
        depth: ColorDepth,
    ) -> State {
        State {
            session,
            config,
            gate,
            focus: Pane::Inventory,
            zoomed: false,
            mode: Mode::Normal,
            inventory: InventoryState::default(),
            jobs: JobsState {
                follow_newest: true,
                ..JobsState::default()
            },
            chat: ChatState::default(),
            toast: None,
            theme_name: theme.name.clone(),
            color_depth: depth,
            styles: Styles::new(&theme.palette_for(depth), depth),
            now_ms: crate::model::now_ms(),
            latest_reads: HashMap::new(),
            deploy: DeployState::default(),
            compliance: ComplianceState::default(),
            cost: CostState::default(),
            waiting: Default::default(),
            quiet: false,
            quit: false,
        }
    }

    pub fn read_only(&self) -> bool {
        self.gate.latch().is_engaged()
    }

    /// The session's environment: config mapping first, `--env` only where config is silent.
    pub fn environment(&self) -> Environment {
        let account = self.session.identity.as_ref().map(|i| i.account.clone());
        self.environment_of(account.as_deref())
    }

    pub fn environment_of(&self, account: Option<&str>) -> Environment {
        crate::setup::environment_of(
            &self.config,
            account,
            self.session.profile.as_deref(),
            self.session.env_override,
        )
    }

    /// Past jobs from the store, shown before anything new runs.
    /// The app loop submitted a read for `view` as job `job`: only its result will be shown.
    pub fn read_submitted(&mut self, view: ViewKey, job: JobId) {
        self.latest_reads.insert(view, job);
    }

    pub fn load_history(&mut self, records: Vec<JobRecord>) {
        self.jobs.records = records;
        self.jobs.refilter();
    }

    /// The reads to run when the console opens.
    pub fn initial_commands(&mut self) -> Vec<Cmd> {
        let mut cmds = vec![Cmd::Read(ReadOp::WhoAmI)];
        cmds.extend(crate::cfn::tui::refresh_stacks(self));
        // The user's policies and waivers load off the UI thread; the library is judged then.
        cmds.push(Cmd::LoadChecker);
        // The price catalogue and usage file, likewise.
        cmds.extend(crate::cost::tui::initial_commands(self));
        cmds
    }

    pub(crate) fn toast(&mut self, level: ToastLevel, text: impl Into<String>) {
        self.toast = Some(Toast {
            level,
            text: text.into(),
        });
    }

    /// Key contexts in lookup order for the current focus.
    pub fn contexts(&self) -> Vec<Context> {
        match self.focus {
            Pane::Chat => vec![Context::Chat],
            Pane::Inventory if self.inventory.detail.is_some() => {
                vec![Context::StackDetail, Context::List, Context::Global]
            }
            Pane::Inventory => vec![Context::Inventory, Context::List, Context::Global],
            Pane::Jobs if self.jobs.log_open => {
                vec![Context::JobLog, Context::List, Context::Global]
            }
            Pane::Jobs => vec![Context::Jobs, Context::List, Context::Global],
            Pane::Compliance => vec![Context::Compliance, Context::List, Context::Global],
            Pane::Cost => vec![Context::Cost, Context::List, Context::Global],
        }
    }

    /// Refuse a change before anything is built, in read-only mode. The reason is shown.
    pub(crate) fn refused_read_only(&mut self, what: &str) -> bool {
        if !self.read_only() {
            return false;
        }
        let reason = self.gate.latch().reason().unwrap_or_default();
        let audited = self
            .gate
            .refuse_before_request("create-change-set", what)
            .err()
            .map(|e| format!("; the audit log could not record it: {e}"))
            .unwrap_or_default();
        self.toast(
            ToastLevel::Error,
            format!("read-only: {what} refused ({reason}){audited}"),
        );
        true
    }

    /// Show the gate's confirmation for `request`.
    pub(crate) fn open_confirm(&mut self, request: ConfirmRequest) {
        self.mode = Mode::Confirm(ConfirmDialog::new(request));
    }
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Cmd> {
    state.quiet = false;
    let mut cmds = dispatch(state, msg);
    // The Cost pane fetches what it lacks the first time it has focus.
    if state.focus == Pane::Cost && !state.quiet {
        cmds.extend(crate::cost::tui::on_focus(state));
    }
    // Quitting waited only for the jobs that were running: once they are done, quit.
    if matches!(state.mode, Mode::QuitConfirm) && state.jobs.running() == 0 {
        state.quit = true;
    }
    // A confirmation or form planned while another dialog or form was open waits for it to
    // close (a change set computed while the person types elsewhere, say).
    if matches!(state.mode, Mode::Normal)
        && let Some(next) = state.waiting.pop_front()
    {
        state.quiet = false;
        open_waiting(state, next);
    }
    cmds
}

fn open_waiting(state: &mut State, next: Waiting) {
    match next {
        Waiting::Confirm(op) => match state.gate.request(op) {
            Ok(request) => state.open_confirm(request),
            Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
        },
        Waiting::Form(form) => state.mode = Mode::Form(form),
    }
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Planned(Planned::Cfn(result)) => crate::cfn::tui::flows::planned(state, result),
        Msg::Planned(Planned::Cost(result)) => crate::cost::tui::planned(state, result),
        Msg::Cost(msg) => crate::cost::tui::on_msg(state, msg),
        Msg::Key(key) => on_key(state, key),
        Msg::Engine(event) => on_engine(state, event),
        Msg::Tick { now_ms } => {
            state.now_ms = now_ms;
            // Only running jobs' durations move with time.
            state.quiet = state.jobs.running() == 0;
            crate::cfn::tui::periodic_refresh(state)
        }
        Msg::Resize => Vec::new(),
        Msg::ThemeLoaded(Ok(theme)) => {
            state.styles = Styles::new(&theme.palette_for(state.color_depth), state.color_depth);
            state.theme_name = theme.name.clone();
            state.toast(ToastLevel::Info, format!("theme {}", theme.name));
            Vec::new()
        }
        Msg::ThemeLoaded(Err(e)) => {
            state.toast(ToastLevel::Error, e);
            Vec::new()
        }
        Msg::SearchDone { job, needle, found } => {
            jobs::search_done(state, job, needle, found);
            Vec::new()
        }
        Msg::PastLogOpened(Ok(handle)) => {
            state.jobs.handles.insert(handle.id, handle);
            Vec::new()
        }
        Msg::PastLogOpened(Err(e)) => {
            state.toast(ToastLevel::Error, e);
            Vec::new()
        }
        Msg::Terminate(why) => {
            state.toast(ToastLevel::Warn, why);
            state.quit = true;
            vec![Cmd::Quit]
        }
        Msg::CheckerLoaded(checker) => compliance::checker_loaded(state, checker),
        Msg::LibraryJudged(judged) => {
            compliance::library_judged(state, *judged);
            Vec::new()
        }
        Msg::ExportDone(Ok(path)) => {
            state.toast(
                ToastLevel::Info,
                format!("report written to {}", path.display()),
            );
            Vec::new()
        }
        Msg::ExportDone(Err(e)) => {
            state.toast(ToastLevel::Error, format!("export failed: {e}"));
            Vec::new()
        }
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    // Any key dismisses a toast (it stays in the Jobs logs where it matters).
    state.toast = None;
    match std::mem::replace(&mut state.mode, Mode::Normal) {
        Mode::Normal => on_normal_key(state, key),
        Mode::Command(mut input) => match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => shell::run_command(state, input.text().trim()),
            _ => {
                input.handle(key);
                state.mode = Mode::Command(input);
                Vec::new()
            }
        },
        Mode::Filter(mut input) => {
            match key.code {
                KeyCode::Esc => shell::set_filter(state, ""),
                KeyCode::Enter => {
                    if state.focus == Pane::Jobs && state.jobs.log_open {
                        return jobs::search_log(state, input.text());
                    }
                }
                _ => {
                    input.handle(key);
                    if !(state.focus == Pane::Jobs && state.jobs.log_open) {
                        shell::set_filter(state, input.text());
                    }
                    state.mode = Mode::Filter(input);
                }
            }
            Vec::new()
        }
        Mode::Help { scroll } => {
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') => {}
                KeyCode::Char('j') | KeyCode::Down => {
                    state.mode = Mode::Help {
                        scroll: scroll.saturating_add(1).min(shell::help_lines()),
                    }
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    state.mode = Mode::Help {
                        scroll: scroll.saturating_sub(1),
                    }
                }
                _ => state.mode = Mode::Help { scroll },
            }
            Vec::new()
        }
        Mode::QuitConfirm => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                state.quit = true;
                vec![Cmd::Quit]
            }
            _ => Vec::new(),
        },
        Mode::Confirm(open) => dialog::on_dialog_key(state, open, key),
        Mode::Picker(picker) => deploy::on_picker_key(state, picker, key),
        Mode::Form(form) => deploy::on_form_key(state, form, key),
        Mode::Export { selected } => compliance::on_export_key(state, selected, key),
    }
}

fn on_normal_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    match shell::lookup(state, &key) {
        Some(action) => apply(state, action, &[]),
        None if state.focus == Pane::Chat => chat::on_chat_key(state, key),
        None => Vec::new(),
    }
}

/// Do what `action` means, from a key (no `args`) or a command (its words).
pub fn apply(state: &mut State, action: Action, args: &[&str]) -> Vec<Cmd> {
    match action {
        Action::Shell(a) => shell::apply(state, a, args),
        Action::Jobs(a) => jobs::apply(state, a, args),
        Action::Cfn(a) => crate::cfn::actions::apply(state, a, args),
        Action::Compliance(a) => crate::compliance::actions::apply(state, a, args),
        Action::Cost(a) => crate::cost::actions::apply(state, a, args),
    }
}

fn on_engine(state: &mut State, event: EngineEvent) -> Vec<Cmd> {
    match event {
        EngineEvent::CloudReady { region } => {
            if state.session.region.is_none() {
                state.session.region = region;
            }
            if state.session.region.is_none() {
                state.toast(
                    ToastLevel::Warn,
                    "no AWS region configured: use --region or AWS_REGION",
                );
            }
        }
        EngineEvent::JobCreated { record, handle } => {
            state.jobs.handles.insert(record.id, handle);
            if record.kind == crate::model::JobKind::Mutation {
                state.focus = Pane::Jobs;
                state.jobs.log_open = false;
                state.jobs.filter.clear();
            }
            let mutation = record.kind == crate::model::JobKind::Mutation;
            let id = record.id;
            state.jobs.upsert(record);
            if mutation
                && let Some(pos) = state
                    .jobs
                    .visible
                    .iter()
                    .position(|&i| state.jobs.records[i].id == id)
            {
                // Keep the change in view while the reads it triggers arrive.
                state.jobs.selected = pos;
                state.jobs.follow_newest = false;
            }
        }
        EngineEvent::JobChanged(record) => state.jobs.upsert(record),
        EngineEvent::LogGrew(id) => {
            if let Some(handle) = state.jobs.handles.get(&id) {
                handle.notified.store(false, Ordering::Release);
            }
        }
        EngineEvent::ReadDone { job, key, result } => {
            // Drift checks and follows of different stacks run side by side, and their
            // results name their stack: each is kept. Other views show only the latest read.
            let view = key.as_deref().and_then(ViewKey::from_key);
            if let Some(view) = view
                && state.latest_reads.get(&view) != Some(&job)
            {
                state.quiet = true;
                return Vec::new();
            }
            return on_read(state, view, result, job < 0);
        }
        EngineEvent::MutationDone { job, op, result } => {
            return match *op {
                MutatingOp::Cfn(m) => crate::cfn::tui::mutation_done(state, job, &m, result),
                MutatingOp::Cost(m) => crate::cost::tui::mutation_done(state, job, &m, result),
            };
        }
    }
    Vec::new()
}

fn on_read(
    state: &mut State,
    view: Option<ViewKey>,
    result: Result<ReadOutput, crate::engine::ports::ProviderError>,
    background: bool,
) -> Vec<Cmd> {
    match result {
        Ok(ReadOutput::Identity(identity)) => {
            let role = crate::setup::identity_resolved(
                &state.config,
                &mut state.gate,
                &state.session.os_user,
                &identity.arn,
            );
            state.session.role = Some(role);
            state.session.identity = Some(identity);
            state.session.identity_error = None;
            return crate::cost::tui::identity_known(state);
        }
        Ok(ReadOutput::Cfn(output)) => return crate::cfn::tui::on_read(state, output, background),
        Ok(ReadOutput::Cost(output)) => return crate::cost::tui::on_read(state, output),
        Err(e) => {
            let text = e.to_string();
            // The error goes to the view whose read failed.
            match view {
                Some(ViewKey::Identity) => state.session.identity_error = Some(text.clone()),
                Some(ViewKey::Cfn(view)) => crate::cfn::tui::read_failed(state, view, &e),
                Some(ViewKey::Cost(view)) => crate::cost::tui::read_failed(state, view, &e),
                None => {}
            }
            // Missing credentials make every read fail: say so where the account is shown.
            if state.session.identity.is_none()
                && e.kind == crate::engine::ports::ErrorKind::Credentials
            {
                state.session.identity_error = Some(text.clone());
            }
            if e.kind != crate::engine::ports::ErrorKind::Cancelled {
                state.toast(ToastLevel::Error, text);
            }
        }
    }
    Vec::new()
}
