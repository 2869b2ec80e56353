//! API objects → the inventory's rows, computed the way kubectl prints them (a pod's STATUS
//! from its init and app containers, a node's Ready condition and cordon). Text from the
//! cluster is stripped of control characters here, at the boundary, so nothing a workload
//! writes into a message or an image name can drive the operator's terminal.

use crate::aws::clean;
use crate::kube::model::{
    ContainerRow, DaemonSetRow, EventRow, KubeRow, NamespaceRow, NodeRow, Owner, PodRow,
    WorkloadRow,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use std::collections::BTreeMap;

fn secs(t: &Option<Time>) -> Option<i64> {
    t.as_ref().map(|t| t.0.as_second())
}

fn name(meta: &ObjectMeta) -> String {
    clean(meta.name.as_deref())
}

fn namespace(meta: &ObjectMeta) -> String {
    clean(meta.namespace.as_deref())
}

fn uid(meta: &ObjectMeta) -> String {
    meta.uid.clone().unwrap_or_default()
}

/// The controller among an object's owners.
pub fn owner(meta: &ObjectMeta) -> Option<Owner> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| Owner {
            kind: clean(Some(&o.kind)),
            name: clean(Some(&o.name)),
            uid: o.uid.clone(),
        })
}

fn selector(s: &LabelSelector) -> Vec<(String, String)> {
    s.match_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn labels(labels: &Option<BTreeMap<String, String>>) -> Vec<(String, String)> {
    labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn namespace_row(ns: &Namespace) -> KubeRow {
    KubeRow::Namespace(NamespaceRow {
        name: name(&ns.metadata),
        uid: uid(&ns.metadata),
        status: clean(ns.status.as_ref().and_then(|s| s.phase.as_deref())),
        created: secs(&ns.metadata.creation_timestamp),
    })
}

pub fn node_row(node: &Node) -> KubeRow {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let mut status = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    let unschedulable = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if unschedulable {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .map(|r| clean(Some(r)))
        .collect();
    roles.sort();
    KubeRow::Node(NodeRow {
        name: name(&node.metadata),
        uid: uid(&node.metadata),
        status,
        roles: if roles.is_empty() {
            "<none>".into()
        } else {
            roles.join(",")
        },
        version: clean(
            node.status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.as_str()),
        ),
        unschedulable,
        created: secs(&node.metadata.creation_timestamp),
    })
}

pub fn deployment_row(d: &Deployment) -> KubeRow {
    let status = d.status.clone().unwrap_or_default();
    KubeRow::Deployment(WorkloadRow {
        namespace: namespace(&d.metadata),
        name: name(&d.metadata),
        uid: uid(&d.metadata),
        desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ready: status.ready_replicas.unwrap_or(0),
        up_to_date: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        selector: d
            .spec
            .as_ref()
            .map(|s| selector(&s.selector))
            .unwrap_or_default(),
        created: secs(&d.metadata.creation_timestamp),
    })
}

pub fn statefulset_row(s: &StatefulSet) -> KubeRow {
    let status = s.status.clone().unwrap_or_default();
    KubeRow::StatefulSet(WorkloadRow {
        namespace: namespace(&s.metadata),
        name: name(&s.metadata),
        uid: uid(&s.metadata),
        desired: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ready: status.ready_replicas.unwrap_or(0),
        up_to_date: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        selector: s
            .spec
            .as_ref()
            .map(|s| selector(&s.selector))
            .unwrap_or_default(),
        created: secs(&s.metadata.creation_timestamp),
    })
}

pub fn daemonset_row(d: &DaemonSet) -> KubeRow {
    let status = d.status.clone().unwrap_or_default();
    KubeRow::DaemonSet(DaemonSetRow {
        namespace: namespace(&d.metadata),
        name: name(&d.metadata),
        uid: uid(&d.metadata),
        desired: status.desired_number_scheduled,
        current: status.current_number_scheduled,
        ready: status.number_ready,
        up_to_date: status.updated_number_scheduled.unwrap_or(0),
        available: status.number_available.unwrap_or(0),
        selector: d
            .spec
            .as_ref()
            .map(|s| selector(&s.selector))
            .unwrap_or_default(),
        created: secs(&d.metadata.creation_timestamp),
    })
}

fn container_state(status: Option<&ContainerStatus>) -> String {
    let Some(state) = status.and_then(|s| s.state.as_ref()) else {
        return "Waiting".into();
    };
    if state.running.is_some() {
        "Running".into()
    } else if let Some(w) = &state.waiting {
        format!("Waiting: {}", clean(w.reason.as_deref()))
    } else if let Some(t) = &state.terminated {
        match &t.reason {
            Some(reason) => format!("Terminated: {}", clean(Some(reason))),
            None => format!("Terminated: exit code {}", t.exit_code),
        }
    } else {
        "Waiting".into()
    }
}

/// The STATUS column, as kubectl's pod printer computes it.
pub fn pod_status(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut reason = status
        .reason
        .clone()
        .or(status.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let init_statuses = status.init_container_statuses.clone().unwrap_or_default();
    let init_count = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in init_statuses.iter().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match (&t.reason, t.signal) {
                (Some(r), _) if !r.is_empty() => format!("Init:{r}"),
                (_, Some(sig)) if sig != 0 => format!("Init:Signal:{sig}"),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(w) = state.waiting.as_ref().filter(|w| {
            w.reason
                .as_deref()
                .is_some_and(|r| !r.is_empty() && r != "PodInitializing")
        }) {
            reason = format!("Init:{}", w.reason.clone().unwrap_or_default());
        } else {
            reason = format!("Init:{i}/{init_count}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut running = false;
        for c in status.container_statuses.iter().flatten().rev() {
            let state = c.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = r;
            } else if let Some(t) = &state.terminated {
                reason = match (&t.reason, t.signal) {
                    (Some(r), _) if !r.is_empty() => r.clone(),
                    (_, Some(sig)) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", t.exit_code),
                };
            } else if state.running.is_some() && c.ready {
                running = true;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() && status.reason.as_deref() != Some("NodeLost") {
        reason = "Terminating".into();
    }
    clean(Some(&reason))
}

pub fn pod_row(pod: &Pod) -> KubeRow {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let init_statuses = status.init_container_statuses.clone().unwrap_or_default();
    let mut containers = Vec::with_capacity(spec.containers.len());
    for c in &spec.containers {
        let s = statuses.iter().find(|s| s.name == c.name);
        containers.push(ContainerRow {
            name: clean(Some(&c.name)),
            image: clean(c.image.as_deref()),
            init: false,
            ready: s.is_some_and(|s| s.ready),
            state: container_state(s),
            restarts: s.map_or(0, |s| s.restart_count),
        });
    }
    for c in spec.init_containers.iter().flatten() {
        let s = init_statuses.iter().find(|s| s.name == c.name);
        containers.push(ContainerRow {
            name: clean(Some(&c.name)),
            image: clean(c.image.as_deref()),
            init: true,
            ready: s.is_some_and(|s| s.ready),
            state: container_state(s),
            restarts: s.map_or(0, |s| s.restart_count),
        });
    }
    let ready = statuses.iter().filter(|s| s.ready).count();
    KubeRow::Pod(Box::new(PodRow {
        namespace: namespace(&pod.metadata),
        name: name(&pod.metadata),
        uid: uid(&pod.metadata),
        ready: (ready as u16, spec.containers.len() as u16),
        status: pod_status(pod),
        restarts: statuses.iter().map(|s| s.restart_count).sum(),
        node: clean(spec.node_name.as_deref()),
        owner: owner(&pod.metadata),
        labels: labels(&pod.metadata.labels),
        containers,
        created: secs(&pod.metadata.creation_timestamp),
    }))
}

pub fn event_row(e: &Event) -> KubeRow {
    let object = &e.involved_object;
    let last = secs(&e.last_timestamp)
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| secs(&e.first_timestamp))
        .or_else(|| secs(&e.metadata.creation_timestamp));
    KubeRow::Event(EventRow {
        namespace: namespace(&e.metadata),
        uid: uid(&e.metadata),
        kind: clean(e.type_.as_deref()),
        reason: clean(e.reason.as_deref()),
        object: format!(
            "{}/{}",
            clean(object.kind.as_deref()),
            clean(object.name.as_deref())
        ),
        object_uid: object.uid.clone().unwrap_or_default(),
        message: clean(e.message.as_deref()),
        count: e
            .count
            .or_else(|| e.series.as_ref().and_then(|s| s.count))
            .unwrap_or(1),
        last_seen: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).expect("a pod")
    }

    #[test]
    fn pod_status_follows_kubectl() {
        let crash = pod(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u"},
            "spec": {"containers": [{"name": "app"}, {"name": "side"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 7, "image": "i", "imageID": "",
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "side", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"running": {}}}
            ]}
        }));
        let KubeRow::Pod(row) = pod_row(&crash) else {
            panic!("a pod row")
        };
        assert_eq!(row.status, "CrashLoopBackOff");
        assert_eq!(row.ready, (1, 2));
        assert_eq!(row.restarts, 7);
        assert_eq!(row.containers[0].state, "Waiting: CrashLoopBackOff");
        let init = pod(serde_json::json!({
            "metadata": {"name": "db-0"},
            "spec": {"containers": [{"name": "db"}], "initContainers": [{"name": "migrate"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "migrate", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"running": {}}}
            ]}
        }));
        assert_eq!(pod_status(&init), "Init:0/1");
        let gone = pod(serde_json::json!({
            "metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running"}
        }));
        assert_eq!(pod_status(&gone), "Terminating");
    }

    #[test]
    fn hostile_text_from_the_cluster_is_cleaned() {
        let e: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e", "namespace": "shop", "uid": "e1"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "uid": "p1"},
            "reason": "BackOff",
            "message": "pulling \u{1b}]0;pwned\u{7} image\u{1b}[2J",
            "type": "Warning",
            "count": 3
        }))
        .expect("an event");
        let KubeRow::Event(row) = event_row(&e) else {
            panic!("an event row")
        };
        assert!(
            !row.message.chars().any(|c| c.is_control()),
            "{:?}",
            row.message
        );
        assert_eq!(row.object, "Pod/web-1");
        assert_eq!(row.count, 3);
    }

    #[test]
    fn a_cordoned_node_says_so() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "uid": "n", "labels": {"node-role.kubernetes.io/worker": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.1", "architecture": "", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": ""}}
        }))
        .expect("a node");
        let KubeRow::Node(row) = node_row(&node) else {
            panic!("a node row")
        };
        assert_eq!(row.status, "Ready,SchedulingDisabled");
        assert_eq!(row.roles, "worker");
        assert_eq!(row.version, "v1.33.1");
    }
}
