//! `opsdeck deploy` and `opsdeck delete`.

use crate::cfn::model::{ChangeSetOutcome, ChangeSetPreview};
use crate::cfn::ops::CfnMutation;
use crate::cfn::port::CfnOutcome;
use crate::cfn::{deploy as plan, library, plan as plans};
use crate::config::Paths;
use crate::engine::MutationOutput;
use crate::headless::clean;
use crate::headless::runner::{Runner, Stop};
use crate::model::now_ms;
use crate::ops::{
    ComplianceVerdict, CreateChangeSet, MutatingOp, PlanError, StackTarget, TemplateSource,
};
use crate::setup::Options;
use std::io::Write;

#[derive(Debug, Clone)]
pub struct DeployArgs {
    /// A library template name or a file path.
    pub template: String,
    pub stack: String,
    /// `KEY=VALUE` pairs.
    pub params: Vec<String>,
    /// `KEY=ENV_VAR` pairs: the value is read from the environment (secrets).
    pub param_envs: Vec<String>,
    /// Compute and print the change set, then delete it.
    pub plan: bool,
    pub json: bool,
    /// Must equal the stack name to execute.
    pub confirm: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeleteArgs {
    pub stack: String,
    pub confirm: String,
    pub json: bool,
}

/// `opsdeck deploy`. Returns the exit code.
pub async fn deploy(opts: &Options, paths: &Paths, args: DeployArgs, out: &mut dyn Write) -> i32 {
    if args.plan == args.confirm.is_some() {
        crate::errln!(
            "opsdeck deploy: give exactly one of --plan (preview, change nothing) or --confirm {} (execute)",
            args.stack
        );
        return 2;
    }
    if let Some(typed) = &args.confirm
        && *typed != args.stack
    {
        crate::errln!(
            "opsdeck deploy: --confirm must be the stack name exactly ({:?}), got {typed:?}",
            args.stack
        );
        return 2;
    }
    // Everything local is checked before anything is asked of AWS.
    let chosen = match library::choose(&args.template) {
        Ok(chosen) => chosen,
        Err(e) => {
            crate::errln!("opsdeck deploy: {}", clean(&e.to_string()));
            return 2;
        }
    };
    let given = match given_parameters(&chosen.template, &args) {
        Ok(given) => given,
        Err(e) => {
            crate::errln!("opsdeck deploy: {}", clean(&e.to_string()));
            return 2;
        }
    };
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck deploy: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    // The user's policies and waivers, as in the console: the same rules judge both.
    let checker = crate::compliance::Checker::load(paths, &runner.config.compliance);
    // The price catalogue and usage file, as in the console.
    let pricing = match crate::cost::headless::PricingInputs::load(&runner.config, paths, None) {
        Ok(pricing) => pricing,
        Err(e) => {
            runner.shutdown();
            crate::errln!("opsdeck deploy: {e}");
            return 2;
        }
    };
    let result = deploy_with(&mut runner, &args, chosen, given, &checker, &pricing, out).await;
    runner.finish("deploy", result)
}

/// `--param` and `--param-env` together. A NoEcho parameter given with `--param` is refused:
/// its value would sit in `ps`, shell history and CI logs.
fn given_parameters(
    template: &crate::cfn::template::Template,
    args: &DeployArgs,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut given = plan::parse_param_args(&args.params).map_err(|e| format!("--param {e}"))?;
    for key in given.keys() {
        if template.parameter(key).is_some_and(|p| p.no_echo) {
            return Err(format!(
                "--param {key}: {key} is a NoEcho (secret) parameter; pass it with --param-env {key}=ENV_VAR so the value stays out of ps and shell history"
            ));
        }
    }
    let from_env =
        plan::parse_param_args(&args.param_envs).map_err(|e| format!("--param-env {e}"))?;
    for (key, var) in from_env {
        let value = std::env::var(&var).map_err(|_| {
            format!("--param-env {key}={var}: the environment variable {var} is not set")
        })?;
        if given.insert(key.clone(), value).is_some() {
            return Err(format!("{key} is given by both --param and --param-env"));
        }
    }
    Ok(given)
}

async fn deploy_with(
    runner: &mut Runner,
    args: &DeployArgs,
    chosen: library::ChosenTemplate,
    mut given: std::collections::BTreeMap<String, String>,
    checker: &crate::compliance::Checker,
    pricing: &crate::cost::headless::PricingInputs,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let identity = runner.identify().await?;
    let region = region(runner)?;
    let existing = plans::find_stack(&*runner, &args.stack)
        .await
        .map_err(failed)?;
    let existing_id =
        plan::existing_stack_for_deploy(&args.stack, existing.as_ref()).map_err(Stop::Input)?;
    // An update: the stack's parameter keys (kept unless given) and its current template and
    // values (the cost before the change).
    let current = match (&existing_id, &existing) {
        (Some(_), Some(stack)) => {
            let detail = plans::describe_stack(&*runner, stack)
                .await
                .map_err(failed)?;
            let body = plans::get_template(&*runner, stack).await.map_err(failed)?;
            Some((detail.parameters, body))
        }
        _ => None,
    };
    let existing_keys = current
        .as_ref()
        .map(|(parameters, _)| parameters.iter().map(|p| p.key.clone()).collect::<Vec<_>>());
    let environment = runner.environment_of(&identity.account);
    // As in the console: a new stack's `Environment` tag parameter starts at the environment
    // it lands in, unless given.
    if existing_keys.is_none()
        && environment != crate::model::Environment::Unmapped
        && !given.contains_key("Environment")
        && chosen
            .template
            .parameter("Environment")
            .is_some_and(|p| p.allowed_values.iter().any(|v| v == environment.as_str()))
    {
        given.insert("Environment".into(), environment.as_str().into());
    }
    let parameters = plan::resolve_parameters(&chosen.template, &given, existing_keys.as_deref())
        .map_err(|errors| {
        Stop::Input(
            errors
                .iter()
                .map(|e| format!("--param {e}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let compliance = judge(checker, &chosen, &given, environment);
    report_compliance(&args.stack, &compliance);
    let cost = {
        let current_values: std::collections::BTreeMap<String, String> = current
            .iter()
            .flat_map(|(parameters, _)| parameters.iter())
            .filter(|p| p.value != "****")
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        // What is deployed: the values given over the stack's current ones (kept unless
        // given), secrets left out (no pricer reads them).
        let mut after_values = current_values.clone();
        after_values.extend(
            given
                .iter()
                .filter(|(k, _)| !chosen.template.parameter(k).is_some_and(|p| p.no_echo))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        pricing.verdict(
            &identity.account,
            &region,
            environment,
            current
                .as_ref()
                .map(|(_, body)| (body.as_str(), &current_values)),
            (&chosen.body, &after_values),
            &chosen.origin,
        )
    };
    crate::err!("{}", cost.text());
    let create = MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
        account: identity.account.clone(),
        region: region.clone(),
        environment,
        stack_name: args.stack.clone(),
        existing_stack_id: existing_id,
        change_set_name: plan::change_set_name(now_ms()),
        template: TemplateSource::body(chosen.origin, chosen.body),
        parameters,
        compliance,
        cost,
    }));
    let create_cost = match &create {
        MutatingOp::Cfn(CfnMutation::CreateChangeSet(c)) => Some(c.cost.clone()),
        _ => None,
    };
    // Computing the change set: the flag given is the person's answer, and in PRD (typed
    // tier) the stack name they typed on the command line is the typed text.
    let preview = match runner.change(create, &args.stack).await? {
        MutationOutput::Cfn(CfnOutcome::ChangeSet(ChangeSetOutcome::Ready(preview))) => preview,
        MutationOutput::Cfn(CfnOutcome::ChangeSet(ChangeSetOutcome::NoChanges {
            message, ..
        })) => {
            write_out(
                out,
                args.json,
                &serde_json::json!({ "stack": args.stack, "result": "no-changes", "message": message }),
                &format!("nothing to do: {} already matches ({message})", args.stack),
            );
            return Ok(());
        }
        MutationOutput::Cfn(CfnOutcome::Done(other)) => {
            return Err(Stop::Failed(format!("unexpected answer: {other}")));
        }
        other => {
            return Err(Stop::Failed(format!(
                "unexpected answer: {}",
                other.summary()
            )));
        }
    };
    // What runs is the change set's own stack, resolved from its ARN like the console does.
    let verdict = match &create_cost {
        Some(v) => v.clone(),
        None => crate::cost::verdict::CostVerdict::none(),
    };
    let execute = plans::execute_change_set(&*runner, preview.clone(), &verdict).map_err(failed)?;
    let target = execute.target.clone();
    let discard = MutatingOp::from(plans::discard_change_set(&execute));
    if args.plan {
        write_out(
            out,
            args.json,
            &serde_json::json!({
                "stack": args.stack,
                "account": target.account,
                "region": target.region,
                "environment": target.environment,
                "result": "plan",
                "destructive": preview.has_destructive(),
                "change_set": preview,
                "cost": execute.cost.to_json(),
            }),
            &format!(
                "{}\n{}",
                preview_text(&target, &preview),
                execute.cost.text().trim_end()
            ),
        );
        runner.change(discard, "").await?;
        return Ok(());
    }
    if !args.json {
        let _ = writeln!(out, "{}", clean(&preview_text(&target, &preview)));
    }
    let typed = args.confirm.clone().unwrap_or_default();
    let outcome = runner.change(MutatingOp::from(execute), &typed).await;
    // Not executed after all (refused, or Ctrl-C before AWS had it): do not leave the change
    // set, or a new stack's empty shell, behind.
    if let Err(stop) = &outcome
        && !stop.to_string().contains("stopped following")
        && (matches!(stop, Stop::Refused(_)) || stop.to_string().contains("before it started"))
    {
        match runner.change(discard, "").await {
            Ok(_) => crate::errln!("the change set was not executed and has been discarded"),
            Err(e) => crate::errln!(
                "the change set was not executed and could not be discarded: {}",
                clean(&e.to_string())
            ),
        }
    }
    let summary = match &outcome {
        Ok(output) => output.summary(),
        Err(stop) => stop.to_string(),
    };
    write_out(
        out,
        args.json,
        &serde_json::json!({
            "stack": args.stack,
            "account": target.account,
            "region": target.region,
            "environment": target.environment,
            "result": if outcome.is_ok() { "deployed" } else { "failed" },
            "summary": summary,
            "change_set": preview,
        }),
        &summary,
    );
    outcome.map(|_| ())
}

/// `opsdeck delete`. Returns the exit code.
pub async fn delete(opts: &Options, paths: &Paths, args: DeleteArgs, out: &mut dyn Write) -> i32 {
    if args.confirm != args.stack {
        crate::errln!(
            "opsdeck delete: --confirm must be the stack name exactly ({:?}), got {:?}",
            args.stack,
            args.confirm
        );
        return 2;
    }
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck delete: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    let result = delete_with(&mut runner, &args, out).await;
    runner.finish("delete", result)
}

async fn delete_with(
    runner: &mut Runner,
    args: &DeleteArgs,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    runner.identify().await?;
    region(runner)?;
    let stack = plans::stack_named(&*runner, &args.stack)
        .await
        .map_err(|e| match e {
            PlanError::NotFound(why) => Stop::Input(why),
            other => failed(other),
        })?;
    let (delete, detail) = plans::delete_stack(&*runner, &stack)
        .await
        .map_err(failed)?;
    let target = delete.target.clone();
    if !args.json {
        let _ = writeln!(out, "Delete {target}\n  stack id: {}", target.stack_id);
        for r in &detail.retained {
            let _ = writeln!(
                out,
                "  kept after delete: {} ({}) — DeletionPolicy {}",
                r.logical_id, r.resource_type, r.policy
            );
        }
    }
    let outcome = runner.change(MutatingOp::from(delete), &args.confirm).await;
    let summary = match &outcome {
        Ok(output) => output.summary(),
        Err(stop) => stop.to_string(),
    };
    write_out(
        out,
        args.json,
        &serde_json::json!({
            "stack": target.stack_name,
            "stack_id": target.stack_id,
            "account": target.account,
            "region": target.region,
            "environment": target.environment,
            "result": if outcome.is_ok() { "deleted" } else { "failed" },
            "retained": detail.retained,
            "summary": summary,
        }),
        &summary,
    );
    outcome.map(|_| ())
}

/// Judge the template with the parameters given (secrets left out; no rule reads them).
fn judge(
    checker: &crate::compliance::Checker,
    chosen: &library::ChosenTemplate,
    given: &std::collections::BTreeMap<String, String>,
    environment: crate::model::Environment,
) -> ComplianceVerdict {
    let plain: std::collections::BTreeMap<String, String> = given
        .iter()
        .filter(|(k, _)| !chosen.template.parameter(k).is_some_and(|p| p.no_echo))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ComplianceVerdict::judge(checker, &chosen.body, &chosen.origin, &plain, environment)
}

/// Failures go to stderr before the gate decides; in PRD a high one makes it refuse.
fn report_compliance(stack: &str, verdict: &ComplianceVerdict) {
    crate::err!("{}", clean(&compliance_text(stack, verdict)));
}

fn compliance_text(stack: &str, verdict: &ComplianceVerdict) -> String {
    let mut text = String::new();
    if let Some(why) = verdict.unjudged() {
        text.push_str(&format!("compliance: not judged: {why}\n"));
    }
    let errors = verdict.errors();
    if !errors.is_empty() {
        text.push_str(&format!(
            "compliance: {} check(s) could not be made; each counts as an unwaived failure:\n",
            errors.len()
        ));
        for e in errors {
            text.push_str(&format!("  error    {e}\n"));
        }
    }
    for note in verdict.notes() {
        text.push_str(&format!("compliance: {note}\n"));
    }
    let failures = verdict.failures();
    if !failures.is_empty() {
        text.push_str(&format!(
            "compliance: {} unwaived failure(s) in the template for {stack}:\n",
            failures.len()
        ));
    }
    for f in failures {
        text.push_str(&format!(
            "  {:<8} {} {} [{}]: {}\n",
            f.severity.as_str(),
            f.rule,
            f.resource,
            f.controls.join(", "),
            f.message
        ));
    }
    for f in verdict.waived() {
        text.push_str(&format!("  waived   {} {}\n", f.rule, f.resource));
    }
    text
}

fn region(runner: &Runner) -> Result<String, Stop> {
    runner.region.clone().ok_or_else(|| {
        Stop::Input("no AWS region configured: use --region or AWS_REGION".to_string())
    })
}

/// A plan that could not be made, as the headless commands end: refused (exit 1) when the
/// stack's state forbids it, failed (exit 1) when a read failed, bad input (exit 2) when what
/// was named does not exist.
fn failed(e: PlanError) -> Stop {
    match e {
        PlanError::NotFound(why) | PlanError::Input(why) => Stop::Input(why),
        PlanError::Refused(why) => Stop::Refused(why),
        PlanError::Failed(why) => Stop::Failed(why),
    }
}

fn write_out(out: &mut dyn Write, json: bool, value: &serde_json::Value, text: &str) {
    let _ = if json {
        writeln!(out, "{value:#}")
    } else {
        writeln!(out, "{}", clean(text))
    };
}

/// The change-set preview as plain text: one row per change, destructive rows marked `!`.
pub fn preview_text(target: &StackTarget, preview: &ChangeSetPreview) -> String {
    let mut rows = vec![[
        String::new(),
        "ACTION".to_string(),
        "LOGICAL ID".to_string(),
        "TYPE".to_string(),
        "REPLACEMENT".to_string(),
        "SCOPE".to_string(),
    ]];
    for c in &preview.changes {
        rows.push([
            if c.is_destructive() { "!" } else { " " }.to_string(),
            c.action.clone(),
            c.logical_id.clone(),
            c.resource_type.clone(),
            c.replacement.clone().unwrap_or_else(|| "-".into()),
            if c.scope.is_empty() {
                "-".to_string()
            } else {
                c.scope.join(",")
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = format!(
        "Change set {} ({}) for {target}\n",
        preview.change_set_name,
        preview.kind.as_str()
    );
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&preview.counts());
    let destructive: Vec<&str> = preview
        .destructive()
        .map(|c| c.logical_id.as_str())
        .collect();
    if !destructive.is_empty() {
        text.push_str(&format!(
            "\n! removed or replaced (data may be lost): {}",
            destructive.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::model::{ChangeSetKind, ResourceChange};
    use crate::model::Environment;

    #[test]
    fn headless_judges_the_template_and_the_gate_refuses_it_in_prd() {
        use crate::audit::{Actor, Decision, MemoryAudit};
        use crate::ops::{ReadOnlyLatch, Refusal};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("open-bucket.yaml");
        std::fs::write(&path, OPEN_BUCKET).expect("written");
        let chosen = library::choose(path.to_str().expect("utf-8")).expect("readable");
        let verdict = judge(
            &crate::compliance::Checker::bundled(),
            &chosen,
            &Default::default(),
            Environment::Prd,
        );
        assert!(verdict.failures().iter().any(|f| f.rule == "S3-002"));
        let text = compliance_text("assets", &verdict);
        assert!(text.contains("S3-002 Assets"), "{text}");
        let audit = std::sync::Arc::new(MemoryAudit::default());
        let mut gate = crate::setup::test_gate(
            ReadOnlyLatch::new(),
            audit.clone(),
            Actor {
                os_user: "ci".into(),
                principal: None,
            },
            None,
        );
        let op = MutatingOp::Cfn(CfnMutation::CreateChangeSet(CreateChangeSet {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment: Environment::Prd,
            stack_name: "assets".into(),
            existing_stack_id: None,
            change_set_name: "opsdeck-1".into(),
            template: TemplateSource::body(chosen.origin.clone(), chosen.body.clone()),
            parameters: vec![],
            compliance: verdict,
            cost: crate::cost::verdict::CostVerdict::none(),
        }));
        // `Runner::change` asks this same gate first: the refusal is what it returns.
        let refusal = gate.request(op).unwrap_err();
        assert!(matches!(refusal, Refusal::Policy(_)), "{refusal}");
        let stop: Stop = refusal.into();
        assert_eq!(stop.exit_code(), 1);
        assert_eq!(
            audit.records().last().map(|r| r.decision),
            Some(Decision::Refused)
        );
    }

    /// A bucket with no encryption, no public access block and no tags.
    const OPEN_BUCKET: &str = "AWSTemplateFormatVersion: '2010-09-09'\nDescription: open bucket\nResources:\n  Assets:\n    Type: AWS::S3::Bucket\n";

    #[test]
    fn preview_marks_destructive_rows() {
        let target = StackTarget {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            environment: Environment::Dev,
            stack_name: "web".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1".into(),
        };
        let change = |action: &str, id: &str, replacement: Option<&str>| ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            physical_id: None,
            resource_type: "AWS::S3::Bucket".into(),
            replacement: replacement.map(Into::into),
            scope: vec!["Properties".into()],
            details: vec![],
        };
        let preview = ChangeSetPreview {
            stack_name: "web".into(),
            stack_id: target.stack_id.clone(),
            change_set_id: "cs".into(),
            change_set_name: "opsdeck-1".into(),
            kind: ChangeSetKind::Update,
            changes: vec![
                change("Add", "Logs", None),
                change("Modify", "Data", Some("True")),
            ],
        };
        let text = preview_text(&target, &preview);
        assert!(text.contains("\n!  Modify  Data "), "{text}");
        assert!(text.contains("\n   Add     Logs "), "{text}");
        assert!(
            text.ends_with("! removed or replaced (data may be lost): Data"),
            "{text}"
        );
    }
}
