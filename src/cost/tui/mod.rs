//! The Cost pane's state and what moves it: the catalogue and usage file loaded after the
//! first frame, the cached spend of the account (shown with its age; fetching again is
//! explicit, except once when nothing is cached), deployed stacks' estimates, the idle scan and
//! reaping through the gate. Pure like `state::update`: effects are returned as [`Cmd`]s.

pub(crate) mod dialog_view;
#[cfg(test)]
mod tests;
pub(crate) mod view;

use crate::cfn::model::StackSummary;
use crate::cost::catalogue::Catalogue;
use crate::cost::estimate::{Pricing, estimate_template};
use crate::cost::model::{IdleReport, SpendReport};
use crate::cost::ops::{CostMutation, CostRead};
use crate::cost::plan::{self, StackCost};
use crate::cost::port::CostOutput;
use crate::cost::usage::Usage;
use crate::engine::MutationOutput;
use crate::engine::ports::ProviderError;
use crate::ops::{PlanCtx, PlanError, ReadOp, ReadScope};
use crate::registry::Pane;
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, Flow, Msg, State, ToastLevel};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Stacks estimated at most (each costs two reads).
pub const MAX_STACKS: usize = 25;

/// Which cost view a read feeds (see `tui::state::ViewKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostView {
    Spend,
    Idle,
}

impl CostView {
    pub fn of(op: &CostRead) -> CostView {
        match op {
            CostRead::Spend(_) => CostView::Spend,
            CostRead::Idle { .. } => CostView::Idle,
        }
    }

    pub fn supersede_key(self) -> &'static str {
        match self {
            CostView::Spend => "spend",
            CostView::Idle => "idle",
        }
    }

    pub fn from_key(key: &str) -> Option<CostView> {
        [CostView::Spend, CostView::Idle]
            .into_iter()
            .find(|v| v.supersede_key() == key)
    }
}

/// The pane's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    #[default]
    Spend,
    Stacks,
    Idle,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Spend, Section::Stacks, Section::Idle];

    pub fn title(self) -> &'static str {
        match self {
            Section::Spend => "Spend",
            Section::Stacks => "Stacks",
            Section::Idle => "Idle",
        }
    }
}

/// A library template's monthly cost at its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryCost {
    pub name: String,
    pub monthly: Result<f64, String>,
    pub usage_pending: usize,
    pub not_priced: usize,
}

#[derive(Default)]
pub struct CostState {
    /// The data dir (call counter, spend cache); set when the console starts.
    pub data_dir: Option<PathBuf>,
    pub catalogue: Option<Arc<Catalogue>>,
    pub usage: Arc<Usage>,
    /// Why the usage file was not used.
    pub usage_error: Option<String>,
    pub library: Vec<LibraryCost>,
    /// The region the library was priced in.
    pub library_region: String,
    /// The account's last spend (cached or fetched), and whose it is.
    pub spend: Option<SpendReport>,
    pub spend_account: Option<String>,
    pub spend_loading: bool,
    pub spend_error: Option<String>,
    /// The cache was looked at for the account.
    pub cache_checked: bool,
    /// Spend was fetched (or asked for) once this session.
    pub fetched: bool,
    /// Cost Explorer requests made today (the call counter).
    pub calls_today: u32,
    pub stacks: Vec<StackCost>,
    pub stacks_loading: bool,
    /// Stacks were estimated (or asked for) once this session.
    pub stacks_asked: bool,
    pub idle: Option<IdleReport>,
    pub idle_loading: bool,
    pub idle_error: Option<String>,
    pub section: Section,
    pub selected: usize,
    /// Idle findings marked for reaping, by id.
    pub marked: BTreeSet<String>,
    /// The assistant's tokens and cost today and this month (from the job store), or why they
    /// could not be read; `None` until first read.
    pub assistant: Option<Result<AssistantSpend, String>>,
}

/// The assistant's usage over the two periods the pane shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AssistantSpend {
    pub today: crate::assistant::usage::Totals,
    pub month: crate::assistant::usage::Totals,
}

impl CostState {
    /// The catalogue, or the bundled one while the loaded one is not there yet.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue
            .clone()
            .unwrap_or_else(|| Arc::new(Catalogue::bundled()))
    }

    fn rows(&self) -> usize {
        match self.section {
            Section::Spend => self.spend.as_ref().map_or(0, |s| s.top_services().len()),
            Section::Stacks => self.stacks.len(),
            Section::Idle => self.idle.as_ref().map_or(0, |i| i.findings.len()),
        }
    }
}

/// Effects of the cost capability, run by the app off the UI thread.
#[derive(Debug)]
pub enum CostCmd {
    /// Load the catalogue (bundled, overlaid by a refresh) and the usage file, and price the
    /// template library at its defaults.
    Load {
        multipliers: BTreeMap<String, f64>,
        /// `--usage`-like explicit file (must exist), else the default `usage.yml`.
        usage_file: Option<PathBuf>,
        region: String,
    },
    /// Read the account's cached spend and today's call count.
    LoadCache { account: String, daily_limit: u32 },
    /// Keep a fetched report as the account's cache; answer with today's call count.
    StoreCache {
        account: String,
        report: Box<SpendReport>,
        daily_limit: u32,
    },
    /// Sum the assistant's usage today and this month from the job store.
    LoadAssistantUsage,
}

/// What the cost effects answer.
pub enum CostMsg {
    Loaded {
        catalogue: Arc<Catalogue>,
        usage: Result<Usage, String>,
        library: Vec<LibraryCost>,
        region: String,
    },
    CacheLoaded {
        account: String,
        report: Option<Box<SpendReport>>,
        calls_today: u32,
    },
    CacheStored {
        calls_today: u32,
        error: Option<String>,
    },
    AssistantUsage(Result<AssistantSpend, String>),
}

/// Run a cost effect (off the UI thread); its answer goes to `back`.
pub fn run(
    cmd: CostCmd,
    paths: &crate::config::Paths,
    store: &Arc<crate::engine::store::JobStore>,
    back: &tokio::sync::mpsc::UnboundedSender<Msg>,
) {
    let paths = paths.clone();
    let store = store.clone();
    let back = back.clone();
    tokio::task::spawn_blocking(move || {
        let msg = match cmd {
            CostCmd::Load {
                multipliers,
                usage_file,
                region,
            } => {
                let catalogue = Arc::new(Catalogue::load(&paths.data_dir, &multipliers));
                let usage = match &usage_file {
                    Some(file) => Usage::load(file, true),
                    None => {
                        Usage::load(&crate::cost::usage::default_path(&paths.config_dir), false)
                    }
                }
                .map_err(|e| e.to_string());
                let library = price_library(&catalogue, &region);
                CostMsg::Loaded {
                    catalogue,
                    usage,
                    library,
                    region,
                }
            }
            CostCmd::LoadCache {
                account,
                daily_limit,
            } => CostMsg::CacheLoaded {
                report: crate::cost::spend::load_cached(&paths.data_dir, &account).map(Box::new),
                calls_today: crate::cost::spend::call_budget(&paths.data_dir, daily_limit)
                    .used(&today()),
                account,
            },
            CostCmd::StoreCache {
                account,
                report,
                daily_limit,
            } => CostMsg::CacheStored {
                error: crate::cost::spend::store_cached(&paths.data_dir, &account, &report)
                    .err()
                    .map(|e| format!("the spend cache could not be written: {e}")),
                calls_today: crate::cost::spend::call_budget(&paths.data_dir, daily_limit)
                    .used(&today()),
            },
            CostCmd::LoadAssistantUsage => {
                use crate::assistant::usage::{Period, totals};
                let now = crate::model::now_ms();
                CostMsg::AssistantUsage(
                    totals(&store, Period::Today, now)
                        .and_then(|today| {
                            Ok(AssistantSpend {
                                today,
                                month: totals(&store, Period::Month, now)?,
                            })
                        })
                        .map_err(|e| e.to_string()),
                )
            }
        };
        let _ = back.send(Msg::Cost(msg));
    });
}

fn today() -> String {
    crate::cost::dates::format_day(crate::cost::dates::today(crate::model::now_ms()))
}

/// Every library template priced at its defaults (no usage: usage-priced parts pending).
pub fn price_library(catalogue: &Catalogue, region: &str) -> Vec<LibraryCost> {
    let usage = Usage::none();
    let pricing = Pricing {
        catalogue,
        usage: &usage,
        region,
    };
    crate::cfn::library::LIBRARY
        .iter()
        .map(
            |t| match estimate_template(pricing, t.body, t.name, &BTreeMap::new()) {
                Ok(e) => LibraryCost {
                    name: t.name.to_string(),
                    monthly: Ok(e.total_monthly),
                    usage_pending: e.usage_pending(),
                    not_priced: e.not_priced(),
                },
                Err(e) => LibraryCost {
                    name: t.name.to_string(),
                    monthly: Err(e.to_string()),
                    usage_pending: 0,
                    not_priced: 0,
                },
            },
        )
        .collect()
}

/// "$70.08/mo" for the picker (a `+` when usage-priced parts are pending).
pub fn library_monthly(state: &State, name: &str) -> String {
    match state.cost.library.iter().find(|l| l.name == name) {
        Some(LibraryCost {
            monthly: Ok(m),
            usage_pending,
            not_priced,
            ..
        }) => format!(
            "{}/mo{}",
            crate::cost::estimate::usd(*m),
            if *usage_pending > 0 || *not_priced > 0 {
                "+"
            } else {
                ""
            }
        ),
        Some(LibraryCost {
            monthly: Err(_), ..
        }) => "not priced".into(),
        None => "pricing…".into(),
    }
}

/// The effects to run when the console opens: load the catalogue and usage file (after the
/// first frame: the app runs this after drawing it).
pub fn initial_commands(state: &State) -> Vec<Cmd> {
    vec![
        Cmd::Cost(CostCmd::Load {
            multipliers: state.config.cost.region_multipliers.clone(),
            usage_file: state.config.cost.usage_file.clone(),
            region: state
                .session
                .region
                .clone()
                .unwrap_or_else(|| crate::cost::catalogue::BASE_REGION.to_string()),
        }),
        Cmd::Cost(CostCmd::LoadAssistantUsage),
    ]
}

/// The Cost pane got focus, or a turn of the assistant ended: read the assistant's usage
/// again (off the UI thread).
pub fn refresh_assistant_usage() -> Vec<Cmd> {
    vec![Cmd::Cost(CostCmd::LoadAssistantUsage)]
}

/// A cost effect answered.
pub fn on_msg(state: &mut State, msg: CostMsg) -> Vec<Cmd> {
    match msg {
        CostMsg::Loaded {
            catalogue,
            usage,
            library,
            region,
        } => {
            if let Some(problem) = &catalogue.refresh_problem {
                state.toast(ToastLevel::Warn, problem.clone());
            }
            state.cost.catalogue = Some(catalogue);
            state.cost.library = library;
            state.cost.library_region = region;
            match usage {
                Ok(usage) => state.cost.usage = Arc::new(usage),
                Err(e) => {
                    state.toast(ToastLevel::Error, format!("usage file not used: {e}"));
                    state.cost.usage_error = Some(e);
                }
            }
            on_focus(state)
        }
        CostMsg::CacheLoaded {
            account,
            report,
            calls_today,
        } => {
            if state.cost.spend_account.as_deref() == Some(account.as_str())
                && state.cost.spend.is_some()
            {
                return Vec::new();
            }
            state.cost.spend = report.map(|r| *r);
            state.cost.spend_account = Some(account);
            state.cost.calls_today = calls_today;
            state.cost.cache_checked = true;
            on_focus(state)
        }
        CostMsg::CacheStored { calls_today, error } => {
            state.cost.calls_today = calls_today;
            if let Some(e) = error {
                state.toast(ToastLevel::Warn, e);
            }
            Vec::new()
        }
        CostMsg::AssistantUsage(usage) => {
            state.cost.assistant = Some(usage);
            Vec::new()
        }
    }
}

/// STS answered: look for the account's cached spend.
pub fn identity_known(state: &mut State) -> Vec<Cmd> {
    let Some(account) = state.session.identity.as_ref().map(|i| i.account.clone()) else {
        return Vec::new();
    };
    vec![Cmd::Cost(CostCmd::LoadCache {
        account,
        daily_limit: state.config.cost.daily_call_budget,
    })]
}

/// Called after every update: the first time the Cost pane has focus, fetch what is missing
/// (spend, only when nothing is cached; the stacks' estimates once the list is there).
pub fn on_focus(state: &mut State) -> Vec<Cmd> {
    if state.focus != Pane::Cost {
        return Vec::new();
    }
    let mut cmds = Vec::new();
    if state.cost.cache_checked && state.cost.spend.is_none() && !state.cost.fetched {
        cmds.extend(fetch_spend(state, false));
    }
    if !state.cost.stacks_asked && state.inventory.loaded && state.cost.catalogue.is_some() {
        cmds.extend(estimate_stacks(state));
    }
    cmds
}

/// Ask for the spend (Cost Explorer within the call budget; `free_only`: the billing metric).
pub fn fetch_spend(state: &mut State, free_only: bool) -> Vec<Cmd> {
    if state.cost.spend_loading {
        return Vec::new();
    }
    let Some(data_dir) = state.cost.data_dir.clone() else {
        return Vec::new();
    };
    state.cost.fetched = true;
    state.cost.spend_loading = true;
    state.cost.spend_error = None;
    let query = plan::spend_query(&state.config.cost, &data_dir, state.now_ms, 3, free_only);
    vec![Cmd::Read(ReadOp::Cost(CostRead::Spend(query)))]
}

/// Scan for idle resources in the session's region.
pub fn find_idle(state: &mut State) -> Vec<Cmd> {
    state.cost.idle_loading = true;
    state.cost.idle_error = None;
    state.cost.section = Section::Idle;
    state.cost.selected = 0;
    vec![Cmd::Read(ReadOp::Cost(CostRead::Idle {
        scope: ReadScope {
            region: state
                .session
                .region
                .clone()
                .unwrap_or_else(|| "the default region".into()),
        },
        // Priced when it arrives, with the catalogue loaded by then (`on_read`).
        prices: None,
    }))]
}

/// Estimate the listed stacks (their templates and parameter values), off the UI thread.
pub fn estimate_stacks(state: &mut State) -> Vec<Cmd> {
    state.cost.stacks_asked = true;
    let stacks: Vec<StackSummary> = state
        .inventory
        .stacks
        .iter()
        .filter(|s| !s.status.starts_with("DELETE") && s.status != "REVIEW_IN_PROGRESS")
        .take(MAX_STACKS)
        .cloned()
        .collect();
    if stacks.is_empty() {
        state.cost.stacks.clear();
        return Vec::new();
    }
    state.cost.stacks_loading = true;
    vec![Cmd::Plan(Flow::Cost(CostFlow::EstimateStacks {
        stacks,
        catalogue: state.cost.catalogue(),
        usage: state.cost.usage.clone(),
        region: state
            .session
            .region
            .clone()
            .unwrap_or_else(|| crate::cost::catalogue::BASE_REGION.to_string()),
    }))]
}

/// A cost flow the console started.
#[derive(Debug)]
pub enum CostFlow {
    EstimateStacks {
        stacks: Vec<StackSummary>,
        catalogue: Arc<Catalogue>,
        usage: Arc<Usage>,
        region: String,
    },
}

/// What a cost flow yields.
#[derive(Debug)]
pub enum CostPlanned {
    Stacks(Vec<StackCost>),
}

/// Run a flow to its plan (off the UI thread).
pub async fn run_flow(flow: CostFlow, ctx: &dyn PlanCtx) -> Result<CostPlanned, PlanError> {
    match flow {
        CostFlow::EstimateStacks {
            stacks,
            catalogue,
            usage,
            region,
        } => {
            let templates = plan::deployed_templates(ctx, &stacks).await;
            let pricing = Pricing {
                catalogue: &catalogue,
                usage: &usage,
                region: &region,
            };
            Ok(CostPlanned::Stacks(plan::estimate_stacks(
                pricing, templates,
            )))
        }
    }
}

pub fn planned(state: &mut State, result: Result<CostPlanned, PlanError>) -> Vec<Cmd> {
    state.cost.stacks_loading = false;
    match result {
        Ok(CostPlanned::Stacks(stacks)) => state.cost.stacks = stacks,
        Err(e) => state.toast(ToastLevel::Error, format!("stack estimates: {e}")),
    }
    Vec::new()
}

/// A cost read finished.
pub fn on_read(state: &mut State, output: CostOutput) -> Vec<Cmd> {
    match output {
        CostOutput::Spend(report) => {
            state.cost.spend_loading = false;
            let Some(account) = state.session.identity.as_ref().map(|i| i.account.clone()) else {
                state.cost.spend = Some(*report);
                return Vec::new();
            };
            state.cost.spend_account = Some(account.clone());
            state.cost.spend = Some((*report).clone());
            vec![Cmd::Cost(CostCmd::StoreCache {
                account,
                report,
                daily_limit: state.config.cost.daily_call_budget,
            })]
        }
        CostOutput::Idle(mut report) => {
            state.cost.idle_loading = false;
            crate::cost::idle::price(&mut report, &state.cost.catalogue());
            state.cost.marked.clear();
            state.cost.selected = 0;
            state.cost.idle = Some(*report);
            Vec::new()
        }
    }
}

pub fn read_failed(state: &mut State, view: CostView, e: &ProviderError) {
    match view {
        CostView::Spend => {
            state.cost.spend_loading = false;
            state.cost.spend_error = Some(e.to_string());
        }
        CostView::Idle => {
            state.cost.idle_loading = false;
            state.cost.idle_error = Some(e.to_string());
        }
    }
}

/// A reaping change finished: say how, and scan again.
pub fn mutation_done(
    state: &mut State,
    job: crate::model::JobId,
    op: &CostMutation,
    result: Result<MutationOutput, String>,
) -> Vec<Cmd> {
    let operation = crate::ops::Mutation::name(op);
    match result {
        Ok(output) => state.toast(
            ToastLevel::Info,
            format!("job {job} {operation}: {}", output.summary()),
        ),
        Err(e) => state.toast(
            ToastLevel::Error,
            format!("job {job} {operation} failed: {e}"),
        ),
    }
    find_idle(state)
}

/// `r` in the Cost pane: fetch the spend again (explicit: it may cost money).
pub fn refresh(state: &mut State) -> Vec<Cmd> {
    match state.cost.section {
        Section::Idle => find_idle(state),
        Section::Stacks => estimate_stacks(state),
        Section::Spend => fetch_spend(state, false),
    }
}

pub fn cycle_section(state: &mut State, forward: bool) {
    let i = Section::ALL
        .iter()
        .position(|s| *s == state.cost.section)
        .unwrap_or(0);
    let n = Section::ALL.len();
    state.cost.section = Section::ALL[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }];
    state.cost.selected = 0;
}

pub fn move_selection(state: &mut State, action: ShellAction) {
    state.cost.selected = crate::tui::shell::step(state.cost.selected, state.cost.rows(), action);
}

/// Space on an idle finding: mark it for reaping (again: unmark).
pub fn toggle_mark(state: &mut State) {
    state.cost.section = Section::Idle;
    let Some(id) = state
        .cost
        .idle
        .as_ref()
        .and_then(|i| i.findings.get(state.cost.selected))
        .map(|f| f.id.clone())
    else {
        return;
    };
    if !state.cost.marked.remove(&id) {
        state.cost.marked.insert(id);
    }
}

/// `x`: reap the marked findings (or the selected one) through the gate.
pub fn reap(state: &mut State) -> Vec<Cmd> {
    let Some(report) = &state.cost.idle else {
        state.toast(
            ToastLevel::Info,
            "no idle scan yet: i scans for idle resources",
        );
        return Vec::new();
    };
    let unknown = state
        .cost
        .marked
        .iter()
        .find(|id| !report.findings.iter().any(|f| &f.id == *id))
        .cloned();
    if let Some(unknown) = unknown {
        state.toast(
            ToastLevel::Error,
            format!("{unknown} is not among the idle findings (i scans again)"),
        );
        return Vec::new();
    }
    let findings: Vec<_> = if state.cost.marked.is_empty() {
        report
            .findings
            .get(state.cost.selected)
            .cloned()
            .into_iter()
            .collect()
    } else {
        report
            .findings
            .iter()
            .filter(|f| state.cost.marked.contains(&f.id))
            .cloned()
            .collect()
    };
    let Some(account) = state.session.identity.as_ref().map(|i| i.account.clone()) else {
        state.toast(
            ToastLevel::Error,
            "the AWS account is not known yet (STS has not answered)",
        );
        return Vec::new();
    };
    let op = match plan::reap(&*state, &account, &findings) {
        Ok(op) => op,
        Err(e) => {
            state.toast(ToastLevel::Error, e.to_string());
            return Vec::new();
        }
    };
    match state.gate.request(crate::ops::MutatingOp::Cost(op)) {
        Ok(request) => state.open_confirm(request),
        Err(refusal) => state.toast(ToastLevel::Error, format!("refused: {refusal}")),
    }
    Vec::new()
}

/// The cost verdict of a deploy the console is about to ask for: `before` is an update's
/// current template and parameter values, `after` what will be deployed.
pub fn deploy_verdict(
    state: &State,
    account: &str,
    region: &str,
    environment: crate::model::Environment,
    before: Option<(&str, &BTreeMap<String, String>)>,
    after: (&str, &BTreeMap<String, String>),
    origin: &str,
) -> crate::cost::verdict::CostVerdict {
    if after.0.trim().is_empty() {
        return crate::cost::verdict::CostVerdict::unavailable(
            "the template text is not available, so it was not estimated",
            environment,
            state.config.cost.budget_for(environment),
        );
    }
    let catalogue = state.cost.catalogue();
    let spend = state
        .cost
        .spend
        .as_ref()
        .filter(|_| state.cost.spend_account.as_deref() == Some(account))
        .map(|r| (r, account));
    plan::change_verdict(
        &catalogue,
        &state.cost.usage,
        region,
        before.map(|(body, parameters)| plan::Side { body, parameters }),
        plan::Side {
            body: after.0,
            parameters: after.1,
        },
        origin,
        environment,
        &state.config.cost,
        spend,
        state.now_ms,
    )
}
