//! CloudFormation's plans: from a stack (by name or as listed) and the action's arguments to a
//! fully resolved operation, fetching first what must be known (what a delete keeps, whether
//! the stack is protected, its current template and parameters). The console runs them off
//! the UI thread (`cfn::tui::flows`), the headless commands await them (`cfn::headless`), and
//! the assistant will call the same functions, so each asks for exactly the same operation.

use crate::cfn::deploy::FormTemplate;
use crate::cfn::library::ChosenTemplate;
use crate::cfn::model::{ChangeSetKind, ChangeSetPreview, StackDetail, StackSummary};
use crate::cfn::ops::{
    CfnRead, DeleteStack, DiscardChangeSet, ExecuteChangeSet, SetTerminationProtection, StackTarget,
};
use crate::cfn::port::CfnOutput;
use crate::cfn::template::Template;
use crate::engine::ReadOutput;
use crate::ops::{PlanCtx, PlanError, ReadOp, ReadScope, SessionFacts};
use std::path::Path;

fn scope(ctx: &dyn SessionFacts) -> ReadScope {
    ReadScope {
        region: ctx
            .region()
            .unwrap_or_else(|| "the default region".to_string()),
    }
}

async fn read(ctx: &dyn PlanCtx, op: CfnRead, what: &str) -> Result<CfnOutput, PlanError> {
    match ctx.read(ReadOp::Cfn(op)).await {
        Ok(ReadOutput::Cfn(output)) => Ok(output),
        Ok(_) => Err(PlanError::Failed(format!(
            "cannot {what}: the engine answered another read"
        ))),
        Err(e) => Err(PlanError::read_failed(what, e)),
    }
}

/// Every stack in the session's region (deleted ones excluded).
pub async fn list_stacks(ctx: &dyn PlanCtx) -> Result<Vec<StackSummary>, PlanError> {
    let scope = scope(ctx);
    match read(ctx, CfnRead::ListStacks { scope }, "list the stacks").await? {
        CfnOutput::Stacks(stacks) => Ok(stacks),
        _ => Err(PlanError::Failed(
            "cannot list the stacks: unexpected answer".into(),
        )),
    }
}

/// The stack named `name` (not deleted), or `Ok(None)`.
pub async fn find_stack(ctx: &dyn PlanCtx, name: &str) -> Result<Option<StackSummary>, PlanError> {
    Ok(list_stacks(ctx)
        .await?
        .into_iter()
        .find(|s| s.name == name && s.status != "DELETE_COMPLETE"))
}

/// The stack named `name`, or why there is none.
pub async fn stack_named(ctx: &dyn PlanCtx, name: &str) -> Result<StackSummary, PlanError> {
    find_stack(ctx, name).await?.ok_or_else(|| {
        PlanError::NotFound(format!("no stack named {name} in {}", scope(ctx).region))
    })
}

/// The stack `name_or_arn` names (a name, or a stack ARN), or why there is none.
pub async fn resolve_stack(
    ctx: &dyn PlanCtx,
    name_or_arn: &str,
) -> Result<StackSummary, PlanError> {
    if !name_or_arn.starts_with("arn:") {
        return stack_named(ctx, name_or_arn).await;
    }
    // An ARN names one stack for good (its name is in it): whatever the plan reads next
    // (DescribeStacks by ARN) says whether it still exists.
    let name = crate::cfn::aws::stack_name_from_arn(name_or_arn)
        .ok_or_else(|| PlanError::Input(format!("{name_or_arn} is not a stack ARN")))?;
    Ok(StackSummary {
        id: name_or_arn.to_string(),
        name: name.to_string(),
        ..StackSummary::default()
    })
}

pub async fn describe_stack(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
) -> Result<StackDetail, PlanError> {
    let op = CfnRead::DescribeStack {
        scope: scope(ctx),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    };
    match read(ctx, op, &format!("describe stack {}", stack.name)).await? {
        CfnOutput::StackDetail(detail) => Ok(*detail),
        _ => Err(PlanError::Failed(format!(
            "cannot describe stack {}: unexpected answer",
            stack.name
        ))),
    }
}

pub async fn get_template(ctx: &dyn PlanCtx, stack: &StackSummary) -> Result<String, PlanError> {
    let op = CfnRead::GetTemplate {
        scope: scope(ctx),
        stack_id: stack.id.clone(),
        stack_name: stack.name.clone(),
    };
    match read(ctx, op, &format!("read the template of {}", stack.name)).await? {
        CfnOutput::Template { body, .. } => Ok(body),
        _ => Err(PlanError::Failed(format!(
            "cannot read the template of {}: unexpected answer",
            stack.name
        ))),
    }
}

/// The stack's target, from its ARN.
pub fn target(ctx: &dyn SessionFacts, stack: &StackSummary) -> Result<StackTarget, PlanError> {
    StackTarget::from_arn(&stack.id, &stack.name, |account| {
        ctx.environment_of(account)
    })
}

/// `delete-stack`: what its DeletionPolicy keeps, as CloudFormation says now; a protected
/// stack is refused before any dialog. Returns the detail too (the headless command prints it).
pub async fn delete_stack(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
) -> Result<(DeleteStack, StackDetail), PlanError> {
    let detail = describe_stack(ctx, stack).await?;
    if detail.termination_protection {
        return Err(PlanError::Refused(format!(
            "{}: termination protection is on; turn it off first (p on the stack)",
            stack.name
        )));
    }
    let op = DeleteStack {
        target: target(ctx, stack)?,
        retained: detail.retained.clone(),
    };
    Ok((op, detail))
}

/// A read of one stack (describe, drift, follow), resolved from its name or ARN.
pub async fn stack_read(
    ctx: &dyn PlanCtx,
    name_or_arn: &str,
    read: fn(ReadScope, String, String) -> CfnRead,
) -> Result<ReadOp, PlanError> {
    let stack = resolve_stack(ctx, name_or_arn).await?;
    Ok(ReadOp::Cfn(read(scope(ctx), stack.id, stack.name)))
}

/// `set-termination-protection`: the opposite of what the stack's detail says.
pub fn toggle_protection(
    ctx: &dyn SessionFacts,
    detail: &StackDetail,
) -> Result<SetTerminationProtection, PlanError> {
    Ok(SetTerminationProtection {
        target: target(ctx, &detail.summary)?,
        enabled: !detail.termination_protection,
    })
}

/// Executing a computed change set: the target is the change set's own stack ARN.
/// `cost` is the verdict of the request that computed it, itemised here by its rows.
pub fn execute_change_set(
    ctx: &dyn SessionFacts,
    preview: ChangeSetPreview,
    cost: &crate::cost::verdict::CostVerdict,
) -> Result<ExecuteChangeSet, PlanError> {
    let target = StackTarget::from_arn(&preview.stack_id, &preview.stack_name, |account| {
        ctx.environment_of(account)
    })
    .map_err(|_| {
        PlanError::Refused(format!(
            "change set {} names no usable stack ARN ({}); not offering to execute it",
            preview.change_set_name, preview.stack_id
        ))
    })?;
    let cost = cost.for_change_set(&preview.changes);
    Ok(ExecuteChangeSet {
        target,
        preview,
        cost,
    })
}

/// Deleting a computed change set nobody will execute, with the empty stack made for a new
/// one.
pub fn discard_change_set(execute: &ExecuteChangeSet) -> DiscardChangeSet {
    DiscardChangeSet {
        target: execute.target.clone(),
        change_set_id: execute.preview.change_set_id.clone(),
        change_set_name: execute.preview.change_set_name.clone(),
        delete_empty_stack: execute.preview.kind == ChangeSetKind::Create,
    }
}

/// What an update's form starts from: the stack, its current parameters, and the template to
/// deploy (the one chosen, else the stack's current one).
#[derive(Debug, Clone)]
pub struct UpdateSeed {
    pub stack: StackSummary,
    pub detail: StackDetail,
    /// `library:s3-bucket`, a file, or `current template of STACK`.
    pub origin: String,
    pub source: FormTemplate,
    pub template: Template,
    /// The stack's current template text: the cost before the update is estimated from it.
    pub current_body: String,
}

/// `update-stack` (and `deploy-template` onto an existing stack): the stack's current
/// parameters and, unless one was chosen, its current template.
pub async fn update_seed(
    ctx: &dyn PlanCtx,
    stack: &StackSummary,
    chosen: Option<ChosenTemplate>,
) -> Result<UpdateSeed, PlanError> {
    let detail = describe_stack(ctx, stack).await?;
    let current_body = get_template(ctx, stack).await?;
    let (origin, source, template) = match chosen {
        Some(chosen) => (
            chosen.origin,
            FormTemplate::Body(chosen.body),
            chosen.template,
        ),
        None => {
            let origin = format!("current template of {}", stack.name);
            let template = Template::parse(&current_body, Path::new(&origin)).map_err(|e| {
                PlanError::Failed(format!("cannot read the template of {}: {e}", stack.name))
            })?;
            (
                origin,
                FormTemplate::Previous(current_body.clone()),
                template,
            )
        }
    };
    Ok(UpdateSeed {
        stack: stack.clone(),
        detail,
        origin,
        source,
        template,
        current_body,
    })
}

/// Parameter values as a plan's arguments give them: strings (numbers and booleans as
/// written). A secret given this way would have passed through a command line or a model,
/// so a NoEcho parameter is refused here: it goes through the deploy form (or `--param-env`).
pub fn given_parameters(
    template: &Template,
    args: &serde_json::Value,
) -> Result<std::collections::BTreeMap<String, String>, PlanError> {
    let mut given = std::collections::BTreeMap::new();
    let Some(values) = args.get("parameters") else {
        return Ok(given);
    };
    let Some(values) = values.as_object() else {
        return Err(PlanError::Input(
            "parameters must be an object of NAME: value".into(),
        ));
    };
    for (key, value) in values {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(PlanError::Input(format!(
                    "parameter {key}: give a string, a number or true/false"
                )));
            }
        };
        if template.parameter(key).is_some_and(|p| p.no_echo) {
            return Err(PlanError::Refused(format!(
                "{key} is a NoEcho (secret) parameter: give it in the console's deploy form (its value is masked there), never as an argument"
            )));
        }
        given.insert(key.clone(), value);
    }
    Ok(given)
}

/// Who the session is: the account a new stack lands in (or a cost read is about).
pub async fn account(ctx: &dyn PlanCtx) -> Result<String, PlanError> {
    match ctx.read(ReadOp::WhoAmI).await {
        Ok(ReadOutput::Identity(identity)) => Ok(identity.account),
        Ok(_) => Err(PlanError::Failed(
            "cannot tell the account: the engine answered another read".into(),
        )),
        Err(e) => Err(PlanError::read_failed("tell which account this is", e)),
    }
}

/// The compliance verdict on `text`, judged off the caller's thread with the rules the
/// context has; none loaded: not judged (which the gate counts as a failure).
async fn verdict(
    ctx: &dyn PlanCtx,
    text: String,
    source: String,
    parameters: std::collections::BTreeMap<String, String>,
    environment: crate::model::Environment,
) -> crate::cfn::ops::ComplianceVerdict {
    use crate::cfn::ops::ComplianceVerdict;
    let Some(checker) = ctx.checker() else {
        return ComplianceVerdict::unavailable("the compliance rules were not loaded");
    };
    tokio::task::spawn_blocking(move || {
        ComplianceVerdict::judge(&checker, &text, &source, &parameters, environment)
    })
    .await
    .unwrap_or_else(|e| ComplianceVerdict::unavailable(format!("judging stopped: {e}")))
}

/// The cost of going from `before` to `after`, priced with the context's catalogue and
/// checked against the environment's budget, as the console's form prices it; no catalogue
/// here: not estimated.
fn cost_verdict(
    ctx: &dyn PlanCtx,
    (account, region, environment): (&str, &str, crate::model::Environment),
    before: Option<(&str, &std::collections::BTreeMap<String, String>)>,
    after: (&str, &std::collections::BTreeMap<String, String>),
    origin: &str,
) -> crate::cost::verdict::CostVerdict {
    match ctx.pricing() {
        Some(pricing) => pricing.verdict(account, region, environment, before, after, origin),
        None => crate::cost::verdict::CostVerdict::unavailable(
            "the price catalogue was not loaded, so the change was not estimated",
            environment,
            None,
        ),
    }
}

/// A stack's current parameter values, secrets left out (no pricer reads them).
fn known_values(
    template: &Template,
    parameters: &[crate::cfn::model::StackParameter],
) -> std::collections::BTreeMap<String, String> {
    parameters
        .iter()
        .filter(|p| !template.parameter(&p.key).is_some_and(|s| s.no_echo))
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

fn param_errors(errors: Vec<crate::cfn::deploy::ParamError>) -> PlanError {
    PlanError::Input(
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// `deploy-template`: compute a change set for `template` (a library name or a file) as stack
/// `stack`, creating or updating it. `expected` is the environment the asker said it is for:
/// when the account is another, nothing is planned.
pub async fn deploy_template(
    ctx: &dyn PlanCtx,
    template: &str,
    stack: &str,
    args: &serde_json::Value,
    expected: Option<&str>,
) -> Result<crate::cfn::ops::CreateChangeSet, PlanError> {
    use crate::cfn::deploy::{change_set_name, existing_stack_for_deploy, resolve_parameters};
    use crate::cfn::ops::TemplateSource;
    use crate::model::Environment;
    let spec = template.to_string();
    // A file is a user file: read through the guarded reader, off the caller's thread.
    let chosen = tokio::task::spawn_blocking(move || crate::cfn::library::choose(&spec))
        .await
        .map_err(|e| PlanError::Failed(format!("reading the template stopped: {e}")))?
        .map_err(|e| PlanError::Input(e.to_string()))?;
    let mut given = given_parameters(&chosen.template, args)?;
    let account = account(ctx).await?;
    let region = ctx.region().ok_or_else(|| {
        PlanError::Failed("no AWS region is configured: use --region or AWS_REGION".into())
    })?;
    let existing = find_stack(ctx, stack).await?;
    let existing_id =
        existing_stack_for_deploy(stack, existing.as_ref()).map_err(PlanError::Refused)?;
    // An update: the stack's parameters (kept unless given) and its current template (the
    // cost before the change).
    let current = match (&existing_id, &existing) {
        (Some(_), Some(summary)) => Some((
            describe_stack(ctx, summary).await?.parameters,
            get_template(ctx, summary).await?,
        )),
        _ => None,
    };
    let existing_keys = current
        .as_ref()
        .map(|(parameters, _)| parameters.iter().map(|p| p.key.clone()).collect::<Vec<_>>());
    let environment = ctx.environment_of(&account);
    if let Some(expected) = expected
        && !expected.eq_ignore_ascii_case(environment.as_str())
    {
        return Err(PlanError::Refused(format!(
            "asked to deploy to {expected}, but account {account} is {environment}; nothing was planned"
        )));
    }
    // As the console's form: a new stack's `Environment` tag parameter starts at the
    // environment it lands in.
    if existing_keys.is_none()
        && environment != Environment::Unmapped
        && !given.contains_key("Environment")
        && chosen
            .template
            .parameter("Environment")
            .is_some_and(|p| p.allowed_values.iter().any(|v| v == environment.as_str()))
    {
        given.insert("Environment".into(), environment.as_str().into());
    }
    let parameters = resolve_parameters(&chosen.template, &given, existing_keys.as_deref())
        .map_err(param_errors)?;
    let cost = {
        let before = current
            .as_ref()
            .map(|(parameters, body)| (body, known_values(&chosen.template, parameters)));
        // What is deployed: the values given over the stack's current ones.
        let mut after = before.as_ref().map(|(_, v)| v.clone()).unwrap_or_default();
        after.extend(
            given
                .iter()
                .filter(|(k, _)| !chosen.template.parameter(k).is_some_and(|p| p.no_echo))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        cost_verdict(
            ctx,
            (&account, &region, environment),
            before
                .as_ref()
                .map(|(body, values)| (body.as_str(), values)),
            (&chosen.body, &after),
            &chosen.origin,
        )
    };
    let compliance = verdict(
        ctx,
        chosen.body.clone(),
        chosen.origin.clone(),
        given,
        environment,
    )
    .await;
    Ok(crate::cfn::ops::CreateChangeSet {
        account,
        region,
        environment,
        stack_name: stack.to_string(),
        existing_stack_id: existing_id,
        change_set_name: change_set_name(crate::model::now_ms()),
        template: TemplateSource::body(chosen.origin, chosen.body),
        parameters,
        compliance,
        cost,
    })
}

/// `update-stack`: a change set on the stack's current template with the parameters given
/// (the others unchanged), judged on that template with the stack's values.
pub async fn update_stack(
    ctx: &dyn PlanCtx,
    stack: &str,
    args: &serde_json::Value,
) -> Result<crate::cfn::ops::CreateChangeSet, PlanError> {
    use crate::cfn::deploy::{change_set_name, existing_stack_for_deploy, resolve_parameters};
    use crate::cfn::ops::TemplateSource;
    let summary = resolve_stack(ctx, stack).await?;
    let seed = update_seed(ctx, &summary, None).await?;
    existing_stack_for_deploy(&seed.detail.summary.name, Some(&seed.detail.summary))
        .map_err(PlanError::Refused)?
        .ok_or_else(|| {
            PlanError::Refused(format!(
                "stack {} holds no deployed template yet (REVIEW_IN_PROGRESS): deploy a template to it instead",
                seed.detail.summary.name
            ))
        })?;
    let given = given_parameters(&seed.template, args)?;
    let target = target(ctx, &seed.detail.summary)?;
    let keys: Vec<String> = seed
        .detail
        .parameters
        .iter()
        .map(|p| p.key.clone())
        .collect();
    let parameters =
        resolve_parameters(&seed.template, &given, Some(&keys)).map_err(param_errors)?;
    let mut judged: std::collections::BTreeMap<String, String> = seed
        .detail
        .parameters
        .iter()
        .filter(|p| !seed.template.parameter(&p.key).is_some_and(|s| s.no_echo))
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    judged.extend(given);
    let text = match &seed.source {
        FormTemplate::Body(text) | FormTemplate::Previous(text) => text.clone(),
    };
    let cost = {
        let before = known_values(&seed.template, &seed.detail.parameters);
        cost_verdict(
            ctx,
            (&target.account, &target.region, target.environment),
            Some((&seed.current_body, &before)),
            (&text, &judged),
            &seed.origin,
        )
    };
    let compliance = verdict(ctx, text, seed.origin.clone(), judged, target.environment).await;
    Ok(crate::cfn::ops::CreateChangeSet {
        account: target.account,
        region: target.region,
        environment: target.environment,
        stack_name: target.stack_name,
        existing_stack_id: Some(target.stack_id),
        change_set_name: change_set_name(crate::model::now_ms()),
        template: TemplateSource::Previous,
        parameters,
        compliance,
        cost,
    })
}
