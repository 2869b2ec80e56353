//! OSCAL 1.2 assessment-results (JSON), the form GRC tools and auditors take in. Validated in
//! the test suite with compliance-trestle's `AssessmentResults` model.
//!
//! - `metadata`: title, timestamps (RFC 3339, UTC), `oscal-version`.
//! - `import-ap`: an assessment plan is required; there is none on file, so it points at a
//!   back-matter resource describing what stood in for one: the rule pack.
//! - `results[0]`:
//!   - `reviewed-controls`: every control a loaded rule supports (OSCAL ids, `sc-28.1`);
//!   - `local-definitions.inventory-items`: each resource with a finding (`asset-id`
//!     `SOURCE#LOGICAL_ID`), so observations can name it as their subject;
//!   - `observations`: one per finding (method TEST, type finding), the resource as subject
//!     and `file:line` and property path as relevant evidence;
//!   - `findings`: one per control that was judged, targeting its assessment objective
//!     (`sc-28.1_obj`) with status satisfied or not-satisfied, linked to its observations.
//!     A control whose only failures are waived is not-satisfied with reason `other` and the
//!     waivers in `remarks`: a waiver accepts a risk, it does not satisfy a control.
//!
//! Controls no rule had anything to judge get no finding (they were not assessed).
//!
//! Every uuid is a fresh v4: each export is a new assessment.

use super::{label, status, uuid4};
use crate::compliance::model::WaiverState;
use crate::compliance::report::{ControlState, Report};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

pub const OSCAL_VERSION: &str = "1.2.1";
/// Namespace of opsdeck's own `props` (OSCAL asks for one on names it does not define).
pub const NS: &str = "https://opsdeck.dev/ns/oscal";

pub fn render(report: &Report, now: SystemTime) -> String {
    let now = humantime::format_rfc3339_seconds(now).to_string();
    let plan_uuid = uuid4();

    // One inventory item per resource with a finding, in the order findings come.
    let mut items: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut inventory = Vec::new();
    for f in &report.findings {
        let key = (f.source.clone(), f.resource.clone());
        if items.contains_key(&key) {
            continue;
        }
        let id = uuid4();
        items.insert(key, id.clone());
        let mut props = vec![prop(
            "asset-id",
            &format!("{}#{}", f.source, f.resource),
            None,
        )];
        if !f.resource_type.trim().is_empty() {
            props.push(prop("resource-type", &f.resource_type, Some(NS)));
        }
        inventory.push(json!({
            "uuid": id,
            "description": one_line(&format!("{} {} in {}", f.resource_type, f.resource, f.source)),
            "props": props,
        }));
    }

    let mut observation_of = Vec::with_capacity(report.findings.len());
    let mut observations = Vec::new();
    for f in &report.findings {
        let id = uuid4();
        observation_of.push(id.clone());
        let subject = &items[&(f.source.clone(), f.resource.clone())];
        let evidence_place = super::location(f);
        let mut evidence = json!({
            "description": one_line(&format!("{evidence_place} {} ({})", f.path, f.resource)),
        });
        if !f.source.starts_with("stack:") {
            evidence["href"] = json!(super::sarif::uri(&f.source));
        }
        let mut props = vec![
            prop("rule-id", &f.rule, Some(NS)),
            prop("severity", f.severity.as_str(), Some(NS)),
            prop("status", status(f), Some(NS)),
        ];
        if let Some(line) = f.line {
            props.push(prop("line", &line.to_string(), Some(NS)));
        }
        let mut remarks = format!("Remediation: {}", f.remediation);
        match &f.waiver {
            Some(WaiverState::Active {
                reason,
                ticket,
                expires,
            }) => remarks.push_str(&format!("\nWaived until {expires} ({ticket}): {reason}")),
            Some(WaiverState::Expired {
                reason,
                ticket,
                expires,
            }) => remarks.push_str(&format!(
                "\nWaiver {ticket} expired on {expires} ({reason}); the finding counts again"
            )),
            None => {}
        }
        observations.push(json!({
            "uuid": id,
            "title": one_line(&format!("{} {}: {}", f.rule, f.resource, f.title)),
            "description": one_line(&f.message),
            "props": props,
            "methods": ["TEST"],
            "types": ["finding"],
            "subjects": [{
                "subject-uuid": subject,
                "type": "inventory-item",
                "title": one_line(&format!("{} ({})", f.resource, f.resource_type)),
            }],
            "relevant-evidence": [evidence],
            "collected": now,
            "remarks": remarks,
        }));
    }

    let mut findings = Vec::new();
    for c in &report.controls {
        let (state, reason) = match c.state {
            ControlState::NotApplicable => continue,
            ControlState::Passed => ("satisfied", "pass"),
            ControlState::Failed => ("not-satisfied", "fail"),
            ControlState::Waived => ("not-satisfied", "other"),
            // Not judged is not satisfied: the reason is said in the status remarks.
            ControlState::Error => ("not-satisfied", "other"),
        };
        let counted = c
            .findings
            .iter()
            .filter(|&&i| report.findings[i].counts())
            .count();
        let waived = c.findings.len() - counted;
        let description = match c.state {
            ControlState::Passed => format!(
                "Rules {} judged the resources this control covers and found nothing.",
                c.rules.join(", ")
            ),
            ControlState::Error => format!(
                "Not judged: a rule supporting this control failed to evaluate ({}); {counted} failing finding(s), {waived} waived from the others.",
                report
                    .errors_of(c)
                    .map(|e| e.rule.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "Rules {}: {counted} failing finding(s), {waived} waived.",
                c.rules.join(", ")
            ),
        };
        let mut target = json!({
            "type": "objective-id",
            "target-id": format!("{}_obj", c.control.id),
            "title": one_line(&format!("{} {}", c.control.label, c.control.title)),
            "status": { "state": state, "reason": reason },
        });
        if c.state == ControlState::Waived {
            let waivers: Vec<String> = c
                .findings
                .iter()
                .filter_map(|&i| match &report.findings[i].waiver {
                    Some(WaiverState::Active {
                        reason,
                        ticket,
                        expires,
                    }) => Some(format!(
                        "{} {}: waived until {expires} ({ticket}): {reason}",
                        report.findings[i].rule, report.findings[i].resource
                    )),
                    _ => None,
                })
                .collect();
            target["status"]["remarks"] = json!(waivers.join("\n"));
        }
        if c.state == ControlState::Error {
            let why: Vec<&str> = report.errors_of(c).map(|e| e.message.as_str()).collect();
            target["status"]["remarks"] = json!(why.join("\n"));
        }
        let mut finding = json!({
            "uuid": uuid4(),
            "title": one_line(&format!("{} {}", label(&c.control.id), c.control.title)),
            "description": description,
            "props": [prop("control-state", c.state.as_str(), Some(NS))],
            "target": target,
        });
        if !c.findings.is_empty() {
            finding["related-observations"] = Value::Array(
                c.findings
                    .iter()
                    .map(|&i| json!({ "observation-uuid": observation_of[i] }))
                    .collect(),
            );
        }
        findings.push(finding);
    }

    let selected: Vec<Value> = report
        .controls
        .iter()
        .map(|c| json!({ "control-id": c.control.id }))
        .collect();
    let mut result = Map::new();
    result.insert("uuid".into(), json!(uuid4()));
    result.insert(
        "title".into(),
        json!("Automated assessment of CloudFormation templates by opsdeck"),
    );
    result.insert(
        "description".into(),
        json!(format!(
            "NIST SP 800-53 rev 5 rules (Rego) over: {}.",
            if report.sources.is_empty() {
                "nothing".to_string()
            } else {
                report.sources.join(", ")
            }
        )),
    );
    result.insert("start".into(), json!(now));
    result.insert("end".into(), json!(now));
    if !inventory.is_empty() {
        result.insert(
            "local-definitions".into(),
            json!({ "inventory-items": inventory }),
        );
    }
    let mut reviewed = json!({
        "description": "Every control a loaded rule supports.",
        "control-selections": [{}],
    });
    if selected.is_empty() {
        // Only when no rule loaded at all (the bundled pack is compiled in, so in practice
        // never). OSCAL needs a selection: say plainly that nothing was judged.
        reviewed["control-selections"][0] = json!({
            "description": "No rule was loaded: no control was judged.",
            "include-all": {},
        });
    } else {
        reviewed["control-selections"][0] = json!({ "include-controls": selected });
    }
    result.insert("reviewed-controls".into(), reviewed);
    if !observations.is_empty() {
        result.insert("observations".into(), Value::Array(observations));
    }
    if !findings.is_empty() {
        result.insert("findings".into(), Value::Array(findings));
    }
    if !report.errors.is_empty() {
        result.insert(
            "remarks".into(),
            json!(format!("Incomplete: {}", report.errors.join("\n"))),
        );
    }

    let pack = report
        .rules
        .iter()
        .map(|r| {
            format!(
                "{} ({}): {} [{}]",
                r.id,
                r.severity,
                r.title,
                r.controls
                    .iter()
                    .map(|c| label(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let doc = json!({
        "assessment-results": {
            "uuid": uuid4(),
            "metadata": {
                "title": format!(
                    "opsdeck compliance assessment ({} source{})",
                    report.sources.len(),
                    if report.sources.len() == 1 { "" } else { "s" }
                ),
                "last-modified": now,
                "version": env!("CARGO_PKG_VERSION"),
                "oscal-version": OSCAL_VERSION,
                "props": [prop("generator", &format!("opsdeck {}", env!("CARGO_PKG_VERSION")), Some(NS))],
            },
            "import-ap": {
                "href": format!("#{plan_uuid}"),
                "remarks": "No assessment plan on file: the plan is the rule pack described in back-matter.",
            },
            "results": [Value::Object(result)],
            "back-matter": {
                "resources": [{
                    "uuid": plan_uuid,
                    "title": "opsdeck rule pack",
                    "description": if pack.is_empty() { "No rule was loaded.".to_string() } else { pack },
                }],
            },
        }
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    super::json_for_terminals(text)
}

fn prop(name: &str, value: &str, ns: Option<&str>) -> Value {
    let mut p = json!({ "name": name, "value": one_line(value) });
    if let Some(ns) = ns {
        p["ns"] = json!(ns);
    }
    p
}

/// OSCAL titles and prop values are one line without surrounding blanks, and never empty.
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        "-".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::export::fixture;

    fn is_uuid(s: &str) -> bool {
        let b = s.as_bytes();
        s.len() == 36
            && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn controls_become_findings_and_findings_observations() {
        let report = fixture::report();
        let text = render(
            &report,
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
        );
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        let ar = &v["assessment-results"];
        assert!(is_uuid(ar["uuid"].as_str().unwrap_or_default()));
        assert_eq!(ar["metadata"]["oscal-version"], OSCAL_VERSION);
        assert_eq!(ar["metadata"]["last-modified"], "2027-01-15T08:00:00Z");
        let href = ar["import-ap"]["href"].as_str().unwrap_or_default();
        assert_eq!(
            href.trim_start_matches('#'),
            ar["back-matter"]["resources"][0]["uuid"]
        );
        let result = &ar["results"][0];
        let selected = result["reviewed-controls"]["control-selections"][0]["include-controls"]
            .as_array()
            .expect("controls");
        assert_eq!(selected.len(), report.controls.len());
        assert!(selected.iter().any(|c| c["control-id"] == "sc-28.1"));
        let observations = result["observations"].as_array().expect("observations");
        assert_eq!(observations.len(), report.findings.len());
        let findings = result["findings"].as_array().expect("findings");
        let sc28 = findings
            .iter()
            .find(|f| f["target"]["target-id"] == "sc-28.1_obj")
            .expect("sc-28.1");
        assert_eq!(sc28["target"]["type"], "objective-id");
        assert_eq!(sc28["target"]["status"]["state"], "not-satisfied");
        let linked = sc28["related-observations"].as_array().expect("linked");
        assert!(!linked.is_empty());
        for l in linked {
            assert!(
                observations
                    .iter()
                    .any(|o| o["uuid"] == l["observation-uuid"])
            );
        }
        let evidence = observations
            .iter()
            .map(|o| {
                o["relevant-evidence"][0]["description"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>();
        assert!(
            evidence
                .iter()
                .any(|e| e.starts_with("fixtures/open.yaml:4 Properties.BucketEncryption")),
            "{evidence:?}"
        );
        let items = result["local-definitions"]["inventory-items"]
            .as_array()
            .expect("items");
        for o in observations {
            let subject = &o["subjects"][0]["subject-uuid"];
            assert!(items.iter().any(|i| &i["uuid"] == subject));
        }
    }
}
