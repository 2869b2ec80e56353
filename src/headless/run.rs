//! `opsdeck run ACTION [--arg KEY=VALUE]... (--plan | --confirm TEXT) [--json]`: any action of
//! the registry that has a plan, planned by that plan exactly as the console plans it, and run
//! through the same gate, engine and audit log; or that has an answer (`list-jobs`,
//! `show-compliance`, `help`: what opsdeck knows itself), printed. A new operation with a
//! registry entry is reachable here without a line of this file changing.

use crate::config::Paths;
use crate::headless::runner::{Runner, Stop};
use crate::ops::{Op, PlanError, RiskTier};
use crate::registry::{self, Kind};
use crate::setup::Options;
use std::io::Write;

#[derive(Debug, Clone)]
pub struct RunArgs {
    pub action: String,
    /// `KEY=VALUE` pairs.
    pub args: Vec<String>,
    pub plan: bool,
    pub confirm: Option<String>,
    pub json: bool,
}

/// `opsdeck run --list`: every action with a plan, its arguments and what it does.
pub fn list(out: &mut dyn Write) -> i32 {
    for action in registry::all() {
        let spec = action.spec();
        if spec.plan.is_none() && spec.answer.is_none() {
            continue;
        }
        let args = spec
            .schema
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .and_then(|s| {
                s["properties"].as_object().map(|p| {
                    p.iter()
                        .map(|(k, v)| match v["type"].as_str() {
                            Some("object") => format!("--arg {k}.NAME=…"),
                            _ => format!("--arg {k}=…"),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<28} {:<9} {}{}{}",
            spec.id,
            spec.kind.as_str(),
            spec.title,
            if args.is_empty() {
                ""
            } else {
                "\n                                       "
            },
            args
        );
    }
    0
}

/// The arguments as a JSON object: `KEY=VALUE` each; a key given twice becomes a list;
/// `KEY.NAME=VALUE` sets `NAME` in the object `KEY` (`values.http_port=8080`,
/// `parameters.BucketName=logs`).
pub fn parse_args(pairs: &[String]) -> Result<serde_json::Value, String> {
    let mut object = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("--arg {pair}: expected KEY=VALUE"));
        };
        let value = serde_json::Value::String(value.to_string());
        if let Some((outer, name)) = key.split_once('.') {
            if outer.is_empty() || name.is_empty() {
                return Err(format!("--arg {key}=…: expected KEY.NAME=VALUE"));
            }
            let entry = object
                .entry(outer.to_string())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            let Some(inner) = entry.as_object_mut() else {
                return Err(format!(
                    "--arg {key}=…: {outer} is already given as a value, not as NAME=VALUE pairs"
                ));
            };
            if inner.insert(name.to_string(), value).is_some() {
                return Err(format!("--arg {key}=…: {key} is given twice"));
            }
            continue;
        }
        match object.remove(key) {
            None => {
                object.insert(key.to_string(), value);
            }
            Some(serde_json::Value::Object(_)) => {
                return Err(format!(
                    "--arg {key}=…: {key} is already given as NAME=VALUE pairs ({key}.NAME=VALUE), not as a value"
                ));
            }
            Some(serde_json::Value::Array(mut items)) => {
                items.push(value);
                object.insert(key.to_string(), serde_json::Value::Array(items));
            }
            Some(first) => {
                object.insert(
                    key.to_string(),
                    serde_json::Value::Array(vec![first, value]),
                );
            }
        }
    }
    Ok(serde_json::Value::Object(object))
}

/// `opsdeck run`. Returns the exit code.
pub async fn run(opts: &Options, paths: &Paths, args: RunArgs, out: &mut dyn Write) -> i32 {
    let Some(action) = registry::by_id(&args.action) else {
        crate::errln!(
            "opsdeck run: no action {:?}; `opsdeck run --list` lists them",
            args.action
        );
        return 2;
    };
    let spec = action.spec();
    if let (None, Some(answer)) = (spec.plan, spec.answer) {
        return run_answer(opts, paths, spec.id, answer, &args, out).await;
    }
    let Some(plan) = spec.plan else {
        crate::errln!(
            "opsdeck run: {} is a console action with nothing to run here; `opsdeck run --list` lists the ones that are",
            spec.id
        );
        return 2;
    };
    if spec.kind == Kind::Mutating && args.plan == args.confirm.is_some() {
        crate::errln!(
            "opsdeck run {}: give exactly one of --plan (resolve it, change nothing) or --confirm TEXT (run it)",
            spec.id
        );
        return 2;
    }
    let values = match parse_args(&args.args) {
        Ok(values) => values,
        Err(e) => {
            crate::errln!("opsdeck run {}: {e}", spec.id);
            return 2;
        }
    };
    if let Err(e) = registry::check_args(spec, &values) {
        crate::errln!("opsdeck run {}: {e}", spec.id);
        return 2;
    }
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck run: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    // Plans that price (a deploy's cost) or spend (the spend read's call budget and cache)
    // take the catalogue, usage file, settings and data dir from here.
    load_pricing(&mut runner, paths);
    let result = run_with(&mut runner, spec, plan, &values, &args, out).await;
    runner.finish(&format!("run {}", spec.id), result)
}

/// An action that answers from what opsdeck knows: no gate, no identity needed.
async fn run_answer(
    opts: &Options,
    paths: &Paths,
    id: &str,
    answer: registry::AnswerFn,
    args: &RunArgs,
    out: &mut dyn Write,
) -> i32 {
    let values = match parse_args(&args.args) {
        Ok(values) => values,
        Err(e) => {
            crate::errln!("opsdeck run {id}: {e}");
            return 2;
        }
    };
    if let Some(action) = registry::by_id(id)
        && let Err(e) = registry::check_args(action.spec(), &values)
    {
        crate::errln!("opsdeck run {id}: {e}");
        return 2;
    }
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck run: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    let checker = {
        let paths = paths.clone();
        let settings = runner.config.compliance;
        tokio::task::spawn_blocking(move || {
            std::sync::Arc::new(crate::compliance::Checker::load(&paths, &settings))
        })
        .await
    };
    if let Ok(checker) = checker {
        runner.set_checker(checker);
    }
    load_pricing(&mut runner, paths);
    let result = match answer(&runner, &values).await {
        Ok(value) => {
            let text = if args.json {
                String::new()
            } else {
                crate::assistant::offline::describe_result(&crate::assistant::tools::data(
                    id,
                    value.clone(),
                ))
            };
            let value = serde_json::json!({ "action": id, "mutating": false, "output": value });
            write(out, args.json, &value, &text);
            Ok(())
        }
        Err(PlanError::NotFound(why) | PlanError::Input(why)) => Err(Stop::Input(why)),
        Err(PlanError::Refused(why)) => Err(Stop::Refused(why)),
        Err(PlanError::Failed(why)) => Err(Stop::Failed(why)),
    };
    runner.finish(&format!("run {id}"), result)
}

async fn run_with(
    runner: &mut Runner,
    spec: &registry::ActionSpec,
    plan: registry::PlanFn,
    values: &serde_json::Value,
    args: &RunArgs,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let id = spec.id;
    // Who the person is settles the role (a viewer engages read-only). An action that needs
    // no AWS (a cluster from a kubeconfig, an installer) asks only when the role rules need the
    // answer: a failed answer then stops it, as for any other action.
    if spec.needs_aws_identity || runner.gate.identity_pending() {
        runner.identify().await?;
    }
    let op = plan(&*runner, values).await.map_err(|e| match e {
        PlanError::NotFound(why) | PlanError::Input(why) => Stop::Input(why),
        PlanError::Refused(why) => Stop::Refused(why),
        PlanError::Failed(why) => Stop::Failed(why),
    })?;
    // Who asked, for the audit entries, once the plan shows a change asks AWS with the
    // session's credentials after all (an installer run on an SSM target, a change to an EKS
    // cluster); reads and the other actions settled it above.
    if matches!(&op, Op::Mutate(op) if op.uses_aws()) && runner.identity.is_none() {
        runner.identify().await?;
    }
    match op {
        Op::Read(read) => {
            let output = runner
                .read(read.clone())
                .await
                .map_err(|e| Stop::Failed(format!("{} failed: {e}", read.name())))?;
            let value = serde_json::json!({
                "action": id,
                "operation": read.name(),
                "mutating": false,
                "output": output,
            });
            let text = match &output {
                crate::engine::ReadOutput::Kube(kube) => kube.text(),
                _ => None,
            };
            let text = text.unwrap_or_else(|| format!("{}: done", read.title()));
            write(out, args.json, &value, &text);
            Ok(())
        }
        Op::Mutate(op) => {
            let tier = match op.risk() {
                RiskTier::TypeName(name) => format!("type {name}"),
                RiskTier::Simple => "y".to_string(),
            };
            let mut value = serde_json::json!({
                "action": id,
                "operation": op.name(),
                "mutating": true,
                "target": op.target_json(),
                "environment": op.environment(),
                "confirmation": tier,
            });
            if args.plan {
                value["result"] = "planned".into();
                write(
                    out,
                    args.json,
                    &value,
                    &format!("{} (confirm with: {tier})", op.describe()),
                );
                return Ok(());
            }
            let typed = args.confirm.clone().unwrap_or_default();
            let outcome = runner.change(op, &typed).await;
            value["result"] = if outcome.is_ok() { "done" } else { "failed" }.into();
            value["summary"] = match &outcome {
                Ok(output) => output.summary().into(),
                Err(stop) => stop.to_string().into(),
            };
            let text = value["summary"].as_str().unwrap_or_default().to_string();
            write(out, args.json, &value, &text);
            outcome.map(|_| ())
        }
    }
}

fn write(out: &mut dyn Write, json: bool, value: &serde_json::Value, text: &str) {
    let _ = if json {
        writeln!(out, "{value:#}")
    } else {
        // Text from AWS or a template goes to a terminal: no control characters.
        writeln!(out, "{}", crate::headless::clean(text))
    };
}

/// The price catalogue, usage file, budgets and data dir for plans that price or spend. A usage
/// file that does not load is said, and the plans then say the change was not estimated (or
/// that nothing could be estimated or read).
pub(crate) fn load_pricing(runner: &mut Runner, paths: &crate::config::Paths) {
    match crate::cost::headless::PricingInputs::load(&runner.config, paths, None) {
        Ok(pricing) => runner.set_pricing(std::sync::Arc::new(pricing)),
        Err(e) => crate::errln!("warning: {e}; changes are not estimated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_make_lists() {
        let args = parse_args(&[
            "stack=web".to_string(),
            "skip=A".to_string(),
            "skip=B".to_string(),
        ])
        .expect("parses");
        assert_eq!(args["stack"], "web");
        assert_eq!(args["skip"], serde_json::json!(["A", "B"]));
        assert!(parse_args(&["nokey".to_string()]).is_err());
        assert!(parse_args(&["=v".to_string()]).is_err());
    }

    #[test]
    fn dotted_keys_make_objects() {
        let args = parse_args(&[
            "installer=nginx".to_string(),
            "values.http_port=8080".to_string(),
            "values.server_name=a=b".to_string(),
        ])
        .expect("parses");
        assert_eq!(
            args["values"],
            serde_json::json!({"http_port": "8080", "server_name": "a=b"})
        );
        let twice = parse_args(&["values.a=1".to_string(), "values.a=2".to_string()]);
        assert!(twice.is_err_and(|e| e.contains("given twice")));
        let clash = parse_args(&["values=x".to_string(), "values.a=1".to_string()]);
        assert!(clash.is_err_and(|e| e.contains("already given")));
        let clash = parse_args(&["values.a=1".to_string(), "values=x".to_string()]);
        assert!(clash.is_err_and(|e| e.contains("already given as NAME=VALUE pairs")));
        assert!(parse_args(&["values.=1".to_string()]).is_err());
    }
}
