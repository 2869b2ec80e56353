//! The cost capability's operations: reads of spend and idle resources, and the DEV-only
//! reaping of idle resources (stop instances, snapshot then delete unattached volumes, release
//! Elastic IPs). Targets are resolved when the action is requested, so what is confirmed is
//! exactly what runs.

use crate::cost::catalogue::Catalogue;
use crate::cost::verdict::Money;
use crate::model::Environment;
use crate::ops::{MutatingOp, Mutation, Read, ReadScope, RiskTier, to_json};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the Cost Explorer call counter lives and how many calls a day it allows. Carried by
/// the read, so the provider that spends the money checks the budget before every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallBudget {
    /// `<data dir>/cost/ce-calls.json`.
    pub counter: PathBuf,
    pub daily_limit: u32,
}

/// The account's spend cache as a spend read uses it: a fresh report there answers the read
/// without a paid request, and what the read fetches is kept there. Carried by the read, so
/// every caller (the console, `opsdeck spend`, the assistant's `show-spend`) shares one cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpendCache {
    /// `<data dir>/cost/spend-<account>.json`.
    pub path: PathBuf,
    /// A cached Cost Explorer report younger than this (covering at least the months asked
    /// for) answers the read; `None`: fetch anyway (an explicit refresh).
    pub fresh_for_ms: Option<i64>,
}

/// The price catalogue a read prices what it finds with. Compared by identity: the same
/// catalogue, the same read.
#[derive(Clone)]
pub struct PriceBook(pub Arc<Catalogue>);

impl PartialEq for PriceBook {
    fn eq(&self, other: &PriceBook) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PriceBook {}

impl std::hash::Hash for PriceBook {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

impl std::fmt::Debug for PriceBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PriceBook({})", self.0.as_of_line())
    }
}

/// What a spend read asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpendQuery {
    /// Months before the current one (the current month is always included).
    pub months: u32,
    /// A cost-allocation tag to group this month's spend by.
    pub allocation_tag: Option<String>,
    pub budget: CallBudget,
    /// Skip Cost Explorer and read the free billing metric only.
    pub free_only: bool,
    /// Today, `YYYY-MM-DD` (UTC), fixed when the read is requested.
    pub today: String,
    /// The account's cache, when the read is to use it (`None`: the caller keeps it).
    pub cache: Option<SpendCache>,
}

/// The cost capability's reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CostRead {
    /// Month to date, recent months, daily trend, forecast, by service, tag and stack: Cost
    /// Explorer within the call budget, `AWS/Billing EstimatedCharges` when it cannot answer.
    Spend(SpendQuery),
    /// Describe instances, volumes, addresses, load balancers, DB instances and NAT gateways,
    /// and read their CloudWatch metrics (batched, ≤ 500 queries a call); priced with
    /// `prices` when given (`None`: the caller prices them, see `cost::idle::price`).
    Idle {
        scope: ReadScope,
        prices: Option<PriceBook>,
    },
}

impl Read for CostRead {
    fn name(&self) -> &'static str {
        match self {
            CostRead::Spend(_) => "show-spend",
            CostRead::Idle { .. } => "list-idle",
        }
    }

    fn title(&self) -> String {
        match self {
            CostRead::Spend(q) if q.free_only => "Spend (CloudWatch billing metric)".into(),
            CostRead::Spend(_) => "Spend (Cost Explorer)".into(),
            CostRead::Idle { scope, .. } => format!("Find idle resources in {}", scope.region),
        }
    }

    fn long_running(&self) -> bool {
        match self {
            CostRead::Spend(_) | CostRead::Idle { .. } => false,
        }
    }

    fn streams(&self) -> bool {
        match self {
            CostRead::Spend(_) | CostRead::Idle { .. } => false,
        }
    }
}

/// Where reaping happens: resolved when it is requested.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ReapTarget {
    pub account: String,
    pub region: String,
    pub environment: Environment,
}

/// One idle resource to reap, as the idle scan found it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reapable {
    /// Instance id, volume id, or the Elastic IP's allocation id.
    pub id: String,
    pub name: Option<String>,
    /// Type and size, or the public IP.
    pub detail: String,
    /// Why it is idle.
    pub reason: String,
    /// What reaping saves a month (stopping an instance saves its compute hours only).
    pub monthly_saving: Option<Money>,
}

/// Stop instances (their EBS volumes stay and keep costing).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct StopInstances {
    #[serde(flatten)]
    pub target: ReapTarget,
    pub instances: Vec<Reapable>,
}

/// Snapshot each unattached volume, wait for the snapshot, then delete the volume.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DeleteVolumes {
    #[serde(flatten)]
    pub target: ReapTarget,
    pub volumes: Vec<Reapable>,
}

/// Release Elastic IPs that are associated with nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ReleaseAddresses {
    #[serde(flatten)]
    pub target: ReapTarget,
    pub addresses: Vec<Reapable>,
}

/// The cost capability's mutations. Adding a variant forces a decision in every match of the
/// [`Mutation`] impl below and in `cost::port::execute`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CostMutation {
    StopInstances(StopInstances),
    DeleteVolumes(DeleteVolumes),
    ReleaseAddresses(ReleaseAddresses),
}

macro_rules! into_mutation {
    ($($variant:ident),* $(,)?) => {$(
        impl From<$variant> for CostMutation {
            fn from(op: $variant) -> CostMutation {
                CostMutation::$variant(op)
            }
        }
        impl From<$variant> for MutatingOp {
            fn from(op: $variant) -> MutatingOp {
                MutatingOp::Cost(CostMutation::$variant(op))
            }
        }
    )*};
}

into_mutation!(StopInstances, DeleteVolumes, ReleaseAddresses);

impl CostMutation {
    pub fn target(&self) -> &ReapTarget {
        match self {
            CostMutation::StopInstances(o) => &o.target,
            CostMutation::DeleteVolumes(o) => &o.target,
            CostMutation::ReleaseAddresses(o) => &o.target,
        }
    }

    /// The resources it reaps.
    pub fn items(&self) -> &[Reapable] {
        match self {
            CostMutation::StopInstances(o) => &o.instances,
            CostMutation::DeleteVolumes(o) => &o.volumes,
            CostMutation::ReleaseAddresses(o) => &o.addresses,
        }
    }

    /// What reaping them saves a month (what can be priced).
    pub fn saving(&self) -> Money {
        self.items()
            .iter()
            .filter_map(|i| i.monthly_saving)
            .fold(Money::default(), |a, b| a + b)
    }

    /// "instance", "volume", "Elastic IP".
    fn noun(&self) -> &'static str {
        match self {
            CostMutation::StopInstances(_) => "instance",
            CostMutation::DeleteVolumes(_) => "volume",
            CostMutation::ReleaseAddresses(_) => "Elastic IP",
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            CostMutation::StopInstances(_) => "Stop",
            CostMutation::DeleteVolumes(_) => "Snapshot, then delete",
            CostMutation::ReleaseAddresses(_) => "Release",
        }
    }

    fn ids(&self) -> String {
        self.items()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Mutation for CostMutation {
    fn name(&self) -> &'static str {
        match self {
            CostMutation::StopInstances(_) => "stop-instances",
            CostMutation::DeleteVolumes(_) => "snapshot-delete-volumes",
            CostMutation::ReleaseAddresses(_) => "release-addresses",
        }
    }

    /// Reaping is never undone by a keypress: the typed name, always. One resource: its id;
    /// several: "stop 3 instances" (what will happen, in words).
    fn risk(&self) -> RiskTier {
        match self {
            CostMutation::StopInstances(_)
            | CostMutation::DeleteVolumes(_)
            | CostMutation::ReleaseAddresses(_) => match self.items() {
                [one] => RiskTier::TypeName(one.id.clone()),
                many => RiskTier::TypeName(format!(
                    "{} {} {}s",
                    self.verb()
                        .split(',')
                        .next()
                        .unwrap_or("reap")
                        .to_lowercase(),
                    many.len(),
                    self.noun()
                )),
            },
        }
    }

    /// DEV only: anywhere else (TST, PRD, an unmapped account) the gate refuses, and audits
    /// the refusal. An empty list is refused too: nothing to confirm.
    fn policy_block(&self) -> Option<String> {
        match self {
            CostMutation::StopInstances(_)
            | CostMutation::DeleteVolumes(_)
            | CostMutation::ReleaseAddresses(_) => {
                let env = self.target().environment;
                if self.items().is_empty() {
                    Some("cost: nothing to reap".into())
                } else if env != Environment::Dev {
                    Some(format!(
                        "cost: reaping idle resources is DEV only; account {} is {env}",
                        self.target().account
                    ))
                } else {
                    None
                }
            }
        }
    }

    fn environment(&self) -> Environment {
        self.target().environment
    }

    fn describe(&self) -> String {
        let t = self.target();
        let n = self.items().len();
        format!(
            "{} {n} idle {}{} in {} / {} ({}): {} — saves {} a month",
            self.verb(),
            self.noun(),
            if n == 1 { "" } else { "s" },
            t.account,
            t.region,
            t.environment,
            self.ids(),
            self.saving()
        )
    }

    fn target_key(&self) -> String {
        let t = self.target();
        format!("reap:{}:{}", t.account, t.region)
    }

    fn target_json(&self) -> serde_json::Value {
        match self {
            CostMutation::StopInstances(o) => to_json(o),
            CostMutation::DeleteVolumes(o) => to_json(o),
            CostMutation::ReleaseAddresses(o) => to_json(o),
        }
    }

    fn target_line(&self) -> String {
        let t = self.target();
        format!(
            "{} in {} / {} ({})",
            self.ids(),
            t.account,
            t.region,
            t.environment
        )
    }

    fn dialog_rows(&self) -> usize {
        2 * self.items().len() + 14
    }

    fn on_dismiss(&self) -> Option<MutatingOp> {
        match self {
            CostMutation::StopInstances(_)
            | CostMutation::DeleteVolumes(_)
            | CostMutation::ReleaseAddresses(_) => None,
        }
    }

    fn is_cleanup(&self) -> bool {
        match self {
            CostMutation::StopInstances(_)
            | CostMutation::DeleteVolumes(_)
            | CostMutation::ReleaseAddresses(_) => false,
        }
    }

    fn what_may_be_left(&self, endpoint: Option<&str>) -> Option<String> {
        match self {
            // A volume is snapshotted before it is deleted: a stop in between leaves the
            // snapshot and the volume both.
            CostMutation::DeleteVolumes(d) => {
                let ids: Vec<&str> = d.volumes.iter().map(|v| v.id.as_str()).collect();
                Some(format!(
                    "volumes {} may have a snapshot but not be deleted yet; check with: aws ec2 describe-volumes --volume-ids {}{}",
                    ids.join(", "),
                    ids.join(" "),
                    crate::aws::calls::cli_args(Some(&d.target.region), endpoint)
                ))
            }
            // One request each: accepted or not, nothing half-made.
            CostMutation::StopInstances(_) | CostMutation::ReleaseAddresses(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(env: Environment, ids: &[&str]) -> MutatingOp {
        MutatingOp::from(StopInstances {
            target: ReapTarget {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                environment: env,
            },
            instances: ids
                .iter()
                .map(|id| Reapable {
                    id: id.to_string(),
                    name: None,
                    detail: "t3.small".into(),
                    reason: "CPU ≤ 10 %".into(),
                    monthly_saving: Some(Money::from_usd(0.0208 * 730.0)),
                })
                .collect(),
        })
    }

    #[test]
    fn reaping_is_typed_and_dev_only() {
        let one = stop(Environment::Dev, &["i-1"]);
        assert_eq!(one.risk(), RiskTier::TypeName("i-1".into()));
        assert_eq!(one.policy_block(), None);
        assert!(one.is_mutating_name());
        let many = stop(Environment::Dev, &["i-1", "i-2", "i-3"]);
        assert_eq!(many.risk(), RiskTier::TypeName("stop 3 instances".into()));
        for env in [Environment::Tst, Environment::Prd, Environment::Unmapped] {
            let why = stop(env, &["i-1"]).policy_block().expect("refused");
            assert!(why.contains("DEV only"), "{why}");
        }
        assert!(stop(Environment::Dev, &[]).policy_block().is_some());
        let json = one.target_json();
        assert_eq!(json["environment"], "DEV");
        assert_eq!(json["instances"][0]["id"], "i-1");
        assert_eq!(json["instances"][0]["monthly_saving"], 15.184);
        assert!(
            one.describe().contains("saves $15.18 a month"),
            "{}",
            one.describe()
        );
    }

    impl MutatingOp {
        fn is_mutating_name(&self) -> bool {
            self.name() == "stop-instances"
        }
    }
}
