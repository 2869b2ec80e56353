//! Actual spend around the provider: the daily Cost Explorer call budget (every request costs
//! $0.01, every page counts), the cache of the last report per account in the data dir (shown
//! with its age; fetching again is explicit), and the report as text, JSON and CSV.

use crate::cost::estimate::usd;
use crate::cost::model::{Part, SpendReport};
use crate::cost::ops::{CallBudget, SpendCache, SpendQuery};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// `<data dir>/cost`: the call counter and the spend cache.
pub fn cost_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("cost")
}

/// The call budget of the data dir, with `daily_limit` calls a day.
pub fn call_budget(data_dir: &Path, daily_limit: u32) -> CallBudget {
    CallBudget {
        counter: cost_dir(data_dir).join("ce-calls.json"),
        daily_limit,
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    /// `YYYY-MM-DD`, UTC.
    date: String,
    calls: u32,
}

/// Why a Cost Explorer request was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "the daily Cost Explorer call budget is spent ({limit} request(s) today, $0.01 each); raise cost.daily_call_budget or wait until tomorrow (UTC)"
    )]
    Spent { limit: u32 },
    #[error(
        "the Cost Explorer call counter {path} cannot be used ({why}), so no paid request is sent"
    )]
    Counter { path: String, why: String },
}

impl CallBudget {
    /// Count one request against today's budget, or refuse it. The counter file is locked
    /// while it is read and written, so two opsdeck processes share one budget.
    pub fn take(&self, today: &str) -> Result<u32, BudgetError> {
        self.update(today, |c, limit| {
            if c.calls >= limit {
                return Err(BudgetError::Spent { limit });
            }
            c.calls += 1;
            Ok(c.calls)
        })
    }

    /// Requests made today.
    pub fn used(&self, today: &str) -> u32 {
        self.update(today, |c, _| Ok(c.calls)).unwrap_or(0)
    }

    fn update(
        &self,
        today: &str,
        f: impl FnOnce(&mut Counter, u32) -> Result<u32, BudgetError>,
    ) -> Result<u32, BudgetError> {
        let fail = |why: String| BudgetError::Counter {
            path: self.counter.display().to_string(),
            why,
        };
        if let Some(dir) = self.counter.parent() {
            crate::files::private::ensure_private_dir(dir).map_err(|e| fail(e.to_string()))?;
        }
        let file = crate::files::private::open_private_append(&self.counter)
            .map_err(|e| fail(e.to_string()))?;
        let mut locked = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| fail(e.to_string()))?;
        let mut text = String::new();
        locked
            .read_to_string(&mut text)
            .map_err(|e| fail(e.to_string()))?;
        let mut counter: Counter = if text.trim().is_empty() {
            Counter::default()
        } else {
            serde_json::from_str(&text).map_err(|e| fail(format!("not a call counter: {e}")))?
        };
        if counter.date != today {
            counter = Counter {
                date: today.to_string(),
                calls: 0,
            };
        }
        let result = f(&mut counter, self.daily_limit)?;
        let text = serde_json::to_string(&counter).map_err(|e| fail(e.to_string()))?;
        // Opened for append: truncate, then write the whole counter.
        locked.set_len(0).map_err(|e| fail(e.to_string()))?;
        locked
            .seek(std::io::SeekFrom::Start(0))
            .map_err(|e| fail(e.to_string()))?;
        locked
            .write_all(text.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        Ok(result)
    }
}

/// The cache file of `account`'s spend.
pub fn cache_path(data_dir: &Path, account: &str) -> PathBuf {
    let safe: String = account
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    cost_dir(data_dir).join(format!("spend-{safe}.json"))
}

/// The last report fetched for `account`, if any (a cache that cannot be read is no cache).
pub fn load_cached(data_dir: &Path, account: &str) -> Option<SpendReport> {
    load_cache_file(&cache_path(data_dir, account))
}

fn load_cache_file(path: &Path) -> Option<SpendReport> {
    let text = crate::files::read_text(path, crate::files::FileKind::SpendCache).ok()?;
    serde_json::from_str(&text).ok()
}

/// Keep `report` as `account`'s cache: written beside it, then renamed over it.
pub fn store_cached(data_dir: &Path, account: &str, report: &SpendReport) -> std::io::Result<()> {
    store_cache_file(&cache_path(data_dir, account), report)
}

fn store_cache_file(path: &Path, report: &SpendReport) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::files::private::ensure_private_dir(dir)?;
    // One name per write: the console and a tool's read may keep a report at the same time.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".spend-{}-{n}.tmp", std::process::id()));
    let text = serde_json::to_vec(report).map_err(std::io::Error::other)?;
    let mut file = crate::files::private::create_private_file(&tmp)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The cache a spend read of `account` uses: fresh for `cost.cache_hours`, or, for an
/// explicit refresh, never.
pub fn cache_for(data_dir: &Path, account: &str, cache_hours: u32, refresh: bool) -> SpendCache {
    SpendCache {
        path: cache_path(data_dir, account),
        fresh_for_ms: (!refresh).then_some(i64::from(cache_hours) * 3_600_000),
    }
}

/// The cached report that answers `query` at `now_ms` without a request: a Cost Explorer
/// report younger than the cache's freshness, covering the months asked for. Never for the
/// free metric (it costs nothing to read again) or an explicit refresh.
pub fn fresh_cached(query: &SpendQuery, now_ms: i64) -> Option<SpendReport> {
    let cache = query.cache.as_ref()?;
    let fresh_for = cache.fresh_for_ms?;
    if query.free_only {
        return None;
    }
    load_cache_file(&cache.path).filter(|r| {
        now_ms - r.fetched_ms < fresh_for
            && r.source == crate::cost::model::SpendSource::CostExplorer
            && r.months_requested >= query.months
    })
}

/// Keep what a spend read fetched in the read's cache, if it has one.
pub fn keep(query: &SpendQuery, report: &SpendReport) -> std::io::Result<()> {
    match &query.cache {
        Some(cache) => store_cache_file(&cache.path, report),
        None => Ok(()),
    }
}

/// `3 h` / `12 min` / `2 d`: how old a fetch is.
pub fn age_text(fetched_ms: i64, now_ms: i64) -> String {
    let mins = (now_ms - fetched_ms).max(0) / 60_000;
    if mins < 60 {
        format!("{mins} min")
    } else if mins < 48 * 60 {
        format!("{} h", mins / 60)
    } else {
        format!("{} d", mins / (24 * 60))
    }
}

/// The spend a budget is checked against: the month-end forecast, else month to date.
pub fn baseline(
    report: &SpendReport,
    account: &str,
    now_ms: i64,
) -> Option<crate::cost::verdict::Baseline> {
    let age = age_text(report.fetched_ms, now_ms);
    if let Part::Ok(f) = report.forecast {
        return Some(crate::cost::verdict::Baseline {
            monthly: f,
            what: format!("month-end forecast of account {account}, fetched {age} ago"),
        });
    }
    report
        .month_to_date
        .ok()
        .map(|m| crate::cost::verdict::Baseline {
            monthly: *m,
            what: format!(
                "month-to-date spend of account {account} (no forecast), fetched {age} ago"
            ),
        })
}

/// `opsdeck spend` as text.
pub fn text(
    report: &SpendReport,
    account: &str,
    now_ms: i64,
    calls_today: u32,
    limit: u32,
) -> String {
    let mut out = format!(
        "Spend of account {account} from {} ({}), fetched {} ago; Cost Explorer calls today: {calls_today} of {limit}\n",
        report.source.as_str(),
        report.currency,
        age_text(report.fetched_ms, now_ms)
    );
    if let Some(why) = &report.fallback_reason {
        out.push_str(&format!("  (Cost Explorer not used: {why})\n"));
    }
    let part = |label: &str, p: &Part<f64>| match p {
        Part::Ok(v) => format!("{label:<22}{:>14}\n", usd(*v)),
        Part::Unavailable(why) => format!("{label:<22}{:>14}  ({why})\n", "unavailable"),
    };
    out.push_str(&part("Month to date", &report.month_to_date));
    out.push_str(&part("Month-end forecast", &report.forecast));
    match &report.months {
        Part::Ok(months) => {
            out.push_str("\nBy month\n");
            for m in months {
                out.push_str(&format!(
                    "  {}{:>14}{}\n",
                    m.month,
                    usd(m.total),
                    if m.estimated { "  (estimated)" } else { "" }
                ));
            }
            if let Some(current) = months.last() {
                out.push_str(&format!("\nTop services in {}\n", current.month));
                for s in current.services.iter().take(10) {
                    out.push_str(&format!("  {:<50}{:>14}\n", s.name, usd(s.amount)));
                }
            }
        }
        Part::Unavailable(why) => out.push_str(&format!("\nBy month: unavailable ({why})\n")),
    }
    if let Some(tags) = &report.by_tag {
        match tags {
            Part::Ok(tags) => {
                out.push_str("\nBy cost-allocation tag (this month)\n");
                for t in tags {
                    out.push_str(&format!("  {:<50}{:>14}\n", t.name, usd(t.amount)));
                }
            }
            Part::Unavailable(why) => out.push_str(&format!("\nBy tag: unavailable ({why})\n")),
        }
    }
    match &report.by_stack {
        Part::Ok(stacks) if !stacks.is_empty() => {
            out.push_str("\nBy stack (aws:cloudformation:stack-name, this month)\n");
            for s in stacks {
                out.push_str(&format!("  {:<50}{:>14}\n", s.name, usd(s.amount)));
            }
        }
        Part::Ok(_) => {}
        Part::Unavailable(why) => out.push_str(&format!("\nBy stack: unavailable ({why})\n")),
    }
    out
}

/// `opsdeck spend --format json`.
pub fn json(
    report: &SpendReport,
    account: &str,
    now_ms: i64,
    calls_today: u32,
    limit: u32,
) -> serde_json::Value {
    let value = |p: &Part<f64>| p.ok().map(|v| crate::cost::estimate::round(*v));
    let mut unavailable = serde_json::Map::new();
    for (name, why) in [
        ("month_to_date", report.month_to_date.reason()),
        ("forecast", report.forecast.reason()),
        ("months", report.months.reason()),
        ("daily", report.daily.reason()),
        ("by_stack", report.by_stack.reason()),
        ("by_tag", report.by_tag.as_ref().and_then(|t| t.reason())),
    ] {
        if let Some(why) = why {
            unavailable.insert(name.into(), why.into());
        }
    }
    serde_json::json!({
        "currency": report.currency,
        "account": account,
        "source": report.source,
        "fetched_at_ms": report.fetched_ms,
        "age_seconds": (now_ms - report.fetched_ms).max(0) / 1000,
        "month_to_date": value(&report.month_to_date),
        "forecast_month_end": value(&report.forecast),
        "months": report.months.ok(),
        "daily": report.daily.ok(),
        "by_tag": report.by_tag.as_ref().and_then(|t| t.ok()),
        "by_stack": report.by_stack.ok(),
        "unavailable": unavailable,
        "fallback_reason": report.fallback_reason,
        "calls_today": calls_today,
        "call_budget": limit,
    })
}

/// `opsdeck spend --format csv`: one row per month and service.
pub fn csv(report: &SpendReport) -> String {
    let mut out = String::from("month,service,amount,estimated\n");
    if let Part::Ok(months) = &report.months {
        for m in months {
            out.push_str(&format!(
                "{},{},{:.4},{}\n",
                m.month, "TOTAL", m.total, m.estimated
            ));
            for s in &m.services {
                out.push_str(&format!(
                    "{},{},{:.4},{}\n",
                    m.month,
                    crate::compliance::export::csv::field_text(&s.name),
                    s.amount,
                    m.estimated
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_budget_is_kept_per_day_across_processes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let budget = call_budget(dir.path(), 2);
        assert_eq!(budget.take("2026-12-01"), Ok(1));
        // another "process": a second handle on the same file
        let other = call_budget(dir.path(), 2);
        assert_eq!(other.take("2026-12-01"), Ok(2));
        assert_eq!(
            budget.take("2026-12-01"),
            Err(BudgetError::Spent { limit: 2 })
        );
        assert_eq!(budget.used("2026-12-01"), 2);
        // a new day starts from zero
        assert_eq!(budget.take("2026-12-02"), Ok(1));
        assert_eq!(budget.used("2026-12-01"), 0);
    }

    #[test]
    fn a_broken_counter_refuses_paid_calls() {
        let dir = tempfile::tempdir().expect("temp dir");
        let budget = call_budget(dir.path(), 5);
        std::fs::create_dir_all(cost_dir(dir.path())).expect("dir");
        std::fs::write(&budget.counter, "garbage").expect("written");
        assert!(matches!(
            budget.take("2026-12-01"),
            Err(BudgetError::Counter { .. })
        ));
    }
}
