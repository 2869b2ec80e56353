//! Configuration: built-in defaults (`config/default.toml`) overlaid by the
//! user's TOML file, resolved into [`Config`].
//!
//! Every error about file content names the file, line, column and key, on one
//! line, e.g. `~/.config/opsdeck/config.toml:7:1: unknown key `colour` in [ui]
//! (expected one of: theme)`.
//!
//! Parsing happens in two passes over the same text: `toml::de::DeTable` (a
//! span-carrying syntax tree) catches syntax errors and is used to turn the byte
//! offset of a later serde error into a key path; serde then fills the
//! `Raw*` structs, whose semantically checked fields are `toml::Spanned` so
//! that checks done after parsing can point at the offending value too.
//!
//! Long (about 1,300 lines of code, the rest tests) because each section's raw form, its checks
//! and its located errors sit together; a section that grows moves out, as `assistant.rs` and
//! `theme.rs` did.

pub mod assistant;
mod paths;
pub mod settings;
pub mod theme;

pub use assistant::{AssistantConfig, ModelPrice};
pub use paths::Paths;
pub use settings::{Options, Settings};

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::model::{Environment, Role};

/// The embedded defaults. Must set every scalar key; see `defaults_file_sets_every_scalar`.
const DEFAULTS_TOML: &str = include_str!("../../config/default.toml");
/// How the embedded defaults are named in errors and in [`Config::sources`].
const DEFAULTS_ORIGIN: &str = "<defaults>";

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Theme name (`[ui] theme`).
    pub theme: String,
    /// `[safety] read_only`: forces viewer (read-only) mode for everyone.
    /// Not folded into [`Config::role_for`]; callers apply it on top.
    pub read_only: bool,
    /// Role when no `[[role]]` rule matches.
    pub default_role: Role,
    pub aws: AwsDefaults,
    pub environments: Vec<EnvironmentRule>,
    pub roles: Vec<RoleRule>,
    pub compliance: ComplianceSettings,
    /// `[targets]`: where installers run and which environment each target is in.
    pub targets: TargetsConfig,
    /// `[cost]`: budgets, the Cost Explorer call budget, the price mirror.
    pub cost: CostSettings,
    /// `[assistant]`: the Bedrock model of the chat pane.
    pub assistant: AssistantConfig,
    /// Files that contributed, for `:ro`/help display, e.g.
    /// `["<defaults>", "/home/x/.config/opsdeck/config.toml"]`.
    pub sources: Vec<String>,
}

/// Defaults for `--profile`, `--region`, `--endpoint-url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsDefaults {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// `[compliance]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplianceSettings {
    /// How many days ahead of today a waiver may expire (`waiver_max_days`).
    pub waiver_max_days: u32,
}

impl Default for ComplianceSettings {
    fn default() -> Self {
        ComplianceSettings {
            waiver_max_days: DEFAULT_WAIVER_MAX_DAYS,
        }
    }
}

/// What `config/default.toml` sets `[compliance] waiver_max_days` to.
const DEFAULT_WAIVER_MAX_DAYS: u32 = 365;
/// The longest horizon config may set: ten years is already "permanent" for a waiver.
const WAIVER_MAX_DAYS_LIMIT: i64 = 3650;
/// `[cost]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSettings {
    /// Cost Explorer requests allowed per UTC day (each costs $0.01; every page counts).
    pub daily_call_budget: u32,
    /// Spend fetched less than this many hours ago is used as it is.
    pub cache_hours: u32,
    /// A cost-allocation tag to group spend by (e.g. `CostCenter`).
    pub allocation_tag: Option<String>,
    /// Base URL of the AWS Price List bulk files (or a mirror, or a local directory).
    pub offer_url: String,
    /// The usage file, when not the default `usage.yml` in the config dir.
    pub usage_file: Option<PathBuf>,
    /// Monthly budget (USD) per environment.
    pub budgets: Vec<(Environment, f64)>,
    /// Region → price multiplier against us-east-1, for regions the catalogue has no prices for.
    pub region_multipliers: std::collections::BTreeMap<String, f64>,
}

impl CostSettings {
    /// The monthly budget of `environment`, if one is set.
    pub fn budget_for(&self, environment: Environment) -> Option<f64> {
        self.budgets
            .iter()
            .find(|(e, _)| *e == environment)
            .map(|(_, b)| *b)
    }
}

/// The public AWS Price List endpoint.
pub const DEFAULT_OFFER_URL: &str = "https://pricing.us-east-1.amazonaws.com";

/// One `[[environment]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRule {
    pub environment: Environment,
    /// 12-digit account ids.
    pub accounts: Vec<String>,
    /// Profile name patterns; `*` matches any run of characters.
    pub profiles: Vec<String>,
    /// Kubeconfig context name patterns.
    pub kube_contexts: Vec<String>,
    /// EKS cluster ARN or name patterns (a name pattern matches the ARN's `cluster/NAME`).
    pub clusters: Vec<String>,
}

/// `[targets]`: how installer targets are reached and which environment each one is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetsConfig {
    /// `ssh_config`: passed to every `ssh` as `-F` (replacing `~/.ssh/config`).
    pub ssh_config: Option<PathBuf>,
    /// `ssm_log_group`: the CloudWatch Logs group SSM writes a run's whole output to.
    pub ssm_log_group: Option<String>,
    /// `[[targets.environment]]`, in order: the first rule that matches a target wins.
    pub environments: Vec<TargetRule>,
}

/// One `[[targets.environment]]` entry: targets it matches are in `environment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRule {
    pub environment: Environment,
    /// Patterns (`*` wildcard) matched against `local`, an ssh HOST, or an instance id.
    pub hosts: Vec<String>,
    /// Tag key → value pattern; an SSM instance matches when it has every one.
    pub instance_tags: Vec<(String, String)>,
}

/// One `[[role]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub role: Role,
    /// OS user name patterns.
    pub os_users: Vec<String>,
    /// IAM principal ARN patterns.
    pub principals: Vec<String>,
}

/// Outcome of [`Config::role_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleResolution {
    Resolved(Role),
    /// The caller's principal is not known yet and a principal rule could still
    /// change the answer; `provisional` is what the OS user rules (or the
    /// default) give meanwhile.
    Pending {
        provisional: Role,
    },
}

impl RoleResolution {
    /// The role to use now: the resolved one, or the provisional one.
    pub fn role(self) -> Role {
        match self {
            RoleResolution::Resolved(role) | RoleResolution::Pending { provisional: role } => role,
        }
    }
}

// ---------------------------------------------------------------------------
// Errors

/// A place in a config file. `line` and `column` are 1-based; `column` counts
/// characters. Displays as `file:line:column` (or `file` when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// `(line, column)`, when the parser reported a position.
    pub position: Option<(usize, usize)>,
}

impl Location {
    fn new(file: &Path, text: &str, offset: Option<usize>) -> Location {
        Location {
            file: file.to_path_buf(),
            position: offset.map(|o| line_col(text, o)),
        }
    }

    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot determine the home directory (is $HOME set?), so opsdeck cannot locate its config and data directories"
    )]
    NoHomeDir,

    /// The file could not be read (the explicit `--config` file is missing,
    /// permission denied, a FIFO or device, over the size limit, not UTF-8, ...). Not
    /// raised for a missing default file.
    #[error("{0}")]
    Read(crate::files::FileError),

    /// Not valid TOML.
    #[error("{at}: invalid TOML: {message}")]
    Syntax { at: Location, message: String },

    /// A key opsdeck does not know. `table` is the key path of the enclosing
    /// table (`""` for the top level, `ui`, `environment[1]`).
    #[error(
        "{at}: unknown key `{key}` {} ({})",
        within(table),
        expected_keys(expected)
    )]
    UnknownKey {
        at: Location,
        key: String,
        table: String,
        expected: Vec<String>,
    },

    /// A value of the wrong type or out of range, or a missing required key.
    /// `key` is the key path, e.g. `environment[1].name` (indices are 0-based).
    #[error("{at}: {}{message}", key_prefix(key))]
    Invalid {
        at: Location,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// Where in which file the problem is, for errors about file content.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Syntax { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::Invalid { at, .. } => Some(at),
            ConfigError::NoHomeDir | ConfigError::Read(_) => None,
        }
    }
}

fn within(table: &str) -> String {
    if table.is_empty() {
        "at the top level".to_string()
    } else if table.ends_with(']') {
        format!("in {table}")
    } else {
        format!("in [{table}]")
    }
}

fn expected_keys(expected: &[String]) -> String {
    if expected.is_empty() {
        "no keys are allowed here".to_string()
    } else {
        format!("expected one of: {}", expected.join(", "))
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Keeps an error message on one line: control characters are escaped.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Raw file shape

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of settings")]
struct RawFile {
    ui: Option<RawUi>,
    safety: Option<RawSafety>,
    aws: Option<RawAws>,
    compliance: Option<RawCompliance>,
    assistant: Option<assistant::RawAssistant>,
    environment: Option<Vec<Spanned<RawEnvironment>>>,
    role: Option<Vec<Spanned<RawRole>>>,
    targets: Option<RawTargets>,
    cost: Option<RawCost>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([cost])")]
struct RawCost {
    daily_call_budget: Option<Spanned<i64>>,
    cache_hours: Option<Spanned<i64>>,
    allocation_tag: Option<String>,
    offer_url: Option<Spanned<String>>,
    usage_file: Option<Spanned<String>>,
    budgets: Option<RawBudgets>,
    region_multipliers: Option<std::collections::BTreeMap<String, Spanned<f64>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([cost.budgets])")]
struct RawBudgets {
    #[serde(rename = "DEV")]
    dev: Option<Spanned<f64>>,
    #[serde(rename = "TST")]
    tst: Option<Spanned<f64>>,
    #[serde(rename = "PRD")]
    prd: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([targets])")]
struct RawTargets {
    ssh_config: Option<Spanned<String>>,
    ssm_log_group: Option<Spanned<String>>,
    environment: Option<Vec<Spanned<RawTargetEnvironment>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([[targets.environment]])")]
struct RawTargetEnvironment {
    name: Spanned<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    instance_tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([ui])")]
struct RawUi {
    theme: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([safety])")]
struct RawSafety {
    read_only: Option<bool>,
    default_role: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([aws])")]
struct RawAws {
    profile: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    endpoint_url: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([compliance])")]
struct RawCompliance {
    waiver_max_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([[environment]])")]
struct RawEnvironment {
    name: Spanned<String>,
    #[serde(default)]
    accounts: Vec<Spanned<String>>,
    #[serde(default)]
    profiles: Vec<String>,
    #[serde(default)]
    kube_contexts: Vec<Spanned<String>>,
    #[serde(default)]
    clusters: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table ([[role]])")]
struct RawRole {
    role: Spanned<String>,
    #[serde(default)]
    os_users: Vec<String>,
    #[serde(default)]
    principals: Vec<String>,
}

/// One file, checked, every key still optional.
#[derive(Debug, Default)]
struct Layer {
    theme: Option<String>,
    read_only: Option<bool>,
    default_role: Option<Role>,
    profile: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    environments: Option<Vec<EnvironmentRule>>,
    roles: Option<Vec<RoleRule>>,
    waiver_max_days: Option<u32>,
    targets: Option<TargetsConfig>,
    daily_call_budget: Option<u32>,
    cache_hours: Option<u32>,
    allocation_tag: Option<String>,
    offer_url: Option<String>,
    usage_file: Option<PathBuf>,
    budgets: Option<Vec<(Environment, f64)>>,
    region_multipliers: Option<std::collections::BTreeMap<String, f64>>,
    assistant: assistant::AssistantLayer,
}

/// Checks semantic constraints, with errors located in one file's text.
struct Checker<'a> {
    origin: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn invalid(&self, span: Range<usize>, key: impl Into<String>, message: String) -> ConfigError {
        ConfigError::Invalid {
            at: Location::new(self.origin, self.text, Some(span.start)),
            key: key.into(),
            message: one_line(&message),
        }
    }

    fn non_empty(
        &self,
        value: Option<Spanned<String>>,
        key: &str,
    ) -> Result<Option<String>, ConfigError> {
        match value {
            Some(v) if v.get_ref().trim().is_empty() => Err(self.invalid(
                v.span(),
                key,
                "must not be empty (remove the key to use the default)".to_string(),
            )),
            Some(v) => Ok(Some(v.into_inner())),
            None => Ok(None),
        }
    }

    fn role(&self, value: &Spanned<String>, key: &str) -> Result<Role, ConfigError> {
        parse_role(value.get_ref()).ok_or_else(|| {
            self.invalid(
                value.span(),
                key,
                format!(
                    "{:?} is not a role (expected viewer, operator or admin)",
                    value.get_ref()
                ),
            )
        })
    }

    fn layer(&self, raw: RawFile) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        if let Some(ui) = raw.ui {
            layer.theme = self.non_empty(ui.theme, "ui.theme")?;
        }
        if let Some(safety) = raw.safety {
            layer.read_only = safety.read_only;
            if let Some(role) = &safety.default_role {
                layer.default_role = Some(self.role(role, "safety.default_role")?);
            }
        }
        if let Some(aws) = raw.aws {
            layer.profile = self.non_empty(aws.profile, "aws.profile")?;
            if let Some(region) = &aws.region
                && let Some(problem) = region_problem(region.get_ref())
            {
                return Err(self.invalid(region.span(), "aws.region", problem));
            }
            layer.region = self.non_empty(aws.region, "aws.region")?;
            if let Some(url) = &aws.endpoint_url {
                let u = url.get_ref();
                let has_host = u
                    .strip_prefix("http://")
                    .or_else(|| u.strip_prefix("https://"))
                    .is_some_and(|rest| !rest.is_empty());
                if !has_host {
                    return Err(self.invalid(
                        url.span(),
                        "aws.endpoint_url",
                        format!("{u:?} is not an http:// or https:// URL"),
                    ));
                }
            }
            layer.endpoint_url = aws.endpoint_url.map(Spanned::into_inner);
        }
        if let Some(compliance) = raw.compliance
            && let Some(days) = compliance.waiver_max_days
        {
            let n = *days.get_ref();
            if !(1..=WAIVER_MAX_DAYS_LIMIT).contains(&n) {
                return Err(self.invalid(
                    days.span(),
                    "compliance.waiver_max_days",
                    format!("{n} is not a number of days from 1 to {WAIVER_MAX_DAYS_LIMIT}"),
                ));
            }
            layer.waiver_max_days = u32::try_from(n).ok();
        }
        if let Some(raw) = raw.assistant {
            layer.assistant = self.assistant(raw)?;
        }
        if let Some(envs) = raw.environment {
            layer.environments = Some(self.environments(envs)?);
        }
        if let Some(roles) = raw.role {
            layer.roles = Some(self.roles(roles)?);
        }
        if let Some(targets) = raw.targets {
            layer.targets = Some(self.targets(targets)?);
        }
        if let Some(cost) = raw.cost {
            self.cost(cost, &mut layer)?;
        }
        Ok(layer)
    }

    fn targets(&self, raw: RawTargets) -> Result<TargetsConfig, ConfigError> {
        let ssh_config = match raw.ssh_config {
            None => None,
            Some(path) => {
                let text = path.get_ref();
                let resolved = if let Some(rest) = text.strip_prefix("~/") {
                    std::env::var_os("HOME")
                        .filter(|h| !h.is_empty())
                        .map(|home| PathBuf::from(home).join(rest))
                } else if text.starts_with('/') {
                    Some(PathBuf::from(text))
                } else {
                    None
                };
                match resolved {
                    Some(p) => Some(p),
                    None => {
                        return Err(self.invalid(
                            path.span(),
                            "targets.ssh_config",
                            format!("{text:?} must be an absolute path or start with ~/"),
                        ));
                    }
                }
            }
        };
        let ssm_log_group = match raw.ssm_log_group {
            None => None,
            Some(group) => {
                let name = group.get_ref();
                let ok = !name.is_empty()
                    && name.len() <= 512
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-/.#".contains(c));
                if !ok {
                    return Err(self.invalid(
                        group.span(),
                        "targets.ssm_log_group",
                        format!(
                            "{name:?} is not a CloudWatch Logs group name (letters, digits, _ - / . #)"
                        ),
                    ));
                }
                Some(group.into_inner())
            }
        };
        let mut environments = Vec::new();
        for (i, entry) in raw.environment.unwrap_or_default().into_iter().enumerate() {
            let span = entry.span();
            let entry = entry.into_inner();
            let environment = parse_environment(entry.name.get_ref()).ok_or_else(|| {
                self.invalid(
                    entry.name.span(),
                    format!("targets.environment[{i}].name"),
                    format!(
                        "{:?} is not an environment (expected DEV, TST or PRD)",
                        entry.name.get_ref()
                    ),
                )
            })?;
            if entry.hosts.is_empty() && entry.instance_tags.is_empty() {
                return Err(self.invalid(
                    span,
                    format!("targets.environment[{i}]"),
                    "matches nothing (give `hosts` and/or `instance_tags`)".to_string(),
                ));
            }
            environments.push(TargetRule {
                environment,
                hosts: entry.hosts,
                instance_tags: entry.instance_tags.into_iter().collect(),
            });
        }
        Ok(TargetsConfig {
            ssh_config,
            ssm_log_group,
            environments,
        })
    }

    fn cost(&self, raw: RawCost, layer: &mut Layer) -> Result<(), ConfigError> {
        let count =
            |v: Option<Spanned<i64>>, key: &str, max: i64| -> Result<Option<u32>, ConfigError> {
                match v {
                    Some(v) if !(0..=max).contains(v.get_ref()) => Err(self.invalid(
                        v.span(),
                        key,
                        format!("{} is out of range (0 to {max})", v.get_ref()),
                    )),
                    Some(v) => Ok(Some(*v.get_ref() as u32)),
                    None => Ok(None),
                }
            };
        layer.daily_call_budget = count(raw.daily_call_budget, "cost.daily_call_budget", 10_000)?;
        layer.cache_hours = count(raw.cache_hours, "cost.cache_hours", 24 * 366)?;
        layer.allocation_tag = raw.allocation_tag;
        if let Some(url) = &raw.offer_url {
            let u = url.get_ref();
            let ok = u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/');
            if !ok {
                return Err(self.invalid(
                    url.span(),
                    "cost.offer_url",
                    format!("{u:?} is neither an http(s):// URL nor an absolute directory path"),
                ));
            }
        }
        layer.offer_url = self.non_empty(raw.offer_url, "cost.offer_url")?;
        layer.usage_file = self
            .non_empty(raw.usage_file, "cost.usage_file")?
            .map(PathBuf::from);
        let money = |v: Spanned<f64>, key: &str| -> Result<f64, ConfigError> {
            let x = *v.get_ref();
            if x.is_finite() && x >= 0.0 {
                Ok(x)
            } else {
                Err(self.invalid(
                    v.span(),
                    key,
                    format!("{x} is not an amount of USD (a number ≥ 0)"),
                ))
            }
        };
        if let Some(b) = raw.budgets {
            let mut budgets = Vec::new();
            for (env, value, key) in [
                (Environment::Dev, b.dev, "cost.budgets.DEV"),
                (Environment::Tst, b.tst, "cost.budgets.TST"),
                (Environment::Prd, b.prd, "cost.budgets.PRD"),
            ] {
                if let Some(v) = value {
                    budgets.push((env, money(v, key)?));
                }
            }
            layer.budgets = Some(budgets);
        }
        if let Some(m) = raw.region_multipliers {
            let mut multipliers = std::collections::BTreeMap::new();
            for (region, factor) in m {
                let key = format!("cost.region_multipliers.{region}");
                if let Some(problem) = region_problem(&region) {
                    return Err(self.invalid(factor.span(), key, problem));
                }
                let f = *factor.get_ref();
                if !(f.is_finite() && f > 0.0) {
                    return Err(self.invalid(
                        factor.span(),
                        key,
                        format!("{f} is not a multiplier (a number > 0)"),
                    ));
                }
                multipliers.insert(region, f);
            }
            layer.region_multipliers = Some(multipliers);
        }
        Ok(())
    }

    fn environments(
        &self,
        raw: Vec<Spanned<RawEnvironment>>,
    ) -> Result<Vec<EnvironmentRule>, ConfigError> {
        let mut rules: Vec<EnvironmentRule> = Vec::with_capacity(raw.len());
        for (i, entry) in raw.into_iter().enumerate() {
            let entry_span = entry.span();
            let entry = entry.into_inner();
            let environment = parse_environment(entry.name.get_ref()).ok_or_else(|| {
                self.invalid(
                    entry.name.span(),
                    format!("environment[{i}].name"),
                    format!(
                        "{:?} is not an environment (expected DEV, TST or PRD)",
                        entry.name.get_ref()
                    ),
                )
            })?;
            if entry.accounts.is_empty()
                && entry.profiles.is_empty()
                && entry.kube_contexts.is_empty()
                && entry.clusters.is_empty()
            {
                return Err(self.invalid(
                    entry_span,
                    format!("environment[{i}]"),
                    "matches nothing (give `accounts`, `profiles`, `kube_contexts` and/or `clusters`)"
                        .to_string(),
                ));
            }
            for (field, patterns) in [
                ("kube_contexts", &entry.kube_contexts),
                ("clusters", &entry.clusters),
            ] {
                for (j, pattern) in patterns.iter().enumerate() {
                    if pattern.get_ref().trim().is_empty() {
                        return Err(self.invalid(
                            pattern.span(),
                            format!("environment[{i}].{field}[{j}]"),
                            "must not be empty (a pattern; `*` matches any run of characters)"
                                .to_string(),
                        ));
                    }
                }
            }
            let mut accounts = Vec::with_capacity(entry.accounts.len());
            for (j, account) in entry.accounts.into_iter().enumerate() {
                let key = format!("environment[{i}].accounts[{j}]");
                let id = account.get_ref();
                if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(self.invalid(
                        account.span(),
                        key,
                        format!("{id:?} is not an AWS account id (expected 12 digits)"),
                    ));
                }
                // An account mapped to two environments is almost certainly a
                // mistake, and "first rule wins" could silently make PRD look like DEV.
                if let Some((k, other)) = rules
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.environment != environment && r.accounts.contains(id))
                {
                    return Err(self.invalid(
                        account.span(),
                        key,
                        format!(
                            "account {id} is already mapped to {} by environment[{k}]",
                            other.environment
                        ),
                    ));
                }
                accounts.push(account.into_inner());
            }
            rules.push(EnvironmentRule {
                environment,
                accounts,
                profiles: entry.profiles,
                kube_contexts: entry
                    .kube_contexts
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                clusters: entry
                    .clusters
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
            });
        }
        Ok(rules)
    }

    fn roles(&self, raw: Vec<Spanned<RawRole>>) -> Result<Vec<RoleRule>, ConfigError> {
        let mut rules = Vec::with_capacity(raw.len());
        for (i, entry) in raw.into_iter().enumerate() {
            let entry_span = entry.span();
            let entry = entry.into_inner();
            let role = self.role(&entry.role, &format!("role[{i}].role"))?;
            if entry.os_users.is_empty() && entry.principals.is_empty() {
                return Err(self.invalid(
                    entry_span,
                    format!("role[{i}]"),
                    "matches nothing (give `os_users` and/or `principals`)".to_string(),
                ));
            }
            rules.push(RoleRule {
                role,
                os_users: entry.os_users,
                principals: entry.principals,
            });
        }
        Ok(rules)
    }
}

/// Why `name` is not an AWS region name, or `None` when it is one. Checks the shape
/// (`eu-west-1`, `us-gov-west-1`, `eu-isoe-west-1`), not a list, so regions AWS opens later
/// are accepted without a new opsdeck.
pub fn region_problem(name: &str) -> Option<String> {
    // A literal pattern, compiled by the tests of this function.
    #[allow(clippy::expect_used)]
    static REGION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z]{2}(?:-[a-z]+){1,2}-[0-9]{1,2}$")
            .expect("the pattern is a literal that compiles (tested)")
    });
    if REGION.is_match(name) {
        return None;
    }
    let lower = name.trim().to_ascii_lowercase();
    if lower != name && REGION.is_match(&lower) {
        return Some(format!(
            "{name:?} is not a region name: region names are lower case, e.g. {lower:?}"
        ));
    }
    if let Some(region) = lower.strip_suffix(|c: char| c.is_ascii_lowercase())
        && REGION.is_match(region)
    {
        return Some(format!(
            "{name:?} is an availability zone, not a region: use {region:?}"
        ));
    }
    Some(format!(
        "{name:?} is not an AWS region name (expected one like eu-west-1 or us-gov-west-1)"
    ))
}

fn parse_environment(name: &str) -> Option<Environment> {
    match name.to_ascii_uppercase().as_str() {
        "DEV" => Some(Environment::Dev),
        "TST" => Some(Environment::Tst),
        "PRD" => Some(Environment::Prd),
        _ => None,
    }
}

fn parse_role(name: &str) -> Option<Role> {
    match name.to_ascii_lowercase().as_str() {
        "viewer" => Some(Role::Viewer),
        "operator" => Some(Role::Operator),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// Parses and checks one file's text; errors name `origin`.
fn parse_layer(text: &str, origin: &Path) -> Result<Layer, ConfigError> {
    let syntax_error = |e: toml::de::Error| {
        let mut message = e.message().to_string();
        if message == "duplicate key"
            && let Some(key) = e.span().and_then(|s| text.get(s)).filter(|k| !k.is_empty())
        {
            message = format!("duplicate key `{key}`");
        }
        ConfigError::Syntax {
            at: Location::new(origin, text, e.span().map(|s| s.start)),
            message: one_line(&message),
        }
    };
    let tree = DeTable::parse(text).map_err(syntax_error)?;
    let deserializer = toml::de::Deserializer::parse(text).map_err(syntax_error)?;
    let raw = RawFile::deserialize(deserializer)
        .map_err(|e| shape_error(&e, text, origin, tree.get_ref()))?;
    Checker { origin, text }.layer(raw)
}

/// Turns a serde error (unknown key, wrong type, missing key) into a located
/// [`ConfigError`], finding the key path from the error's byte offset.
fn shape_error(e: &toml::de::Error, text: &str, origin: &Path, tree: &DeTable<'_>) -> ConfigError {
    let offset = e.span().map(|s| s.start);
    let at = Location::new(origin, text, offset);
    let path = offset
        .and_then(|o| key_path_at(tree, o))
        .unwrap_or_default();
    let message = e.message();

    // serde: "unknown field `x`, expected `a`" / "`a` or `b`" / "one of `a`, `b`"
    // / "there are no fields". Field names never contain a backtick.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let quoted: Vec<&str> = rest.split('`').collect();
        let key = quoted.first().copied().unwrap_or_default();
        let expected = quoted
            .iter()
            .skip(2)
            .step_by(2)
            .map(|s| s.to_string())
            .collect();
        let table = match path.last() {
            Some(Segment::Key(k)) if k == key => render_path(&path[..path.len() - 1]),
            _ => render_path(&path),
        };
        return ConfigError::UnknownKey {
            at,
            key: one_line(key),
            table,
            expected,
        };
    }
    let message = match message.strip_prefix("missing field ") {
        Some(field) => format!("missing required key {field}"),
        // Say it in TOML's words rather than serde's.
        None => message
            .replace("invalid type: map", "invalid type: table")
            .replace("invalid type: sequence", "invalid type: array")
            .replace("expected a sequence", "expected an array"),
    };
    ConfigError::Invalid {
        at,
        key: render_path(&path),
        message: one_line(&message),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    one_line(&out)
}

fn span_contains(span: &Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

/// Key path of the deepest key or value whose span covers `offset`. Table
/// headers (`[ui]`, `[[environment]]`) count as the span of their table.
fn key_path_at(tree: &DeTable<'_>, offset: usize) -> Option<Vec<Segment>> {
    let mut best = None;
    let mut prefix = Vec::new();
    search_table(tree, offset, &mut prefix, &mut best);
    best
}

fn search_table(
    table: &DeTable<'_>,
    offset: usize,
    prefix: &mut Vec<Segment>,
    best: &mut Option<Vec<Segment>>,
) {
    for (key, value) in table.iter() {
        prefix.push(Segment::Key(key.get_ref().to_string()));
        if span_contains(&key.span(), offset) {
            consider(prefix, best);
        }
        search_value(value, offset, prefix, best);
        prefix.pop();
    }
}

fn search_value(
    value: &Spanned<DeValue<'_>>,
    offset: usize,
    prefix: &mut Vec<Segment>,
    best: &mut Option<Vec<Segment>>,
) {
    if span_contains(&value.span(), offset) {
        consider(prefix, best);
    }
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, offset, prefix, best),
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                prefix.push(Segment::Index(i));
                search_value(element, offset, prefix, best);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn consider(path: &[Segment], best: &mut Option<Vec<Segment>>) {
    if best.as_ref().is_none_or(|b| path.len() > b.len()) {
        *best = Some(path.to_vec());
    }
}

// ---------------------------------------------------------------------------
// Loading and queries

impl Config {
    /// The embedded defaults overlaid by the user's file: `explicit` (which must
    /// exist) or else `paths.config_file` (a missing file means defaults only).
    pub fn load(paths: &Paths, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match explicit {
            Some(path) => (path, true),
            None => (paths.config_file.as_path(), false),
        };
        match crate::files::read_text(path, crate::files::FileKind::Config) {
            Ok(text) => Config::from_toml_str(&text, path),
            Err(e) if !required && e.is_missing() => Config::defaults(),
            Err(error) => Err(ConfigError::Read(error)),
        }
    }

    /// The embedded defaults alone. Fails only if the embedded file is broken,
    /// which the tests rule out.
    pub fn defaults() -> Result<Config, ConfigError> {
        let defaults = parse_layer(DEFAULTS_TOML, Path::new(DEFAULTS_ORIGIN))?;
        Ok(Config::merge(defaults, None))
    }

    /// The defaults overlaid by `text`; errors name `origin`.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let defaults = parse_layer(DEFAULTS_TOML, Path::new(DEFAULTS_ORIGIN))?;
        let user = parse_layer(text, origin)?;
        Ok(Config::merge(defaults, Some((user, origin))))
    }

    fn merge(defaults: Layer, user: Option<(Layer, &Path)>) -> Config {
        let mut sources = vec![DEFAULTS_ORIGIN.to_string()];
        let (user, origin) = match user {
            Some((layer, origin)) => (layer, Some(origin)),
            None => (Layer::default(), None),
        };
        if let Some(origin) = origin {
            sources.push(origin.display().to_string());
        }
        Config {
            // The fallbacks equal what `config/default.toml` says; they are only
            // reached if that file stops setting a key.
            theme: user
                .theme
                .or(defaults.theme)
                .unwrap_or_else(|| "dark".to_string()),
            read_only: user.read_only.or(defaults.read_only).unwrap_or(false),
            default_role: user
                .default_role
                .or(defaults.default_role)
                .unwrap_or(Role::Operator),
            aws: AwsDefaults {
                profile: user.profile.or(defaults.profile),
                region: user.region.or(defaults.region),
                endpoint_url: user.endpoint_url.or(defaults.endpoint_url),
            },
            environments: user
                .environments
                .or(defaults.environments)
                .unwrap_or_default(),
            roles: user.roles.or(defaults.roles).unwrap_or_default(),
            compliance: ComplianceSettings {
                waiver_max_days: user
                    .waiver_max_days
                    .or(defaults.waiver_max_days)
                    .unwrap_or(DEFAULT_WAIVER_MAX_DAYS),
            },
            targets: user.targets.or(defaults.targets).unwrap_or_default(),
            cost: CostSettings {
                daily_call_budget: user
                    .daily_call_budget
                    .or(defaults.daily_call_budget)
                    .unwrap_or(20),
                cache_hours: user.cache_hours.or(defaults.cache_hours).unwrap_or(24),
                allocation_tag: user
                    .allocation_tag
                    .or(defaults.allocation_tag)
                    .filter(|t| !t.trim().is_empty()),
                offer_url: user
                    .offer_url
                    .or(defaults.offer_url)
                    .unwrap_or_else(|| DEFAULT_OFFER_URL.to_string()),
                usage_file: user.usage_file.or(defaults.usage_file),
                budgets: user.budgets.or(defaults.budgets).unwrap_or_default(),
                region_multipliers: user
                    .region_multipliers
                    .or(defaults.region_multipliers)
                    .unwrap_or_default(),
            },
            assistant: assistant::AssistantLayer::merge(user.assistant, defaults.assistant),
            sources,
        }
    }

    /// First rule whose account list contains `account` wins; else the first
    /// rule with a profile pattern matching `profile`; else `Unmapped`.
    pub fn environment_for(&self, account: Option<&str>, profile: Option<&str>) -> Environment {
        if let Some(account) = account
            && let Some(rule) = self
                .environments
                .iter()
                .find(|r| r.accounts.iter().any(|a| a == account))
        {
            return rule.environment;
        }
        if let Some(profile) = profile
            && let Some(rule) = self
                .environments
                .iter()
                .find(|r| r.profiles.iter().any(|p| glob_match(p, profile)))
        {
            return rule.environment;
        }
        Environment::Unmapped
    }

    /// The environment of a Kubernetes cluster: the first rule with a `kube_contexts` pattern
    /// matching the context's name; else the first rule with a `clusters` pattern matching
    /// the cluster (its ARN, or the name the ARN ends in); else `Unmapped`.
    pub fn environment_for_kube(&self, context: &str, cluster: &str) -> Environment {
        if let Some(rule) = self
            .environments
            .iter()
            .find(|r| r.kube_contexts.iter().any(|p| glob_match(p, context)))
        {
            return rule.environment;
        }
        let name = cluster
            .rsplit_once(":cluster/")
            .map_or(cluster, |(_, name)| name);
        if let Some(rule) = self.environments.iter().find(|r| {
            r.clusters
                .iter()
                .any(|p| glob_match(p, cluster) || glob_match(p, name))
        }) {
            return rule.environment;
        }
        Environment::Unmapped
    }

    /// Role for this person. A rule matches if any of its `os_users` patterns
    /// matches `os_user` or any of its `principals` patterns matches
    /// `principal`. If several rules match, the least privileged wins; if none
    /// does, `default_role`. `read_only` is not applied here.
    ///
    /// While `principal` is `None` (STS has not answered) the answer is
    /// `Pending` if some principal rule could still change it, with the role
    /// from the OS user rules (or the default) as `provisional`; otherwise it is
    /// already `Resolved`.
    pub fn role_for(&self, os_user: &str, principal: Option<&str>) -> RoleResolution {
        let by_user = |rule: &RoleRule| rule.os_users.iter().any(|p| glob_match(p, os_user));
        let by_principal =
            |rule: &RoleRule, arn: &str| rule.principals.iter().any(|p| glob_match(p, arn));

        let matched = self
            .roles
            .iter()
            .filter(|r| by_user(r) || principal.is_some_and(|arn| by_principal(r, arn)))
            .map(|r| r.role)
            .min();
        let role = matched.unwrap_or(self.default_role);
        if principal.is_some() {
            return RoleResolution::Resolved(role);
        }
        let could_change = self.roles.iter().any(|r| {
            !r.principals.is_empty()
                && !by_user(r)
                && match matched {
                    // Least privileged wins: only a lesser role changes the answer.
                    Some(current) => r.role < current,
                    // Any match replaces the default.
                    None => r.role != self.default_role,
                }
        });
        if could_change {
            RoleResolution::Pending { provisional: role }
        } else {
            RoleResolution::Resolved(role)
        }
    }
}

impl TargetsConfig {
    /// The environment a rule gives a target: `name` is `local`, the ssh HOST or the instance
    /// id; `tags` are an SSM instance's tags (empty for others). `None`: no rule matches.
    pub fn environment_for(&self, name: &str, tags: &[(String, String)]) -> Option<Environment> {
        self.environments
            .iter()
            .find(|rule| {
                rule.hosts.iter().any(|p| glob_match(p, name))
                    || (!rule.instance_tags.is_empty()
                        && rule.instance_tags.iter().all(|(key, pattern)| {
                            tags.iter().any(|(k, v)| k == key && glob_match(pattern, v))
                        }))
            })
            .map(|rule| rule.environment)
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// (including none) and every other character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Byte-wise is exact for UTF-8: `*` is ASCII and never part of a multi-byte
    // character, and a literal's first byte is never a continuation byte, so a
    // match can only resume on a character boundary.
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // After the most recent `*`: where the pattern resumes, and the text index
    // that star's match currently ends at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            pi += 1;
            star = Some((pi, ti));
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((resume, end)) = star {
            // Let the star swallow one more byte and retry.
            pi = resume;
            ti = end + 1;
            star = Some((resume, end + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "/etc/x/config.toml";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new(ORIGIN))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn env_rule(environment: Environment, accounts: &[&str], profiles: &[&str]) -> EnvironmentRule {
        EnvironmentRule {
            environment,
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            profiles: profiles.iter().map(|s| s.to_string()).collect(),
            kube_contexts: Vec::new(),
            clusters: Vec::new(),
        }
    }

    fn role_rule(role: Role, os_users: &[&str], principals: &[&str]) -> RoleRule {
        RoleRule {
            role,
            os_users: os_users.iter().map(|s| s.to_string()).collect(),
            principals: principals.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn with_roles(default_role: Role, roles: Vec<RoleRule>) -> Config {
        let mut c = Config::defaults().unwrap();
        c.default_role = default_role;
        c.roles = roles;
        c
    }

    // --- loading and merging -------------------------------------------------

    #[test]
    fn targets_map_hosts_and_instance_tags_to_environments() {
        let c = parse(
            r#"
[targets]
ssh_config = "/etc/opsdeck/ssh_config"
ssm_log_group = "/opsdeck/runs"

[[targets.environment]]
name = "PRD"
hosts = ["*.prod.example.com"]
instance_tags = { Environment = "prod*", Team = "web" }

[[targets.environment]]
name = "DEV"
hosts = ["local", "dev-*"]
"#,
        )
        .unwrap();
        let t = &c.targets;
        assert_eq!(
            t.ssh_config.as_deref(),
            Some(Path::new("/etc/opsdeck/ssh_config"))
        );
        assert_eq!(t.ssm_log_group.as_deref(), Some("/opsdeck/runs"));
        assert_eq!(
            t.environment_for("web1.prod.example.com", &[]),
            Some(Environment::Prd)
        );
        assert_eq!(t.environment_for("local", &[]), Some(Environment::Dev));
        assert_eq!(t.environment_for("other", &[]), None);
        let tags = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            t.environment_for(
                "i-0abc",
                &tags(&[("Environment", "production"), ("Team", "web")])
            ),
            Some(Environment::Prd)
        );
        assert_eq!(
            t.environment_for("i-0abc", &tags(&[("Environment", "production")])),
            None,
            "every tag must match"
        );
        let e = err("[targets]\nssh_config = \"relative/path\"\n");
        assert_eq!(
            e,
            format!(
                "{ORIGIN}:2:14: targets.ssh_config: \"relative/path\" must be an absolute path or start with ~/"
            )
        );
        let e = err("[[targets.environment]]\nname = \"PRD\"\nhots = [\"x\"]\n");
        assert!(
            e.contains(":3:1: unknown key `hots` in targets.environment[0]"),
            "{e}"
        );
    }

    #[test]
    fn defaults_alone_load() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.theme, "dark");
        assert!(!c.read_only);
        assert_eq!(c.default_role, Role::Operator);
        assert_eq!(c.aws, AwsDefaults::default());
        assert!(c.environments.is_empty());
        assert!(c.roles.is_empty());
        assert_eq!(c.sources, vec!["<defaults>".to_string()]);
    }

    #[test]
    fn defaults_file_sets_every_scalar() {
        // Keeps the fallbacks in `Config::merge` unreachable.
        let l = parse_layer(DEFAULTS_TOML, Path::new(DEFAULTS_ORIGIN)).unwrap();
        assert_eq!(l.theme.as_deref(), Some("dark"));
        assert_eq!(l.read_only, Some(false));
        assert_eq!(l.default_role, Some(Role::Operator));
        assert_eq!(l.waiver_max_days, Some(DEFAULT_WAIVER_MAX_DAYS));
        assert!(l.assistant.sets_every_scalar_default());
        assert!(l.environments.is_none() && l.roles.is_none());
        assert_eq!(l.daily_call_budget, Some(20));
        assert_eq!(l.cache_hours, Some(24));
        assert_eq!(l.offer_url.as_deref(), Some(DEFAULT_OFFER_URL));
    }

    #[test]
    fn cost_settings_are_checked_with_file_and_line() {
        let c = parse(
            "[cost]\ndaily_call_budget = 5\nallocation_tag = \"CostCenter\"\n[cost.budgets]\nDEV = 500\nPRD = 20000.5\n[cost.region_multipliers]\nca-central-1 = 1.1\n",
        )
        .unwrap();
        assert_eq!(c.cost.daily_call_budget, 5);
        assert_eq!(c.cost.budget_for(Environment::Dev), Some(500.0));
        assert_eq!(c.cost.budget_for(Environment::Prd), Some(20000.5));
        assert_eq!(c.cost.budget_for(Environment::Tst), None);
        assert_eq!(c.cost.allocation_tag.as_deref(), Some("CostCenter"));
        assert_eq!(c.cost.region_multipliers.get("ca-central-1"), Some(&1.1));
        let e = err("[cost.budgets]\nDEV = -1\n");
        assert!(
            e.starts_with("/etc/x/config.toml:2:7: cost.budgets.DEV: -1"),
            "{e}"
        );
        let e = err("[cost.budgets]\nQA = 1\n");
        assert!(
            e.contains("unknown key `QA`") && e.contains("DEV, TST, PRD"),
            "{e}"
        );
        let e = err("[cost]\ndaily_call_budget = -3\n");
        assert!(
            e.starts_with("/etc/x/config.toml:2:21: cost.daily_call_budget"),
            "{e}"
        );
        let e = err("[cost]\noffer_url = \"ftp://x\"\n");
        assert!(e.contains("cost.offer_url"), "{e}");
    }

    #[test]
    fn commented_examples_in_defaults_are_valid() {
        // Uncommenting the examples in config/default.toml must give a valid file.
        let uncommented: String = DEFAULTS_TOML
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c = Config::from_toml_str(&uncommented, Path::new("uncommented.toml")).unwrap();
        assert_eq!(c.environments.len(), 3);
        assert_eq!(c.roles.len(), 2);
        assert_eq!(c.aws.profile.as_deref(), Some("prod"));
        assert_eq!(c.targets.environments.len(), 2);
        assert_eq!(
            c.targets.ssm_log_group.as_deref(),
            Some("/opsdeck/run-command")
        );
    }

    #[test]
    fn empty_user_file_is_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.theme, "dark");
        assert_eq!(
            c.sources,
            vec!["<defaults>".to_string(), ORIGIN.to_string()]
        );
    }

    #[test]
    fn user_file_overlays_scalars() {
        let c = parse(
            "[ui]\ntheme = \"light\"\n[safety]\nread_only = true\n[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"http://127.0.0.1:5000\"\n",
        )
        .unwrap();
        assert_eq!(c.theme, "light");
        assert!(c.read_only);
        assert_eq!(
            c.default_role,
            Role::Operator,
            "unset key keeps the default"
        );
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.aws.profile, None);
    }

    #[test]
    fn user_file_lists_are_parsed() {
        let c = parse(
            r#"
[safety]
default_role = "viewer"

[[environment]]
name = "prd"
accounts = ["111111111111"]
profiles = ["prod", "prod-*"]

[[role]]
role = "Admin"
os_users = ["alice"]
principals = ["arn:aws:iam::111111111111:user/alice"]
"#,
        )
        .unwrap();
        assert_eq!(c.default_role, Role::Viewer);
        assert_eq!(
            c.environments,
            vec![env_rule(
                Environment::Prd,
                &["111111111111"],
                &["prod", "prod-*"]
            )]
        );
        assert_eq!(
            c.roles,
            vec![role_rule(
                Role::Admin,
                &["alice"],
                &["arn:aws:iam::111111111111:user/alice"]
            )]
        );
    }

    #[test]
    fn user_lists_replace_default_lists() {
        let defaults = || Layer {
            environments: Some(vec![env_rule(Environment::Dev, &[], &["dev"])]),
            roles: Some(vec![role_rule(Role::Admin, &["root"], &[])]),
            ..Layer::default()
        };
        let user = Layer {
            environments: Some(vec![env_rule(Environment::Prd, &[], &["prod"])]),
            roles: Some(vec![]),
            ..Layer::default()
        };
        let c = Config::merge(defaults(), Some((user, Path::new("u.toml"))));
        assert_eq!(
            c.environments,
            vec![env_rule(Environment::Prd, &[], &["prod"])]
        );
        assert!(
            c.roles.is_empty(),
            "an empty user list clears the default list"
        );

        let c = Config::merge(defaults(), Some((Layer::default(), Path::new("u.toml"))));
        assert_eq!(
            c.environments,
            vec![env_rule(Environment::Dev, &[], &["dev"])]
        );
        assert_eq!(c.roles, vec![role_rule(Role::Admin, &["root"], &[])]);
    }

    #[test]
    fn load_without_user_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&Paths::under(dir.path()), None).unwrap();
        assert_eq!(c.theme, "dark");
        assert_eq!(c.sources, vec!["<defaults>".to_string()]);
    }

    #[test]
    fn load_reads_the_default_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(&paths.config_file, "[ui]\ntheme = \"solarized\"\n").unwrap();
        let c = Config::load(&paths, None).unwrap();
        assert_eq!(c.theme, "solarized");
        assert_eq!(c.sources[1], paths.config_file.display().to_string());
    }

    #[test]
    fn load_prefers_the_explicit_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(&paths.config_file, "[ui]\ntheme = \"ignored\"\n").unwrap();
        let explicit = dir.path().join("other.toml");
        std::fs::write(&explicit, "[ui]\ntheme = \"chosen\"\n").unwrap();
        let c = Config::load(&paths, Some(&explicit)).unwrap();
        assert_eq!(c.theme, "chosen");
        assert_eq!(
            c.sources,
            vec!["<defaults>".to_string(), explicit.display().to_string()]
        );
    }

    #[test]
    fn explicit_missing_config_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("y.toml");
        let e = Config::load(&Paths::under(dir.path()), Some(&missing)).unwrap_err();
        assert!(matches!(e, ConfigError::Read(_)));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: cannot read this config file: no such file",
                missing.display()
            )
        );
    }

    #[test]
    fn unreadable_default_file_is_an_error() {
        // A directory where the file should be: present but unreadable as text.
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_file).unwrap();
        let e = Config::load(&paths, None).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "{}: cannot read this config file: it is a directory",
                paths.config_file.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn a_fifo_device_or_huge_config_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let huge = dir.path().join("huge.toml");
        // 25 MB of comments once took 1.2 GB to refuse.
        std::fs::write(&huge, "#".repeat(25_000_000)).unwrap();
        for (path, says) in [
            (fifo, "it is a FIFO (named pipe), not a regular file"),
            (zero, "it is a character device, not a regular file"),
            (huge, "larger than 1 MiB, the limit for a config file"),
        ] {
            let root = dir.path().to_path_buf();
            let shown = path.display().to_string();
            let e = crate::files::bounded(move || Config::load(&Paths::under(&root), Some(&path)))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&shown), "{e}");
            assert!(e.contains(says), "{e}");
        }
    }

    // --- errors --------------------------------------------------------------

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\n[ui]\ntheme = \"dark\"\ncolour = \"red\"\n").unwrap();
        let e = Config::load(&Paths::under(dir.path()), Some(&path)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:4:1: unknown key `colour` in [ui] (expected one of: theme)",
                path.display()
            )
        );
        let at = e.location().unwrap();
        assert_eq!((at.line(), at.column()), (Some(4), Some(1)));
    }

    #[test]
    fn unknown_key_at_top_level_and_in_entries() {
        assert_eq!(
            err("\nthemes = 1\n"),
            format!(
                "{ORIGIN}:2:1: unknown key `themes` at the top level (expected one of: ui, safety, aws, compliance, assistant, environment, role, targets, cost)"
            )
        );
        assert_eq!(
            err(
                "[[environment]]\nname = \"DEV\"\nprofiles = [\"dev\"]\n\n[[environment]]\nname = \"PRD\"\n  profile = [\"prod\"]\n"
            ),
            format!(
                "{ORIGIN}:7:3: unknown key `profile` in environment[1] (expected one of: name, accounts, profiles, kube_contexts, clusters)"
            )
        );
        assert_eq!(
            err("safety.readonly = true\n"),
            format!(
                "{ORIGIN}:1:8: unknown key `readonly` in [safety] (expected one of: read_only, default_role)"
            )
        );
        assert_eq!(
            err("aws = { profile = \"p\", regoin = \"x\" }\n"),
            format!(
                "{ORIGIN}:1:24: unknown key `regoin` in [aws] (expected one of: profile, region, endpoint_url)"
            )
        );
    }

    #[test]
    fn region_names_are_checked_with_file_and_line() {
        assert_eq!(
            err("[aws]\nprofile = \"p\"\nregion = \"us-east-1a\"\n"),
            format!(
                "{ORIGIN}:3:10: aws.region: \"us-east-1a\" is an availability zone, not a region: use \"us-east-1\""
            )
        );
        assert_eq!(
            err("[aws]\nregion = \"eu-wset\"\n"),
            format!(
                "{ORIGIN}:2:10: aws.region: \"eu-wset\" is not an AWS region name (expected one like eu-west-1 or us-gov-west-1)"
            )
        );
        assert!(err("[aws]\nregion = \"EU-WEST-1\"\n").contains("lower case, e.g. \"eu-west-1\""));
        for bad in [
            "eu west 1",
            "eu-west-1\u{1b}[2J",
            "us-east-1.",
            "1-2-3",
            "eu-west-",
        ] {
            assert!(region_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "us-gov-west-1",
            "cn-northwest-1",
            "eu-isoe-west-1",
            "us-isob-east-1",
            "il-central-1",
        ] {
            assert_eq!(region_problem(good), None, "{good}");
            parse(&format!("[aws]\nregion = \"{good}\"\n")).unwrap();
        }
    }

    #[test]
    fn waiver_horizon_is_read_and_checked() {
        assert_eq!(Config::defaults().unwrap().compliance.waiver_max_days, 365);
        let c = Config::from_toml_str("[compliance]\nwaiver_max_days = 90\n", Path::new(ORIGIN))
            .unwrap();
        assert_eq!(c.compliance.waiver_max_days, 90);
        assert_eq!(
            err("[compliance]\nwaiver_max_days = 0\n"),
            format!(
                "{ORIGIN}:2:19: compliance.waiver_max_days: 0 is not a number of days from 1 to 3650"
            )
        );
        assert!(err("[compliance]\nwaiver_max_days = 99999\n").contains("from 1 to 3650"));
        assert!(
            err("[compliance]\nwaiver_max_days = \"a year\"\n")
                .starts_with(&format!("{ORIGIN}:2:"))
        );
        assert_eq!(
            err("[compliance]\nwaiver_days = 9\n"),
            format!(
                "{ORIGIN}:2:1: unknown key `waiver_days` in [compliance] (expected one of: waiver_max_days)"
            )
        );
    }

    #[test]
    fn bad_environment_name() {
        assert_eq!(
            err(
                "[[environment]]\nname = \"DEV\"\nprofiles = [\"dev\"]\n[[environment]]\nname    = \"PROD\"\n"
            ),
            format!(
                "{ORIGIN}:5:11: environment[1].name: \"PROD\" is not an environment (expected DEV, TST or PRD)"
            )
        );
        // UNMAPPED is what no rule gives; it cannot be configured.
        assert!(
            err("[[environment]]\nname = \"UNMAPPED\"\nprofiles = [\"x\"]\n")
                .contains("environment[0].name")
        );
    }

    #[test]
    fn bad_role() {
        assert_eq!(
            err("[[role]]\nrole = \"root\"\nos_users = [\"x\"]\n"),
            format!(
                "{ORIGIN}:2:8: role[0].role: \"root\" is not a role (expected viewer, operator or admin)"
            )
        );
        assert_eq!(
            err("[safety]\ndefault_role = \"superuser\"\n"),
            format!(
                "{ORIGIN}:2:16: safety.default_role: \"superuser\" is not a role (expected viewer, operator or admin)"
            )
        );
    }

    #[test]
    fn bad_account_id() {
        for bad in ["12345", "1111111111111", "11111111111a", ""] {
            assert_eq!(
                err(&format!(
                    "[[environment]]\nname = \"PRD\"\naccounts = [\"111111111111\", \"{bad}\"]\n"
                )),
                format!(
                    "{ORIGIN}:3:29: environment[0].accounts[1]: \"{bad}\" is not an AWS account id (expected 12 digits)"
                )
            );
        }
    }

    #[test]
    fn account_in_two_environments_is_an_error() {
        assert_eq!(
            err(
                "[[environment]]\nname = \"PRD\"\naccounts = [\"111111111111\"]\n[[environment]]\nname = \"DEV\"\naccounts = [\"111111111111\"]\n"
            ),
            format!(
                "{ORIGIN}:6:13: environment[1].accounts[0]: account 111111111111 is already mapped to PRD by environment[0]"
            )
        );
        // Repeating it under the same environment is harmless.
        parse("[[environment]]\nname = \"PRD\"\naccounts = [\"111111111111\"]\n[[environment]]\nname = \"prd\"\naccounts = [\"111111111111\"]\n").unwrap();
    }

    #[test]
    fn wrong_type_and_missing_key() {
        assert_eq!(
            err("[ui]\ntheme = 1\n"),
            format!("{ORIGIN}:2:9: ui.theme: invalid type: integer `1`, expected a string")
        );
        assert_eq!(
            err("[safety]\nread_only = \"yes\"\n"),
            format!(
                "{ORIGIN}:2:13: safety.read_only: invalid type: string \"yes\", expected a boolean"
            )
        );
        assert_eq!(
            err("[[environment]]\nname = \"PRD\"\naccounts = [\"111111111111\", 222222222222]\n"),
            format!(
                "{ORIGIN}:3:29: environment[0].accounts[1]: invalid type: integer `222222222222`, expected a string"
            )
        );
        assert_eq!(
            err("ui = 1\n"),
            format!("{ORIGIN}:1:6: ui: invalid type: integer `1`, expected a table ([ui])")
        );
        assert_eq!(
            err("environment = 3\n"),
            format!("{ORIGIN}:1:15: environment: invalid type: integer `3`, expected an array")
        );
        assert_eq!(
            err("[[role]]\nos_users = [\"a\"]\n"),
            format!("{ORIGIN}:1:1: role[0]: missing required key `role`")
        );
    }

    #[test]
    fn rules_that_match_nothing_are_errors() {
        assert_eq!(
            err("[[environment]]\nname = \"DEV\"\n"),
            format!(
                "{ORIGIN}:1:1: environment[0]: matches nothing (give `accounts`, `profiles`, `kube_contexts` and/or `clusters`)"
            )
        );
        assert_eq!(
            err("role = [{ role = \"admin\" }]\n"),
            format!("{ORIGIN}:1:9: role[0]: matches nothing (give `os_users` and/or `principals`)")
        );
    }

    #[test]
    fn empty_or_malformed_scalars() {
        assert_eq!(
            err("[ui]\ntheme = \"\"\n"),
            format!(
                "{ORIGIN}:2:9: ui.theme: must not be empty (remove the key to use the default)"
            )
        );
        assert!(parse("aws.endpoint_url = \"http://x\"\n").is_ok());
        assert_eq!(
            err("[aws]\nendpoint_url = \"127.0.0.1:5000\"\n"),
            format!(
                "{ORIGIN}:2:16: aws.endpoint_url: \"127.0.0.1:5000\" is not an http:// or https:// URL"
            )
        );
    }

    #[test]
    fn invalid_toml_syntax() {
        let e = err("[ui]\ntheme = dark\n");
        assert!(
            e.starts_with(&format!("{ORIGIN}:2:9: invalid TOML: ")),
            "{e}"
        );
        let e = err("[safety]\nread_only = true\n\n[ui\n");
        assert!(e.starts_with(&format!("{ORIGIN}:4:")), "{e}");
        assert_eq!(
            err("[ui]\ntheme = \"a\"\ntheme = \"b\"\n"),
            format!("{ORIGIN}:3:1: invalid TOML: duplicate key `theme`")
        );
    }

    #[test]
    fn errors_are_one_line() {
        let bad = [
            "[ui]\ncolour = 1\n",
            "[ui\n",
            "x = \"\\q\"\n",
            "\"a\\nb\" = 1\n",
            "[[environment]]\nname = \"P\\nRD\"\nprofiles = [\"x\"]\n",
            "[ui]\ntheme = [1, 2]\n",
        ];
        for text in bad {
            let e = err(text);
            assert!(!e.contains('\n'), "{text:?} gave a multi-line error: {e}");
            assert!(e.starts_with(&format!("{ORIGIN}:")), "{e}");
        }
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_col("ab", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 3), (2, 1));
        assert_eq!(line_col("ab\r\ncd", 5), (2, 2));
        assert_eq!(line_col("x\né = y", 5), (2, 3)); // "=" after 2 chars, 3 bytes
        assert_eq!(line_col("ab", 99), (1, 3));
        assert_eq!(
            err("[ui]\n\"ünknöwn\" = 1\n"),
            format!("{ORIGIN}:2:1: unknown key `ünknöwn` in [ui] (expected one of: theme)")
        );
    }

    // --- environment_for -----------------------------------------------------

    fn env_config() -> Config {
        parse(
            r#"
[[environment]]
name = "PRD"
accounts = ["111111111111"]
profiles = ["prod", "prod-*"]

[[environment]]
name = "DEV"
accounts = ["333333333333"]
profiles = ["*"]
"#,
        )
        .unwrap()
    }

    #[test]
    fn environment_by_account() {
        let c = env_config();
        assert_eq!(
            c.environment_for(Some("111111111111"), None),
            Environment::Prd
        );
        // The account beats a profile pattern that points elsewhere.
        assert_eq!(
            c.environment_for(Some("333333333333"), Some("prod")),
            Environment::Dev
        );
    }

    #[test]
    fn environment_by_profile_glob() {
        let c = env_config();
        assert_eq!(
            c.environment_for(Some("999999999999"), Some("prod-eu")),
            Environment::Prd
        );
        assert_eq!(c.environment_for(None, Some("prod")), Environment::Prd);
        // First matching rule wins: "*" in the second rule does not shadow the first.
        assert_eq!(c.environment_for(None, Some("sandbox")), Environment::Dev);
    }

    #[test]
    fn environment_unmapped() {
        let c = env_config();
        assert_eq!(c.environment_for(None, None), Environment::Unmapped);
        let c = Config::defaults().unwrap();
        assert_eq!(
            c.environment_for(Some("111111111111"), Some("prod")),
            Environment::Unmapped
        );
        let c = parse("[[environment]]\nname = \"TST\"\nprofiles = [\"test\"]\n").unwrap();
        assert_eq!(
            c.environment_for(Some("111111111111"), Some("testing")),
            Environment::Unmapped
        );
    }

    // --- role_for ------------------------------------------------------------

    #[test]
    fn role_least_privileged_wins() {
        let c = with_roles(
            Role::Operator,
            vec![
                role_rule(Role::Admin, &["alice"], &[]),
                role_rule(Role::Viewer, &["al*"], &[]),
            ],
        );
        assert_eq!(
            c.role_for("alice", Some("arn:x")),
            RoleResolution::Resolved(Role::Viewer)
        );
        // Also when one match comes from the OS user and the other from the principal.
        let c = with_roles(
            Role::Operator,
            vec![
                role_rule(Role::Admin, &["alice"], &[]),
                role_rule(
                    Role::Viewer,
                    &[],
                    &["arn:aws:sts::*:assumed-role/Auditor/*"],
                ),
            ],
        );
        assert_eq!(
            c.role_for(
                "alice",
                Some("arn:aws:sts::111111111111:assumed-role/Auditor/alice")
            ),
            RoleResolution::Resolved(Role::Viewer)
        );
        assert_eq!(
            c.role_for("alice", Some("arn:aws:iam::111111111111:user/alice")),
            RoleResolution::Resolved(Role::Admin)
        );
    }

    #[test]
    fn role_default_when_nothing_matches() {
        let c = with_roles(
            Role::Operator,
            vec![role_rule(Role::Admin, &["alice"], &["arn:admin"])],
        );
        assert_eq!(
            c.role_for("bob", Some("arn:other")),
            RoleResolution::Resolved(Role::Operator)
        );
        let c = with_roles(Role::Viewer, vec![]);
        assert_eq!(
            c.role_for("bob", None),
            RoleResolution::Resolved(Role::Viewer)
        );
    }

    #[test]
    fn role_pending_while_principal_unknown() {
        let c = with_roles(
            Role::Operator,
            vec![
                role_rule(Role::Admin, &["alice"], &[]),
                role_rule(
                    Role::Viewer,
                    &[],
                    &["arn:aws:sts::*:assumed-role/Auditor/*"],
                ),
            ],
        );
        assert_eq!(
            c.role_for("alice", None),
            RoleResolution::Pending {
                provisional: Role::Admin
            }
        );
        assert_eq!(
            c.role_for("bob", None),
            RoleResolution::Pending {
                provisional: Role::Operator
            }
        );
        assert_eq!(c.role_for("bob", None).role(), Role::Operator);
        // A principal rule granting more than the default can also change the answer.
        let c = with_roles(
            Role::Viewer,
            vec![role_rule(Role::Admin, &[], &["arn:admin"])],
        );
        assert_eq!(
            c.role_for("bob", None),
            RoleResolution::Pending {
                provisional: Role::Viewer
            }
        );
    }

    #[test]
    fn role_resolved_when_principal_cannot_change_it() {
        // No principal rules at all.
        let c = with_roles(
            Role::Operator,
            vec![role_rule(Role::Admin, &["alice"], &[])],
        );
        assert_eq!(
            c.role_for("alice", None),
            RoleResolution::Resolved(Role::Admin)
        );
        assert_eq!(
            c.role_for("bob", None),
            RoleResolution::Resolved(Role::Operator)
        );
        // Already viewer through the OS user: nothing less privileged exists.
        let c = with_roles(
            Role::Operator,
            vec![
                role_rule(Role::Viewer, &["ro-*"], &[]),
                role_rule(Role::Admin, &[], &["arn:admin"]),
            ],
        );
        assert_eq!(
            c.role_for("ro-jane", None),
            RoleResolution::Resolved(Role::Viewer)
        );
        // The principal rule's own OS users already matched it.
        let c = with_roles(
            Role::Operator,
            vec![role_rule(Role::Viewer, &["eve"], &["arn:eve"])],
        );
        assert_eq!(
            c.role_for("eve", None),
            RoleResolution::Resolved(Role::Viewer)
        );
    }

    // --- glob_match ----------------------------------------------------------

    #[test]
    fn glob_match_table() {
        let cases = [
            ("prod-*", "prod-eu", true),
            ("prod-*", "prod-", true),
            ("prod-*", "prod", false),
            ("prod-*", "xprod-eu", false),
            ("*", "", true),
            ("*", "anything at all", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "a-b-c", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "acb", false),
            ("a*b*c", "abcd", false),
            ("exact", "exact", true),
            ("exact", "exac", false),
            ("exact", "exactly", false),
            ("exact", "Exact", false),
            ("", "", true),
            ("", "x", false),
            ("**", "", true),
            ("*-*", "-", true),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("?", "x", false),
            ("[ab]", "a", false),
            ("é*ü", "éxyü", true),
            ("*ü", "ü", true),
            (
                "arn:aws:sts::*:assumed-role/Auditor/*",
                "arn:aws:sts::111111111111:assumed-role/Auditor/jo",
                true,
            ),
            (
                "arn:aws:sts::*:assumed-role/Auditor/*",
                "arn:aws:sts::111111111111:assumed-role/Admin/jo",
                false,
            ),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_match(pattern, text),
                expected,
                "glob_match({pattern:?}, {text:?})"
            );
        }
    }

    #[test]
    fn clusters_and_contexts_map_to_environments_and_unmapped_is_strict() {
        let c = parse(
            "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"dev-*\", \"kind-*\"]\n\n[[environment]]\nname = \"PRD\"\nclusters = [\"prod-*\", \"arn:aws:eks:eu-west-1:111111111111:cluster/*\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.environment_for_kube("dev-eu", "whatever"),
            Environment::Dev
        );
        assert_eq!(
            c.environment_for_kube("ops", "arn:aws:eks:us-east-1:222222222222:cluster/prod-api"),
            Environment::Prd,
            "a name pattern matches the ARN's cluster name"
        );
        assert_eq!(
            c.environment_for_kube("ops", "arn:aws:eks:eu-west-1:111111111111:cluster/x"),
            Environment::Prd
        );
        assert_eq!(
            c.environment_for_kube("ops", "staging"),
            Environment::Unmapped
        );
        assert!(Environment::Unmapped.is_production_grade());
        assert_eq!(
            err("[[environment]]\nname = \"DEV\"\nkube_contexts = [\"\"]\n"),
            format!(
                "{ORIGIN}:3:18: environment[0].kube_contexts[0]: must not be empty (a pattern; `*` matches any run of characters)"
            )
        );
        assert!(
            err("[[environment]]\nname = \"DEV\"\nkube_context = [\"dev\"]\n")
                .contains("unknown key `kube_context` in environment[0]")
        );
    }

    fn glob_reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| glob_reference(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && glob_reference(rest, &t[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_match_agrees_with_reference(pattern in "[ab*é]{0,8}", text in "[abé]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob_match(&pattern, &text), glob_reference(&p, &t));
        }
    }
}
