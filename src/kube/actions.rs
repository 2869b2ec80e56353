//! Kubernetes' entries in the action registry (k9s's keys and `:` commands), and what each
//! does in the console.

use crate::actions;
use crate::kube::model::{KubeKind, KubeRow};
use crate::kube::ops::WorkloadKind;
use crate::kube::tui::flows::KubeFlow;
use crate::kube::tui::{self, Listing};
use crate::registry::{ActionSpec, Context, KeyCode, Kind, code, ctrl, hint, k};
use crate::tui::state::{Cmd, State, ToastLevel};

/// The argument schema of an action on the selected object.
const OBJECT_ARG: &str = r#"{"type":"object","properties":{"context":{"type":"string"},"namespace":{"type":"string"},"name":{"type":"string"}},"required":["name"],"additionalProperties":false}"#;

actions! {
    /// Kubernetes: contexts, EKS clusters, the watched inventory, logs and the changes.
    pub enum KubeAction {
        Pods => ActionSpec::new("list-pods", "List the pods of the cluster", Kind::Read)
            .command("pods", &["po", "pod"], "")
            .help("Kubernetes pods (NAME READY STATUS RESTARTS AGE NODE)")
            .schema(crate::registry::NO_ARGS),
        Deployments => ActionSpec::new("list-deployments", "List the deployments of the cluster", Kind::Read)
            .command("deployments", &["dp", "deployment"], "")
            .help("Kubernetes deployments (also :deploy alone)")
            .schema(crate::registry::NO_ARGS),
        StatefulSets => ActionSpec::new("list-statefulsets", "List the statefulsets of the cluster", Kind::Read)
            .command("sts", &["statefulsets", "statefulset"], "")
            .help("Kubernetes statefulsets")
            .schema(crate::registry::NO_ARGS),
        DaemonSets => ActionSpec::new("list-daemonsets", "List the daemonsets of the cluster", Kind::Read)
            .command("ds", &["daemonsets", "daemonset"], "")
            .help("Kubernetes daemonsets")
            .schema(crate::registry::NO_ARGS),
        Nodes => ActionSpec::new("list-nodes", "List the nodes of the cluster", Kind::Read)
            .command("nodes", &["no", "node"], "")
            .help("Kubernetes nodes")
            .schema(crate::registry::NO_ARGS),
        Namespaces => ActionSpec::new("list-namespaces", "List the namespaces, or scope to one", Kind::Read)
            .command("ns", &["namespaces", "namespace"], "[NAME]")
            .help("namespaces; :ns NAME scopes every view to it (0: all)")
            .schema(r#"{"type":"object","properties":{"namespace":{"type":"string"}},"additionalProperties":false}"#),
        Events => ActionSpec::new("list-events", "List the events of the cluster", Kind::Read)
            .command("events", &["ev", "event"], "")
            .help("Kubernetes events, newest first")
            .schema(crate::registry::NO_ARGS),
        Contexts => ActionSpec::new("list-contexts", "List the kubeconfig contexts, or switch to one", Kind::Read)
            .command("ctx", &["context", "contexts"], "[NAME]")
            .help("kubeconfig contexts (Enter or :ctx NAME switches)")
            .schema(r#"{"type":"object","properties":{"context":{"type":"string"}},"additionalProperties":false}"#),
        EksClusters => ActionSpec::new("list-eks-clusters", "List the EKS clusters of the region", Kind::Read)
            .command("eks", &[], "")
            .help("EKS clusters: version, status, node groups (Enter connects, no kubeconfig needed)")
            .schema(crate::registry::NO_ARGS),
        AllNamespaces => ActionSpec::new("all-namespaces", "Show all namespaces", Kind::Ui)
            .binds(&[hint(Context::Kube, &[k('0')], "all ns")])
            .help("all namespaces (leave the scope)"),
        Describe => ActionSpec::new("describe-object", "Show an object as YAML (a pod with its events)", Kind::Read)
            .binds(&[hint(Context::Kube, &[k('y')], "yaml")])
            .help("describe / YAML (a pod's events below; a Secret's data never shown)")
            .schema(OBJECT_ARG),
        CloseDetail => ActionSpec::new("close-object", "Back from the YAML view", Kind::Ui)
            .binds(&[hint(Context::KubeDetail, &[code(KeyCode::Esc), k('h')], "back")])
            .help("back to the list"),
        Logs => ActionSpec::new("pod-logs", "Follow a pod's logs in Jobs", Kind::Read)
            .binds(&[hint(Context::Kube, &[k('l')], "logs")])
            .help("follow the pod's logs in Jobs (container picker when several)")
            .schema(OBJECT_ARG),
        PreviousLogs => ActionSpec::new("previous-pod-logs", "A pod's previous container's logs", Kind::Read)
            .binds(&[hint(Context::Kube, &[k('p')], "previous")])
            .help("the logs of the previous instance of the container")
            .schema(OBJECT_ARG),
        WorkloadLogs => ActionSpec::new("workload-logs", "Follow every pod of a workload, merged", Kind::Read)
            .binds(&[hint(Context::Kube, &[k('L')], "all logs")])
            .help("follow the logs of all the workload's pods, each line prefixed with its pod")
            .schema(OBJECT_ARG),
        Scale => ActionSpec::new("scale-deployment", "Scale a deployment or statefulset", Kind::Mutating)
            .binds(&[hint(Context::Kube, &[k('s')], "scale")])
            .help("scale (a field with the current replicas, then current → new to confirm)")
            .tier("y in DEV/TST; typed name in PRD/unmapped and to scale to 0")
            .schema(r#"{"type":"object","properties":{"context":{"type":"string"},"namespace":{"type":"string"},"name":{"type":"string"},"replicas":{"type":"integer","minimum":0}},"required":["name","replicas"],"additionalProperties":false}"#),
        Restart => ActionSpec::new("restart-deployment", "Rollout restart a workload", Kind::Mutating)
            .binds(&[hint(Context::Kube, &[k('R')], "restart")])
            .help("rollout restart (kubectl.kubernetes.io/restartedAt)")
            .tier("y in DEV/TST; typed name in PRD/unmapped")
            .schema(OBJECT_ARG),
        DeletePod => ActionSpec::new("delete-pod", "Delete a pod (uid precondition)", Kind::Mutating)
            .binds(&[hint(Context::Kube, &[k('d'), ctrl('k')], "delete")])
            .help("delete the pod (sent with its uid, so a newer pod of that name is safe)")
            .tier("y in DEV/TST; typed name in PRD/unmapped and for a pod with no controller")
            .schema(OBJECT_ARG),
        Cordon => ActionSpec::new("cordon-node", "Cordon a node", Kind::Mutating)
            .binds(&[hint(Context::Kube, &[k('c')], "cordon")])
            .help("cordon the node (no new pods)")
            .tier("y in DEV/TST; typed name in PRD/unmapped")
            .schema(OBJECT_ARG),
        Uncordon => ActionSpec::new("uncordon-node", "Uncordon a node", Kind::Mutating)
            .binds(&[hint(Context::Kube, &[k('u')], "uncordon")])
            .help("uncordon the node")
            .tier("y in DEV/TST; typed name in PRD/unmapped")
            .schema(OBJECT_ARG),
        CheckCluster => ActionSpec::new("check-cluster", "Judge the cluster's workloads against the rules", Kind::Read)
            .binds(&[hint(Context::Kube, &[k('C')], "check")])
            .help("judge the cluster's workloads (the scope) in the Compliance pane")
            .schema(crate::registry::NO_ARGS),
    }
}

/// What a Kubernetes action does in the console.
pub fn apply(state: &mut State, action: KubeAction, args: &[&str]) -> Vec<Cmd> {
    let kind = |k| Listing::Kind(k);
    match action {
        KubeAction::Pods => tui::show(state, kind(KubeKind::Pod)),
        KubeAction::Deployments => tui::show(state, kind(KubeKind::Deployment)),
        KubeAction::StatefulSets => tui::show(state, kind(KubeKind::StatefulSet)),
        KubeAction::DaemonSets => tui::show(state, kind(KubeKind::DaemonSet)),
        KubeAction::Nodes => tui::show(state, kind(KubeKind::Node)),
        KubeAction::Events => tui::show(state, kind(KubeKind::Event)),
        KubeAction::Namespaces => match args.first() {
            Some(ns) => {
                let mut cmds = tui::show(state, kind(KubeKind::Pod));
                cmds.extend(tui::set_namespace(state, Some(ns.to_string())));
                cmds
            }
            None => tui::show(state, kind(KubeKind::Namespace)),
        },
        KubeAction::Contexts => match args.first() {
            Some(name) => tui::context_command(state, name),
            None => tui::show(state, Listing::Contexts),
        },
        KubeAction::EksClusters => tui::show(state, Listing::Eks),
        KubeAction::AllNamespaces => tui::set_namespace(state, None),
        KubeAction::Describe => tui::describe(state),
        KubeAction::CloseDetail => {
            tui::back(state);
            Vec::new()
        }
        KubeAction::Logs => tui::logs_of_selection(state, false),
        KubeAction::PreviousLogs => tui::logs_of_selection(state, true),
        KubeAction::WorkloadLogs => tui::workload_logs(state),
        KubeAction::Scale => scale(state),
        KubeAction::Restart => restart(state),
        KubeAction::DeletePod => delete_pod(state),
        KubeAction::Cordon => cordon(state, true),
        KubeAction::Uncordon => cordon(state, false),
        KubeAction::CheckCluster => tui::check_cluster(state),
    }
}

/// The selected deployment, statefulset or daemonset.
fn selected_workload(state: &State) -> Option<(WorkloadKind, String, String)> {
    match state.kube.selected_row()? {
        KubeRow::Deployment(w) => Some((
            WorkloadKind::Deployment,
            w.namespace.clone(),
            w.name.clone(),
        )),
        KubeRow::StatefulSet(w) => Some((
            WorkloadKind::StatefulSet,
            w.namespace.clone(),
            w.name.clone(),
        )),
        KubeRow::DaemonSet(d) => {
            Some((WorkloadKind::DaemonSet, d.namespace.clone(), d.name.clone()))
        }
        _ => None,
    }
}

fn scale(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    let Some((kind, namespace, name)) =
        selected_workload(state).filter(|(k, _, _)| *k != WorkloadKind::DaemonSet)
    else {
        state.toast(
            ToastLevel::Info,
            "select a deployment or statefulset to scale",
        );
        return Vec::new();
    };
    // Read-only: refused (and audited) before the replica field even opens.
    if state.read_only() {
        let what = format!("scale {} {namespace}/{name}", kind.kind().word());
        let reason = state.gate.latch().reason().unwrap_or_default();
        let audited = state
            .gate
            .refuse_before_request("scale-workload", &what)
            .err()
            .map(|e| format!("; the audit log could not record it: {e}"))
            .unwrap_or_default();
        state.toast(
            ToastLevel::Error,
            format!("read-only: {what} refused ({reason}){audited}"),
        );
        return Vec::new();
    }
    tui::plan(
        state,
        KubeFlow::Scale {
            context,
            kind,
            namespace,
            name,
        },
    )
}

fn restart(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    let Some((kind, namespace, name)) = selected_workload(state) else {
        state.toast(
            ToastLevel::Info,
            "select a deployment, statefulset or daemonset to restart",
        );
        return Vec::new();
    };
    tui::plan(
        state,
        KubeFlow::Restart {
            context,
            kind,
            namespace,
            name,
        },
    )
}

fn delete_pod(state: &mut State) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    let pod = state
        .kube
        .selected_pod()
        .map(|p| (p.namespace.clone(), p.name.clone()));
    let Some((namespace, name)) = pod else {
        state.toast(ToastLevel::Info, "select a pod to delete");
        return Vec::new();
    };
    tui::plan(
        state,
        KubeFlow::DeletePod {
            context,
            namespace,
            name,
        },
    )
}

fn cordon(state: &mut State, cordon: bool) -> Vec<Cmd> {
    let Some(context) = state.kube.context.clone() else {
        return Vec::new();
    };
    let Some(KubeRow::Node(node)) = state.kube.selected_row() else {
        state.toast(ToastLevel::Info, "select a node (:nodes)");
        return Vec::new();
    };
    let name = node.name.clone();
    tui::plan(
        state,
        KubeFlow::Cordon {
            context,
            name,
            cordon,
        },
    )
}
