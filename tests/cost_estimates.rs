//! Every pricer against a fixture template (`tests/fixtures/cost/`), with the expected figures
//! written out as the arithmetic the AWS price pages give (us-east-1 unless said otherwise;
//! 730 hours a month).

use opsdeck::cost::{Catalogue, Pricing, SourceEstimate, Usage, estimate_template};
use std::collections::BTreeMap;
use std::path::Path;

const HOURS: f64 = 730.0;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cost")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn usage() -> Usage {
    Usage::parse(&fixture("usage.yml"), "usage.yml").expect("the fixture usage file parses")
}

fn estimate_in(name: &str, region: &str, usage: &Usage) -> SourceEstimate {
    let catalogue = Catalogue::bundled();
    let pricing = Pricing {
        catalogue: &catalogue,
        usage,
        region,
    };
    estimate_template(pricing, &fixture(name), name, &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn estimate(name: &str) -> SourceEstimate {
    estimate_in(name, "us-east-1", &usage())
}

#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}

#[track_caller]
fn monthly(e: &SourceEstimate, id: &str, expected: f64) {
    let r = e
        .resource(id)
        .unwrap_or_else(|| panic!("{id} is in the estimate of {}", e.source));
    close(r.monthly, expected);
}

#[test]
fn ec2_instance_with_gp3_and_io1_volumes() {
    let e = estimate("ec2-instance.yaml");
    let expected = 0.096 * HOURS // m5.large
        + 100.0 * 0.08 // gp3 storage
        + (4000.0 - 3000.0) * 0.005 // gp3 IOPS above 3,000
        + (250.0 - 125.0) * 0.04 // gp3 throughput above 125 MiB/s
        + 50.0 * 0.125 // io1 storage
        + 1000.0 * 0.065; // io1 IOPS
    monthly(&e, "Web", expected);
    close(e.total_monthly, expected);
    let web = e.resource("Web").expect("priced");
    assert!(web.priced && !web.estimate && !web.usage_based);
    assert_eq!(web.components.len(), 6);
}

#[test]
fn ec2_instance_in_another_region_and_in_one_without_prices() {
    let e = estimate_in("ec2-instance.yaml", "eu-west-1", &Usage::none());
    let expected = 0.107 * HOURS
        + 100.0 * 0.088
        + 1000.0 * 0.0055
        + 125.0 * 0.044
        + 50.0 * 0.138
        + 1000.0 * 0.072;
    monthly(&e, "Web", expected);
    assert!(!e.resource("Web").expect("priced").estimate);
    // No regional prices at all: the us-east-1 figure, marked as an estimate.
    let e = estimate_in("ec2-instance.yaml", "sa-east-1", &Usage::none());
    let web = e.resource("Web").expect("priced");
    close(
        web.monthly,
        0.096 * HOURS
            + 100.0 * 0.08
            + 1000.0 * 0.005
            + 125.0 * 0.04
            + 50.0 * 0.125
            + 1000.0 * 0.065,
    );
    assert!(web.estimate);
    assert!(
        web.note
            .as_deref()
            .unwrap_or_default()
            .contains("sa-east-1"),
        "{:?}",
        web.note
    );
    assert_eq!(e.estimated(), 1);
}

#[test]
fn ebs_volumes_by_type_size_iops_and_throughput() {
    let e = estimate("ec2-volume.yaml");
    monthly(
        &e,
        "Data",
        500.0 * 0.08 + (6000.0 - 3000.0) * 0.005 + (300.0 - 125.0) * 0.04,
    );
    monthly(&e, "Legacy", 10.0 * 0.1); // gp2 by default
    monthly(&e, "Restored", 80.0 * 0.045); // st1, size from the usage file
    let without = estimate_in("ec2-volume.yaml", "us-east-1", &Usage::none());
    let restored = without.resource("Restored").expect("listed");
    assert!(restored.usage_pending());
    close(restored.monthly, 0.0);
}

#[test]
fn autoscaling_group_is_desired_times_its_launch_template() {
    let e = estimate("autoscaling.yaml");
    monthly(&e, "Group", 3.0 * (0.0416 * HOURS + 30.0 * 0.08));
    monthly(&e, "Template", 0.0);
    assert!(e.resource("Template").expect("listed").free());
}

#[test]
fn rds_by_engine_class_deployment_storage_and_iops() {
    let e = estimate("rds.yaml");
    monthly(
        &e,
        "Postgres",
        0.032 * HOURS // db.t4g.micro Multi-AZ
            + 50.0 * 0.23 // gp3 Multi-AZ storage
            + (5000.0 - 3000.0) * 0.04 // IOPS above the 3,000 baseline
            + (200.0 - 125.0) * 0.16, // throughput above 125 MiB/s
    );
    monthly(
        &e,
        "Mysql",
        0.171 * HOURS + 100.0 * 0.125 + 2000.0 * 0.1, // io1 storage and IOPS, Single-AZ
    );
    let aurora = e.resource("Aurora").expect("listed");
    assert!(!aurora.priced, "Aurora is listed as not priced");
    assert!(
        aurora
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("Aurora")
    );
    assert_eq!(e.not_priced(), 1);
}

#[test]
fn elasticache_clusters_and_replication_groups() {
    let e = estimate("elasticache.yaml");
    monthly(&e, "Sessions", 2.0 * 0.017 * HOURS);
    monthly(&e, "Cache", 2.0 * (1.0 + 1.0) * 0.206 * HOURS);
}

#[test]
fn nat_eip_and_vpc_endpoints() {
    let e = estimate("network.yaml");
    monthly(&e, "NatIp", 0.005 * HOURS);
    monthly(&e, "Nat", 0.045 * HOURS + 1000.0 * 0.045);
    monthly(&e, "SsmEndpoint", 2.0 * 0.01 * HOURS);
    monthly(&e, "S3Endpoint", 0.0);
    monthly(&e, "Vpc", 0.0);
    assert!(e.resource("Vpc").expect("listed").free());
    // The interface endpoint's data processed has no usage: pending, adds 0.
    assert!(e.resource("SsmEndpoint").expect("listed").usage_pending());
    let nat = e.resource("Nat").expect("listed");
    assert!(nat.usage_based && !nat.usage_pending());
    close(
        e.total_monthly,
        0.005 * HOURS + 0.045 * HOURS + 1000.0 * 0.045 + 2.0 * 0.01 * HOURS,
    );
}

#[test]
fn application_and_network_load_balancers() {
    let e = estimate("load-balancers.yaml");
    monthly(&e, "Alb", 0.0225 * HOURS + 2.0 * HOURS * 0.008);
    monthly(&e, "Nlb", 0.0225 * HOURS);
    assert!(e.resource("Nlb").expect("listed").usage_pending());
}

#[test]
fn eks_cluster_and_node_group() {
    let e = estimate("eks.yaml");
    monthly(&e, "Cluster", 0.10 * HOURS);
    // The first of the CommaDelimitedList's types; 50 GB gp2 per node.
    monthly(&e, "Nodes", 3.0 * (0.096 * HOURS + 50.0 * 0.1));
}

#[test]
fn kms_secrets_route53_alarms_and_dashboards() {
    let e = estimate("small-services.yaml");
    monthly(&e, "Key", 1.0);
    monthly(&e, "KeyAlias", 0.0);
    monthly(&e, "Secret", 0.40);
    monthly(&e, "Zone", 0.50);
    monthly(&e, "CpuAlarm", 0.10);
    monthly(&e, "FastAlarm", 2.0 * 0.30); // two metrics at a 10 s period: high resolution
    monthly(&e, "Board", 3.0);
    close(e.total_monthly, 1.0 + 0.4 + 0.5 + 0.1 + 0.6 + 3.0);
}

#[test]
fn dynamodb_provisioned_and_on_demand() {
    let e = estimate("dynamodb.yaml");
    monthly(
        &e,
        "Orders",
        (5.0 + 5.0) * HOURS * 0.00065 + (10.0 + 5.0) * HOURS * 0.00013,
    );
    monthly(&e, "Events", 2.0 * 0.625 + 8.0 * 0.125 + 10.0 * 0.25);
}

#[test]
fn usage_priced_resources_with_and_without_usage() {
    let e = estimate("usage-priced.yaml");
    monthly(&e, "Assets", 500.0 * 0.023 + 20.0 * 0.005 + 1000.0 * 0.0004);
    monthly(
        &e,
        "Worker",
        3.0 * 0.2 + (3_000_000.0 * 0.2 * 512.0 / 1024.0) * 1.33334e-05, // arm64 GB-seconds
    );
    monthly(&e, "AppLogs", 20.0 * 0.5 + 100.0 * 0.03);
    monthly(&e, "Alerts", 0.0);
    assert!(e.resource("Alerts").expect("listed").usage_pending());
    let without = estimate_in("usage-priced.yaml", "us-east-1", &Usage::none());
    close(without.total_monthly, 0.0);
    assert_eq!(without.usage_pending(), 4, "the report says how many");
    for r in &without.resources {
        assert!(r.usage_based && r.priced, "{}", r.logical_id);
        assert!(r.components.iter().all(|c| c.monthly.is_none()));
    }
}

#[test]
fn conditions_unknown_values_and_types_without_a_pricer() {
    let e = estimate("conditions-and-unknowns.yaml");
    assert_eq!(e.not_created, vec!["PrdOnlyNat".to_string()]);
    assert!(e.resource("PrdOnlyNat").is_none());
    let ip = e.resource("MaybeIp").expect("counted");
    close(ip.monthly, 0.005 * HOURS);
    assert!(
        ip.note
            .as_deref()
            .unwrap_or_default()
            .contains("Unknowable")
    );
    let queue = e.resource("Queue").expect("listed");
    assert!(!queue.priced && queue.components.is_empty());
    let sized = e.resource("Sized").expect("listed");
    assert!(!sized.priced);
    assert!(
        sized
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("parameter Size has no value"),
        "{:?}",
        sized.note
    );
    assert_eq!(e.not_priced(), 2);
    // Given the parameters, the same code that compliance uses decides them.
    let catalogue = Catalogue::bundled();
    let none = Usage::none();
    let pricing = Pricing {
        catalogue: &catalogue,
        usage: &none,
        region: "us-east-1",
    };
    let params = BTreeMap::from([
        ("Env".to_string(), "PRD".to_string()),
        ("Size".to_string(), "t3.small".to_string()),
    ]);
    let e = estimate_template(
        pricing,
        &fixture("conditions-and-unknowns.yaml"),
        "c",
        &params,
    )
    .expect("parses");
    monthly(&e, "PrdOnlyNat", 0.045 * HOURS);
    monthly(&e, "Sized", 0.0208 * HOURS + 8.0 * 0.1); // the AMI's root volume: 8 GB gp2
}

#[test]
fn every_library_template_is_fully_priced_or_free_at_its_defaults() {
    let catalogue = Catalogue::bundled();
    let none = Usage::none();
    let pricing = Pricing {
        catalogue: &catalogue,
        usage: &none,
        region: "us-east-1",
    };
    for entry in opsdeck::cfn::library::LIBRARY {
        let e = estimate_template(pricing, entry.body, entry.name, &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let unpriced: Vec<_> = e
            .resources
            .iter()
            .filter(|r| !r.priced)
            .map(|r| format!("{} ({}): {:?}", r.logical_id, r.resource_type, r.note))
            .collect();
        assert!(unpriced.is_empty(), "{}: {unpriced:?}", entry.name);
    }
}

#[test]
fn the_json_report_has_the_documented_fields() {
    let catalogue = Catalogue::bundled();
    let e = estimate("network.yaml");
    let report = opsdeck::cost::CostReport::new(&catalogue, "us-east-1", vec![e]);
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["currency"], "USD");
    assert_eq!(json["region"], "us-east-1");
    assert_eq!(json["hours_per_month"], 730.0);
    assert_eq!(json["prices_as_of"]["services"], "2026-05");
    let nat = &json["sources"][0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["logical_id"] == "Nat")
        .expect("Nat")
        .clone();
    for field in [
        "logical_id",
        "type",
        "monthly",
        "usage_based",
        "priced",
        "estimate",
        "components",
    ] {
        assert!(nat.get(field).is_some(), "{field} in {nat}");
    }
    assert_eq!(nat["monthly"], 0.045 * HOURS + 1000.0 * 0.045);
    let component = &nat["components"][0];
    for field in ["name", "quantity", "unit", "unit_price", "monthly"] {
        assert!(component.get(field).is_some(), "{field} in {component}");
    }
    assert_eq!(json["total_monthly"], json["sources"][0]["total_monthly"]);
}
