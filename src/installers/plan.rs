//! The installers' plans: from what was asked (an installer, targets, values) to a fully
//! resolved `run-installer` operation. Each target is preflighted (a read through the engine),
//! checked against the manifest's requirements, and mapped to its environment; the values are
//! checked against the manifest. The console (off the UI thread) and `opsdeck install` run the
//! same functions, so both ask for exactly the same operation.

use super::catalog::Installer;
use super::manifest::{InputProblem, InputValue, Manifest, version_at_least};
use super::ops::{HostFacts, InstallRead, Rate, ResolvedTarget, RunInstaller, Target};
use super::port::InstallOutput;
use crate::config::TargetsConfig;
use crate::engine::ReadOutput;
use crate::model::Environment;
use crate::ops::{PlanCtx, PlanError, ReadOp};
use std::collections::BTreeMap;

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
