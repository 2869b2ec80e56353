//! SARIF 2.1.0 for code scanning: one run, the rule pack as `tool.driver.rules` (NIST control
//! labels as tags, a `security-severity` score GitHub ranks by), one result per finding with
//! the template's file and line and the resource as a logical location. A finding under an
//! active waiver carries an accepted external suppression (`state`, as the 2.1.0 schema spells it) (its reason, ticket and expiry); an
//! expired waiver is a rejected suppression, so the result counts again.

use super::label;
use crate::compliance::model::{Severity, WaiverState};
use crate::compliance::report::Report;
use serde_json::{Value, json};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/opsdeck/opsdeck";

/// SARIF `level` for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's `security-severity` (0.0–10.0; ≥ 9 critical, ≥ 7 high, ≥ 4 medium).
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| {
            let mut tags: Vec<String> = r.controls.iter().map(|c| label(c)).collect();
            tags.extend(["security".to_string(), "compliance".to_string()]);
            json!({
                "id": r.id,
                "name": pascal(&r.title),
                "shortDescription": { "text": r.title },
                "fullDescription": {
                    "text": format!(
                        "{} (NIST SP 800-53 rev 5: {}; judges {})",
                        r.title,
                        r.controls.iter().map(|c| label(c)).collect::<Vec<_>>().join(", "),
                        if r.resource_types.is_empty() {
                            "every resource".to_string()
                        } else {
                            r.resource_types.join(", ")
                        }
                    )
                },
                "help": {
                    "text": format!("Remediation: {}", r.remediation),
                    "markdown": format!("**Remediation:** {}", r.remediation),
                },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "tags": tags,
                    "security-severity": security_severity(r.severity),
                    "precision": "high",
                    "nist-800-53-controls": r.controls,
                    "policy": r.source,
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut physical = json!({ "artifactLocation": { "uri": uri(&f.source) } });
            if let Some(line) = f.line {
                physical["region"] = json!({ "startLine": line });
            }
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": format!("{} — {}", f.message, f.remediation) },
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{
                        "name": f.resource,
                        "fullyQualifiedName": format!("Resources.{}.{}", f.resource, f.path),
                        "kind": "resource",
                        "properties": { "resourceType": f.resource_type },
                    }],
                }],
                "partialFingerprints": {
                    "opsdeckFinding/v1": format!("{}|{}|{}|{}", f.rule, f.source, f.resource, f.path),
                },
                "properties": {
                    "severity": f.severity,
                    "resourceType": f.resource_type,
                    "path": f.path,
                    "controls": f.controls.iter().map(|c| label(c)).collect::<Vec<_>>(),
                },
            });
            if let Some(index) = report.rules.iter().position(|r| r.id == f.rule) {
                result["ruleIndex"] = json!(index);
            }
            match &f.waiver {
                Some(WaiverState::Active {
                    reason,
                    ticket,
                    expires,
                }) => {
                    result["suppressions"] = json!([{
                        "kind": "external",
                        "state": "accepted",
                        "justification": format!("{reason} (waiver {ticket}, until {expires})"),
                        "properties": { "ticket": ticket, "expires": expires },
                    }]);
                }
                Some(WaiverState::Expired {
                    reason,
                    ticket,
                    expires,
                }) => {
                    result["suppressions"] = json!([{
                        "kind": "external",
                        "state": "rejected",
                        "justification": format!("waiver {ticket} expired on {expires}: {reason}"),
                        "properties": { "ticket": ticket, "expires": expires },
                    }]);
                }
                None => {}
            }
            result
        })
        .collect();
    // Every error is a notification; one of a rule that could not judge names the rule.
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            let mut n = json!({ "level": "error", "message": { "text": e } });
            if let Some(failed) = report.rule_errors.iter().find(|r| &r.message == e) {
                n["associatedRule"] = json!({ "id": failed.rule });
                if let Some(index) = report.rules.iter().position(|r| r.id == failed.rule) {
                    n["associatedRule"]["index"] = json!(index);
                }
            }
            n
        })
        .collect();
    let mut invocation = json!({ "executionSuccessful": report.errors.is_empty() });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "opsdeck",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "invocations": [invocation],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    super::json_for_terminals(text)
}

/// A URI reference for a source: a relative path stays relative (the repository root is
/// the base code scanning resolves it against), an absolute one becomes `file://`, and
/// `stack:NAME` is already a URI. Bytes outside RFC 3986's unreserved set and `/` are escaped.
pub fn uri(source: &str) -> String {
    if let Some(name) = source.strip_prefix("stack:") {
        return format!("stack:{}", escape(name));
    }
    let path = source.strip_prefix("./").unwrap_or(source);
    if path.starts_with('/') {
        format!("file://{}", escape(path))
    } else {
        escape(path)
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `S3 buckets encrypt objects at rest` → `S3BucketsEncryptObjectsAtRest` (SARIF's rule
/// `name` is an identifier-like string).
fn pascal(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::export::fixture;

    #[test]
    fn results_carry_rule_level_location_and_suppressions() {
        let report = fixture::report();
        let v: Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        let s3 = rules.iter().find(|r| r["id"] == "S3-001").expect("S3-001");
        assert_eq!(s3["properties"]["tags"][0], "SC-28");
        assert_eq!(s3["properties"]["tags"][1], "SC-28(1)");
        assert_eq!(s3["properties"]["security-severity"], "8.0");
        assert!(
            s3["help"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("BucketEncryption")
        );
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), report.findings.len());
        let open = results
            .iter()
            .find(|r| {
                r["ruleId"] == "S3-001"
                    && r["locations"][0]["logicalLocations"][0]["name"] == "Open"
            })
            .expect("Open's encryption finding");
        assert_eq!(open["level"], "error");
        let loc = &open["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "fixtures/open.yaml");
        assert_eq!(loc["region"]["startLine"], 4);
        assert!(open.get("suppressions").is_none());
        let waived = results
            .iter()
            .find(|r| r["suppressions"][0]["state"] == "accepted")
            .expect("a suppressed result");
        assert_eq!(waived["suppressions"][0]["kind"], "external");
        assert!(
            waived["suppressions"][0]["justification"]
                .as_str()
                .unwrap_or_default()
                .contains("OPS-1")
        );
        assert!(
            results
                .iter()
                .any(|r| r["suppressions"][0]["state"] == "rejected")
        );
        let no_line = results
            .iter()
            .find(|r| r["ruleId"] == "S3-002")
            .expect("S3-002");
        assert!(
            no_line["locations"][0]["physicalLocation"]
                .get("region")
                .is_none()
        );
    }

    #[test]
    fn uris_are_references() {
        assert_eq!(
            uri("templates/s3 bucket.yaml"),
            "templates/s3%20bucket.yaml"
        );
        assert_eq!(uri("./x.yaml"), "x.yaml");
        assert_eq!(uri("/tmp/x.yaml"), "file:///tmp/x.yaml");
        assert_eq!(uri("stack:web"), "stack:web");
        assert_eq!(
            pascal("S3 buckets block every form"),
            "S3BucketsBlockEveryForm"
        );
    }
}
