//! One pricer per resource type: which properties decide the price, which catalogue rows price
//! them, and which usage keys price the rest. Rules follow the AWS price pages and Infracost's
//! resource files: 730 hours a month; gp3 volumes pay for IOPS above 3,000 and throughput
//! above 125 MiB/s; io1/io2 pay for every provisioned IOPS; an EBS volume without a size is
//! 8 GB; RDS storage defaults to 20 GB, gp3 RDS storage includes 3,000 IOPS / 125 MiB/s below
//! 400 GB and 12,000 / 500 from 400 GB. Defaults that stand in for a property the template
//! leaves out are named in the resource's note.
//!
//! Long because it is a table: one small pricer per resource type, side by side so that their
//! rules can be compared.

use crate::compliance::input::InputResource;
use crate::cost::catalogue::{HOURS_PER_MONTH, Kind};
use crate::cost::estimate::{Component, Pricing, ResourceCost};
use crate::cost::usage::UsageValues;
use serde_json::Value as Json;
use std::collections::HashMap;

/// Types that cost nothing by themselves.
const FREE: &[&str] = &[
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::EgressOnlyInternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::NetworkAclEntry",
    "AWS::EC2::SubnetNetworkAclAssociation",
    "AWS::EC2::EIPAssociation",
    "AWS::EC2::VolumeAttachment",
    "AWS::EC2::KeyPair",
    "AWS::EC2::DHCPOptions",
    "AWS::EC2::VPCDHCPOptionsAssociation",
    "AWS::EC2::PrefixList",
    "AWS::EC2::PlacementGroup",
    "AWS::EC2::FlowLog",
    "AWS::EC2::LaunchTemplate",
    "AWS::KMS::Alias",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBClusterParameterGroup",
    "AWS::RDS::OptionGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::ElastiCache::ParameterGroup",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::ListenerCertificate",
    "AWS::AutoScaling::LaunchConfiguration",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::AutoScaling::ScheduledAction",
    "AWS::AutoScaling::LifecycleHook",
    "AWS::EKS::AccessEntry",
    "AWS::EKS::PodIdentityAssociation",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Logs::MetricFilter",
    "AWS::SSM::Parameter",
    "AWS::CloudFormation::WaitCondition",
    "AWS::CloudFormation::WaitConditionHandle",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::Events::Rule",
    "AWS::CertificateManager::Certificate",
    "AWS::Route53::RecordSet",
    "AWS::Route53::RecordSetGroup",
];

/// Free type prefixes (IAM is free as a whole).
const FREE_PREFIXES: &[&str] = &["AWS::IAM::", "AWS::ApplicationAutoScaling::"];

/// Whether a type costs nothing by itself.
pub fn is_free(resource_type: &str) -> bool {
    FREE.contains(&resource_type) || FREE_PREFIXES.iter().any(|p| resource_type.starts_with(p))
}

/// Every type with a pricer, for docs and tests.
pub const PRICED: &[&str] = &[
    "AWS::EC2::Instance",
    "AWS::EC2::Volume",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::RDS::DBInstance",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::EC2::NatGateway",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::EKS::Cluster",
    "AWS::EKS::Nodegroup",
    "AWS::KMS::Key",
    "AWS::EC2::EIP",
    "AWS::EC2::VPCEndpoint",
    "AWS::SecretsManager::Secret",
    "AWS::Route53::HostedZone",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
];

/// Builds one resource's cost, component by component.
struct Bill<'a> {
    pricing: Pricing<'a>,
    usage: UsageValues,
    components: Vec<Component>,
    notes: Vec<String>,
    missing_price: bool,
    usage_based: bool,
}

impl<'a> Bill<'a> {
    fn new(pricing: Pricing<'a>, logical_id: &str) -> Bill<'a> {
        Bill {
            pricing,
            usage: pricing.usage.for_resource(logical_id),
            components: Vec::new(),
            notes: Vec::new(),
            missing_price: false,
            usage_based: false,
        }
    }

    fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// A part whose quantity the template decides.
    fn fixed(&mut self, name: String, quantity: f64, unit: &str, kind: Kind, key: &str) {
        self.add(name, Some(quantity), unit, kind, key, None);
    }

    /// A part priced by the usage file's `key` × `scale` (e.g. requests / 1,000,000).
    fn usage(
        &mut self,
        name: &str,
        usage_key: &'static str,
        scale: f64,
        unit: &str,
        kind: Kind,
        key: &str,
    ) {
        self.usage_based = true;
        let quantity = self.usage.get(usage_key).map(|q| q * scale);
        self.add(name.to_string(), quantity, unit, kind, key, Some(usage_key));
    }

    /// A usage-priced part whose quantity is computed by the pricer from usage (`None` when
    /// the usage is not given).
    fn usage_computed(
        &mut self,
        name: &str,
        usage_key: &'static str,
        quantity: Option<f64>,
        unit: &str,
        kind: Kind,
        key: &str,
    ) {
        self.usage_based = true;
        self.add(name.to_string(), quantity, unit, kind, key, Some(usage_key));
    }

    fn add(
        &mut self,
        name: String,
        quantity: Option<f64>,
        unit: &str,
        kind: Kind,
        key: &str,
        usage_key: Option<&'static str>,
    ) {
        let price = self.pricing.catalogue.price(kind, key, self.pricing.region);
        if price.is_none() && quantity.is_some() {
            self.missing_price = true;
            self.note(format!(
                "no {} price for {key} in {}",
                kind.as_str(),
                self.pricing.region
            ));
        }
        if let Some(why) = price.as_ref().and_then(|p| p.estimate.clone()) {
            self.note(format!("estimate: {why}"));
        }
        let unit_price = price.as_ref().map(|p| p.usd);
        self.components.push(Component {
            name,
            quantity,
            unit: unit.to_string(),
            unit_price,
            monthly: match (quantity, unit_price) {
                (Some(q), Some(p)) => Some(q * p),
                _ => None,
            },
            source: price.as_ref().map(|p| p.source.clone()),
            usage_key,
            estimate: price.and_then(|p| p.estimate),
        });
    }

    fn finish(self, resource: &InputResource) -> ResourceCost {
        let monthly = self.components.iter().filter_map(|c| c.monthly).sum();
        let estimate = self.components.iter().any(|c| c.estimate.is_some());
        ResourceCost {
            logical_id: resource.id.clone(),
            resource_type: resource.resource_type.clone(),
            monthly,
            usage_based: self.usage_based,
            priced: !self.missing_price,
            estimate,
            components: self.components,
            note: (!self.notes.is_empty()).then(|| self.notes.join("; ")),
        }
    }

    /// Not priced at all, saying why.
    fn refuse(mut self, resource: &InputResource, why: impl Into<String>) -> ResourceCost {
        self.note(why);
        self.components.clear();
        self.missing_price = true;
        let mut cost = self.finish(resource);
        cost.monthly = 0.0;
        cost
    }
}

/// Price one resource.
pub fn price(
    pricing: Pricing<'_>,
    resource: &InputResource,
    resources: &HashMap<&str, &InputResource>,
) -> ResourceCost {
    let p = &resource.properties;
    let mut bill = Bill::new(pricing, &resource.id);
    let hours = HOURS_PER_MONTH;
    match resource.resource_type.as_str() {
        "AWS::EC2::Instance" => {
            let launch = launch_template(p.get("LaunchTemplate"), resources);
            let itype = text(p.get("InstanceType"))
                .or_else(|| launch.and_then(|lt| text(lt.get("InstanceType"))));
            let Some(itype) = itype else {
                return bill.refuse(resource, why_unknown(p.get("InstanceType"), "InstanceType"));
            };
            instance(&mut bill, &itype, 1.0);
            let mappings = p
                .get("BlockDeviceMappings")
                .or_else(|| launch.and_then(|lt| lt.get("BlockDeviceMappings")));
            block_devices(&mut bill, mappings, 1.0);
        }
        "AWS::EC2::Volume" => {
            let vtype = text(p.get("VolumeType")).unwrap_or_else(|| "gp2".into());
            match number(p.get("Size")) {
                Some(size) => ebs(
                    &mut bill,
                    "Volume",
                    &vtype,
                    size,
                    number(p.get("Iops")),
                    number(p.get("Throughput")),
                    1.0,
                ),
                None => {
                    // From a snapshot without a size: as large as the snapshot, which only the
                    // usage file can say.
                    bill.usage(
                        &format!("Storage ({vtype})"),
                        "storage_gb",
                        1.0,
                        "GB-month",
                        Kind::Ebs,
                        &vtype,
                    );
                    ebs_extras(
                        &mut bill,
                        "Volume",
                        &vtype,
                        number(p.get("Iops")),
                        number(p.get("Throughput")),
                        1.0,
                    );
                }
            }
        }
        "AWS::AutoScaling::AutoScalingGroup" => {
            let Some(count) = number(p.get("DesiredCapacity")).or_else(|| number(p.get("MinSize")))
            else {
                return bill.refuse(
                    resource,
                    why_unknown(p.get("DesiredCapacity"), "DesiredCapacity"),
                );
            };
            if p.get("DesiredCapacity").is_none() {
                bill.note("DesiredCapacity not given: MinSize instances");
            }
            let mixed = p
                .get("MixedInstancesPolicy")
                .and_then(|m| m.get("LaunchTemplate"));
            let spec = p
                .get("LaunchTemplate")
                .or_else(|| mixed.and_then(|m| m.get("LaunchTemplateSpecification")));
            let launch = launch_template(spec, resources);
            let config = reference(p.get("LaunchConfigurationName"))
                .and_then(|id| resources.get(id.as_str()))
                .map(|r| &r.properties);
            let source = launch.or(config);
            let override_type = mixed
                .and_then(|m| m.get("Overrides"))
                .and_then(Json::as_array)
                .and_then(|o| o.first())
                .and_then(|o| text(o.get("InstanceType")));
            let itype = override_type.or_else(|| source.and_then(|s| text(s.get("InstanceType"))));
            let Some(itype) = itype else {
                return bill.refuse(
                    resource,
                    "its launch template or configuration is not in this template (or names no InstanceType)",
                );
            };
            instance(&mut bill, &itype, count);
            block_devices(
                &mut bill,
                source.and_then(|s| s.get("BlockDeviceMappings")),
                count,
            );
        }
        "AWS::RDS::DBInstance" => return rds(bill, resource),
        "AWS::ElastiCache::CacheCluster" => {
            let Some(node) = text(p.get("CacheNodeType")) else {
                return bill.refuse(
                    resource,
                    why_unknown(p.get("CacheNodeType"), "CacheNodeType"),
                );
            };
            let engine = text(p.get("Engine"))
                .unwrap_or_else(|| "redis".into())
                .to_lowercase();
            let nodes = number(p.get("NumCacheNodes")).unwrap_or(1.0);
            cache_nodes(&mut bill, &engine, &node, nodes);
        }
        "AWS::ElastiCache::ReplicationGroup" => {
            let Some(node) = text(p.get("CacheNodeType")) else {
                return bill.refuse(
                    resource,
                    why_unknown(p.get("CacheNodeType"), "CacheNodeType"),
                );
            };
            let engine = text(p.get("Engine"))
                .unwrap_or_else(|| "redis".into())
                .to_lowercase();
            let nodes = if let Some(n) = number(p.get("NumCacheClusters")) {
                n
            } else if let Some(groups) = p.get("NodeGroupConfiguration").and_then(Json::as_array) {
                groups
                    .iter()
                    .map(|g| 1.0 + number(g.get("ReplicaCount")).unwrap_or(0.0))
                    .sum()
            } else {
                let groups = number(p.get("NumNodeGroups")).unwrap_or(1.0);
                let replicas = number(p.get("ReplicasPerNodeGroup")).unwrap_or(0.0);
                if p.get("NumNodeGroups").is_none() && p.get("ReplicasPerNodeGroup").is_none() {
                    bill.note("no node count given: 1 node");
                }
                groups * (1.0 + replicas)
            };
            cache_nodes(&mut bill, &engine, &node, nodes);
        }
        "AWS::EC2::NatGateway" => {
            bill.fixed(
                "NAT gateway".into(),
                hours,
                "hours",
                Kind::Unit,
                "nat_gateway_hour",
            );
            bill.usage(
                "Data processed",
                "monthly_data_processed_gb",
                1.0,
                "GB",
                Kind::Unit,
                "nat_gateway_gb_processed",
            );
        }
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
            let kind = text(p.get("Type")).unwrap_or_else(|| "application".into());
            let (hour, lcu, label) = match kind.as_str() {
                "application" => ("alb_hour", "alb_lcu_hour", "Application load balancer"),
                "network" => ("nlb_hour", "nlb_nlcu_hour", "Network load balancer"),
                other => {
                    return bill.refuse(
                        resource,
                        format!("{other} load balancers are not in the catalogue"),
                    );
                }
            };
            bill.fixed(label.into(), hours, "hours", Kind::Unit, hour);
            bill.usage(
                "Capacity units",
                "capacity_units",
                hours,
                "LCU-hours",
                Kind::Unit,
                lcu,
            );
        }
        "AWS::EKS::Cluster" => {
            bill.fixed(
                "EKS cluster".into(),
                hours,
                "hours",
                Kind::Unit,
                "eks_cluster_hour",
            );
        }
        "AWS::EKS::Nodegroup" => {
            let scaling = p.get("ScalingConfig");
            let count = match scaling.map(|s| s.get("DesiredSize")) {
                Some(Some(v)) => match number(Some(v)) {
                    Some(n) => n,
                    None => {
                        return bill
                            .refuse(resource, why_unknown(Some(v), "ScalingConfig.DesiredSize"));
                    }
                },
                _ => {
                    bill.note("DesiredSize not given: 2 nodes (the EKS default)");
                    2.0
                }
            };
            let launch = launch_template(p.get("LaunchTemplate"), resources);
            let listed = list(p.get("InstanceTypes")).into_iter().next();
            let itype = match listed.or_else(|| launch.and_then(|lt| text(lt.get("InstanceType"))))
            {
                Some(t) => t,
                None => {
                    bill.note("InstanceTypes not given: t3.medium (the EKS default)");
                    "t3.medium".into()
                }
            };
            if text(p.get("CapacityType")).as_deref() == Some("SPOT") {
                bill.note("SPOT capacity is priced on demand: an upper bound");
            }
            instance(&mut bill, &itype, count);
            match launch.and_then(|lt| lt.get("BlockDeviceMappings")) {
                Some(mappings) => block_devices(&mut bill, Some(mappings), count),
                None => {
                    let size = number(p.get("DiskSize")).unwrap_or_else(|| {
                        bill.note("DiskSize not given: 20 GB (the EKS default)");
                        20.0
                    });
                    ebs(&mut bill, "Node volume", "gp2", size, None, None, count);
                }
            }
        }
        "AWS::KMS::Key" => {
            bill.fixed(
                "Customer managed key".into(),
                1.0,
                "months",
                Kind::Unit,
                "kms_key_month",
            );
            bill.usage(
                "API requests",
                "monthly_requests",
                1.0 / 10_000.0,
                "10k requests",
                Kind::Unit,
                "kms_requests_per_10k",
            );
        }
        "AWS::EC2::EIP" => {
            bill.fixed(
                "Public IPv4 address".into(),
                hours,
                "hours",
                Kind::Unit,
                "public_ipv4_hour",
            );
        }
        "AWS::EC2::VPCEndpoint" => {
            let kind = text(p.get("VpcEndpointType")).unwrap_or_else(|| "Gateway".into());
            match kind.as_str() {
                "Gateway" => bill.fixed(
                    "Gateway endpoint".into(),
                    hours,
                    "hours",
                    Kind::Unit,
                    "vpc_gateway_endpoint_hour",
                ),
                "Interface" => {
                    let azs = match p.get("SubnetIds").and_then(Json::as_array) {
                        Some(subnets) if !subnets.is_empty() => subnets.len() as f64,
                        _ => {
                            bill.note("SubnetIds not known: 1 AZ");
                            1.0
                        }
                    };
                    bill.fixed(
                        format!("Interface endpoint ({azs} AZ)"),
                        hours * azs,
                        "hours",
                        Kind::Unit,
                        "vpc_interface_endpoint_az_hour",
                    );
                    bill.usage(
                        "Data processed",
                        "monthly_data_processed_gb",
                        1.0,
                        "GB",
                        Kind::Unit,
                        "vpc_interface_endpoint_gb",
                    );
                }
                other => {
                    return bill.refuse(
                        resource,
                        format!("{other} endpoints are not in the catalogue"),
                    );
                }
            }
        }
        "AWS::SecretsManager::Secret" => {
            bill.fixed(
                "Secret".into(),
                1.0,
                "months",
                Kind::Unit,
                "secrets_manager_secret_month",
            );
        }
        "AWS::Route53::HostedZone" => {
            bill.fixed(
                "Hosted zone".into(),
                1.0,
                "months",
                Kind::Unit,
                "route53_hosted_zone_month",
            );
        }
        "AWS::CloudWatch::Alarm" => {
            let metrics = p.get("Metrics").and_then(Json::as_array);
            let count = metrics
                .map(|m| {
                    m.iter()
                        .filter(|q| q.get("MetricStat").is_some())
                        .count()
                        .max(1)
                })
                .unwrap_or(1) as f64;
            let periods: Vec<f64> = match metrics {
                Some(m) => m
                    .iter()
                    .filter_map(|q| number(q.get("MetricStat").and_then(|s| s.get("Period"))))
                    .collect(),
                None => number(p.get("Period")).into_iter().collect(),
            };
            let high = periods.iter().any(|s| *s < 60.0);
            let (name, key) = if high {
                (
                    "High-resolution alarm metrics",
                    "cloudwatch_alarm_high_resolution_month",
                )
            } else {
                ("Standard alarm metrics", "cloudwatch_alarm_standard_month")
            };
            bill.fixed(name.into(), count, "alarm metric-months", Kind::Unit, key);
        }
        "AWS::CloudWatch::Dashboard" => {
            bill.fixed(
                "Dashboard".into(),
                1.0,
                "months",
                Kind::Unit,
                "cloudwatch_dashboard_month",
            );
        }
        "AWS::DynamoDB::Table" => {
            let mode = text(p.get("BillingMode")).unwrap_or_else(|| "PROVISIONED".into());
            if mode == "PAY_PER_REQUEST" {
                bill.usage(
                    "Write request units",
                    "monthly_write_request_units",
                    1e-6,
                    "1M WRU",
                    Kind::Unit,
                    "dynamodb_ondemand_write_per_1m",
                );
                bill.usage(
                    "Read request units",
                    "monthly_read_request_units",
                    1e-6,
                    "1M RRU",
                    Kind::Unit,
                    "dynamodb_ondemand_read_per_1m",
                );
            } else {
                let mut throughput = vec![p.get("ProvisionedThroughput")];
                if let Some(indexes) = p.get("GlobalSecondaryIndexes").and_then(Json::as_array) {
                    throughput.extend(indexes.iter().map(|i| i.get("ProvisionedThroughput")));
                }
                let sum = |key: &str| -> Option<f64> {
                    throughput
                        .iter()
                        .map(|t| t.and_then(|t| number(t.get(key))))
                        .sum::<Option<f64>>()
                };
                match (sum("ReadCapacityUnits"), sum("WriteCapacityUnits")) {
                    (Some(read), Some(write)) => {
                        bill.fixed(
                            "Write capacity".into(),
                            write * hours,
                            "WCU-hours",
                            Kind::Unit,
                            "dynamodb_wcu_hour",
                        );
                        bill.fixed(
                            "Read capacity".into(),
                            read * hours,
                            "RCU-hours",
                            Kind::Unit,
                            "dynamodb_rcu_hour",
                        );
                    }
                    _ => return bill.refuse(resource, "ProvisionedThroughput is not known"),
                }
            }
            bill.usage(
                "Storage",
                "storage_gb",
                1.0,
                "GB-month",
                Kind::Unit,
                "dynamodb_storage_gb_month",
            );
        }
        "AWS::S3::Bucket" => {
            bill.usage(
                "Standard storage",
                "storage_gb",
                1.0,
                "GB-month",
                Kind::Unit,
                "s3_standard_gb_month",
            );
            bill.usage(
                "PUT, COPY, POST, LIST requests",
                "monthly_put_requests",
                1e-3,
                "1k requests",
                Kind::Unit,
                "s3_put_copy_post_list_per_1k",
            );
            bill.usage(
                "GET and other requests",
                "monthly_get_requests",
                1e-3,
                "1k requests",
                Kind::Unit,
                "s3_get_per_1k",
            );
        }
        "AWS::Lambda::Function" => {
            let memory_mb = number(p.get("MemorySize")).unwrap_or(128.0);
            let arm = list(p.get("Architectures")).iter().any(|a| a == "arm64");
            bill.usage(
                "Requests",
                "monthly_requests",
                1e-6,
                "1M requests",
                Kind::Unit,
                "lambda_requests_per_1m",
            );
            let requests = bill.usage.monthly_requests;
            let duration = bill.usage.request_duration_ms;
            let gb_seconds = match (requests, duration) {
                (Some(r), Some(ms)) => Some(r * ms / 1000.0 * memory_mb / 1024.0),
                _ => None,
            };
            let key = if arm {
                "lambda_gb_second_arm"
            } else {
                "lambda_gb_second_x86"
            };
            bill.usage_computed(
                &format!(
                    "Duration ({memory_mb} MB, {})",
                    if arm { "arm64" } else { "x86_64" }
                ),
                "request_duration_ms",
                gb_seconds,
                "GB-seconds",
                Kind::Unit,
                key,
            );
        }
        "AWS::Logs::LogGroup" => {
            bill.usage(
                "Data ingested",
                "monthly_data_ingested_gb",
                1.0,
                "GB",
                Kind::Unit,
                "cloudwatch_logs_ingest_gb",
            );
            bill.usage(
                "Storage",
                "storage_gb",
                1.0,
                "GB-month",
                Kind::Unit,
                "cloudwatch_logs_archive_gb_month",
            );
        }
        "AWS::SNS::Topic" => {
            bill.usage(
                "Requests",
                "monthly_requests",
                1e-6,
                "1M requests",
                Kind::Unit,
                "sns_requests_per_1m",
            );
        }
        other if is_free(other) => {}
        "AWS::CloudFormation::Stack" => {
            return bill.refuse(
                resource,
                "a nested stack: its own template is not read here",
            );
        }
        _ => return bill.refuse(resource, "no pricer for this type"),
    }
    let mut cost = bill.finish(resource);
    if resource.resource_type == "AWS::EC2::LaunchTemplate" {
        cost.note = Some("priced where an instance, group or node group uses it".into());
    }
    cost
}

/// An instance's hours (`count` instances).
fn instance(bill: &mut Bill, itype: &str, count: f64) {
    let name = if count == 1.0 {
        format!("Instance ({itype}, Linux, on-demand)")
    } else {
        format!("Instances ({count} × {itype}, Linux, on-demand)")
    };
    bill.fixed(name, HOURS_PER_MONTH * count, "hours", Kind::Ec2, itype);
}

/// The EBS volumes of `BlockDeviceMappings` (× `count` instances); without mappings, the AMI's
/// root volume, assumed 8 GB gp2.
fn block_devices(bill: &mut Bill, mappings: Option<&Json>, count: f64) {
    let volumes: Vec<&Json> = mappings
        .and_then(Json::as_array)
        .map(|m| m.iter().filter_map(|d| d.get("Ebs")).collect())
        .unwrap_or_default();
    if volumes.is_empty() {
        bill.note("root volume not described: 8 GB gp2 (the AMI's is unknown)");
        ebs(bill, "Root volume", "gp2", 8.0, None, None, count);
        return;
    }
    for (i, v) in volumes.iter().enumerate() {
        let vtype = text(v.get("VolumeType")).unwrap_or_else(|| "gp2".into());
        let size = number(v.get("VolumeSize")).unwrap_or_else(|| {
            bill.note("a volume without VolumeSize: 8 GB");
            8.0
        });
        let label = if i == 0 {
            "Volume".to_string()
        } else {
            format!("Volume {}", i + 1)
        };
        ebs(
            bill,
            &label,
            &vtype,
            size,
            number(v.get("Iops")),
            number(v.get("Throughput")),
            count,
        );
    }
}

/// Storage of one EBS volume type, with its IOPS and throughput extras (× `count`).
fn ebs(
    bill: &mut Bill,
    label: &str,
    vtype: &str,
    size: f64,
    iops: Option<f64>,
    throughput: Option<f64>,
    count: f64,
) {
    bill.fixed(
        format!("{label} storage ({vtype}, {size} GB)"),
        size * count,
        "GB-month",
        Kind::Ebs,
        vtype,
    );
    ebs_extras(bill, label, vtype, iops, throughput, count);
}

fn ebs_extras(
    bill: &mut Bill,
    label: &str,
    vtype: &str,
    iops: Option<f64>,
    throughput: Option<f64>,
    count: f64,
) {
    match vtype {
        "gp3" => {
            let extra_iops = iops.map_or(0.0, |i| (i - 3000.0).max(0.0));
            if extra_iops > 0.0 {
                bill.fixed(
                    format!("{label} IOPS above 3,000"),
                    extra_iops * count,
                    "IOPS-months",
                    Kind::EbsIops,
                    "gp3",
                );
            }
            let extra_tp = throughput.map_or(0.0, |t| (t - 125.0).max(0.0));
            if extra_tp > 0.0 {
                bill.fixed(
                    format!("{label} throughput above 125 MiB/s"),
                    extra_tp * count,
                    "MiBps-months",
                    Kind::EbsThroughput,
                    "gp3",
                );
            }
        }
        "io1" | "io2" => match iops {
            Some(iops) => bill.fixed(
                format!("{label} provisioned IOPS"),
                iops * count,
                "IOPS-months",
                Kind::EbsIops,
                vtype,
            ),
            None => bill.note(format!("{vtype} without Iops: IOPS not priced")),
        },
        _ => {}
    }
}

fn cache_nodes(bill: &mut Bill, engine: &str, node: &str, nodes: f64) {
    bill.fixed(
        format!("Cache nodes ({nodes} × {node}, {engine})"),
        HOURS_PER_MONTH * nodes,
        "hours",
        Kind::ElastiCache,
        &format!("{engine}/{node}"),
    );
}

fn rds(mut bill: Bill, resource: &InputResource) -> ResourceCost {
    let p = &resource.properties;
    if p.get("DBClusterIdentifier").is_some() {
        return bill.refuse(
            resource,
            "an Aurora cluster instance: Aurora is not in the catalogue",
        );
    }
    let engine = match text(p.get("Engine")).as_deref() {
        Some("postgres") => "postgresql",
        Some("mysql") => "mysql",
        Some(other) => {
            return bill.refuse(
                resource,
                format!("engine {other} is not in the catalogue (postgres and mysql are)"),
            );
        }
        None => return bill.refuse(resource, why_unknown(p.get("Engine"), "Engine")),
    };
    let Some(class) = text(p.get("DBInstanceClass")) else {
        return bill.refuse(
            resource,
            why_unknown(p.get("DBInstanceClass"), "DBInstanceClass"),
        );
    };
    let multi_az = boolean(p.get("MultiAZ")).unwrap_or(false);
    let (deployment, az) = if multi_az {
        ("multi-az", "Multi AZ")
    } else {
        ("single-az", "Single AZ")
    };
    bill.fixed(
        format!(
            "Database instance ({class}, {engine}, {})",
            if multi_az { "Multi-AZ" } else { "Single-AZ" }
        ),
        HOURS_PER_MONTH,
        "hours",
        Kind::Rds,
        &format!("{engine}/{class}/{deployment}"),
    );
    let iops = number(p.get("Iops"));
    let storage_type = text(p.get("StorageType")).unwrap_or_else(|| {
        let default = if iops.is_some() { "io1" } else { "gp2" };
        bill.note(format!("StorageType not given: {default}"));
        default.to_string()
    });
    let mut size = number(p.get("AllocatedStorage")).unwrap_or_else(|| {
        bill.note("AllocatedStorage not given: 20 GB");
        20.0
    });
    let label = match storage_type.as_str() {
        "gp2" => "General Purpose",
        "gp3" => "General Purpose-GP3",
        "io1" => "Provisioned IOPS",
        "io2" => "Provisioned IOPS-IO2",
        "standard" => "Magnetic",
        other => {
            return bill.refuse(
                resource,
                format!("storage type {other} is not in the catalogue"),
            );
        }
    };
    if storage_type == "io1" && size < 100.0 {
        bill.note("io1 storage is at least 100 GB");
        size = 100.0;
    }
    bill.fixed(
        format!("Storage ({storage_type}, {size} GB)"),
        size,
        "GB-month",
        Kind::RdsStorage,
        &format!("Database Storage {az} {label}"),
    );
    match storage_type.as_str() {
        "gp3" => {
            let (base_iops, base_tp) = if size >= 400.0 {
                (12000.0, 500.0)
            } else {
                (3000.0, 125.0)
            };
            let extra = iops.map_or(0.0, |i| (i - base_iops).max(0.0));
            if extra > 0.0 {
                bill.fixed(
                    format!("IOPS above {base_iops}"),
                    extra,
                    "IOPS-months",
                    Kind::RdsStorage,
                    &format!("Provisioned GP3 IOPS {az}"),
                );
            }
            let tp = number(p.get("StorageThroughput")).map_or(0.0, |t| (t - base_tp).max(0.0));
            if tp > 0.0 {
                bill.fixed(
                    format!("Throughput above {base_tp} MiB/s"),
                    tp,
                    "MiBps-months",
                    Kind::RdsStorage,
                    &format!("Provisioned Throughput {az}"),
                );
            }
        }
        "io1" => {
            let iops = iops.unwrap_or(1000.0).max(1000.0);
            bill.fixed(
                "Provisioned IOPS".into(),
                iops,
                "IOPS-months",
                Kind::RdsStorage,
                &format!("Provisioned IOPS {az}"),
            );
        }
        "io2" => match iops {
            Some(iops) => bill.fixed(
                "Provisioned IOPS".into(),
                iops,
                "IOPS-months",
                Kind::RdsStorage,
                &format!("Provisioned IO2 IOPS {az}"),
            ),
            None => bill.note("io2 without Iops: IOPS not priced"),
        },
        _ => {}
    }
    bill.finish(resource)
}

/// The `LaunchTemplateData` of the launch template a `LaunchTemplate` property names by `Ref`
/// (id or name), when it is in the same template.
fn launch_template<'a>(
    spec: Option<&Json>,
    resources: &HashMap<&str, &'a InputResource>,
) -> Option<&'a Json> {
    let spec = spec?;
    let id = ["LaunchTemplateId", "LaunchTemplateName", "Id", "Name"]
        .iter()
        .find_map(|k| reference(spec.get(*k)))?;
    resources
        .get(id.as_str())
        .filter(|r| r.resource_type == "AWS::EC2::LaunchTemplate")
        .and_then(|r| r.properties.get("LaunchTemplateData"))
}

/// The logical id a `{"Ref": id}` names.
fn reference(v: Option<&Json>) -> Option<String> {
    v?.get("Ref")?.as_str().map(str::to_string)
}

/// A resolved scalar as text.
fn text(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A resolved number (CloudFormation passes numbers as strings too).
fn number(v: Option<&Json>) -> Option<f64> {
    match v? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite() && *n >= 0.0)
}

fn boolean(v: Option<&Json>) -> Option<bool> {
    match v? {
        Json::Bool(b) => Some(*b),
        Json::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A list property, or a `CommaDelimitedList` parameter's value.
fn list(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
        Some(Json::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a deciding property has no value here.
fn why_unknown(v: Option<&Json>, name: &str) -> String {
    match v {
        None => format!("{name} is not given"),
        Some(Json::Object(o)) => match o.get("Ref").and_then(Json::as_str) {
            Some(param) => format!("{name} is not known: parameter {param} has no value"),
            None => format!(
                "{name} is not known: {} is decided by CloudFormation",
                o.keys()
                    .next()
                    .map(String::as_str)
                    .unwrap_or("an intrinsic")
            ),
        },
        Some(other) => format!("{name} {other} is not usable"),
    }
}
