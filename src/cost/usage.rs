//! The usage file: monthly quantities for usage-priced resources (storage, requests, data
//! processed), keyed by logical id, like Infracost's `infracost-usage.yml`:
//!
//! ```yaml
//! resource_usage:
//!   Nat:
//!     monthly_data_processed_gb: 1000
//!   Assets:
//!     storage_gb: 500
//!   "Log*":                # `*` matches any run of characters
//!     monthly_data_ingested_gb: 20
//! ```
//!
//! An exact logical id wins over a pattern; among patterns, the one with more literal
//! characters wins. Every key is documented in `docs/cost.md` and is a number ≥ 0; an unknown
//! key or a value that is not a number is an error naming the file and line.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The quantities one resource's usage may give. Each pricer reads the keys it documents.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageValues {
    /// GB stored (S3, log groups, DynamoDB, an EBS volume whose size the template leaves open).
    pub storage_gb: Option<f64>,
    /// GB processed by a NAT gateway or an interface VPC endpoint in a month.
    pub monthly_data_processed_gb: Option<f64>,
    /// GB ingested by a log group in a month.
    pub monthly_data_ingested_gb: Option<f64>,
    /// Requests in a month (Lambda invocations, KMS API calls, SNS publishes).
    pub monthly_requests: Option<f64>,
    /// Average duration of one Lambda invocation, in milliseconds.
    pub request_duration_ms: Option<f64>,
    /// S3 PUT, COPY, POST and LIST requests in a month.
    pub monthly_put_requests: Option<f64>,
    /// S3 GET and other read requests in a month.
    pub monthly_get_requests: Option<f64>,
    /// DynamoDB on-demand write request units in a month.
    pub monthly_write_request_units: Option<f64>,
    /// DynamoDB on-demand read request units in a month.
    pub monthly_read_request_units: Option<f64>,
    /// Average load balancer capacity units (ALB LCUs, NLB NLCUs) per hour.
    pub capacity_units: Option<f64>,
}

impl UsageValues {
    /// Every key, as the file spells it, with its value.
    fn fields(&self) -> [(&'static str, Option<f64>); 10] {
        [
            ("storage_gb", self.storage_gb),
            ("monthly_data_processed_gb", self.monthly_data_processed_gb),
            ("monthly_data_ingested_gb", self.monthly_data_ingested_gb),
            ("monthly_requests", self.monthly_requests),
            ("request_duration_ms", self.request_duration_ms),
            ("monthly_put_requests", self.monthly_put_requests),
            ("monthly_get_requests", self.monthly_get_requests),
            (
                "monthly_write_request_units",
                self.monthly_write_request_units,
            ),
            (
                "monthly_read_request_units",
                self.monthly_read_request_units,
            ),
            ("capacity_units", self.capacity_units),
        ]
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v)
    }

    /// Fill keys this entry leaves open from `other`.
    fn fill_from(&mut self, other: &UsageValues) {
        macro_rules! fill {
            ($($field:ident),*) => {$(
                if self.$field.is_none() {
                    self.$field = other.$field;
                }
            )*};
        }
        fill!(
            storage_gb,
            monthly_data_processed_gb,
            monthly_data_ingested_gb,
            monthly_requests,
            request_duration_ms,
            monthly_put_requests,
            monthly_get_requests,
            monthly_write_request_units,
            monthly_read_request_units,
            capacity_units
        );
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageFile {
    /// Accepted for Infracost compatibility; only `0.1` exists.
    #[allow(dead_code)]
    version: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    resource_usage: BTreeMap<String, UsageValues>,
}

/// Usage by logical id (or pattern).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    exact: BTreeMap<String, UsageValues>,
    /// Patterns, most specific first.
    patterns: Vec<(String, UsageValues)>,
    /// Where it was read from, for reports; `None` when no file was read.
    pub source: Option<String>,
}

/// A usage file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct UsageError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Usage {
    /// No usage at all: every usage-priced quantity "depends on usage".
    pub fn none() -> Usage {
        Usage::default()
    }

    /// Parse a usage file's text; errors name `file` and the line.
    pub fn parse(text: &str, file: &str) -> Result<Usage, UsageError> {
        let parsed: UsageFile = if text.trim().is_empty() {
            UsageFile {
                version: None,
                resource_usage: BTreeMap::new(),
            }
        } else {
            yaml_serde::from_str(text).map_err(|e| UsageError {
                file: file.to_string(),
                line: e.location().map(|l| l.line()),
                message: e.to_string(),
            })?
        };
        let mut usage = Usage {
            source: Some(file.to_string()),
            ..Usage::default()
        };
        for (id, values) in parsed.resource_usage {
            for (key, value) in values.fields() {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    return Err(UsageError {
                        file: file.to_string(),
                        line: line_of(text, &id),
                        message: format!(
                            "resource_usage.{id}.{key}: {v} is not a quantity (a number ≥ 0)"
                        ),
                    });
                }
            }
            if id.contains('*') {
                usage.patterns.push((id, values));
            } else {
                usage.exact.insert(id, values);
            }
        }
        usage
            .patterns
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.chars().filter(|c| *c != '*').count()));
        Ok(usage)
    }

    /// Read the file at `path`. `required`: a missing file is an error (`--usage FILE`);
    /// otherwise it means no usage (the default `usage.yml`).
    pub fn load(path: &Path, required: bool) -> Result<Usage, UsageError> {
        match crate::files::read_text(path, crate::files::FileKind::Usage) {
            Ok(text) => Usage::parse(&text, &path.display().to_string()),
            Err(e) if e.is_missing() && !required => Ok(Usage::none()),
            Err(e) => Err(UsageError {
                file: path.display().to_string(),
                line: None,
                message: e.reason(),
            }),
        }
    }

    /// The usage given for `logical_id`: its own entry, with keys it leaves open taken from the
    /// patterns that match it (most specific first).
    pub fn for_resource(&self, logical_id: &str) -> UsageValues {
        let mut values = self.exact.get(logical_id).cloned().unwrap_or_default();
        for (pattern, pattern_values) in &self.patterns {
            if crate::config::glob_match(pattern, logical_id) {
                values.fill_from(pattern_values);
            }
        }
        values
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.patterns.is_empty()
    }
}

/// The 1-based line where `key:` first appears, for errors found after parsing.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches(['"', '\'']);
            t.starts_with(key)
                && t[key.len()..]
                    .trim_start_matches(['"', '\''])
                    .starts_with(':')
        })
        .map(|i| i + 1)
}

/// The default usage file: `<config dir>/usage.yml`.
pub fn default_path(config_dir: &Path) -> std::path::PathBuf {
    config_dir.join("usage.yml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_ids_win_over_patterns_and_patterns_fill_the_rest() {
        let usage = Usage::parse(
            "resource_usage:\n  Nat:\n    monthly_data_processed_gb: 1000\n  Assets:\n    storage_gb: 500\n  \"A*\":\n    storage_gb: 1\n    monthly_get_requests: 10000\n  \"*\":\n    monthly_get_requests: 5\n    monthly_put_requests: 7\n",
            "usage.yml",
        )
        .expect("parses");
        assert_eq!(
            usage.for_resource("Nat").monthly_data_processed_gb,
            Some(1000.0)
        );
        let assets = usage.for_resource("Assets");
        assert_eq!(assets.storage_gb, Some(500.0));
        assert_eq!(assets.monthly_get_requests, Some(10000.0), "A* beats *");
        assert_eq!(assets.monthly_put_requests, Some(7.0));
        assert_eq!(usage.for_resource("Archive").storage_gb, Some(1.0));
        assert_eq!(usage.for_resource("Zed").storage_gb, None);
        assert_eq!(
            usage.for_resource("Zed").get("monthly_put_requests"),
            Some(7.0)
        );
    }

    #[test]
    fn bad_usage_names_the_file_line_and_key() {
        let e = Usage::parse(
            "resource_usage:\n  Nat:\n    monthly_data_processed: 1000\n",
            "u.yml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("monthly_data_processed"), "{e}");
        assert!(e.to_string().starts_with("u.yml:3"), "{e}");
        let e =
            Usage::parse("resource_usage:\n  Nat:\n    storage_gb: lots\n", "u.yml").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = Usage::parse("resource_usage:\n  Nat:\n    storage_gb: -5\n", "u.yml").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("resource_usage.Nat.storage_gb"), "{e}");
    }

    #[test]
    fn a_missing_default_file_means_no_usage_but_a_named_one_is_required() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("usage.yml");
        assert!(Usage::load(&path, false).expect("optional").is_empty());
        let e = Usage::load(&path, true).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }
}
