//! The manifest contract: what `installers/<id>/manifest.yml` may say, checked when it is
//! loaded, with every error naming the file, the line and the key.
//!
//! A manifest declares the installer (id, name, version, what it needs of the machine), its
//! script and its inputs. Inputs have one of eight types and optional validation; an input
//! whose `visible_if` does not hold is hidden: neither validated nor passed. Values reach the
//! script only as environment variables named by the input in UPPERCASE.
//!
//! Over 800 lines because the whole contract (eight input types, their validation, `visible_if`)
//! and its located errors are checked in one pass; the last fifth is tests.

use super::locate::Lines;
use crate::ops::Secret;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use yaml_serde::Value;

/// The longest a run may be allowed to take (SSM Run Command's own maximum, 48 hours).
pub const MAX_TIMEOUT_SECONDS: u64 = 172_800;

/// Environment names an input may not take: the script's own environment, and variables a
/// shell or the dynamic loader obeys.
const RESERVED_ENV: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "OLDPWD",
    "IFS",
    "PS4",
    "ENV",
    "BASH_ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "GLOBIGNORE",
    "TERM",
    "TMPDIR",
    "DEBIAN_FRONTEND",
    "SSH_AUTH_SOCK",
];

/// A manifest that is not as the contract says: which file, which line, which key, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The key path, e.g. `inputs[2].validation.pattern`; empty for the file as a whole.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// The eight input types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A string that is always sensitive.
    Password,
    /// One of `validation.allowed_values`.
    Select,
    Email,
    /// 1–65535.
    Port,
    /// `http://` or `https://` with a host.
    Url,
}

impl InputType {
    pub const ALL: [InputType; 8] = [
        InputType::String,
        InputType::Integer,
        InputType::Boolean,
        InputType::Password,
        InputType::Select,
        InputType::Email,
        InputType::Port,
        InputType::Url,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::Password => "password",
            InputType::Select => "select",
            InputType::Email => "email",
            InputType::Port => "port",
            InputType::Url => "url",
        }
    }

    fn parse(name: &str) -> Option<InputType> {
        InputType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Compared as numbers (`min_value`, `max_value`).
    fn numeric(self) -> bool {
        matches!(self, InputType::Integer | InputType::Port)
    }

    /// Compared as text (`pattern`, `min_length`, `max_length`).
    fn textual(self) -> bool {
        matches!(
            self,
            InputType::String | InputType::Password | InputType::Email | InputType::Url
        )
    }
}

/// A `validation.pattern`: the whole value must match.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    regex: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    pub pattern: Option<Pattern>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub allowed_values: Vec<String>,
}

/// One input of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `[a-z][a-z0-9_]*`, as given with `--set NAME=VALUE`.
    pub name: String,
    /// The environment variable the script reads: the name in UPPERCASE.
    pub env: String,
    pub kind: InputType,
    pub label: String,
    pub description: Option<String>,
    pub required: bool,
    /// Normalised as a value of its type (booleans `true`/`false`).
    pub default: Option<String>,
    pub validation: Validation,
    /// Shown (and validated and passed) only when every other input named here has this value.
    pub visible_if: Vec<(String, String)>,
    /// Masked everywhere: job log, audit, store, screen. Always true for `password`.
    pub sensitive: bool,
}

impl Input {
    /// Check `value` against this input's type and validation; returns it normalised
    /// (booleans lower case, numbers without leading zeros or `+`).
    pub fn check(&self, value: &str) -> Result<String, String> {
        if value.contains('\0') {
            return Err("must not contain a NUL character".into());
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters (other than newline and tab)".into());
        }
        let v = &self.validation;
        let normalised = match self.kind {
            InputType::Boolean => match value.to_ascii_lowercase().as_str() {
                "true" => "true".to_string(),
                "false" => "false".to_string(),
                _ => return Err(format!("{value:?} is not a boolean (true or false)")),
            },
            InputType::Integer | InputType::Port => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{value:?} is not a whole number"))?;
                if self.kind == InputType::Port && !(1..=65535).contains(&n) {
                    return Err(format!("{n} is not a port (1-65535)"));
                }
                if let Some(min) = v.min_value
                    && n < min
                {
                    return Err(format!("{n} is below the minimum {min}"));
                }
                if let Some(max) = v.max_value
                    && n > max
                {
                    return Err(format!("{n} is above the maximum {max}"));
                }
                n.to_string()
            }
            InputType::Select => {
                if !v.allowed_values.iter().any(|a| a == value) {
                    return Err(format!(
                        "{} is not one of: {}",
                        self.shown(value),
                        v.allowed_values.join(", ")
                    ));
                }
                value.to_string()
            }
            InputType::String | InputType::Password | InputType::Email | InputType::Url => {
                let length = value.chars().count();
                if let Some(min) = v.min_length
                    && length < min
                {
                    return Err(format!("must be at least {min} characters long"));
                }
                if let Some(max) = v.max_length
                    && length > max
                {
                    return Err(format!("must be at most {max} characters long"));
                }
                if self.kind == InputType::Email && !is_email(value) {
                    return Err(format!(
                        "{} is not an email address (name@domain.tld)",
                        self.shown(value)
                    ));
                }
                if self.kind == InputType::Url && !is_url(value) {
                    return Err(format!(
                        "{} is not an http:// or https:// URL with a host",
                        self.shown(value)
                    ));
                }
                if !v.allowed_values.is_empty() && !v.allowed_values.iter().any(|a| a == value) {
                    return Err(format!(
                        "{} is not one of: {}",
                        self.shown(value),
                        v.allowed_values.join(", ")
                    ));
                }
                if let Some(p) = &v.pattern
                    && !p.regex.is_match(value)
                {
                    return Err(format!(
                        "{} does not match the pattern {}",
                        self.shown(value),
                        p.source
                    ));
                }
                value.to_string()
            }
        };
        Ok(normalised)
    }

    /// A value as an error message may quote it: never a sensitive one.
    fn shown(&self, value: &str) -> String {
        if self.sensitive {
            "the value".to_string()
        } else {
            format!("{value:?}")
        }
    }
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

fn is_url(value: &str) -> bool {
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    !host.is_empty()
        && !host.starts_with(':')
        && !value.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// Which operating systems an installer supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRequirements {
    /// `ID` (or an `ID_LIKE` entry) of `/etc/os-release`, e.g. `debian`, `ubuntu`. Empty: any.
    pub families: Vec<String>,
    /// The lowest `VERSION_ID`, for every family or per family.
    pub min_version: MinVersion,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MinVersion {
    #[default]
    Any,
    All(String),
    PerFamily(BTreeMap<String, String>),
}

impl MinVersion {
    pub fn for_family(&self, family: &str) -> Option<&str> {
        match self {
            MinVersion::Any => None,
            MinVersion::All(v) => Some(v),
            MinVersion::PerFamily(map) => map.get(family).map(String::as_str),
        }
    }
}

impl fmt::Display for OsRequirements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.families.is_empty() {
            return f.write_str("any OS");
        }
        let parts: Vec<String> = self
            .families
            .iter()
            .map(|family| match self.min_version.for_family(family) {
                Some(v) => format!("{family} {v}+"),
                None => family.clone(),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub min_ram_mb: Option<u64>,
    pub min_disk_mb: Option<u64>,
    pub min_cpu_cores: Option<u64>,
}

/// A checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub category: String,
    pub author: Option<String>,
    pub homepage: Option<String>,
    pub os: OsRequirements,
    pub resources: Resources,
    pub inputs: Vec<Input>,
    /// Relative to the installer's folder.
    pub install_script: String,
    pub uninstall_script: Option<String>,
    pub timeout_seconds: u64,
    /// Running it twice leaves the machine as running it once: failed runs may be retried.
    pub idempotent: bool,
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------
// Raw shape

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    name: String,
    version: Value,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: Option<String>,
    author: Option<String>,
    homepage: Option<String>,
    #[serde(default)]
    os_requirements: Option<RawOs>,
    #[serde(default)]
    resource_requirements: Option<RawResources>,
    #[serde(default)]
    inputs: Vec<RawInput>,
    install_script: String,
    uninstall_script: Option<String>,
    timeout_seconds: u64,
    #[serde(default)]
    idempotent: bool,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOs {
    #[serde(default)]
    family: Vec<String>,
    min_version: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    min_ram_mb: Option<u64>,
    min_disk_mb: Option<u64>,
    min_cpu_cores: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    label: Option<String>,
    description: Option<String>,
    #[serde(default)]
    required: bool,
    default: Option<Value>,
    validation: Option<RawValidation>,
    visible_if: Option<BTreeMap<String, Value>>,
    sensitive: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidation {
    pattern: Option<String>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    min_value: Option<i64>,
    max_value: Option<i64>,
    allowed_values: Option<Vec<Value>>,
}

/// Turns raw values into a checked manifest, with errors located in one file's text.
struct Checker<'a> {
    file: &'a Path,
    lines: Lines,
}

impl Checker<'_> {
    fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ManifestError {
        let key = key.into();
        ManifestError {
            file: self.file.to_path_buf(),
            line: self.lines.line(&key),
            message: one_line(&message.into()),
            key,
        }
    }

    fn scalar(&self, key: &str, value: &Value) -> Result<String, ManifestError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.error(key, "must be a single value (text, number or true/false)")),
        }
    }

    fn manifest(&self, raw: RawManifest, folder: Option<&str>) -> Result<Manifest, ManifestError> {
        if !valid_id(&raw.id) {
            return Err(self.error(
                "id",
                format!(
                    "{:?} is not an installer id (lower-case letters, digits and hyphens, starting with a letter, at most 64)",
                    raw.id
                ),
            ));
        }
        if let Some(folder) = folder
            && folder != raw.id
        {
            return Err(self.error(
                "id",
                format!(
                    "{:?} differs from its folder's name {folder:?}; they must be equal",
                    raw.id
                ),
            ));
        }
        if raw.name.trim().is_empty() {
            return Err(self.error("name", "must not be empty"));
        }
        let version = self.scalar("version", &raw.version)?;
        if version.trim().is_empty() || version.contains(char::is_whitespace) {
            return Err(self.error("version", "must be one word, e.g. 1.0.0"));
        }
        for (key, script) in [
            ("install_script", Some(&raw.install_script)),
            ("uninstall_script", raw.uninstall_script.as_ref()),
        ] {
            if let Some(script) = script
                && let Err(why) = relative_inside(script)
            {
                return Err(self.error(key, why));
            }
        }
        if raw.timeout_seconds == 0 || raw.timeout_seconds > MAX_TIMEOUT_SECONDS {
            return Err(self.error(
                "timeout_seconds",
                format!("must be between 1 and {MAX_TIMEOUT_SECONDS} (48 hours)"),
            ));
        }
        if let Some(homepage) = &raw.homepage
            && !is_url(homepage)
        {
            return Err(self.error("homepage", format!("{homepage:?} is not an http(s) URL")));
        }
        let os = match raw.os_requirements {
            None => OsRequirements::default(),
            Some(os) => self.os(os)?,
        };
        let resources = raw
            .resource_requirements
            .map(|r| Resources {
                min_ram_mb: r.min_ram_mb,
                min_disk_mb: r.min_disk_mb,
                min_cpu_cores: r.min_cpu_cores,
            })
            .unwrap_or_default();
        let mut inputs: Vec<Input> = Vec::with_capacity(raw.inputs.len());
        for (i, input) in raw.inputs.into_iter().enumerate() {
            let key = format!("inputs[{i}]");
            let input = self.input(&key, input)?;
            if inputs.iter().any(|other| other.name == input.name) {
                return Err(self.error(
                    format!("{key}.name"),
                    format!("input {:?} is declared twice", input.name),
                ));
            }
            inputs.push(input);
        }
        // `visible_if` names other inputs, with a value they can take, without a cycle.
        for (i, input) in inputs.iter().enumerate() {
            for (other, value) in &input.visible_if {
                let key = format!("inputs[{i}].visible_if.{other}");
                let Some(target) = inputs.iter().find(|o| &o.name == other) else {
                    return Err(self.error(key, format!("there is no input named {other:?}")));
                };
                if target.name == input.name {
                    return Err(self.error(key, "an input cannot depend on itself"));
                }
                if let Err(why) = target.check(value) {
                    return Err(self.error(key, format!("{other} can never be {value:?}: {why}")));
                }
            }
        }
        if let Some((i, path)) = visibility_cycle(&inputs) {
            return Err(self.error(
                format!("inputs[{i}].visible_if"),
                format!("visible_if goes round in a circle: {}", path.join(" → ")),
            ));
        }
        Ok(Manifest {
            id: raw.id,
            name: one_line(&raw.name),
            version,
            description: raw.description.trim().to_string(),
            category: raw.category.unwrap_or_else(|| "other".to_string()),
            author: raw.author,
            homepage: raw.homepage,
            os,
            resources,
            inputs,
            install_script: raw.install_script,
            uninstall_script: raw.uninstall_script,
            timeout_seconds: raw.timeout_seconds,
            idempotent: raw.idempotent,
            tags: raw.tags,
        })
    }

    fn os(&self, raw: RawOs) -> Result<OsRequirements, ManifestError> {
        let mut families = Vec::with_capacity(raw.family.len());
        for (i, family) in raw.family.iter().enumerate() {
            if family.is_empty()
                || !family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                return Err(self.error(
                    format!("os_requirements.family[{i}]"),
                    format!("{family:?} is not an os-release ID (e.g. debian, ubuntu)"),
                ));
            }
            families.push(family.clone());
        }
        let min_version = match raw.min_version {
            None => MinVersion::Any,
            Some(Value::Mapping(map)) => {
                let mut per = BTreeMap::new();
                for (family, version) in map {
                    let family = self.scalar("os_requirements.min_version", &family)?;
                    let key = format!("os_requirements.min_version.{family}");
                    if !families.contains(&family) {
                        return Err(self.error(
                            key,
                            format!("{family:?} is not one of the families listed in os_requirements.family"),
                        ));
                    }
                    let version = self.scalar(&key, &version)?;
                    check_version(&version).map_err(|why| self.error(&key, why))?;
                    per.insert(family, version);
                }
                MinVersion::PerFamily(per)
            }
            Some(value) => {
                let version = self.scalar("os_requirements.min_version", &value)?;
                check_version(&version)
                    .map_err(|why| self.error("os_requirements.min_version", why))?;
                MinVersion::All(version)
            }
        };
        Ok(OsRequirements {
            families,
            min_version,
        })
    }

    fn input(&self, key: &str, raw: RawInput) -> Result<Input, ManifestError> {
        let name = raw.name;
        if !valid_input_name(&name) {
            return Err(self.error(
                format!("{key}.name"),
                format!(
                    "{name:?} is not an input name (lower-case letters, digits and _, starting with a letter)"
                ),
            ));
        }
        let env = name.to_ascii_uppercase();
        if RESERVED_ENV.contains(&env.as_str())
            || env.starts_with("LC_")
            || env.starts_with("LD_")
            || env.starts_with("BASH_FUNC")
            || env.starts_with("OPSDECK_")
        {
            return Err(self.error(
                format!("{key}.name"),
                format!(
                    "{name:?} would set the environment variable {env}, which the script's own environment uses; choose another name"
                ),
            ));
        }
        let Some(kind) = InputType::parse(&raw.kind) else {
            return Err(self.error(
                format!("{key}.type"),
                format!(
                    "{:?} is not an input type (expected one of: {})",
                    raw.kind,
                    InputType::ALL.map(|t| t.as_str()).join(", ")
                ),
            ));
        };
        let sensitive = match (kind, raw.sensitive) {
            (InputType::Password, Some(false)) => {
                return Err(self.error(
                    format!("{key}.sensitive"),
                    "a password input is always sensitive; remove `sensitive: false`",
                ));
            }
            (InputType::Password, _) => true,
            (_, given) => given.unwrap_or(false),
        };
        let validation = match raw.validation {
            None => Validation::default(),
            Some(v) => self.validation(&format!("{key}.validation"), kind, v)?,
        };
        if kind == InputType::Select && validation.allowed_values.is_empty() {
            return Err(self.error(
                format!("{key}.validation.allowed_values"),
                "a select input needs validation.allowed_values (the choices)",
            ));
        }
        let mut visible_if = Vec::new();
        for (other, value) in raw.visible_if.unwrap_or_default() {
            let value = self.scalar(&format!("{key}.visible_if.{other}"), &value)?;
            visible_if.push((other, value));
        }
        let mut input = Input {
            label: raw
                .label
                .map(|l| one_line(&l))
                .unwrap_or_else(|| name.replace('_', " ")),
            name,
            env,
            kind,
            description: raw.description.map(|d| d.trim().to_string()),
            required: raw.required,
            default: None,
            validation,
            visible_if,
            sensitive,
        };
        if let Some(default) = raw.default {
            let dkey = format!("{key}.default");
            if sensitive {
                return Err(self.error(
                    dkey,
                    "a sensitive input cannot have a default: it would be a secret shared by every run, written in the manifest",
                ));
            }
            let text = self.scalar(&dkey, &default)?;
            let checked = input.check(&text).map_err(|why| {
                self.error(
                    &dkey,
                    format!("the default breaks the input's own rule: {why}"),
                )
            })?;
            input.default = Some(checked);
        }
        Ok(input)
    }

    fn validation(
        &self,
        key: &str,
        kind: InputType,
        raw: RawValidation,
    ) -> Result<Validation, ManifestError> {
        let applies = |present: bool, name: &str, ok: bool, types: &str| {
            if present && !ok {
                Err(self.error(
                    format!("{key}.{name}"),
                    format!(
                        "{name} applies to {types} inputs, not to a {} input",
                        kind.as_str()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let text_types = "string, password, email and url";
        applies(raw.pattern.is_some(), "pattern", kind.textual(), text_types)?;
        applies(
            raw.min_length.is_some(),
            "min_length",
            kind.textual(),
            text_types,
        )?;
        applies(
            raw.max_length.is_some(),
            "max_length",
            kind.textual(),
            text_types,
        )?;
        applies(
            raw.min_value.is_some(),
            "min_value",
            kind.numeric(),
            "integer and port",
        )?;
        applies(
            raw.max_value.is_some(),
            "max_value",
            kind.numeric(),
            "integer and port",
        )?;
        applies(
            raw.allowed_values.is_some(),
            "allowed_values",
            kind == InputType::Select || kind == InputType::String,
            "select and string",
        )?;
        let pattern = match raw.pattern {
            None => None,
            Some(source) => {
                let regex = Regex::new(&format!("^(?:{source})$")).map_err(|e| {
                    self.error(
                        format!("{key}.pattern"),
                        format!(
                            "not a valid regular expression: {}",
                            one_line(&e.to_string())
                        ),
                    )
                })?;
                Some(Pattern { source, regex })
            }
        };
        if let (Some(min), Some(max)) = (raw.min_length, raw.max_length)
            && min > max
        {
            return Err(self.error(format!("{key}.min_length"), "is larger than max_length"));
        }
        if let (Some(min), Some(max)) = (raw.min_value, raw.max_value)
            && min > max
        {
            return Err(self.error(format!("{key}.min_value"), "is larger than max_value"));
        }
        let mut allowed_values = Vec::new();
        for (i, value) in raw.allowed_values.unwrap_or_default().iter().enumerate() {
            let value = self.scalar(&format!("{key}.allowed_values[{i}]"), value)?;
            if allowed_values.contains(&value) {
                return Err(self.error(
                    format!("{key}.allowed_values[{i}]"),
                    format!("{value:?} is listed twice"),
                ));
            }
            allowed_values.push(value);
        }
        Ok(Validation {
            pattern,
            min_length: raw.min_length,
            max_length: raw.max_length,
            min_value: raw.min_value,
            max_value: raw.max_value,
            allowed_values,
        })
    }
}

/// The first input whose `visible_if` conditions lead back to it, with the path taken.
fn visibility_cycle(inputs: &[Input]) -> Option<(usize, Vec<String>)> {
    fn walk(inputs: &[Input], at: usize, path: &mut Vec<usize>) -> bool {
        if path.contains(&at) {
            path.push(at);
            return true;
        }
        path.push(at);
        for (other, _) in &inputs[at].visible_if {
            if let Some(next) = inputs.iter().position(|o| &o.name == other)
                && walk(inputs, next, path)
            {
                return true;
            }
        }
        path.pop();
        false
    }
    (0..inputs.len()).find_map(|i| {
        let mut path = Vec::new();
        walk(inputs, i, &mut path)
            .then(|| (i, path.iter().map(|&j| inputs[j].name.clone()).collect()))
    })
}

fn valid_id(id: &str) -> bool {
    id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_input_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Why `path` does not stay inside the installer's folder, as text: absolute, `..`, empty.
/// (A symlink that leads out is caught when the file is read.)
pub fn relative_inside(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must name a file in the installer's folder".into());
    }
    if path.starts_with('/') {
        return Err(format!(
            "{path:?} is an absolute path; a script must be a file in the installer's own folder"
        ));
    }
    if path.contains('\0') || path.contains('\\') {
        return Err(format!("{path:?} is not a plain relative path"));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(format!(
            "{path:?} leaves the installer's folder (..); a script must be a file in the installer's own folder"
        ));
    }
    if path.split('/').all(|part| part.is_empty() || part == ".") {
        return Err("must name a file in the installer's folder".into());
    }
    Ok(())
}

fn check_version(version: &str) -> Result<(), String> {
    if version
        .split('.')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Ok(())
    } else {
        Err(format!(
            "{version:?} is not a version number (digits and dots, e.g. 12 or 22.04)"
        ))
    }
}

/// Compare dotted version numbers: `22.04` ≥ `20.04`, `12` ≥ `11.7`.
pub fn version_at_least(have: &str, need: &str) -> Option<bool> {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    let (have, need) = (parse(have)?, parse(need)?);
    for i in 0..have.len().max(need.len()) {
        let (h, n) = (
            have.get(i).copied().unwrap_or(0),
            need.get(i).copied().unwrap_or(0),
        );
        if h != n {
            return Some(h > n);
        }
    }
    Some(true)
}

fn one_line(text: &str) -> String {
    let mut out = String::new();
    crate::engine::joblog::sanitize_into(text, &mut out);
    out
}

impl Manifest {
    /// Parse and check a manifest's text. `file` names it in errors; `folder` is the name of
    /// the folder it came from, which its `id` must equal.
    pub fn parse(text: &str, file: &Path, folder: Option<&str>) -> Result<Manifest, ManifestError> {
        let checker = Checker {
            file,
            lines: Lines::scan(text),
        };
        let raw: RawManifest = yaml_serde::from_str(text).map_err(|e| {
            let full = e.to_string();
            let message = full
                .rfind(" at line ")
                .map_or(full.as_str(), |i| &full[..i])
                .to_string();
            // yaml_serde says `inputs[0]: unknown field `x`, expected …`: the key path first.
            let (key, message) = match message.split_once(": ") {
                Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
                _ => (String::new(), message),
            };
            let message = message.replace("unknown field", "unknown key");
            let message = match message.strip_prefix("missing field ") {
                Some(field) => format!("missing required key {field}"),
                None => message,
            };
            ManifestError {
                file: file.to_path_buf(),
                line: e.location().map(|l| l.line()).filter(|l| *l > 0),
                key,
                message: one_line(&message),
            }
        })?;
        checker.manifest(raw, folder)
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Which inputs are shown, given these values (missing ones take their defaults).
    /// An input is visible when every `visible_if` condition names a visible input whose value
    /// equals the condition's.
    pub fn visibility(&self, given: &BTreeMap<String, String>) -> Vec<bool> {
        let mut memo: Vec<Option<bool>> = vec![None; self.inputs.len()];
        (0..self.inputs.len())
            .map(|i| self.visible_at(i, given, &mut memo, 0))
            .collect()
    }

    fn visible_at(
        &self,
        i: usize,
        given: &BTreeMap<String, String>,
        memo: &mut Vec<Option<bool>>,
        depth: usize,
    ) -> bool {
        if let Some(known) = memo[i] {
            return known;
        }
        // Cycles are refused at load; the depth bound keeps a hand-made manifest finite too.
        if depth > self.inputs.len() {
            return false;
        }
        let input = &self.inputs[i];
        let mut visible = true;
        for (other, wanted) in &input.visible_if {
            let Some(j) = self.inputs.iter().position(|o| &o.name == other) else {
                visible = false;
                break;
            };
            if !self.visible_at(j, given, memo, depth + 1) {
                visible = false;
                break;
            }
            let target = &self.inputs[j];
            let value = given
                .get(other)
                .cloned()
                .or_else(|| target.default.clone())
                .unwrap_or_default();
            let value = target.check(&value).unwrap_or(value);
            if &value != wanted {
                visible = false;
                break;
            }
        }
        memo[i] = Some(visible);
        visible
    }

    /// The values the script gets: every visible input, checked, in manifest order; or every
    /// problem, by input name. Names not declared are refused; hidden inputs are dropped.
    pub fn resolve(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<Vec<InputValue>, Vec<InputProblem>> {
        let mut problems = Vec::new();
        for name in given.keys() {
            if self.input(name).is_none() {
                problems.push(InputProblem {
                    name: name.clone(),
                    message: format!(
                        "{} has no input named {name:?} (inputs: {})",
                        self.id,
                        if self.inputs.is_empty() {
                            "none".to_string()
                        } else {
                            self.inputs
                                .iter()
                                .map(|i| i.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                });
            }
        }
        let visible = self.visibility(given);
        let mut values = Vec::new();
        for (input, shown) in self.inputs.iter().zip(visible) {
            if !shown {
                continue;
            }
            let value = given
                .get(&input.name)
                .cloned()
                .or_else(|| input.default.clone())
                .unwrap_or_default();
            if value.is_empty() {
                if input.required {
                    problems.push(InputProblem {
                        name: input.name.clone(),
                        message: format!("{} is required", input.label),
                    });
                    continue;
                }
                values.push(InputValue::new(input, String::new()));
                continue;
            }
            match input.check(&value) {
                Ok(value) => values.push(InputValue::new(input, value)),
                Err(message) => problems.push(InputProblem {
                    name: input.name.clone(),
                    message,
                }),
            }
        }
        if problems.is_empty() {
            Ok(values)
        } else {
            Err(problems)
        }
    }
}

/// One refused value: the input's name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub name: String,
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// A checked value as the script receives it: by environment name, sensitive ones held as
/// [`Secret`] so no `Debug`, `Serialize` or `Display` can show them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct InputValue {
    pub name: String,
    pub env: String,
    pub value: InputText,
}

/// A value, plain or secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum InputText {
    Plain(String),
    Secret(Secret),
}

impl InputValue {
    fn new(input: &Input, value: String) -> InputValue {
        InputValue {
            name: input.name.clone(),
            env: input.env.clone(),
            value: if input.sensitive {
                InputText::Secret(Secret::new(value))
            } else {
                InputText::Plain(value)
            },
        }
    }

    /// The value for the script (the only place a secret's text is taken out).
    pub fn expose(&self) -> &str {
        match &self.value {
            InputText::Plain(v) => v,
            InputText::Secret(s) => s.expose(),
        }
    }

    /// The value as shown: `****` for a secret.
    pub fn shown(&self) -> &str {
        match &self.value {
            InputText::Plain(v) => v,
            InputText::Secret(_) => crate::redact::MASK,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self.value, InputText::Secret(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "/u/installers/app/manifest.yml";

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new(FILE), Some("app"))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(m) => panic!("expected an error, got {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    const HEAD: &str =
        "id: app\nname: App\nversion: 1.0.0\ninstall_script: install.sh\ntimeout_seconds: 60\n";

    fn with_inputs(inputs: &str) -> String {
        format!("{HEAD}inputs:\n{inputs}")
    }

    #[test]
    fn unknown_keys_are_errors_naming_file_line_and_key() {
        let e = err(&format!("{HEAD}colour: blue\n"));
        assert!(e.starts_with(&format!("{FILE}:6:")), "{e}");
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = err(&with_inputs(
            "  - name: port\n    type: port\n    lable: Port\n",
        ));
        assert!(e.starts_with(&format!("{FILE}:9:")), "{e}");
        assert!(
            e.contains("inputs[0]") && e.contains("unknown key `lable`"),
            "{e}"
        );
        let e = err(&with_inputs(
            "  - name: p\n    type: string\n    validation:\n      patern: x\n",
        ));
        assert!(e.starts_with(&format!("{FILE}:10:")), "{e}");
        assert!(e.contains("unknown key `patern`"), "{e}");
        let e = err("id: app\nname: App\n");
        assert!(e.contains("missing required key"), "{e}");
    }

    #[test]
    fn checks_after_parsing_name_the_line_and_key() {
        let e = err(&with_inputs(
            "  - name: p\n    type: string\n    validation:\n      pattern: '(unclosed'\n",
        ));
        assert!(
            e.starts_with(&format!(
                "{FILE}:10: inputs[0].validation.pattern: not a valid regular expression"
            )),
            "{e}"
        );
        let e = err(&with_inputs("  - name: p\n    type: colour\n"));
        assert_eq!(
            e,
            format!(
                "{FILE}:8: inputs[0].type: \"colour\" is not an input type (expected one of: string, integer, boolean, password, select, email, port, url)"
            )
        );
        let e = err(&with_inputs(
            "  - name: n\n    type: integer\n    default: 5\n    validation:\n      max_value: 3\n",
        ));
        assert!(e.contains(":9: inputs[0].default: the default breaks the input's own rule: 5 is above the maximum 3"), "{e}");
        let e = err(&with_inputs(
            "  - name: p\n    type: string\n    validation:\n      min_value: 1\n",
        ));
        assert!(
            e.contains(
                "inputs[0].validation.min_value: min_value applies to integer and port inputs"
            ),
            "{e}"
        );
        let e = err(&with_inputs("  - name: path\n    type: string\n"));
        assert!(e.contains("environment variable PATH"), "{e}");
        let e = err(&with_inputs(
            "  - name: pw\n    type: password\n    default: x\n",
        ));
        assert!(e.contains("cannot have a default"), "{e}");
        let e = err(&with_inputs(
            "  - name: pw\n    type: password\n    sensitive: false\n",
        ));
        assert!(e.contains("always sensitive"), "{e}");
        let e = err(&with_inputs("  - name: s\n    type: select\n"));
        assert!(e.contains("needs validation.allowed_values"), "{e}");
        let e = err(&HEAD.replace("id: app", "id: other"));
        assert!(
            e.contains(":1: id: \"other\" differs from its folder's name \"app\""),
            "{e}"
        );
        let e = err(&HEAD.replace("install_script: install.sh", "install_script: ../x.sh"));
        assert!(
            e.contains(":4: install_script:") && e.contains("leaves the installer's folder"),
            "{e}"
        );
        let e = err(&HEAD.replace("timeout_seconds: 60", "timeout_seconds: 0"));
        assert!(
            e.contains("timeout_seconds: must be between 1 and 172800"),
            "{e}"
        );
    }

    #[test]
    fn visible_if_must_name_an_input_a_value_it_can_take_and_no_circle() {
        let e = err(&with_inputs(
            "  - name: a\n    type: string\n    visible_if:\n      nope: x\n",
        ));
        assert!(
            e.contains("inputs[0].visible_if.nope: there is no input named \"nope\""),
            "{e}"
        );
        let e = err(&with_inputs(
            "  - name: tls\n    type: boolean\n  - name: cert\n    type: string\n    visible_if:\n      tls: maybe\n",
        ));
        assert!(e.contains("tls can never be \"maybe\""), "{e}");
        let e = err(&with_inputs(
            "  - name: a\n    type: string\n    visible_if:\n      b: x\n  - name: b\n    type: string\n    visible_if:\n      a: y\n",
        ));
        assert!(e.contains("goes round in a circle"), "{e}");
    }

    fn eight_types() -> Manifest {
        parse(&with_inputs(
            "  - name: name
    type: string
    required: true
    validation: {pattern: '[a-z]+', max_length: 8}
  - name: count
    type: integer
    default: 2
    validation: {min_value: 1, max_value: 10}
  - name: tls
    type: boolean
    default: false
  - name: secret
    type: password
    validation: {min_length: 4}
  - name: size
    type: select
    default: small
    validation: {allowed_values: [small, large]}
  - name: mail
    type: email
  - name: port
    type: port
    default: 8080
  - name: site
    type: url
  - name: cert
    type: string
    required: true
    visible_if: {tls: true}
",
        ))
        .expect("parses")
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_eight_types_validate_their_values() {
        let m = eight_types();
        let check = |name: &str, value: &str| m.input(name).expect("input").check(value);
        assert!(check("name", "web").is_ok());
        assert!(
            check("name", "Web")
                .unwrap_err()
                .contains("does not match the pattern")
        );
        assert!(
            check("name", "abcdefghi")
                .unwrap_err()
                .contains("at most 8")
        );
        assert_eq!(check("count", "05"), Ok("5".into()));
        assert!(
            check("count", "11")
                .unwrap_err()
                .contains("above the maximum 10")
        );
        assert!(
            check("count", "x")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert_eq!(check("tls", "TRUE"), Ok("true".into()));
        assert!(check("tls", "yes").unwrap_err().contains("not a boolean"));
        let secret = check("secret", "abc").unwrap_err();
        assert!(secret.contains("at least 4"), "{secret}");
        assert!(
            check("size", "medium")
                .unwrap_err()
                .contains("not one of: small, large")
        );
        assert!(check("mail", "ops@example.com").is_ok());
        assert!(check("mail", "ops@example").is_err());
        assert!(check("port", "0").unwrap_err().contains("not a port"));
        assert!(check("port", "65536").unwrap_err().contains("not a port"));
        assert!(check("site", "https://example.com/x").is_ok());
        assert!(check("site", "ftp://example.com").is_err());
        assert!(
            check("name", "a\u{1b}[2Jb")
                .unwrap_err()
                .contains("control characters")
        );
        // a sensitive value is never quoted back
        let m2 = parse(&with_inputs(
            "  - name: key\n    type: string\n    sensitive: true\n    validation: {pattern: '[0-9]+'}\n",
        ))
        .expect("parses");
        let e = m2.input("key").expect("key").check("hunter2").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn hidden_inputs_are_neither_validated_nor_passed() {
        let m = eight_types();
        let values = m
            .resolve(&given(&[("name", "web"), ("secret", "s3cret")]))
            .expect("resolves");
        let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
        assert!(
            !names.contains(&"cert"),
            "tls is false: cert is hidden {names:?}"
        );
        assert_eq!(
            values
                .iter()
                .find(|v| v.name == "count")
                .map(|v| v.expose()),
            Some("2")
        );
        assert!(
            values
                .iter()
                .find(|v| v.name == "secret")
                .is_some_and(|v| v.is_secret())
        );
        assert_eq!(
            values
                .iter()
                .find(|v| v.name == "tls")
                .map(|v| v.env.as_str()),
            Some("TLS")
        );
        // visible: now it is required
        let problems = m
            .resolve(&given(&[("name", "web"), ("tls", "true")]))
            .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].name, "cert");
        // an undeclared name is refused, naming it
        let problems = m
            .resolve(&given(&[("name", "web"), ("colour", "x")]))
            .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.name == "colour" && p.message.contains("no input named"))
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_at_least("22.04", "20.04"), Some(true));
        assert_eq!(version_at_least("12", "11.7"), Some(true));
        assert_eq!(version_at_least("10", "11"), Some(false));
        assert_eq!(version_at_least("9.10", "9.9"), Some(true));
        assert_eq!(version_at_least("rolling", "11"), None);
    }
}
