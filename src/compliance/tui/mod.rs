//! The Compliance pane's state and update logic: the report on screen (the template library
//! judged with defaults, or one deployed stack), its tree (family → control → rule →
//! resource), the detail of the selected row, and exports.
//!
//! Pure like `state::update`: effects are returned as [`Cmd`]s. No rule is evaluated here: a
//! user's rule may run up to its time limit, so the library (`Cmd::CheckLibrary`) and a
//! stack's template (`Cmd::JudgeStack`) are judged off the UI thread and come back as
//! messages.

pub mod export;
pub(crate) mod view;

use crate::cfn::library;
use crate::cfn::model::StackSummary;
use crate::cfn::ops::CfnRead;
use crate::compliance::Checker;
use crate::compliance::export::Format;
use crate::compliance::report::{ControlState, Report};
use crate::model::Environment;
use crate::ops::ReadOp;
use crate::registry::{self, Action, Context, Pane};
use crate::tui::shell::ShellAction;
use crate::tui::state::{Cmd, Mode, State, ToastLevel};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// The bundled rules without user files: what the state starts with until the app loop has
/// loaded the user's policies and waivers (and what tests use). Built once per process.
pub fn bundled_checker() -> Arc<Checker> {
    static BUNDLED: OnceLock<Arc<Checker>> = OnceLock::new();
    BUNDLED.get_or_init(|| Arc::new(Checker::bundled())).clone()
}

/// The checker handed to a blocking task (its rule pack has no `Debug`, `Cmd` needs one).
#[derive(Clone)]
pub struct SharedChecker(pub Arc<Checker>);

impl std::fmt::Debug for SharedChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checker({} rules)", self.0.pack.rules().count())
    }
}

/// A stack a report was made of, so a finding can lead back to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub id: String,
    pub name: String,
}

/// What judging a deployed stack's template needs, handed to a blocking task.
#[derive(Debug)]
pub struct StackJudgement {
    pub checker: SharedChecker,
    pub stack: StackRef,
    pub text: String,
    pub parameters: BTreeMap<String, String>,
    pub environment: Environment,
}

impl StackJudgement {
    /// Judge it (on a blocking thread).
    pub fn run(self) -> JudgedReport {
        judge_stack(
            &self.checker.0,
            self.stack,
            &self.text,
            &self.parameters,
            self.environment,
        )
    }
}

/// A report with what it was made of: the template texts (for excerpts around a finding's
/// line), keyed by the findings' `source`.
#[derive(Debug, Clone)]
pub struct JudgedReport {
    /// What the report covers, for the pane's title.
    pub title: String,
    pub report: Report,
    pub texts: HashMap<String, String>,
    pub stack: Option<StackRef>,
}

#[derive(Default)]
pub struct ComplianceState {
    /// The rule pack, user policies and waivers, once loaded off the UI thread (see
    /// [`ComplianceState::checker`]).
    pub checker: Option<Arc<Checker>>,
    pub current: Option<JudgedReport>,
    /// The library is being judged (off the UI thread).
    pub judging: bool,
    /// A stack's template is being judged (off the UI thread).
    pub judging_stack: bool,
    /// A stack whose template was asked for, to judge it.
    pub pending_stack: Option<StackRef>,
    /// Expanded tree nodes (see [`Row::key`]).
    pub expanded: HashSet<String>,
    /// Position in [`ComplianceState::rows`].
    pub selected: usize,
}

impl ComplianceState {
    /// The loaded checker, or the bundled rules until the user's files are loaded (and in
    /// tests). Neither is built before the first frame.
    pub fn checker(&self) -> Arc<Checker> {
        self.checker.clone().unwrap_or_else(bundled_checker)
    }
}

/// One visible row of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Family {
        id: String,
        title: String,
        state: ControlState,
        controls: usize,
    },
    /// Index into `Report::controls`.
    Control(usize),
    /// The findings of one rule under one control.
    Rule {
        control: usize,
        rule: String,
        findings: Vec<usize>,
    },
    /// One finding (index into `Report::findings`): a resource that failed the rule.
    Resource(usize),
    /// A rule that could not judge a source (index into `Report::rule_errors`), under a
    /// control in state error.
    RuleError(usize),
}

impl Row {
    pub fn depth(&self) -> usize {
        match self {
            Row::Family { .. } => 0,
            Row::Control(_) => 1,
            Row::Rule { .. } | Row::RuleError(_) => 2,
            Row::Resource(_) => 3,
        }
    }

    /// The key that marks it expanded; leaves have none.
    fn key(&self, report: &Report) -> Option<String> {
        match self {
            Row::Family { id, .. } => Some(format!("f:{id}")),
            Row::Control(i) => Some(format!("c:{}", report.controls[*i].control.id)),
            Row::Rule { control, rule, .. } => {
                Some(format!("r:{}:{rule}", report.controls[*control].control.id))
            }
            Row::Resource(_) | Row::RuleError(_) => None,
        }
    }
}

impl ComplianceState {
    /// The visible rows: families, and below the expanded ones their controls, rules and
    /// resources. A report has tens of controls: rebuilt when needed, not kept.
    pub fn rows(&self) -> Vec<Row> {
        let Some(judged) = &self.current else {
            return Vec::new();
        };
        let report = &judged.report;
        let open = |key: String| self.expanded.contains(&key);
        let mut families: Vec<(String, String, Vec<usize>)> = Vec::new();
        for (i, c) in report.controls.iter().enumerate() {
            match families.last_mut() {
                Some((family, _, list)) if *family == c.control.family => list.push(i),
                _ => families.push((
                    c.control.family.clone(),
                    c.control.family_title.clone(),
                    vec![i],
                )),
            }
        }
        let mut rows = Vec::new();
        for (id, title, controls) in families {
            let state = controls
                .iter()
                .map(|&i| report.controls[i].state)
                .min()
                .unwrap_or(ControlState::NotApplicable);
            let expanded = open(format!("f:{id}"));
            rows.push(Row::Family {
                id,
                title,
                state,
                controls: controls.len(),
            });
            if !expanded {
                continue;
            }
            for ci in controls {
                rows.push(Row::Control(ci));
                let control = &report.controls[ci];
                if !open(format!("c:{}", control.control.id)) {
                    continue;
                }
                // Why it is in state error first: the rules that could not judge.
                rows.extend(
                    report
                        .rule_errors
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| control.rules.contains(&e.rule))
                        .map(|(i, _)| Row::RuleError(i)),
                );
                // Findings grouped by rule, rules in the order they first appear.
                let mut by_rule: Vec<(String, Vec<usize>)> = Vec::new();
                for &fi in &control.findings {
                    let rule = &report.findings[fi].rule;
                    match by_rule.iter_mut().find(|(r, _)| r == rule) {
                        Some((_, list)) => list.push(fi),
                        None => by_rule.push((rule.clone(), vec![fi])),
                    }
                }
                for (rule, findings) in by_rule {
                    let key = format!("r:{}:{rule}", control.control.id);
                    rows.push(Row::Rule {
                        control: ci,
                        rule,
                        findings: findings.clone(),
                    });
                    if open(key) {
                        rows.extend(findings.into_iter().map(Row::Resource));
                    }
                }
            }
        }
        rows
    }

    pub fn selected_row(&self) -> Option<Row> {
        self.rows().into_iter().nth(self.selected)
    }

    /// Show a new report: failed families start expanded, so what needs attention is on
    /// screen at once; a control in state error starts open too, showing why.
    pub fn show(&mut self, judged: JudgedReport) {
        self.expanded.clear();
        for c in &judged.report.controls {
            if matches!(c.state, ControlState::Failed | ControlState::Error) {
                self.expanded.insert(format!("f:{}", c.control.family));
            }
            if c.state == ControlState::Error {
                self.expanded.insert(format!("c:{}", c.control.id));
            }
        }
        self.current = Some(judged);
        self.selected = 0;
    }
}

/// Judge every library template with its defaults (off the UI thread: see `Cmd::CheckLibrary`).
pub fn judge_library(checker: &Checker) -> JudgedReport {
    let mut judged = Vec::new();
    let mut texts = HashMap::new();
    let mut errors = Vec::new();
    for entry in library::LIBRARY {
        let source = format!("templates/{}.yaml", entry.name);
        match checker.judge_template(entry.body, &source, &BTreeMap::new(), None) {
            Ok(eval) => judged.push((source.clone(), eval)),
            Err(e) => errors.push(e.to_string()),
        }
        texts.insert(source, entry.body.to_string());
    }
    let mut report = checker.report(judged);
    report.errors.extend(errors);
    JudgedReport {
        title: format!(
            "template library ({} templates, defaults)",
            library::LIBRARY.len()
        ),
        report,
        texts,
        stack: None,
    }
}

/// Judge one deployed stack's template with its current parameters.
pub fn judge_stack(
    checker: &Checker,
    stack: StackRef,
    text: &str,
    parameters: &BTreeMap<String, String>,
    environment: Environment,
) -> JudgedReport {
    let source = format!("stack:{}", stack.name);
    let env = (environment != Environment::Unmapped).then(|| environment.as_str());
    let (judged, error) = match checker.judge_template(text, &source, parameters, env) {
        Ok(eval) => (vec![(source.clone(), eval)], None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut report = checker.report(judged);
    report.errors.extend(error);
    JudgedReport {
        title: format!("stack {} ({environment})", stack.name),
        report,
        texts: HashMap::from([(source, text.to_string())]),
        stack: Some(stack),
    }
}

/// `C` on a stack, or `:check STACK`: fetch its template (a read) to judge it.
pub fn check_stack(state: &mut State, stack: StackSummary) -> Vec<Cmd> {
    state.compliance.pending_stack = Some(StackRef {
        id: stack.id.clone(),
        name: stack.name.clone(),
    });
    state.focus = Pane::Compliance;
    state.toast(
        ToastLevel::Info,
        format!("fetching the template of {} to judge it…", stack.name),
    );
    vec![Cmd::Read(ReadOp::Cfn(CfnRead::GetTemplate {
        scope: crate::cfn::tui::scope(state),
        stack_id: stack.id,
        stack_name: stack.name,
    }))]
}

/// `:check [STACK]`: a listed stack, or without a name the library again.
pub fn check_command(state: &mut State, stack: Option<&str>) -> Vec<Cmd> {
    state.focus = Pane::Compliance;
    let Some(name) = stack else {
        return check_library(state);
    };
    match state
        .inventory
        .stacks
        .iter()
        .find(|s| s.name == name && s.status != "DELETE_COMPLETE")
        .cloned()
    {
        Some(stack) => check_stack(state, stack),
        None => {
            state.toast(
                ToastLevel::Error,
                format!("no stack named {name} in the list (r refreshes it)"),
            );
            Vec::new()
        }
    }
}

pub fn check_library(state: &mut State) -> Vec<Cmd> {
    state.compliance.judging = true;
    vec![Cmd::CheckLibrary(SharedChecker(state.compliance.checker()))]
}

/// The user's policies and waivers were loaded (off the UI thread, after the first frame):
/// use them from now on, and judge the library with them.
pub fn checker_loaded(state: &mut State, checker: SharedChecker) -> Vec<Cmd> {
    state.compliance.checker = Some(checker.0);
    check_library(state)
}

/// GetTemplate answered for a stack the pane asked about: judge it (off the UI thread) with
/// the stack's current parameters when its detail is loaded (else the template's defaults).
pub fn template_arrived(state: &mut State, stack_id: &str, body: &str) -> Vec<Cmd> {
    let Some(stack) = state.compliance.pending_stack.take_if(|s| s.id == stack_id) else {
        return Vec::new();
    };
    let parameters: BTreeMap<String, String> = match &state.inventory.detail {
        Some(view) if view.stack.id == stack.id => view
            .detail
            .iter()
            .flat_map(|d| &d.parameters)
            // NoEcho values come back masked: leave them to the template's default.
            .filter(|p| p.value != "****")
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let probe = StackSummary {
        id: stack.id.clone(),
        ..StackSummary::default()
    };
    let environment = state.environment_of(probe.account_from_arn());
    state.compliance.judging_stack = true;
    vec![Cmd::JudgeStack(Box::new(StackJudgement {
        checker: SharedChecker(state.compliance.checker()),
        stack,
        text: body.to_string(),
        parameters,
        environment,
    }))]
}

/// A stack's report arrived from the blocking task.
pub fn stack_judged(state: &mut State, judged: JudgedReport) {
    state.compliance.judging_stack = false;
    let failed = judged.report.failures().count();
    let errors = judged.report.rule_errors.len();
    state.toast(
        if errors > 0 {
            ToastLevel::Error
        } else {
            ToastLevel::Info
        },
        if errors > 0 {
            format!(
                "{}: {failed} unwaived finding(s); {errors} rule error(s): those controls were not judged",
                judged.title
            )
        } else {
            format!("{}: {failed} unwaived finding(s)", judged.title)
        },
    );
    state.compliance.show(judged);
}

/// The stack's template could not be read.
pub fn template_failed(state: &mut State) {
    if let Some(stack) = state.compliance.pending_stack.take() {
        state.toast(
            ToastLevel::Error,
            format!(
                "cannot judge {}: its template could not be read",
                stack.name
            ),
        );
    }
}

/// The library's report arrived from the blocking task.
pub fn library_judged(state: &mut State, judged: JudgedReport) {
    state.compliance.judging = false;
    // A stack's report on screen stays until the person asks for the library again.
    let showing_stack = state
        .compliance
        .current
        .as_ref()
        .is_some_and(|c| c.stack.is_some());
    if !showing_stack || state.focus == Pane::Compliance {
        state.compliance.show(judged);
    }
}

/// j/k, Enter/l (expand, or step into), h (collapse, or step out), g/G.
pub fn on_tree_action(state: &mut State, action: ShellAction) -> Vec<Cmd> {
    let rows = state.compliance.rows();
    let last = rows.len().saturating_sub(1);
    let selected = state.compliance.selected.min(last);
    // The selected row's expand key (None for a leaf) and depth.
    let Some((key, depth)) = state.compliance.current.as_ref().and_then(|c| {
        rows.get(selected)
            .map(|row| (row.key(&c.report), row.depth()))
    }) else {
        return Vec::new();
    };
    let c = &mut state.compliance;
    match action {
        ShellAction::Up => c.selected = selected.saturating_sub(1),
        ShellAction::Down => c.selected = (selected + 1).min(last),
        ShellAction::PageUp => c.selected = selected.saturating_sub(10),
        ShellAction::PageDown => c.selected = (selected + 10).min(last),
        ShellAction::Top => c.selected = 0,
        ShellAction::Bottom => c.selected = last,
        ShellAction::Open => match key {
            Some(key) if !c.expanded.contains(&key) => {
                c.expanded.insert(key);
            }
            // Open already: step onto its first child, as in a file tree.
            Some(_) => c.selected = (selected + 1).min(last),
            None => return show_in_inventory(state),
        },
        ShellAction::Back => match key {
            Some(key) if c.expanded.contains(&key) => {
                c.expanded.remove(&key);
            }
            // Step out to the parent row.
            _ => {
                if let Some(parent) = rows[..selected].iter().rposition(|r| r.depth() < depth) {
                    c.selected = parent;
                }
            }
        },
        _ => {}
    }
    Vec::new()
}

/// `i` (or Enter on a resource of a stack's report): that stack in Inventory.
pub fn show_in_inventory(state: &mut State) -> Vec<Cmd> {
    let Some(stack) = state
        .compliance
        .current
        .as_ref()
        .and_then(|c| c.stack.clone())
    else {
        state.toast(
            ToastLevel::Info,
            "this report is of library templates, not a deployed stack",
        );
        return Vec::new();
    };
    let Some(pos) = state
        .inventory
        .visible
        .iter()
        .position(|&i| state.inventory.stacks[i].id == stack.id)
    else {
        state.toast(
            ToastLevel::Info,
            format!("stack {} is not in the (filtered) stack list", stack.name),
        );
        return Vec::new();
    };
    state.inventory.selected = pos;
    state.inventory.detail = None;
    state.focus = Pane::Inventory;
    Vec::new()
}

/// `e`: choose the export format.
pub fn open_export(state: &mut State) {
    if state.compliance.current.is_none() {
        state.toast(ToastLevel::Info, "no report to export yet");
        return;
    }
    state.mode = Mode::Export { selected: 0 };
}

pub fn on_export_key(state: &mut State, selected: usize, key: KeyEvent) -> Vec<Cmd> {
    let last = Format::ALL.len() - 1;
    // The first letter of a format picks it at once.
    if let KeyCode::Char(c) = key.code
        && let Some(format) = Format::ALL
            .iter()
            .find(|f| crate::compliance::tui::export::menu_key(**f) == c)
    {
        return export(state, *format);
    }
    let selected = match registry::lookup(&[Context::List], &key) {
        Some(Action::Shell(ShellAction::Up)) => selected.saturating_sub(1),
        Some(Action::Shell(ShellAction::Down)) => (selected + 1).min(last),
        Some(Action::Shell(ShellAction::Open)) => {
            return export(state, Format::ALL[selected.min(last)]);
        }
        Some(Action::Shell(ShellAction::Back)) => return Vec::new(),
        _ => selected,
    };
    state.mode = Mode::Export { selected };
    Vec::new()
}

/// `:export FORMAT`, or a choice in the menu: write the report off the UI thread.
pub fn export(state: &mut State, format: Format) -> Vec<Cmd> {
    let Some(current) = &state.compliance.current else {
        state.toast(ToastLevel::Info, "no report to export yet");
        return Vec::new();
    };
    vec![Cmd::ExportReport {
        report: Box::new(current.report.clone()),
        format,
        stamp: stamp(state.now_ms),
    }]
}

/// `20261122-101500` (UTC) for file names.
fn stamp(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The excerpt around `line` (1-based): up to `context` lines either side, numbered.
pub fn excerpt(text: &str, line: usize, context: usize) -> Vec<(usize, &str)> {
    let first = line.saturating_sub(context).max(1);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(first - 1)
        .take(line + context + 1 - first)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_is_utc_civil_time() {
        assert_eq!(stamp(1_700_000_010_000), "20231114-221330");
        assert_eq!(stamp(0), "19700101-000000");
    }

    #[test]
    fn excerpt_keeps_three_lines_each_side_within_the_text() {
        let text = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let lines: Vec<usize> = excerpt(text, 2, 3).iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5]);
        let lines: Vec<usize> = excerpt(text, 8, 3).iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![5, 6, 7, 8]);
    }

    #[test]
    fn the_library_passes_with_defaults() {
        let judged = judge_library(&Checker::bundled());
        assert_eq!(
            judged.report.failures().count(),
            0,
            "{:?}",
            judged.report.errors
        );
        assert_eq!(judged.texts.len(), library::LIBRARY.len());
    }
}
