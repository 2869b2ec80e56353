//! The installers' plans: from what was asked (an installer, targets, values) to a fully
//! resolved `run-installer` operation. Each target is preflighted (a read through the engine),
//! checked against the manifest's requirements, and mapped to its environment; the values are
//! checked against the manifest. The console (off the UI thread), `opsdeck install`, and the
//! registry's plan (`opsdeck run run-installer`, the assistant's tool: [`run_from_args`]) run
//! the same functions, so each asks for exactly the same operation.

use super::catalog::{Catalog, Installer, Origin};
use super::manifest::{Input, InputProblem, InputType, InputValue, Manifest, version_at_least};
use super::ops::{HostFacts, InstallRead, Rate, ResolvedTarget, RunInstaller, Target};
use super::port::InstallOutput;
use crate::config::TargetsConfig;
use crate::engine::ReadOutput;
use crate::model::Environment;
use crate::ops::{PlanCtx, PlanError, ReadOp};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a plan finds installers: the user's folder (the bundled ones are in the binary), and
/// the `[targets]` config that maps their targets to environments.
#[derive(Debug, Clone, Default)]
pub struct InstallerSource {
    /// `~/.config/opsdeck/installers`.
    pub dir: PathBuf,
    pub targets: TargetsConfig,
}

/// The installers as they are now (a few small files, read on the plan's task).
pub fn catalog(ctx: &dyn PlanCtx) -> Result<(Catalog, InstallerSource), PlanError> {
    let source = ctx.installers().ok_or_else(|| {
        PlanError::Failed(
            "installers are not known here; run them from the console (:installers) or with `opsdeck install`".into(),
        )
    })?;
    Ok((Catalog::load(&source.dir), source))
}

/// Why an id names no installer that can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoInstaller {
    /// No installer has this id.
    Unknown(String),
    /// A user installer of this id does not load: the id, and each problem (file:line: key).
    Broken(String, Vec<String>),
}

impl std::fmt::Display for NoInstaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoInstaller::Unknown(id) => write!(f, "no installer {id:?}"),
            NoInstaller::Broken(id, problems) => {
                write!(
                    f,
                    "installer {id:?} cannot be loaded: {}",
                    problems.join("; ")
                )
            }
        }
    }
}

/// The installer `id` of `catalog`; or why not, naming a user installer of that id that could
/// not be loaded (its file, line and key).
pub fn find_installer(catalog: &Catalog, id: &str) -> Result<Installer, NoInstaller> {
    if let Some(installer) = catalog.get(id) {
        return Ok(installer.clone());
    }
    let broken: Vec<String> = catalog
        .problems
        .iter()
        .map(|p| p.to_string())
        .filter(|p| p.contains(&format!("/{id}/")))
        .collect();
    Err(if broken.is_empty() {
        NoInstaller::Unknown(id.to_string())
    } else {
        NoInstaller::Broken(id.to_string(), broken)
    })
}

/// Whether an input holds a secret (a password input always does).
pub fn is_sensitive(input: &Input) -> bool {
    input.sensitive || input.kind == InputType::Password
}

/// Where an installer's inputs are declared, for messages about them.
fn manifest_location(installer: &Installer) -> String {
    match &installer.origin {
        Origin::Bundled => format!(
            "installers/{}/manifest.yml (bundled)",
            installer.manifest.id
        ),
        Origin::User(folder) => folder.join("manifest.yml").display().to_string(),
    }
}

/// The arguments `run-installer` takes: its schema's properties.
pub const RUN_ARGS: [&str; 6] = [
    "installer",
    "target",
    "targets",
    "values",
    "max_concurrency",
    "max_errors",
];

/// The sentence refusing a sensitive input given (or needed) through arguments. It never
/// quotes the value.
fn sensitive_refusal(id: &str, input: &Input, given: bool) -> PlanError {
    let name = &input.name;
    let why = if given {
        ", so the value given was refused".to_string()
    } else {
        format!(" and {id} needs a value for it")
    };
    PlanError::Refused(format!(
        "{name} is sensitive ({}){why}. A password or token is never taken from the assistant or `opsdeck run --arg`, where it would reach the model or the process list; nothing ran. Run {id} from the console form (:install {id}) or with `opsdeck install {id} --set-env {name}=ENV_VAR`",
        input.label
    ))
}

/// The values a plan's arguments give (`values`: input name → string; numbers and booleans
/// as written), refusing any sensitive one.
fn given_values(
    installer: &Installer,
    args: &Value,
) -> Result<BTreeMap<String, String>, PlanError> {
    let mut given = BTreeMap::new();
    let values = match args.get("values") {
        None | Some(Value::Null) => return Ok(given),
        Some(Value::Object(values)) => values,
        Some(_) => {
            return Err(PlanError::Input(
                "values must be an object of input name: value (with `opsdeck run`: --arg values.NAME=VALUE)".into(),
            ));
        }
    };
    let id = &installer.manifest.id;
    for (name, value) in values {
        if let Some(input) = installer.manifest.input(name)
            && is_sensitive(input)
        {
            return Err(sensitive_refusal(id, input, true));
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(PlanError::Input(format!(
                    "values.{name}: give a string, a number or true/false"
                )));
            }
        };
        given.insert(name.clone(), value);
    }
    Ok(given)
}

/// `max_concurrency` / `max_errors`: `N` or `N%`, as a string or a number.
fn rate_arg(args: &Value, name: &str, default: Rate) -> Result<Rate, PlanError> {
    let rate = match args.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::String(text)) => Rate::parse(text.trim()),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Rate::Count)
            .ok_or_else(|| format!("{n} is not a count of targets")),
        Some(_) => Err("give a number or a percentage (e.g. 2 or 50%)".to_string()),
    };
    rate.map_err(|why| PlanError::Input(format!("{name} {why}")))
}

/// `run-installer` from a plan's arguments (a tool call, `opsdeck run --arg`): the request
/// `opsdeck install` builds from its flags, then the same preflight ([`run_installer`]). A
/// sensitive input is never taken from arguments, which pass through a model or the process
/// list: given, or required without a default, the plan refuses and says where to give it.
pub async fn run_from_args(ctx: &dyn PlanCtx, args: &Value) -> Result<RunInstaller, PlanError> {
    let Some(object) = args.as_object() else {
        return Err(PlanError::Input(
            "the arguments must be a JSON object".into(),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !RUN_ARGS.contains(&k.as_str())) {
        return Err(PlanError::Input(format!(
            "run-installer takes no argument {unknown} (it takes {}; input values go in values)",
            RUN_ARGS.join(", ")
        )));
    }
    let id = crate::registry::arg(args, "installer")?;
    let (catalog, source) = catalog(ctx)?;
    let installer = find_installer(&catalog, id).map_err(|why| match why {
        NoInstaller::Unknown(_) => PlanError::NotFound(format!(
            "{why}; list-installers (`opsdeck installers`) lists them"
        )),
        NoInstaller::Broken(..) => PlanError::Refused(why.to_string()),
    })?;
    let mut names = crate::registry::arg_list(args, "target")?;
    names.extend(crate::registry::arg_list(args, "targets")?);
    if names.is_empty() {
        return Err(PlanError::Input(
            "the argument target is missing: name at least one target: local, ssh:HOST or ssm:INSTANCE_ID (several as targets)".into(),
        ));
    }
    let targets = parse_targets(&names).map_err(|why| PlanError::Input(format!("target {why}")))?;
    let given = given_values(&installer, args)?;
    let manifest = &installer.manifest;
    let needed_secret = manifest
        .inputs
        .iter()
        .zip(manifest.visibility(&given))
        .find(|(input, shown)| {
            *shown && input.required && is_sensitive(input) && input.default.is_none()
        });
    if let Some((input, _)) = needed_secret {
        return Err(sensitive_refusal(&manifest.id, input, false));
    }
    let inputs = resolve_inputs(manifest, &given).map_err(|problems| {
        PlanError::Input(format!(
            "{}; the inputs are declared in {}",
            problems
                .iter()
                .map(|p| format!("values.{p}"))
                .collect::<Vec<_>>()
                .join("; "),
            manifest_location(&installer)
        ))
    })?;
    let max_concurrency = rate_arg(args, "max_concurrency", Rate::Count(1))?;
    if max_concurrency == Rate::Count(0) {
        return Err(PlanError::Input(
            "max_concurrency must be at least 1".into(),
        ));
    }
    let max_errors = rate_arg(args, "max_errors", Rate::Count(0))?;
    let request = RunRequest {
        installer,
        targets,
        inputs,
        max_concurrency,
        max_errors,
    };
    run_installer(ctx, &source.targets, request).await
}

/// Targets from their text, checked; a target named twice is refused.
pub fn parse_targets<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Target>, String> {
    let mut targets: Vec<Target> = Vec::with_capacity(texts.len());
    for text in texts {
        let target = Target::parse(text.as_ref().trim())?;
        if targets.contains(&target) {
            return Err(format!("{target} is named twice"));
        }
        targets.push(target);
    }
    if targets.is_empty() {
        return Err("name at least one target: local, ssh:HOST or ssm:INSTANCE_ID".into());
    }
    Ok(targets)
}

/// The environment a target is in: the first `[[targets.environment]]` rule that matches it
/// (by `local`/host/instance id, or by an SSM instance's tags); failing that, an SSM instance
/// takes its AWS account's environment; anything else is unmapped (treated as PRD). An SSM
/// instance whose tags could not be read is unmapped where tag rules exist.
pub fn environment_of(
    config: &TargetsConfig,
    target: &Target,
    facts: &HostFacts,
    account_environment: impl Fn(&str) -> Environment,
) -> Environment {
    let tags: Vec<(String, String)> = facts
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(env) = config.environment_for(target.name(), &tags) {
        return env;
    }
    match target {
        Target::Ssm(_) => {
            let tag_rules = config
                .environments
                .iter()
                .any(|r| !r.instance_tags.is_empty());
            if facts.tags_error.is_some() && tag_rules {
                return Environment::Unmapped;
            }
            facts
                .account
                .as_deref()
                .map(account_environment)
                .unwrap_or(Environment::Unmapped)
        }
        Target::Local | Target::Ssh(_) => Environment::Unmapped,
    }
}

/// Why `facts` do not meet the manifest's requirements; `Ok` when they do. A fact that could
/// not be read fails its requirement.
pub fn check_requirements(manifest: &Manifest, facts: &HostFacts) -> Result<(), String> {
    let os = &manifest.os;
    if !os.families.is_empty() {
        if facts.os_id.is_empty() {
            return Err(format!(
                "cannot tell its operating system (no /etc/os-release); needs {os}"
            ));
        }
        let family = os
            .families
            .iter()
            .find(|f| **f == facts.os_id || facts.os_like.iter().any(|l| l == *f));
        let Some(family) = family else {
            return Err(format!(
                "runs {} {}; needs {os}",
                facts.os_id, facts.os_version
            ));
        };
        // A derivative (ID_LIKE) is held to the version of its own ID's family only.
        let version_family = if os.families.contains(&facts.os_id) {
            facts.os_id.as_str()
        } else {
            family.as_str()
        };
        if let Some(min) = os.min_version.for_family(version_family)
            && version_family == facts.os_id
        {
            match version_at_least(&facts.os_version, min) {
                Some(true) => {}
                Some(false) => {
                    return Err(format!(
                        "runs {} {}; needs {} {min} or later",
                        facts.os_id, facts.os_version, facts.os_id
                    ));
                }
                None => {
                    return Err(format!(
                        "cannot tell the version of {} ({:?}); needs {min} or later",
                        facts.os_id, facts.os_version
                    ));
                }
            }
        }
    }
    let r = &manifest.resources;
    if let Some(min) = r.min_ram_mb
        && facts.ram_mb < min
    {
        return Err(format!("has {} MiB of RAM; needs {min} MiB", facts.ram_mb));
    }
    if let Some(min) = r.min_disk_mb
        && facts.disk_mb < min
    {
        return Err(format!(
            "has {} MiB free on /; needs {min} MiB",
            facts.disk_mb
        ));
    }
    if let Some(min) = r.min_cpu_cores
        && facts.cpu_cores < min
    {
        return Err(format!("has {} CPU core(s); needs {min}", facts.cpu_cores));
    }
    Ok(())
}

/// Preflight one target through the engine (a read, recorded as a job).
pub async fn preflight(ctx: &dyn PlanCtx, target: &Target) -> Result<HostFacts, PlanError> {
    let what = format!("preflight {target}");
    match ctx
        .read(ReadOp::Install(InstallRead::Preflight {
            target: target.clone(),
        }))
        .await
    {
        Ok(ReadOutput::Install(InstallOutput::Facts { facts, .. })) => Ok(*facts),
        Ok(_) => Err(PlanError::Failed(format!(
            "cannot {what}: the engine answered another read"
        ))),
        Err(e) => Err(PlanError::Failed(format!("cannot {what}: {e}"))),
    }
}

/// The values, checked against the manifest (hidden inputs dropped); or every problem.
pub fn resolve_inputs(
    manifest: &Manifest,
    given: &BTreeMap<String, String>,
) -> Result<Vec<InputValue>, Vec<InputProblem>> {
    manifest.resolve(given)
}

/// What a run was asked with, before its targets are preflighted.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub installer: Installer,
    pub targets: Vec<Target>,
    /// Checked values (see [`resolve_inputs`]).
    pub inputs: Vec<InputValue>,
    pub max_concurrency: Rate,
    pub max_errors: Rate,
}

/// A run id: time-ordered and unique enough to name an SSM parameter.
pub fn run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("r{}-{}", crate::model::now_ms(), &id[..8])
}

/// `run-installer`: every target preflighted (at once) and checked against the manifest, then
/// mapped to its environment. Any target that fails refuses the whole request, naming each.
pub async fn run_installer(
    ctx: &dyn PlanCtx,
    config: &TargetsConfig,
    request: RunRequest,
) -> Result<RunInstaller, PlanError> {
    if matches!(request.max_concurrency, Rate::Count(0)) {
        return Err(PlanError::Refused(
            "max concurrency must be at least 1".into(),
        ));
    }
    let checks = request.targets.iter().map(|t| preflight(ctx, t));
    let results = futures::future::join_all(checks).await;
    let mut problems = Vec::new();
    let mut targets = Vec::with_capacity(request.targets.len());
    let manifest = &request.installer.manifest;
    for (target, result) in request.targets.iter().zip(results) {
        match result {
            Err(e) => problems.push(format!("{target}: {e}")),
            Ok(facts) => {
                if let Err(why) = check_requirements(manifest, &facts) {
                    problems.push(format!("{target} {why}"));
                    continue;
                }
                if matches!(target, Target::Ssm(_))
                    && !request.inputs.is_empty()
                    && facts.aws_cli != Some(true)
                {
                    problems.push(format!(
                        "{target} has no aws CLI, which an SSM run needs to fetch its inputs from Parameter Store; install it there first"
                    ));
                    continue;
                }
                let environment = environment_of(config, target, &facts, |a| ctx.environment_of(a));
                targets.push(ResolvedTarget {
                    target: target.clone(),
                    environment,
                    facts,
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(PlanError::Refused(format!(
            "{} cannot run on every target: {}",
            manifest.id,
            problems.join("; ")
        )));
    }
    Ok(RunInstaller::new(
        run_id(),
        &request.installer,
        targets,
        request.inputs,
        request.max_concurrency,
        request.max_errors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetRule;

    fn nginx() -> Manifest {
        Installer::bundled("nginx")
            .expect("bundled")
            .expect("loads")
            .manifest
    }

    fn facts(id: &str, version: &str) -> HostFacts {
        HostFacts {
            os_id: id.into(),
            os_version: version.into(),
            ram_mb: 4096,
            disk_mb: 10_000,
            cpu_cores: 2,
            ..HostFacts::default()
        }
    }

    #[test]
    fn requirements_are_checked_and_unknown_facts_fail() {
        let m = nginx();
        assert_eq!(check_requirements(&m, &facts("debian", "12")), Ok(()));
        assert_eq!(check_requirements(&m, &facts("ubuntu", "22.04")), Ok(()));
        let old = check_requirements(&m, &facts("debian", "10")).unwrap_err();
        assert_eq!(old, "runs debian 10; needs debian 11 or later");
        let other = check_requirements(&m, &facts("centos", "9")).unwrap_err();
        assert!(other.contains("needs debian 11+, ubuntu 20.04+"), "{other}");
        assert!(
            check_requirements(&m, &facts("", ""))
                .unwrap_err()
                .contains("cannot tell")
        );
        let mut small = facts("debian", "12");
        small.ram_mb = 0;
        assert!(
            check_requirements(&m, &small)
                .unwrap_err()
                .contains("MiB of RAM")
        );
        let mut like = facts("raspbian", "12");
        like.os_like = vec!["debian".into()];
        assert_eq!(check_requirements(&m, &like), Ok(()));
    }

    #[test]
    fn environments_come_from_rules_then_the_account() {
        let config = TargetsConfig {
            environments: vec![
                TargetRule {
                    environment: Environment::Prd,
                    hosts: vec!["*.prod".into()],
                    instance_tags: vec![("Env".into(), "prod".into())],
                },
                TargetRule {
                    environment: Environment::Dev,
                    hosts: vec!["local".into()],
                    instance_tags: vec![],
                },
            ],
            ..TargetsConfig::default()
        };
        let dev = |_: &str| Environment::Dev;
        let none = HostFacts::default();
        assert_eq!(
            environment_of(&config, &Target::Local, &none, dev),
            Environment::Dev
        );
        assert_eq!(
            environment_of(&config, &Target::Ssh("web.prod".into()), &none, dev),
            Environment::Prd
        );
        assert_eq!(
            environment_of(&config, &Target::Ssh("web.test".into()), &none, dev),
            Environment::Unmapped
        );
        let ssm = Target::Ssm("i-0123456789abcdef0".into());
        let mut tagged = HostFacts {
            account: Some("123456789012".into()),
            ..HostFacts::default()
        };
        assert_eq!(
            environment_of(&config, &ssm, &tagged, dev),
            Environment::Dev
        );
        tagged.tags.insert("Env".into(), "prod".into());
        assert_eq!(
            environment_of(&config, &ssm, &tagged, dev),
            Environment::Prd
        );
        let unreadable = HostFacts {
            account: Some("123456789012".into()),
            tags_error: Some("AccessDenied".into()),
            ..HostFacts::default()
        };
        assert_eq!(
            environment_of(&config, &ssm, &unreadable, dev),
            Environment::Unmapped
        );
    }

    #[test]
    fn targets_are_parsed_once_each() {
        assert!(
            parse_targets(&["local", "local"])
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_targets::<&str>(&[]).is_err());
        assert_eq!(
            parse_targets(&["local", "ssh:web1"]).expect("parses"),
            vec![Target::Local, Target::Ssh("web1".into())]
        );
    }
}
