//! The console's state and its one pure update function:
//! `update(&mut State, Msg) -> Vec<Cmd>`. No I/O here except through the gate's audit sink;
//! effects are returned as [`Cmd`]s for the app loop to run.

use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::task::JobHandle;
use crate::engine::{EngineEvent, MutationOutput, ReadOutput, ViewKey};
use crate::model::{
    CallerIdentity, ChangeSetOutcome, Environment, JobId, JobRecord, Role, StackDetail, StackDrift,
    StackSummary,
};
use crate::ops::{
    Approved, ConfirmError, ConfirmRequest, Gate, MutatingOp, ReadOp, ReadScope, RiskTier,
};
use crate::tui::compliance::{self, ComplianceState};
use crate::tui::deploy::{self, DeployState, TemplatePicker};
use crate::tui::form::DeployForm;
use crate::tui::input::LineInput;
use crate::tui::keymap::{self, Action, Context, Pane};
use crate::tui::stack_actions;
use crate::tui::styles::Styles;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
    /// SIGTERM / SIGHUP: leave now, no questions.
    Terminate(&'static str),
    /// The template library was judged (off the UI thread).
    LibraryJudged(Box<crate::tui::compliance::JudgedReport>),
    /// A deployed stack's template was judged (off the UI thread).
    StackJudged(Box<crate::tui::compliance::JudgedReport>),
    /// The template of a deploy the form asked for was judged (off the UI thread): ask the
    /// gate now. `id` names the request it belongs to.
    DeployJudged {
        id: u64,
        verdict: crate::ops::ComplianceVerdict,
    },
    CheckerLoaded(crate::tui::compliance::SharedChecker),
    /// A report export was written (or not).
    ExportDone(Result<std::path::PathBuf, String>),
}

/// Effects for the app loop.
// A few short-lived values per update: boxing the approval would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Cmd {
    Read(ReadOp),
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
    CheckLibrary(crate::tui::compliance::SharedChecker),
    /// Judge one deployed stack's template, off the UI thread; answers `Msg::StackJudged`.
    JudgeStack(Box<crate::tui::compliance::StackJudgement>),
    /// Judge a deploy's template with its parameters, off the UI thread; answers
    /// `Msg::DeployJudged` with the same id. No rule is ever evaluated on the update loop.
    JudgeDeploy(Box<crate::tui::deploy::DeployJudgement>),
    /// Load the user's policies and waivers (files) off the UI thread.
    LoadChecker(crate::config::ComplianceSettings),
    /// Write the report to `data_dir/reports/report-<stamp>.<ext>`, off the UI thread.
    ExportReport {
        report: Box<crate::compliance::report::Report>,
        format: crate::compliance::export::Format,
        stamp: String,
    },
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
}

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
        match &self.request.op {
            MutatingOp::ExecuteChangeSet(e) => e.preview.changes.len(),
            MutatingOp::CreateChangeSet(c) => {
                c.parameters.len()
                    + 3 * (c.compliance.failures().len() + c.compliance.waived().len())
                    + 16
            }
            MutatingOp::DeleteStack(d) => d.retained.len() + 12,
            _ => 12,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailTab {
    Overview,
    Resources,
    Events,
    Outputs,
    Parameters,
    Drift,
}

impl DetailTab {
    pub const ALL: [DetailTab; 6] = [
        DetailTab::Overview,
        DetailTab::Resources,
        DetailTab::Events,
        DetailTab::Outputs,
        DetailTab::Parameters,
        DetailTab::Drift,
    ];

    pub fn title(self) -> &'static str {
        match self {
            DetailTab::Overview => "Overview",
            DetailTab::Resources => "Resources",
            DetailTab::Outputs => "Outputs",
            DetailTab::Parameters => "Parameters",
            DetailTab::Events => "Events",
            DetailTab::Drift => "Drift",
        }
    }

    /// For a narrow pane.
    pub fn short_title(self) -> &'static str {
        match self {
            DetailTab::Overview => "Info",
            DetailTab::Resources => "Res",
            DetailTab::Events => "Events",
            DetailTab::Outputs => "Out",
            DetailTab::Parameters => "Params",
            DetailTab::Drift => "Drift",
        }
    }
}

pub struct StackDetailView {
    pub stack: StackSummary,
    pub detail: Option<StackDetail>,
    pub error: Option<String>,
    pub tab: DetailTab,
    pub scroll: usize,
}

impl StackDetailView {
    pub fn new(stack: StackSummary) -> StackDetailView {
        StackDetailView {
            stack,
            detail: None,
            error: None,
            tab: DetailTab::Overview,
            scroll: 0,
        }
    }

    /// Rows the current section can scroll through, so scrolling stops at the last one.
    /// `drift` is this session's drift result for the stack, if any.
    pub fn rows(&self, drift: Option<&StackDrift>) -> usize {
        if self.tab == DetailTab::Drift {
            return drift.map_or(0, |d| {
                d.drifted()
                    .map(|r| 1 + 3 * r.differences.len())
                    .sum::<usize>()
                    + 2
            });
        }
        let Some(detail) = &self.detail else {
            return 0;
        };
        match self.tab {
            // name, status, id, created, updated, protection, contents, reason, description
            // … plus the re-create note and what a delete keeps
            DetailTab::Overview => 11,
            DetailTab::Resources => detail.resources.len(),
            DetailTab::Outputs => detail.outputs.len(),
            DetailTab::Parameters => detail.parameters.len(),
            DetailTab::Events => detail.events.len(),
            DetailTab::Drift => 0,
        }
    }
}

/// What the stack list is ordered by. Nested stacks always follow their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StackSort {
    #[default]
    Name,
    Status,
    /// Last update (or creation), newest first.
    Updated,
}

#[derive(Default)]
pub struct InventoryState {
    pub stacks: Vec<StackSummary>,
    pub loaded: bool,
    pub loading: bool,
    pub error: Option<String>,
    pub filter: String,
    /// Indices into `stacks` that pass the filter; recomputed only when either changes.
    pub visible: Vec<usize>,
    /// Nesting depth of each row of `visible` (0 for top-level stacks).
    pub depth: Vec<u8>,
    /// Position in `visible`.
    pub selected: usize,
    pub detail: Option<StackDetailView>,
    pub sort: StackSort,
    pub sort_reversed: bool,
    /// This session's drift results by stack id; fresher than `StackSummary::drift_status`.
    pub drift: HashMap<String, StackDrift>,
    /// A delete waiting for the stack's detail (what it retains, whether it is protected).
    pub pending_delete: Option<String>,
    /// When the next quiet refresh of the list is due (ms since the epoch).
    pub next_refresh_ms: i64,
    /// List refreshes that failed in a row; each one doubles the interval (up to 5 minutes),
    /// so a throttled or unreachable account is not polled harder.
    pub refresh_failures: u32,
}

impl InventoryState {
    pub(crate) fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        let mut matching: Vec<usize> = (0..self.stacks.len())
            .filter(|&i| {
                needle.is_empty()
                    || self.stacks[i].name.to_lowercase().contains(&needle)
                    || self.stacks[i].status.to_lowercase().contains(&needle)
            })
            .collect();
        let stacks = &self.stacks;
        matching.sort_by(|&a, &b| {
            let (a, b) = (&stacks[a], &stacks[b]);
            let order = match self.sort {
                StackSort::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                StackSort::Status => a.status.cmp(&b.status).then(a.name.cmp(&b.name)),
                StackSort::Updated => {
                    let when = |s: &StackSummary| s.updated.clone().or(s.created.clone());
                    when(b).cmp(&when(a)).then(a.name.cmp(&b.name))
                }
            };
            if self.sort_reversed {
                order.reverse()
            } else {
                order
            }
        });
        // Nested stacks under their parent (when the parent is listed), in the same order.
        let listed: std::collections::HashSet<&str> =
            matching.iter().map(|&i| stacks[i].id.as_str()).collect();
        let parent_listed = |i: usize| {
            stacks[i]
                .parent_id
                .as_deref()
                .is_some_and(|p| listed.contains(p))
        };
        // Children of each listed parent, in display order: one pass, so filtering 10,000
        // stacks stays linear.
        let mut children_of: HashMap<&str, Vec<usize>> = HashMap::new();
        for &c in matching.iter().rev() {
            if let Some(parent) = stacks[c].parent_id.as_deref()
                && listed.contains(parent)
            {
                children_of.entry(parent).or_default().push(c);
            }
        }
        let mut visible = Vec::with_capacity(matching.len());
        let mut depth = Vec::with_capacity(matching.len());
        let mut placed = vec![false; stacks.len()];
        let mut todo: Vec<(usize, u8)> = matching
            .iter()
            .rev()
            .filter(|&&i| !parent_listed(i))
            .map(|&i| (i, 0))
            .collect();
        while let Some((i, d)) = todo.pop() {
            if std::mem::replace(&mut placed[i], true) {
                continue;
            }
            visible.push(i);
            depth.push(d);
            if let Some(children) = children_of.get(stacks[i].id.as_str()) {
                todo.extend(children.iter().map(|&c| (c, d.saturating_add(1))));
            }
        }
        // A cycle of parents (never from AWS) would leave rows out: list them flat.
        for &i in &matching {
            if !placed[i] {
                visible.push(i);
                depth.push(0);
            }
        }
        self.visible = visible;
        self.depth = depth;
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    /// The drift status to show for a stack: this session's result, else CloudFormation's.
    pub fn drift_status<'a>(&'a self, stack: &'a StackSummary) -> Option<&'a str> {
        self.drift
            .get(&stack.id)
            .map(|d| d.status.as_str())
            .or(stack.drift_status.as_deref())
    }

    /// Whether any stack is being changed now. `REVIEW_IN_PROGRESS` (an empty stack waiting
    /// for its change set) is not: it may stay so for days.
    pub fn any_in_progress(&self) -> bool {
        self.stacks.iter().any(StackSummary::is_moving)
    }

    pub fn selected_stack(&self) -> Option<&StackSummary> {
        self.visible
            .get(self.selected)
            .and_then(|&i| self.stacks.get(i))
    }
}

pub struct LogView {
    pub follow: bool,
    /// First line shown when not following (seq).
    pub top: u64,
    pub search: Option<String>,
    pub matches: Vec<u64>,
    pub match_idx: usize,
}

impl Default for LogView {
    fn default() -> Self {
        LogView {
            follow: true,
            top: 0,
            search: None,
            matches: Vec::new(),
            match_idx: 0,
        }
    }
}

#[derive(Default)]
pub struct JobsState {
    /// Newest first.
    pub records: Vec<JobRecord>,
    pub handles: HashMap<JobId, JobHandle>,
    pub filter: String,
    pub visible: Vec<usize>,
    pub selected: usize,
    pub log_open: bool,
    pub log: LogView,
    /// The selection moves to each new job (until the person picks one, or a change starts).
    pub follow_newest: bool,
    /// Log lines that fit in the log area at the last render; the view records it.
    pub log_height: std::cell::Cell<usize>,
}

impl JobsState {
    fn refilter(&mut self) {
        let needle = self.filter.to_lowercase();
        self.visible = (0..self.records.len())
            .filter(|&i| {
                let r = &self.records[i];
                needle.is_empty()
                    || r.title.to_lowercase().contains(&needle)
                    || r.operation.contains(&needle)
                    || r.state.as_str().contains(&needle)
            })
            .collect();
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    pub fn selected_record(&self) -> Option<&JobRecord> {
        self.visible
            .get(self.selected)
            .and_then(|&i| self.records.get(i))
    }

    pub fn running(&self) -> usize {
        self.records
            .iter()
            .filter(|r| !r.state.is_finished())
            .count()
    }

    fn upsert(&mut self, record: JobRecord) {
        // Following, the selection stays on the newest job; otherwise it stays on its job.
        let selected_id = if self.follow_newest {
            None
        } else {
            self.selected_record().map(|r| r.id)
        };
        match self.records.iter_mut().find(|r| r.id == record.id) {
            Some(existing) => *existing = record,
            None => {
                let at = self
                    .records
                    .iter()
                    .position(|r| r.id < record.id)
                    .unwrap_or(self.records.len());
                self.records.insert(at, record);
            }
        }
        self.refilter();
        // keep the same job selected while new ones arrive on top
        if let Some(id) = selected_id
            && let Some(pos) = self.visible.iter().position(|&i| self.records[i].id == id)
        {
            self.selected = pos;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatRole {
    User,
    System,
}

pub struct ChatState {
    pub input: TextArea<'static>,
    pub history: Vec<(ChatRole, String)>,
}

impl Default for ChatState {
    fn default() -> Self {
        let mut input = TextArea::default();
        input.set_placeholder_text(
            "type a command (stacks, jobs, theme NAME, help) and press Enter",
        );
        ChatState {
            input,
            history: vec![(
                ChatRole::System,
                "No assistant is configured yet. This pane accepts the same commands as `:` \
                 (try `help`)."
                    .to_string(),
            )],
        }
    }
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
    /// The last update changed nothing on screen: the app loop skips the redraw, so an idle
    /// console writes nothing to the terminal.
    pub quiet: bool,
    pub quit: bool,
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
        let mut cmds = self.ask_identity();
        cmds.extend(self.refresh_stacks());
        // The user's policies and waivers load off the UI thread; the library is judged then.
        cmds.push(Cmd::LoadChecker(self.config.compliance));
        cmds
    }

    pub(crate) fn toast(&mut self, level: ToastLevel, text: impl Into<String>) {
        self.toast = Some(Toast {
            level,
            text: text.into(),
        });
    }

    pub(crate) fn scope(&self) -> ReadScope {
        ReadScope {
            region: self
                .session
                .region
                .clone()
                .unwrap_or_else(|| "the default region".into()),
        }
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

    pub(crate) fn refresh_stacks(&mut self) -> Vec<Cmd> {
        self.inventory.loading = true;
        vec![Cmd::Read(ReadOp::ListStacks {
            scope: self.scope(),
        })]
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
            Pane::Cost => vec![Context::Global],
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

    /// Refresh a list with a stack being changed every 5 s, otherwise every minute.
    fn refresh_interval_ms(&self) -> i64 {
        let base: i64 = if self.inventory.any_in_progress() {
            5_000
        } else {
            60_000
        };
        let factor = 1_i64 << self.inventory.refresh_failures.min(6);
        (base * factor).min(300_000)
    }

    /// The periodic, quiet refresh: the list, and the open detail while its stack moves.
    fn periodic_refresh(&mut self) -> Vec<Cmd> {
        let inv = &self.inventory;
        // Before the first answer (or the first failure) the initial load is in charge.
        let started = inv.loaded || inv.next_refresh_ms > 0;
        if !started || inv.loading || self.now_ms < inv.next_refresh_ms {
            return Vec::new();
        }
        self.inventory.next_refresh_ms = self.now_ms + self.refresh_interval_ms();
        let mut cmds = vec![Cmd::Refresh(ReadOp::ListStacks {
            scope: self.scope(),
        })];
        if let Some(view) = &self.inventory.detail
            && view.stack.is_moving()
        {
            cmds.push(Cmd::Refresh(describe(self, &view.stack)));
        }
        cmds
    }
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Cmd> {
    state.quiet = false;
    let cmds = dispatch(state, msg);
    // Quitting waited only for the jobs that were running: once they are done, quit.
    if matches!(state.mode, Mode::QuitConfirm) && state.jobs.running() == 0 {
        state.quit = true;
    }
    // A change set computed while another dialog or the form was open waits for it to close.
    if matches!(state.mode, Mode::Normal) && !state.deploy.previews.is_empty() {
        state.quiet = false;
        deploy::open_queued_preview(state);
    }
    cmds
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(key) => on_key(state, key),
        Msg::Engine(event) => on_engine(state, event),
        Msg::Tick { now_ms } => {
            state.now_ms = now_ms;
            // Only running jobs' durations move with time.
            state.quiet = state.jobs.running() == 0;
            let mut cmds = state.retry_identity();
            cmds.extend(state.periodic_refresh());
            cmds
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
            search_done(state, job, needle, found);
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
    }
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    // Any key dismisses a toast (it stays in the Jobs logs where it matters).
    state.toast = None;
    match std::mem::replace(&mut state.mode, Mode::Normal) {
        Mode::Normal => on_normal_key(state, key),
        Mode::Command(mut input) => match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => run_command(state, input.text().trim()),
            _ => {
                input.handle(key);
                state.mode = Mode::Command(input);
                Vec::new()
            }
        },
        Mode::Filter(mut input) => {
            match key.code {
                KeyCode::Esc => set_filter(state, ""),
                KeyCode::Enter => {
                    if state.focus == Pane::Jobs && state.jobs.log_open {
                        return search_log(state, input.text());
                    }
                }
                _ => {
                    input.handle(key);
                    if !(state.focus == Pane::Jobs && state.jobs.log_open) {
                        set_filter(state, input.text());
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
                        scroll: scroll.saturating_add(1).min(help_lines()),
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
        Mode::Confirm(dialog) => on_dialog_key(state, dialog, key),
        Mode::Picker(picker) => deploy::on_picker_key(state, picker, key),
        Mode::Form(form) => deploy::on_form_key(state, form, key),
        Mode::Export { selected } => compliance::on_export_key(state, selected, key),
    }
}

fn on_normal_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    let contexts = state.contexts();
    match keymap::lookup(&contexts, &key) {
        Some(action) => apply(state, action),
        None if state.focus == Pane::Chat => on_chat_key(state, key),
        None => Vec::new(),
    }
}

fn on_chat_key(state: &mut State, key: KeyEvent) -> Vec<Cmd> {
    match key.code {
        KeyCode::Enter if !key.modifiers.contains(KeyModifiers::ALT) => {
            let text = state.chat.input.lines().join("\n");
            state.chat.input = ChatState::default().input;
            let text = text.trim();
            if text.is_empty() {
                return Vec::new();
            }
            state.chat.history.push((ChatRole::User, text.to_string()));
            let command = text.strip_prefix(':').unwrap_or(text);
            let known = COMMANDS
                .iter()
                .any(|(name, _)| command.split_whitespace().next() == Some(*name));
            if known {
                run_command(state, command)
            } else {
                state.chat.history.push((
                    ChatRole::System,
                    "No assistant is configured yet, so I can only run commands. Try `help`."
                        .into(),
                ));
                Vec::new()
            }
        }
        KeyCode::Esc => {
            // Esc clears the input; on an empty input it leaves Chat, as Esc leaves insert mode.
            if state.chat.input.is_empty() {
                state.focus = Pane::Inventory;
            } else {
                state.chat.input = ChatState::default().input;
            }
            Vec::new()
        }
        _ => {
            state.chat.input.input(key);
            Vec::new()
        }
    }
}

/// Lines in the help screen, which bounds its scrolling.
fn help_lines() -> u16 {
    let keys: usize = keymap::help_sections()
        .iter()
        .map(|(_, rows)| rows.len() + 2)
        .sum();
    (keys + COMMANDS.len() + 1) as u16
}

pub const COMMANDS: &[(&str, &str)] = &[
    ("stacks", "focus Inventory on the stack list"),
    ("jobs", "focus Jobs"),
    ("chat", "focus Chat"),
    ("cost", "focus Cost"),
    ("compliance", "focus Compliance"),
    (
        "theme",
        "theme NAME: switch colour theme (dark, light, high-contrast, ansi16, or your own)",
    ),
    ("ro", "show whether and why the console is read-only"),
    (
        "deploy",
        "deploy TEMPLATE [STACK]: library name or file path; an existing STACK is updated",
    ),
    ("refresh", "reload the stack list"),
    (
        "check",
        "check [STACK]: judge a deployed stack's template for compliance (no STACK: the library)",
    ),
    (
        "export",
        "export FORMAT: write the compliance report (text, json, csv, sarif, oscal) to the data dir",
    ),
    ("help", "show keys and commands"),
    ("q", "quit (also :quit, :q!)"),
    ("quit", "quit"),
    ("q!", "quit without asking"),
];

fn run_command(state: &mut State, line: &str) -> Vec<Cmd> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Vec::new();
    };
    let arg = words.next();
    let reply = |state: &mut State, level: ToastLevel, text: String| {
        if state.focus == Pane::Chat {
            state.chat.history.push((ChatRole::System, text));
        } else {
            state.toast(level, text);
        }
    };
    match name {
        "stacks" | "stack" => {
            state.focus = Pane::Inventory;
            state.inventory.detail = None;
            if !state.inventory.loaded && !state.inventory.loading {
                return state.refresh_stacks();
            }
        }
        "jobs" => state.focus = Pane::Jobs,
        "chat" => state.focus = Pane::Chat,
        "cost" => state.focus = Pane::Cost,
        "compliance" => state.focus = Pane::Compliance,
        "refresh" | "r" => return state.refresh_stacks(),
        "check" => return compliance::check_command(state, arg),
        "export" => match arg.and_then(crate::compliance::export::Format::parse) {
            Some(format) => return compliance::export(state, format),
            None => reply(
                state,
                ToastLevel::Info,
                "usage: export text|json|csv|sarif|oscal".into(),
            ),
        },
        "deploy" => match arg {
            Some(template) => return deploy::deploy_command(state, template, words.next()),
            None => reply(
                state,
                ToastLevel::Info,
                format!(
                    "usage: deploy TEMPLATE [STACK] — library: {}",
                    crate::cfn::library::LIBRARY
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        },
        "help" | "h" => state.mode = Mode::Help { scroll: 0 },
        "ro" => {
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
        "theme" => match arg {
            Some(theme) => return vec![Cmd::LoadTheme(theme.to_string())],
            None => reply(
                state,
                ToastLevel::Info,
                format!("theme {} — :theme NAME to switch", state.theme_name),
            ),
        },
        "q" | "quit" => return request_quit(state),
        "q!" => {
            state.quit = true;
            return vec![Cmd::Quit];
        }
        other => reply(
            state,
            ToastLevel::Error,
            format!("unknown command `{other}` — :help lists commands"),
        ),
    }
    Vec::new()
}

fn request_quit(state: &mut State) -> Vec<Cmd> {
    if state.jobs.running() > 0 {
        state.mode = Mode::QuitConfirm;
        Vec::new()
    } else {
        state.quit = true;
        vec![Cmd::Quit]
    }
}

fn set_filter(state: &mut State, text: &str) {
    match state.focus {
        Pane::Jobs => {
            state.jobs.filter = text.to_string();
            state.jobs.refilter();
        }
        _ => {
            state.inventory.filter = text.to_string();
            state.inventory.refilter();
        }
    }
}

/// Start a search of the selected job's log; the app loop runs it off the UI thread and
/// answers with `Msg::SearchDone`.
fn search_log(state: &mut State, needle: &str) -> Vec<Cmd> {
    let Some(id) = state.jobs.selected_record().map(|r| r.id) else {
        return Vec::new();
    };
    let log = &mut state.jobs.log;
    log.search = (!needle.is_empty()).then(|| needle.to_string());
    log.matches.clear();
    log.match_idx = 0;
    match (&log.search, state.jobs.handles.get(&id)) {
        (Some(needle), Some(handle)) => vec![Cmd::SearchLog {
            handle: handle.clone(),
            needle: needle.clone(),
        }],
        _ => Vec::new(),
    }
}

fn search_done(state: &mut State, job: JobId, needle: String, found: Result<Vec<u64>, String>) {
    let current = state.jobs.selected_record().map(|r| r.id);
    // A newer search, or another job selected since: this answer is stale.
    if current != Some(job) || state.jobs.log.search.as_deref() != Some(needle.as_str()) {
        return;
    }
    match found {
        Ok(matches) if matches.is_empty() => {
            state.toast(ToastLevel::Warn, format!("not found: {needle}"))
        }
        Ok(matches) => {
            state.jobs.log.matches = matches;
            jump_to_match(state, 0);
        }
        Err(e) => state.toast(ToastLevel::Error, format!("search failed: {e}")),
    }
}

fn jump_to_match(state: &mut State, delta: isize) {
    let log = &mut state.jobs.log;
    if log.matches.is_empty() {
        return;
    }
    let n = log.matches.len() as isize;
    log.match_idx = (log.match_idx as isize + delta).rem_euclid(n) as usize;
    log.follow = false;
    log.top = log.matches[log.match_idx].saturating_sub(state.jobs.log_height.get() as u64 / 2);
}

fn apply(state: &mut State, action: Action) -> Vec<Cmd> {
    match action {
        Action::FocusNext | Action::FocusPrev => {
            let i = Pane::ALL
                .iter()
                .position(|p| *p == state.focus)
                .unwrap_or(0);
            let n = Pane::ALL.len();
            let next = if action == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = Pane::ALL[next];
        }
        Action::Focus(pane) => state.focus = pane,
        Action::ToggleZoom => state.zoomed = !state.zoomed,
        Action::OpenCommandLine => state.mode = Mode::Command(LineInput::default()),
        Action::OpenFilter => {
            let current = match state.focus {
                Pane::Jobs if state.jobs.log_open => {
                    state.jobs.log.search.clone().unwrap_or_default()
                }
                Pane::Jobs => state.jobs.filter.clone(),
                Pane::Inventory if state.inventory.detail.is_none() => {
                    state.inventory.filter.clone()
                }
                _ => {
                    state.toast(ToastLevel::Info, "nothing to filter here");
                    return Vec::new();
                }
            };
            state.mode = Mode::Filter(LineInput::with_text(&current));
        }
        Action::OpenHelp => state.mode = Mode::Help { scroll: 0 },
        Action::Quit => return request_quit(state),
        Action::Refresh => {
            // Until STS has answered, `r` also asks it again, at once.
            let mut cmds = if state.session.identity.is_none() {
                state.ask_identity()
            } else {
                Vec::new()
            };
            match (&state.focus, &state.inventory.detail) {
                (Pane::Inventory, Some(view)) => {
                    let op = describe(state, &view.stack.clone());
                    cmds.push(Cmd::Read(op));
                }
                _ => cmds.extend(state.refresh_stacks()),
            }
            return cmds;
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_selection(state, action),
        Action::Open | Action::Back if state.focus == Pane::Compliance => {
            return compliance::on_tree_action(state, action);
        }
        Action::Open => return open(state),
        Action::Back => back(state),
        Action::NextTab | Action::PrevTab => {
            if let Some(view) = &mut state.inventory.detail {
                let i = DetailTab::ALL
                    .iter()
                    .position(|t| *t == view.tab)
                    .unwrap_or(0);
                let n = DetailTab::ALL.len();
                let next = if action == Action::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                view.tab = DetailTab::ALL[next];
                view.scroll = 0;
            }
        }
        Action::DeleteStack => return stack_actions::request_delete(state),
        Action::NewDeploy => return deploy::open_picker(state),
        Action::UpdateStack => return deploy::request_update(state),
        Action::FollowStack => return stack_actions::follow(state),
        Action::DetectDrift => return stack_actions::detect_drift(state),
        Action::ToggleProtection => stack_actions::toggle_protection(state),
        Action::CheckStack => match stack_actions::current_stack(state) {
            Some(stack) => return compliance::check_stack(state, stack),
            None => state.toast(ToastLevel::Info, "no stack selected"),
        },
        Action::CheckLibrary => return compliance::check_library(state),
        Action::ExportReport => compliance::open_export(state),
        Action::ShowInInventory => return compliance::show_in_inventory(state),
        Action::SortByName => stack_actions::sort(state, StackSort::Name),
        Action::SortByStatus => stack_actions::sort(state, StackSort::Status),
        Action::SortByUpdated => stack_actions::sort(state, StackSort::Updated),
        // Form keys are handled by the form itself.
        Action::FormNext
        | Action::FormPrev
        | Action::FormEnter
        | Action::FormSubmit
        | Action::FormClose
        | Action::ChoiceNext
        | Action::ChoicePrev => {}
        Action::ToggleFollow => {
            let log = &mut state.jobs.log;
            log.follow = !log.follow;
        }
        Action::SearchNext => jump_to_match(state, 1),
        Action::SearchPrev => jump_to_match(state, -1),
        Action::CancelJob => {
            if let Some(record) = state.jobs.selected_record() {
                if record.state.is_finished() {
                    state.toast(
                        ToastLevel::Info,
                        format!("job {} already {}", record.id, record.state.as_str()),
                    );
                } else {
                    return vec![Cmd::CancelJob(record.id)];
                }
            }
        }
    }
    Vec::new()
}

pub(crate) fn describe(state: &State, stack: &StackSummary) -> ReadOp {
    ReadOp::DescribeStack {
        scope: state.scope(),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    }
}

fn open(state: &mut State) -> Vec<Cmd> {
    match state.focus {
        Pane::Inventory if state.inventory.detail.is_none() => {
            let Some(stack) = state.inventory.selected_stack().cloned() else {
                return Vec::new();
            };
            let op = describe(state, &stack);
            state.inventory.detail = Some(StackDetailView::new(stack));
            vec![Cmd::Read(op)]
        }
        Pane::Jobs if !state.jobs.log_open => {
            let Some(record) = state.jobs.selected_record() else {
                return Vec::new();
            };
            let past_log = match (
                &record.log_path,
                state.jobs.handles.contains_key(&record.id),
            ) {
                (Some(path), false) => vec![Cmd::OpenPastLog {
                    job: record.id,
                    path: path.clone(),
                }],
                _ => Vec::new(),
            };
            state.jobs.log_open = true;
            state.jobs.log = LogView::default();
            past_log
        }
        _ => Vec::new(),
    }
}

fn back(state: &mut State) {
    match state.focus {
        Pane::Inventory if state.inventory.detail.is_some() => {
            state.inventory.detail = None;
            // Whatever waited for the detail no longer has it.
            state.deploy.pending_update = None;
            state.inventory.pending_delete = None;
        }
        Pane::Inventory if !state.inventory.filter.is_empty() => set_filter(state, ""),
        Pane::Jobs if state.jobs.log_open => state.jobs.log_open = false,
        Pane::Jobs if !state.jobs.filter.is_empty() => set_filter(state, ""),
        _ => state.zoomed = false,
    }
}

const PAGE: usize = 10;

fn step(current: usize, len: usize, action: Action) -> usize {
    let last = len.saturating_sub(1);
    match action {
        Action::Up => current.saturating_sub(1),
        Action::Down => (current + 1).min(last),
        Action::PageUp => current.saturating_sub(PAGE),
        Action::PageDown => (current + PAGE).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => current,
    }
}

fn move_selection(state: &mut State, action: Action) {
    match state.focus {
        Pane::Inventory => match &mut state.inventory.detail {
            Some(view) => {
                let rows = view.rows(state.inventory.drift.get(&view.stack.id));
                view.scroll = step(view.scroll, rows, action)
            }
            None => {
                state.inventory.selected = step(
                    state.inventory.selected,
                    state.inventory.visible.len(),
                    action,
                )
            }
        },
        Pane::Jobs if state.jobs.log_open => scroll_log(state, action),
        Pane::Jobs => {
            state.jobs.selected = step(state.jobs.selected, state.jobs.visible.len(), action);
            state.jobs.follow_newest = state.jobs.selected == 0;
        }
        Pane::Compliance => {
            compliance::on_tree_action(state, action);
        }
        _ => {}
    }
}

fn scroll_log(state: &mut State, action: Action) {
    let Some(id) = state.jobs.selected_record().map(|r| r.id) else {
        return;
    };
    let total = state
        .jobs
        .handles
        .get(&id)
        .map(|h| h.log.lock().unwrap_or_else(|p| p.into_inner()).total())
        .unwrap_or(0);
    let height = state.jobs.log_height.get().max(1) as u64;
    let bottom_top = total.saturating_sub(height);
    let log = &mut state.jobs.log;
    let top = if log.follow {
        bottom_top
    } else {
        log.top.min(bottom_top)
    };
    let page = height.max(2) - 1;
    let new_top = match action {
        Action::Up => top.saturating_sub(1),
        Action::Down => (top + 1).min(bottom_top),
        Action::PageUp => top.saturating_sub(page),
        Action::PageDown => (top + page).min(bottom_top),
        Action::Top => 0,
        Action::Bottom => bottom_top,
        _ => top,
    };
    log.top = new_top;
    // Reaching the bottom resumes following, as in `less +F`.
    log.follow = new_top >= bottom_top && action != Action::Up && action != Action::PageUp;
}

fn on_dialog_key(state: &mut State, mut dialog: ConfirmDialog, key: KeyEvent) -> Vec<Cmd> {
    let id = dialog.request.id;
    let typed_tier = matches!(dialog.request.tier, RiskTier::TypeName(_));
    let is_create = matches!(dialog.request.op, MutatingOp::CreateChangeSet(_));
    let is_preview = matches!(dialog.request.op, MutatingOp::ExecuteChangeSet(_));
    let cancel = |state: &mut State| {
        // Cancelling a change set's review discards the change set: the gate hands back the
        // approval for exactly that, and only that.
        if let Some(discard) = state.gate.cancel(id) {
            state.toast(
                ToastLevel::Info,
                "not executed; change set discarded (nothing else changed)",
            );
            return vec![Cmd::Execute(discard)];
        }
        if is_preview {
            state.toast(
                ToastLevel::Warn,
                "not executed; the change set could not be discarded from here (read-only mode, or the audit log is unavailable) and stays in AWS",
            );
        } else if is_create && let Some(form) = state.deploy.parked_form.take() {
            state.mode = Mode::Form(form);
            state.toast(ToastLevel::Info, "not sent; back to the form");
        } else {
            state.toast(ToastLevel::Info, "cancelled; nothing changed");
        }
        Vec::new()
    };
    // Scrolling: arrows and pages always; j/k only when they would not type into the input.
    if let Some(action) = keymap::lookup(&[Context::Dialog], &key)
        && (dialog.focus != DialogFocus::Input || !matches!(key.code, KeyCode::Char(_)))
    {
        dialog.scroll = step(dialog.scroll, dialog.rows(), action);
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
            state.toast(ToastLevel::Error, format!("not approved: {e}"));
            Vec::new()
        }
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
        EngineEvent::ReadDone { job, view, result } => {
            // Drift checks and follows of different stacks run side by side, and their
            // results name their stack: each is kept. Other views show only the latest read.
            if view.latest_wins() && state.latest_reads.get(&view) != Some(&job) {
                state.quiet = true;
                return Vec::new();
            }
            return on_read(state, view, result, job < 0);
        }
        EngineEvent::MutationDone {
            job,
            operation,
            result,
        } => {
            match result {
                Ok(MutationOutput::ChangeSet(ChangeSetOutcome::Ready(preview))) => {
                    state.toast(
                        ToastLevel::Info,
                        format!(
                            "change set {} for {} is ready: review it ({})",
                            preview.change_set_name,
                            preview.stack_name,
                            preview.counts()
                        ),
                    );
                    deploy::change_set_ready(state, preview);
                }
                Ok(MutationOutput::ChangeSet(ChangeSetOutcome::NoChanges {
                    stack_name,
                    message,
                })) => state.toast(
                    ToastLevel::Info,
                    format!("nothing to do: {stack_name} already matches ({message})"),
                ),
                Ok(output) => state.toast(
                    ToastLevel::Info,
                    format!("job {job} {operation}: {}", output.summary()),
                ),
                Err(e) => state.toast(
                    ToastLevel::Error,
                    format!("job {job} {operation} failed: {e}"),
                ),
            }
            let mut cmds = state.refresh_stacks();
            // The open detail shows what the change did (protection, status, events).
            if let Some(view) = &state.inventory.detail {
                cmds.push(Cmd::Read(describe(state, &view.stack)));
            }
            return cmds;
        }
    }
    Vec::new()
}

fn on_read(
    state: &mut State,
    view: ViewKey,
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
            state.session.identity_problem = None;
            state.session.identity_pending = false;
            state.session.identity_failures = 0;
            state.session.identity_retry_ms = 0;
        }
        Ok(ReadOutput::Stacks(stacks)) => {
            let unchanged = state.inventory.loaded
                && state.inventory.error.is_none()
                && !state.inventory.loading
                && state.inventory.stacks == stacks;
            state.inventory.refresh_failures = 0;
            let moving = stacks.iter().any(StackSummary::is_moving);
            state.inventory.next_refresh_ms = state.now_ms + if moving { 5_000 } else { 60_000 };
            if unchanged {
                // Nothing moved: no redraw, so an idle console writes nothing.
                state.quiet = background;
                return Vec::new();
            }
            let selected_id = state.inventory.selected_stack().map(|s| s.id.clone());
            // A stack that is gone (deleted here or elsewhere) takes its open detail with it.
            if let Some(view) = &state.inventory.detail
                && !stacks.iter().any(|s| s.id == view.stack.id)
            {
                let name = view.stack.name.clone();
                state.inventory.detail = None;
                if state.toast.is_none() {
                    state.toast(ToastLevel::Info, format!("stack {name} is gone"));
                }
            }
            state.inventory.stacks = stacks;
            state.inventory.loaded = true;
            state.inventory.loading = false;
            state.inventory.error = None;
            state.inventory.refilter();
            if let Some(id) = selected_id
                && let Some(pos) = state
                    .inventory
                    .visible
                    .iter()
                    .position(|&i| state.inventory.stacks[i].id == id)
            {
                state.inventory.selected = pos;
            }
        }
        Ok(ReadOutput::StackDetail(detail)) => {
            if let Some(view) = &mut state.inventory.detail
                && view.stack.id == detail.summary.id
            {
                if background
                    && view.detail.as_ref() == Some(&*detail)
                    && view.stack == detail.summary
                {
                    state.quiet = true;
                    return Vec::new();
                }
                view.stack = detail.summary.clone();
                view.detail = Some(*detail);
                view.error = None;
            }
            deploy::try_open_update(state);
            return stack_actions::continue_delete(state);
        }
        Ok(ReadOutput::Template {
            stack_id,
            stack_name,
            body,
        }) => {
            deploy::template_arrived(state, &stack_id, &stack_name, &body);
            return compliance::template_arrived(state, &stack_id, &body);
        }
        Ok(ReadOutput::Drift(drift)) => stack_actions::drift_arrived(state, *drift),
        Ok(ReadOutput::Followed { stack_id, summary }) => {
            state.toast(ToastLevel::Info, summary);
            let mut cmds = state.refresh_stacks();
            if let Some(view) = &state.inventory.detail
                && view.stack.id == stack_id
            {
                cmds.push(Cmd::Read(describe(state, &view.stack)));
            }
            return cmds;
        }
        Err(e) => {
            let text = e.to_string();
            // The error goes to the view whose read failed.
            match view {
                ViewKey::Identity => {
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
                ViewKey::StackList => {
                    state.inventory.loading = false;
                    state.inventory.error = Some(text.clone());
                    state.inventory.refresh_failures += 1;
                    state.inventory.next_refresh_ms = state.now_ms + state.refresh_interval_ms();
                }
                ViewKey::StackDetail => {
                    if let Some(detail) = &mut state.inventory.detail {
                        detail.error = Some(text.clone());
                    }
                    state.deploy.pending_update = None;
                    state.inventory.pending_delete = None;
                }
                ViewKey::StackTemplate => {
                    state.deploy.pending_update = None;
                    compliance::template_failed(state);
                }
                ViewKey::Drift | ViewKey::Follow => {}
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
