//! Cost's entries in the action registry, and what each does in the console.

use crate::actions;
use crate::cost::tui;
use crate::registry::{ActionSpec, Context, KeyCode, Kind, Pane, bind, code, hint, k, label};
use crate::tui::state::{Cmd, State};

actions! {
    /// Cost: spend, stack estimates, idle resources and reaping.
    pub enum CostAction {
        FetchSpend => ActionSpec::new("show-spend", "Fetch the account's spend (Cost Explorer within the daily call budget; the billing metric as fallback)", Kind::Read)
            .binds(&[label(Context::Cost, &[k('r')], "refresh")])
            .command("spend", &[], "[free]")
            .help("fetch the spend again (Cost Explorer, $0.01 a request; `:spend free` reads the free billing metric)")
            .schema(r#"{"type":"object","properties":{"free":{"type":"boolean","description":"read only the free AWS/Billing metric"}},"additionalProperties":false}"#),
        EstimateStacks => ActionSpec::new("estimate-cost", "Estimate the monthly cost of the deployed stacks", Kind::Read)
            .binds(&[hint(Context::Cost, &[k('e')], "estimate stacks")])
            .command("estimate", &[], "")
            .help("estimate the listed stacks (their templates and parameter values)")
            .schema(crate::registry::NO_ARGS),
        FindIdle => ActionSpec::new("list-idle", "Find idle resources (Trusted Advisor's thresholds)", Kind::Read)
            .binds(&[hint(Context::Cost, &[k('i')], "idle")])
            .command("idle", &[], "")
            .help("scan for idle instances, volumes, Elastic IPs, load balancers, DB instances, NAT gateways")
            .schema(crate::registry::NO_ARGS),
        NextSection => ActionSpec::new("next-cost-section", "Next section of the Cost pane", Kind::Ui)
            .binds(&[hint(Context::Cost, &[k(']'), code(KeyCode::Right)], "section")])
            .help("next section (spend, stacks, idle)"),
        PrevSection => ActionSpec::new("previous-cost-section", "Previous section of the Cost pane", Kind::Ui)
            .binds(&[bind(Context::Cost, &[k('['), code(KeyCode::Left)])])
            .help("previous section"),
        Mark => ActionSpec::new("mark-idle", "Mark an idle resource for reaping", Kind::Ui)
            .binds(&[bind(Context::Cost, &[k(' ')])])
            .help("mark the idle resource (again: unmark)"),
        Reap => ActionSpec::new("reap-idle", "Reap idle DEV resources: stop instances, snapshot then delete unattached volumes, release Elastic IPs", Kind::Mutating)
            .binds(&[hint(Context::Cost, &[k('x')], "reap")])
            .command("reap", &[], "[ID...]")
            .help("reap the marked (or selected) idle resources — DEV only, typed name")
            .tier("typed name, always; refused outside DEV")
            .schema(r#"{"type":"object","properties":{"ids":{"type":"array","items":{"type":"string"}}},"required":["ids"],"additionalProperties":false}"#),
    }
}

/// What a cost action does in the console.
pub fn apply(state: &mut State, action: CostAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        CostAction::FetchSpend => {
            state.focus = Pane::Cost;
            state.cost.section = tui::Section::Spend;
            tui::fetch_spend(state, args.first() == Some(&"free"))
        }
        CostAction::EstimateStacks => {
            state.focus = Pane::Cost;
            state.cost.section = tui::Section::Stacks;
            tui::estimate_stacks(state)
        }
        CostAction::FindIdle => {
            state.focus = Pane::Cost;
            tui::find_idle(state)
        }
        CostAction::NextSection => {
            tui::cycle_section(state, true);
            Vec::new()
        }
        CostAction::PrevSection => {
            tui::cycle_section(state, false);
            Vec::new()
        }
        CostAction::Mark => {
            tui::toggle_mark(state);
            Vec::new()
        }
        CostAction::Reap => {
            // `:reap ID...`: exactly those findings.
            if !args.is_empty() {
                state.cost.marked = args.iter().map(|a| a.to_string()).collect();
            }
            tui::reap(state)
        }
    }
}
