//! `[assistant]`: the Bedrock model the chat pane talks to, and what its tokens cost.
//!
//! ```toml
//! [assistant]
//! model_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"   # the assistant is on when set
//! region = "us-east-1"              # default: the session's region
//! max_tokens = 4096
//! temperature = 0.2
//! endpoint_url = "http://127.0.0.1:8080"   # default: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, then --endpoint-url
//!
//! [assistant.prices."anthropic.claude-sonnet-4-5-20250929-v1:0"]   # USD per million tokens
//! input = 3.3
//! output = 16.5
//! cache_read = 0.33
//! cache_write = 4.125
//! ```
//!
//! Every value is checked here, so a mistake is reported with its file, line and key.

use super::{Checker, ConfigError, region_problem};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The largest `max_tokens` accepted (Claude's largest output today is 64k; leave room).
const MAX_TOKENS_LIMIT: i64 = 200_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([assistant])")]
pub(super) struct RawAssistant {
    model_id: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    max_tokens: Option<Spanned<i64>>,
    temperature: Option<Spanned<f64>>,
    endpoint_url: Option<Spanned<String>>,
    prices: Option<BTreeMap<String, Spanned<RawPrice>>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table of prices per million tokens"
)]
struct RawPrice {
    input: Spanned<f64>,
    output: Spanned<f64>,
    cache_read: Option<Spanned<f64>>,
    cache_write: Option<Spanned<f64>>,
}

/// USD per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

/// `[assistant]` of one file, checked; every key still optional.
#[derive(Debug, Default)]
pub(super) struct AssistantLayer {
    model_id: Option<String>,
    region: Option<String>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    endpoint_url: Option<String>,
    prices: Option<BTreeMap<String, ModelPrice>>,
}

/// `[assistant]`, resolved (defaults under the user's file).
#[derive(Debug, Clone, PartialEq)]
pub struct AssistantConfig {
    /// The Bedrock model or inference profile; the assistant is off without one.
    pub model_id: Option<String>,
    /// Bedrock's region when it differs from the session's.
    pub region: Option<String>,
    pub max_tokens: u32,
    pub temperature: f32,
    pub endpoint_url: Option<String>,
    /// Prices that replace the built-in table, by model id (or its base name).
    pub prices: BTreeMap<String, ModelPrice>,
}

/// What `config/default.toml` sets, should it stop setting them.
const DEFAULT_MAX_TOKENS: u32 = 4096;
const DEFAULT_TEMPERATURE: f32 = 0.2;

impl AssistantLayer {
    pub(super) fn merge(user: AssistantLayer, defaults: AssistantLayer) -> AssistantConfig {
        AssistantConfig {
            model_id: user.model_id.or(defaults.model_id),
            region: user.region.or(defaults.region),
            max_tokens: user
                .max_tokens
                .or(defaults.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS),
            temperature: user
                .temperature
                .or(defaults.temperature)
                .unwrap_or(DEFAULT_TEMPERATURE),
            endpoint_url: user.endpoint_url.or(defaults.endpoint_url),
            prices: user.prices.or(defaults.prices).unwrap_or_default(),
        }
    }

    #[cfg(test)]
    pub(super) fn sets_every_scalar_default(&self) -> bool {
        self.max_tokens == Some(DEFAULT_MAX_TOKENS) && self.temperature == Some(DEFAULT_TEMPERATURE)
    }
}

impl Checker<'_> {
    pub(super) fn assistant(&self, raw: RawAssistant) -> Result<AssistantLayer, ConfigError> {
        let mut layer = AssistantLayer {
            model_id: self.non_empty(raw.model_id, "assistant.model_id")?,
            ..AssistantLayer::default()
        };
        if let Some(region) = &raw.region
            && let Some(problem) = region_problem(region.get_ref())
        {
            return Err(self.invalid(region.span(), "assistant.region", problem));
        }
        layer.region = self.non_empty(raw.region, "assistant.region")?;
        if let Some(n) = raw.max_tokens {
            let v = *n.get_ref();
            if !(1..=MAX_TOKENS_LIMIT).contains(&v) {
                return Err(self.invalid(
                    n.span(),
                    "assistant.max_tokens",
                    format!("{v} is not a number of tokens from 1 to {MAX_TOKENS_LIMIT}"),
                ));
            }
            layer.max_tokens = u32::try_from(v).ok();
        }
        if let Some(t) = raw.temperature {
            let v = *t.get_ref();
            if !(0.0..=1.0).contains(&v) {
                return Err(self.invalid(
                    t.span(),
                    "assistant.temperature",
                    format!("{v} is not a temperature from 0.0 to 1.0"),
                ));
            }
            layer.temperature = Some(v as f32);
        }
        if let Some(url) = &raw.endpoint_url {
            let u = url.get_ref();
            let has_host = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"))
                .is_some_and(|rest| !rest.is_empty());
            if !has_host {
                return Err(self.invalid(
                    url.span(),
                    "assistant.endpoint_url",
                    format!("{u:?} is not an http:// or https:// URL"),
                ));
            }
        }
        layer.endpoint_url = raw.endpoint_url.map(Spanned::into_inner);
        if let Some(prices) = raw.prices {
            let mut out = BTreeMap::new();
            for (model, price) in prices {
                let span = price.span();
                let price = price.into_inner();
                let key = |field: &str| format!("assistant.prices.{model:?}.{field}");
                let check = |v: &Spanned<f64>, field: &str| -> Result<f64, ConfigError> {
                    let n = *v.get_ref();
                    if n.is_finite() && n >= 0.0 {
                        Ok(n)
                    } else {
                        Err(self.invalid(
                            v.span(),
                            key(field),
                            format!("{n} is not a price in USD per million tokens (0 or more)"),
                        ))
                    }
                };
                if model.trim().is_empty() {
                    return Err(self.invalid(
                        span,
                        "assistant.prices",
                        "a price needs a model id as its key".into(),
                    ));
                }
                let input = check(&price.input, "input")?;
                let output = check(&price.output, "output")?;
                let cache_read = match &price.cache_read {
                    Some(v) => check(v, "cache_read")?,
                    None => input / 10.0,
                };
                let cache_write = match &price.cache_write {
                    Some(v) => check(v, "cache_write")?,
                    None => input * 1.25,
                };
                out.insert(
                    model,
                    ModelPrice {
                        input,
                        output,
                        cache_read,
                        cache_write,
                    },
                );
            }
            layer.prices = Some(out);
        }
        Ok(layer)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("/home/u/.config/opsdeck/config.toml"))
    }

    #[test]
    fn the_assistant_is_off_by_default_and_takes_its_keys() {
        let c = parse("").expect("defaults");
        assert_eq!(c.assistant.model_id, None);
        assert_eq!(c.assistant.max_tokens, 4096);
        let c = parse(
            "[assistant]\nmodel_id = \"us.anthropic.claude-sonnet-4-5-20250929-v1:0\"\nregion = \"us-west-2\"\nmax_tokens = 1000\ntemperature = 0\nendpoint_url = \"http://127.0.0.1:9\"\n[assistant.prices.\"my-model\"]\ninput = 1\noutput = 2\n",
        )
        .expect("valid");
        let a = &c.assistant;
        assert_eq!(
            a.model_id.as_deref(),
            Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert_eq!((a.max_tokens, a.temperature), (1000, 0.0));
        assert_eq!(a.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        let p = a.prices["my-model"];
        assert_eq!(
            (p.input, p.output, p.cache_read, p.cache_write),
            (1.0, 2.0, 0.1, 1.25)
        );
    }

    #[test]
    fn a_bad_assistant_value_names_file_line_and_key() {
        let cases = [
            ("[assistant]\ntemperature = 3\n", 2, "assistant.temperature"),
            ("[assistant]\n\nmax_tokens = 0\n", 3, "assistant.max_tokens"),
            (
                "[assistant]\nendpoint_url = \"bedrock\"\n",
                2,
                "assistant.endpoint_url",
            ),
            (
                "[assistant]\nregion = \"US-EAST-1\"\n",
                2,
                "assistant.region",
            ),
            ("[assistant]\nmodel_id = \"\"\n", 2, "assistant.model_id"),
            (
                "[assistant.prices.\"m\"]\ninput = -1\noutput = 1\n",
                2,
                "assistant.prices.\"m\".input",
            ),
        ];
        for (text, line, key) in cases {
            let e = parse(text).expect_err(text);
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("/home/u/.config/opsdeck/config.toml:{line}:")),
                "{text}: {shown}"
            );
            assert!(shown.contains(key), "{text}: {shown}");
        }
        let unknown = parse("[assistant]\nmodel = \"x\"\n").expect_err("unknown key");
        let shown = unknown.to_string();
        assert!(
            shown.contains(":2:") && shown.contains("model_id"),
            "{shown}"
        );
    }
}
