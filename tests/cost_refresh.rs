//! `opsdeck prices refresh` against a loopback HTTP server serving small offer files in the
//! AWS Price List's real format (service index → region index → regional offer file), and
//! from a directory laid out the same way; a failed refresh leaves the previous catalogue.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use support::TestDirs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `files` by path on 127.0.0.1 (404 otherwise); stops when dropped.
struct OfferServer {
    endpoint: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OfferServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OfferServer {
    async fn start(files: HashMap<String, Vec<u8>>) -> OfferServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let files = Arc::new(Mutex::new(files));
        let shared = files.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let files = shared.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let text = String::from_utf8_lossy(&head);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let body = files.lock().unwrap().get(&path).cloned();
                    let (status, body) = match body {
                        Some(b) => ("200 OK", b),
                        None => ("404 Not Found", b"not found".to_vec()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        OfferServer {
            endpoint,
            files,
            task,
        }
    }

    fn set(&self, path: &str, body: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), body.as_bytes().to_vec());
    }
}

fn service_index() -> String {
    let offer = |code: &str| {
        format!(
            r#""{code}": {{"offerCode": "{code}", "currentVersionUrl": "/offers/v1.0/aws/{code}/current/index.json", "currentRegionIndexUrl": "/offers/v1.0/aws/{code}/current/region_index.json"}}"#
        )
    };
    format!(
        r#"{{"formatVersion": "v1.0", "disclaimer": "test", "publicationDate": "2026-11-20T00:00:00Z", "offers": {{{}, {}, {}, "AWSLambda": {{"offerCode": "AWSLambda"}}}}}}"#,
        offer("AmazonEC2"),
        offer("AmazonRDS"),
        offer("AmazonElastiCache")
    )
}

fn region_index(code: &str) -> String {
    format!(
        r#"{{"formatVersion": "v1.0", "publicationDate": "2026-11-20T00:00:00Z", "regions": {{"us-east-1": {{"regionCode": "us-east-1", "currentVersionUrl": "/offers/v1.0/aws/{code}/20261120/us-east-1/index.json"}}, "ca-central-1": {{"regionCode": "ca-central-1", "currentVersionUrl": "/offers/v1.0/aws/{code}/20261120/ca-central-1/index.json"}}}}}}"#
    )
}

/// A product: SKU, family, attributes, price unit, USD.
type Product<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

/// Products with their on-demand prices, in the offer file's shape.
fn offer_file(code: &str, region: &str, products: &[Product]) -> String {
    let mut p = Vec::new();
    let mut t = Vec::new();
    for (sku, family, attributes, unit, usd) in products {
        let mut attrs: Vec<String> = attributes
            .iter()
            .map(|(k, v)| format!(r#""{k}": "{v}""#))
            .collect();
        attrs.push(format!(r#""regionCode": "{region}""#));
        p.push(format!(
            r#""{sku}": {{"sku": "{sku}", "productFamily": "{family}", "attributes": {{{}}}}}"#,
            attrs.join(", ")
        ));
        t.push(format!(
            r#""{sku}": {{"{sku}.JRTCKXETXF": {{"offerTermCode": "JRTCKXETXF", "sku": "{sku}", "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {{}}, "priceDimensions": {{"{sku}.JRTCKXETXF.6YS6EN2CT7": {{"rateCode": "{sku}.JRTCKXETXF.6YS6EN2CT7", "description": "x", "beginRange": "0", "endRange": "Inf", "unit": "{unit}", "pricePerUnit": {{"USD": "{usd}"}}, "appliesTo": []}}}}}}}}"#
        ));
    }
    format!(
        r#"{{"formatVersion": "v1.0", "disclaimer": "test", "offerCode": "{code}", "version": "20261120", "publicationDate": "2026-11-20T18:00:00Z", "products": {{{}}}, "terms": {{"OnDemand": {{{}}}, "Reserved": {{}}}}}}"#,
        p.join(", "),
        t.join(", ")
    )
}

const LINUX: &[(&str, &str)] = &[
    ("tenancy", "Shared"),
    ("operatingSystem", "Linux"),
    ("preInstalledSw", "NA"),
    ("licenseModel", "No License required"),
    ("capacitystatus", "Used"),
    ("operation", "RunInstances"),
];

fn ec2(region: &str, m5: &str) -> String {
    let mut m5_attrs = LINUX.to_vec();
    m5_attrs.extend([
        ("instanceType", "m5.large"),
        ("usagetype", "BoxUsage:m5.large"),
    ]);
    let mut windows = m5_attrs.clone();
    windows.retain(|(k, _)| *k != "operatingSystem");
    windows.push(("operatingSystem", "Windows"));
    offer_file(
        "AmazonEC2",
        region,
        &[
            ("SKUM5", "Compute Instance", &m5_attrs, "Hrs", m5),
            ("SKUWIN", "Compute Instance", &windows, "Hrs", "0.188"),
            (
                "SKUGP3",
                "Storage",
                &[
                    ("volumeApiName", "gp3"),
                    ("usagetype", "EBS:VolumeUsage.gp3"),
                ],
                "GB-Mo",
                "0.0880000000",
            ),
        ],
    )
}

fn rds(region: &str) -> String {
    offer_file(
        "AmazonRDS",
        region,
        &[(
            "SKUPG",
            "Database Instance",
            &[
                ("instanceType", "db.t4g.micro"),
                ("databaseEngine", "PostgreSQL"),
                ("deploymentOption", "Single-AZ"),
            ],
            "Hrs",
            "0.0170000000",
        )],
    )
}

fn elasticache(region: &str) -> String {
    offer_file(
        "AmazonElastiCache",
        region,
        &[(
            "SKUREDIS",
            "Cache Instance",
            &[
                ("instanceType", "cache.t3.micro"),
                ("cacheEngine", "Redis"),
                ("locationType", "AWS Region"),
            ],
            "Hrs",
            "0.0180000000",
        )],
    )
}

fn files(m5: &str) -> HashMap<String, Vec<u8>> {
    let mut f: HashMap<String, Vec<u8>> = HashMap::new();
    f.insert(
        "/offers/v1.0/aws/index.json".into(),
        service_index().into_bytes(),
    );
    for code in ["AmazonEC2", "AmazonRDS", "AmazonElastiCache"] {
        f.insert(
            format!("/offers/v1.0/aws/{code}/current/region_index.json"),
            region_index(code).into_bytes(),
        );
    }
    for region in ["us-east-1", "ca-central-1"] {
        f.insert(
            format!("/offers/v1.0/aws/AmazonEC2/20261120/{region}/index.json"),
            ec2(region, m5).into_bytes(),
        );
        f.insert(
            format!("/offers/v1.0/aws/AmazonRDS/20261120/{region}/index.json"),
            rds(region).into_bytes(),
        );
        f.insert(
            format!("/offers/v1.0/aws/AmazonElastiCache/20261120/{region}/index.json"),
            elasticache(region).into_bytes(),
        );
    }
    f
}

fn opsdeck(dirs: &TestDirs, args: &[&str]) -> Output {
    support::hermetic_aws_env();
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    dirs.apply(&mut command);
    command.args(args).env("OPSDECK_LOG", "warn");
    command.output().expect("run opsdeck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FIXTURE: &str = "tests/fixtures/cost/ec2-instance.yaml";

fn estimate_json(dirs: &TestDirs, region: &str) -> serde_json::Value {
    let out = opsdeck(
        dirs,
        &["cost", FIXTURE, "--format", "json", "--region", region],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn instance_component(report: &serde_json::Value) -> serde_json::Value {
    report["sources"][0]["resources"][0]["components"][0].clone()
}

#[test]
fn a_refresh_replaces_the_catalogue_and_a_failed_one_keeps_it() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(OfferServer::start(files("0.0990000000")));
    let dirs = TestDirs::new();
    // Before: the bundled price.
    let before = estimate_json(&dirs, "us-east-1");
    assert_eq!(instance_component(&before)["unit_price"], 0.096);

    let out = opsdeck(
        &dirs,
        &[
            "prices",
            "refresh",
            "--offer-url",
            &server.endpoint,
            "--region",
            "us-east-1",
            "--region",
            "ca-central-1",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("AmazonEC2 us-east-1:") && stderr.contains("MB"),
        "progress: {stderr}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("published 2026-11-20") && stdout.contains("MB/s"),
        "{stdout}"
    );
    let catalogue = dirs.data_dir().join("prices.tsv");
    let written = std::fs::read_to_string(&catalogue).expect("the catalogue is written");
    assert!(
        written.contains("ec2\tm5.large\thour\taws-price-list\t0.099\t0.099"),
        "{written}"
    );
    assert!(
        written.contains("rds\tpostgresql/db.t4g.micro/single-az"),
        "{written}"
    );
    assert!(
        written.contains("elasticache\tredis/cache.t3.micro"),
        "{written}"
    );
    assert!(!written.contains("0.188"), "Windows is not the Linux price");

    // After: the refreshed price, with its source and date; a new region is exact now.
    let after = estimate_json(&dirs, "us-east-1");
    let c = instance_component(&after);
    assert_eq!(c["unit_price"], 0.099);
    assert_eq!(c["source"], "aws-price-list");
    assert_eq!(after["prices_as_of"]["aws-price-list"], "2026-11-20");
    let canada = estimate_json(&dirs, "ca-central-1");
    assert_eq!(instance_component(&canada)["unit_price"], 0.099);
    assert_eq!(
        canada["sources"][0]["resources"][0]["estimate"], true,
        "the volumes are still us-east-1's"
    );

    // A broken offer file: exit 2, the previous catalogue byte for byte, no temp file left.
    server.set(
        "/offers/v1.0/aws/AmazonRDS/20261120/us-east-1/index.json",
        r#"{"formatVersion": "v1.0", "products": {"SKU": {"sku": "#,
    );
    let out = opsdeck(
        &dirs,
        &[
            "prices",
            "refresh",
            "--offer-url",
            &server.endpoint,
            "--region",
            "us-east-1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("AmazonRDS/20261120/us-east-1/index.json") && stderr.contains("unchanged"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&catalogue).expect("still there"),
        written
    );
    let leftovers: Vec<_> = std::fs::read_dir(dirs.data_dir())
        .expect("data dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A region the price list does not have: exit 2, named.
    let out = opsdeck(
        &dirs,
        &[
            "prices",
            "refresh",
            "--offer-url",
            &server.endpoint,
            "--region",
            "eu-west-3",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("eu-west-3"),
        "{}",
        text(&out.stderr)
    );
    drop(server);
}

#[test]
fn an_air_gapped_mirror_directory_works_like_the_endpoint() {
    let dirs = TestDirs::new();
    let mirror = dirs.root().join("mirror");
    for (path, body) in files("0.1010000000") {
        let file = mirror.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
        std::fs::write(&file, body).expect("written");
    }
    let mirror_arg = mirror.to_str().expect("utf-8").to_string();
    let out = opsdeck(
        &dirs,
        &[
            "prices",
            "refresh",
            "--offer-url",
            &mirror_arg,
            "--region",
            "us-east-1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = estimate_json(&dirs, "us-east-1");
    assert_eq!(instance_component(&after)["unit_price"], 0.101);
    assert!(Path::new(&dirs.data_dir().join("prices.tsv")).is_file());
    // A relative path is refused before anything is fetched.
    let out = opsdeck(&dirs, &["prices", "refresh", "--offer-url", "mirror"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("absolute directory"),
        "{}",
        text(&out.stderr)
    );
}
