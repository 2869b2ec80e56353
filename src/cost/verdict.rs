//! The cost of a change, judged when the deploy is requested and carried by the operation, as
//! the compliance verdict is: the monthly estimate before (the stack's current template and
//! parameter values) and after (what will be deployed), the delta itemised by resource, and
//! the environment's budget. A delta that takes the environment over its budget makes the
//! operation's tier the typed name (`CfnMutation::risk`); so does a budget that cannot be
//! checked (rule 5: a check that cannot be made is a "no").

use crate::cost::estimate::{SourceEstimate, signed_usd, usd};
use crate::model::Environment;
use serde::{Serialize, Serializer};
use std::fmt;

/// An amount of US dollars in ten-thousandths (exact, comparable and hashable, so operations
/// that carry it stay `Eq + Hash`). Written out as a number of dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money(i64);

impl Money {
    pub fn from_usd(usd: f64) -> Money {
        Money((usd * 10_000.0).round() as i64)
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / 10_000.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.usd())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&usd(self.usd()))
    }
}

/// One resource whose monthly cost the change moves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeltaRow {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `Add`, `Remove` or `Modify` (the change set's own action once it is computed).
    pub action: String,
    pub before_monthly: Money,
    pub after_monthly: Money,
    pub delta_monthly: Money,
    /// Not (fully) priced on one side, or usage-priced without usage: the figure is a floor.
    pub incomplete: bool,
}

/// Before → after, itemised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CostDelta {
    pub before_monthly: Money,
    pub after_monthly: Money,
    pub delta_monthly: Money,
    pub resources: Vec<DeltaRow>,
    /// Resources without a price after the change.
    #[serde(skip)]
    pub not_priced: usize,
    /// Usage-priced resources without usage after the change.
    #[serde(skip)]
    pub usage_pending: usize,
    /// Figures from another region's prices.
    #[serde(skip)]
    pub estimated: usize,
    /// "prices as of …"
    #[serde(skip)]
    pub prices_as_of: String,
}

impl CostDelta {
    /// `before` is `None` for a new stack.
    pub fn between(
        before: Option<&SourceEstimate>,
        after: &SourceEstimate,
        prices_as_of: String,
    ) -> CostDelta {
        let mut rows = Vec::new();
        let incomplete = |r: &crate::cost::ResourceCost| !r.priced || r.usage_pending();
        for a in &after.resources {
            let b = before.and_then(|b| b.resource(&a.logical_id));
            let before_monthly = Money::from_usd(b.map_or(0.0, |b| b.monthly));
            let after_monthly = Money::from_usd(a.monthly);
            let action = match b {
                None => "Add",
                Some(_) => "Modify",
            };
            let row_incomplete = incomplete(a) || b.is_some_and(incomplete);
            if action == "Modify" && before_monthly == after_monthly {
                continue;
            }
            if action == "Add" && after_monthly.is_zero() && !row_incomplete {
                continue;
            }
            rows.push(DeltaRow {
                logical_id: a.logical_id.clone(),
                resource_type: a.resource_type.clone(),
                action: action.to_string(),
                before_monthly,
                after_monthly,
                delta_monthly: after_monthly - before_monthly,
                incomplete: row_incomplete,
            });
        }
        if let Some(before) = before {
            for b in &before.resources {
                if after.resource(&b.logical_id).is_none() {
                    let before_monthly = Money::from_usd(b.monthly);
                    if before_monthly.is_zero() && !incomplete(b) {
                        continue;
                    }
                    rows.push(DeltaRow {
                        logical_id: b.logical_id.clone(),
                        resource_type: b.resource_type.clone(),
                        action: "Remove".into(),
                        before_monthly,
                        after_monthly: Money::default(),
                        delta_monthly: Money::default() - before_monthly,
                        incomplete: incomplete(b),
                    });
                }
            }
        }
        let before_monthly = Money::from_usd(before.map_or(0.0, |b| b.total_monthly));
        let after_monthly = Money::from_usd(after.total_monthly);
        CostDelta {
            before_monthly,
            after_monthly,
            delta_monthly: after_monthly - before_monthly,
            resources: rows,
            not_priced: after.not_priced(),
            usage_pending: after.usage_pending(),
            estimated: after.estimated(),
            prices_as_of,
        }
    }

    /// Keep the rows of resources the change set changes, with its actions (a resource the
    /// estimate moves but CloudFormation leaves alone is not in the change set).
    pub fn itemised_by(&self, changes: &[crate::cfn::model::ResourceChange]) -> CostDelta {
        let mut delta = self.clone();
        delta.resources = self
            .resources
            .iter()
            .filter_map(|row| {
                let change = changes.iter().find(|c| c.logical_id == row.logical_id)?;
                Some(DeltaRow {
                    action: change.action.clone(),
                    ..row.clone()
                })
            })
            .collect();
        delta
    }
}

/// The environment's monthly budget against what the change makes of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct BudgetCheck {
    pub environment: Environment,
    pub budget_monthly: Money,
    /// What the environment costs a month now, when known: its month-end forecast (else its
    /// month-to-date spend), as last fetched.
    pub baseline_monthly: Option<Money>,
    /// Where the baseline comes from, or why there is none.
    pub baseline: String,
    /// Baseline + delta.
    pub projected_monthly: Option<Money>,
    /// `None`: cannot tell.
    pub over: Option<bool>,
}

/// The spend an environment's budget is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub monthly: f64,
    /// "month-end forecast for account 1234…, fetched 2 h ago".
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
struct Inner {
    delta: Option<CostDelta>,
    /// Why there is no (complete) estimate.
    unestimated: Option<String>,
    budget: Option<BudgetCheck>,
}

/// What a change costs, judged when it was requested. Built only by [`CostVerdict::judge`] or
/// [`CostVerdict::unavailable`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CostVerdict(Box<Inner>);

impl CostVerdict {
    /// Judge a delta against `budget` (the environment's, if one is set) from `baseline`.
    pub fn judge(
        delta: CostDelta,
        environment: Environment,
        budget: Option<f64>,
        baseline: Option<Baseline>,
    ) -> CostVerdict {
        let budget = budget.map(|budget| {
            let budget_monthly = Money::from_usd(budget);
            match &baseline {
                Some(b) => {
                    let projected = Money::from_usd(b.monthly) + delta.delta_monthly;
                    BudgetCheck {
                        environment,
                        budget_monthly,
                        baseline_monthly: Some(Money::from_usd(b.monthly)),
                        baseline: b.what.clone(),
                        projected_monthly: Some(projected),
                        over: Some(projected > budget_monthly),
                    }
                }
                None => BudgetCheck {
                    environment,
                    budget_monthly,
                    baseline_monthly: None,
                    baseline:
                        "no spend fetched for this account yet (Cost pane, r, or `opsdeck spend`)"
                            .into(),
                    projected_monthly: None,
                    // An increase cannot be judged without the baseline; a decrease never
                    // takes anything over.
                    over: (delta.delta_monthly <= Money::default()).then_some(false),
                },
            }
        });
        CostVerdict(Box::new(Inner {
            delta: Some(delta),
            unestimated: None,
            budget,
        }))
    }

    /// The change could not be estimated; with a budget set, that raises the tier.
    pub fn unavailable(
        why: impl Into<String>,
        environment: Environment,
        budget: Option<f64>,
    ) -> CostVerdict {
        CostVerdict(Box::new(Inner {
            delta: None,
            unestimated: Some(why.into()),
            budget: budget.map(|b| BudgetCheck {
                environment,
                budget_monthly: Money::from_usd(b),
                baseline_monthly: None,
                baseline: "the change was not estimated".into(),
                projected_monthly: None,
                over: None,
            }),
        }))
    }

    /// No estimate and no budget: for operations built without one (tests).
    pub fn none() -> CostVerdict {
        CostVerdict::unavailable("no estimate was made", Environment::Unmapped, None)
    }

    pub fn delta(&self) -> Option<&CostDelta> {
        self.0.delta.as_ref()
    }

    pub fn unestimated(&self) -> Option<&str> {
        self.0.unestimated.as_deref()
    }

    pub fn budget(&self) -> Option<&BudgetCheck> {
        self.0.budget.as_ref()
    }

    /// Over budget, or a budget that could not be checked: the change needs the typed name.
    pub fn needs_typed_name(&self) -> bool {
        self.0
            .budget
            .as_ref()
            .is_some_and(|b| b.over != Some(false))
    }

    pub fn over_budget(&self) -> bool {
        self.0.budget.as_ref().is_some_and(|b| b.over == Some(true))
    }

    /// The same verdict, itemised by a computed change set's rows.
    pub fn for_change_set(&self, changes: &[crate::cfn::model::ResourceChange]) -> CostVerdict {
        let mut inner = (*self.0).clone();
        inner.delta = inner.delta.map(|d| d.itemised_by(changes));
        CostVerdict(Box::new(inner))
    }

    /// `"cost": {...}` in `deploy --plan --json`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = match &self.0.delta {
            Some(d) => crate::ops::to_json(d),
            None => serde_json::json!({
                "before_monthly": null, "after_monthly": null, "delta_monthly": null, "resources": [],
            }),
        };
        if let Some(fields) = value.as_object_mut() {
            if let Some(why) = &self.0.unestimated {
                fields.insert("unavailable".into(), why.clone().into());
            }
            if let Some(d) = &self.0.delta {
                fields.insert("not_priced".into(), d.not_priced.into());
                fields.insert("usage_pending".into(), d.usage_pending.into());
                fields.insert("prices_as_of".into(), d.prices_as_of.clone().into());
            }
            if let Some(b) = &self.0.budget {
                fields.insert("budget".into(), crate::ops::to_json(b));
            }
        }
        value
    }

    /// Lines for text output: before → after (delta), the rows, the budget.
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.0.delta {
            None => out.push_str(&format!(
                "cost: not estimated: {}\n",
                self.0.unestimated.as_deref().unwrap_or("unknown")
            )),
            Some(d) => {
                out.push_str(&format!(
                    "cost: {} → {} a month ({}); {}\n",
                    d.before_monthly,
                    d.after_monthly,
                    signed_usd(d.delta_monthly.usd()),
                    d.prices_as_of
                ));
                for r in &d.resources {
                    out.push_str(&format!(
                        "  {:<7} {:<28} {:>12} {}\n",
                        r.action,
                        r.logical_id,
                        signed_usd(r.delta_monthly.usd()),
                        if r.incomplete {
                            "(not fully priced)"
                        } else {
                            ""
                        }
                    ));
                }
                if d.not_priced > 0 {
                    out.push_str(&format!("  {} resource(s) not priced\n", d.not_priced));
                }
                if d.usage_pending > 0 {
                    out.push_str(&format!(
                        "  {} resource(s) depend on usage (0 counted; see --usage)\n",
                        d.usage_pending
                    ));
                }
            }
        }
        if let Some(b) = &self.0.budget {
            out.push_str(&format!("  {}\n", budget_line(b)));
        }
        out
    }
}

/// One sentence about the budget check.
pub fn budget_line(b: &BudgetCheck) -> String {
    match (b.over, b.projected_monthly) {
        (Some(true), Some(p)) => format!(
            "OVER BUDGET: {} would cost {p} a month against its budget of {} ({})",
            b.environment, b.budget_monthly, b.baseline
        ),
        (Some(false), Some(p)) => format!(
            "within budget: {} {p} a month of {} ({})",
            b.environment, b.budget_monthly, b.baseline
        ),
        (Some(false), None) => format!(
            "within budget: the change lowers the cost of {} (budget {})",
            b.environment, b.budget_monthly
        ),
        _ => format!(
            "budget of {} ({}) cannot be checked: {}",
            b.environment, b.budget_monthly, b.baseline
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::estimate::ResourceCost;

    fn resource(id: &str, monthly: f64) -> ResourceCost {
        ResourceCost {
            logical_id: id.into(),
            resource_type: "AWS::EC2::Instance".into(),
            monthly,
            usage_based: false,
            priced: true,
            estimate: false,
            components: vec![],
            note: None,
        }
    }

    fn estimate(resources: Vec<ResourceCost>) -> SourceEstimate {
        SourceEstimate {
            source: "t".into(),
            total_monthly: resources.iter().map(|r| r.monthly).sum(),
            resources,
            region: "us-east-1".into(),
            not_created: vec![],
        }
    }

    #[test]
    fn removals_subtract_and_unchanged_rows_are_left_out() {
        let before = estimate(vec![
            resource("A", 10.0),
            resource("B", 5.0),
            resource("C", 1.0),
        ]);
        let after = estimate(vec![
            resource("A", 20.0),
            resource("C", 1.0),
            resource("D", 2.5),
        ]);
        let d = CostDelta::between(Some(&before), &after, "prices as of x".into());
        assert_eq!(d.before_monthly.usd(), 16.0);
        assert_eq!(d.after_monthly.usd(), 23.5);
        assert_eq!(d.delta_monthly.usd(), 7.5);
        let rows: Vec<(&str, &str, f64)> = d
            .resources
            .iter()
            .map(|r| {
                (
                    r.logical_id.as_str(),
                    r.action.as_str(),
                    r.delta_monthly.usd(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("A", "Modify", 10.0),
                ("D", "Add", 2.5),
                ("B", "Remove", -5.0)
            ]
        );
    }

    #[test]
    fn over_budget_or_unknown_baseline_needs_the_typed_name() {
        let after = estimate(vec![resource("A", 100.0)]);
        let delta = CostDelta::between(None, &after, String::new());
        let baseline = |monthly| Baseline {
            monthly,
            what: "forecast".into(),
        };
        let within = CostVerdict::judge(
            delta.clone(),
            Environment::Dev,
            Some(1000.0),
            Some(baseline(800.0)),
        );
        assert!(!within.needs_typed_name());
        let over = CostVerdict::judge(
            delta.clone(),
            Environment::Dev,
            Some(1000.0),
            Some(baseline(950.0)),
        );
        assert!(over.needs_typed_name() && over.over_budget());
        assert!(over.text().contains("OVER BUDGET"), "{}", over.text());
        let unknown = CostVerdict::judge(delta.clone(), Environment::Dev, Some(1000.0), None);
        assert!(unknown.needs_typed_name() && !unknown.over_budget());
        let no_budget = CostVerdict::judge(delta, Environment::Dev, None, None);
        assert!(!no_budget.needs_typed_name());
        assert!(
            CostVerdict::unavailable("bad template", Environment::Dev, Some(5.0))
                .needs_typed_name()
        );
        assert!(!CostVerdict::none().needs_typed_name());
    }

    #[test]
    fn the_plan_json_has_the_documented_fields() {
        let after = estimate(vec![resource("A", 70.08)]);
        let v = CostVerdict::judge(
            CostDelta::between(None, &after, String::new()),
            Environment::Dev,
            None,
            None,
        );
        let json = v.to_json();
        assert_eq!(json["before_monthly"], 0.0);
        assert_eq!(json["after_monthly"], 70.08);
        assert_eq!(json["delta_monthly"], 70.08);
        assert_eq!(json["resources"][0]["logical_id"], "A");
        assert_eq!(json["resources"][0]["delta_monthly"], 70.08);
    }
}
