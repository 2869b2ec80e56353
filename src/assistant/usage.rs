//! Token usage and what it cost: per model call from the stream's `metadata.usage`, summed per
//! turn and per session, priced per model (a built-in table, which `[assistant.prices]`
//! overrides), and kept in the job store so the Cost pane can show today and this month.

use super::model::Usage;
use crate::config::ModelPrice;
use crate::engine::store::{JobStore, StoreError};
use serde_json::json;
use std::collections::BTreeMap;

/// The job store's record kind for usage.
pub const RECORD_KIND: &str = "assistant.usage";

/// Anthropic's list prices in USD per million tokens (input, output, cache read, 5-minute
/// cache write), by base model name. Bedrock's global profiles charge these; its regional and
/// geo profiles (`us.`, `eu.`…) charge 10% more from the 4.5 models on, which
/// [`price_for`] adds. Read 2026-12-01; override in `[assistant.prices]`.
const LIST_PRICES: &[(&str, ModelPrice)] = &[
    ("claude-sonnet-4-5", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4-6", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-haiku-4-5", p(1.0, 5.0, 0.10, 1.25)),
    ("claude-opus-4", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4-1", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4-5", p(5.0, 25.0, 0.50, 6.25)),
    ("claude-opus-4-6", p(5.0, 25.0, 0.50, 6.25)),
];

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read,
        cache_write,
    }
}

const GEO_PREFIXES: &[&str] = &[
    "us.", "eu.", "jp.", "apac.", "au.", "ca.", "us-gov.", "global.",
];

/// `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → (`claude-sonnet-4-5-20250929-v1:0`, regional).
fn base_name(model_id: &str) -> (&str, bool) {
    let mut id = model_id;
    let mut regional = false;
    if let Some(prefix) = GEO_PREFIXES.iter().find(|p| id.starts_with(**p)) {
        regional = *prefix != "global.";
        id = &id[prefix.len()..];
    }
    (id.strip_prefix("anthropic.").unwrap_or(id), regional)
}

/// The price of `model_id`: the config's entry for it (by id or base name) first, then the
/// built-in table. `None` for a model nobody priced: its cost is unknown, never zero.
pub fn price_for(model_id: &str, overrides: &BTreeMap<String, ModelPrice>) -> Option<ModelPrice> {
    let (base, regional) = base_name(model_id);
    if let Some(price) = overrides.get(model_id).or_else(|| overrides.get(base)) {
        return Some(*price);
    }
    // `claude-sonnet-4-20250514-v1:0` is Sonnet 4: match the longest known family name.
    let family = LIST_PRICES
        .iter()
        .filter(|(name, _)| {
            base.starts_with(name)
                && base[name.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == '-' || c == ':')
        })
        .max_by_key(|(name, _)| name.len())?;
    let mut price = family.1;
    // From the 4.5 models on, regional and geo profiles cost 10% more than global ones.
    let newer = !matches!(
        family.0,
        "claude-sonnet-4" | "claude-opus-4" | "claude-opus-4-1"
    );
    if regional && newer {
        price = ModelPrice {
            input: price.input * 1.1,
            output: price.output * 1.1,
            cache_read: price.cache_read * 1.1,
            cache_write: price.cache_write * 1.1,
        };
    }
    Some(price)
}

/// What `usage` cost at `price`, in USD.
pub fn cost(usage: &Usage, price: &ModelPrice) -> f64 {
    (usage.input as f64 * price.input
        + usage.output as f64 * price.output
        + usage.cache_read as f64 * price.cache_read
        + usage.cache_write as f64 * price.cache_write)
        / 1_000_000.0
}

/// Keep one model call's usage in the job store.
pub fn record(
    store: &JobStore,
    model_id: &str,
    usage: &Usage,
    cost_usd: Option<f64>,
) -> Result<(), StoreError> {
    store
        .append_record(
            RECORD_KIND,
            &json!({
                "model": model_id,
                "input": usage.input,
                "output": usage.output,
                "cache_read": usage.cache_read,
                "cache_write": usage.cache_write,
                "cost_usd": cost_usd,
            }),
        )
        .map(|_| ())
}

/// A stretch of time for [`totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Since midnight UTC.
    Today,
    /// Since the first of the month, UTC.
    Month,
}

impl Period {
    /// When the period began (ms since the epoch, UTC), for a clock reading `now_ms`.
    pub fn start_ms(self, now_ms: i64) -> i64 {
        let day_ms = 86_400_000;
        let today = now_ms - now_ms.rem_euclid(day_ms);
        match self {
            Period::Today => today,
            Period::Month => {
                let days = today / day_ms;
                let (_, _, day) = civil_from_days(days);
                today - (i64::from(day) - 1) * day_ms
            }
        }
    }
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Tokens and cost over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub usage: Usage,
    /// The cost of the calls whose model had a price.
    pub cost_usd: f64,
    /// Calls whose model had no price: their cost is not in `cost_usd`.
    pub unpriced_calls: u64,
    pub calls: u64,
}

/// The assistant's tokens and cost for `period` (what the Cost pane shows), as of `now_ms`.
pub fn totals(store: &JobStore, period: Period, now_ms: i64) -> Result<Totals, StoreError> {
    let mut t = Totals::default();
    for (_, r) in store.records(RECORD_KIND, period.start_ms(now_ms), usize::MAX)? {
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        t.usage.add(Usage {
            input: n("input"),
            output: n("output"),
            cache_read: n("cache_read"),
            cache_write: n("cache_write"),
        });
        match r["cost_usd"].as_f64() {
            Some(c) => t.cost_usd += c,
            None => t.unpriced_calls += 1,
        }
        t.calls += 1;
    }
    Ok(t)
}

/// `1.2k`, `34`, `2.1M`: token counts for a title.
pub fn short_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `$0.0123`, or `$?` when a call's model had no price.
pub fn money(cost: Option<f64>) -> String {
    match cost {
        Some(c) if c < 1.0 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => "$?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_priced_by_their_base_name_with_the_regional_surcharge() {
        let none = BTreeMap::new();
        let global =
            price_for("global.anthropic.claude-sonnet-4-5-20250929-v1:0", &none).expect("priced");
        assert_eq!((global.input, global.output), (3.0, 15.0));
        let us = price_for("us.anthropic.claude-sonnet-4-5-20250929-v1:0", &none).expect("priced");
        assert!((us.input - 3.3).abs() < 1e-9 && (us.output - 16.5).abs() < 1e-9);
        let sonnet4 =
            price_for("us.anthropic.claude-sonnet-4-20250514-v1:0", &none).expect("priced");
        assert_eq!(sonnet4.input, 3.0, "no surcharge before the 4.5 models");
        let haiku = price_for("anthropic.claude-haiku-4-5-20251001-v1:0", &none).expect("priced");
        assert_eq!(haiku.output, 5.0);
        assert_eq!(price_for("meta.llama3-70b-instruct-v1:0", &none), None);
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "meta.llama3-70b-instruct-v1:0".to_string(),
            p(0.5, 0.7, 0.0, 0.0),
        );
        assert_eq!(
            price_for("meta.llama3-70b-instruct-v1:0", &overrides).map(|p| p.output),
            Some(0.7)
        );
        let usage = Usage {
            input: 1_000_000,
            output: 100_000,
            cache_read: 1_000_000,
            cache_write: 0,
        };
        assert!((cost(&usage, &global) - (3.0 + 1.5 + 0.3)).abs() < 1e-9);
    }

    #[test]
    fn totals_sum_today_and_the_month_and_keep_unpriced_calls_apart() {
        let store = JobStore::open_in_memory().expect("store");
        // 2026-12-15T12:00:00Z
        let now = 1_797_336_000_000_i64;
        let day = 86_400_000;
        let at = |ms: i64, input: u64, cost: Option<f64>| {
            store
                .append_record_at(
                    RECORD_KIND,
                    ms,
                    &json!({"model": "m", "input": input, "output": 1, "cache_read": 0, "cache_write": 0, "cost_usd": cost}),
                )
                .expect("append");
        };
        at(now - 40 * day, 1000, Some(9.0)); // November
        at(now - 3 * day, 100, Some(0.5)); // this month
        at(now - 1000, 10, Some(0.25)); // today
        at(now - 500, 1, None); // today, unpriced
        let today = totals(&store, Period::Today, now).expect("totals");
        assert_eq!(
            (today.usage.input, today.calls, today.unpriced_calls),
            (11, 2, 1)
        );
        assert!((today.cost_usd - 0.25).abs() < 1e-9);
        let month = totals(&store, Period::Month, now).expect("totals");
        assert_eq!(month.usage.input, 111);
        assert!((month.cost_usd - 0.75).abs() < 1e-9);
        assert_eq!(Period::Month.start_ms(now), 1_796_083_200_000, "2026-12-01");
    }

    #[test]
    fn counts_and_money_read_shortly() {
        assert_eq!(short_count(999), "999");
        assert_eq!(short_count(1234), "1.2k");
        assert_eq!(money(None), "$?");
        assert_eq!(money(Some(0.01234)), "$0.0123");
    }
}
