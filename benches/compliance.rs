//! Compliance benchmark: the full rule pack over a generated 1,000-resource template (budget
//! ≤ 100 ms, parse + evaluate + waivers + report), and in the same run the same file through
//! checkov and cfn-guard for comparison.
//!
//! The template mixes the resource types the rules judge (S3 buckets, security groups, EBS
//! volumes, RDS instances, KMS keys, IAM roles, log groups, EC2 instances, VPCs, subnets), a
//! third of them non-compliant. Our figure is the median and p95 of `OPSDECK_BENCH_RUNS` runs
//! (default 20, at least 10) after two warm-up runs, in-process. The tools are processes:
//! checkov (`$OPSDECK_CHECKOV`, `.venv-checkov/bin/checkov`, or `.tools/checkov/bin/checkov`) and
//! cfn-guard (`$OPSDECK_CFN_GUARD` or `.tools/bin/cfn-guard`, which scripts/bench.sh installs)
//! with `benches/compliance.guard` (S3 encryption, public access block, SSH from anywhere).
//! Their time includes process start-up: that is what a CI step pays. A tool that is absent is
//! skipped with a note. This is a measurement, not a test: figures over budget are reported,
//! never failed on.
//!
//! `OPSDECK_BENCH_TOOLS=0` skips checkov and cfn-guard (they take tens of seconds).
//!
//! Under `cargo test --all-targets` (no `--bench`) it is a smoke check: one run, which must
//! judge every resource and find the planted failures; no external tool is run.

use opsdeck::compliance::Checker;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RESOURCES: usize = 1000;
const BUDGET_MS: f64 = 100.0;
const DEFAULT_RUNS: usize = 20;
const TOOL_RUNS: usize = 3;

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let template = generate(RESOURCES);
    let checker = Checker::bundled();
    assert!(
        checker.load_errors.is_empty(),
        "the bundled pack loads: {:?}",
        checker.load_errors
    );
    let rules = checker.pack.rules().count();
    let run = || {
        let eval = checker
            .judge_template(&template, "bench-1000.yaml", &BTreeMap::new(), Some("PRD"))
            .expect("the generated template parses");
        checker.report(vec![("bench-1000.yaml".into(), eval)])
    };

    if smoke {
        let start = Instant::now();
        let report = run();
        let elapsed = ms(start.elapsed());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(
            report.findings.iter().any(|f| f.rule == "S3-001"),
            "the planted unencrypted buckets are found"
        );
        println!(
            "compliance smoke check ({profile}): {rules} rules over {RESOURCES} resources in {elapsed:.1} ms, {} findings; `cargo bench --bench compliance` measures",
            report.findings.len()
        );
        return;
    }

    let runs = std::env::var("OPSDECK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(10);
    let _ = run();
    let _ = run();
    let mut ours = Vec::with_capacity(runs);
    let mut findings = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let report = run();
        ours.push(ms(start.elapsed()));
        findings = report.findings.len();
    }

    // Where the time goes, from the same runs' pieces (medians of their own runs).
    let mut parse = Vec::new();
    let mut evaluate = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let (input, lines) = opsdeck::compliance::input::from_template(
            &template,
            "bench-1000.yaml",
            &BTreeMap::new(),
            Some("PRD"),
        )
        .expect("parses");
        parse.push(ms(start.elapsed()));
        let start = Instant::now();
        let eval = checker.pack.evaluate(&input, Some(&lines));
        evaluate.push(ms(start.elapsed()));
        assert!(eval.errors.is_empty());
    }
    let (parse_ms, _) = stats(&mut parse);
    let (evaluate_ms, _) = stats(&mut evaluate);

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench-1000.yaml");
    std::fs::write(&file, &template).expect("write the template");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guard_rules = root.join("benches/compliance.guard");

    let mut table = Vec::new();
    let (median, p95) = stats(&mut ours);
    table.push(Row {
        tool: format!("opsdeck ({rules} rules, in-process)"),
        runs: ours.len(),
        median,
        p95: Some(p95),
        note: format!(
            "{findings} findings; parse {parse_ms:.1} + rules {evaluate_ms:.1} ms; budget {BUDGET_MS:.0} ms: {}",
            if p95 <= BUDGET_MS { "met" } else { "OVER" }
        ),
    });

    let tools = std::env::var("OPSDECK_BENCH_TOOLS").map_or(true, |v| v != "0");
    if !tools {
        table.push(absent("checkov, cfn-guard", "OPSDECK_BENCH_TOOLS=0"));
    }
    let checkov = tool(
        "OPSDECK_CHECKOV",
        &[
            root.join(".venv-checkov/bin/checkov"),
            root.join(".tools/checkov/bin/checkov"),
        ],
    );
    match checkov.filter(|_| tools) {
        Some(checkov) => {
            let mut args: Vec<String> = ["--skip-download", "-f"].map(String::from).to_vec();
            args.push(file.display().to_string());
            args.extend(
                ["--framework", "cloudformation", "--quiet", "--compact"].map(String::from),
            );
            table.push(time_tool("checkov", &checkov, &args));
        }
        None if !tools => {}
        None => table.push(absent(
            "checkov",
            "not installed: .venv/bin/checkov, .tools/checkov/bin/checkov or $OPSDECK_CHECKOV",
        )),
    }
    match tool("OPSDECK_CFN_GUARD", &[root.join(".tools/bin/cfn-guard")]).filter(|_| tools) {
        Some(guard) => {
            let args = vec![
                "validate".to_string(),
                "-r".to_string(),
                guard_rules.display().to_string(),
                "-d".to_string(),
                file.display().to_string(),
                "--show-summary".to_string(),
                "none".to_string(),
            ];
            table.push(time_tool("cfn-guard (3 rules)", &guard, &args));
        }
        None if !tools => {}
        None => table.push(absent(
            "cfn-guard",
            "not installed: run scripts/bench.sh (cargo install --root .tools cfn-guard) or set $OPSDECK_CFN_GUARD",
        )),
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Compliance: full pack over a {RESOURCES}-resource template ({} KiB), {profile}",
        template.len() / 1024
    );
    let _ = writeln!(
        out,
        "{:<34} {:>5} {:>12} {:>12}  note",
        "tool", "runs", "median ms", "p95 ms"
    );
    for row in &table {
        let _ = writeln!(
            out,
            "{:<34} {:>5} {:>12} {:>12}  {}",
            row.tool,
            row.runs,
            if row.runs > 0 {
                format!("{:.1}", row.median)
            } else {
                "-".into()
            },
            row.p95
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "-".into()),
            row.note
        );
    }
    print!("{out}");
}

struct Row {
    tool: String,
    runs: usize,
    median: f64,
    p95: Option<f64>,
    note: String,
}

fn absent(tool: &str, why: &str) -> Row {
    Row {
        tool: tool.to_string(),
        runs: 0,
        median: 0.0,
        p95: None,
        note: format!("skipped: {why}"),
    }
}

fn tool(var: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    candidates.iter().find(|p| p.is_file()).cloned()
}

/// Time a tool as a CI step runs it: `TOOL_RUNS` runs after one warm-up. Any exit code is
/// fine (finding failures is the point); a tool that cannot start or dies of a signal is noted.
fn time_tool(name: &str, exe: &Path, args: &[String]) -> Row {
    let once = || -> Result<(Duration, Option<i32>), String> {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env("BC_SKIP_MAPPING", "TRUE")
            .env("CHECKOV_SKIP_VERSION_CHECK", "1")
            .status()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        Ok((start.elapsed(), status.code()))
    };
    if let Err(e) = once() {
        return absent(name, &e);
    }
    let mut times = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..TOOL_RUNS {
        match once() {
            Ok((elapsed, code)) => {
                times.push(ms(elapsed));
                codes.push(code);
            }
            Err(e) => return absent(name, &e),
        }
    }
    let (median, p95) = stats(&mut times);
    Row {
        tool: name.to_string(),
        runs: times.len(),
        median,
        p95: Some(p95),
        note: format!(
            "process incl. start-up; exit {}",
            codes
                .first()
                .copied()
                .flatten()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "by signal".into())
        ),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and p95 (nearest rank).
fn stats(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
    (median, values[rank - 1])
}

/// A template of `n` resources cycling through the types the rules cover; every third of a
/// kind is non-compliant (no encryption, public access, SSH from anywhere, no tags …).
fn generate(n: usize) -> String {
    let mut t = String::from(
        "AWSTemplateFormatVersion: \"2010-09-09\"\nDescription: opsdeck compliance benchmark\nParameters:\n  Environment:\n    Type: String\n    Default: PRD\n  KeyArn:\n    Type: String\n    Default: arn:aws:kms:us-east-1:123456789012:key/bench\nResources:\n",
    );
    let tags = "      Tags:\n        - Key: Owner\n          Value: platform-team\n        - Key: Environment\n          Value: !Ref Environment\n        - Key: ManagedBy\n          Value: opsdeck\n        - Key: CostCenter\n          Value: cc-1234\n";
    for i in 0..n {
        let bad = i % 3 == 2;
        let kind = i % 10;
        let id = format!("R{i:04}");
        let tagged = if bad && i % 2 == 0 { "" } else { tags };
        let _ = match kind {
            0 | 5 => write!(
                t,
                "  {id}Bucket:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n    Properties:\n{}{}      VersioningConfiguration:\n        Status: Enabled\n{tagged}",
                if bad {
                    ""
                } else {
                    "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: aws:kms\n              KMSMasterKeyID: !Ref KeyArn\n            BucketKeyEnabled: true\n"
                },
                if bad {
                    "      PublicAccessBlockConfiguration:\n        BlockPublicAcls: false\n        BlockPublicPolicy: true\n"
                } else {
                    "      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n"
                },
            ),
            1 => write!(
                t,
                "  {id}Sg:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: bench {i}\n      VpcId: vpc-123\n      SecurityGroupIngress:\n        - IpProtocol: tcp\n          FromPort: {}\n          ToPort: {}\n          CidrIp: {}\n{tagged}",
                if bad { 22 } else { 443 },
                if bad { 22 } else { 443 },
                if bad { "0.0.0.0/0" } else { "10.0.0.0/8" },
            ),
            2 => write!(
                t,
                "  {id}Volume:\n    Type: AWS::EC2::Volume\n    Properties:\n      AvailabilityZone: us-east-1a\n      Size: 20\n      Encrypted: {}\n{tagged}",
                !bad
            ),
            3 => write!(
                t,
                "  {id}Db:\n    Type: AWS::RDS::DBInstance\n    DeletionPolicy: Snapshot\n    Properties:\n      Engine: postgres\n      DBInstanceClass: db.t3.micro\n      AllocatedStorage: \"20\"\n      StorageEncrypted: {}\n      PubliclyAccessible: {}\n      MultiAZ: true\n      BackupRetentionPeriod: 7\n      DeletionProtection: true\n      ManageMasterUserPassword: true\n      MasterUsername: bench\n{tagged}",
                !bad, bad
            ),
            4 => write!(
                t,
                "  {id}Key:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: {}\n      KeyPolicy:\n        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n            Principal:\n              AWS: arn:aws:iam::123456789012:root\n            Action: kms:*\n            Resource: \"*\"\n{tagged}",
                !bad
            ),
            6 => write!(
                t,
                "  {id}Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n          - Effect: Allow\n            Principal:\n              Service: ec2.amazonaws.com\n            Action: sts:AssumeRole\n      Policies:\n        - PolicyName: p{i}\n          PolicyDocument:\n            Version: \"2012-10-17\"\n            Statement:\n              - Effect: Allow\n                Action: {}\n                Resource: \"*\"\n{tagged}",
                if bad { "\"*\"" } else { "s3:GetObject" }
            ),
            7 => write!(
                t,
                "  {id}Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: {}\n{}{tagged}",
                if bad { 1 } else { 365 },
                if bad {
                    ""
                } else {
                    "      KmsKeyId: !Ref KeyArn\n"
                }
            ),
            8 => write!(
                t,
                "  {id}Instance:\n    Type: AWS::EC2::Instance\n    Properties:\n      ImageId: ami-12345678\n      InstanceType: t3.micro\n      Monitoring: true\n      BlockDeviceMappings:\n        - DeviceName: /dev/xvda\n          Ebs:\n            VolumeSize: 20\n            Encrypted: {}\n{tagged}",
                !bad
            ),
            _ => write!(
                t,
                "  {id}Subnet:\n    Type: AWS::EC2::Subnet\n    Properties:\n      VpcId: vpc-123\n      CidrBlock: 10.{}.{}.0/24\n      MapPublicIpOnLaunch: {}\n{tagged}",
                (i / 256) % 256,
                i % 256,
                bad
            ),
        };
    }
    t
}
