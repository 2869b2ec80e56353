//! CloudFormation's "fetch, then plan, then confirm" flows in the console. Each flow is one
//! value ([`CfnFlow`]): the app runs it off the UI thread with the shared plan functions
//! (`cfn::plan`) and hands the outcome back as `Msg::Planned`; [`planned`] then asks the gate
//! or opens the form. Nothing waits in a field that every read result must check.

use crate::cfn::library::ChosenTemplate;
use crate::cfn::model::StackSummary;
use crate::cfn::plan::{self, UpdateSeed};
use crate::cfn::tui::form::{DeployForm, DeployTarget};
use crate::ops::{MutatingOp, PlanCtx, PlanError};
use crate::tui::state::{Cmd, State, ToastLevel, Waiting};

/// A CloudFormation flow the console started.
#[derive(Debug, Clone)]
pub enum CfnFlow {
    /// `u`, or `:deploy TEMPLATE STACK` onto an existing stack: its current parameters (and
    /// template, unless one was chosen), then the form.
    Update {
        stack: StackSummary,
        template: Option<ChosenTemplate>,
    },
}

/// What a flow yields for the console.
#[derive(Debug)]
pub enum CfnPlanned {
    /// Ask the gate for this operation's confirmation.
    Confirm(Box<MutatingOp>),
    /// Open the update form from this.
    UpdateForm(Box<UpdateSeed>),
}

/// Run a flow to its plan (off the UI thread).
pub async fn run(flow: CfnFlow, ctx: &dyn PlanCtx) -> Result<CfnPlanned, PlanError> {
    match flow {
        CfnFlow::Update { stack, template } => {
            let seed = plan::update_seed(ctx, &stack, template).await?;
            Ok(CfnPlanned::UpdateForm(Box::new(seed)))
        }
    }
}

/// A flow's outcome arrived: queue the confirmation or the form (it opens as soon as no other
/// dialog or form is open), or say why there is none.
pub fn planned(state: &mut State, result: Result<CfnPlanned, PlanError>) -> Vec<Cmd> {
    match result {
        Ok(CfnPlanned::Confirm(op)) => {
            state.toast = None;
            state.waiting.push_back(Waiting::Confirm(*op));
        }
        Ok(CfnPlanned::UpdateForm(seed)) => {
            state.toast = None;
            state
                .waiting
                .push_back(Waiting::Form(Box::new(update_form(*seed))));
        }
        Err(e) => state.toast(ToastLevel::Error, e.to_string()),
    }
    Vec::new()
}

/// The update form: the chosen (or current) template, the stack's current values.
fn update_form(seed: UpdateSeed) -> DeployForm {
    let target = DeployTarget::Update {
        stack_id: seed.stack.id.clone(),
        stack_name: seed.stack.name.clone(),
        existing_keys: seed
            .detail
            .parameters
            .iter()
            .map(|p| p.key.clone())
            .collect(),
    };
    let mut form = DeployForm::new(
        seed.origin,
        seed.source,
        seed.template,
        target,
        &seed.stack.name,
        &seed.detail.parameters,
    );
    form.current_template = Some(seed.current_body);
    form
}
