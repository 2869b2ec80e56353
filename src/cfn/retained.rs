//! Which resources a stack keeps (or snapshots) when it is deleted, read from its template's
//! `DeletionPolicy` attributes, so the delete dialog can say what will be left behind.

use crate::cfn::model::RetainedResource;
use yaml_serde::Value;

/// Policies that leave something behind when the stack is deleted. (`RetainExceptOnCreate`
/// behaves like `Retain` for a delete; it only differs when the creating operation fails.)
const KEEPING: [&str; 3] = ["Retain", "Snapshot", "RetainExceptOnCreate"];

/// Every resource whose deletion policy keeps or snapshots something, in template order.
///
/// - A literal `DeletionPolicy` of `Retain`, `Snapshot` or `RetainExceptOnCreate` is listed
///   as written.
/// - A policy chosen by an intrinsic function (`!If [...]`, `{"Fn::If": ...}`, which the
///   `AWS::LanguageExtensions` transform allows) cannot be resolved here: it is listed with
///   every keeping policy it may resolve to, e.g. `Retain or Delete (conditional)` →
///   `Retain (conditional)`.
/// - Without a `DeletionPolicy`, CloudFormation snapshots `AWS::RDS::DBCluster` resources and
///   `AWS::RDS::DBInstance` resources that do not set `DBClusterIdentifier` (documented in the
///   `DeletionPolicy` attribute reference); those are listed as `Snapshot`.
///
/// The text may be JSON or YAML with `!Ref`-style tags. An error names what could not be
/// parsed; callers treat it as "unknown", never as "nothing retained" silently.
pub fn retained_resources(template: &str) -> Result<Vec<RetainedResource>, String> {
    let root = super::template::parse_tree(template, std::path::Path::new("the template"))
        .map_err(|e| format!("template is not YAML/JSON: {}", e.message))?;
    let resources = root
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| "template has no Resources mapping".to_string())?;
    let mut out = Vec::new();
    for (id, body) in resources {
        let Some(logical_id) = id.as_str() else {
            continue;
        };
        let resource_type = body
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let policy = match body.get("DeletionPolicy") {
            Some(Value::String(p)) => KEEPING.contains(&p.as_str()).then(|| p.clone()),
            Some(other) => {
                let mut leaves = Vec::new();
                policy_leaves(other, &mut leaves);
                (!leaves.is_empty()).then(|| format!("{} (conditional)", leaves.join("/")))
            }
            None => snapshots_by_default(&resource_type, body).then(|| "Snapshot".to_string()),
        };
        if let Some(policy) = policy {
            out.push(RetainedResource {
                logical_id: logical_id.to_string(),
                resource_type,
                policy,
            });
        }
    }
    Ok(out)
}

fn snapshots_by_default(resource_type: &str, body: &Value) -> bool {
    match resource_type {
        "AWS::RDS::DBCluster" => true,
        "AWS::RDS::DBInstance" => body
            .get("Properties")
            .and_then(|p| p.get("DBClusterIdentifier"))
            .is_none(),
        _ => false,
    }
}

/// Keeping policy names anywhere inside an intrinsic function, each once.
fn policy_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if KEEPING.contains(&s.as_str()) && !out.contains(s) => {
            out.push(s.clone());
        }
        Value::Sequence(items) => items.iter().for_each(|v| policy_leaves(v, out)),
        Value::Mapping(map) => map.values().for_each(|v| policy_leaves(v, out)),
        Value::Tagged(tagged) => policy_leaves(&tagged.value, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies(text: &str) -> Vec<(String, String)> {
        retained_resources(text)
            .expect("parses")
            .into_iter()
            .map(|r| (r.logical_id, r.policy))
            .collect()
    }

    #[test]
    fn yaml_with_tags_lists_keeping_policies_in_order() {
        let text = r#"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties:
      BucketName: !Ref Name
  Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
  Topic:
    Type: AWS::SNS::Topic
  Volume:
    Type: AWS::EC2::Volume
    DeletionPolicy: Snapshot
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: RetainExceptOnCreate
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: !If [IsProd, Retain, Delete]
"#;
        assert_eq!(
            policies(text),
            [
                ("Bucket".to_string(), "Retain".to_string()),
                ("Volume".into(), "Snapshot".into()),
                ("Table".into(), "RetainExceptOnCreate".into()),
                ("Key".into(), "Retain (conditional)".into()),
            ]
        );
    }

    #[test]
    fn json_and_rds_defaults() {
        let text = r#"{"Resources":{
            "Db":{"Type":"AWS::RDS::DBInstance","Properties":{"Engine":"postgres"}},
            "ClusterMember":{"Type":"AWS::RDS::DBInstance","Properties":{"DBClusterIdentifier":{"Ref":"Cluster"}}},
            "Cluster":{"Type":"AWS::RDS::DBCluster"},
            "Deleted":{"Type":"AWS::RDS::DBCluster","DeletionPolicy":"Delete"},
            "Cond":{"Type":"AWS::S3::Bucket","DeletionPolicy":{"Fn::If":["C","Snapshot","Retain"]}}
        }}"#;
        assert_eq!(
            policies(text),
            [
                ("Db".to_string(), "Snapshot".to_string()),
                ("Cluster".into(), "Snapshot".into()),
                ("Cond".into(), "Snapshot/Retain (conditional)".into()),
            ]
        );
    }

    #[test]
    fn the_library_s3_template_retains_bucket_and_policy() {
        let text = include_str!("../../templates/s3-bucket.yaml");
        assert_eq!(
            policies(text),
            [
                ("Bucket".to_string(), "Retain".to_string()),
                ("BucketPolicy".into(), "Retain".into()),
            ]
        );
    }

    #[test]
    fn unparseable_templates_are_an_error_not_an_empty_list() {
        assert!(retained_resources("Resources: [unclosed").is_err());
        assert!(retained_resources("Description: no resources").is_err());
    }
}
