//! Kubernetes in the Inventory pane: what it lists (contexts, EKS clusters, or a watched
//! kind), the drill-downs (a workload's pods, a pod's containers), the describe/YAML view with
//! a pod's events, the `/` filter, the namespace scope, and how watch updates, read results
//! and finished changes fold into the state. Pure like `state::update`: effects are returned
//! as [`Cmd`]s.
//!
//! Over 800 lines because the lists, drill-downs and folds are one state machine over one view
//! state; drawing is in `view.rs`, tests in `tests.rs`.

pub(crate) mod dialog_view;
pub mod flows;
pub mod prompt;
#[cfg(test)]
mod tests;
pub(crate) mod view;

use crate::engine::ports::ProviderError;
use crate::kube::model::{
    ContextRef, EksCluster, KubeKind, KubeRow, KubeUpdate, KubeconfigView, PodRow,
};
use crate::kube::ops::{KubeRead, LogRequest, WorkloadKind};
use crate::kube::port::KubeOutput;
use crate::model::{Environment, JobId};
use crate::ops::ReadOp;
use crate::registry::Pane;
use crate::tui::shell::{self, ShellAction};
use crate::tui::state::{Cmd, Flow, Mode, State, ToastLevel};
use std::collections::HashMap;

/// Which Kubernetes read feeds which part of the console (see `tui::state::ViewKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KubeView {
    Contexts,
    Eks,
    Watch,
    Describe,
    Logs,
    /// The workloads judged for the Compliance pane.
    Workloads,
    /// Reads a plan or a tool makes (never submitted by the console itself).
    Plan,
}

impl KubeView {
    pub fn of(op: &KubeRead) -> KubeView {
        match op {
            KubeRead::ListContexts => KubeView::Contexts,
            KubeRead::ListEksClusters { .. } => KubeView::Eks,
            KubeRead::DescribeEksCluster { .. } => KubeView::Plan,
            KubeRead::Watch { .. } => KubeView::Watch,
            KubeRead::Describe { .. } => KubeView::Describe,
            KubeRead::Logs(_) => KubeView::Logs,
            KubeRead::ListWorkloads { .. } => KubeView::Workloads,
            KubeRead::GetScale { .. }
            | KubeRead::GetObject { .. }
            | KubeRead::FindObjects { .. }
            | KubeRead::ListPods { .. }
            | KubeRead::ListNodes { .. }
            | KubeRead::TailLogs(_) => KubeView::Plan,
        }
    }

    /// Only the latest read of a view counts; log follows run side by side.
    pub fn supersede_key(self) -> Option<&'static str> {
        match self {
            KubeView::Contexts => Some("contexts"),
            KubeView::Eks => Some("eks"),
            KubeView::Watch => Some("watch"),
            KubeView::Describe => Some("describe"),
            KubeView::Workloads => Some("workloads"),
            KubeView::Logs | KubeView::Plan => None,
        }
    }

    pub fn from_key(key: &str) -> Option<KubeView> {
        [
            KubeView::Contexts,
            KubeView::Eks,
            KubeView::Watch,
            KubeView::Describe,
            KubeView::Workloads,
        ]
        .into_iter()
        .find(|v| v.supersede_key() == Some(key))
    }
}

/// What the pane lists at the top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Contexts,
    Eks,
    Kind(KubeKind),
}

/// A step down from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drill {
    /// The pods of a deployment, statefulset or daemonset.
    Pods {
        kind: WorkloadKind,
        namespace: String,
        name: String,
        uid: String,
        selector: Vec<(String, String)>,
    },
    /// The containers of a pod.
    Containers {
        namespace: String,
        pod: String,
        uid: String,
    },
}

/// The describe/YAML view of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailView {
    pub kind: KubeKind,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub yaml: Option<String>,
    pub error: Option<String>,
    pub scroll: usize,
}

/// The watched objects of one kind.
#[derive(Debug, Clone, Default)]
pub struct KindRows {
    pub rows: Vec<KubeRow>,
    /// uid → position in `rows`.
    index: HashMap<String, usize>,
    /// A first list has arrived since the watch (re)started.
    pub listed: bool,
    /// Why its watch is away (rows stale until it is back).
    pub disconnected: Option<String>,
}

impl KindRows {
    fn replace(&mut self, rows: Vec<KubeRow>) {
        self.index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.uid().to_string(), i))
            .collect();
        self.rows = rows;
        self.listed = true;
        self.disconnected = None;
    }

    /// Insert or replace; `true` when it was new (the order changes).
    fn upsert(&mut self, row: KubeRow) -> bool {
        self.disconnected = None;
        match self.index.get(row.uid()) {
            Some(&i) => {
                self.rows[i] = row;
                false
            }
            None => {
                self.index.insert(row.uid().to_string(), self.rows.len());
                self.rows.push(row);
                true
            }
        }
    }

    fn remove(&mut self, uid: &str) -> bool {
        self.disconnected = None;
        let Some(i) = self.index.remove(uid) else {
            return false;
        };
        self.rows.swap_remove(i);
        if let Some(moved) = self.rows.get(i) {
            self.index.insert(moved.uid().to_string(), i);
        }
        true
    }

    fn clear(&mut self) {
        *self = KindRows::default();
    }

    pub fn get(&self, uid: &str) -> Option<&KubeRow> {
        self.index.get(uid).and_then(|&i| self.rows.get(i))
    }
}

/// Events kept per cluster: the newest win (events expire on the server after an hour).
pub const MAX_EVENTS: usize = 10_000;

#[derive(Default)]
pub struct KubeState {
    /// The Inventory pane lists Kubernetes (otherwise CloudFormation stacks).
    pub shown: bool,
    pub listing: Option<Listing>,
    pub drill: Vec<Drill>,
    pub detail: Option<DetailView>,
    /// The cluster shown and watched.
    pub context: Option<ContextRef>,
    /// The environment the shown cluster maps to.
    pub environment: Option<Environment>,
    /// The namespace scope; `None`: all namespaces.
    pub namespace: Option<String>,
    pub contexts: Option<KubeconfigView>,
    pub contexts_loading: bool,
    pub contexts_error: Option<String>,
    /// Connect to the starting context once the contexts are known.
    pub start_pending: bool,
    pub eks: Vec<EksCluster>,
    pub eks_loaded: bool,
    pub eks_loading: bool,
    pub eks_error: Option<String>,
    /// The running watch (a quiet job: it leaves no record in Jobs).
    pub watch_job: Option<JobId>,
    /// Why the watch could not start, or ended.
    pub watch_error: Option<String>,
    pub kinds: HashMap<KubeKind, KindRows>,
    pub filter: String,
    /// What the list shows, in order: indices into the listing's rows.
    pub visible: Vec<usize>,
    pub selected: usize,
    /// Rows were added or removed (or the filter may now match differently): `visible` is
    /// recomputed once the current batch of updates is folded in.
    pub dirty: bool,
}

impl KubeState {
    pub fn rows(&self, kind: KubeKind) -> &[KubeRow] {
        self.kinds.get(&kind).map_or(&[], |k| k.rows.as_slice())
    }

    pub fn kind(&self, kind: KubeKind) -> Option<&KindRows> {
        self.kinds.get(&kind)
    }

    /// What the list shows now: the innermost drill-down, else the listing.
    pub fn shown_view(&self) -> Shown<'_> {
        match self.drill.last() {
            Some(Drill::Pods { .. }) => Shown::Kind(KubeKind::Pod),
            Some(Drill::Containers { uid, .. }) => Shown::Containers(self.pod(uid)),
            None => match self.listing.unwrap_or(Listing::Kind(KubeKind::Pod)) {
                Listing::Contexts => Shown::Contexts,
                Listing::Eks => Shown::Eks,
                Listing::Kind(k) => Shown::Kind(k),
            },
        }
    }

    pub fn pod(&self, uid: &str) -> Option<&PodRow> {
        match self.kind(KubeKind::Pod)?.get(uid)? {
            KubeRow::Pod(p) => Some(p),
            _ => None,
        }
    }

    /// The row under the selection, for a watched kind.
    pub fn selected_row(&self) -> Option<&KubeRow> {
        let Shown::Kind(kind) = self.shown_view() else {
            return None;
        };
        let i = *self.visible.get(self.selected)?;
        self.rows(kind).get(i)
    }

    pub fn selected_pod(&self) -> Option<&PodRow> {
        match self.selected_row()? {
            KubeRow::Pod(p) => Some(p),
            _ => None,
        }
    }

    /// The container under the selection (containers drill-down).
    pub fn selected_container(&self) -> Option<(&PodRow, &crate::kube::model::ContainerRow)> {
        let Shown::Containers(Some(pod)) = self.shown_view() else {
            return None;
        };
        let i = *self.visible.get(self.selected)?;
        pod.containers.get(i).map(|c| (pod, c))
    }

    /// Recompute `visible`, keeping the selection on the same object.
    pub fn refilter(&mut self) {
        let keep = self.selection_key();
        let needle = self.filter.to_lowercase();
        let matches = |texts: &[&str]| {
            needle.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(&needle))
        };
        let visible: Vec<usize> = match self.shown_view() {
            Shown::Contexts => {
                let contexts = self.contexts.as_ref().map_or(&[][..], |c| &c.contexts[..]);
                let mut v: Vec<usize> = (0..contexts.len())
                    .filter(|&i| matches(&[&contexts[i].name, &contexts[i].cluster]))
                    .collect();
                v.sort_by(|&a, &b| contexts[a].name.cmp(&contexts[b].name));
                v
            }
            Shown::Eks => {
                let mut v: Vec<usize> = (0..self.eks.len())
                    .filter(|&i| matches(&[&self.eks[i].name, &self.eks[i].status]))
                    .collect();
                v.sort_by(|&a, &b| self.eks[a].name.cmp(&self.eks[b].name));
                v
            }
            Shown::Containers(pod) => pod.map_or_else(Vec::new, |p| {
                (0..p.containers.len())
                    .filter(|&i| matches(&[&p.containers[i].name, &p.containers[i].image]))
                    .collect()
            }),
            Shown::Kind(kind) => {
                let rows = self.rows(kind);
                let of_workload = match self.drill.last() {
                    Some(Drill::Pods {
                        kind,
                        namespace,
                        uid,
                        selector,
                        ..
                    }) => Some((*kind, namespace.clone(), uid.clone(), selector.clone())),
                    _ => None,
                };
                let mut v: Vec<usize> = (0..rows.len())
                    .filter(|&i| {
                        let row = &rows[i];
                        if let (Some((wkind, ns, uid, selector)), KubeRow::Pod(p)) =
                            (&of_workload, row)
                        {
                            let owned = match wkind {
                                // A deployment owns ReplicaSets, which own the pods.
                                WorkloadKind::Deployment => p.matches(selector),
                                WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
                                    p.owner.as_ref().is_some_and(|o| &o.uid == uid)
                                }
                            };
                            if &p.namespace != ns || !owned {
                                return false;
                            }
                        }
                        needle.is_empty() || row_matches(row, &needle)
                    })
                    .collect();
                if kind == KubeKind::Event {
                    v.sort_by(|&a, &b| event_key(&rows[b]).cmp(&event_key(&rows[a])));
                } else {
                    v.sort_by(|&a, &b| {
                        let (ra, rb) = (&rows[a], &rows[b]);
                        (ra.namespace(), ra.name()).cmp(&(rb.namespace(), rb.name()))
                    });
                }
                v
            }
        };
        self.visible = visible;
        self.dirty = false;
        if let Some(key) = keep
            && let Some(pos) = (0..self.visible.len()).find(|&p| self.key_at(p) == Some(&key))
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    /// What identifies the selected row across a refilter: a uid or a name.
    fn selection_key(&self) -> Option<String> {
        self.key_at(self.selected).map(str::to_string)
    }

    fn key_at(&self, pos: usize) -> Option<&str> {
        let i = *self.visible.get(pos)?;
        match self.shown_view() {
            Shown::Contexts => self
                .contexts
                .as_ref()
                .and_then(|c| c.contexts.get(i))
                .map(|c| c.name.as_str()),
            Shown::Eks => self.eks.get(i).map(|c| c.name.as_str()),
            Shown::Containers(pod) => pod
                .and_then(|p| p.containers.get(i))
                .map(|c| c.name.as_str()),
            Shown::Kind(kind) => self.rows(kind).get(i).map(KubeRow::uid),
        }
    }

    /// Forget every watched row (another cluster or scope is coming).
    fn clear_rows(&mut self, namespaced_only: bool) {
        for kind in KubeKind::ALL {
            if !namespaced_only || kind.namespaced() {
                self.kinds.entry(kind).or_default().clear();
            }
        }
        self.dirty = true;
    }
}

fn event_key(row: &KubeRow) -> (i64, &str) {
    match row {
        KubeRow::Event(e) => (e.last_seen.unwrap_or(0), e.uid.as_str()),
        _ => (0, ""),
    }
}

fn row_matches(row: &KubeRow, needle: &str) -> bool {
    let has = |t: &str| t.to_lowercase().contains(needle);
    match row {
        KubeRow::Pod(p) => has(&p.name) || has(&p.namespace) || has(&p.status) || has(&p.node),
        KubeRow::Event(e) => has(&e.reason) || has(&e.object) || has(&e.message),
        KubeRow::Node(n) => has(&n.name) || has(&n.status),
        other => has(other.name()) || other.namespace().is_some_and(has),
    }
}

/// What the list shows, borrowed from the state.
pub enum Shown<'a> {
    Contexts,
    Eks,
    Kind(KubeKind),
    Containers(Option<&'a PodRow>),
}

/// Show `listing` in the Inventory pane, starting what it needs.
pub fn show(state: &mut State, listing: Listing) -> Vec<Cmd> {
    let kube = &mut state.kube;
    kube.shown = true;
    kube.listing = Some(listing);
    kube.drill.clear();
    kube.detail = None;
    kube.filter.clear();
    kube.selected = 0;
    kube.refilter();
    state.focus = Pane::Inventory;
    let mut cmds = Vec::new();
    match listing {
        Listing::Eks => {
            if !state.kube.eks_loaded && !state.kube.eks_loading {
                cmds.extend(refresh_eks(state));
            }
        }
        Listing::Contexts | Listing::Kind(_) => cmds.extend(ensure_started(state)),
    }
    cmds
}

/// The kubeconfig is read and (for a kind) the starting context watched.
fn ensure_started(state: &mut State) -> Vec<Cmd> {
    let kube = &mut state.kube;
    if kube.contexts.is_none() && !kube.contexts_loading {
        kube.contexts_loading = true;
        if kube.context.is_none() {
            kube.start_pending = true;
        }
        return vec![Cmd::Read(ReadOp::Kube(KubeRead::ListContexts))];
    }
    if kube.context.is_some() && kube.watch_job.is_none() && kube.watch_error.is_none() {
        return start_watch(state);
    }
    Vec::new()
}

fn refresh_eks(state: &mut State) -> Vec<Cmd> {
    state.kube.eks_loading = true;
    vec![Cmd::Read(ReadOp::Kube(KubeRead::ListEksClusters {
        scope: crate::cfn::tui::scope(state),
    }))]
}

/// (Re)start the watch of the shown context and scope (a quiet job, superseding the last).
pub fn start_watch(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    state.kube.watch_error = None;
    for rows in state.kube.kinds.values_mut() {
        rows.listed = false;
        rows.disconnected = None;
    }
    vec![Cmd::Refresh(ReadOp::Kube(KubeRead::Watch {
        context,
        namespace: state.kube.namespace.clone(),
    }))]
}

/// Switch to another cluster: its namespace as the scope (else all), everything reloaded.
pub fn switch_context(state: &mut State, context: ContextRef) -> Vec<Cmd> {
    let namespace = match &context {
        ContextRef::Kubeconfig { context: name } => state
            .kube
            .contexts
            .as_ref()
            .and_then(|c| c.context(name))
            .and_then(|c| c.namespace.clone()),
        ContextRef::Eks { .. } => None,
    };
    state.kube.environment = Some(environment_of(state, &context));
    let kube = &mut state.kube;
    kube.context = Some(context);
    kube.namespace = namespace;
    kube.clear_rows(false);
    kube.drill.clear();
    kube.detail = None;
    kube.listing = Some(Listing::Kind(KubeKind::Pod));
    kube.filter.clear();
    kube.selected = 0;
    kube.refilter();
    start_watch(state)
}

/// The environment of a context, from what the kubeconfig says of it.
pub fn environment_of(state: &State, context: &ContextRef) -> Environment {
    let cluster = match context {
        ContextRef::Eks { arn, .. } => arn.clone(),
        ContextRef::Kubeconfig { context: name } => state
            .kube
            .contexts
            .as_ref()
            .and_then(|c| c.context(name))
            .map_or_else(|| name.clone(), |c| c.cluster_id()),
    };
    crate::setup::kube_environment_of(
        &state.config,
        context.name(),
        &cluster,
        state.session.env_override,
    )
}

/// `:ns NAME` / Enter on a namespace: scope to it; `0` (or `:ns` alone): all namespaces.
pub fn set_namespace(state: &mut State, namespace: Option<String>) -> Vec<Cmd> {
    if state.kube.context.is_none() {
        state.toast(
            ToastLevel::Info,
            "no cluster yet: :ctx picks a context, :eks a cluster",
        );
        return Vec::new();
    }
    let kube = &mut state.kube;
    kube.namespace = namespace;
    kube.clear_rows(true);
    kube.drill.clear();
    kube.detail = None;
    kube.listing = Some(Listing::Kind(KubeKind::Pod));
    kube.filter.clear();
    kube.selected = 0;
    kube.refilter();
    start_watch(state)
}

/// `:ctx NAME`.
pub fn context_command(state: &mut State, name: &str) -> Vec<Cmd> {
    let known = state
        .kube
        .contexts
        .as_ref()
        .map(|c| c.context(name).is_some());
    match known {
        Some(false) => {
            state.toast(
                ToastLevel::Error,
                format!("no context {name} in the kubeconfig (:ctx lists them)"),
            );
            Vec::new()
        }
        Some(true) => {
            state.kube.shown = true;
            state.focus = Pane::Inventory;
            switch_context(state, ContextRef::kubeconfig(name))
        }
        None => {
            // The contexts are not read yet: start with this one once they are.
            state.kube.context = Some(ContextRef::kubeconfig(name));
            show(state, Listing::Kind(KubeKind::Pod))
        }
    }
}

/// The reads to run at start when `--context` or `--kubeconfig` was given: the pods view.
pub fn initial_commands(state: &mut State) -> Vec<Cmd> {
    if state.session.kube.context.is_none() && state.session.kube.kubeconfig.is_none() {
        return Vec::new();
    }
    if let Some(name) = state.session.kube.context.clone() {
        state.kube.context = Some(ContextRef::kubeconfig(name));
    }
    show(state, Listing::Kind(KubeKind::Pod))
}

/// A stream update of the watch `job`. Whether the screen changed.
pub fn on_update(state: &mut State, job: JobId, update: KubeUpdate) -> bool {
    let kube = &mut state.kube;
    if kube.watch_job != Some(job) {
        return false;
    }
    let shown_kind = match kube.shown_view() {
        Shown::Kind(k) => Some(k),
        Shown::Containers(_) => Some(KubeKind::Pod),
        Shown::Contexts | Shown::Eks => None,
    };
    let kind = match &update {
        KubeUpdate::Listed { kind, .. }
        | KubeUpdate::Deleted { kind, .. }
        | KubeUpdate::Disconnected { kind, .. }
        | KubeUpdate::Connected { kind } => *kind,
        KubeUpdate::Applied(row) => row.kind(),
    };
    let rows = kube.kinds.entry(kind).or_default();
    match update {
        KubeUpdate::Listed { rows: mut list, .. } => {
            if kind == KubeKind::Event && list.len() > MAX_EVENTS {
                list.sort_by(|a, b| event_key(b).cmp(&event_key(a)));
                list.truncate(MAX_EVENTS);
            }
            rows.replace(list);
            kube.dirty = true;
        }
        KubeUpdate::Applied(row) => {
            let added = rows.upsert(row);
            if kind == KubeKind::Event && rows.rows.len() > MAX_EVENTS {
                let oldest = rows
                    .rows
                    .iter()
                    .min_by_key(|r| event_key(r))
                    .map(|r| r.uid().to_string());
                if let Some(uid) = oldest {
                    rows.remove(&uid);
                }
            }
            // A change to an object already listed keeps the order; the filter may see it
            // differently.
            kube.dirty |= added || !kube.filter.is_empty();
        }
        KubeUpdate::Deleted { uid, .. } => {
            kube.dirty |= rows.remove(&uid);
        }
        KubeUpdate::Disconnected { reason, .. } => {
            rows.disconnected = Some(reason);
        }
        KubeUpdate::Connected { .. } => rows.disconnected = None,
    }
    kube.shown
        && (shown_kind == Some(kind)
            || (kind == KubeKind::Event && kube.detail.is_some())
            || (kind == KubeKind::Pod && kube.detail.is_some()))
}

/// After a batch of watch updates: the list's order and filter, once.
pub fn settle(state: &mut State) {
    if state.kube.dirty {
        state.kube.refilter();
    }
}

/// A Kubernetes read finished.
pub fn on_read(state: &mut State, output: KubeOutput) -> Vec<Cmd> {
    match output {
        KubeOutput::Contexts(view) => {
            let kube = &mut state.kube;
            kube.contexts_loading = false;
            kube.contexts_error = None;
            kube.contexts = Some(view);
            kube.dirty = true;
            kube.refilter();
            if std::mem::take(&mut state.kube.start_pending) || state.kube.watch_job.is_none() {
                return start_from_contexts(state);
            }
        }
        KubeOutput::EksClusters(clusters) => {
            let kube = &mut state.kube;
            kube.eks = clusters;
            kube.eks_loaded = true;
            kube.eks_loading = false;
            kube.eks_error = None;
            kube.refilter();
        }
        KubeOutput::WatchEnded { context, summary } => {
            if state.kube.context.as_ref() == Some(&context) {
                state.kube.watch_job = None;
                state.kube.watch_error = Some(format!("{summary}; r reconnects"));
            }
        }
        KubeOutput::Described {
            kind,
            namespace,
            name,
            yaml,
            ..
        } => {
            if let Some(detail) = &mut state.kube.detail
                && detail.kind == kind
                && detail.namespace == namespace
                && detail.name == name
            {
                detail.yaml = Some(yaml);
                detail.error = None;
            }
        }
        KubeOutput::LogsEnded { summary } => state.toast(ToastLevel::Info, summary),
        KubeOutput::Workloads {
            context,
            namespace,
            objects,
        } => {
            let environment = environment_of(state, &context);
            let judged = crate::kube::compliance::judge_cluster(
                &state.compliance.checker(),
                &context,
                namespace.as_deref(),
                &objects,
                environment,
            );
            let failed = judged.report.failures().count();
            state.toast(
                ToastLevel::Info,
                format!("{}: {failed} unwaived finding(s)", judged.title),
            );
            state.compliance.show(judged);
            state.focus = Pane::Compliance;
        }
        // Plans, tools and headless commands read these themselves.
        KubeOutput::Scale(_)
        | KubeOutput::Object(_)
        | KubeOutput::EksEndpoint(_)
        | KubeOutput::Found(_)
        | KubeOutput::Pods(_)
        | KubeOutput::Nodes(_)
        | KubeOutput::LogTail(_) => {}
    }
    Vec::new()
}

/// The contexts are known: watch the starting context (`--context`, else the kubeconfig's
/// current one), or say why there is none.
fn start_from_contexts(state: &mut State) -> Vec<Cmd> {
    let Some(view) = &state.kube.contexts else {
        return Vec::new();
    };
    let wanted = match &state.kube.context {
        Some(ContextRef::Kubeconfig { context }) => Some(context.clone()),
        Some(ContextRef::Eks { .. }) => return Vec::new(),
        None => view.current.clone(),
    };
    match wanted {
        Some(name) if view.context(&name).is_some() => {
            let listing = state.kube.listing;
            let cmds = switch_context(state, ContextRef::kubeconfig(name));
            if let Some(listing) = listing {
                state.kube.listing = Some(listing);
                state.kube.refilter();
            }
            cmds
        }
        Some(name) => {
            state.kube.context = None;
            state.kube.watch_error = Some(format!(
                "no context {name} in {}; :ctx lists the contexts",
                describe_files(view)
            ));
            Vec::new()
        }
        None => {
            state.kube.watch_error = Some(format!(
                "no current context in {}; :ctx picks one, :eks lists EKS clusters",
                describe_files(view)
            ));
            Vec::new()
        }
    }
}

fn describe_files(view: &KubeconfigView) -> String {
    if view.files.is_empty() {
        "the kubeconfig (no file found)".to_string()
    } else {
        view.files.join(", ")
    }
}

/// A Kubernetes read failed: the view it fed says so.
pub fn read_failed(state: &mut State, view: KubeView, error: &ProviderError) {
    let text = error.to_string();
    match view {
        KubeView::Contexts => {
            state.kube.contexts_loading = false;
            state.kube.start_pending = false;
            state.kube.contexts_error = Some(text);
        }
        KubeView::Eks => {
            state.kube.eks_loading = false;
            state.kube.eks_error = Some(text);
        }
        KubeView::Watch => {
            if error.kind != crate::engine::ports::ErrorKind::Cancelled {
                state.kube.watch_job = None;
                state.kube.watch_error =
                    Some(format!("cannot watch the cluster: {text}; r retries"));
            }
        }
        KubeView::Describe => {
            if let Some(detail) = &mut state.kube.detail {
                detail.error = Some(text);
            }
        }
        KubeView::Logs | KubeView::Workloads | KubeView::Plan => {}
    }
}

/// The console submitted a read of a Kubernetes view as `job`.
pub fn read_submitted(state: &mut State, view: KubeView, job: JobId) {
    match view {
        KubeView::Watch => state.kube.watch_job = Some(job),
        // A log follow opens in Jobs as soon as its job exists.
        KubeView::Logs => state.jobs.reveal = Some(job),
        _ => {}
    }
}

/// A Kubernetes change finished: say how (the watch shows its effect).
pub fn mutation_done(
    state: &mut State,
    job: JobId,
    op: &crate::kube::ops::KubeMutation,
    result: Result<crate::engine::MutationOutput, String>,
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
    Vec::new()
}

/// `Enter`: into a context or cluster, a namespace's scope, a workload's pods, a pod's
/// containers; on an event or node, its describe view.
pub fn open(state: &mut State) -> Vec<Cmd> {
    if state.kube.detail.is_some() {
        return Vec::new();
    }
    let i = match state.kube.visible.get(state.kube.selected) {
        Some(&i) => i,
        None => return Vec::new(),
    };
    match state.kube.shown_view() {
        Shown::Contexts => {
            let Some(name) = state
                .kube
                .contexts
                .as_ref()
                .and_then(|c| c.contexts.get(i))
                .map(|c| c.name.clone())
            else {
                return Vec::new();
            };
            switch_context(state, ContextRef::kubeconfig(name))
        }
        Shown::Eks => {
            let Some(c) = state.kube.eks.get(i).cloned() else {
                return Vec::new();
            };
            switch_context(
                state,
                ContextRef::Eks {
                    arn: c.arn,
                    name: c.name,
                    region: c.region,
                },
            )
        }
        Shown::Containers(_) => logs_of_selection(state, false),
        Shown::Kind(_) => {
            let Some(row) = state.kube.selected_row().cloned() else {
                return Vec::new();
            };
            let drill = match &row {
                KubeRow::Namespace(ns) => return set_namespace(state, Some(ns.name.clone())),
                KubeRow::Deployment(w) => Drill::Pods {
                    kind: WorkloadKind::Deployment,
                    namespace: w.namespace.clone(),
                    name: w.name.clone(),
                    uid: w.uid.clone(),
                    selector: w.selector.clone(),
                },
                KubeRow::StatefulSet(w) => Drill::Pods {
                    kind: WorkloadKind::StatefulSet,
                    namespace: w.namespace.clone(),
                    name: w.name.clone(),
                    uid: w.uid.clone(),
                    selector: w.selector.clone(),
                },
                KubeRow::DaemonSet(d) => Drill::Pods {
                    kind: WorkloadKind::DaemonSet,
                    namespace: d.namespace.clone(),
                    name: d.name.clone(),
                    uid: d.uid.clone(),
                    selector: d.selector.clone(),
                },
                KubeRow::Pod(p) => Drill::Containers {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    uid: p.uid.clone(),
                },
                KubeRow::Node(_) | KubeRow::Event(_) => return describe(state),
            };
            let kube = &mut state.kube;
            kube.drill.push(drill);
            kube.filter.clear();
            kube.selected = 0;
            kube.refilter();
            Vec::new()
        }
    }
}

/// `Esc`: out of the detail, then out of a drill-down; false when there was nothing to leave.
pub fn back(state: &mut State) -> bool {
    let kube = &mut state.kube;
    if kube.detail.take().is_some() {
        return true;
    }
    if let Some(left) = kube.drill.pop() {
        kube.filter.clear();
        kube.refilter();
        // Back on the row that was opened.
        let uid = match left {
            Drill::Pods { uid, .. } | Drill::Containers { uid, .. } => uid,
        };
        if let Some(pos) = (0..kube.visible.len()).find(|&p| kube.key_at(p) == Some(uid.as_str())) {
            kube.selected = pos;
        }
        return true;
    }
    false
}

pub fn move_selection(state: &mut State, action: ShellAction) {
    let kube = &mut state.kube;
    match &mut kube.detail {
        Some(detail) => {
            let rows = detail.yaml.as_ref().map_or(0, |y| y.lines().count()) + 64;
            detail.scroll = shell::step(detail.scroll, rows, action);
        }
        None => kube.selected = shell::step(kube.selected, kube.visible.len(), action),
    }
}

pub fn set_filter(state: &mut State, text: &str) {
    state.kube.filter = text.to_string();
    state.kube.selected = 0;
    state.kube.refilter();
}

/// `r`: reload what is shown.
pub fn refresh(state: &mut State) -> Vec<Cmd> {
    match state.kube.shown_view() {
        Shown::Contexts => {
            state.kube.contexts_loading = true;
            vec![Cmd::Read(ReadOp::Kube(KubeRead::ListContexts))]
        }
        Shown::Eks => refresh_eks(state),
        Shown::Kind(_) | Shown::Containers(_) => {
            if let Some(detail) = state.kube.detail.clone() {
                return describe_read(state, &detail);
            }
            if state.kube.context.is_none() {
                state.kube.contexts = None;
                state.kube.watch_error = None;
                return ensure_started(state);
            }
            start_watch(state)
        }
    }
}

fn describe_read(state: &State, detail: &DetailView) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    vec![Cmd::Read(ReadOp::Kube(KubeRead::Describe {
        context,
        kind: detail.kind,
        namespace: detail.namespace.clone(),
        name: detail.name.clone(),
    }))]
}

/// `y`: the selected object as YAML (a pod's events below it).
pub fn describe(state: &mut State) -> Vec<Cmd> {
    let target = match state.kube.shown_view() {
        Shown::Containers(Some(p)) => Some((
            KubeKind::Pod,
            Some(p.namespace.clone()),
            p.name.clone(),
            p.uid.clone(),
        )),
        Shown::Kind(_) => state.kube.selected_row().map(|r| {
            (
                r.kind(),
                r.namespace().map(str::to_string),
                match r {
                    KubeRow::Event(e) => e.uid.clone(),
                    other => other.name().to_string(),
                },
                r.uid().to_string(),
            )
        }),
        _ => None,
    };
    let Some((kind, namespace, name, uid)) = target else {
        state.toast(ToastLevel::Info, "nothing to describe here");
        return Vec::new();
    };
    // An event's name is not what the row shows; the API needs it, and the row keeps the uid.
    let name = if kind == KubeKind::Event {
        return describe_event(state, &uid);
    } else {
        name
    };
    let detail = DetailView {
        kind,
        namespace,
        name,
        uid,
        yaml: None,
        error: None,
        scroll: 0,
    };
    let cmds = describe_read(state, &detail);
    state.kube.detail = Some(detail);
    cmds
}

/// Events are shown from their row (they have no spec worth a YAML view).
fn describe_event(state: &mut State, uid: &str) -> Vec<Cmd> {
    let Some(KubeRow::Event(e)) = state
        .kube
        .kind(KubeKind::Event)
        .and_then(|k| k.get(uid))
        .cloned()
    else {
        return Vec::new();
    };
    state.kube.detail = Some(DetailView {
        kind: KubeKind::Event,
        namespace: Some(e.namespace.clone()),
        name: e.reason.clone(),
        uid: e.uid.clone(),
        yaml: Some(format!(
            "type: {}\nreason: {}\nobject: {}\ncount: {}\nmessage: {}",
            e.kind, e.reason, e.object, e.count, e.message
        )),
        error: None,
        scroll: 0,
    });
    Vec::new()
}

/// `l` / `p`: a pod's logs (the container picker when it has several), or the selected
/// container's in the containers drill-down.
pub fn logs_of_selection(state: &mut State, previous: bool) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    if let Some((pod, container)) = state.kube.selected_container() {
        let request = LogRequest {
            context,
            namespace: pod.namespace.clone(),
            pods: vec![pod.name.clone()],
            container: Some(container.name.clone()),
            previous,
            workload: None,
        };
        return vec![Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))];
    }
    let Some(pod) = state.kube.selected_pod().cloned() else {
        state.toast(
            ToastLevel::Info,
            "select a pod (or a container) to read its logs",
        );
        return Vec::new();
    };
    let containers: Vec<String> = pod
        .log_containers()
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if containers.len() > 1 {
        state.mode = Mode::Kube(prompt::KubePrompt::Containers(prompt::ContainerPicker {
            context,
            namespace: pod.namespace.clone(),
            pod: pod.name.clone(),
            containers,
            previous,
            selected: 0,
        }));
        return Vec::new();
    }
    let request = LogRequest {
        context,
        namespace: pod.namespace,
        pods: vec![pod.name],
        container: containers.into_iter().next(),
        previous,
        workload: None,
    };
    vec![Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))]
}

/// `L`: every pod of the selected workload (or of the drill-down's), merged.
pub fn workload_logs(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    let workload = match (state.kube.drill.last(), state.kube.selected_row()) {
        (
            Some(Drill::Pods {
                namespace, name, ..
            }),
            _,
        ) => Some((namespace.clone(), name.clone())),
        (None, Some(KubeRow::Deployment(w) | KubeRow::StatefulSet(w))) => {
            Some((w.namespace.clone(), w.name.clone()))
        }
        (None, Some(KubeRow::DaemonSet(d))) => Some((d.namespace.clone(), d.name.clone())),
        _ => None,
    };
    let Some((namespace, name)) = workload else {
        state.toast(
            ToastLevel::Info,
            "select a deployment, statefulset or daemonset",
        );
        return Vec::new();
    };
    // Its pods, as the drill-down finds them.
    let opened = state.kube.drill.is_empty();
    if opened {
        open(state);
    }
    let pods: Vec<String> = state
        .kube
        .visible
        .iter()
        .filter_map(|&i| match state.kube.rows(KubeKind::Pod).get(i) {
            Some(KubeRow::Pod(p)) => Some(p.name.clone()),
            _ => None,
        })
        .collect();
    if opened {
        back(state);
    }
    if pods.is_empty() {
        state.toast(ToastLevel::Info, format!("{namespace}/{name} has no pods"));
        return Vec::new();
    }
    let request = LogRequest {
        context,
        namespace,
        pods,
        container: None,
        previous: false,
        workload: Some(name),
    };
    vec![Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))]
}

/// `C`: judge the shown cluster's workloads (in the scope) in the Compliance pane.
pub fn check_cluster(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        state.toast(
            ToastLevel::Info,
            "no cluster yet: :ctx picks a context, :eks a cluster",
        );
        return Vec::new();
    };
    state.toast(
        ToastLevel::Info,
        format!("listing the workloads of {context} to judge them…"),
    );
    vec![Cmd::Read(ReadOp::Kube(KubeRead::ListWorkloads {
        context,
        namespace: state.kube.namespace.clone(),
    }))]
}

/// Ask for a change through its flow (the plan reads what it must know first).
pub fn plan(state: &mut State, flow: flows::KubeFlow) -> Vec<Cmd> {
    state.toast(ToastLevel::Info, format!("{}…", flow.doing()));
    vec![Cmd::Plan(Flow::Kube(flow))]
}
