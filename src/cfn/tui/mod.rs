//! CloudFormation's panes: the stack inventory and a stack's detail, the deploy flow (picker,
//! form, change-set review) and the keys on a stack. Pure like `state::update`: effects are
//! returned as [`Cmd`]s.

pub mod deploy;
pub(crate) mod dialog_view;
pub mod flows;
pub mod form;
pub(crate) mod form_view;
pub(crate) mod inventory_view;
pub(crate) mod preview_view;
pub mod stack_actions;
pub(crate) mod stack_tabs_view;

use crate::cfn::model::{ChangeSetOutcome, StackDetail, StackDrift, StackEvent, StackSummary};
use crate::cfn::ops::{CfnMutation, CfnRead};
use crate::cfn::port::{CfnOutcome, CfnOutput};
use crate::engine::MutationOutput;
use crate::engine::ports::ProviderError;
use crate::ops::{ReadOp, ReadScope};
use crate::tui::shell::{self, ShellAction};
use crate::tui::state::{Cmd, State, ToastLevel};
use std::collections::HashMap;

/// Which CloudFormation view a read feeds (see `tui::state::ViewKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CfnView {
    StackList,
    StackDetail,
    /// A stack's template, fetched to update or judge the stack.
    StackTemplate,
    Drift,
    Follow,
    /// A stack's recent events, asked for on their own.
    Events,
}

impl CfnView {
    pub fn of(op: &CfnRead) -> CfnView {
        match op {
            CfnRead::ListStacks { .. } => CfnView::StackList,
            CfnRead::DescribeStack { .. } => CfnView::StackDetail,
            CfnRead::GetTemplate { .. } => CfnView::StackTemplate,
            CfnRead::DetectDrift { .. } => CfnView::Drift,
            CfnRead::FollowStack { .. } => CfnView::Follow,
            CfnRead::StackEvents { .. } => CfnView::Events,
        }
    }

    /// Only the latest read of a view counts; drift checks and follows of different stacks
    /// run side by side (no key).
    pub fn supersede_key(self) -> Option<&'static str> {
        match self {
            CfnView::StackList => Some("stack-list"),
            CfnView::StackDetail => Some("stack-detail"),
            CfnView::StackTemplate => Some("stack-template"),
            CfnView::Drift | CfnView::Follow | CfnView::Events => None,
        }
    }

    pub fn from_key(key: &str) -> Option<CfnView> {
        [
            CfnView::StackList,
            CfnView::StackDetail,
            CfnView::StackTemplate,
        ]
        .into_iter()
        .find(|v| v.supersede_key() == Some(key))
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

pub(crate) fn scope(state: &State) -> ReadScope {
    ReadScope {
        region: state
            .session
            .region
            .clone()
            .unwrap_or_else(|| "the default region".into()),
    }
}

pub(crate) fn describe(state: &State, stack: &StackSummary) -> ReadOp {
    ReadOp::Cfn(CfnRead::DescribeStack {
        scope: scope(state),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    })
}

/// Reload the stack list.
pub(crate) fn refresh_stacks(state: &mut State) -> Vec<Cmd> {
    state.inventory.loading = true;
    vec![Cmd::Read(ReadOp::Cfn(CfnRead::ListStacks {
        scope: scope(state),
    }))]
}

/// `r` in Inventory: the open stack, else the list.
pub(crate) fn refresh(state: &mut State) -> Vec<Cmd> {
    match &state.inventory.detail {
        Some(view) => {
            let op = describe(state, &view.stack.clone());
            vec![Cmd::Read(op)]
        }
        None => refresh_stacks(state),
    }
}

/// Refresh every 5 s while a stack is `*_IN_PROGRESS`, otherwise every minute; each failed
/// refresh doubles the interval, up to 5 minutes.
fn refresh_interval_ms(state: &State) -> i64 {
    let base: i64 = if state.inventory.any_in_progress() {
        5_000
    } else {
        60_000
    };
    let factor = 1_i64 << state.inventory.refresh_failures.min(6);
    (base * factor).min(300_000)
}

/// The periodic, quiet refresh: the list, and the open detail while its stack moves.
pub(crate) fn periodic_refresh(state: &mut State) -> Vec<Cmd> {
    let inv = &state.inventory;
    // Before the first answer (or the first failure) the initial load is in charge.
    let started = inv.loaded || inv.next_refresh_ms > 0;
    if !started || inv.loading || state.now_ms < inv.next_refresh_ms {
        return Vec::new();
    }
    state.inventory.next_refresh_ms = state.now_ms + refresh_interval_ms(state);
    let mut cmds = vec![Cmd::Refresh(ReadOp::Cfn(CfnRead::ListStacks {
        scope: scope(state),
    }))];
    if let Some(view) = &state.inventory.detail
        && view.stack.is_moving()
    {
        cmds.push(Cmd::Refresh(describe(state, &view.stack)));
    }
    cmds
}

/// `Enter` on a stack: its detail.
pub(crate) fn open(state: &mut State) -> Vec<Cmd> {
    if state.inventory.detail.is_some() {
        return Vec::new();
    }
    let Some(stack) = state.inventory.selected_stack().cloned() else {
        return Vec::new();
    };
    let op = describe(state, &stack);
    state.inventory.detail = Some(StackDetailView::new(stack));
    vec![Cmd::Read(op)]
}

/// `Esc` in a stack's detail: back to the list. False when there was no detail to close.
pub(crate) fn back(state: &mut State) -> bool {
    if state.inventory.detail.take().is_none() {
        return false;
    }
    true
}

pub(crate) fn move_selection(state: &mut State, action: ShellAction) {
    match &mut state.inventory.detail {
        Some(view) => {
            let rows = view.rows(state.inventory.drift.get(&view.stack.id));
            view.scroll = shell::step(view.scroll, rows, action)
        }
        None => {
            state.inventory.selected = shell::step(
                state.inventory.selected,
                state.inventory.visible.len(),
                action,
            )
        }
    }
}

/// `]`/`[` in a stack's detail: the next or previous section.
pub(crate) fn cycle_tab(state: &mut State, forward: bool) {
    if let Some(view) = &mut state.inventory.detail {
        let i = DetailTab::ALL
            .iter()
            .position(|t| *t == view.tab)
            .unwrap_or(0);
        let n = DetailTab::ALL.len();
        let next = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        view.tab = DetailTab::ALL[next];
        view.scroll = 0;
    }
}

/// A CloudFormation read finished. `background`: a quiet refresh, which draws nothing when
/// nothing changed.
pub(crate) fn on_read(state: &mut State, output: CfnOutput, background: bool) -> Vec<Cmd> {
    match output {
        CfnOutput::Stacks(stacks) => {
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
        CfnOutput::StackDetail(detail) => {
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
        }
        CfnOutput::Template { stack_id, body, .. } => {
            return crate::compliance::tui::template_arrived(state, &stack_id, &body);
        }
        CfnOutput::Drift(drift) => stack_actions::drift_arrived(state, *drift),
        CfnOutput::Events {
            stack_id, events, ..
        } => {
            let mut shown = false;
            for event in events.into_iter().rev() {
                shown |= on_stack_event(state, &stack_id, event);
            }
            state.quiet = !shown;
        }
        CfnOutput::Followed { stack_id, summary } => {
            state.toast(ToastLevel::Info, summary);
            let mut cmds = refresh_stacks(state);
            if let Some(view) = &state.inventory.detail
                && view.stack.id == stack_id
            {
                cmds.push(Cmd::Read(describe(state, &view.stack)));
            }
            return cmds;
        }
    }
    Vec::new()
}

/// A followed stack's event, as it happened: on top of the open detail's Events tab. Whether
/// the screen changed.
pub(crate) fn on_stack_event(state: &mut State, stack_id: &str, event: StackEvent) -> bool {
    if let Some(view) = &mut state.inventory.detail
        && view.stack.id == stack_id
        && let Some(detail) = &mut view.detail
        && !detail.events.iter().any(|e| e.event_id == event.event_id)
    {
        // Newest first, as DescribeStackEvents lists them.
        detail.events.insert(0, event);
        return true;
    }
    false
}

/// A CloudFormation read failed: the view it fed says so.
pub(crate) fn read_failed(state: &mut State, view: CfnView, error: &ProviderError) {
    let text = error.to_string();
    match view {
        CfnView::StackList => {
            state.inventory.loading = false;
            state.inventory.error = Some(text);
            state.inventory.refresh_failures += 1;
            state.inventory.next_refresh_ms = state.now_ms + refresh_interval_ms(state);
        }
        CfnView::StackDetail => {
            if let Some(detail) = &mut state.inventory.detail {
                detail.error = Some(text);
            }
        }
        CfnView::StackTemplate => {
            crate::compliance::tui::template_failed(state);
        }
        CfnView::Drift | CfnView::Follow | CfnView::Events => {}
    }
}

/// A CloudFormation change finished: say how, offer a computed change set's review, and
/// reload what it changed (the list, and the open detail: protection, status, events).
pub(crate) fn mutation_done(
    state: &mut State,
    job: crate::model::JobId,
    op: &CfnMutation,
    result: Result<MutationOutput, String>,
) -> Vec<Cmd> {
    let operation = crate::ops::Mutation::name(op);
    match result {
        Ok(MutationOutput::Cfn(CfnOutcome::ChangeSet(ChangeSetOutcome::Ready(preview)))) => {
            state.toast(
                ToastLevel::Info,
                format!(
                    "change set {} for {} is ready: review it ({})",
                    preview.change_set_name,
                    preview.stack_name,
                    preview.counts()
                ),
            );
            let cost = match op {
                CfnMutation::CreateChangeSet(c) => c.cost.clone(),
                _ => crate::cost::verdict::CostVerdict::none(),
            };
            deploy::change_set_ready(state, preview, &cost);
        }
        Ok(MutationOutput::Cfn(CfnOutcome::ChangeSet(ChangeSetOutcome::NoChanges {
            stack_name,
            message,
        }))) => state.toast(
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
    let mut cmds = refresh_stacks(state);
    if let Some(view) = &state.inventory.detail {
        cmds.push(Cmd::Read(describe(state, &view.stack)));
    }
    cmds
}
