//! The Jobs pane: every task the engine ran or runs, its state and its live log (follow,
//! scroll, search, cancel). Jobs belong to the engine, so the pane belongs to the shell.

use crate::actions;
use crate::engine::task::JobHandle;
use crate::model::{JobId, JobRecord};
use crate::registry::{ActionSpec, Context, KeyCode, Kind, bind, code, ctrl, hint, k};
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, State, ToastLevel};
use std::collections::HashMap;

actions! {
    /// The Jobs pane's actions.
    pub enum JobsAction {
        ListJobs => ActionSpec::new("list-jobs", "List the jobs opsdeck ran and runs (newest first), with their state and errors", Kind::Read)
            .command("jobs", &[], "")
            .help("focus Jobs: every job with its state and log")
            .schema(r#"{"type":"object","properties":{"limit":{"type":"integer","minimum":1,"maximum":100,"description":"how many, newest first (default 20)"}},"additionalProperties":false}"#)
            .answer(answer_jobs),
        OpenLog => ActionSpec::new("open-log", "Open the selected job's log", Kind::Ui)
            .binds(&[hint(Context::Jobs, &[code(KeyCode::Enter)], "log")])
            .help("open the job's log"),
        CancelJob => ActionSpec::new("cancel-job", "Cancel a running job", Kind::Ui)
            .binds(&[
                hint(Context::Jobs, &[k('c')], "cancel"),
                bind(Context::JobLog, &[k('c')]),
            ])
            .command("cancel", &[], "JOB")
            .help("cancel the job (a change AWS already accepted is only no longer followed)")
            .schema(r#"{"type":"object","properties":{"job":{"type":"integer","description":"the job id"}},"required":["job"],"additionalProperties":false}"#),
        ToggleFollow => ActionSpec::new("follow-log", "Follow the log on/off", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[k('f'), k('F')], "follow")])
            .help("follow the log on/off"),
        SearchNext => ActionSpec::new("next-match", "Next search match", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[k('n')], "next")])
            .help("next match"),
        CloseLog => ActionSpec::new("close-log", "Back to the job list", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[code(KeyCode::Esc), k('h')], "back")])
            .help("back to the job list"),
        SearchPrev => ActionSpec::new("previous-match", "Previous search match", Kind::Ui)
            .binds(&[bind(Context::JobLog, &[k('N')])])
            .help("previous match"),
        ToggleTimestamps => ActionSpec::new("log-timestamps", "Show the source's timestamps on/off", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[k('t')], "time")])
            .help("timestamps the source put on each line (a pod's log): show or hide"),
        ToggleWrap => ActionSpec::new("log-wrap", "Wrap long lines on/off", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[k('w')], "wrap")])
            .help("wrap long lines (else cut at the pane's edge)"),
        SaveLog => ActionSpec::new("save-log", "Save the job's whole log to a file", Kind::Ui)
            .binds(&[hint(Context::JobLog, &[ctrl('s')], "save")])
            .command("save", &[], "[FILE]")
            .help("save the whole log (every line) to FILE, or to the data dir's logs/")
            .schema(r#"{"type":"object","properties":{"file":{"type":"string"}},"additionalProperties":false}"#),
    }
}

/// `list-jobs` outside the pane: the newest jobs as the Jobs pane lists them.
fn answer_jobs<'a>(
    ctx: &'a dyn crate::ops::PlanCtx,
    args: &'a serde_json::Value,
) -> futures::future::BoxFuture<'a, Result<serde_json::Value, crate::ops::PlanError>> {
    Box::pin(async move {
        let limit = args
            .get("limit")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(20)
            .clamp(1, 100) as usize;
        let jobs: Vec<serde_json::Value> = ctx
            .jobs(limit)
            .into_iter()
            .map(|j| {
                serde_json::json!({
                    "id": j.id,
                    "state": j.state.as_str(),
                    "kind": j.kind.as_str(),
                    "operation": j.operation,
                    "title": j.title,
                    "target": j.target,
                    "error": j.error,
                })
            })
            .collect();
        Ok(serde_json::json!({ "jobs": jobs }))
    })
}

/// What a Jobs action does.
pub fn apply(state: &mut State, action: JobsAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        JobsAction::ListJobs => state.focus = crate::registry::Pane::Jobs,
        JobsAction::OpenLog => return open_log(state),
        JobsAction::CloseLog => state.jobs.log_open = false,
        JobsAction::CancelJob if !args.is_empty() => match args[0].parse::<JobId>() {
            Ok(id) => match state.jobs.records.iter().find(|r| r.id == id) {
                Some(record) if record.state.is_finished() => state.toast(
                    ToastLevel::Info,
                    format!("job {id} already {}", record.state.as_str()),
                ),
                _ => return vec![Cmd::CancelJob(id)],
            },
            Err(_) => state.toast(ToastLevel::Info, "usage: cancel JOB (a job number)"),
        },
        JobsAction::CancelJob => {
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
        JobsAction::ToggleFollow => {
            let log = &mut state.jobs.log;
            log.follow = !log.follow;
        }
        JobsAction::SearchNext => return jump_to_match(state, 1),
        JobsAction::SearchPrev => return jump_to_match(state, -1),
        JobsAction::ToggleTimestamps => {
            let log = &mut state.jobs.log;
            log.timestamps = !log.timestamps;
        }
        JobsAction::ToggleWrap => {
            let log = &mut state.jobs.log;
            log.wrap = !log.wrap;
        }
        JobsAction::SaveLog => return save_log(state, args.first().copied()),
    }
    Vec::new()
}

/// Ctrl-S in a log, or `:save [FILE]`: every line of the selected job's log, written off the
/// UI thread to FILE (which must not exist yet) or to `data_dir/logs/job-<id>-<ms>.log`.
fn save_log(state: &mut State, file: Option<&str>) -> Vec<Cmd> {
    let Some(id) = state.jobs.selected_record().map(|r| r.id) else {
        state.toast(ToastLevel::Info, "select a job in Jobs to save its log");
        return Vec::new();
    };
    let Some(handle) = state.jobs.handles.get(&id).cloned() else {
        state.toast(
            ToastLevel::Info,
            "this job's log is from an earlier session: Enter opens it first",
        );
        return Vec::new();
    };
    vec![Cmd::SaveLog {
        handle,
        file: file.map(std::path::PathBuf::from),
    }]
}

/// Open `job`'s log, following, as soon as it is listed (a log follow just asked for).
pub(crate) fn reveal(state: &mut State, job: JobId) {
    state.jobs.reveal = None;
    let Some(pos) = state
        .jobs
        .visible
        .iter()
        .position(|&i| state.jobs.records[i].id == job)
    else {
        return;
    };
    state.jobs.filter.clear();
    state.jobs.selected = pos;
    state.jobs.follow_newest = false;
    state.jobs.log_open = true;
    let keep = (state.jobs.log.timestamps, state.jobs.log.wrap);
    state.jobs.log = LogView::default();
    (state.jobs.log.timestamps, state.jobs.log.wrap) = keep;
    state.focus = crate::registry::Pane::Jobs;
}

/// `Enter` on a job: its log, read back from its spill file when it ran in an earlier session.
fn open_log(state: &mut State) -> Vec<Cmd> {
    if state.jobs.log_open {
        return Vec::new();
    }
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

pub struct LogView {
    pub follow: bool,
    /// First line shown when not following (seq).
    pub top: u64,
    pub search: Option<String>,
    pub matches: Vec<u64>,
    pub match_idx: usize,
    /// Lines read back from the spill file for a view that scrolled out of the in-memory ring
    /// (read off the UI thread: `Cmd::ReadLogWindow`).
    pub window: Option<LogWindow>,
    /// The window asked for and not here yet, so it is asked for once.
    pub window_asked: Option<(JobId, u64)>,
    /// Show the timestamp a source put at the start of each line (a pod's log), `t`.
    pub timestamps: bool,
    /// Wrap long lines instead of cutting them, `w`.
    pub wrap: bool,
}

/// Lines `start..` of a job's log, read back from its spill file.
#[derive(Debug, Clone)]
pub struct LogWindow {
    pub job: JobId,
    pub start: u64,
    pub lines: Vec<crate::engine::joblog::LogLine>,
}

impl Default for LogView {
    fn default() -> Self {
        LogView {
            follow: true,
            top: 0,
            search: None,
            matches: Vec::new(),
            match_idx: 0,
            window: None,
            window_asked: None,
            timestamps: false,
            wrap: false,
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
    /// A job whose log opens as soon as it is listed (a log follow just asked for).
    pub reveal: Option<JobId>,
}

impl JobsState {
    pub(crate) fn refilter(&mut self) {
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

    pub(crate) fn upsert(&mut self, record: JobRecord) {
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

/// Start a search of the selected job's log; the app loop runs it off the UI thread and
/// answers with `Msg::SearchDone`.
pub(crate) fn search_log(state: &mut State, needle: &str) -> Vec<Cmd> {
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

pub(crate) fn search_done(
    state: &mut State,
    job: JobId,
    needle: String,
    found: Result<Vec<u64>, String>,
) -> Vec<Cmd> {
    let current = state.jobs.selected_record().map(|r| r.id);
    // A newer search, or another job selected since: this answer is stale.
    if current != Some(job) || state.jobs.log.search.as_deref() != Some(needle.as_str()) {
        return Vec::new();
    }
    match found {
        Ok(matches) if matches.is_empty() => {
            state.toast(ToastLevel::Warn, format!("not found: {needle}"))
        }
        Ok(matches) => {
            state.jobs.log.matches = matches;
            return jump_to_match(state, 0);
        }
        Err(e) => state.toast(ToastLevel::Error, format!("search failed: {e}")),
    }
    Vec::new()
}

fn jump_to_match(state: &mut State, delta: isize) -> Vec<Cmd> {
    let height = crate::tui::view::jobs::log_height(state) as u64;
    let log = &mut state.jobs.log;
    if log.matches.is_empty() {
        return Vec::new();
    }
    let n = log.matches.len() as isize;
    log.match_idx = (log.match_idx as isize + delta).rem_euclid(n) as usize;
    log.follow = false;
    log.top = log.matches[log.match_idx].saturating_sub(height / 2);
    read_window_if_needed(state)
}

/// The open log shows lines that left the in-memory ring: have them read back from the spill
/// file off the UI thread (once per position), so drawing never touches the disk.
pub(crate) fn read_window_if_needed(state: &mut State) -> Vec<Cmd> {
    if !state.jobs.log_open || state.jobs.log.follow {
        return Vec::new();
    }
    let Some(id) = state.jobs.selected_record().map(|r| r.id) else {
        return Vec::new();
    };
    let Some(handle) = state.jobs.handles.get(&id) else {
        return Vec::new();
    };
    let first_in_ring = handle
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first_in_ring();
    let view = &mut state.jobs.log;
    let top = view.top;
    let have = view
        .window
        .as_ref()
        .is_some_and(|w| w.job == id && w.start == top);
    if top >= first_in_ring || have || view.window_asked == Some((id, top)) {
        return Vec::new();
    }
    view.window_asked = Some((id, top));
    let count = crate::tui::view::jobs::log_height(state).max(1);
    vec![Cmd::ReadLogWindow {
        handle: handle.clone(),
        start: top,
        count,
    }]
}

/// Lines read back from a spill file arrived: kept when they are still what the view shows.
pub(crate) fn window_read(state: &mut State, window: Result<LogWindow, String>) {
    match window {
        Ok(window) => {
            let view = &mut state.jobs.log;
            if view.window_asked == Some((window.job, window.start)) {
                view.window_asked = None;
            }
            view.window = Some(window);
        }
        Err(e) => state.toast(ToastLevel::Error, format!("cannot read the log back: {e}")),
    }
}

pub(crate) fn scroll_log(state: &mut State, action: ShellAction) -> Vec<Cmd> {
    let Some(id) = state.jobs.selected_record().map(|r| r.id) else {
        return Vec::new();
    };
    let total = state
        .jobs
        .handles
        .get(&id)
        .map(|h| h.log.lock().unwrap_or_else(|p| p.into_inner()).total())
        .unwrap_or(0);
    let height = crate::tui::view::jobs::log_height(state).max(1) as u64;
    let bottom_top = total.saturating_sub(height);
    let log = &mut state.jobs.log;
    let top = if log.follow {
        bottom_top
    } else {
        log.top.min(bottom_top)
    };
    let page = height.max(2) - 1;
    let new_top = match action {
        ShellAction::Up => top.saturating_sub(1),
        ShellAction::Down => (top + 1).min(bottom_top),
        ShellAction::PageUp => top.saturating_sub(page),
        ShellAction::PageDown => (top + page).min(bottom_top),
        ShellAction::Top => 0,
        ShellAction::Bottom => bottom_top,
        _ => top,
    };
    log.top = new_top;
    // Reaching the bottom resumes following, as in `less +F`.
    log.follow =
        new_top >= bottom_top && action != ShellAction::Up && action != ShellAction::PageUp;
    read_window_if_needed(state)
}
