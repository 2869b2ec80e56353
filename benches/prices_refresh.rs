//! `opsdeck prices refresh` memory and speed: the release binary fetches a generated 100 MB
//! EC2 offer file (the real format: products, then OnDemand and Reserved terms) from a loopback
//! HTTP server, with the small RDS and ElastiCache files beside it. Reported: the child's peak
//! resident memory (`wait4`'s `ru_maxrss`; budget ≤ 50 MB: the parse is streamed, one product
//! or one SKU's terms in memory at a time), the wall time and the MB/s. A measurement, not a
//! test: over budget is reported, never failed on.
//!
//! Under `cargo test --all-targets` (no `--bench`) it is a smoke check with a 2 MB file: the
//! refresh must succeed and write the generated prices.
//!
//! `OPSDECK_BENCH_OFFER_MB` overrides the file size (default 100).

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const BUDGET_MB: f64 = 50.0;

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target_mb: u64 = if smoke {
        2
    } else {
        std::env::var("OPSDECK_BENCH_OFFER_MB")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("offers");
    let (bytes, wanted) = write_offers(&root, target_mb * 1_000_000);
    let port = serve(root.clone());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");

    let started = Instant::now();
    // Reaped by `wait4` below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args([
            "prices",
            "refresh",
            "--offer-url",
            &format!("http://127.0.0.1:{port}"),
            "--region",
            "us-east-1",
        ])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("OPSDECK_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run opsdeck");
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    // wait4 gives the child's own peak RSS (std's wait does not).
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's, not yet reaped; status and usage outlive the call.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(pid, child.id() as i32, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "refresh failed: {stdout}"
    );
    let catalogue = std::fs::read_to_string(home.join("data/opsdeck/prices.tsv")).expect("written");
    let found = catalogue.lines().filter(|l| l.starts_with("ec2\t")).count();
    assert_eq!(
        found, wanted,
        "every generated Linux instance type is priced"
    );
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    let mb = bytes as f64 / 1e6;
    if smoke {
        println!(
            "prices refresh smoke check ({profile}): {mb:.1} MB offer file, {found} instance prices, peak RSS {peak_mb:.1} MB; `cargo bench --bench prices_refresh` measures"
        );
        return;
    }
    println!(
        "prices refresh ({profile}): {mb:.1} MB EC2 offer file + RDS + ElastiCache in {elapsed:.2} s ({:.0} MB/s), {found} instance prices",
        mb / elapsed
    );
    println!(
        "  peak resident memory {peak_mb:.1} MB (budget {BUDGET_MB} MB: {})",
        if peak_mb <= BUDGET_MB {
            "within"
        } else {
            "OVER"
        }
    );
    println!("  {}", stdout.trim());
}

/// Serve files under `root` by path on 127.0.0.1, one thread per connection.
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if header.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                let file = root.join(path.trim_start_matches('/'));
                let mut out = BufWriter::with_capacity(1 << 16, &stream);
                match std::fs::File::open(&file) {
                    Ok(mut f) => {
                        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                        let _ = write!(
                            out,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                        );
                        let _ = std::io::copy(&mut f, &mut out);
                    }
                    Err(_) => {
                        let _ = write!(
                            out,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
                let _ = out.flush();
            });
        }
    });
    port
}

const LINUX_TYPES: [&str; 8] = [
    "m5.large",
    "m5.xlarge",
    "m6i.large",
    "m6i.xlarge",
    "c7i.large",
    "r7i.large",
    "t3.small",
    "t3.medium",
];

/// The index files and offer files; returns the EC2 file's size and how many Linux instance
/// prices it holds.
fn write_offers(root: &Path, ec2_bytes: u64) -> (u64, usize) {
    let offers = root.join("offers/v1.0/aws");
    let mut index = String::from(
        r#"{"formatVersion":"v1.0","publicationDate":"2026-11-20T00:00:00Z","offers":{"#,
    );
    for (i, code) in ["AmazonEC2", "AmazonRDS", "AmazonElastiCache"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            index.push(',');
        }
        index.push_str(&format!(
            r#""{code}":{{"offerCode":"{code}","currentRegionIndexUrl":"/offers/v1.0/aws/{code}/current/region_index.json"}}"#
        ));
        let dir = offers.join(code).join("current");
        std::fs::create_dir_all(&dir).expect("dirs");
        std::fs::write(
            dir.join("region_index.json"),
            format!(
                r#"{{"regions":{{"us-east-1":{{"regionCode":"us-east-1","currentVersionUrl":"/offers/v1.0/aws/{code}/1/us-east-1/index.json"}}}}}}"#
            ),
        )
        .expect("region index");
        std::fs::create_dir_all(offers.join(code).join("1/us-east-1")).expect("dirs");
    }
    index.push_str("}}");
    std::fs::write(offers.join("index.json"), index).expect("index");
    std::fs::write(
        offers.join("AmazonRDS/1/us-east-1/index.json"),
        r#"{"publicationDate":"2026-11-20T00:00:00Z","products":{"R1":{"productFamily":"Database Instance","attributes":{"regionCode":"us-east-1","instanceType":"db.t4g.micro","databaseEngine":"PostgreSQL","deploymentOption":"Single-AZ"}}},"terms":{"OnDemand":{"R1":{"R1.T":{"priceDimensions":{"R1.T.D":{"unit":"Hrs","beginRange":"0","pricePerUnit":{"USD":"0.016"}}}}}}}}"#,
    )
    .expect("rds");
    std::fs::write(
        offers.join("AmazonElastiCache/1/us-east-1/index.json"),
        r#"{"publicationDate":"2026-11-20T00:00:00Z","products":{"E1":{"productFamily":"Cache Instance","attributes":{"regionCode":"us-east-1","instanceType":"cache.t3.micro","cacheEngine":"Redis","locationType":"AWS Region"}}},"terms":{"OnDemand":{"E1":{"E1.T":{"priceDimensions":{"E1.T.D":{"unit":"Hrs","beginRange":"0","pricePerUnit":{"USD":"0.017"}}}}}}}}"#,
    )
    .expect("elasticache");
    let path = offers.join("AmazonEC2/1/us-east-1/index.json");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("ec2 file"));
    // Products: many operating systems, tenancies and licences for each size; only
    // (Linux, Shared, NA, No License required, Used) prices an instance type.
    let systems = ["Linux", "Windows", "RHEL", "SUSE", "Ubuntu Pro"];
    let tenancies = ["Shared", "Dedicated", "Host"];
    let mut skus = Vec::new();
    let mut written = 0u64;
    let mut n = 0usize;
    let mut linux = std::collections::BTreeSet::new();
    w.write_all(br#"{"formatVersion":"v1.0","disclaimer":"generated for the opsdeck benchmark","offerCode":"AmazonEC2","version":"20261120","publicationDate":"2026-11-20T18:00:00Z","products":{"#)
        .expect("write");
    // Products take about two thirds of a real file; terms the rest.
    while written < ec2_bytes * 2 / 3 {
        let itype = if n.is_multiple_of(LINUX_TYPES.len() * 7) {
            LINUX_TYPES[(n / (LINUX_TYPES.len() * 7)) % LINUX_TYPES.len()].to_string()
        } else {
            format!("x{}.{}xlarge", n % 97, n % 13)
        };
        let os = systems[n % systems.len()];
        let tenancy = tenancies[(n / systems.len()) % tenancies.len()];
        let sku = format!("SKU{n:08}");
        if os == "Linux" && tenancy == "Shared" {
            linux.insert(itype.clone());
        }
        let product = format!(
            r#"{}"{sku}":{{"sku":"{sku}","productFamily":"Compute Instance","attributes":{{"servicecode":"AmazonEC2","location":"US East (N. Virginia)","locationType":"AWS Region","instanceType":"{itype}","currentGeneration":"Yes","instanceFamily":"General purpose","vcpu":"2","physicalProcessor":"Intel Xeon Platinum 8175","clockSpeed":"3.1 GHz","memory":"8 GiB","storage":"EBS only","networkPerformance":"Up to 10 Gigabit","processorArchitecture":"64-bit","tenancy":"{tenancy}","operatingSystem":"{os}","licenseModel":"No License required","usagetype":"BoxUsage:{itype}","operation":"RunInstances","availabilityzone":"NA","capacitystatus":"Used","classicnetworkingsupport":"false","dedicatedEbsThroughput":"Up to 4750 Mbps","ecu":"10","enhancedNetworkingSupported":"Yes","gpuMemory":"NA","intelAvxAvailable":"Yes","intelAvx2Available":"Yes","intelTurboAvailable":"Yes","marketoption":"OnDemand","normalizationSizeFactor":"4","preInstalledSw":"NA","processorFeatures":"Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo","regionCode":"us-east-1","servicename":"Amazon Elastic Compute Cloud","vpcnetworkingsupport":"true"}}}}"#,
            if n == 0 { "" } else { "," }
        );
        written += product.len() as u64;
        w.write_all(product.as_bytes()).expect("write");
        skus.push((sku, itype));
        n += 1;
    }
    w.write_all(br#"},"terms":{"OnDemand":{"#).expect("write");
    for (i, (sku, itype)) in skus.iter().enumerate() {
        // One price per instance type: the same type's SKUs must agree (else it is ambiguous).
        let price = 0.05 + (itype.bytes().map(u64::from).sum::<u64>() % 50) as f64 * 0.01;
        let term = format!(
            r#"{}"{sku}":{{"{sku}.JRTCKXETXF":{{"offerTermCode":"JRTCKXETXF","sku":"{sku}","effectiveDate":"2026-11-01T00:00:00Z","termAttributes":{{}},"priceDimensions":{{"{sku}.JRTCKXETXF.6YS6EN2CT7":{{"rateCode":"{sku}.JRTCKXETXF.6YS6EN2CT7","description":"$ per On Demand Linux instance hour","beginRange":"0","endRange":"Inf","unit":"Hrs","pricePerUnit":{{"USD":"{price:.10}"}},"appliesTo":[]}}}}}}}}"#,
            if i == 0 { "" } else { "," }
        );
        w.write_all(term.as_bytes()).expect("write");
    }
    w.write_all(br#"},"Reserved":{"#).expect("write");
    let mut i = 0;
    while (w.get_ref().metadata().map(|m| m.len()).unwrap_or(0) + w.buffer().len() as u64)
        < ec2_bytes
        && i < skus.len()
    {
        let sku = &skus[i].0;
        let term = format!(
            r#"{}"{sku}":{{"{sku}.4NA7Y494T4":{{"offerTermCode":"4NA7Y494T4","sku":"{sku}","effectiveDate":"2026-11-01T00:00:00Z","termAttributes":{{"LeaseContractLength":"1yr","OfferingClass":"standard","PurchaseOption":"No Upfront"}},"priceDimensions":{{"{sku}.4NA7Y494T4.6YS6EN2CT7":{{"unit":"Hrs","beginRange":"0","endRange":"Inf","pricePerUnit":{{"USD":"0.0600000000"}},"appliesTo":[]}}}}}}}}"#,
            if i == 0 { "" } else { "," }
        );
        w.write_all(term.as_bytes()).expect("write");
        i += 1;
    }
    w.write_all(b"}}}").expect("write");
    w.flush().expect("flush");
    drop(w);
    let size = std::fs::metadata(&path).expect("size").len();
    (size, linux.len())
}
