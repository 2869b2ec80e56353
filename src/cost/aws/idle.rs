//! The idle scan: describe instances, volumes, addresses, NAT gateways, load balancers and DB
//! instances, read their daily metrics with GetMetricData (at most 500 queries a call), and
//! judge them with `cost::idle`'s thresholds. A part that fails is listed in the report's
//! errors; the rest still answers.

use super::{CostProvider, tag};
use crate::cost::idle::{self, INSTANCE_DAYS, PriceHint, Signal, WINDOW_DAYS};
use crate::cost::model::{IdleFinding, IdleKind, IdleReport};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use std::collections::HashMap;

/// GetMetricData takes at most this many queries a call.
pub const MAX_QUERIES: usize = 500;
/// Pages of one describe call (bounded).
const MAX_PAGES: usize = 100;

/// Daily series by query id: `(epoch seconds, value)`. Queries are sent in calls of at most
/// [`MAX_QUERIES`], each followed through its pages. Returns the series and the calls made.
pub(super) async fn metric_data(
    cw: &aws_sdk_cloudwatch::Client,
    site: &crate::aws::calls::Site,
    queries: Vec<MetricDataQuery>,
    start_day: i64,
    end_day: i64,
) -> ProviderResult<(HashMap<String, Vec<(i64, f64)>>, u32)> {
    let mut series: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    let mut calls = 0;
    for chunk in queries.chunks(MAX_QUERIES) {
        let mut token: Option<String> = None;
        for page in 0.. {
            if page >= MAX_PAGES {
                return Err(ProviderError::new(
                    ErrorKind::Other,
                    format!("GetMetricData: more than {MAX_PAGES} pages"),
                ));
            }
            calls += 1;
            let out = cw
                .get_metric_data()
                .set_metric_data_queries(Some(chunk.to_vec()))
                .start_time(DateTime::from_secs(start_day * 86_400))
                .end_time(DateTime::from_secs(end_day * 86_400))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| site.fail("GetMetricData", e))?;
            for r in out.metric_data_results() {
                let id = r.id().unwrap_or_default().to_string();
                let points = series.entry(id).or_default();
                points.extend(
                    r.timestamps()
                        .iter()
                        .map(|t| t.secs())
                        .zip(r.values().iter().copied()),
                );
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok((series, calls))
}

/// One metric of one resource, summed or maximised per day.
struct Want {
    namespace: &'static str,
    name: &'static str,
    dimension: (&'static str, String),
    stat: &'static str,
}

fn query(id: String, w: &Want) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(w.namespace)
                        .metric_name(w.name)
                        .dimensions(
                            Dimension::builder()
                                .name(w.dimension.0)
                                .value(w.dimension.1.clone())
                                .build(),
                        )
                        .build(),
                )
                .period(86_400)
                .stat(w.stat)
                .build(),
        )
        .return_data(true)
        .build()
}

/// A candidate: what it is, what to read about it, and how to judge it.
struct Candidate {
    finding: IdleFinding,
    /// Metrics, in the order `judge` expects them.
    wants: Vec<Want>,
    days: usize,
    judge: fn(&[Vec<Option<f64>>]) -> Signal,
    /// Already idle from its description alone (unattached, unassociated, no healthy target).
    described_idle: Option<String>,
}

fn ec2_tags(
    tags: &[aws_sdk_ec2::types::Tag],
) -> impl Iterator<Item = (Option<&str>, Option<&str>)> {
    tags.iter().map(|t| (t.key(), t.value()))
}

pub(super) async fn scan(
    p: &CostProvider,
    region: String,
    ctx: &TaskCtx,
) -> ProviderResult<IdleReport> {
    let now = crate::model::now_ms();
    let today = crate::cost::dates::today(now);
    let mut report = IdleReport {
        region: region.clone(),
        scanned_ms: now,
        ..IdleReport::default()
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    let base =
        |kind, id: &str, name: Option<String>, stack: Option<String>, detail: String, price| {
            IdleFinding {
                kind,
                id: id.to_string(),
                name,
                region: region.clone(),
                reason: String::new(),
                monthly: None,
                priced_as: String::new(),
                stack,
                detail,
                price: Some(price),
            }
        };
    const STACK: &str = "aws:cloudformation:stack-name";

    ctx.info("EC2: running instances");
    match instances(p).await {
        Ok(list) => {
            for i in list {
                let Some(id) = i.instance_id() else { continue };
                let itype = i
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default();
                let finding = base(
                    IdleKind::Instance,
                    id,
                    tag(ec2_tags(i.tags()), "Name"),
                    tag(ec2_tags(i.tags()), STACK),
                    itype.clone(),
                    PriceHint::Instance {
                        instance_type: itype,
                    },
                );
                let dim = ("InstanceId", id.to_string());
                candidates.push(Candidate {
                    finding,
                    wants: vec![
                        Want {
                            namespace: "AWS/EC2",
                            name: "CPUUtilization",
                            dimension: dim.clone(),
                            stat: "Average",
                        },
                        Want {
                            namespace: "AWS/EC2",
                            name: "NetworkIn",
                            dimension: dim.clone(),
                            stat: "Sum",
                        },
                        Want {
                            namespace: "AWS/EC2",
                            name: "NetworkOut",
                            dimension: dim,
                            stat: "Sum",
                        },
                    ],
                    days: INSTANCE_DAYS,
                    judge: |m| {
                        let network: Vec<Option<f64>> = m[1]
                            .iter()
                            .zip(&m[2])
                            .map(|(a, b)| match (a, b) {
                                (Some(a), Some(b)) => Some(a + b),
                                (Some(a), None) | (None, Some(a)) => Some(*a),
                                (None, None) => None,
                            })
                            .collect();
                        idle::instance(&m[0], &network)
                    },
                    described_idle: None,
                });
            }
        }
        Err(e) => report.errors.push(format!("EC2 instances: {e}")),
    }

    ctx.info("EC2: volumes");
    match volumes(p).await {
        Ok(list) => {
            for v in list {
                let Some(id) = v.volume_id() else { continue };
                let vtype = v
                    .volume_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "gp2".into());
                let size = f64::from(v.size().unwrap_or(0));
                let unattached = v.state().map(|s| s.as_str()) == Some("available");
                let finding = base(
                    IdleKind::Volume,
                    id,
                    tag(ec2_tags(v.tags()), "Name"),
                    tag(ec2_tags(v.tags()), STACK),
                    format!("{size} GB {vtype}"),
                    PriceHint::Volume {
                        volume_type: vtype,
                        size_gb: size,
                        iops: v.iops().map(f64::from),
                        throughput: v.throughput().map(f64::from),
                    },
                );
                let dim = ("VolumeId", id.to_string());
                candidates.push(Candidate {
                    finding,
                    wants: if unattached {
                        Vec::new()
                    } else {
                        vec![
                            Want {
                                namespace: "AWS/EBS",
                                name: "VolumeReadOps",
                                dimension: dim.clone(),
                                stat: "Sum",
                            },
                            Want {
                                namespace: "AWS/EBS",
                                name: "VolumeWriteOps",
                                dimension: dim,
                                stat: "Sum",
                            },
                        ]
                    },
                    days: WINDOW_DAYS,
                    judge: |m| {
                        let ops: Vec<Option<f64>> = m[0]
                            .iter()
                            .zip(&m[1])
                            .map(|(r, w)| match (r, w) {
                                (None, None) => None,
                                (r, w) => Some(r.unwrap_or(0.0) + w.unwrap_or(0.0)),
                            })
                            .collect();
                        idle::volume(&ops)
                    },
                    described_idle: unattached.then(|| "unattached (available)".to_string()),
                });
            }
        }
        Err(e) => report.errors.push(format!("EBS volumes: {e}")),
    }

    ctx.info("EC2: Elastic IPs");
    match p.ec2.describe_addresses().send().await {
        Ok(out) => {
            for a in out.addresses() {
                let Some(id) = a.allocation_id() else {
                    continue;
                };
                let associated = a.association_id().is_some_and(|s| !s.is_empty())
                    || a.instance_id().is_some_and(|s| !s.is_empty())
                    || a.network_interface_id().is_some_and(|s| !s.is_empty());
                if associated {
                    continue;
                }
                let ip = a.public_ip().unwrap_or_default().to_string();
                candidates.push(Candidate {
                    finding: base(
                        IdleKind::Address,
                        id,
                        tag(ec2_tags(a.tags()), "Name"),
                        tag(ec2_tags(a.tags()), STACK),
                        ip,
                        PriceHint::Address,
                    ),
                    wants: Vec::new(),
                    days: WINDOW_DAYS,
                    judge: |_| Signal::Busy,
                    described_idle: Some("not associated with anything".into()),
                });
            }
        }
        Err(e) => report.errors.push(format!(
            "Elastic IPs: {}",
            p.sites.ec2.fail("DescribeAddresses", e)
        )),
    }

    ctx.info("EC2: NAT gateways");
    match nat_gateways(p).await {
        Ok(list) => {
            for n in list {
                let Some(id) = n.nat_gateway_id() else {
                    continue;
                };
                if n.state().map(|s| s.as_str()) != Some("available") {
                    continue;
                }
                candidates.push(Candidate {
                    finding: base(
                        IdleKind::NatGateway,
                        id,
                        tag(ec2_tags(n.tags()), "Name"),
                        tag(ec2_tags(n.tags()), STACK),
                        String::new(),
                        PriceHint::NatGateway,
                    ),
                    wants: vec![Want {
                        namespace: "AWS/NATGateway",
                        name: "BytesOutToDestination",
                        dimension: ("NatGatewayId", id.to_string()),
                        stat: "Sum",
                    }],
                    days: WINDOW_DAYS,
                    judge: |m| idle::nat_gateway(&m[0]),
                    described_idle: None,
                });
            }
        }
        Err(e) => report.errors.push(format!("NAT gateways: {e}")),
    }

    ctx.info("ELB: load balancers");
    match load_balancers(p).await {
        Ok(list) => {
            for (lb, healthy) in list {
                let Some(arn) = lb.load_balancer_arn() else {
                    continue;
                };
                let network = lb.r#type().map(|t| t.as_str()) == Some("network");
                // The metric dimension: `app/name/id` (or `net/…`), after `loadbalancer/`.
                let dimension = arn
                    .split_once(":loadbalancer/")
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default();
                let (namespace, name) = if network {
                    ("AWS/NetworkELB", "NewFlowCount")
                } else {
                    ("AWS/ApplicationELB", "RequestCount")
                };
                candidates.push(Candidate {
                    finding: base(
                        IdleKind::LoadBalancer,
                        arn,
                        lb.load_balancer_name().map(|n| crate::aws::clean(Some(n))),
                        None,
                        if network {
                            "network".into()
                        } else {
                            "application".into()
                        },
                        PriceHint::LoadBalancer { network },
                    ),
                    wants: vec![Want {
                        namespace,
                        name,
                        dimension: ("LoadBalancer", dimension),
                        stat: "Sum",
                    }],
                    days: WINDOW_DAYS,
                    judge: |m| idle::load_balancer(&m[0]),
                    described_idle: (!healthy).then(|| "no healthy target".to_string()),
                });
            }
        }
        Err(e) => report.errors.push(format!("load balancers: {e}")),
    }

    ctx.info("RDS: DB instances");
    match db_instances(p).await {
        Ok(list) => {
            for db in list {
                let Some(id) = db.db_instance_identifier() else {
                    continue;
                };
                if db.db_instance_status() != Some("available") {
                    continue;
                }
                let class = db.db_instance_class().unwrap_or_default().to_string();
                let engine = db.engine().unwrap_or_default().to_string();
                candidates.push(Candidate {
                    finding: base(
                        IdleKind::DbInstance,
                        id,
                        None,
                        None,
                        format!("{class} {engine}"),
                        PriceHint::DbInstance {
                            engine,
                            class,
                            multi_az: db.multi_az().unwrap_or(false),
                            storage_type: db.storage_type().unwrap_or("gp2").to_string(),
                            allocated_gb: f64::from(db.allocated_storage().unwrap_or(20)),
                            iops: db.iops().map(f64::from),
                        },
                    ),
                    wants: vec![Want {
                        namespace: "AWS/RDS",
                        name: "DatabaseConnections",
                        dimension: ("DBInstanceIdentifier", id.to_string()),
                        stat: "Maximum",
                    }],
                    days: WINDOW_DAYS,
                    judge: |m| idle::db_instance(&m[0]),
                    described_idle: None,
                });
            }
        }
        Err(e) => report.errors.push(format!("RDS instances: {e}")),
    }

    // Every metric of every candidate, at most 500 queries a call.
    let mut queries = Vec::new();
    let mut ids: Vec<Vec<String>> = Vec::with_capacity(candidates.len());
    for (ci, c) in candidates.iter().enumerate() {
        if c.described_idle.is_some() {
            ids.push(Vec::new());
            continue;
        }
        let mine: Vec<String> = (0..c.wants.len()).map(|wi| format!("q{ci}_{wi}")).collect();
        for (id, want) in mine.iter().zip(&c.wants) {
            queries.push((c.days, query(id.clone(), want)));
        }
        ids.push(mine);
    }
    let mut series = HashMap::new();
    for days in [INSTANCE_DAYS, WINDOW_DAYS] {
        let batch: Vec<MetricDataQuery> = queries
            .iter()
            .filter(|(d, _)| *d == days)
            .map(|(_, q)| q.clone())
            .collect();
        if batch.is_empty() {
            continue;
        }
        ctx.info(format!(
            "CloudWatch: {} metric queries over {days} days",
            batch.len()
        ));
        match metric_data(
            &p.cloudwatch,
            &p.sites.cloudwatch,
            batch,
            today - days as i64,
            today,
        )
        .await
        {
            Ok((found, calls)) => {
                report.metric_calls += calls;
                series.extend(found);
            }
            Err(e) => report
                .errors
                .push(format!("CloudWatch metrics ({days} days): {e}")),
        }
    }
    for (c, ids) in candidates.into_iter().zip(ids) {
        let mut finding = c.finding;
        if let Some(why) = c.described_idle {
            finding.reason = why;
            report.findings.push(finding);
            continue;
        }
        let start = today - c.days as i64;
        let daily: Vec<Vec<Option<f64>>> = ids
            .iter()
            .map(|id| {
                let mut days = vec![None; c.days];
                for (t, v) in series.get(id).map(Vec::as_slice).unwrap_or_default() {
                    let index = t.div_euclid(86_400) - start;
                    if (0..c.days as i64).contains(&index) {
                        days[index as usize] = Some(*v);
                    }
                }
                days
            })
            .collect();
        match (c.judge)(&daily) {
            Signal::Idle(why) => {
                finding.reason = why;
                report.findings.push(finding);
            }
            Signal::Busy => {}
            Signal::Unknown(why) => report.unknown.push((finding.id, why)),
        }
    }
    ctx.info(format!(
        "{} idle, {} unknown; {} GetMetricData call(s)",
        report.findings.len(),
        report.unknown.len(),
        report.metric_calls
    ));
    Ok(report)
}

async fn instances(p: &CostProvider) -> ProviderResult<Vec<aws_sdk_ec2::types::Instance>> {
    use aws_sdk_ec2::types::Filter;
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = p
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeInstances", e))?;
        out.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances().iter().cloned()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

async fn volumes(p: &CostProvider) -> ProviderResult<Vec<aws_sdk_ec2::types::Volume>> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = p
            .ec2
            .describe_volumes()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeVolumes", e))?;
        out.extend(page.volumes().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

async fn nat_gateways(p: &CostProvider) -> ProviderResult<Vec<aws_sdk_ec2::types::NatGateway>> {
    let mut out = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let page = p
            .ec2
            .describe_nat_gateways()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeNatGateways", e))?;
        out.extend(page.nat_gateways().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Load balancers, each with whether any of its targets is healthy.
async fn load_balancers(
    p: &CostProvider,
) -> ProviderResult<Vec<(aws_sdk_elasticloadbalancingv2::types::LoadBalancer, bool)>> {
    let mut lbs = Vec::new();
    let mut marker = None;
    for _ in 0..MAX_PAGES {
        let page = p
            .elb
            .describe_load_balancers()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| p.sites.elb.fail("DescribeLoadBalancers", e))?;
        lbs.extend(page.load_balancers().iter().cloned());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut out = Vec::with_capacity(lbs.len());
    for lb in lbs {
        let Some(arn) = lb.load_balancer_arn() else {
            continue;
        };
        let groups = match p
            .elb
            .describe_target_groups()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(g) => g.target_groups().to_vec(),
            Err(e) => {
                let e = p.sites.elb.fail("DescribeTargetGroups", e);
                // No target group at all: nothing can be healthy.
                if e.code.as_deref() == Some("TargetGroupNotFound") {
                    Vec::new()
                } else {
                    return Err(e);
                }
            }
        };
        let mut healthy = false;
        for g in groups {
            let Some(tg) = g.target_group_arn() else {
                continue;
            };
            let health = p
                .elb
                .describe_target_health()
                .target_group_arn(tg)
                .send()
                .await
                .map_err(|e| p.sites.elb.fail("DescribeTargetHealth", e))?;
            healthy |= health.target_health_descriptions().iter().any(|d| {
                d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str())
                    == Some("healthy")
            });
        }
        out.push((lb, healthy));
    }
    Ok(out)
}

async fn db_instances(p: &CostProvider) -> ProviderResult<Vec<aws_sdk_rds::types::DbInstance>> {
    let mut out = Vec::new();
    let mut marker = None;
    for _ in 0..MAX_PAGES {
        let page = p
            .rds
            .describe_db_instances()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| p.sites.rds.fail("DescribeDBInstances", e))?;
        out.extend(page.db_instances().iter().cloned());
        marker = page.marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}
