//! Idle signals, with AWS Trusted Advisor's thresholds, judged from daily metric values (one
//! value per day, `None` for a day without a datapoint), and what each finding costs a month.
//!
//! | resource | idle when |
//! |---|---|
//! | EC2 instance (running) | CPU ≤ 10 % and network in + out ≤ 5 MB (5,000,000 bytes) on at least 4 of the last 14 days |
//! | EBS volume | unattached, or under 1 IOPS ((read + write ops) / 86,400) on each of the last 7 days |
//! | Elastic IP | associated with nothing |
//! | load balancer | under 100 requests (ALB `RequestCount`, NLB `NewFlowCount`) on each of the last 7 days, or no healthy target |
//! | RDS instance | no connections (`DatabaseConnections` maximum 0) on each of the last 7 days |
//! | NAT gateway | 0 bytes out (`BytesOutToDestination`) on each of the last 7 days |
//!
//! A resource without the datapoints a rule needs is *unknown*, never idle.

use crate::compliance::input::InputResource;
use crate::cost::catalogue::{Catalogue, HOURS_PER_MONTH, Kind};
use crate::cost::estimate::Pricing;
use crate::cost::model::IdleReport;
use crate::cost::usage::Usage;
use std::collections::HashMap;

/// Days the instance rule looks back.
pub const INSTANCE_DAYS: usize = 14;
/// Days the other rules look back.
pub const WINDOW_DAYS: usize = 7;
/// Trusted Advisor's network threshold for a low-utilization day.
pub const INSTANCE_NETWORK_BYTES: f64 = 5_000_000.0;

/// What the metrics say about one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Idle, and why.
    Idle(String),
    Busy,
    /// Not enough data to say.
    Unknown(String),
}

/// EC2: CPU ≤ 10 % and network ≤ 5 MB on at least 4 of the days with data (of 14).
pub fn instance(cpu: &[Option<f64>], network: &[Option<f64>]) -> Signal {
    let days: Vec<(f64, f64)> = cpu
        .iter()
        .zip(network)
        .filter_map(|(c, n)| Some(((*c)?, (*n)?)))
        .collect();
    if days.is_empty() {
        return Signal::Unknown("no CPU or network datapoints in the last 14 days".into());
    }
    let low = days
        .iter()
        .filter(|(c, n)| *c <= 10.0 && *n <= INSTANCE_NETWORK_BYTES)
        .count();
    if low >= 4 {
        Signal::Idle(format!(
            "CPU ≤ 10 % and network ≤ 5 MB on {low} of the last {} days",
            days.len()
        ))
    } else {
        Signal::Busy
    }
}

/// Every one of the last 7 days has a value, and each passes `quiet`.
fn every_day(
    values: &[Option<f64>],
    what: &str,
    quiet: impl Fn(f64) -> bool,
    idle: &str,
) -> Signal {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.len() < WINDOW_DAYS {
        return Signal::Unknown(format!(
            "{what}: {} of the last {WINDOW_DAYS} days have datapoints",
            present.len()
        ));
    }
    if present.iter().all(|v| quiet(*v)) {
        Signal::Idle(idle.to_string())
    } else {
        Signal::Busy
    }
}

/// EBS (attached): under 1 IOPS on each of the last 7 days; `ops` = read + write ops per day.
pub fn volume(ops: &[Option<f64>]) -> Signal {
    every_day(
        ops,
        "VolumeReadOps + VolumeWriteOps",
        |v| v / 86_400.0 < 1.0,
        "under 1 IOPS on each of the last 7 days",
    )
}

/// Load balancers: under 100 requests (or new flows) on each of the last 7 days.
pub fn load_balancer(requests: &[Option<f64>]) -> Signal {
    every_day(
        requests,
        "requests",
        |v| v < 100.0,
        "under 100 requests a day for the last 7 days",
    )
}

/// RDS: no connections on each of the last 7 days (daily maximum).
pub fn db_instance(connections: &[Option<f64>]) -> Signal {
    every_day(
        connections,
        "DatabaseConnections",
        |v| v <= 0.0,
        "no connections for the last 7 days",
    )
}

/// NAT: 0 bytes out on each of the last 7 days.
pub fn nat_gateway(bytes_out: &[Option<f64>]) -> Signal {
    every_day(
        bytes_out,
        "BytesOutToDestination",
        |v| v <= 0.0,
        "0 bytes out for the last 7 days",
    )
}

/// What an idle finding costs a month, priced like a template's resource.
#[derive(Debug, Clone, PartialEq)]
pub enum PriceHint {
    /// Stopping saves the compute hours; its volumes are priced as volumes.
    Instance {
        instance_type: String,
    },
    Volume {
        volume_type: String,
        size_gb: f64,
        iops: Option<f64>,
        throughput: Option<f64>,
    },
    Address,
    LoadBalancer {
        network: bool,
    },
    DbInstance {
        engine: String,
        class: String,
        multi_az: bool,
        storage_type: String,
        allocated_gb: f64,
        iops: Option<f64>,
    },
    NatGateway,
}

impl PriceHint {
    /// As a template resource, for the pricers.
    fn resource(&self) -> InputResource {
        use serde_json::json;
        let (resource_type, properties) = match self {
            PriceHint::Instance { instance_type } => (
                "AWS::EC2::Instance",
                json!({ "InstanceType": instance_type }),
            ),
            PriceHint::Volume {
                volume_type,
                size_gb,
                iops,
                throughput,
            } => (
                "AWS::EC2::Volume",
                json!({ "VolumeType": volume_type, "Size": size_gb, "Iops": iops, "Throughput": throughput }),
            ),
            PriceHint::Address => ("AWS::EC2::EIP", json!({})),
            PriceHint::LoadBalancer { network } => (
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                json!({ "Type": if *network { "network" } else { "application" } }),
            ),
            PriceHint::DbInstance {
                engine,
                class,
                multi_az,
                storage_type,
                allocated_gb,
                iops,
            } => (
                "AWS::RDS::DBInstance",
                json!({
                    "Engine": engine, "DBInstanceClass": class, "MultiAZ": multi_az,
                    "StorageType": storage_type, "AllocatedStorage": allocated_gb, "Iops": iops,
                }),
            ),
            PriceHint::NatGateway => ("AWS::EC2::NatGateway", json!({})),
        };
        // Absent optional numbers are nulls above: drop them.
        let properties = match properties {
            serde_json::Value::Object(map) => {
                serde_json::Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        };
        InputResource {
            id: "idle".into(),
            resource_type: resource_type.into(),
            properties,
            attributes: serde_json::Map::new(),
        }
    }
}

/// Fill each finding's monthly cost (and how it was priced) from the catalogue.
pub fn price(report: &mut IdleReport, catalogue: &Catalogue) {
    report.prices_as_of = catalogue.as_of();
    let usage = Usage::none();
    for finding in &mut report.findings {
        let Some(hint) = &finding.price else {
            continue;
        };
        let pricing = Pricing {
            catalogue,
            usage: &usage,
            region: &finding.region,
        };
        if let PriceHint::Instance { instance_type } = hint {
            match catalogue.price(Kind::Ec2, instance_type, &finding.region) {
                Some(p) => {
                    finding.monthly = Some(p.usd * HOURS_PER_MONTH);
                    finding.priced_as = format!(
                        "{instance_type} × 730 h (compute only){}",
                        if p.estimate.is_some() {
                            ", estimate"
                        } else {
                            ""
                        }
                    );
                }
                None => finding.priced_as = format!("no price for {instance_type}"),
            }
            continue;
        }
        let resource = hint.resource();
        let cost = crate::cost::pricers::price(pricing, &resource, &HashMap::new());
        finding.priced_as = cost
            .components
            .iter()
            .filter(|c| c.monthly.is_some())
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .join(" + ");
        if cost.estimate {
            finding.priced_as.push_str(", estimate");
        }
        finding.monthly = cost.priced.then_some(cost.monthly);
        if !cost.priced {
            finding.priced_as = cost.note.unwrap_or_else(|| "not priced".into());
        }
    }
    report.findings.sort_by(|a, b| {
        b.monthly
            .unwrap_or(0.0)
            .total_cmp(&a.monthly.unwrap_or(0.0))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::model::{IdleFinding, IdleKind};

    fn days(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|v| Some(*v)).collect()
    }

    #[test]
    fn instances_need_four_quiet_days_of_fourteen() {
        let quiet = [2.0; 14];
        let busy_net = [6_000_000.0; 14];
        assert!(matches!(
            instance(&days(&quiet), &days(&[1000.0; 14])),
            Signal::Idle(_)
        ));
        assert_eq!(instance(&days(&quiet), &days(&busy_net)), Signal::Busy);
        let mut cpu = [50.0; 14];
        cpu[..3].copy_from_slice(&[5.0, 5.0, 5.0]);
        assert_eq!(
            instance(&days(&cpu), &days(&[0.0; 14])),
            Signal::Busy,
            "3 days"
        );
        cpu[3] = 10.0;
        assert!(
            matches!(instance(&days(&cpu), &days(&[0.0; 14])), Signal::Idle(_)),
            "4 days"
        );
        assert!(matches!(
            instance(&[None; 14], &[None; 14]),
            Signal::Unknown(_)
        ));
    }

    #[test]
    fn seven_day_rules_need_seven_days_of_data() {
        assert!(matches!(volume(&days(&[86_000.0; 7])), Signal::Idle(_)));
        assert_eq!(volume(&days(&[86_400.0; 7])), Signal::Busy);
        let mut six = days(&[0.0; 7]);
        six[3] = None;
        assert!(matches!(volume(&six), Signal::Unknown(_)));
        assert!(matches!(load_balancer(&days(&[99.0; 7])), Signal::Idle(_)));
        assert_eq!(
            load_balancer(&days(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0])),
            Signal::Busy
        );
        assert!(matches!(db_instance(&days(&[0.0; 7])), Signal::Idle(_)));
        assert_eq!(
            db_instance(&days(&[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])),
            Signal::Busy
        );
        assert!(matches!(nat_gateway(&days(&[0.0; 7])), Signal::Idle(_)));
        assert!(matches!(nat_gateway(&[]), Signal::Unknown(_)));
    }

    fn finding(kind: IdleKind, hint: PriceHint) -> IdleFinding {
        IdleFinding {
            kind,
            id: "x".into(),
            name: None,
            region: "us-east-1".into(),
            reason: "idle".into(),
            monthly: None,
            priced_as: String::new(),
            stack: None,
            detail: String::new(),
            price: Some(hint),
        }
    }

    #[test]
    fn findings_are_priced_from_the_catalogue() {
        let mut report = IdleReport {
            region: "us-east-1".into(),
            findings: vec![
                finding(
                    IdleKind::Instance,
                    PriceHint::Instance {
                        instance_type: "t3.small".into(),
                    },
                ),
                finding(
                    IdleKind::Volume,
                    PriceHint::Volume {
                        volume_type: "gp3".into(),
                        size_gb: 100.0,
                        iops: Some(3000.0),
                        throughput: Some(125.0),
                    },
                ),
                finding(IdleKind::Address, PriceHint::Address),
                finding(IdleKind::NatGateway, PriceHint::NatGateway),
                finding(
                    IdleKind::DbInstance,
                    PriceHint::DbInstance {
                        engine: "postgres".into(),
                        class: "db.t4g.micro".into(),
                        multi_az: false,
                        storage_type: "gp2".into(),
                        allocated_gb: 20.0,
                        iops: None,
                    },
                ),
            ],
            ..IdleReport::default()
        };
        price(&mut report, &Catalogue::bundled());
        let monthly = |kind| {
            report
                .findings
                .iter()
                .find(|f| f.kind == kind)
                .and_then(|f| f.monthly)
                .expect("priced")
        };
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        close(monthly(IdleKind::Instance), 0.0208 * 730.0);
        close(monthly(IdleKind::Volume), 100.0 * 0.08);
        close(monthly(IdleKind::Address), 0.005 * 730.0);
        close(monthly(IdleKind::NatGateway), 0.045 * 730.0);
        close(monthly(IdleKind::DbInstance), 0.016 * 730.0 + 20.0 * 0.115);
        // dearest first
        assert_eq!(report.findings[0].kind, IdleKind::NatGateway);
    }
}
