//! The report as JSON for scripts: `format_version`, `summary`, then the report's own fields
//! (`sources`, `rules`, `findings`, `controls`, `errors`, `rule_errors`). Field names are part
//! of the CLI's contract: a rename is a new `format_version`. A control a rule could not judge
//! has `state` `"error"` (counted in `summary.error`), and the rule's error is in
//! `rule_errors` (`rule`, `source`, `message`). Strings are kept exactly; control characters
//! in them are written as `\u` escapes.

use crate::compliance::report::{Report, Summary};
use serde::Serialize;

/// Bumped when a field is renamed or removed (adding one is not a break).
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    summary: Summary,
    passed: bool,
    #[serde(flatten)]
    report: &'a Report,
}

pub fn render(report: &Report) -> String {
    let doc = Document {
        format_version: FORMAT_VERSION,
        summary: report.summary(),
        passed: report.failures().next().is_none() && report.errors.is_empty(),
        report,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        // Every field is a string, number or list of them: this cannot fail in practice.
        format!("{{\"error\": \"cannot encode the report: {e}\"}}")
    });
    text.push('\n');
    super::json_for_terminals(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::export::fixture;

    #[test]
    fn field_names_are_stable() {
        let v: serde_json::Value =
            serde_json::from_str(&render(&fixture::report())).expect("valid JSON");
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&v),
            [
                "controls",
                "errors",
                "findings",
                "format_version",
                "passed",
                "rule_errors",
                "rules",
                "sources",
                "summary"
            ]
        );
        assert_eq!(
            keys(&v["summary"]),
            ["error", "failed", "not_applicable", "passed", "waived"]
        );
        assert_eq!(
            keys(&v["findings"][0]),
            [
                "controls",
                "line",
                "message",
                "path",
                "remediation",
                "resource",
                "resource_type",
                "rule",
                "severity",
                "source",
                "title",
                "waiver"
            ]
        );
        assert_eq!(
            keys(&v["controls"][0]),
            ["control", "findings", "rules", "state"]
        );
        assert_eq!(
            keys(&v["controls"][0]["control"]),
            ["family", "family_title", "id", "label", "title"]
        );
        assert_eq!(
            keys(&v["rules"][0]),
            [
                "controls",
                "id",
                "reads",
                "remediation",
                "resource_types",
                "severity",
                "source",
                "title"
            ]
        );
        let waived = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["waiver"]["state"] == "active")
            .expect("a waived finding");
        assert_eq!(
            keys(&waived["waiver"]),
            ["expires", "reason", "state", "ticket"]
        );
        assert_eq!(v["passed"], false);
        assert_eq!(v["format_version"], 1);
    }

    #[test]
    fn a_rule_that_could_not_judge_is_an_error_state_and_a_rule_error() {
        let mut report = fixture::report();
        let (pack, _) = crate::compliance::policy::PolicyPack::bundled();
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n    Properties: \"nope\"\n";
        let (input, lines) = crate::compliance::input::from_template(
            template,
            "nope.yaml",
            &std::collections::BTreeMap::new(),
            None,
        )
        .expect("parses");
        let eval = pack.evaluate(&input, Some(&lines));
        report = crate::compliance::report::Report::build(
            report.rules.clone(),
            vec![("nope.yaml".into(), eval)],
            &[],
        );
        let v: serde_json::Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(v["passed"], false);
        assert!(v["summary"]["error"].as_u64().unwrap_or_default() > 0);
        let errored = v["controls"]
            .as_array()
            .expect("controls")
            .iter()
            .find(|c| c["state"] == "error")
            .expect("a control in state error");
        let rule = v["rule_errors"][0]["rule"].as_str().expect("a rule error");
        assert!(
            v["controls"]
                .as_array()
                .expect("controls")
                .iter()
                .filter(|c| c["rules"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r == rule)))
                .all(|c| c["state"] == "error"),
            "{errored}"
        );
        assert_eq!(v["rule_errors"][0]["source"], "nope.yaml");
    }
}
