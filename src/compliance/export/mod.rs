//! Exports of a [`Report`]: one module per format, each a pure function of the report (and,
//! for OSCAL, the time of the assessment), so `opsdeck check`, the Compliance pane and tests
//! render the same bytes.
//!
//! | format | for | shape |
//! |---|---|---|
//! | [`text`] | people, CI logs | summary line, then failures by family → control → finding |
//! | [`json`] | scripts | the report itself, field names stable (`format_version` 1) |
//! | [`csv`] | spreadsheets | one row per finding, RFC 4180 quoting |
//! | [`sarif`] | code scanning (GitHub, GitLab, IDEs) | SARIF 2.1.0, one result per finding |
//! | [`oscal`] | GRC tools, auditors | OSCAL 1.2 assessment-results |

pub mod csv;
pub mod json;
pub mod oscal;
pub mod sarif;
pub mod text;

use super::model::{Finding, WaiverState};
use super::report::Report;
use std::time::SystemTime;

/// Every format `opsdeck check --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
    Sarif,
    Oscal,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Json,
        Format::Csv,
        Format::Sarif,
        Format::Oscal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Oscal => "oscal",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Format::Text => "plain text, for people",
            Format::Json => "the report as JSON",
            Format::Csv => "one row per finding",
            Format::Sarif => "SARIF 2.1.0, for code-scanning tools",
            Format::Oscal => "OSCAL assessment-results, for assessors",
        }
    }

    /// The file name extension an export in this format gets.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Oscal => "oscal.json",
        }
    }

    /// `text` (or `txt`), `json`, `csv`, `sarif`, `oscal`, in any case.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name) || (name == "txt" && *f == Format::Text))
    }
}

/// Render `report` in `format`; `now` stamps the OSCAL document (the others carry no time, so
/// the same report always renders the same bytes).
pub fn render(report: &Report, format: Format, now: SystemTime) -> String {
    match format {
        Format::Text => text::render(report),
        Format::Json => json::render(report),
        Format::Csv => csv::render(report),
        Format::Sarif => sarif::render(report),
        Format::Oscal => oscal::render(report, now),
    }
}

/// How a finding stands, as every export spells it.
pub(crate) fn status(finding: &Finding) -> &'static str {
    match finding.waiver {
        None => "failed",
        Some(WaiverState::Active { .. }) => "waived",
        Some(WaiverState::Expired { .. }) => "waiver-expired",
    }
}

/// `file:line`, or just the source when the line is unknown.
pub(crate) fn location(finding: &Finding) -> String {
    match finding.line {
        Some(line) => format!("{}:{line}", finding.source),
        None => finding.source.clone(),
    }
}

/// The catalog label (`SC-28(1)`) of an OSCAL control id, or the id itself when unknown.
pub(crate) fn label(control: &str) -> String {
    super::controls::lookup(control)
        .map(|c| c.label.clone())
        .unwrap_or_else(|| control.to_string())
}

/// JSON text with DEL and the C1 controls (U+007F..=U+009F) written as `\u00XX` escapes. The
/// data is the same (any JSON reader gets the same strings back), but no byte of the export
/// is one a terminal acts on when it is printed (serde_json already escapes C0 controls).
pub(crate) fn json_for_terminals(text: String) -> String {
    if !text.chars().any(|c| ('\u{7f}'..='\u{9f}').contains(&c)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A random (version 4) uuid, as OSCAL wants for every identifier.
pub(crate) fn uuid4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exports keep data as data: the same strings come back from the JSON, but the bytes
    /// written hold no escape sequence a terminal would run.
    #[test]
    fn json_exports_carry_control_characters_only_as_escapes() {
        let mut report = fixture::report();
        let hostile = "Open\u{1b}]0;pwned\u{7}\u{9b}31m\u{7f}";
        for f in report.findings.iter_mut() {
            f.message = hostile.to_string();
        }
        for format in [Format::Json, Format::Sarif, Format::Oscal] {
            let text = render(&report, format, std::time::UNIX_EPOCH);
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{}: a raw control character",
                format.name()
            );
            let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            assert!(
                v.to_string()
                    .contains("\\u001b]0;pwned\\u0007\u{9b}31m\u{7f}"),
                "{}: the data is kept",
                format.name()
            );
        }
        for format in [Format::Text, Format::Csv] {
            let text = render(&report, format, std::time::UNIX_EPOCH);
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\r'),
                "{}: a raw control character",
                format.name()
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A report with every kind of finding: failing, waived, waiver expired, no line.
    use crate::compliance::input::from_template;
    use crate::compliance::policy::PolicyPack;
    use crate::compliance::report::Report;
    use crate::compliance::waivers;
    use std::collections::BTreeMap;

    pub const TEMPLATE: &str = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: \"open, \\\"quoted\\\"\"\n  Logs:\n    Type: AWS::S3::Bucket\n";

    pub fn report() -> Report {
        let (pack, errors) = PolicyPack::bundled();
        let (input, lines) =
            from_template(TEMPLATE, "fixtures/open.yaml", &BTreeMap::new(), None).expect("parses");
        let mut eval = pack.evaluate(&input, Some(&lines));
        let waivers = waivers::parse(
            "[[waiver]]\nrule = \"S3-001\"\nresource = \"Logs\"\nreason = \"the log bucket, for now\"\nticket = \"OPS-1\"\nexpires = \"2026-12-31\"\n\n[[waiver]]\nrule = \"TAG-001\"\nresource = \"Logs\"\nreason = \"old\"\nticket = \"OPS-2\"\nexpires = \"2020-01-01\"\n",
            "w.toml",
            "2026-11-22",
            365,
        )
        .0;
        waivers::apply(&mut eval.findings, &waivers, "2026-11-22");
        let mut report = Report::build(
            pack.rules().cloned().collect(),
            vec![("fixtures/open.yaml".into(), eval)],
            &errors,
        );
        // One finding without a line (as from a source without text positions).
        if let Some(f) = report.findings.iter_mut().find(|f| f.rule == "S3-002") {
            f.line = None;
        }
        report
    }
}
