//! Plain text for people and CI logs (and terminals: every value from a template, a policy
//! or a waiver is printed without escape sequences or control characters): a summary line, then every control that failed or is
//! waived, grouped family → control → rule → finding: the rule with its remediation, then each
//! finding with `file:line`, resource, property path and message. A rule's findings are listed
//! under the first control it fails and referred to under the others. Waived findings say whose waiver, why and until when; a waiver
//! that has expired is marked EXPIRED and its finding counts again.

use super::{label, location};
use crate::compliance::model::{Finding, WaiverState};
use crate::compliance::report::{ControlState, Report};
use crate::engine::joblog::sanitized as clean;
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = report.summary();
    let failing = report.failures().count();
    let waived = report.findings.len() - failing;
    let errored = if s.error > 0 {
        format!("{} error (not judged), ", s.error)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Controls: {} passed, {} failed, {errored}{} waived, {} not applicable ({} rules over {} source{})",
        s.passed,
        s.failed,
        s.waived,
        s.not_applicable,
        report.rules.len(),
        report.sources.len(),
        if report.sources.len() == 1 { "" } else { "s" },
    );
    let _ = writeln!(out, "Findings: {failing} failing, {waived} waived");
    // A rule supports several controls; its findings are listed in full under the first
    // control shown and referred to under the others.
    let mut listed: BTreeMap<&str, String> = BTreeMap::new();
    let mut errors_listed: BTreeMap<&str, String> = BTreeMap::new();
    for (family, family_title, controls) in report.by_family() {
        let shown: Vec<_> = controls
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ControlState::Error | ControlState::Failed | ControlState::Waived
                )
            })
            .collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} {family_title}", family.to_ascii_uppercase());
        for c in shown {
            let _ = writeln!(
                out,
                "  {} {} [{}]",
                c.control.label,
                c.control.title,
                c.state.as_str().to_ascii_uppercase()
            );
            // Rules that could not judge: why, once; referred to under the other controls.
            let mut why: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for e in report.errors_of(c) {
                why.entry(e.rule.as_str()).or_default().push(&e.message);
            }
            for (rule, messages) in why {
                let _ = write!(out, "    {} could not judge", clean(rule));
                if let Some(under) = errors_listed.get(rule) {
                    let _ = writeln!(out, " (listed under {under})");
                    continue;
                }
                let _ = writeln!(out, ":");
                errors_listed.insert(rule, c.control.label.clone());
                for m in messages {
                    let _ = writeln!(out, "      ERROR {}", clean(m));
                }
            }
            // The control's findings by rule, in rule order.
            let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
            for &i in &c.findings {
                let f = &report.findings[i];
                by_rule.entry(f.rule.as_str()).or_default().push(f);
            }
            for (rule, findings) in by_rule {
                let first = findings[0];
                let counting = findings.iter().filter(|f| f.counts()).count();
                let _ = write!(
                    out,
                    "    {} ({}) {}: {counting} failing, {} waived",
                    clean(rule),
                    first.severity,
                    clean(&first.title),
                    findings.len() - counting
                );
                if let Some(under) = listed.get(rule) {
                    let _ = writeln!(out, " (listed under {under})");
                    continue;
                }
                let _ = writeln!(out);
                listed.insert(rule, c.control.label.clone());
                let _ = writeln!(out, "      fix: {}", clean(&first.remediation));
                for f in findings {
                    let _ = writeln!(
                        out,
                        "      {}  {} ({})  {}: {}",
                        clean(&location(f)),
                        clean(&f.resource),
                        clean(&f.resource_type),
                        clean(&f.path),
                        clean(&f.message)
                    );
                    match &f.waiver {
                        Some(WaiverState::Active {
                            reason,
                            ticket,
                            expires,
                        }) => {
                            let _ = writeln!(
                                out,
                                "        WAIVED until {} ({}): {}",
                                clean(expires),
                                clean(ticket),
                                clean(reason)
                            );
                        }
                        Some(WaiverState::Expired {
                            reason,
                            ticket,
                            expires,
                        }) => {
                            let _ = writeln!(
                                out,
                                "        WAIVER EXPIRED on {} ({}): {}; counts again",
                                clean(expires),
                                clean(ticket),
                                clean(reason)
                            );
                        }
                        None => {}
                    }
                }
            }
        }
    }
    if !report.errors.is_empty() {
        let _ = writeln!(out, "\nErrors (the report may be incomplete):");
        for e in &report.errors {
            let _ = writeln!(out, "  {}", clean(e));
        }
    }
    let verdict = if !report.errors.is_empty() {
        "ERROR"
    } else if failing > 0 {
        "FAIL"
    } else {
        "PASS"
    };
    let rules_failing: std::collections::BTreeSet<&str> =
        report.failures().map(|f| f.rule.as_str()).collect();
    let _ = write!(out, "\n{verdict}");
    if !rules_failing.is_empty() {
        let _ = write!(
            out,
            ": {failing} failing finding{} of {} rule{} ({})",
            if failing == 1 { "" } else { "s" },
            rules_failing.len(),
            if rules_failing.len() == 1 { "" } else { "s" },
            clean(&rules_failing.into_iter().collect::<Vec<_>>().join(", "))
        );
    }
    let _ = writeln!(out);
    // Labels of the controls a failure touches, for a one-glance summary.
    let failed_controls: Vec<String> = report
        .controls
        .iter()
        .filter(|c| c.state == ControlState::Failed)
        .map(|c| label(&c.control.id))
        .collect();
    if !failed_controls.is_empty() {
        let _ = writeln!(out, "Failed controls: {}", failed_controls.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::export::fixture;

    #[test]
    fn failures_are_grouped_and_name_file_line_resource_and_fix() {
        let text = render(&fixture::report());
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with("Controls: "), "{text}");
        assert!(first.contains(" failed, "), "{text}");
        assert!(
            text.contains("\nSC System and Communications Protection\n"),
            "{text}"
        );
        assert!(
            text.contains("  SC-28 Protection of Information at Rest [FAILED]"),
            "{text}"
        );
        assert!(
            text.contains("      fixtures/open.yaml:4  Open (AWS::S3::Bucket)  Properties.BucketEncryption: bucket Open has no default encryption"),
            "{text}"
        );
        assert!(text.contains("    S3-001 (high) S3 buckets encrypt objects at rest by default: 1 failing, 1 waived\n      fix: Set BucketEncryption"), "{text}");
        assert!(text.contains("(listed under SC-28)"), "{text}");
        assert!(
            text.contains("WAIVED until 2026-12-31 (OPS-1): the log bucket, for now"),
            "{text}"
        );
        assert!(
            text.contains("WAIVER EXPIRED on 2020-01-01 (OPS-2): old"),
            "{text}"
        );
        assert!(text.contains("\nFAIL: "), "{text}");
        assert!(text.contains("Failed controls: "), "{text}");
    }
}
