//! `opsdeck prices refresh`: fetch the AWS Price List bulk offer files (service index →
//! region index → each region's offer file) for EC2 (instances, EBS, NAT), RDS (PostgreSQL and
//! MySQL instances, storage) and ElastiCache, stream-parse them in bounded memory (the EC2
//! regional file is hundreds of MB: one product or one SKU's terms is in memory at a time), and
//! atomically replace `<data dir>/prices.tsv`, whose cells override the bundled catalogue. A
//! refresh that fails anywhere leaves the previous catalogue as it was.
//!
//! The base may be an `http(s)://` URL (the public endpoint or a mirror) or an absolute
//! directory laid out like the endpoint (`<dir>/offers/v1.0/aws/index.json`, …), for
//! air-gapped sites.

use crate::cost::catalogue::Kind;
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The offers refreshed, and what each prices.
pub const OFFERS: [&str; 3] = ["AmazonEC2", "AmazonRDS", "AmazonElastiCache"];

/// Regions refreshed when none is named: those the bundled catalogue has.
pub const DEFAULT_REGIONS: [&str; 5] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
];

/// Why a refresh failed. The previous catalogue is untouched whatever the error.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url}: not a price list file: {message}")]
    Parse { url: String, message: String },
    #[error("{0}")]
    Input(String),
    #[error("cannot write the catalogue {path}: {message}")]
    Write { path: String, message: String },
}

/// One price found in an offer file.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: Kind,
    pub key: String,
    pub unit: &'static str,
    pub region: String,
    pub usd: f64,
}

/// What one offer file gave.
#[derive(Debug, Default)]
pub struct Parsed {
    pub publication_date: Option<String>,
    pub prices: Vec<Found>,
    pub products: u64,
    /// Keys left out because the file priced them twice, differently.
    pub ambiguous: usize,
}

/// What a product is priced as, decided from its attributes.
#[derive(Debug, Clone)]
struct Wanted {
    kind: Kind,
    key: String,
    unit: &'static str,
    region: String,
    /// The price list's unit per catalogue unit (GiBps-mo → MiBps-month: 1024).
    divisor: f64,
}

#[derive(Deserialize)]
struct Product {
    #[serde(rename = "productFamily", default)]
    family: String,
    #[serde(default)]
    attributes: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    dims: HashMap<String, Dim>,
}

#[derive(Deserialize)]
struct Dim {
    #[serde(default)]
    unit: String,
    #[serde(rename = "pricePerUnit", default)]
    price: HashMap<String, String>,
    #[serde(rename = "beginRange", default)]
    begin: Option<String>,
}

/// Decide what a product of `offer` is priced as in the catalogue, if anything.
fn want(offer: &str, p: &Product, fallback_region: &str) -> Option<Wanted> {
    let a = |k: &str| p.attributes.get(k).map(String::as_str).unwrap_or_default();
    if p.attributes.contains_key("fromRegionCode") {
        return None;
    }
    let region = match a("regionCode") {
        "" => fallback_region.to_string(),
        r => r.to_string(),
    };
    let w = |kind, key: String, unit, divisor| {
        Some(Wanted {
            kind,
            key,
            unit,
            region: region.clone(),
            divisor,
        })
    };
    let usage = a("usagetype");
    match (offer, p.family.as_str()) {
        ("AmazonEC2", "Compute Instance") => {
            let box_usage = usage.starts_with("BoxUsage:") || usage.contains("-BoxUsage:");
            (a("tenancy") == "Shared"
                && a("operatingSystem") == "Linux"
                && a("preInstalledSw") == "NA"
                && a("licenseModel") == "No License required"
                && a("capacitystatus") == "Used"
                && a("operation") == "RunInstances"
                && box_usage
                && !a("instanceType").is_empty())
            .then(|| w(Kind::Ec2, a("instanceType").to_string(), "hour", 1.0))?
        }
        ("AmazonEC2", "Storage") => {
            let v = a("volumeApiName");
            matches!(v, "gp2" | "gp3" | "io1" | "io2" | "st1" | "sc1")
                .then(|| w(Kind::Ebs, v.to_string(), "gb-month", 1.0))?
        }
        ("AmazonEC2", "System Operation") if usage.contains("VolumeP-IOPS") => {
            let v = a("volumeApiName");
            matches!(v, "gp3" | "io1" | "io2")
                .then(|| w(Kind::EbsIops, v.to_string(), "iops-month", 1.0))?
        }
        ("AmazonEC2", "Provisioned Throughput") if usage.contains("VolumeP-Throughput") => {
            let v = a("volumeApiName");
            (v == "gp3").then(|| w(Kind::EbsThroughput, "gp3".into(), "mibps-month", 1024.0))?
        }
        ("AmazonEC2", "NAT Gateway") => {
            if usage.ends_with("NatGateway-Hours") {
                w(Kind::Unit, "nat_gateway_hour".into(), "hour", 1.0)
            } else if usage.ends_with("NatGateway-Bytes") {
                w(Kind::Unit, "nat_gateway_gb_processed".into(), "gb", 1.0)
            } else {
                None
            }
        }
        ("AmazonRDS", "Database Instance") => {
            let engine = match a("databaseEngine") {
                "PostgreSQL" => "postgresql",
                "MySQL" => "mysql",
                _ => return None,
            };
            let deployment = match a("deploymentOption") {
                "Single-AZ" => "single-az",
                "Multi-AZ" => "multi-az",
                _ => return None,
            };
            let class = a("instanceType");
            class.starts_with("db.").then(|| {
                w(
                    Kind::Rds,
                    format!("{engine}/{class}/{deployment}"),
                    "hour",
                    1.0,
                )
            })?
        }
        ("AmazonRDS", "Database Storage") if a("databaseEngine") == "Any" => {
            let az = match a("deploymentOption") {
                "Single-AZ" => "Single AZ",
                "Multi-AZ" => "Multi AZ",
                _ => return None,
            };
            let volume = a("volumeType");
            matches!(
                volume,
                "General Purpose"
                    | "General Purpose-GP3"
                    | "Provisioned IOPS"
                    | "Provisioned IOPS-IO2"
                    | "Magnetic"
            )
            .then(|| {
                w(
                    Kind::RdsStorage,
                    format!("Database Storage {az} {volume}"),
                    "gb-month",
                    1.0,
                )
            })?
        }
        ("AmazonElastiCache", "Cache Instance") if a("locationType") == "AWS Region" => {
            let engine = match a("cacheEngine") {
                "Redis" => "redis",
                "Memcached" => "memcached",
                "Valkey" => "valkey",
                _ => return None,
            };
            let node = a("instanceType");
            node.starts_with("cache.")
                .then(|| w(Kind::ElastiCache, format!("{engine}/{node}"), "hour", 1.0))?
        }
        _ => None,
    }
}

struct OfferState<'a> {
    offer: &'a str,
    region: &'a str,
    wanted: HashMap<String, Wanted>,
    seen_products: bool,
    out: Parsed,
}

struct Root<'s, 'a>(&'s mut OfferState<'a>);

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a price list offer file (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(key) = m.next_key::<String>()? {
            match key.as_str() {
                "products" => {
                    m.next_value_seed(Products(&mut *self.0))?;
                    self.0.seen_products = true;
                }
                "terms" => {
                    if !self.0.seen_products {
                        return Err(serde::de::Error::custom(
                            "`terms` comes before `products`: this file cannot be read in bounded memory",
                        ));
                    }
                    m.next_value_seed(Terms(&mut *self.0))?;
                }
                "publicationDate" => {
                    let v: String = m.next_value()?;
                    self.0.out.publication_date = Some(v);
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Products<'s, 'a>(&'s mut OfferState<'a>);

impl<'de> DeserializeSeed<'de> for Products<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Products<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("products by SKU")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(sku) = m.next_key::<String>()? {
            let product: Product = m.next_value()?;
            self.0.out.products += 1;
            if let Some(w) = want(self.0.offer, &product, self.0.region) {
                self.0.wanted.insert(sku, w);
            }
        }
        Ok(())
    }
}

struct Terms<'s, 'a>(&'s mut OfferState<'a>);

impl<'de> DeserializeSeed<'de> for Terms<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Terms<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("terms by type")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(kind) = m.next_key::<String>()? {
            if kind == "OnDemand" {
                m.next_value_seed(OnDemand(&mut *self.0))?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct OnDemand<'s, 'a>(&'s mut OfferState<'a>);

impl<'de> DeserializeSeed<'de> for OnDemand<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnDemand<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("on-demand terms by SKU")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(sku) = m.next_key::<String>()? {
            let Some(w) = self.0.wanted.remove(&sku) else {
                m.next_value::<IgnoredAny>()?;
                continue;
            };
            let terms: HashMap<String, Term> = m.next_value()?;
            // The first tier (beginRange 0) of the first term with a USD price.
            let usd = terms.values().flat_map(|t| t.dims.values()).find_map(|d| {
                let first_tier = d.begin.as_deref().is_none_or(|b| b == "0");
                let price: f64 = d.price.get("USD")?.parse().ok()?;
                (first_tier && !d.unit.is_empty() && price.is_finite() && price >= 0.0)
                    .then_some(price)
            });
            if let Some(usd) = usd {
                self.0.out.prices.push(Found {
                    kind: w.kind,
                    key: w.key,
                    unit: w.unit,
                    region: w.region,
                    usd: usd / w.divisor,
                });
            }
        }
        Ok(())
    }
}

/// Parse one offer file from `reader`, keeping only what the catalogue prices. Memory stays
/// bounded by the products wanted, not the file's size.
pub fn parse_offer(offer: &str, region: &str, reader: impl Read) -> Result<Parsed, String> {
    let mut state = OfferState {
        offer,
        region,
        wanted: HashMap::new(),
        seen_products: false,
        out: Parsed::default(),
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, reader));
    Root(&mut state)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    // A key priced twice: keep it only when both agree.
    let mut by_key: BTreeMap<(Kind, String, String), Vec<f64>> = BTreeMap::new();
    for f in &state.out.prices {
        by_key
            .entry((f.kind, f.key.clone(), f.region.clone()))
            .or_default()
            .push(f.usd);
    }
    let mut ambiguous = 0;
    let mut kept = Vec::new();
    let mut done = std::collections::HashSet::new();
    for f in std::mem::take(&mut state.out.prices) {
        let key = (f.kind, f.key.clone(), f.region.clone());
        if !done.insert(key.clone()) {
            continue;
        }
        let prices = &by_key[&key];
        if prices.iter().all(|p| (p - prices[0]).abs() < 1e-12) {
            kept.push(f);
        } else {
            ambiguous += 1;
        }
    }
    state.out.prices = kept;
    state.out.ambiguous = ambiguous;
    Ok(state.out)
}

/// Where the price list is: a URL (endpoint or mirror) or a directory laid out like it.
#[derive(Debug, Clone)]
pub enum Base {
    Url(String),
    Dir(PathBuf),
}

impl Base {
    pub fn parse(text: &str) -> Result<Base, RefreshError> {
        let t = text.trim_end_matches('/');
        if t.starts_with("http://") || t.starts_with("https://") {
            Ok(Base::Url(t.to_string()))
        } else if t.starts_with('/') {
            Ok(Base::Dir(PathBuf::from(t)))
        } else {
            Err(RefreshError::Input(format!(
                "--offer-url {text:?} is neither an http(s):// URL nor an absolute directory"
            )))
        }
    }

    /// The location of a host-relative path (`/offers/v1.0/aws/index.json`).
    fn at(&self, path: &str) -> String {
        match self {
            Base::Url(u) => format!("{u}{path}"),
            Base::Dir(d) => format!("{}{path}", d.display()),
        }
    }
}

/// How far a refresh has come, for the progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    pub what: String,
    pub bytes: u64,
    pub total: Option<u64>,
}

/// A reader that counts what passes through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fetch one document and parse it with `parse` (on a blocking thread, streaming), reporting
/// progress every second to `progress`.
async fn fetch<T: Send + 'static>(
    client: &reqwest::Client,
    base: &Base,
    path: &str,
    what: &str,
    progress: &(dyn Fn(Progress) + Sync),
    parse: impl FnOnce(Box<dyn Read + Send>) -> Result<T, String> + Send + 'static,
) -> Result<T, RefreshError> {
    let location = base.at(path);
    let read = Arc::new(AtomicU64::new(0));
    let (reader, total): (Box<dyn Read + Send>, Option<u64>) = match base {
        Base::Dir(_) => {
            let file =
                crate::files::open_regular(Path::new(&location), crate::files::FileKind::Prices)
                    .map_err(|e| RefreshError::Fetch {
                        url: location.clone(),
                        message: e.reason(),
                    })?;
            let total = file.metadata().ok().map(|m| m.len());
            (Box::new(file), total)
        }
        Base::Url(_) => {
            use futures::TryStreamExt;
            let response = client
                .get(&location)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| RefreshError::Fetch {
                    url: location.clone(),
                    message: e.to_string(),
                })?;
            let total = response.content_length();
            let body = response.bytes_stream().map_err(std::io::Error::other);
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
            (Box::new(reader), total)
        }
    };
    let counting = Counting {
        inner: reader,
        read: read.clone(),
    };
    let mut task = tokio::task::spawn_blocking(move || parse(Box::new(counting)));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            done = &mut task => break done,
            _ = tick.tick() => progress(Progress {
                what: what.to_string(),
                bytes: read.load(Ordering::Relaxed),
                total,
            }),
        }
    };
    progress(Progress {
        what: what.to_string(),
        bytes: read.load(Ordering::Relaxed),
        total,
    });
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(message)) => Err(RefreshError::Parse {
            url: location,
            message,
        }),
        Err(e) => Err(RefreshError::Parse {
            url: location,
            message: format!("the parser stopped: {e}"),
        }),
    }
}

#[derive(Deserialize)]
struct ServiceIndex {
    #[serde(default)]
    offers: HashMap<String, ServiceOffer>,
}

#[derive(Deserialize)]
struct ServiceOffer {
    #[serde(rename = "currentRegionIndexUrl")]
    region_index: Option<String>,
}

#[derive(Deserialize)]
struct RegionIndex {
    #[serde(default)]
    regions: HashMap<String, RegionOffer>,
}

#[derive(Deserialize)]
struct RegionOffer {
    #[serde(rename = "currentVersionUrl")]
    url: String,
}

/// What a refresh wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub prices: usize,
    pub regions: Vec<String>,
    pub publication: String,
    pub bytes: u64,
    pub ambiguous: usize,
}

/// Refresh the catalogue in `data_dir` from `base` for `regions`.
pub async fn refresh(
    base: &Base,
    regions: &[String],
    data_dir: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, RefreshError> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .read_timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| RefreshError::Input(format!("cannot set up HTTPS: {e}")))?;
    let index: ServiceIndex = fetch(
        &client,
        base,
        "/offers/v1.0/aws/index.json",
        "service index",
        progress,
        |r| serde_json::from_reader(BufReader::new(r)).map_err(|e| e.to_string()),
    )
    .await?;
    let mut found: Vec<Found> = Vec::new();
    let mut publication: Vec<String> = Vec::new();
    let mut bytes = 0;
    let mut ambiguous = 0;
    let counted = |p: Progress| progress(p);
    for offer in OFFERS {
        let Some(path) = index.offers.get(offer).and_then(|o| o.region_index.clone()) else {
            return Err(RefreshError::Parse {
                url: base.at("/offers/v1.0/aws/index.json"),
                message: format!("no {offer} offer with a currentRegionIndexUrl"),
            });
        };
        let region_index: RegionIndex = fetch(
            &client,
            base,
            &path,
            &format!("{offer} region index"),
            &counted,
            |r| serde_json::from_reader(BufReader::new(r)).map_err(|e| e.to_string()),
        )
        .await?;
        for region in regions {
            let Some(entry) = region_index.regions.get(region) else {
                return Err(RefreshError::Input(format!(
                    "{offer} has no price list for region {region}"
                )));
            };
            let (offer_name, region_name) = (offer.to_string(), region.clone());
            let total = Arc::new(AtomicU64::new(0));
            let seen = total.clone();
            let parsed = fetch(
                &client,
                base,
                &entry.url,
                &format!("{offer} {region}"),
                &|p: Progress| {
                    seen.store(p.bytes, Ordering::Relaxed);
                    progress(p)
                },
                move |r| parse_offer(&offer_name, &region_name, r),
            )
            .await?;
            bytes += total.load(Ordering::Relaxed);
            ambiguous += parsed.ambiguous;
            if parsed.prices.is_empty() {
                return Err(RefreshError::Parse {
                    url: base.at(&entry.url),
                    message: format!(
                        "no usable {offer} price for {region} in {} products",
                        parsed.products
                    ),
                });
            }
            if let Some(d) = parsed.publication_date {
                publication.push(d);
            }
            found.extend(parsed.prices);
        }
    }
    publication.sort();
    let published = publication
        .first()
        .map(|d| d.get(..10).unwrap_or(d).to_string())
        .unwrap_or_else(|| "unknown".into());
    let text = render(&found, regions, &published, base);
    let path = crate::cost::catalogue::refreshed_path(data_dir);
    // The result must read back as a catalogue before it replaces anything.
    crate::cost::catalogue::Catalogue::parse(&text, "the refreshed catalogue").map_err(|e| {
        RefreshError::Input(format!("the refreshed catalogue does not read back: {e}"))
    })?;
    write_atomically(data_dir, &path, text.as_bytes())?;
    Ok(Summary {
        path,
        prices: found.len(),
        regions: regions.to_vec(),
        publication: published,
        bytes,
        ambiguous,
    })
}

/// The refreshed catalogue in the bundled format, source `aws-price-list`.
/// Prices of one catalogue row: its unit, and USD by region.
type RowCells = (&'static str, BTreeMap<String, f64>);

fn render(found: &[Found], regions: &[String], published: &str, base: &Base) -> String {
    let mut rows: BTreeMap<(Kind, String), RowCells> = BTreeMap::new();
    for f in found {
        rows.entry((f.kind, f.key.clone()))
            .or_insert_with(|| (f.unit, BTreeMap::new()))
            .1
            .insert(f.region.clone(), f.usd);
    }
    let mut out = String::from(
        "# opsdeck price catalogue v1 - written by `opsdeck prices refresh`; do not edit\n",
    );
    out.push_str(&format!("#regions\t{}\n", regions.join("\t")));
    let origin = match base {
        Base::Url(u) => u.clone(),
        Base::Dir(d) => d.display().to_string(),
    };
    out.push_str(&format!(
        "#source\taws-price-list\t{published}\tAWS Price List bulk API ({origin})\n"
    ));
    for ((kind, key), (unit, cells)) in rows {
        let prices: Vec<String> = regions
            .iter()
            .map(|r| cells.get(r).map_or("-".to_string(), |v| format!("{v}")))
            .collect();
        out.push_str(&format!(
            "{}\t{key}\t{unit}\taws-price-list\t{}\n",
            kind.as_str(),
            prices.join("\t")
        ));
    }
    out
}

/// Write beside `path`, sync, then rename over it: a reader sees the old file or the new one.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), RefreshError> {
    let fail = |e: std::io::Error| RefreshError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    crate::files::private::ensure_private_dir(dir).map_err(fail)?;
    let tmp = dir.join(format!(".prices.tsv.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = crate::files::private::create_private_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC2_OFFER: &str = r#"{
      "formatVersion": "v1.0", "offerCode": "AmazonEC2", "version": "20261120", "publicationDate": "2026-11-20T18:00:00Z",
      "products": {
        "SKU1": {"sku": "SKU1", "productFamily": "Compute Instance", "attributes": {"regionCode": "us-east-1", "instanceType": "m5.large", "tenancy": "Shared", "operatingSystem": "Linux", "preInstalledSw": "NA", "licenseModel": "No License required", "capacitystatus": "Used", "usagetype": "BoxUsage:m5.large", "operation": "RunInstances"}},
        "SKU2": {"sku": "SKU2", "productFamily": "Compute Instance", "attributes": {"regionCode": "us-east-1", "instanceType": "m5.large", "tenancy": "Shared", "operatingSystem": "Windows", "preInstalledSw": "NA", "licenseModel": "No License required", "capacitystatus": "Used", "usagetype": "BoxUsage:m5.large", "operation": "RunInstances:0002"}},
        "SKU3": {"sku": "SKU3", "productFamily": "Storage", "attributes": {"regionCode": "us-east-1", "volumeApiName": "gp3", "usagetype": "EBS:VolumeUsage.gp3"}},
        "SKU4": {"sku": "SKU4", "productFamily": "Provisioned Throughput", "attributes": {"regionCode": "us-east-1", "volumeApiName": "gp3", "usagetype": "EBS:VolumeP-Throughput.gp3"}},
        "SKU5": {"sku": "SKU5", "productFamily": "Data Transfer", "attributes": {"fromRegionCode": "us-east-1", "toRegionCode": "eu-west-1"}}
      },
      "terms": {
        "OnDemand": {
          "SKU1": {"SKU1.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKU1", "priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0990000000"}}}}},
          "SKU2": {"SKU2.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "Hrs", "pricePerUnit": {"USD": "0.1880000000"}}}}},
          "SKU3": {"SKU3.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "GB-Mo", "beginRange": "0", "pricePerUnit": {"USD": "0.0800000000"}}}}},
          "SKU4": {"SKU4.JRTCKXETXF": {"priceDimensions": {"d": {"unit": "GiBps-mo", "beginRange": "0", "pricePerUnit": {"USD": "40.9600000000"}}}}}
        },
        "Reserved": {"SKU1": {"x": {"priceDimensions": {}}}}
      }
    }"#;

    #[test]
    fn an_offer_file_gives_the_prices_the_catalogue_keeps() {
        let parsed = parse_offer("AmazonEC2", "us-east-1", EC2_OFFER.as_bytes()).expect("parses");
        assert_eq!(
            parsed.publication_date.as_deref(),
            Some("2026-11-20T18:00:00Z")
        );
        assert_eq!(parsed.products, 5);
        let mut prices: Vec<(Kind, String, f64)> = parsed
            .prices
            .iter()
            .map(|f| (f.kind, f.key.clone(), f.usd))
            .collect();
        prices.sort_by_key(|a| a.0);
        assert_eq!(
            prices,
            vec![
                (Kind::Ec2, "m5.large".into(), 0.099),
                (Kind::Ebs, "gp3".into(), 0.08),
                (Kind::EbsThroughput, "gp3".into(), 40.96 / 1024.0),
            ]
        );
    }

    #[test]
    fn terms_before_products_is_refused_rather_than_buffered() {
        let e = parse_offer(
            "AmazonEC2",
            "us-east-1",
            r#"{"terms": {}, "products": {}}"#.as_bytes(),
        )
        .unwrap_err();
        assert!(e.contains("terms"), "{e}");
        assert!(parse_offer("AmazonEC2", "us-east-1", "[1, 2]".as_bytes()).is_err());
    }

    #[test]
    fn the_refreshed_catalogue_reads_back_and_overrides() {
        let found = parse_offer("AmazonEC2", "us-east-1", EC2_OFFER.as_bytes())
            .expect("parses")
            .prices;
        let text = render(
            &found,
            &["us-east-1".into()],
            "2026-11-20",
            &Base::Url("http://mirror".into()),
        );
        let refreshed = crate::cost::Catalogue::parse(&text, "r").expect("reads back");
        let mut c = crate::cost::Catalogue::bundled();
        c.overlay(refreshed);
        let p = c.price(Kind::Ec2, "m5.large", "us-east-1").expect("priced");
        assert_eq!((p.usd, p.source.as_str()), (0.099, "aws-price-list"));
    }
}
