//! The installers' operations: the preflight read and the `run-installer` mutation, each
//! carrying everything resolved when it was requested (the installer's hash, every target
//! with its environment and what preflight found, the checked input values), so what is
//! confirmed is exactly what runs.

use super::catalog::{Installer, Origin};
use super::manifest::InputValue;
use crate::model::Environment;
use crate::ops::{MutatingOp, Mutation, Read, RiskTier, to_json};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Where an installer runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The bastion opsdeck runs on.
    Local,
    /// A host through the system's OpenSSH client (its config, keys, agent, known_hosts).
    Ssh(String),
    /// An EC2 instance (or hybrid node) through SSM Run Command.
    Ssm(String),
}

impl Target {
    /// `local`, `ssh:HOST` or `ssm:INSTANCE_ID`, checked: a HOST that ssh could read as an
    /// option (a leading `-`) or that carries spaces or control characters is refused.
    pub fn parse(text: &str) -> Result<Target, String> {
        if text == "local" {
            return Ok(Target::Local);
        }
        if let Some(host) = text.strip_prefix("ssh:") {
            let ok = !host.is_empty()
                && host.len() <= 255
                && !host.starts_with('-')
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@:[]".contains(c));
            return if ok {
                Ok(Target::Ssh(host.to_string()))
            } else {
                Err(format!(
                    "{text:?}: HOST must be a host name, address or ssh config alias (letters, digits, . _ - @ : [ ]; not starting with -)"
                ))
            };
        }
        if let Some(id) = text.strip_prefix("ssm:") {
            let ok = id
                .strip_prefix("i-")
                .or_else(|| id.strip_prefix("mi-"))
                .is_some_and(|hex| {
                    (8..=17).contains(&hex.len())
                        && hex
                            .chars()
                            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                });
            return if ok {
                Ok(Target::Ssm(id.to_string()))
            } else {
                Err(format!(
                    "{text:?}: INSTANCE_ID must be an instance id like i-0123456789abcdef0 (or mi-… for a hybrid node)"
                ))
            };
        }
        Err(format!(
            "{text:?} is not a target: use local, ssh:HOST or ssm:INSTANCE_ID"
        ))
    }

    /// What `[[targets.environment]] hosts` patterns are matched against.
    pub fn name(&self) -> &str {
        match self {
            Target::Local => "local",
            Target::Ssh(host) => host,
            Target::Ssm(id) => id,
        }
    }

    /// Whether running here asks AWS anything (an SSM instance; `local` and `ssh:` do not).
    pub fn uses_aws(&self) -> bool {
        match self {
            Target::Ssm(_) => true,
            Target::Local | Target::Ssh(_) => false,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Local => "local",
            Target::Ssh(_) => "ssh",
            Target::Ssm(_) => "ssm",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::Ssh(host) => write!(f, "ssh:{host}"),
            Target::Ssm(id) => write!(f, "ssm:{id}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// What preflight found on a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct HostFacts {
    /// `ID` of `/etc/os-release`, e.g. `debian`.
    pub os_id: String,
    /// `ID_LIKE`, split.
    pub os_like: Vec<String>,
    /// `VERSION_ID`, e.g. `12` or `22.04`.
    pub os_version: String,
    pub ram_mb: u64,
    /// Free space on `/`.
    pub disk_mb: u64,
    pub cpu_cores: u64,
    pub systemd: bool,
    /// SSM targets: whether the aws CLI is on the instance (it fetches sensitive inputs).
    pub aws_cli: Option<bool>,
    /// SSM targets: the AWS account the session (and so the instance) is in.
    pub account: Option<String>,
    /// SSM targets: the instance's tags (for `[[targets.environment]] instance_tags`).
    pub tags: BTreeMap<String, String>,
    /// SSM targets: why the tags could not be read (the environment is then not decided by
    /// them, and the target counts as unmapped where tag rules exist).
    pub tags_error: Option<String>,
}

impl HostFacts {
    /// `debian 12 · 2 cores · 3.8 GiB RAM · 20.1 GiB free`.
    pub fn summary(&self) -> String {
        format!(
            "{} {} · {} core(s) · {} MiB RAM · {} MiB free{}",
            if self.os_id.is_empty() {
                "unknown OS"
            } else {
                &self.os_id
            },
            self.os_version,
            self.cpu_cores,
            self.ram_mb,
            self.disk_mb,
            if self.systemd { "" } else { " · no systemd" }
        )
    }
}

/// The installers' reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstallRead {
    /// OS family and version, RAM, free disk, cores (and, for SSM, the aws CLI and the
    /// instance's tags) of one target. Changes nothing on it.
    Preflight { target: Target },
}

impl Read for InstallRead {
    fn name(&self) -> &'static str {
        match self {
            InstallRead::Preflight { .. } => "installer-preflight",
        }
    }

    fn title(&self) -> String {
        match self {
            InstallRead::Preflight { target } => format!("Preflight {target}"),
        }
    }

    fn long_running(&self) -> bool {
        match self {
            // An SSM preflight waits for the agent; ssh for a slow link.
            InstallRead::Preflight { target } => matches!(target, Target::Ssm(_)),
        }
    }

    fn streams(&self) -> bool {
        match self {
            InstallRead::Preflight { .. } => false,
        }
    }
}

/// A target as confirmed: the environment it maps to and what preflight found there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ResolvedTarget {
    pub target: Target,
    pub environment: Environment,
    pub facts: HostFacts,
}

/// SSM's MaxConcurrency and MaxErrors: a number, or a percentage of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rate {
    Count(u32),
    Percent(u8),
}

impl Rate {
    /// `N` or `N%` (1–100).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("{text:?} is not a number or a percentage (e.g. 2 or 50%)");
        match text.strip_suffix('%') {
            Some(p) => {
                let p: u8 = p.parse().map_err(|_| bad())?;
                if (1..=100).contains(&p) {
                    Ok(Rate::Percent(p))
                } else {
                    Err(format!("{text:?}: a percentage must be 1% to 100%"))
                }
            }
            None => text.parse().map(Rate::Count).map_err(|_| bad()),
        }
    }

    /// As a count of `total` targets: a percentage rounds down.
    pub fn of(self, total: usize) -> usize {
        match self {
            Rate::Count(n) => n as usize,
            Rate::Percent(p) => total * usize::from(p) / 100,
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Count(n) => write!(f, "{n}"),
            Rate::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Run one installer on one or more targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RunInstaller {
    /// Chosen when the run is requested; names the run in SSM (comment, parameter path).
    pub run_id: String,
    pub installer: String,
    pub name: String,
    pub version: String,
    /// `sha256:…` of the manifest and scripts, as confirmed; checked again before the start.
    pub hash: String,
    pub origin: Origin,
    pub targets: Vec<ResolvedTarget>,
    /// Every visible input's value, in manifest order; sensitive ones serialise as `****`.
    pub inputs: Vec<InputValue>,
    /// Targets running at once.
    pub max_concurrency: Rate,
    /// Failed targets tolerated before no further target is started.
    pub max_errors: Rate,
    pub timeout_seconds: u64,
    pub idempotent: bool,
}

impl RunInstaller {
    /// A run of `installer` as loaded now, with these checked values and targets.
    pub fn new(
        run_id: String,
        installer: &Installer,
        targets: Vec<ResolvedTarget>,
        inputs: Vec<InputValue>,
        max_concurrency: Rate,
        max_errors: Rate,
    ) -> RunInstaller {
        let m = &installer.manifest;
        RunInstaller {
            run_id,
            installer: m.id.clone(),
            name: m.name.clone(),
            version: m.version.clone(),
            hash: installer.hash.clone(),
            origin: installer.origin.clone(),
            targets,
            inputs,
            max_concurrency,
            max_errors,
            timeout_seconds: m.timeout_seconds,
            idempotent: m.idempotent,
        }
    }

    /// The strictest environment among the targets (PRD, then unmapped, TST, DEV): the one the
    /// audit entry and the confirmation go by.
    pub fn environment(&self) -> Environment {
        let rank = |e: Environment| match e {
            Environment::Prd => 3,
            Environment::Unmapped => 2,
            Environment::Tst => 1,
            Environment::Dev => 0,
        };
        self.targets
            .iter()
            .map(|t| t.environment)
            .max_by_key(|e| rank(*e))
            .unwrap_or(Environment::Unmapped)
    }

    /// Whether the run asks AWS anything (an SSM target).
    pub fn uses_aws(&self) -> bool {
        self.targets.iter().any(|t| t.target.uses_aws())
    }

    fn target_list(&self) -> String {
        self.targets
            .iter()
            .map(|t| t.target.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The installers' mutations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstallMutation {
    RunInstaller(RunInstaller),
}

impl From<RunInstaller> for InstallMutation {
    fn from(op: RunInstaller) -> InstallMutation {
        InstallMutation::RunInstaller(op)
    }
}

impl From<RunInstaller> for MutatingOp {
    fn from(op: RunInstaller) -> MutatingOp {
        MutatingOp::Install(InstallMutation::RunInstaller(op))
    }
}

impl Mutation for InstallMutation {
    fn name(&self) -> &'static str {
        match self {
            InstallMutation::RunInstaller(_) => "run-installer",
        }
    }

    fn risk(&self) -> RiskTier {
        match self {
            // Any target in PRD (or unmapped) asks for the installer's id typed.
            InstallMutation::RunInstaller(r) => {
                if r.targets
                    .iter()
                    .any(|t| t.environment.is_production_grade())
                {
                    RiskTier::TypeName(r.installer.clone())
                } else {
                    RiskTier::Simple
                }
            }
        }
    }

    fn policy_block(&self) -> Option<String> {
        match self {
            InstallMutation::RunInstaller(r) => r
                .targets
                .is_empty()
                .then(|| "a run needs at least one target".to_string()),
        }
    }

    fn environment(&self) -> Environment {
        match self {
            InstallMutation::RunInstaller(r) => r.environment(),
        }
    }

    fn describe(&self) -> String {
        match self {
            InstallMutation::RunInstaller(r) => format!(
                "Run installer {} {} ({}) on {}",
                r.installer,
                r.version,
                Installer::short_hash(&r.hash),
                r.target_list()
            ),
        }
    }

    fn target_key(&self) -> String {
        match self {
            InstallMutation::RunInstaller(r) => {
                let mut names: Vec<String> =
                    r.targets.iter().map(|t| t.target.to_string()).collect();
                names.sort();
                format!("install:{}", names.join(","))
            }
        }
    }

    fn target_json(&self) -> serde_json::Value {
        match self {
            // The inputs with sensitive values as `****` (see `InputValue`), the full hash,
            // every target with its environment and facts.
            InstallMutation::RunInstaller(r) => to_json(r),
        }
    }

    fn target_line(&self) -> String {
        match self {
            InstallMutation::RunInstaller(r) => match r.targets.as_slice() {
                [one] => format!("{} ({})", one.target, one.environment),
                many => format!("{} targets: {}", many.len(), r.target_list()),
            },
        }
    }

    fn dialog_rows(&self) -> usize {
        match self {
            InstallMutation::RunInstaller(r) => 2 * r.targets.len() + r.inputs.len() + 18,
        }
    }

    fn on_dismiss(&self) -> Option<MutatingOp> {
        match self {
            InstallMutation::RunInstaller(_) => None,
        }
    }

    fn is_cleanup(&self) -> bool {
        match self {
            InstallMutation::RunInstaller(_) => false,
        }
    }

    fn what_may_be_left(&self, _endpoint: Option<&str>) -> Option<String> {
        match self {
            // A script runs in its own session (local), on its host (ssh) or under the SSM
            // agent: it may go on after opsdeck stops.
            InstallMutation::RunInstaller(r) => Some(format!(
                "installer {} may still be running on {}: check there before running it again (an SSM run's inputs parameter expires by itself)",
                r.installer,
                r.target_list()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::installers::manifest::{InputText, InputValue};
    use crate::ops::Secret;

    pub(crate) fn run(envs: &[(Target, Environment)]) -> RunInstaller {
        RunInstaller {
            run_id: "r-1".into(),
            installer: "nginx".into(),
            name: "nginx web server".into(),
            version: "1.0.0".into(),
            hash: format!("sha256:{}", "ab".repeat(32)),
            origin: Origin::Bundled,
            targets: envs
                .iter()
                .map(|(target, environment)| ResolvedTarget {
                    target: target.clone(),
                    environment: *environment,
                    facts: HostFacts::default(),
                })
                .collect(),
            inputs: vec![
                InputValue {
                    name: "http_port".into(),
                    env: "HTTP_PORT".into(),
                    value: InputText::Plain("8080".into()),
                },
                InputValue {
                    name: "admin_password".into(),
                    env: "ADMIN_PASSWORD".into(),
                    value: InputText::Secret(Secret::new("hunter2-very-secret")),
                },
            ],
            max_concurrency: Rate::Count(1),
            max_errors: Rate::Count(0),
            timeout_seconds: 900,
            idempotent: true,
        }
    }

    #[test]
    fn targets_parse_strictly() {
        assert_eq!(Target::parse("local"), Ok(Target::Local));
        assert_eq!(
            Target::parse("ssh:root@web1.example.com"),
            Ok(Target::Ssh("root@web1.example.com".into()))
        );
        assert_eq!(
            Target::parse("ssm:i-0123456789abcdef0"),
            Ok(Target::Ssm("i-0123456789abcdef0".into()))
        );
        for bad in [
            "ssh:-oProxyCommand=touch /tmp/x",
            "ssh:",
            "ssh:web 1",
            "ssh:web\n1",
            "ssm:i-XYZ",
            "ssm:instance",
            "web1",
            "LOCAL",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rates_parse_and_count_as_ssm_does() {
        assert_eq!(Rate::parse("3"), Ok(Rate::Count(3)));
        assert_eq!(Rate::parse("50%"), Ok(Rate::Percent(50)));
        assert!(
            Rate::parse("0%").is_err() && Rate::parse("x").is_err() && Rate::parse("101%").is_err()
        );
        assert_eq!(Rate::Percent(50).of(5), 2);
        assert_eq!(Rate::Count(0).of(5), 0);
    }

    #[test]
    fn prd_or_unmapped_targets_take_the_typed_tier() {
        let op = |envs: &[(Target, Environment)]| MutatingOp::from(run(envs));
        let dev = op(&[(Target::Local, Environment::Dev)]);
        assert_eq!(dev.risk(), RiskTier::Simple);
        assert_eq!(dev.name(), "run-installer");
        let mixed = op(&[
            (Target::Ssh("a".into()), Environment::Dev),
            (Target::Ssh("b".into()), Environment::Prd),
        ]);
        assert_eq!(mixed.risk(), RiskTier::TypeName("nginx".into()));
        assert_eq!(mixed.environment(), Environment::Prd);
        assert_eq!(
            op(&[(Target::Local, Environment::Unmapped)]).risk(),
            RiskTier::TypeName("nginx".into())
        );
        assert!(op(&[]).policy_block().is_some());
    }

    #[test]
    fn secrets_never_reach_the_audit_target_or_any_text() {
        let op = MutatingOp::from(run(&[(Target::Local, Environment::Dev)]));
        let json = op.target_json().to_string();
        for text in [&json, &format!("{op:?}"), &op.describe(), &op.target_line()] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(
            json.contains("\"ADMIN_PASSWORD\"") && json.contains("****"),
            "{json}"
        );
        assert!(json.contains("8080"), "{json}");
        assert!(
            json.contains(&"ab".repeat(32)),
            "the full hash is audited: {json}"
        );
    }
}
