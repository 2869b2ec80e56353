//! The console's state and its one pure update function:
//! `update(&mut State, Msg) -> Vec<Cmd>`. No I/O here except through the gate's audit sink;
//! effects are returned as [`Cmd`]s for the app loop to run.
//!
//! The shell's own state lives here (session, focus, modes, the dialog, toasts); each pane's
//! state lives with its capability (`cfn::tui::InventoryState`, `compliance::tui`, …) or
//! beside this file (`jobs`, `chat`). Keys go through the registry to each capability's
//! `apply`; engine results go to the capability whose operation they answer.
//!
//! Over 800 lines because it is the shell's one update function: every key, engine result and
//! dialog step passes through it once; the panes' own logic is in their capability folders.

use crate::cfn::tui::deploy::{self, DeployState, TemplatePicker};
use crate::cfn::tui::form::DeployForm;
use crate::cfn::tui::{CfnView, InventoryState};
use crate::compliance::tui::{self as compliance, ComplianceState};
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::cost::tui::{CostState, CostView};
use crate::engine::stream::{StreamItem, StreamUpdates};
use crate::engine::task::JobHandle;
use crate::engine::{EngineEvent, ReadOutput};
use crate::kube::tui::{KubeState, KubeView};
use crate::model::{CallerIdentity, Environment, JobId, JobRecord, Role};
use crate::ops::{Approved, ConfirmRequest, Gate, MutatingOp, ReadOp};
use crate::registry::{Action, Context, Pane};
use crate::tui::input::LineInput;
use crate::tui::styles::Styles;
use crate::tui::{dialog, jobs, shell};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use crate::assistant::tui::ChatState;
pub use crate::tui::dialog::{ConfirmDialog, DialogFocus};
pub use crate::tui::jobs::{JobsState, LogView};

/// Which part of the screen a read feeds. The app submits a read with its view's name as the
/// engine's supersede key, so a newer read for the same view cancels the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKey {
    Identity,
    Cfn(CfnView),
    /// Installer preflights: answered to the plan that asked.
    Installers,
    Kube(KubeView),
    Cost(CostView),
}

impl ViewKey {
    pub fn of(op: &ReadOp) -> ViewKey {
        match op {
            ReadOp::WhoAmI => ViewKey::Identity,
            ReadOp::Cfn(r) => ViewKey::Cfn(CfnView::of(r)),
            ReadOp::Install(_) => ViewKey::Installers,
            ReadOp::Kube(r) => ViewKey::Kube(KubeView::of(r)),
            ReadOp::Cost(r) => ViewKey::Cost(CostView::of(r)),
        }
    }

    /// The engine's supersede key for a read feeding this view, if only the latest counts.
    pub fn supersede_key(self) -> Option<String> {
        match self {
            ViewKey::Identity => Some("identity".into()),
            ViewKey::Cfn(v) => v.supersede_key().map(|k| format!("cfn:{k}")),
            ViewKey::Installers => None,
            ViewKey::Kube(v) => v.supersede_key().map(|k| format!("kube:{k}")),
            ViewKey::Cost(v) => Some(format!("cost:{}", v.supersede_key())),
        }
    }

    /// The view a finished read fed, from the key it was submitted with.
    pub fn from_key(key: &str) -> Option<ViewKey> {
        if key == "identity" {
            return Some(ViewKey::Identity);
        }
        if let Some(key) = key.strip_prefix("kube:") {
            return KubeView::from_key(key).map(ViewKey::Kube);
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
// One value per request, moved once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Flow {
    /// A registry action's own plan (`ActionSpec::plan`) with these arguments: what
    /// `opsdeck run` and the assistant run too.
    Action {
        action: Action,
        args: serde_json::Value,
    },
    Cfn(crate::cfn::tui::flows::CfnFlow),
    Install(crate::installers::tui::InstallFlow),
    Kube(crate::kube::tui::flows::KubeFlow),
    Cost(crate::cost::tui::CostFlow),
}

/// A flow's outcome (`Msg::Planned`).
// One value per request, moved once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Planned {
    Action(Result<crate::ops::Op, crate::ops::PlanError>),
    Cfn(Result<crate::cfn::tui::flows::CfnPlanned, crate::ops::PlanError>),
    Install(Result<crate::installers::tui::InstallPlanned, crate::ops::PlanError>),
    Kube(Result<crate::kube::tui::flows::KubePlanned, crate::ops::PlanError>),
    Cost(Result<crate::cost::tui::CostPlanned, crate::ops::PlanError>),
}

/// Plan `action` with `args` off the UI thread; its confirmation (or its read) follows.
pub fn plan_action(state: &mut State, action: Action, args: serde_json::Value) -> Vec<Cmd> {
    state.toast(
        ToastLevel::Info,
        format!("{}: resolving what it would do…", action.spec().id),
    );
    vec![Cmd::Plan(Flow::Action { action, args })]
}

/// What waits for the open dialog or form to close: a planned operation's confirmation, a
/// computed change set's review, or a form a flow prepared.
// The form is boxed; an operation is as large as it is, and rarely more than one waits.
#[allow(clippy::large_enum_variant)]
pub enum Waiting {
    Confirm(MutatingOp),
    Form(Box<DeployForm>),
    /// A change the assistant proposed (`proposal` names it to the turn that waits).
    Proposal {
        proposal: u64,
        op: MutatingOp,
    },
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
    /// The terminal's new size (columns, rows).
    Resize {
        width: u16,
        height: u16,
    },
    /// Lines of a job's log read back from its spill file (`Cmd::ReadLogWindow`).
    LogWindowRead(Result<crate::tui::jobs::LogWindow, String>),
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
    /// A deployed stack's template was judged (off the UI thread).
    StackJudged(Box<crate::compliance::tui::JudgedReport>),
    /// The template of a deploy the form asked for was judged (off the UI thread): ask the
    /// gate now. `id` names the request it belongs to.
    DeployJudged {
        id: u64,
        verdict: crate::cfn::ops::ComplianceVerdict,
    },
    CheckerLoaded(crate::compliance::tui::SharedChecker),
    /// A report export was written (or not).
    ExportDone(Result<std::path::PathBuf, String>),
    /// A job's log was saved to a file: where, and how many lines (or why not).
    LogSaved(Result<(std::path::PathBuf, u64), String>),
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
    /// A stream still has updates waiting: wake the loop for them again.
    DrainStream(JobId),
    /// Read lines `start..start+count` of a job's log back from its spill file (off the UI
    /// thread); they come back as `Msg::LogWindowRead`.
    ReadLogWindow {
        handle: JobHandle,
        start: u64,
        count: usize,
    },
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
    /// Write every line of a job's log to `file` (else the data dir's `logs/`), off the UI
    /// thread; the answer comes back as `Msg::LogSaved`.
    SaveLog {
        handle: JobHandle,
        file: Option<std::path::PathBuf>,
    },
    /// Judge every library template with this checker, off the UI thread.
    CheckLibrary(crate::compliance::tui::SharedChecker),
    /// Judge one deployed stack's template, off the UI thread; answers `Msg::StackJudged`.
    JudgeStack(Box<crate::compliance::tui::StackJudgement>),
    /// Judge a deploy's template with its parameters, off the UI thread; answers
    /// `Msg::DeployJudged` with the same id. No rule is ever evaluated on the update loop.
    JudgeDeploy(Box<crate::cfn::tui::deploy::DeployJudgement>),
    /// Load the user's policies and waivers (files) off the UI thread.
    LoadChecker(crate::config::ComplianceSettings),
    /// The assistant: start a turn, or forget the saved history (see `assistant::tui`).
    Assistant(crate::assistant::tui::AssistantCmd),
    /// Point the engine's clients at another region (`:region`).
    SetRegion(String),
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
    /// What kind of problem that is, for the status bar.
    pub identity_problem: Option<IdentityProblem>,
    /// A GetCallerIdentity is on its way.
    pub identity_pending: bool,
    /// GetCallerIdentity failures in a row; the next try waits longer after each.
    pub identity_failures: u32,
    /// When to ask STS again while the identity is unknown (ms since the epoch).
    pub identity_retry_ms: i64,
    pub role: Option<Role>,
    /// `--env`: used when config maps neither the account nor the profile.
    pub env_override: Option<Environment>,
    /// `--kubeconfig` and `--context`.
    pub kube: crate::kube::KubeSettings,
}

/// Why STS could not say who the person is: told apart, because each has its own remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProblem {
    /// No credentials were found on this host.
    NoCredentials,
    /// The endpoint could not be reached (refused, reset, no answer).
    Unreachable,
    /// STS answered and refused: access denied, or an expired or invalid token.
    Refused,
    /// STS answered with throttling or a server error, or something else went wrong.
    Failing,
}

impl IdentityProblem {
    pub fn of(e: &crate::engine::ports::ProviderError) -> IdentityProblem {
        use crate::engine::ports::ErrorKind;
        match e.kind {
            ErrorKind::Credentials if e.credentials_refused() => IdentityProblem::Refused,
            ErrorKind::Credentials => IdentityProblem::NoCredentials,
            ErrorKind::AccessDenied => IdentityProblem::Refused,
            ErrorKind::Network => IdentityProblem::Unreachable,
            _ => IdentityProblem::Failing,
        }
    }

    /// The status bar's words.
    pub fn label(self) -> &'static str {
        match self {
            IdentityProblem::NoCredentials => "no AWS credentials",
            IdentityProblem::Unreachable => "AWS unreachable",
            IdentityProblem::Refused => "STS refused the credentials",
            IdentityProblem::Failing => "STS failing",
        }
    }
}

/// Pause before asking STS again after `failures` failures in a row: 5 s, doubling, at most
/// 5 minutes; it goes on at that pace until STS answers (`r` asks at once).
pub fn identity_retry_delay_ms(failures: u32) -> i64 {
    crate::engine::retry::Backoff {
        base: std::time::Duration::from_secs(5),
        max: std::time::Duration::from_secs(300),
    }
    .delay(failures.max(1))
    .as_millis() as i64
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
    /// The installers' list, form or target picker.
    Installers(crate::installers::tui::InstallMode),
    /// Kubernetes' replica field or container picker.
    Kube(crate::kube::tui::prompt::KubePrompt),
}

pub struct State {
    pub session: Session,
    pub config: Arc<Config>,
    pub gate: Gate,
    pub focus: Pane,
    pub zoomed: bool,
    pub mode: Mode,
    pub inventory: InventoryState,
    /// Kubernetes in the Inventory pane (when it lists Kubernetes instead of stacks).
    pub kube: KubeState,
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
    pub installers: crate::installers::tui::InstallersState,
    pub cost: CostState,
    /// Confirmations and forms waiting for the open dialog or form to close, oldest first.
    pub waiting: std::collections::VecDeque<Waiting>,
    /// Streaming jobs' updates, drained at the console's pace.
    pub streams: HashMap<JobId, StreamUpdates>,
    /// The terminal's size (columns, rows), so the state knows what the view will show.
    pub term_size: (u16, u16),
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

    fn kube_environment(&self, context: &str, cluster: &str) -> Environment {
        crate::setup::kube_environment_of(&self.config, context, cluster, self.session.env_override)
    }

    fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
        self.kube.context.clone().or_else(|| {
            self.session
                .kube
                .context
                .clone()
                .map(crate::kube::model::ContextRef::kubeconfig)
        })
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
            kube: KubeState::default(),
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
            installers: Default::default(),
            cost: CostState::default(),
            waiting: Default::default(),
            streams: HashMap::new(),
            term_size: (80, 24),
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
        if let ViewKey::Kube(view) = view {
            crate::kube::tui::read_submitted(self, view, job);
        }
    }

    pub fn load_history(&mut self, records: Vec<JobRecord>) {
        self.jobs.records = records;
        self.jobs.refilter();
    }

    /// The reads to run when the console opens.
    pub fn initial_commands(&mut self) -> Vec<Cmd> {
        let mut cmds = self.ask_identity();
        cmds.extend(crate::cfn::tui::refresh_stacks(self));
        // `--context`/`--kubeconfig` given: the pods view at once.
        cmds.extend(crate::kube::tui::initial_commands(self));
        // The user's policies and waivers load off the UI thread; the library is judged then.
        cmds.push(Cmd::LoadChecker(self.config.compliance));
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

    /// Ask STS who we are (now).
    pub(crate) fn ask_identity(&mut self) -> Vec<Cmd> {
        self.session.identity_pending = true;
        vec![Cmd::Read(ReadOp::WhoAmI)]
    }

    /// While STS has not answered: ask again when the backoff is over, quietly (no job row
    /// per try, so the Jobs pane is not buried).
    fn retry_identity(&mut self) -> Vec<Cmd> {
        let s = &self.session;
        if s.identity.is_some()
            || s.identity_pending
            || s.identity_retry_ms == 0
            || self.now_ms < s.identity_retry_ms
        {
            return Vec::new();
        }
        self.session.identity_pending = true;
        vec![Cmd::Refresh(ReadOp::WhoAmI)]
    }

    /// Key contexts in lookup order for the current focus.
    pub fn contexts(&self) -> Vec<Context> {
        match self.focus {
            Pane::Chat if self.chat.answering.is_some() => {
                vec![Context::ChatAnswering, Context::Chat]
            }
            Pane::Chat => vec![Context::Chat],
            Pane::Inventory if self.kube.shown && self.kube.detail.is_some() => {
                vec![Context::KubeDetail, Context::List, Context::Global]
            }
            Pane::Inventory if self.kube.shown => {
                vec![Context::Kube, Context::List, Context::Global]
            }
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

    /// Refuse a change before anything is built (say before its form opens), in read-only
    /// mode: the reason is shown, and the refusal audited under `operation`, the id of the
    /// operation it would have become.
    pub(crate) fn refused_read_only(&mut self, operation: &'static str, what: &str) -> bool {
        if !self.read_only() {
            return false;
        }
        let reason = self.gate.latch().reason().unwrap_or_default();
        let audited = self
            .gate
            .refuse_before_request(operation, what)
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
    let focus_before = state.focus;
    let mut cmds = dispatch(state, msg);
    // Opening the Cost pane reads the assistant's usage again.
    if state.focus == Pane::Cost && focus_before != Pane::Cost {
        cmds.extend(crate::cost::tui::refresh_assistant_usage());
    }
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
        Waiting::Proposal { proposal, op } => {
            let origin = format!("proposed by the assistant ({})", state.chat.model_label());
            match state.gate.request_from(op, &origin) {
                Ok(request) => {
                    crate::assistant::tui::proposal_opened(state, proposal, request.id);
                    state.open_confirm(request);
                }
                Err(refusal) => {
                    let why = refusal.to_string();
                    state.toast(ToastLevel::Error, format!("refused: {why}"));
                    crate::assistant::tui::proposal_refused(state, proposal, why);
                }
            }
        }
    }
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Planned(Planned::Cfn(result)) => crate::cfn::tui::flows::planned(state, result),
        Msg::Planned(Planned::Action(result)) => match result {
            Ok(crate::ops::Op::Mutate(op)) => {
                state.toast = None;
                state.waiting.push_back(Waiting::Confirm(op));
                Vec::new()
            }
            Ok(crate::ops::Op::Read(op)) => {
                state.toast = None;
                vec![Cmd::Read(op)]
            }
            Err(e) => {
                state.toast(ToastLevel::Error, e.to_string());
                Vec::new()
            }
        },
        Msg::Planned(Planned::Install(result)) => crate::installers::tui::planned(state, result),
        Msg::Planned(Planned::Kube(result)) => crate::kube::tui::flows::planned(state, result),
        Msg::Planned(Planned::Cost(result)) => crate::cost::tui::planned(state, result),
        Msg::Cost(msg) => crate::cost::tui::on_msg(state, msg),
        Msg::Key(key) => on_key(state, key),
        Msg::Engine(event) => on_engine(state, event),
        Msg::Tick { now_ms } => {
            state.now_ms = now_ms;
            // Only running jobs' durations move with time.
            state.quiet = state.jobs.running() == 0;
            let mut cmds = state.retry_identity();
            cmds.extend(crate::cfn::tui::periodic_refresh(state));
            cmds
        }
        Msg::Resize { width, height } => {
            state.term_size = (width, height);
            jobs::read_window_if_needed(state)
        }
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
        Msg::SearchDone { job, needle, found } => jobs::search_done(state, job, needle, found),
        Msg::LogWindowRead(window) => {
            jobs::window_read(state, window);
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
        Msg::StackJudged(judged) => {
            compliance::stack_judged(state, *judged);
            Vec::new()
        }
        Msg::DeployJudged { id, verdict } => deploy::judged(state, id, verdict),
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
        Msg::LogSaved(Ok((path, lines))) => {
            state.toast(
                ToastLevel::Info,
                format!("{lines} lines saved to {}", path.display()),
            );
            Vec::new()
        }
        Msg::LogSaved(Err(e)) => {
            state.toast(ToastLevel::Error, format!("the log was not saved: {e}"));
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
        Mode::Installers(mode) => crate::installers::tui::on_key(state, mode, key),
        Mode::Kube(prompt) => crate::kube::tui::prompt::on_key(state, prompt, key),
    }
}

fn on_normal_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    match shell::lookup(state, &key) {
        Some(action) => apply(state, action, &[]),
        None if state.focus == Pane::Chat => {
            state.chat.input.input(key);
            Vec::new()
        }
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
        Action::Install(a) => crate::installers::actions::apply(state, a, args),
        Action::Kube(a) => crate::kube::actions::apply(state, a, args),
        Action::Cost(a) => crate::cost::actions::apply(state, a, args),
        Action::Assistant(a) => crate::assistant::actions::apply(state, a, args),
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
            // A change takes the Jobs pane; the jobs of its targets join it there without
            // taking the selection from it.
            let mutation =
                record.kind == crate::model::JobKind::Mutation && record.parent.is_none();
            if mutation {
                state.focus = Pane::Jobs;
                state.jobs.log_open = false;
                state.jobs.filter.clear();
            }
            let id = record.id;
            state.jobs.upsert(record);
            // A log follow just asked for: its log, live, in Jobs.
            if state.jobs.reveal == Some(id) {
                jobs::reveal(state, id);
            }
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
        EngineEvent::StreamOpened(updates) => {
            state.streams.insert(updates.job, updates);
        }
        EngineEvent::StreamReady(job) => return drain_stream(state, job, STREAM_BUDGET),
        EngineEvent::LogGrew(id) => {
            if let Some(handle) = state.jobs.handles.get(&id) {
                handle.notified.store(false, Ordering::Release);
            }
            // A log scrolled back may see its lines leave the ring as new ones arrive.
            return jobs::read_window_if_needed(state);
        }
        EngineEvent::ReadDone { job, key, result } => {
            // A stream's task has ended: what it sent before is all in its channel.
            drain_stream(state, job, usize::MAX);
            state.streams.remove(&job);
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
        EngineEvent::TaskDone { job, result } => {
            drain_stream(state, job, usize::MAX);
            state.streams.remove(&job);
            let turn = state
                .chat
                .answering
                .as_ref()
                .is_some_and(|a| a.job == Some(job));
            crate::assistant::tui::task_done(state, job, result);
            // A turn's usage is in the job store now: the Cost pane shows it.
            if turn {
                return crate::cost::tui::refresh_assistant_usage();
            }
        }
        EngineEvent::MutationDone { job, op, result } => {
            return match *op {
                MutatingOp::Cfn(m) => crate::cfn::tui::mutation_done(state, job, &m, result),
                MutatingOp::Install(m) => {
                    crate::installers::tui::mutation_done(state, job, &m, result)
                }
                MutatingOp::Kube(m) => crate::kube::tui::mutation_done(state, job, &m, result),
                MutatingOp::Cost(m) => crate::cost::tui::mutation_done(state, job, &m, result),
            };
        }
    }
    Vec::new()
}

/// Updates folded into the state per wake-up of one stream; the rest wait for the next turn
/// of the loop, so keys are answered in between.
const STREAM_BUDGET: usize = 2_000;

/// Fold up to `budget` waiting updates of a stream into the state; ask to be woken again when
/// more wait.
fn drain_stream(state: &mut State, job: JobId, budget: usize) -> Vec<Cmd> {
    let Some(updates) = state.streams.get_mut(&job) else {
        return Vec::new();
    };
    let items = updates.drain(budget);
    let more = updates.has_more();
    let mut shown = false;
    let mut kube = false;
    for item in items {
        shown |= match item {
            StreamItem::CfnEvent { stack_id, event } => {
                crate::cfn::tui::on_stack_event(state, &stack_id, *event)
            }
            StreamItem::Kube(update) => {
                kube = true;
                crate::kube::tui::on_update(state, job, *update)
            }
            StreamItem::Assistant(update) => crate::assistant::tui::on_update(state, job, update),
        };
    }
    // A batch of rows: the list's order and filter once, not per row.
    if kube {
        crate::kube::tui::settle(state);
    }
    // Updates of nothing on screen draw nothing.
    state.quiet |= !shown;
    if more {
        vec![Cmd::DrainStream(job)]
    } else {
        Vec::new()
    }
}

fn on_read(
    state: &mut State,
    view: Option<ViewKey>,
    result: Result<ReadOutput, crate::engine::ports::ProviderError>,
    background: bool,
) -> Vec<Cmd> {
    match result {
        Ok(ReadOutput::Identity(identity)) => {
            let role = state
                .config
                .role_for(&state.session.os_user, Some(&identity.arn))
                .role();
            state.gate.identity_resolved(identity.arn.clone(), role);
            state.session.role = Some(role);
            state.session.identity = Some(identity);
            state.session.identity_error = None;
            state.session.identity_problem = None;
            state.session.identity_pending = false;
            state.session.identity_failures = 0;
            state.session.identity_retry_ms = 0;
            return crate::cost::tui::identity_known(state);
        }
        Ok(ReadOutput::Cfn(output)) => return crate::cfn::tui::on_read(state, output, background),
        // Preflights answer the plan that asked for them, never the screen.
        Ok(ReadOutput::Install(_)) => {}
        Ok(ReadOutput::Kube(output)) => return crate::kube::tui::on_read(state, output),
        Ok(ReadOutput::Cost(output)) => return crate::cost::tui::on_read(state, output),
        Err(e) => {
            let text = e.to_string();
            // The error goes to the view whose read failed.
            match view {
                Some(ViewKey::Identity) => {
                    let session = &mut state.session;
                    session.identity_pending = false;
                    if e.kind != crate::engine::ports::ErrorKind::Cancelled {
                        session.identity_error = Some(text.clone());
                        session.identity_problem = Some(IdentityProblem::of(&e));
                        session.identity_failures += 1;
                        session.identity_retry_ms =
                            state.now_ms + identity_retry_delay_ms(session.identity_failures);
                    }
                }
                Some(ViewKey::Cfn(view)) => crate::cfn::tui::read_failed(state, view, &e),
                Some(ViewKey::Kube(view)) => crate::kube::tui::read_failed(state, view, &e),
                Some(ViewKey::Cost(view)) => crate::cost::tui::read_failed(state, view, &e),
                Some(ViewKey::Installers) | None => {}
            }
            // Missing credentials make every read fail: say so where the account is shown.
            if state.session.identity.is_none()
                && e.kind == crate::engine::ports::ErrorKind::Credentials
            {
                state.session.identity_error = Some(text.clone());
                state.session.identity_problem = Some(IdentityProblem::of(&e));
            }
            if e.kind != crate::engine::ports::ErrorKind::Cancelled {
                state.toast(ToastLevel::Error, text);
            }
        }
    }
    Vec::new()
}
