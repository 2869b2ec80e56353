//! Kubernetes objects as the rule pack's input, and the judging of a cluster's workloads for
//! the Compliance pane and `opsdeck check --kube-context`.
//!
//! Each object becomes one resource of the input:
//!
//! ```json
//! { "kind": "kubernetes", "source": "kube:dev-eu/shop",
//!   "context": { "environment": "DEV", "cluster": "arn:aws:eks:…:cluster/dev" },
//!   "parameters": {},
//!   "resources": [ { "id": "shop/deployment/web", "type": "k8s:apps/v1:Deployment",
//!                    "properties": <the object as the API returns it> } ] }
//! ```
//!
//! Ids are `namespace/kind/name` (`kind/name` for cluster-scoped objects); types are
//! `k8s:<apiVersion>:<kind>`. A rule names the types it judges in `resource_types` like any
//! CloudFormation rule, and finds the pod spec under `spec` (Pod), `spec.template.spec`
//! (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) or `spec.jobTemplate.spec.template.spec`
//! (CronJob). Managed fields and status are dropped; a Secret's values are never judged
//! (they are replaced by their sizes before anything sees them).

use crate::compliance::Checker;
use crate::compliance::input::{EvalInput, InputResource};
use crate::compliance::policy::Evaluation;
use crate::compliance::tui::JudgedReport;
use crate::kube::model::ContextRef;
use crate::model::Environment;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// One object as a resource of the input (`None` for something that is not an object).
pub fn resource(object: &Value) -> Option<InputResource> {
    let kind = object.get("kind")?.as_str()?;
    let api_version = object.get("apiVersion")?.as_str()?;
    let meta = object.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let id = match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}/{name}", kind.to_lowercase()),
        _ => format!("{}/{name}", kind.to_lowercase()),
    };
    let mut properties = object.clone();
    crate::kube::provider::describe::redact(&mut properties);
    if let Some(map) = properties.as_object_mut() {
        map.remove("status");
    }
    Some(InputResource {
        id,
        resource_type: format!("k8s:{api_version}:{kind}"),
        properties,
        attributes: Map::new(),
    })
}

/// Objects (as the API returns them) as one input.
pub fn input(
    objects: &[Value],
    source: &str,
    environment: Option<&str>,
    cluster: Option<&str>,
) -> EvalInput {
    let mut context = Map::new();
    if let Some(env) = environment {
        context.insert("environment".into(), Value::String(env.to_string()));
    }
    if let Some(cluster) = cluster {
        context.insert("cluster".into(), Value::String(cluster.to_string()));
    }
    EvalInput {
        kind: "kubernetes".into(),
        source: source.to_string(),
        context,
        parameters: BTreeMap::new(),
        resources: objects.iter().filter_map(resource).collect(),
        conditions: BTreeMap::new(),
    }
}

/// A manifest that is not one: the file, the line when known, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ManifestError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Manifests (one or more YAML documents, `kind: List` expanded) as objects.
pub fn manifests(text: &str, source: &str) -> Result<Vec<Value>, ManifestError> {
    let mut objects = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let value =
            <Value as serde::Deserialize>::deserialize(document).map_err(|e| ManifestError {
                file: source.to_string(),
                line: e.location().map(|l| l.line()),
                message: format!("not a Kubernetes manifest: {e}"),
            })?;
        match value {
            Value::Null => {}
            Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
                objects.extend(
                    map.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            Value::Object(_) => objects.push(value),
            _ => {
                return Err(ManifestError {
                    file: source.to_string(),
                    line: None,
                    message: "not a Kubernetes manifest: a document is not a mapping".into(),
                });
            }
        }
    }
    Ok(objects)
}

/// Judge objects with the checker's rules and waivers.
pub fn judge(checker: &Checker, input: &EvalInput) -> Evaluation {
    let mut eval = checker.pack.evaluate(input, None);
    crate::compliance::waivers::apply(&mut eval.findings, &checker.waivers, &checker.today);
    eval
}

/// What findings name a cluster by: `kube:CONTEXT` or `kube:CONTEXT/NAMESPACE`.
pub fn source_name(context: &ContextRef, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("kube:{}/{ns}", context.name()),
        None => format!("kube:{}", context.name()),
    }
}

/// The Compliance pane's report of one cluster's workloads.
pub fn judge_cluster(
    checker: &Checker,
    context: &ContextRef,
    namespace: Option<&str>,
    objects: &[Value],
    environment: Environment,
) -> JudgedReport {
    let source = source_name(context, namespace);
    let env = (environment != Environment::Unmapped).then(|| environment.as_str());
    let input = input(objects, &source, env, None);
    let count = input.resources.len();
    let eval = judge(checker, &input);
    let mut report = checker.report(vec![(source.clone(), eval)]);
    if count == 0 {
        report
            .errors
            .push(format!("{source}: no workload to judge in this scope"));
    }
    JudgedReport {
        title: format!(
            "{} workloads of {}{} ({environment})",
            count,
            context.name(),
            namespace.map(|ns| format!("/{ns}")).unwrap_or_default()
        ),
        report,
        texts: HashMap::new(),
        stack: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_become_typed_resources_with_readable_ids() {
        let objects = manifests(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec: {}\nstatus: {replicas: 1}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n",
            "m.yaml",
        )
        .expect("parses");
        let input = input(&objects, "m.yaml", Some("PRD"), None);
        let ids: Vec<(&str, &str)> = input
            .resources
            .iter()
            .map(|r| (r.id.as_str(), r.resource_type.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("shop/deployment/web", "k8s:apps/v1:Deployment"),
                ("node/n1", "k8s:v1:Node")
            ]
        );
        assert!(input.resources[0].properties.get("status").is_none());
        assert_eq!(input.kind, "kubernetes");
        assert!(
            manifests("- a\n- b\n", "x.yaml")
                .unwrap_err()
                .to_string()
                .contains("x.yaml")
        );
    }
}
