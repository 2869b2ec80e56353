//! One row per finding, RFC 4180: comma-separated, CRLF line ends, a field quoted when it
//! holds a comma, quote, CR or LF (quotes doubled). A field that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`: resource ids and
//! messages come from templates, which are not trusted. For the same reason no field carries
//! an escape sequence or a control character other than a line feed (CSV has no way to
//! escape them, and a CSV file is often shown on a terminal).
//!
//! A rule that could not judge a source gets a row of its own with status `error` (no
//! resource, the error as message): its controls were not judged.

use super::{label, status};
use crate::compliance::model::WaiverState;
use crate::compliance::report::Report;

pub const HEADER: [&str; 16] = [
    "source",
    "line",
    "resource",
    "resource_type",
    "rule",
    "title",
    "severity",
    "controls",
    "path",
    "message",
    "remediation",
    "status",
    "waiver_reason",
    "waiver_ticket",
    "waiver_expires",
    "control_ids",
];

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    row(&mut out, HEADER.iter().map(|s| s.to_string()));
    for f in &report.findings {
        let (reason, ticket, expires) = match &f.waiver {
            Some(WaiverState::Active {
                reason,
                ticket,
                expires,
            })
            | Some(WaiverState::Expired {
                reason,
                ticket,
                expires,
            }) => (reason.clone(), ticket.clone(), expires.clone()),
            None => Default::default(),
        };
        row(
            &mut out,
            [
                f.source.clone(),
                f.line.map(|l| l.to_string()).unwrap_or_default(),
                f.resource.clone(),
                f.resource_type.clone(),
                f.rule.clone(),
                f.title.clone(),
                f.severity.to_string(),
                f.controls
                    .iter()
                    .map(|c| label(c))
                    .collect::<Vec<_>>()
                    .join(" "),
                f.path.clone(),
                f.message.clone(),
                f.remediation.clone(),
                status(f).to_string(),
                reason,
                ticket,
                expires,
                f.controls.join(" "),
            ]
            .into_iter(),
        );
    }
    for e in &report.rule_errors {
        let rule = report.rules.iter().find(|r| r.id == e.rule);
        let controls = rule.map(|r| r.controls.clone()).unwrap_or_default();
        row(
            &mut out,
            [
                e.source.clone(),
                String::new(),
                String::new(),
                String::new(),
                e.rule.clone(),
                rule.map(|r| r.title.clone()).unwrap_or_default(),
                rule.map(|r| r.severity.to_string()).unwrap_or_default(),
                controls
                    .iter()
                    .map(|c| label(c))
                    .collect::<Vec<_>>()
                    .join(" "),
                String::new(),
                e.message.clone(),
                rule.map(|r| r.remediation.clone()).unwrap_or_default(),
                "error".to_string(),
                String::new(),
                String::new(),
                String::new(),
                controls.join(" "),
            ]
            .into_iter(),
        );
    }
    out
}

fn row(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field_text(&field));
    }
    out.push_str("\r\n");
}

pub(crate) fn field_text(value: &str) -> String {
    // Each line cleaned on its own: line feeds stay (quoted), nothing else that controls.
    let mut value = value
        .split('\n')
        .map(|line| crate::engine::joblog::sanitized(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        value.insert(0, '\'');
    }
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::export::fixture;

    #[test]
    fn quoting_follows_rfc_4180_and_defuses_formulas() {
        assert_eq!(field_text("plain"), "plain");
        assert_eq!(field_text("a,b"), "\"a,b\"");
        assert_eq!(field_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(
            field_text("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(field_text("-1"), "'-1");
        assert_eq!(field_text("a\u{1b}[31mred\u{1b}[0m\r\u{9b}2Jb"), "aredb");
        assert_eq!(field_text("one\n\u{1b}]0;title\u{7}two"), "\"one\ntwo\"");
    }

    #[test]
    fn one_row_per_finding_with_status_and_waiver() {
        let report = fixture::report();
        let text = render(&report);
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), report.findings.len() + 1, "{text}");
        assert_eq!(lines[0], HEADER.join(","));
        assert!(
            text.contains("fixtures/open.yaml,4,Open,AWS::S3::Bucket,S3-001,"),
            "{text}"
        );
        assert!(text.contains(",SC-28 SC-28(1),"), "{text}");
        assert!(
            text.contains(",waived,\"the log bucket, for now\",OPS-1,2026-12-31,sc-28 sc-28.1"),
            "{text}"
        );
        assert!(
            text.contains(",waiver-expired,old,OPS-2,2020-01-01,"),
            "{text}"
        );
    }
}
