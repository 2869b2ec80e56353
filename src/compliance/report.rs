//! The report: findings of every judged source, and the state of every control the rules
//! support — the shape the Compliance pane, `opsdeck check` and every export read.

use super::controls::{self, Control};
use super::model::{Finding, RuleMeta};
use super::policy::{Evaluation, PolicyError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlState {
    /// A rule supporting it failed to evaluate (an error, or stopped by the time limit): the
    /// control was not judged, which is never "passed". Worst first: a family shows it.
    Error,
    /// A rule that failed and is not waived.
    Failed,
    /// Every failure is under an active waiver.
    Waived,
    /// At least one rule judged a resource, and nothing failed.
    Passed,
    /// No rule for it had anything to judge.
    NotApplicable,
}

impl ControlState {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlState::Error => "error",
            ControlState::Failed => "failed",
            ControlState::Waived => "waived",
            ControlState::Passed => "passed",
            ControlState::NotApplicable => "not applicable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlResult {
    pub control: Control,
    pub state: ControlState,
    /// Rules supporting this control.
    pub rules: Vec<String>,
    /// Indices into [`Report::findings`].
    pub findings: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub waived: usize,
    pub not_applicable: usize,
    /// Controls a rule could not judge (state `error`).
    pub error: usize,
}

/// A rule that failed to evaluate on one source: it judged nothing there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    pub rule: String,
    /// What it was judging: a template path or `stack:NAME`.
    pub source: String,
    /// `policy-file[:line]: rule … could not judge …: why`.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was judged: template paths or `stack:NAME`.
    pub sources: Vec<String>,
    pub rules: Vec<RuleMeta>,
    pub findings: Vec<Finding>,
    /// Every control a rule references, in catalog order.
    pub controls: Vec<ControlResult>,
    /// Policies or sources that could not be loaded or judged (rule errors included).
    pub errors: Vec<String>,
    /// The rules that failed to evaluate, per source: their controls are in state `error`.
    pub rule_errors: Vec<RuleError>,
}

impl Report {
    /// Combine the evaluations of several sources under one rule pack.
    pub fn build(
        rules: Vec<RuleMeta>,
        judged: Vec<(String, Evaluation)>,
        load_errors: &[PolicyError],
    ) -> Report {
        let mut sources = Vec::new();
        let mut findings = Vec::new();
        let mut applicable = BTreeSet::new();
        let mut errors: Vec<String> = load_errors.iter().map(|e| e.to_string()).collect();
        let mut rule_errors = Vec::new();
        for (source, eval) in judged {
            applicable.extend(eval.applicable);
            findings.extend(eval.findings);
            for e in &eval.errors {
                errors.push(e.to_string());
                if let Some(rule) = &e.rule {
                    rule_errors.push(RuleError {
                        rule: rule.clone(),
                        source: source.clone(),
                        message: e.to_string(),
                    });
                }
            }
            sources.push(source);
        }
        let errored: BTreeSet<&str> = rule_errors.iter().map(|e| e.rule.as_str()).collect();
        let mut by_control: BTreeMap<String, Vec<&RuleMeta>> = BTreeMap::new();
        for rule in &rules {
            for c in &rule.controls {
                by_control.entry(c.clone()).or_default().push(rule);
            }
        }
        let mut controls_out = Vec::new();
        for control in controls::all() {
            let Some(supporting) = by_control.get(&control.id) else {
                continue;
            };
            let rule_ids: Vec<String> = supporting.iter().map(|r| r.id.clone()).collect();
            let hits: Vec<usize> = findings
                .iter()
                .enumerate()
                .filter(|(_, f)| f.controls.contains(&control.id))
                .map(|(i, _)| i)
                .collect();
            let state = if rule_ids.iter().any(|r| errored.contains(r.as_str())) {
                ControlState::Error
            } else if hits.iter().any(|&i| findings[i].counts()) {
                ControlState::Failed
            } else if !hits.is_empty() {
                ControlState::Waived
            } else if rule_ids.iter().any(|r| applicable.contains(r)) {
                ControlState::Passed
            } else {
                ControlState::NotApplicable
            };
            controls_out.push(ControlResult {
                control: control.clone(),
                state,
                rules: rule_ids,
                findings: hits,
            });
        }
        Report {
            sources,
            rules,
            findings,
            controls: controls_out,
            errors,
            rule_errors,
        }
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.controls {
            match c.state {
                ControlState::Passed => s.passed += 1,
                ControlState::Failed => s.failed += 1,
                ControlState::Waived => s.waived += 1,
                ControlState::NotApplicable => s.not_applicable += 1,
                ControlState::Error => s.error += 1,
            }
        }
        s
    }

    /// Findings that count (not waived).
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.counts())
    }

    /// The errors of the rules supporting `control` (state `error`).
    pub fn errors_of<'a>(
        &'a self,
        control: &'a ControlResult,
    ) -> impl Iterator<Item = &'a RuleError> {
        self.rule_errors
            .iter()
            .filter(|e| control.rules.contains(&e.rule))
    }

    /// Controls grouped by family, in catalog order: (family id, family title, controls).
    pub fn by_family(&self) -> Vec<(&str, &str, Vec<&ControlResult>)> {
        let mut out: Vec<(&str, &str, Vec<&ControlResult>)> = Vec::new();
        for c in &self.controls {
            match out.last_mut() {
                Some((family, _, list)) if *family == c.control.family => list.push(c),
                _ => out.push((&c.control.family, &c.control.family_title, vec![c])),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::input::from_template;
    use crate::compliance::policy::PolicyPack;
    use crate::compliance::waivers;
    use std::collections::BTreeMap;

    #[test]
    fn control_states_follow_findings_waivers_and_applicability() {
        let (pack, errors) = PolicyPack::bundled();
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n";
        let (input, lines) =
            from_template(template, "open.yaml", &BTreeMap::new(), None).expect("parses");
        let mut eval = pack.evaluate(&input, Some(&lines));
        let waivers = waivers::parse(
            "[[waiver]]\nrule = \"S3-001\"\nresource = \"Open\"\nreason = \"r\"\nticket = \"T-1\"\nexpires = \"2026-12-31\"\n",
            "w.toml",
            "2026-11-22",
            365,
        )
        .0;
        waivers::apply(&mut eval.findings, &waivers, "2026-11-22");
        let report = Report::build(
            pack.rules().cloned().collect(),
            vec![("open.yaml".into(), eval)],
            &errors,
        );
        let state = |id: &str| {
            report
                .controls
                .iter()
                .find(|c| c.control.id == id)
                .map(|c| c.state)
        };
        assert_eq!(state("sc-28"), Some(ControlState::Waived));
        assert_eq!(state("sc-7"), Some(ControlState::Failed));
        assert_eq!(state("cm-8"), Some(ControlState::Failed), "no tags");
        let summary = report.summary();
        assert_eq!(
            summary.passed
                + summary.failed
                + summary.waived
                + summary.not_applicable
                + summary.error,
            report.controls.len()
        );
        let families: Vec<&str> = report.by_family().iter().map(|(f, _, _)| *f).collect();
        assert!(families.windows(2).all(|w| w[0] != w[1]), "{families:?}");
    }

    /// Issue 8: a rule that fails to evaluate left its controls "passed". They are "error"
    /// now, with the rule's error kept for the exports; controls of other rules are unchanged.
    #[test]
    fn a_rule_that_errors_makes_its_controls_error_never_passed() {
        let (pack, errors) = PolicyPack::bundled();
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n    Properties: \"nope\"\n";
        let (input, lines) =
            from_template(template, "nope.yaml", &BTreeMap::new(), None).expect("parses");
        let eval = pack.evaluate(&input, Some(&lines));
        let report = Report::build(
            pack.rules().cloned().collect(),
            vec![("nope.yaml".into(), eval)],
            &errors,
        );
        let control = |id: &str| {
            report
                .controls
                .iter()
                .find(|c| c.control.id == id)
                .expect("a control of the pack")
        };
        // S3-004 (versioning) supports cp-9 alone among the rules that apply here.
        assert_eq!(control("cp-9").state, ControlState::Error);
        let why: Vec<&RuleError> = report.errors_of(control("cp-9")).collect();
        assert_eq!(why.len(), 1);
        assert_eq!(why[0].rule, "S3-004");
        assert_eq!(why[0].source, "nope.yaml");
        // S3-001 judged (and failed): its control is failed, not error.
        assert_eq!(control("sc-28").state, ControlState::Failed);
        assert!(report.summary().error > 0);
        assert!(!report.errors.is_empty());
        let states: Vec<ControlState> = report.controls.iter().map(|c| c.state).collect();
        assert!(
            report.rule_errors.iter().all(|e| report
                .controls
                .iter()
                .filter(|c| c.rules.contains(&e.rule))
                .all(|c| c.state == ControlState::Error)),
            "{states:?}"
        );
    }
}
