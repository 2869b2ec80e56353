//! Monthly cost estimates of CloudFormation templates.
//!
//! The template goes through the same reader compliance uses (`compliance::input`), so
//! parameters (given, else defaults), `Ref`, `Fn::If` and `Conditions` resolve the same way in
//! both; a resource whose `Condition` is decided false is left out. Each resource type with a
//! pricer (`pricers.rs`) is priced component by component from the catalogue; free types count
//! as free; anything else is listed as *not priced*, never a silent 0. Usage-priced components
//! without usage (see `usage.rs`) *depend on usage* and add 0.

use crate::cfn::template::TemplateError;
use crate::compliance::input::{EvalInput, InputResource};
use crate::cost::catalogue::{Catalogue, HOURS_PER_MONTH};
use crate::cost::pricers;
use crate::cost::usage::Usage;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};

/// Money as it is written out: rounded to 1/10,000 of a dollar, so `0.096 × 730` reads
/// `70.08`, not `70.08000000000001`.
pub fn round(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

fn rounded<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round(*v))
}

fn rounded_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_f64(round(*v)),
        None => s.serialize_none(),
    }
}

/// One priced part of a resource: `quantity` × `unit_price` = `monthly`. A usage-priced part
/// whose usage was not given has no quantity and no monthly figure ("depends on usage").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub name: String,
    pub quantity: Option<f64>,
    pub unit: String,
    pub unit_price: Option<f64>,
    #[serde(serialize_with = "rounded_opt")]
    pub monthly: Option<f64>,
    /// The catalogue source of the unit price (see `prices_as_of`).
    pub source: Option<String>,
    /// The usage key that gives the quantity, for usage-priced parts.
    #[serde(skip)]
    pub usage_key: Option<&'static str>,
    /// Why the unit price is an estimate (another region's price), if it is.
    #[serde(skip)]
    pub estimate: Option<String>,
}

impl Component {
    /// Depends on usage that was not given.
    pub fn pending(&self) -> bool {
        self.usage_key.is_some() && self.quantity.is_none()
    }
}

/// One resource's monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCost {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(serialize_with = "rounded")]
    pub monthly: f64,
    /// Some part is priced by usage (given in the usage file, or pending).
    pub usage_based: bool,
    /// Every part has a price. `false` with no components: the type has no pricer.
    pub priced: bool,
    /// Some price is another region's (us-east-1 × multiplier, or as it is).
    pub estimate: bool,
    pub components: Vec<Component>,
    /// Why it is not (fully) priced, what was assumed, or why it is an estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ResourceCost {
    /// Some usage-priced part has no usage.
    pub fn usage_pending(&self) -> bool {
        self.components.iter().any(Component::pending)
    }

    /// Free: priced, nothing to pay, nothing pending.
    pub fn free(&self) -> bool {
        self.priced && self.components.is_empty()
    }
}

/// The estimate of one template (a file, a library entry, a deployed stack).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceEstimate {
    pub source: String,
    #[serde(serialize_with = "rounded")]
    pub total_monthly: f64,
    pub resources: Vec<ResourceCost>,
    /// The region priced.
    #[serde(skip)]
    pub region: String,
    /// Resources left out because their `Condition` is false.
    #[serde(skip)]
    pub not_created: Vec<String>,
}

impl SourceEstimate {
    /// Resources (partly) without a price.
    pub fn not_priced(&self) -> usize {
        self.resources.iter().filter(|r| !r.priced).count()
    }

    /// Resources with a usage-priced part whose usage was not given.
    pub fn usage_pending(&self) -> usize {
        self.resources.iter().filter(|r| r.usage_pending()).count()
    }

    /// Resources priced from another region's prices.
    pub fn estimated(&self) -> usize {
        self.resources.iter().filter(|r| r.estimate).count()
    }

    pub fn resource(&self, logical_id: &str) -> Option<&ResourceCost> {
        self.resources.iter().find(|r| r.logical_id == logical_id)
    }

    /// The catalogue sources the figures use.
    pub fn sources_used(&self) -> std::collections::BTreeSet<String> {
        self.resources
            .iter()
            .flat_map(|r| r.components.iter().filter_map(|c| c.source.clone()))
            .collect()
    }
}

/// What an estimate is made with.
#[derive(Clone, Copy)]
pub struct Pricing<'a> {
    pub catalogue: &'a Catalogue,
    pub usage: &'a Usage,
    pub region: &'a str,
}

/// Estimate a template's text with `parameters` (given values; defaults fill the rest).
pub fn estimate_template(
    pricing: Pricing<'_>,
    text: &str,
    source: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<SourceEstimate, TemplateError> {
    let (input, _) = crate::compliance::input::from_template(text, source, parameters, None)?;
    Ok(estimate_input(pricing, &input, source))
}

/// Estimate an already-read template.
pub fn estimate_input(pricing: Pricing<'_>, input: &EvalInput, source: &str) -> SourceEstimate {
    let by_id: HashMap<&str, &InputResource> =
        input.resources.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut resources = Vec::with_capacity(input.resources.len());
    let mut not_created = Vec::new();
    for resource in &input.resources {
        let created = input.created(resource);
        if created == Some(false) {
            not_created.push(resource.id.clone());
            continue;
        }
        let mut cost = pricers::price(pricing, resource, &by_id);
        if created.is_none() {
            let condition = resource
                .attributes
                .get("Condition")
                .and_then(|c| c.as_str())
                .unwrap_or_default();
            add_note(
                &mut cost,
                format!("counted: its condition {condition} cannot be decided from the parameters"),
            );
        }
        resources.push(cost);
    }
    let total_monthly = resources.iter().map(|r| r.monthly).sum();
    SourceEstimate {
        source: source.to_string(),
        total_monthly,
        resources,
        region: pricing.region.to_string(),
        not_created,
    }
}

pub(crate) fn add_note(cost: &mut ResourceCost, note: String) {
    cost.note = Some(match cost.note.take() {
        Some(old) => format!("{old}; {note}"),
        None => note,
    });
}

/// Several estimates in one report: what `opsdeck cost` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    pub currency: &'static str,
    pub region: String,
    /// 730, as the AWS pricing calculator counts.
    pub hours_per_month: u32,
    /// Source id → as-of date, for every source the figures use.
    pub prices_as_of: BTreeMap<String, String>,
    pub sources: Vec<SourceEstimate>,
    #[serde(serialize_with = "rounded")]
    pub total_monthly: f64,
}

impl CostReport {
    pub fn new(catalogue: &Catalogue, region: &str, sources: Vec<SourceEstimate>) -> CostReport {
        let used: std::collections::BTreeSet<String> =
            sources.iter().flat_map(|s| s.sources_used()).collect();
        let prices_as_of = catalogue
            .as_of()
            .into_iter()
            .filter(|(id, _)| used.contains(id))
            .collect();
        CostReport {
            currency: "USD",
            region: region.to_string(),
            hours_per_month: HOURS_PER_MONTH as u32,
            prices_as_of,
            total_monthly: sources.iter().map(|s| s.total_monthly).sum(),
            sources,
        }
    }

    pub fn not_priced(&self) -> usize {
        self.sources.iter().map(SourceEstimate::not_priced).sum()
    }

    pub fn usage_pending(&self) -> usize {
        self.sources.iter().map(SourceEstimate::usage_pending).sum()
    }
}

/// `$1,234.56`: dollars with cents and thousands separators.
pub fn usd(amount: f64) -> String {
    let negative = amount < 0.0;
    let cents = (amount.abs() * 100.0).round() as u64;
    let dollars = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!(
        "{}${grouped}.{:02}",
        if negative { "-" } else { "" },
        cents % 100
    )
}

/// `+$12.00` / `-$3.50` / `$0.00`.
pub fn signed_usd(amount: f64) -> String {
    if round(amount) > 0.0 {
        format!("+{}", usd(amount))
    } else {
        usd(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_as_money() {
        assert_eq!(usd(0.096 * 730.0), "$70.08");
        assert_eq!(usd(1234567.891), "$1,234,567.89");
        assert_eq!(usd(-3.5), "-$3.50");
        assert_eq!(signed_usd(12.0), "+$12.00");
        assert_eq!(signed_usd(0.0), "$0.00");
        assert_eq!(round(0.096 * 730.0), 70.08);
    }
}
