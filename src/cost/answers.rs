//! What `estimate-cost` answers outside the pane (`opsdeck run`, the assistant's tools): the
//! monthly cost of one library template, template file or deployed stack, as the same report
//! `opsdeck cost --format json` writes for that one source — priced with the catalogue and
//! usage file loaded where it runs (`PlanCtx::pricing`).

use crate::cost::catalogue::BASE_REGION;
use crate::cost::estimate::{CostReport, SourceEstimate, estimate_template};
use crate::cost::headless::PricingInputs;
use crate::ops::{PlanCtx, PlanError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What is to be estimated.
enum Wanted<'a> {
    Template(&'a str),
    Stack(&'a str),
}

fn text_arg<'a>(args: &'a Value, name: &str) -> Option<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `estimate-cost`: `template` (a library name such as `rds-postgres`, or a template file) or
/// `stack` (a deployed stack: its template and parameter values), with `parameters` given
/// over the defaults (a template) or the deployed values (a stack). NoEcho parameters are
/// refused as arguments, as a deploy refuses them.
pub async fn estimate_cost(ctx: &dyn PlanCtx, args: &Value) -> Result<Value, PlanError> {
    let wanted = match (text_arg(args, "template"), text_arg(args, "stack")) {
        (Some(template), None) => Wanted::Template(template),
        (None, Some(stack)) => Wanted::Stack(stack),
        (Some(_), Some(_)) => {
            return Err(PlanError::Input(
                "give either template or stack, not both: one source is estimated at a time".into(),
            ));
        }
        (None, None) => {
            return Err(PlanError::Input(
                "give template (a library template such as rds-postgres, or a template file) or stack (a deployed stack) to estimate".into(),
            ));
        }
    };
    let pricing = ctx.pricing().ok_or_else(|| {
        PlanError::Failed(
            "the price catalogue is not loaded here (a usage file that does not load stops it too), so nothing could be estimated".into(),
        )
    })?;
    let region = ctx.region().unwrap_or_else(|| BASE_REGION.to_string());
    let (body, source, parameters) = match wanted {
        Wanted::Template(spec) => {
            let spec = spec.to_string();
            // A file is a user file: read through the guarded reader, off the caller's thread.
            let chosen = tokio::task::spawn_blocking(move || crate::cfn::library::choose(&spec))
                .await
                .map_err(|e| PlanError::Failed(format!("reading the template stopped: {e}")))?
                .map_err(|e| PlanError::Input(e.to_string()))?;
            let given = crate::cfn::plan::given_parameters(&chosen.template, args)?;
            // Named as `opsdeck cost` names it.
            let source = match chosen.origin.strip_prefix("library:") {
                Some(name) => format!("templates/{name}.yaml"),
                None => chosen.origin.clone(),
            };
            (chosen.body, source, given)
        }
        Wanted::Stack(name) => {
            let summary = crate::cfn::plan::resolve_stack(ctx, name).await?;
            let deployed = crate::cost::plan::deployed_templates(ctx, &[summary])
                .await
                .into_iter()
                .next()
                .map(|(_, t)| t)
                .ok_or_else(|| PlanError::Failed(format!("stack {name} was not read")))??;
            let template = crate::cfn::template::Template::parse(
                &deployed.body,
                std::path::Path::new(&format!("stack:{}", deployed.stack.name)),
            )
            .map_err(|e| PlanError::Failed(e.to_string()))?;
            let mut values = deployed.parameters;
            values.extend(crate::cfn::plan::given_parameters(&template, args)?);
            (
                deployed.body,
                format!("stack:{}", deployed.stack.name),
                values,
            )
        }
    };
    let report = estimate(pricing, region, body, source, parameters).await?;
    serde_json::to_value(&report)
        .map_err(|e| PlanError::Failed(format!("the estimate could not be written: {e}")))
}

/// Estimate one source off the caller's thread (a large template takes a while to parse).
async fn estimate(
    pricing: Arc<PricingInputs>,
    region: String,
    body: String,
    source: String,
    parameters: BTreeMap<String, String>,
) -> Result<CostReport, PlanError> {
    tokio::task::spawn_blocking(move || {
        let estimate: SourceEstimate =
            estimate_template(pricing.pricing(&region), &body, &source, &parameters)
                .map_err(|e| PlanError::Input(e.to_string()))?;
        Ok(CostReport::new(&pricing.catalogue, &region, vec![estimate]))
    })
    .await
    .map_err(|e| PlanError::Failed(format!("estimating stopped: {e}")))?
}
