//! The cost provider against real peers: moto for EC2, RDS, ELB and Cost Explorer (seeded
//! through its admin API), and the loopback RPC v2 CBOR stub for CloudWatch. Idle findings
//! with their monthly cost, GetMetricData batching, DEV-only reaping through the gate, spend
//! with a forecast that fails (moto answers 500), the call budget, and the billing-metric
//! fallback.

mod support;

use opsdeck::cost::model::{IdleKind, IdleReport, Part, SpendReport, SpendSource};
use opsdeck::cost::ops::{CostRead, SpendQuery};
use opsdeck::cost::port::CostOutput;
use opsdeck::engine::EngineConfig;
use opsdeck::engine::{MutationOutput, ReadOutput};
use opsdeck::model::Environment;
use opsdeck::ops::{MutatingOp, ReadOp};
use std::sync::Arc;
use support::cbor_stub::{CborStub, StubMetric};
use support::rig::{Rig, settings};
use support::{MotoServer, REGION, TestDirs};

const ACCOUNT: &str = "123456789012";

/// The engine over moto, with CloudWatch on the stub.
fn rig(moto: &MotoServer, stub: &CborStub, dirs: &TestDirs) -> Rig {
    let moto = settings(&moto.endpoint());
    let cw = settings(stub.endpoint());
    Rig::start_providers(dirs, EngineConfig::default(), move |binding| {
        Box::pin(async move {
            let config = opsdeck::aws::sdk_config(&moto).await;
            let cw_config = opsdeck::aws::sdk_config(&cw).await;
            let mut providers = opsdeck::aws::providers(&moto, binding.clone()).await;
            providers.cost = Arc::new(opsdeck::cost::aws::CostProvider::with_cloudwatch(
                &config, &cw_config, &moto, binding,
            ));
            Arc::new(providers)
        })
    })
}

async fn sdk(moto: &MotoServer) -> aws_config::SdkConfig {
    support::hermetic_aws_env();
    opsdeck::aws::sdk_config(&settings(&moto.endpoint())).await
}

async fn idle_scan(rig: &mut Rig) -> IdleReport {
    let (_, result) = rig
        .read(ReadOp::Cost(CostRead::Idle {
            scope: support::rig::scope(),
            prices: None,
        }))
        .await;
    match result {
        Ok(ReadOutput::Cost(CostOutput::Idle(mut report))) => {
            opsdeck::cost::idle::price(&mut report, &opsdeck::cost::Catalogue::bundled());
            *report
        }
        other => panic!("expected an idle report, got {other:?}"),
    }
}

async fn run_instances(ec2: &aws_sdk_ec2::Client, count: i32) -> Vec<String> {
    let out = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
        .min_count(count)
        .max_count(count)
        .send()
        .await
        .expect("RunInstances");
    out.instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

#[track_caller]
fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("priced");
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_resources_by_trusted_advisor_thresholds_with_their_monthly_cost() {
    let moto = MotoServer::start();
    let stub = CborStub::start().await;
    let dirs = TestDirs::new();
    let config = sdk(&moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let instance = run_instances(&ec2, 1).await.remove(0);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(100)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
        .send()
        .await
        .expect("CreateVolume")
        .volume_id()
        .expect("volume id")
        .to_string();
    let loose_ip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("AllocateAddress")
        .allocation_id()
        .expect("allocation id")
        .to_string();
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .expect("CreateSubnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet")
                .to_string(),
        );
    }
    let nat_ip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("AllocateAddress")
        .allocation_id()
        .expect("allocation id")
        .to_string();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&subnets[0])
        .allocation_id(&nat_ip)
        .send()
        .await
        .expect("CreateNatGateway");
    let nat = nat
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .expect("nat")
        .to_string();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    elb.create_load_balancer()
        .name("idle-alb")
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("CreateLoadBalancer");
    let rds = aws_sdk_rds::Client::new(&config);
    rds.create_db_instance()
        .db_instance_identifier("idle-db")
        .engine("postgres")
        .db_instance_class("db.t4g.micro")
        .allocated_storage(20)
        .master_username("admin_user")
        .master_user_password("password-123")
        .send()
        .await
        .expect("CreateDBInstance");
    // Metrics: a quiet instance (4+ of 14 days), a NAT with no traffic, a DB nobody uses.
    stub.add(
        StubMetric::new("AWS/EC2", "CPUUtilization", &[("InstanceId", &instance)]).daily(14, 2.0),
    );
    stub.add(
        StubMetric::new("AWS/EC2", "NetworkIn", &[("InstanceId", &instance)]).daily(14, 1000.0),
    );
    stub.add(
        StubMetric::new("AWS/EC2", "NetworkOut", &[("InstanceId", &instance)]).daily(14, 1000.0),
    );
    stub.add(
        StubMetric::new(
            "AWS/NATGateway",
            "BytesOutToDestination",
            &[("NatGatewayId", &nat)],
        )
        .daily(7, 0.0),
    );
    stub.add(
        StubMetric::new(
            "AWS/RDS",
            "DatabaseConnections",
            &[("DBInstanceIdentifier", "idle-db")],
        )
        .daily(7, 0.0),
    );

    let mut rig = rig(&moto, &stub, &dirs);
    let report = idle_scan(&mut rig).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let find = |kind: IdleKind, id: &str| {
        report
            .findings
            .iter()
            .find(|f| f.kind == kind && f.id.contains(id))
            .unwrap_or_else(|| panic!("{kind:?} {id} idle in {:#?}", report.findings))
    };
    let hours = 730.0;
    let i = find(IdleKind::Instance, &instance);
    close(i.monthly, 0.0208 * hours); // t3.small, compute only
    assert!(i.reason.contains("of the last 14 days"), "{}", i.reason);
    let v = find(IdleKind::Volume, &volume);
    close(v.monthly, 100.0 * 0.08);
    assert!(v.reason.starts_with("unattached"), "{}", v.reason);
    close(find(IdleKind::Address, &loose_ip).monthly, 0.005 * hours);
    close(find(IdleKind::NatGateway, &nat).monthly, 0.045 * hours);
    let lb = find(IdleKind::LoadBalancer, "idle-alb");
    close(lb.monthly, 0.0225 * hours);
    assert_eq!(lb.reason, "no healthy target");
    close(
        find(IdleKind::DbInstance, "idle-db").monthly,
        0.016 * hours + 20.0 * 0.115,
    );
    // The NAT's own address is associated: not idle.
    assert!(!report.findings.iter().any(|f| f.id == nat_ip));
    // The instance's root volume is attached and has no metrics: unknown, never idle.
    assert!(!report.unknown.is_empty(), "{report:?}");
    // Every GetMetricData call spoke RPC v2 CBOR, daily, with at most 500 queries.
    let calls: Vec<_> = stub
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetMetricData")
        .collect();
    assert!(!calls.is_empty());
    for c in &calls {
        assert_eq!(c.smithy_protocol.as_deref(), Some("rpc-v2-cbor"));
        assert!(c.queries.len() <= 500);
        assert!(c.queries.iter().all(|q| q.5 == 86_400), "{:?}", c.queries);
    }
    assert!(
        calls
            .iter()
            .flat_map(|c| &c.queries)
            .any(|q| q.2 == "CPUUtilization"
                && q.3 == vec![("InstanceId".to_string(), instance.clone())]
                && q.4 == "Average")
    );
    assert_eq!(report.metric_calls as usize, calls.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_500_metric_queries_are_sent_in_batches() {
    let moto = MotoServer::start();
    let stub = CborStub::start().await;
    let dirs = TestDirs::new();
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    // 170 instances × 3 metrics = 510 queries over 14 days.
    let ids = run_instances(&ec2, 170).await;
    assert_eq!(ids.len(), 170);
    let mut rig = rig(&moto, &stub, &dirs);
    let report = idle_scan(&mut rig).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let instance_calls: Vec<usize> = stub
        .calls()
        .iter()
        .filter(|c| c.queries.iter().any(|q| q.2 == "CPUUtilization"))
        .map(|c| c.queries.len())
        .collect();
    assert_eq!(instance_calls, vec![500, 10], "510 queries: two calls");
    // No datapoints: all unknown, none idle.
    assert!(report.findings.iter().all(|f| f.kind != IdleKind::Instance));
}

fn reapable(report: &IdleReport, kind: IdleKind) -> Vec<opsdeck::cost::model::IdleFinding> {
    report
        .findings
        .iter()
        .filter(|f| f.kind == kind)
        .cloned()
        .collect()
}

struct Facts(Environment);

impl opsdeck::ops::SessionFacts for Facts {
    fn region(&self) -> Option<String> {
        Some(REGION.into())
    }
    fn environment_of(&self, _account: &str) -> Environment {
        self.0
    }
    fn kube_environment(&self, _context: &str, _cluster: &str) -> Environment {
        self.0
    }
    fn kube_context(&self) -> Option<opsdeck::kube::model::ContextRef> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaping_stops_snapshots_deletes_and_releases_in_dev_only() {
    let moto = MotoServer::start();
    let stub = CborStub::start().await;
    let dirs = TestDirs::new();
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    let instance = run_instances(&ec2, 1).await.remove(0);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(50)
        .send()
        .await
        .expect("CreateVolume")
        .volume_id()
        .expect("id")
        .to_string();
    let address = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .expect("AllocateAddress")
        .allocation_id()
        .expect("id")
        .to_string();
    stub.add(
        StubMetric::new("AWS/EC2", "CPUUtilization", &[("InstanceId", &instance)]).daily(14, 1.0),
    );
    stub.add(StubMetric::new("AWS/EC2", "NetworkIn", &[("InstanceId", &instance)]).daily(14, 10.0));
    stub.add(
        StubMetric::new("AWS/EC2", "NetworkOut", &[("InstanceId", &instance)]).daily(14, 10.0),
    );
    let mut rig = rig(&moto, &stub, &dirs);
    let report = idle_scan(&mut rig).await;

    // PRD: refused at the gate (audited); nothing changes.
    let instances = reapable(&report, IdleKind::Instance);
    let op =
        opsdeck::cost::plan::reap(&Facts(Environment::Prd), ACCOUNT, &instances).expect("planned");
    let refusal = rig.gate.request(MutatingOp::Cost(op)).unwrap_err();
    assert!(refusal.to_string().contains("DEV only"), "{refusal}");
    let audit = support::read_audit(&dirs.audit_log());
    let last = audit.last().expect("audited");
    assert_eq!(last["operation"], "stop-instances");
    assert_eq!(last["decision"], "refused");
    assert_eq!(last["environment"], "PRD");

    // DEV: the typed id, then StopInstances; moto shows it stopped.
    let op =
        opsdeck::cost::plan::reap(&Facts(Environment::Dev), ACCOUNT, &instances).expect("planned");
    assert_eq!(op.items()[0].id, instance);
    let (_, result) = rig.run(MutatingOp::Cost(op)).await;
    assert!(matches!(result, Ok(MutationOutput::Cost(_))), "{result:?}");
    let state = ec2
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .expect("DescribeInstances");
    let state = state.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string());
    assert_eq!(state.as_deref(), Some("stopped"));

    // The unattached volume: snapshot (tagged), then deleted.
    let op = opsdeck::cost::plan::reap(
        &Facts(Environment::Dev),
        ACCOUNT,
        &reapable(&report, IdleKind::Volume),
    )
    .expect("planned");
    assert!(op.items().iter().any(|i| i.id == volume));
    let (_, result) = rig.run(MutatingOp::Cost(op)).await;
    assert!(result.is_ok(), "{result:?}");
    let volumes = ec2
        .describe_volumes()
        .send()
        .await
        .expect("DescribeVolumes");
    assert!(
        !volumes
            .volumes()
            .iter()
            .any(|v| v.volume_id() == Some(volume.as_str()))
    );
    let snapshots = ec2
        .describe_snapshots()
        .owner_ids("self")
        .send()
        .await
        .expect("DescribeSnapshots");
    assert!(
        snapshots
            .snapshots()
            .iter()
            .any(|s| s.volume_id() == Some(volume.as_str())
                && s.tags()
                    .iter()
                    .any(|t| t.key() == Some("opsdeck:reaped-from")
                        && t.value() == Some(volume.as_str()))),
        "{snapshots:?}"
    );

    // The loose Elastic IP: released.
    let op = opsdeck::cost::plan::reap(
        &Facts(Environment::Dev),
        ACCOUNT,
        &reapable(&report, IdleKind::Address),
    )
    .expect("planned");
    let (_, result) = rig.run(MutatingOp::Cost(op)).await;
    assert!(result.is_ok(), "{result:?}");
    let addresses = ec2
        .describe_addresses()
        .send()
        .await
        .expect("DescribeAddresses");
    assert!(
        !addresses
            .addresses()
            .iter()
            .any(|a| a.allocation_id() == Some(address.as_str()))
    );

    // Read-only: refused at the gate whatever the environment.
    rig.gate.latch().engage("test viewer");
    let op =
        opsdeck::cost::plan::reap(&Facts(Environment::Dev), ACCOUNT, &instances).expect("planned");
    assert!(
        rig.gate
            .request(MutatingOp::Cost(op))
            .unwrap_err()
            .to_string()
            .contains("read-only")
    );
    let audit = support::read_audit(&dirs.audit_log());
    let decisions: Vec<String> = audit
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["operation"].as_str().unwrap_or(""),
                e["decision"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in [
        "stop-instances succeeded",
        "snapshot-delete-volumes succeeded",
        "release-addresses succeeded",
        "stop-instances refused-read-only",
    ] {
        assert!(
            decisions.iter().any(|d| d == expected),
            "{expected}: {decisions:?}"
        );
    }
}

/// Queue Cost Explorer answers in moto, in the order opsdeck asks.
async fn seed_cost_explorer(moto: &MotoServer, results: Vec<serde_json::Value>) {
    let body = serde_json::json!({ "account_id": ACCOUNT, "results": results }).to_string();
    let status = tokio::task::spawn_blocking({
        let port = moto.port();
        move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect moto");
            write!(
                s,
                "POST /moto-api/static/ce/cost-and-usage-results HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .expect("send");
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            answer.lines().next().unwrap_or_default().to_string()
        }
    })
    .await
    .expect("seeded");
    assert!(status.contains("201"), "moto answered {status}");
}

fn ce_result(
    start: &str,
    end: &str,
    groups: &[(&str, &str)],
    token: Option<&str>,
) -> serde_json::Value {
    let mut r = serde_json::json!({
        "ResultsByTime": [{
            "TimePeriod": {"Start": start, "End": end},
            "Total": {},
            "Groups": groups.iter().map(|(k, v)| serde_json::json!({
                "Keys": [k], "Metrics": {"UnblendedCost": {"Amount": v, "Unit": "USD"}}
            })).collect::<Vec<_>>(),
            "Estimated": true
        }],
        "DimensionValueAttributes": []
    });
    if let Some(t) = token {
        r["NextPageToken"] = t.into();
    }
    r
}

fn day(offset: i64) -> String {
    let now = opsdeck::model::now_ms();
    opsdeck::cost::dates::format_day(opsdeck::cost::dates::today(now) + offset)
}

fn query(dirs: &TestDirs, limit: u32) -> SpendQuery {
    let settings = opsdeck::config::Config::defaults().expect("defaults").cost;
    let mut q = opsdeck::cost::plan::spend_query(
        &settings,
        &dirs.data_dir(),
        opsdeck::model::now_ms(),
        0,
        false,
    );
    q.budget.daily_limit = limit;
    q
}

async fn spend(rig: &mut Rig, q: SpendQuery) -> SpendReport {
    match rig.read(ReadOp::Cost(CostRead::Spend(q))).await.1 {
        Ok(ReadOutput::Cost(CostOutput::Spend(r))) => *r,
        other => panic!("expected spend, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_from_cost_explorer_with_pages_a_failed_forecast_and_the_call_budget() {
    let moto = MotoServer::start();
    let stub = CborStub::start().await;
    let dirs = TestDirs::new();
    let now = opsdeck::model::now_ms();
    let today = opsdeck::cost::dates::today(now);
    let month = opsdeck::cost::dates::format_day(opsdeck::cost::dates::month_start(today, 0));
    let next = opsdeck::cost::dates::format_day(opsdeck::cost::dates::month_start(today, 1));
    seed_cost_explorer(
        &moto,
        vec![
            // MONTHLY by service: two pages
            ce_result(
                &month,
                &next,
                &[("Amazon Elastic Compute Cloud - Compute", "123.45")],
                Some("page2"),
            ),
            ce_result(
                &month,
                &next,
                &[("Amazon Relational Database Service", "40.00")],
                None,
            ),
            // DAILY
            ce_result(&day(-1), &day(0), &[], None),
            // by stack tag
            ce_result(
                &month,
                &next,
                &[
                    ("aws:cloudformation:stack-name$web", "99.50"),
                    ("aws:cloudformation:stack-name$", "1.00"),
                ],
                None,
            ),
        ],
    )
    .await;
    let mut rig = rig(&moto, &stub, &dirs);
    let report = spend(&mut rig, query(&dirs, 20)).await;
    assert_eq!(report.source, SpendSource::CostExplorer);
    assert_eq!(report.month_to_date, Part::Ok(163.45));
    let services: Vec<(&str, f64)> = report
        .top_services()
        .iter()
        .map(|a| (a.name.as_str(), a.amount))
        .collect();
    assert_eq!(
        services,
        vec![
            ("Amazon Elastic Compute Cloud - Compute", 123.45),
            ("Amazon Relational Database Service", 40.0)
        ]
    );
    // moto has no GetCostForecast (HTTP 500): that part only is unavailable, with the reason.
    let why = report.forecast.reason().expect("forecast unavailable");
    assert!(why.contains("500"), "{why}");
    assert_eq!(report.stack("web"), Some(99.5));
    assert!(report.daily.ok().is_some());
    // monthly ×2 pages, daily, forecast, by stack: five paid requests, counted.
    assert_eq!(report.calls, 5);
    let budget = opsdeck::cost::spend::call_budget(&dirs.data_dir(), 20);
    assert_eq!(budget.used(&day(0)), 5);

    // A budget of one request: the second page is refused, Cost Explorer gives up, and the
    // free billing metric answers instead.
    let dirs2 = TestDirs::new();
    stub.add(
        StubMetric::new("AWS/Billing", "EstimatedCharges", &[("Currency", "USD")]).today(42.0),
    );
    stub.add(
        StubMetric::new(
            "AWS/Billing",
            "EstimatedCharges",
            &[("ServiceName", "AmazonEC2"), ("Currency", "USD")],
        )
        .today(30.0),
    );
    let report = spend(&mut rig, query(&dirs2, 1)).await;
    assert_eq!(report.source, SpendSource::Cloudwatch);
    assert!(
        report
            .fallback_reason
            .as_deref()
            .is_some_and(|w| w.contains("call budget")),
        "{:?}",
        report.fallback_reason
    );
    assert_eq!(report.month_to_date, Part::Ok(42.0));
    assert_eq!(report.top_services()[0].name, "AmazonEC2");
    assert!(report.forecast.reason().is_some());
    assert_eq!(
        opsdeck::cost::spend::call_budget(&dirs2.data_dir(), 1).used(&day(0)),
        1
    );
    let billing_calls = stub.calls();
    assert!(billing_calls.iter().any(|c| c.operation == "ListMetrics"));
}
