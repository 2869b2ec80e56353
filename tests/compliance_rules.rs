//! Every bundled rule against its own fixtures (`tests/fixtures/compliance/<stem>/`): `fail.yaml`
//! yields exactly the findings its `# expect:` header names, `pass.yaml` yields none of that
//! rule. Both are judged with the whole pack, in PRD.

#[path = "support/compliance.rs"]
mod compliance;

use compliance::{Expected, evaluate, fixtures, pack, rule_ids};
use std::collections::BTreeSet;

#[test]
fn every_bundled_rule_has_a_failing_and_a_passing_fixture() {
    let pack = pack();
    let ids = rule_ids(&pack);
    assert!(ids.len() >= 30, "the pack has only {} rules", ids.len());
    let present: BTreeSet<(String, String)> =
        fixtures().into_iter().map(|f| (f.stem, f.kind)).collect();
    let mut missing = Vec::new();
    for stem in ids.keys() {
        for kind in ["fail", "pass"] {
            if !present.contains(&(stem.clone(), kind.to_string())) {
                missing.push(format!("{stem}/{kind}.yaml"));
            }
        }
    }
    assert!(missing.is_empty(), "fixtures missing: {missing:?}");
    let strays: Vec<&(String, String)> = present
        .iter()
        .filter(|(stem, kind)| {
            !ids.contains_key(stem) || !["fail", "pass"].contains(&kind.as_str())
        })
        .collect();
    assert!(strays.is_empty(), "fixtures of no rule: {strays:?}");
}

#[test]
fn failing_fixtures_yield_exactly_the_expected_findings() {
    let pack = pack();
    let ids = rule_ids(&pack);
    let mut problems = Vec::new();
    for fixture in fixtures().iter().filter(|f| f.kind == "fail") {
        let Some(own) = ids.get(&fixture.stem) else {
            continue;
        };
        if !fixture.expect.iter().any(|(rule, _, _)| rule == own) {
            problems.push(format!("{}: expects no {own} finding", fixture.relative));
        }
        let rules: BTreeSet<&String> = fixture.expect.iter().map(|(rule, _, _)| rule).collect();
        let eval = evaluate(&pack, fixture);
        let got: BTreeSet<Expected> = eval
            .findings
            .iter()
            .filter(|f| rules.contains(&f.rule))
            .map(|f| (f.rule.clone(), f.resource.clone(), f.path.clone()))
            .collect();
        if got != fixture.expect {
            problems.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}",
                fixture.relative, fixture.expect, got
            ));
        }
        for f in eval.findings.iter().filter(|f| &f.rule == own) {
            if f.line.is_none() && !fixture.kubernetes {
                problems.push(format!(
                    "{}: {} {} {} has no line",
                    fixture.relative, f.rule, f.resource, f.path
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn passing_fixtures_yield_nothing_of_their_rule() {
    let pack = pack();
    let ids = rule_ids(&pack);
    let mut problems = Vec::new();
    for fixture in fixtures().iter().filter(|f| f.kind == "pass") {
        let Some(own) = ids.get(&fixture.stem) else {
            continue;
        };
        let eval = evaluate(&pack, fixture);
        assert!(
            eval.applicable.contains(own),
            "{}: {own} has nothing to judge",
            fixture.relative
        );
        for f in eval.findings.iter().filter(|f| &f.rule == own) {
            problems.push(format!(
                "{}: {} {} {}: {}",
                fixture.relative, f.rule, f.resource, f.path, f.message
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
