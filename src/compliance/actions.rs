//! Compliance's entries in the action registry, and what each does in the console.

use crate::actions;
use crate::compliance::tui as pane;
use crate::ops::{PlanCtx, PlanError};
use crate::registry::{ActionSpec, Context, Kind, Pane, bind, hint, k};
use crate::tui::shell;
use crate::tui::state::{Cmd, State, ToastLevel};
use futures::future::BoxFuture;
use serde_json::Value;

actions! {
    /// Compliance: judging templates and stacks, the report and its exports.
    pub enum ComplianceAction {
        Check => ActionSpec::new("check-template", "Judge templates or a deployed stack against the NIST SP 800-53 rules", Kind::Read)
            .binds(&[
                bind(Context::Inventory, &[k('C')]),
                bind(Context::StackDetail, &[k('C')]),
                hint(Context::Compliance, &[k('c')], "library"),
            ])
            .command("check", &[], "[STACK]")
            .help("judge for compliance (C: the stack; c, or :check alone: the library)")
            .schema(r#"{"type":"object","properties":{"stack":{"type":"string","description":"a deployed stack; none: the template library"}},"additionalProperties":false}"#)
            .answer(answer_check),
        ShowCompliance => ActionSpec::new("show-compliance", "Show the state of NIST SP 800-53 controls (all, one such as SC-28, or a family such as SC) for the template library or a deployed stack", Kind::Read)
            .help("the state of the controls, as the Compliance pane shows them")
            .schema(r#"{"type":"object","properties":{"control":{"type":"string","description":"a control such as SC-28, or a family such as SC; none: every applicable control"},"stack":{"type":"string","description":"a deployed stack; none: the template library"}},"additionalProperties":false}"#)
            .answer(answer_show),
        Export => ActionSpec::new("export-report", "Export the compliance report", Kind::Ui)
            .binds(&[hint(Context::Compliance, &[k('e')], "export")])
            .command("export", &[], "FORMAT")
            .help("export the report (text, json, csv, sarif, oscal) to the data dir")
            .schema(r#"{"type":"object","properties":{"format":{"enum":["text","json","csv","sarif","oscal"]}},"required":["format"],"additionalProperties":false}"#),
        ShowStack => ActionSpec::new("show-report-stack", "Show the report's stack in Inventory", Kind::Ui)
            .binds(&[hint(Context::Compliance, &[k('i')], "stack")])
            .help("show the report's stack in Inventory (also Enter on a resource)"),
    }
}

fn answer_check<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Value, PlanError>> {
    Box::pin(crate::compliance::answers::check_template(ctx, args))
}

fn answer_show<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Value, PlanError>> {
    Box::pin(crate::compliance::answers::show_compliance(ctx, args))
}

/// What a compliance action does in the console.
pub fn apply(state: &mut State, action: ComplianceAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        ComplianceAction::Check => match (args.first(), state.focus) {
            (Some(name), _) => pane::check_command(state, Some(name)),
            (None, Pane::Inventory) => match crate::cfn::tui::stack_actions::current_stack(state) {
                Some(stack) => pane::check_stack(state, stack),
                None => {
                    state.toast(ToastLevel::Info, "no stack selected");
                    Vec::new()
                }
            },
            (None, _) => pane::check_command(state, None),
        },
        ComplianceAction::Export => {
            let Some(word) = args.first() else {
                if state.focus == Pane::Compliance {
                    pane::open_export(state);
                } else {
                    shell::reply(
                        state,
                        ToastLevel::Info,
                        "usage: export text|json|csv|sarif|oscal".into(),
                    );
                }
                return Vec::new();
            };
            match crate::compliance::export::Format::parse(word) {
                Some(format) => pane::export(state, format),
                None => {
                    shell::reply(
                        state,
                        ToastLevel::Info,
                        "usage: export text|json|csv|sarif|oscal".into(),
                    );
                    Vec::new()
                }
            }
        }
        ComplianceAction::ShowCompliance => {
            state.focus = Pane::Compliance;
            Vec::new()
        }
        ComplianceAction::ShowStack => pane::show_in_inventory(state),
    }
}
