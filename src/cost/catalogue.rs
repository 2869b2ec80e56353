//! The price catalogue: on-demand list prices by kind, key and region, each with its source and
//! "as of" date.
//!
//! The bundled catalogue (`prices.tsv`, derived by `scripts/gen_prices.py` from the shared price
//! files) is compiled in and parsed after the first frame. `opsdeck prices refresh` writes a
//! catalogue of the same format to `<data dir>/prices.tsv`; its cells override the bundled ones.
//!
//! Lookup order for a region: the region's own cell → the `*` cell (the same price everywhere:
//! exact) → the us-east-1 price × the region's multiplier (an *estimate*) → the us-east-1 price
//! alone, for a region with no multiplier (an *estimate*, saying so) → not priced.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// Hours in a month, as the AWS pricing calculator and Infracost count them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The region every fallback starts from.
pub const BASE_REGION: &str = "us-east-1";

/// The bundled catalogue's text.
pub const BUNDLED: &str = include_str!("prices.tsv");

/// What a row prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// EC2 Linux on-demand, per hour; key = instance type.
    Ec2,
    /// RDS instance per hour; key = `engine/class/single-az|multi-az`.
    Rds,
    /// RDS storage, IOPS and throughput; key = AWS's label.
    RdsStorage,
    /// EBS storage per GB-month; key = volume type (and `snapshot`).
    Ebs,
    /// EBS provisioned IOPS per IOPS-month; key = volume type.
    EbsIops,
    /// EBS provisioned throughput per MiBps-month; key = volume type.
    EbsThroughput,
    /// ElastiCache node per hour; key = `engine/node type`.
    ElastiCache,
    /// A named unit price, e.g. `nat_gateway_hour`.
    Unit,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ec2 => "ec2",
            Kind::Rds => "rds",
            Kind::RdsStorage => "rds-storage",
            Kind::Ebs => "ebs",
            Kind::EbsIops => "ebs-iops",
            Kind::EbsThroughput => "ebs-throughput",
            Kind::ElastiCache => "elasticache",
            Kind::Unit => "unit",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "ec2" => Kind::Ec2,
            "rds" => Kind::Rds,
            "rds-storage" => Kind::RdsStorage,
            "ebs" => Kind::Ebs,
            "ebs-iops" => Kind::EbsIops,
            "ebs-throughput" => Kind::EbsThroughput,
            "elasticache" => Kind::ElastiCache,
            "unit" => Kind::Unit,
            _ => return None,
        })
    }
}

/// Where prices come from, and when they were true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: String,
    /// `YYYY-MM-DD` (or `YYYY-MM`).
    pub as_of: String,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    usd: f64,
    source: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    unit: String,
    /// By region, or `*` for "every region".
    cells: HashMap<String, Cell>,
}

/// One price, as looked up for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub usd: f64,
    pub unit: String,
    /// The source id (see [`Catalogue::source`]).
    pub source: String,
    /// `Some(why)` when the price is not the region's own: the us-east-1 price scaled by a
    /// multiplier, or taken as it is.
    pub estimate: Option<String>,
}

/// A catalogue file that could not be read, at `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CatalogueError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    sources: Vec<Source>,
    multipliers: HashMap<String, f64>,
    rows: HashMap<(Kind, String), Row>,
    /// The refreshed catalogue laid over the bundled one, if any.
    pub refreshed: Option<PathBuf>,
    /// Why a refreshed catalogue in the data dir was not used (it stays on disk).
    pub refresh_problem: Option<String>,
}

impl Catalogue {
    /// The bundled catalogue. Its text is compiled in and tested, so it parses.
    pub fn bundled() -> Catalogue {
        Catalogue::parse(BUNDLED, "<bundled prices.tsv>").unwrap_or_else(|e| {
            // Unreachable while `bundled_catalogue_parses` passes; an empty catalogue prices
            // nothing rather than inventing figures.
            Catalogue {
                refresh_problem: Some(format!("the bundled catalogue is broken: {e}")),
                ..Catalogue::default()
            }
        })
    }

    /// The bundled catalogue, overlaid by `<data dir>/prices.tsv` when a refresh wrote one, and
    /// by the configured region multipliers. A refreshed file that cannot be read is reported
    /// in [`Catalogue::refresh_problem`] and left out.
    pub fn load(data_dir: &Path, multipliers: &BTreeMap<String, f64>) -> Catalogue {
        let mut catalogue = Catalogue::bundled();
        let path = refreshed_path(data_dir);
        match crate::files::read_text(&path, crate::files::FileKind::Prices) {
            Ok(text) => match Catalogue::parse(&text, &path.display().to_string()) {
                Ok(refreshed) => {
                    catalogue.overlay(refreshed);
                    catalogue.refreshed = Some(path);
                }
                Err(e) => {
                    catalogue.refresh_problem = Some(format!(
                        "the refreshed catalogue is not used: {e}; run `opsdeck prices refresh` again"
                    ))
                }
            },
            Err(e) if e.is_missing() => {}
            Err(e) => {
                catalogue.refresh_problem =
                    Some(format!("the refreshed catalogue is not used: {e}"))
            }
        }
        for (region, factor) in multipliers {
            catalogue.multipliers.insert(region.clone(), *factor);
        }
        catalogue
    }

    /// Parse a catalogue's text (see `scripts/gen_prices.py` for the format).
    pub fn parse(text: &str, file: &str) -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue::default();
        let mut columns: Option<Vec<String>> = None;
        let mut source_index: HashMap<String, usize> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let err = |message: String| CatalogueError {
                file: file.to_string(),
                line: n + 1,
                message,
            };
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            match fields[0] {
                "#regions" => {
                    if fields.len() < 2 {
                        return Err(err("#regions names no column".into()));
                    }
                    columns = Some(fields[1..].iter().map(|s| s.to_string()).collect());
                }
                "#source" => {
                    let [_, id, as_of, description @ ..] = fields.as_slice() else {
                        return Err(err("#source needs an id and a date".into()));
                    };
                    let source = Source {
                        id: id.to_string(),
                        as_of: as_of.to_string(),
                        description: description.join(" "),
                    };
                    source_index.insert(source.id.clone(), catalogue.sources.len());
                    catalogue.sources.push(source);
                }
                "#multiplier" => {
                    let [_, region, factor] = fields.as_slice() else {
                        return Err(err("#multiplier needs a region and a factor".into()));
                    };
                    let factor: f64 = factor
                        .parse()
                        .ok()
                        .filter(|f: &f64| f.is_finite() && *f > 0.0)
                        .ok_or_else(|| err(format!("multiplier {factor:?} is not a number")))?;
                    catalogue.multipliers.insert(region.to_string(), factor);
                }
                first if first.starts_with('#') => {}
                kind_text => {
                    let Some(columns) = &columns else {
                        return Err(err("a price row before the #regions line".into()));
                    };
                    let kind = Kind::parse(kind_text)
                        .ok_or_else(|| err(format!("unknown kind {kind_text:?}")))?;
                    if fields.len() != 4 + columns.len() {
                        return Err(err(format!(
                            "expected {} columns (kind, key, unit, source and {} prices), found {}",
                            4 + columns.len(),
                            columns.len(),
                            fields.len()
                        )));
                    }
                    let (key, unit, source) = (fields[1], fields[2], fields[3]);
                    let source = *source_index.get(source).ok_or_else(|| {
                        err(format!("source {source:?} has no #source line before it"))
                    })?;
                    let row = catalogue
                        .rows
                        .entry((kind, key.to_string()))
                        .or_insert_with(|| Row {
                            unit: unit.to_string(),
                            cells: HashMap::new(),
                        });
                    if row.unit != unit {
                        return Err(err(format!(
                            "{} {key}: unit {unit} differs from {} on an earlier row",
                            kind.as_str(),
                            row.unit
                        )));
                    }
                    for (region, cell) in columns.iter().zip(&fields[4..]) {
                        if *cell == "-" {
                            continue;
                        }
                        let usd: f64 = cell
                            .parse()
                            .ok()
                            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                            .ok_or_else(|| {
                                err(format!("{region}: {cell:?} is not a price in USD"))
                            })?;
                        if row
                            .cells
                            .insert(region.clone(), Cell { usd, source })
                            .is_some()
                        {
                            return Err(err(format!(
                                "{} {key} {region}: a price given twice",
                                kind.as_str()
                            )));
                        }
                    }
                }
            }
        }
        if columns.is_none() {
            return Err(CatalogueError {
                file: file.to_string(),
                line: 1,
                message: "no #regions line: not a price catalogue".into(),
            });
        }
        Ok(catalogue)
    }

    /// Lay `other`'s cells over this catalogue's (a refresh over the bundled prices).
    pub fn overlay(&mut self, other: Catalogue) {
        let mut remap = Vec::with_capacity(other.sources.len());
        for source in other.sources {
            match self.sources.iter().position(|s| s.id == source.id) {
                Some(i) => {
                    self.sources[i] = source;
                    remap.push(i);
                }
                None => {
                    remap.push(self.sources.len());
                    self.sources.push(source);
                }
            }
        }
        for (region, factor) in other.multipliers {
            self.multipliers.insert(region, factor);
        }
        for (key, row) in other.rows {
            let mine = self.rows.entry(key).or_insert_with(|| Row {
                unit: row.unit.clone(),
                cells: HashMap::new(),
            });
            for (region, cell) in row.cells {
                mine.cells.insert(
                    region,
                    Cell {
                        usd: cell.usd,
                        source: remap[cell.source],
                    },
                );
            }
        }
    }

    /// Every source, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// Source id → as-of date, for every source.
    pub fn as_of(&self) -> BTreeMap<String, String> {
        self.sources
            .iter()
            .map(|s| (s.id.clone(), s.as_of.clone()))
            .collect()
    }

    /// "prices as of …": every source's date, oldest first, for a line on screen.
    pub fn as_of_line(&self) -> String {
        let mut dates: Vec<(&str, &str)> = self
            .sources
            .iter()
            .map(|s| (s.as_of.as_str(), s.id.as_str()))
            .collect();
        dates.sort();
        let parts: Vec<String> = dates.iter().map(|(d, id)| format!("{id} {d}")).collect();
        format!("prices as of {}", parts.join(", "))
    }

    /// Number of priced (kind, key) rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The price of `key` of `kind` in `region`, or `None` when the catalogue has none.
    pub fn price(&self, kind: Kind, key: &str, region: &str) -> Option<Price> {
        let row = self.rows.get(&(kind, key.to_string()))?;
        let found = |cell: &Cell, estimate: Option<String>| Price {
            usd: cell.usd,
            unit: row.unit.clone(),
            source: self.sources[cell.source].id.clone(),
            estimate,
        };
        if let Some(cell) = row.cells.get(region) {
            return Some(found(cell, None));
        }
        if let Some(cell) = row.cells.get("*") {
            return Some(found(cell, None));
        }
        let base = row.cells.get(BASE_REGION)?;
        match self.multipliers.get(region) {
            Some(factor) => {
                let mut price = found(
                    base,
                    Some(format!(
                        "{region}: the {BASE_REGION} price × {factor} (median regional multiplier)"
                    )),
                );
                price.usd = base.usd * factor;
                Some(price)
            }
            None => Some(found(
                base,
                Some(format!(
                    "{region}: no regional price or multiplier; the {BASE_REGION} price"
                )),
            )),
        }
    }
}

/// Where `opsdeck prices refresh` writes the refreshed catalogue.
pub fn refreshed_path(data_dir: &Path) -> PathBuf {
    data_dir.join("prices.tsv")
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalogue_parses() {
        let c = Catalogue::parse(BUNDLED, "prices.tsv").expect("the bundled catalogue parses");
        assert!(c.len() > 1000, "{}", c.len());
        assert_eq!(
            c.source("ec2").map(|s| s.as_of.as_str()),
            Some("2025-04-04")
        );
        assert!(
            c.as_of_line()
                .starts_with("prices as of ebs 2024-07-18, rds 2024-09-28"),
            "{}",
            c.as_of_line()
        );
    }

    #[test]
    fn lookup_order_is_exact_then_star_then_estimates() {
        let c = Catalogue::bundled();
        // exact cell, from the newer source in us-east-1
        let p = c.price(Kind::Ec2, "m5.large", "us-east-1").expect("priced");
        assert_eq!(
            (p.usd, p.source.as_str(), p.estimate),
            (0.096, "karpenter", None)
        );
        let p = c.price(Kind::Ec2, "m5.large", "eu-west-1").expect("priced");
        assert_eq!((p.usd, p.source.as_str()), (0.107, "ec2"));
        // `*`: the same everywhere, exact
        let p = c
            .price(Kind::Unit, "eks_cluster_hour", "sa-east-1")
            .expect("priced");
        assert_eq!((p.usd, p.estimate), (0.1, None));
        // a known region without its own cell: us-east-1 × multiplier, marked
        let p = c
            .price(Kind::Unit, "kms_key_month", "eu-west-1")
            .expect("priced");
        assert!((p.usd - 1.0 * 1.115).abs() < 1e-12);
        assert!(p.estimate.as_deref().is_some_and(|e| e.contains("1.115")));
        // an unknown region: the us-east-1 price, marked
        let p = c.price(Kind::Ec2, "m5.large", "sa-east-1").expect("priced");
        assert_eq!(p.usd, 0.096);
        assert!(
            p.estimate
                .as_deref()
                .is_some_and(|e| e.contains("no regional price or multiplier"))
        );
        assert_eq!(c.price(Kind::Ec2, "z9.huge", "us-east-1"), None);
    }

    #[test]
    fn refreshed_cells_override_bundled_ones_and_keep_their_source() {
        let mut c = Catalogue::bundled();
        let refreshed = Catalogue::parse(
            "#regions\tus-east-1\tca-central-1\n#source\taws-price-list\t2026-11-20\tAWS Price List bulk API\nec2\tm5.large\thour\taws-price-list\t0.1\t0.107\n",
            "refreshed",
        )
        .expect("parses");
        c.overlay(refreshed);
        let p = c.price(Kind::Ec2, "m5.large", "us-east-1").expect("priced");
        assert_eq!((p.usd, p.source.as_str()), (0.1, "aws-price-list"));
        let p = c
            .price(Kind::Ec2, "m5.large", "ca-central-1")
            .expect("priced");
        assert_eq!((p.usd, p.estimate), (0.107, None));
        // other cells stay bundled
        let p = c.price(Kind::Ec2, "m5.large", "eu-west-1").expect("priced");
        assert_eq!(p.source, "ec2");
        assert_eq!(
            c.as_of().get("aws-price-list").map(String::as_str),
            Some("2026-11-20")
        );
    }

    #[test]
    fn broken_catalogues_name_file_and_line() {
        let e = Catalogue::parse(
            "#regions\tus-east-1\n#source\ts\t2026-01-01\tx\nec2\tm5.large\thour\ts\tcheap\n",
            "p.tsv",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.to_string().starts_with("p.tsv:3: us-east-1: \"cheap\""),
            "{e}"
        );
        let e = Catalogue::parse("ec2\tm5.large\thour\ts\t1\n", "p.tsv").unwrap_err();
        assert!(e.message.contains("#regions"), "{e}");
        let e = Catalogue::parse(
            "#regions\tus-east-1\n#source\ts\t2026\tx\nec2\ta\thour\ts\t1\nec2\ta\thour\ts\t2\n",
            "p.tsv",
        )
        .unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("given twice"), "{e}");
    }

    #[test]
    fn a_broken_refreshed_file_is_reported_and_the_bundled_prices_stay() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(refreshed_path(dir.path()), "not a catalogue\n").expect("written");
        let c = Catalogue::load(dir.path(), &BTreeMap::new());
        assert!(c.refreshed.is_none());
        assert!(
            c.refresh_problem
                .as_deref()
                .is_some_and(|p| p.contains("prices.tsv:1")),
            "{:?}",
            c.refresh_problem
        );
        assert!(c.price(Kind::Ec2, "m5.large", "us-east-1").is_some());
    }
}
