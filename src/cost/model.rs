//! Cost data the provider fills and the panes and reports show: actual spend and idle
//! resources. Plain data.

use serde::{Deserialize, Serialize};

/// One part of a spend report: its value, or why it is not available. A part that fails does
/// not fail the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part<T> {
    Ok(T),
    Unavailable(String),
}

impl<T> Part<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Part::Ok(v) => Some(v),
            Part::Unavailable(_) => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Part::Ok(_) => None,
            Part::Unavailable(why) => Some(why),
        }
    }
}

/// An amount for one name (a service, a tag value, a stack).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub name: String,
    pub amount: f64,
}

/// One month's spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthSpend {
    /// `YYYY-MM`.
    pub month: String,
    pub total: f64,
    /// Cost Explorer says the figures may still change (the current month).
    pub estimated: bool,
    /// Largest first.
    pub services: Vec<Amount>,
}

/// One day's spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySpend {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub amount: f64,
}

/// Where the figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpendSource {
    CostExplorer,
    /// `AWS/Billing EstimatedCharges`: free, month to date by service only.
    Cloudwatch,
}

impl SpendSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendSource::CostExplorer => "Cost Explorer",
            SpendSource::Cloudwatch => "CloudWatch AWS/Billing",
        }
    }
}

/// Actual spend: month to date, recent months, the daily trend and the month-end forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendReport {
    pub source: SpendSource,
    pub currency: String,
    /// When it was fetched (ms since the epoch).
    pub fetched_ms: i64,
    /// The current month so far.
    pub month_to_date: Part<f64>,
    /// Oldest first, the current month last.
    pub months: Part<Vec<MonthSpend>>,
    /// This month (and the end of the last), oldest first.
    pub daily: Part<Vec<DaySpend>>,
    /// The month-end total: spend so far plus Cost Explorer's forecast of the rest.
    pub forecast: Part<f64>,
    /// By the configured cost-allocation tag, this month.
    pub by_tag: Option<Part<Vec<Amount>>>,
    /// By `aws:cloudformation:stack-name`, this month.
    pub by_stack: Part<Vec<Amount>>,
    /// Cost Explorer requests this fetch made (each $0.01).
    pub calls: u32,
    /// Why the primary source was not used, when the fallback answered.
    pub fallback_reason: Option<String>,
    /// Months before the current one that were asked for (a cache answers a request for as
    /// many or fewer).
    #[serde(default)]
    pub months_requested: u32,
}

impl SpendReport {
    /// Services of the current month, largest first.
    pub fn top_services(&self) -> &[Amount] {
        self.months
            .ok()
            .and_then(|m| m.last())
            .map(|m| m.services.as_slice())
            .unwrap_or_default()
    }

    /// The spend of one stack this month, if Cost Explorer has it.
    pub fn stack(&self, name: &str) -> Option<f64> {
        self.by_stack
            .ok()
            .and_then(|s| s.iter().find(|a| a.name == name))
            .map(|a| a.amount)
    }
}

/// What kind of idle resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleKind {
    Instance,
    Volume,
    #[serde(rename = "elastic-ip")]
    Address,
    LoadBalancer,
    DbInstance,
    NatGateway,
}

impl IdleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdleKind::Instance => "instance",
            IdleKind::Volume => "volume",
            IdleKind::Address => "elastic-ip",
            IdleKind::LoadBalancer => "load-balancer",
            IdleKind::DbInstance => "db-instance",
            IdleKind::NatGateway => "nat-gateway",
        }
    }

    /// What reaping it does, when opsdeck can reap it.
    pub fn reaping(self) -> Option<&'static str> {
        match self {
            IdleKind::Instance => Some("stop"),
            IdleKind::Volume => Some("snapshot, then delete"),
            IdleKind::Address => Some("release"),
            IdleKind::LoadBalancer | IdleKind::DbInstance | IdleKind::NatGateway => None,
        }
    }
}

/// A resource that looks idle, with what it costs a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleFinding {
    pub kind: IdleKind,
    /// Instance, volume, allocation, load balancer ARN, DB identifier or NAT gateway id.
    pub id: String,
    /// The `Name` tag or other human name.
    pub name: Option<String>,
    pub region: String,
    /// Why it is idle, in Trusted Advisor's terms.
    pub reason: String,
    /// What it costs a month, from the catalogue; `None` when it cannot be priced.
    pub monthly: Option<f64>,
    /// How the monthly figure was made ("t3.small 730 h", "100 GB gp3").
    pub priced_as: String,
    /// The `aws:cloudformation:stack-name` tag, if any.
    pub stack: Option<String>,
    /// A public IP (Elastic IPs), size and type (volumes), instance type (instances).
    pub detail: String,
    /// What to price it as (`cost::idle::price` fills `monthly` from it).
    #[serde(skip)]
    pub price: Option<crate::cost::idle::PriceHint>,
}

/// What the idle scan found: findings, resources that could not be judged (no datapoints),
/// and parts that failed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IdleReport {
    pub region: String,
    pub findings: Vec<IdleFinding>,
    /// `(id, why)`: no metric data, so neither idle nor busy.
    pub unknown: Vec<(String, String)>,
    /// Parts of the scan that failed (`"RDS: AccessDenied: …"`).
    pub errors: Vec<String>,
    /// GetMetricData calls made (each at most 500 queries).
    pub metric_calls: u32,
    /// When it was made (ms since the epoch).
    pub scanned_ms: i64,
    /// Source id → as-of date of the prices the findings were priced with (empty: not
    /// priced yet).
    #[serde(default)]
    pub prices_as_of: std::collections::BTreeMap<String, String>,
}

impl IdleReport {
    pub fn monthly_total(&self) -> f64 {
        self.findings.iter().filter_map(|f| f.monthly).sum()
    }
}
