//! Cost estimate benchmark: a generated 1,000-resource template priced end to end (budget
//! ≤ 20 ms in release): the YAML read and the resolution of parameters, `Ref`, `Fn::If` and
//! `Conditions` (the same reader compliance uses), then every pricer. Reported separately:
//! the read alone and the pricing alone, so it says how much is parsing.
//!
//! The template mixes the priced types (instances with volumes, volumes, groups with a launch
//! template, RDS, ElastiCache, NAT, Elastic IPs, load balancers, KMS keys, log groups, buckets,
//! functions, DynamoDB tables) with free plumbing (security groups, roles, subnets). Figures
//! are the median and p95 of `OPSDECK_BENCH_RUNS` runs (default 50, at least 10) after two
//! warm-up runs, in-process. A measurement, not a test: over budget is reported, not failed.
//!
//! Under `cargo test --all-targets` (no `--bench`) it is a smoke check: one run, which must
//! price every resource it knows and count the rest.

use opsdeck::cost::{Catalogue, Pricing, Usage, estimate_template};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const RESOURCES: usize = 1000;
const BUDGET_MS: f64 = 20.0;
const DEFAULT_RUNS: usize = 50;

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let template = generate(RESOURCES);
    let catalogue = Catalogue::bundled();
    let usage = Usage::parse(
        "resource_usage:\n  \"Bucket*\":\n    storage_gb: 100\n  \"Nat*\":\n    monthly_data_processed_gb: 50\n",
        "bench-usage.yml",
    )
    .expect("the bench's usage parses");
    let pricing = Pricing {
        catalogue: &catalogue,
        usage: &usage,
        region: "eu-west-1",
    };
    let params = BTreeMap::new();
    let whole = || {
        estimate_template(pricing, &template, "bench-1000.yaml", &params)
            .expect("the generated template parses")
    };
    let read = || {
        opsdeck::compliance::input::from_template(&template, "bench-1000.yaml", &params, None)
            .expect("the generated template parses")
            .0
    };

    if smoke {
        let start = Instant::now();
        let e = whole();
        let elapsed = ms(start.elapsed());
        assert_eq!(e.resources.len() + e.not_created.len(), RESOURCES);
        assert!(e.total_monthly > 0.0);
        assert_eq!(
            e.not_priced(),
            0,
            "every generated type has a pricer or is free"
        );
        println!(
            "cost smoke check ({profile}): {RESOURCES} resources estimated in {elapsed:.1} ms, {}/mo; `cargo bench --bench cost` measures",
            opsdeck::cost::estimate::usd(e.total_monthly)
        );
        return;
    }

    let runs = std::env::var("OPSDECK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(10);
    let _ = whole();
    let _ = whole();
    let mut total = Vec::with_capacity(runs);
    let mut parse = Vec::with_capacity(runs);
    let mut price = Vec::with_capacity(runs);
    let mut figure = 0.0;
    for _ in 0..runs {
        let start = Instant::now();
        let e = whole();
        total.push(ms(start.elapsed()));
        figure = e.total_monthly;
        let start = Instant::now();
        let input = read();
        parse.push(ms(start.elapsed()));
        let start = Instant::now();
        let e = opsdeck::cost::estimate::estimate_input(pricing, &input, "bench-1000.yaml");
        price.push(ms(start.elapsed()));
        assert!((e.total_monthly - figure).abs() < 1e-6);
    }
    let (t50, t95) = stats(&mut total);
    let (p50, p95) = stats(&mut parse);
    let (c50, c95) = stats(&mut price);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cost estimate, {RESOURCES} resources ({profile}, {runs} runs, {} KB template): {}/mo",
        template.len() / 1024,
        opsdeck::cost::estimate::usd(figure)
    );
    let _ = writeln!(
        out,
        "  whole estimate      median {t50:.2} ms  p95 {t95:.2} ms  (budget {BUDGET_MS} ms: {})",
        if t95 <= BUDGET_MS { "within" } else { "OVER" }
    );
    let _ = writeln!(
        out,
        "  read + resolve      median {p50:.2} ms  p95 {p95:.2} ms  ({:.0}% of the whole)",
        p50 / t50 * 100.0
    );
    let _ = writeln!(
        out,
        "  pricing alone       median {c50:.2} ms  p95 {c95:.2} ms"
    );
    print!("{out}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// A template of `n` resources cycling through priced and free types, with parameters,
/// conditions and launch templates to resolve.
fn generate(n: usize) -> String {
    let mut t = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  InstanceType:\n    Type: String\n    Default: m6i.large\n  Env:\n    Type: String\n    Default: PRD\n  Size:\n    Type: Number\n    Default: 100\nConditions:\n  IsPrd: !Equals [!Ref Env, PRD]\nResources:\n",
    );
    let mut count = 0;
    let mut i = 0;
    while count < n {
        i += 1;
        // Case 2 declares two resources (a group and its launch template).
        let kind = if i % 20 == 2 && count + 2 > n {
            6
        } else {
            i % 20
        };
        count += if kind == 2 { 2 } else { 1 };
        let body = match kind {
            0 => format!(
                "  Instance{i}:\n    Type: AWS::EC2::Instance\n    Properties:\n      InstanceType: !Ref InstanceType\n      ImageId: ami-1\n      BlockDeviceMappings:\n        - DeviceName: /dev/xvda\n          Ebs: {{VolumeType: gp3, VolumeSize: !Ref Size, Iops: 4000}}\n"
            ),
            1 => format!(
                "  Volume{i}:\n    Type: AWS::EC2::Volume\n    Properties:\n      AvailabilityZone: eu-west-1a\n      VolumeType: !If [IsPrd, io2, gp3]\n      Size: 200\n      Iops: 5000\n"
            ),
            2 => format!(
                "  Template{i}:\n    Type: AWS::EC2::LaunchTemplate\n    Properties:\n      LaunchTemplateData:\n        InstanceType: c7i.large\n        BlockDeviceMappings:\n          - DeviceName: /dev/xvda\n            Ebs: {{VolumeType: gp3, VolumeSize: 30}}\n  Group{i}:\n    Type: AWS::AutoScaling::AutoScalingGroup\n    Properties:\n      MinSize: '1'\n      MaxSize: '4'\n      DesiredCapacity: '2'\n      LaunchTemplate:\n        LaunchTemplateId: !Ref Template{i}\n        Version: '1'\n"
            ),
            3 => format!(
                "  Db{i}:\n    Type: AWS::RDS::DBInstance\n    Properties:\n      Engine: postgres\n      DBInstanceClass: db.r6g.large\n      MultiAZ: !If [IsPrd, true, false]\n      StorageType: gp3\n      AllocatedStorage: '500'\n      Iops: 15000\n"
            ),
            4 => format!(
                "  Cache{i}:\n    Type: AWS::ElastiCache::ReplicationGroup\n    Properties:\n      ReplicationGroupDescription: c\n      CacheNodeType: cache.r6g.large\n      NumCacheClusters: 2\n"
            ),
            5 => format!(
                "  Nat{i}:\n    Type: AWS::EC2::NatGateway\n    Condition: IsPrd\n    Properties:\n      SubnetId: subnet-1\n"
            ),
            6 => format!("  Ip{i}:\n    Type: AWS::EC2::EIP\n    Properties:\n      Domain: vpc\n"),
            7 => format!(
                "  Lb{i}:\n    Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties:\n      Subnets: [subnet-a, subnet-b]\n"
            ),
            8 => format!(
                "  Key{i}:\n    Type: AWS::KMS::Key\n    Properties:\n      KeyPolicy: {{}}\n"
            ),
            9 => format!(
                "  Logs{i}:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: 30\n"
            ),
            10 => format!("  Bucket{i}:\n    Type: AWS::S3::Bucket\n"),
            11 => format!(
                "  Fn{i}:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.12\n      Handler: i.h\n      Role: arn:aws:iam::1:role/r\n      MemorySize: 256\n      Code: {{ZipFile: x}}\n"
            ),
            12 => format!(
                "  Table{i}:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{{AttributeName: id, KeyType: HASH}}]\n      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]\n      ProvisionedThroughput: {{ReadCapacityUnits: 10, WriteCapacityUnits: 5}}\n"
            ),
            13 => format!(
                "  Alarm{i}:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n      MetricName: CPUUtilization\n      Namespace: AWS/EC2\n      Statistic: Average\n      Period: 60\n      EvaluationPeriods: 1\n      Threshold: 90\n      ComparisonOperator: GreaterThanThreshold\n"
            ),
            14 => format!(
                "  Sg{i}:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: sg\n      SecurityGroupIngress:\n        - {{IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8}}\n"
            ),
            15 => format!(
                "  Role{i}:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {{Version: '2012-10-17', Statement: []}}\n"
            ),
            16 => format!(
                "  Subnet{i}:\n    Type: AWS::EC2::Subnet\n    Properties:\n      VpcId: vpc-1\n      CidrBlock: 10.0.{}.0/24\n",
                i % 250
            ),
            17 => format!(
                "  Endpoint{i}:\n    Type: AWS::EC2::VPCEndpoint\n    Properties:\n      VpcEndpointType: Interface\n      ServiceName: com.amazonaws.eu-west-1.ssm\n      VpcId: vpc-1\n      SubnetIds: [subnet-a, subnet-b, subnet-c]\n"
            ),
            18 => format!("  Secret{i}:\n    Type: AWS::SecretsManager::Secret\n"),
            _ => format!(
                "  Cluster{i}:\n    Type: AWS::EKS::Cluster\n    Properties:\n      RoleArn: arn:aws:iam::1:role/eks\n      ResourcesVpcConfig: {{SubnetIds: [subnet-a]}}\n"
            ),
        };
        t.push_str(&body);
    }
    t
}
