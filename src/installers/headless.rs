//! `opsdeck installers` and `opsdeck install`.
//!
//! `install` goes through the same door as the console: the same gate, latch, audit log,
//! engine and provider; `--plan` preflights and prints what would run (changing nothing);
//! `--confirm ID` stands in for the dialog (the installer's id, which a PRD target requires
//! typed). Exit codes: 0 done (or a plan printed), 1 failed or refused, 2 bad input naming the
//! field. Sensitive values are accepted only through `--set-env`, so they stay out of `ps`
//! and shell history.

use super::catalog::{Catalog, Installer, LoadError};
use super::manifest::MinVersion;
use super::ops::{Rate, RunInstaller};
use super::plan::{self, RunRequest};
use crate::config::Paths;
use crate::headless::runner::{Runner, Stop};
use crate::ops::{MutatingOp, Mutation, RiskTier};
use crate::setup::Options;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Clone)]
pub struct InstallArgs {
    pub installer: String,
    pub targets: Vec<String>,
    /// `KEY=VALUE`.
    pub sets: Vec<String>,
    /// `KEY=ENV_VAR`.
    pub set_envs: Vec<String>,
    pub max_concurrency: Option<String>,
    pub max_errors: Option<String>,
    pub plan: bool,
    pub confirm: Option<String>,
    pub json: bool,
}

fn write_out(out: &mut dyn Write, json: bool, value: &serde_json::Value, text: &str) {
    if json {
        let _ = serde_json::to_writer_pretty(&mut *out, value);
        let _ = writeln!(out);
    } else {
        let _ = writeln!(out, "{text}");
    }
}

fn problem_lines(problems: &[LoadError]) {
    for problem in problems {
        crate::errln!("opsdeck installers: {problem}");
    }
}

/// An installer as `opsdeck installers --json` lists it (and the `list-installers` answer): no
/// sensitive default exists (the manifest refuses them), so nothing secret can be listed.
pub(crate) fn installer_json(installer: &Installer) -> serde_json::Value {
    let m = &installer.manifest;
    let min_version = match &m.os.min_version {
        MinVersion::Any => serde_json::Value::Null,
        MinVersion::All(v) => serde_json::json!(v),
        MinVersion::PerFamily(map) => serde_json::json!(map),
    };
    let inputs: Vec<serde_json::Value> = m
        .inputs
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "env": i.env,
                "type": i.kind,
                "label": i.label,
                "description": i.description,
                "required": i.required,
                "default": i.default,
                "sensitive": i.sensitive,
                "allowed_values": i.validation.allowed_values,
                "pattern": i.validation.pattern.as_ref().map(|p| p.source.clone()),
                "min_length": i.validation.min_length,
                "max_length": i.validation.max_length,
                "min_value": i.validation.min_value,
                "max_value": i.validation.max_value,
                "visible_if": i.visible_if.iter().cloned().collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    serde_json::json!({
        "id": m.id,
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "category": m.category,
        "author": m.author,
        "homepage": m.homepage,
        "os_requirements": { "family": m.os.families, "min_version": min_version },
        "resource_requirements": {
            "min_ram_mb": m.resources.min_ram_mb,
            "min_disk_mb": m.resources.min_disk_mb,
            "min_cpu_cores": m.resources.min_cpu_cores,
        },
        "inputs": inputs,
        "timeout_seconds": m.timeout_seconds,
        "idempotent": m.idempotent,
        "tags": m.tags,
        "origin": installer.origin,
        "hash": installer.hash,
    })
}

/// `opsdeck installers`. Exit 0, or 2 when a user installer could not be loaded (each named
/// on stderr with its file, line and key; the others are still listed).
pub fn list(paths: &Paths, json: bool, out: &mut dyn Write) -> i32 {
    let catalog = Catalog::load(&paths.installers_dir);
    if json {
        let all: Vec<serde_json::Value> = catalog.installers.iter().map(installer_json).collect();
        let _ = serde_json::to_writer_pretty(&mut *out, &all);
        let _ = writeln!(out);
    } else {
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:<11} {:<28} NAME",
            "ID", "VERSION", "CATEGORY", "OS"
        );
        for installer in &catalog.installers {
            let m = &installer.manifest;
            let mut row = format!(
                "{:<16} {:<8} {:<11} {:<28} {}",
                m.id,
                m.version,
                m.category,
                m.os.to_string(),
                m.name
            );
            if let crate::installers::catalog::Origin::User(folder) = &installer.origin {
                row.push_str(&format!(" ({})", folder.display()));
            }
            let mut clean = String::new();
            crate::engine::joblog::sanitize_into(&row, &mut clean);
            let _ = writeln!(out, "{clean}");
        }
    }
    problem_lines(&catalog.problems);
    if catalog.problems.is_empty() { 0 } else { 2 }
}

/// `--set` and `--set-env` together, by input name. A sensitive input given with `--set` is
/// refused: its value would sit in `ps`, shell history and CI logs.
fn given_values(
    installer: &Installer,
    args: &InstallArgs,
) -> Result<BTreeMap<String, String>, String> {
    let mut given = BTreeMap::new();
    let pair = |flag: &str, text: &str| -> Result<(String, String), String> {
        match text.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(format!("{flag} {text:?}: expected KEY=VALUE")),
        }
    };
    for text in &args.sets {
        let (key, value) = pair("--set", text)?;
        if let Some(input) = installer.manifest.input(&key)
            && plan::is_sensitive(input)
        {
            return Err(format!(
                "--set {key}: {key} is sensitive; pass it with --set-env {key}=ENV_VAR so the value stays out of ps and shell history"
            ));
        }
        if given.insert(key.clone(), value).is_some() {
            return Err(format!("--set {key}: {key} is given twice"));
        }
    }
    for text in &args.set_envs {
        let (key, var) = pair("--set-env", text)?;
        let value = std::env::var(&var).map_err(|_| {
            format!("--set-env {key}={var}: the environment variable {var} is not set")
        })?;
        if given.insert(key.clone(), value).is_some() {
            return Err(format!("--set-env {key}: {key} is given twice"));
        }
    }
    Ok(given)
}

/// The plan as text: installer, hash, targets with their environments and facts, inputs
/// (sensitive ones as `****`), rate control, and what confirming takes.
pub fn plan_text(run: &RunInstaller) -> String {
    let mut lines = vec![
        format!(
            "installer   {} {} ({}) — {}",
            run.installer, run.version, run.origin, run.name
        ),
        format!("hash        {}", run.hash),
    ];
    for (i, t) in run.targets.iter().enumerate() {
        lines.push(format!(
            "{}{} ({}): {}",
            if i == 0 {
                "targets     "
            } else {
                "            "
            },
            t.target,
            t.environment,
            t.facts.summary()
        ));
    }
    if run.inputs.is_empty() {
        lines.push("inputs      none".to_string());
    }
    for (i, input) in run.inputs.iter().enumerate() {
        lines.push(format!(
            "{}{} = {}",
            if i == 0 {
                "inputs      "
            } else {
                "            "
            },
            input.name,
            input.shown()
        ));
    }
    lines.push(format!(
        "rate        max concurrency {}, max errors {}",
        run.max_concurrency, run.max_errors
    ));
    lines.push(format!(
        "timeout     {}s per target; {}",
        run.timeout_seconds,
        if run.idempotent {
            format!(
                "idempotent: a failed target is tried up to {} times (never after exit 1)",
                super::targets::MAX_ATTEMPTS
            )
        } else {
            "not idempotent: never retried".to_string()
        }
    ));
    let op = super::ops::InstallMutation::RunInstaller(run.clone());
    lines.push(match op.risk() {
        RiskTier::TypeName(name) => format!(
            "confirm     --confirm {name} (a target is in PRD or unmapped: the id is the typed confirmation)"
        ),
        RiskTier::Simple => format!("confirm     --confirm {}", run.installer),
    });
    lines.join("\n")
}

/// `opsdeck install`. Returns the exit code.
pub async fn install(opts: &Options, paths: &Paths, args: InstallArgs, out: &mut dyn Write) -> i32 {
    let input = |why: String| {
        crate::errln!("opsdeck install: {why}");
        2
    };
    if args.plan == args.confirm.is_some() {
        return input(format!(
            "give exactly one of --plan (preflight and show, change nothing) or --confirm {} (run)",
            args.installer
        ));
    }
    if let Some(typed) = &args.confirm
        && *typed != args.installer
    {
        return input(format!(
            "--confirm must be the installer's id exactly ({:?}), got {typed:?}",
            args.installer
        ));
    }
    // Everything local is checked before any target is touched.
    let catalog = Catalog::load(&paths.installers_dir);
    let installer = match plan::find_installer(&catalog, &args.installer) {
        Ok(installer) => installer,
        Err(why @ plan::NoInstaller::Unknown(_)) => {
            return input(format!("{why}; `opsdeck installers` lists them"));
        }
        Err(why) => return input(why.to_string()),
    };
    let targets = match plan::parse_targets(&args.targets) {
        Ok(targets) => targets,
        Err(why) => return input(format!("--target {why}")),
    };
    let given = match given_values(&installer, &args) {
        Ok(given) => given,
        Err(why) => return input(why),
    };
    let inputs = match plan::resolve_inputs(&installer.manifest, &given) {
        Ok(inputs) => inputs,
        Err(problems) => {
            return input(
                problems
                    .iter()
                    .map(|p| format!("--set {p}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    };
    let rate = |flag: &str, text: &Option<String>, default: Rate| match text {
        None => Ok(default),
        Some(t) => Rate::parse(t).map_err(|why| format!("{flag} {why}")),
    };
    let max_concurrency = match rate("--max-concurrency", &args.max_concurrency, Rate::Count(1)) {
        Ok(Rate::Count(0)) => return input("--max-concurrency must be at least 1".into()),
        Ok(r) => r,
        Err(why) => return input(why),
    };
    let max_errors = match rate("--max-errors", &args.max_errors, Rate::Count(0)) {
        Ok(r) => r,
        Err(why) => return input(why),
    };
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => return input(crate::output::error_text(&e)),
    };
    let request = RunRequest {
        installer,
        targets,
        inputs,
        max_concurrency,
        max_errors,
    };
    let result = install_with(&mut runner, &args, request, out).await;
    runner.finish("install", result)
}

async fn install_with(
    runner: &mut Runner,
    args: &InstallArgs,
    request: RunRequest,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    // AWS is asked only when it must be: for SSM targets, or to settle the role.
    let uses_ssm = request.targets.iter().any(super::ops::Target::uses_aws);
    if uses_ssm || runner.gate.identity_pending() {
        runner.identify().await?;
    }
    let config = runner.config.clone();
    let run = plan::run_installer(&*runner, &config.targets, request)
        .await
        .map_err(|e| Stop::Refused(e.to_string()))?;
    if args.plan {
        let mut value = serde_json::to_value(&run).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("result".into(), "plan".into());
            map.insert(
                "typed_confirmation".into(),
                matches!(
                    super::ops::InstallMutation::RunInstaller(run.clone()).risk(),
                    RiskTier::TypeName(_)
                )
                .into(),
            );
        }
        write_out(
            out,
            args.json,
            &value,
            &format!("{}\nplan only: nothing ran", plan_text(&run)),
        );
        return Ok(());
    }
    if !args.json {
        let _ = writeln!(out, "{}", plan_text(&run));
    }
    let typed = args.confirm.clone().unwrap_or_default();
    let outcome = runner.change(MutatingOp::from(run.clone()), &typed).await;
    let summary = match &outcome {
        Ok(output) => output.summary(),
        Err(stop) => stop.to_string(),
    };
    let targets: Vec<serde_json::Value> = runner
        .children()
        .iter()
        .map(|c| {
            serde_json::json!({
                "target": c.target.as_deref().and_then(|t| t.split(' ').next()),
                "job": c.id,
                "state": c.state,
                "error": c.error,
            })
        })
        .collect();
    write_out(
        out,
        args.json,
        &serde_json::json!({
            "installer": run.installer,
            "version": run.version,
            "hash": run.hash,
            "run_id": run.run_id,
            "result": if outcome.is_ok() { "succeeded" } else { "failed" },
            "targets": targets,
            "summary": summary,
        }),
        &summary,
    );
    outcome.map(|_| ())
}
