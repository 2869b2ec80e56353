//! The Cost pane, the reaping dialog and the cost in the deploy review, on `TestBackend`:
//! what is drawn, in which colour, and what the gate asks.

use crate::audit::{Actor, Decision, MemoryAudit};
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::cost::model::{
    Amount, DaySpend, IdleFinding, IdleKind, IdleReport, MonthSpend, Part, SpendReport, SpendSource,
};
use crate::cost::plan::StackCost;
use crate::cost::tui::{CostMsg, Section};
use crate::model::{CallerIdentity, Environment, Role};
use crate::ops::{MutatingOp, ReadOnlyLatch, RiskTier};
use crate::registry::Pane;
use crate::tui::state::{Cmd, Mode, Msg, Session, State, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::sync::Arc;

const ACCOUNT: &str = "123456789012";
const NOW: i64 = 1_764_590_400_000; // 2025-12-01T12:00:00Z

fn console(env: Environment, read_only: bool, config: Config) -> (State, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::default());
    let latch = ReadOnlyLatch::new();
    if read_only {
        latch.engage("started with --read-only");
    }
    let gate = crate::setup::test_gate(
        latch,
        audit.clone(),
        Actor {
            os_user: "alice".into(),
            principal: None,
        },
        None,
    );
    let session = Session {
        os_user: "alice".into(),
        region: Some("us-east-1".into()),
        env_override: Some(env),
        role: Some(Role::Operator),
        identity: Some(CallerIdentity {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            user_id: "AIDA".into(),
        }),
        ..Session::default()
    };
    let theme = Theme::builtin("dark").expect("dark theme is built in");
    let mut state = State::new(
        session,
        Arc::new(config),
        gate,
        &theme,
        ColorDepth::TrueColor,
    );
    state.now_ms = NOW;
    state.focus = Pane::Cost;
    (state, audit)
}

fn defaults() -> Config {
    Config::defaults().expect("embedded defaults parse")
}

fn loaded(state: &mut State) {
    let catalogue = Arc::new(crate::cost::Catalogue::bundled());
    let library = crate::cost::tui::price_library(&catalogue, "us-east-1");
    update(
        state,
        Msg::Cost(CostMsg::Loaded {
            catalogue,
            usage: Ok(crate::cost::Usage::none()),
            library,
            region: "us-east-1".into(),
        }),
    );
}

fn spend() -> SpendReport {
    SpendReport {
        source: SpendSource::CostExplorer,
        currency: "USD".into(),
        fetched_ms: NOW - 3 * 3_600_000,
        month_to_date: Part::Ok(163.45),
        months: Part::Ok(vec![MonthSpend {
            month: "2025-12".into(),
            total: 163.45,
            estimated: true,
            services: vec![
                Amount {
                    name: "Amazon Elastic Compute Cloud - Compute".into(),
                    amount: 123.45,
                },
                Amount {
                    name: "Amazon Relational Database Service".into(),
                    amount: 40.0,
                },
            ],
        }]),
        daily: Part::Ok(
            (1..=20)
                .map(|d| DaySpend {
                    date: format!("2025-11-{d:02}"),
                    amount: d as f64,
                })
                .collect(),
        ),
        forecast: Part::Unavailable("the service answered HTTP 500".into()),
        by_tag: None,
        by_stack: Part::Ok(vec![Amount {
            name: "web".into(),
            amount: 99.5,
        }]),
        calls: 5,
        fallback_reason: None,
        months_requested: 3,
    }
}

fn idle() -> IdleReport {
    let finding = |kind, id: &str, monthly: f64, reason: &str| IdleFinding {
        kind,
        id: id.into(),
        name: None,
        region: "us-east-1".into(),
        reason: reason.into(),
        monthly: Some(monthly),
        priced_as: String::new(),
        stack: None,
        detail: "t3.small".into(),
        price: None,
    };
    IdleReport {
        region: "us-east-1".into(),
        findings: vec![
            finding(
                IdleKind::Instance,
                "i-0abc",
                0.0208 * 730.0,
                "CPU ≤ 10 % and network ≤ 5 MB on 14 of the last 14 days",
            ),
            finding(
                IdleKind::Address,
                "eipalloc-1",
                0.005 * 730.0,
                "not associated with anything",
            ),
        ],
        unknown: vec![("vol-root".into(), "no datapoints".into())],
        errors: vec![],
        metric_calls: 1,
        scanned_ms: NOW,
        prices_as_of: Default::default(),
    }
}

fn render(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("backend");
    terminal
        .draw(|f| crate::tui::view::render(f, state))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn screen(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(state: &mut State, code: KeyCode) -> Vec<Cmd> {
    update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn the_pane_shows_spend_with_its_source_age_and_calls_then_stacks_and_idle() {
    let (mut state, _) = console(Environment::Dev, false, defaults());
    loaded(&mut state);
    state.cost.spend = Some(spend());
    state.cost.spend_account = Some(ACCOUNT.into());
    state.cost.cache_checked = true;
    state.cost.calls_today = 5;
    state.cost.stacks_asked = true;
    state.zoomed = true;
    let text = screen(&render(&state, 100, 24));
    for expected in [
        "3 Cost — [Spend] Stacks Idle",
        "Spend of 123456789012 via Cost Explorer, 3 h old · CE calls today 5/20",
        "Month to date $163.45   Forecast unavailable (the service answered HTTP 500)",
        "Amazon Elastic Compute Cloud - Compute",
        "$123.45",
        "prices as of ebs 2024-07-18",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!("cost_pane_spend", text);

    // Stacks: the estimate beside what the stack actually spent.
    key(&mut state, KeyCode::Char(']'));
    assert_eq!(state.cost.section, Section::Stacks);
    let catalogue = crate::cost::Catalogue::bundled();
    let none = crate::cost::Usage::none();
    let pricing = crate::cost::Pricing {
        catalogue: &catalogue,
        usage: &none,
        region: "us-east-1",
    };
    let web = crate::cost::estimate_template(
        pricing,
        crate::cfn::library::find("alb").expect("alb").body,
        "stack web",
        &Default::default(),
    );
    state.cost.stacks = vec![StackCost {
        name: "web".into(),
        estimate: web.map_err(|e| e.to_string()),
    }];
    let text = screen(&render(&state, 100, 24));
    assert!(
        text.contains("STACK") && text.contains("ACTUAL MTD"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("│web "))
        .unwrap_or_else(|| panic!("web's row in\n{text}"));
    assert!(row.contains("$16.43") && row.contains("$99.50"), "{row}");

    // Idle: each finding with what it costs a month.
    key(&mut state, KeyCode::Char(']'));
    state.cost.idle = Some(idle());
    let text = screen(&render(&state, 100, 24));
    assert!(
        text.contains("2 idle in us-east-1, $18.83 a month · 1 unknown"),
        "{text}"
    );
    assert!(
        text.contains("[ ] instance") && text.contains("$15.18"),
        "{text}"
    );
}

#[test]
fn reaping_from_the_pane_types_the_id_in_dev_and_is_refused_elsewhere() {
    // DEV: x opens the typed confirmation listing the resource, its saving and the account.
    let (mut state, audit) = console(Environment::Dev, false, defaults());
    state.cost.section = Section::Idle;
    state.cost.idle = Some(idle());
    key(&mut state, KeyCode::Char('x'));
    let Mode::Confirm(dialog) = &state.mode else {
        panic!("a confirmation opens");
    };
    assert_eq!(dialog.request.tier, RiskTier::TypeName("i-0abc".into()));
    assert!(matches!(dialog.request.op, MutatingOp::Cost(_)));
    let text = screen(&render(&state, 100, 30));
    for expected in [
        "Stop 1 idle instance in 123456789012 / us-east-1 (DEV)",
        "i-0abc",
        "$15.18/mo",
        "Type i-0abc",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    for c in "i-0abc".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    let cmds = key(&mut state, KeyCode::Enter);
    assert!(
        cmds.iter().any(|c| matches!(c, Cmd::Execute(_))),
        "{cmds:?}"
    );
    assert_eq!(
        audit
            .records()
            .iter()
            .map(|r| r.decision)
            .collect::<Vec<_>>(),
        vec![Decision::Requested, Decision::Confirmed]
    );

    // Marking two of different kinds is refused before the gate.
    let (mut state, _) = state_dev_with_idle();
    key(&mut state, KeyCode::Char(' '));
    key(&mut state, KeyCode::Char('j'));
    key(&mut state, KeyCode::Char(' '));
    assert_eq!(state.cost.marked.len(), 2);
    key(&mut state, KeyCode::Char('x'));
    assert!(matches!(state.mode, Mode::Normal));
    assert!(
        state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("one kind"))
    );

    // PRD and read-only: refused at the gate, audited, no dialog.
    for (env, read_only, decision) in [
        (Environment::Prd, false, Decision::Refused),
        (Environment::Dev, true, Decision::RefusedReadOnly),
    ] {
        let (mut state, audit) = console(env, read_only, defaults());
        state.cost.section = Section::Idle;
        state.cost.idle = Some(idle());
        key(&mut state, KeyCode::Char('x'));
        assert!(matches!(state.mode, Mode::Normal), "{env}");
        let toast = state
            .toast
            .as_ref()
            .map(|t| t.text.clone())
            .unwrap_or_default();
        assert!(toast.starts_with("refused:"), "{toast}");
        assert_eq!(audit.records().last().map(|r| r.decision), Some(decision));
    }
}

fn state_dev_with_idle() -> (State, Arc<MemoryAudit>) {
    let (mut s, audit) = console(Environment::Dev, false, defaults());
    s.cost.section = Section::Idle;
    s.cost.idle = Some(idle());
    (s, audit)
}

#[test]
fn a_deploy_over_budget_is_danger_coloured_and_needs_the_typed_name() {
    let mut config = defaults();
    config.cost.budgets = vec![(Environment::Dev, 170.0)];
    let (mut state, _) = console(Environment::Dev, false, config);
    loaded(&mut state);
    // The account spends 163.45 this month (no forecast: month to date is the baseline).
    state.cost.spend = Some(spend());
    state.cost.spend_account = Some(ACCOUNT.into());
    let template = crate::cfn::library::find("ec2-instance")
        .expect("library")
        .body;
    let params =
        std::collections::BTreeMap::from([("InstanceType".to_string(), "m6i.large".to_string())]);
    let verdict = crate::cost::tui::deploy_verdict(
        &state,
        ACCOUNT,
        "us-east-1",
        Environment::Dev,
        None,
        (template, &params),
        "library:ec2-instance",
    );
    // 0.096 × 730 + 20 GB gp3: +78.08 on 163.45 is over 170.
    let delta = verdict.delta().expect("estimated");
    assert!((delta.delta_monthly.usd() - (0.096 * 730.0 + 20.0 * 0.08)).abs() < 1e-3);
    assert!(verdict.over_budget() && verdict.needs_typed_name());
    // The review of the computed change set: typed, and the cost line in the danger colour.
    let preview = crate::cfn::model::ChangeSetPreview {
        stack_name: "box".into(),
        stack_id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/box/1"),
        change_set_id: "cs".into(),
        change_set_name: "opsdeck-1".into(),
        kind: crate::cfn::model::ChangeSetKind::Create,
        changes: vec![crate::cfn::model::ResourceChange {
            action: "Add".into(),
            logical_id: "Instance".into(),
            physical_id: None,
            resource_type: "AWS::EC2::Instance".into(),
            replacement: None,
            scope: vec![],
            details: vec![],
        }],
    };
    let execute = crate::cfn::plan::execute_change_set(&state, preview, &verdict).expect("planned");
    let request = state
        .gate
        .request(MutatingOp::from(execute))
        .expect("opens");
    assert_eq!(
        request.tier,
        RiskTier::TypeName("box".into()),
        "no removal, DEV: typed only for the budget"
    );
    state.open_confirm(request);
    let buffer = render(&state, 140, 36);
    let text = screen(&buffer);
    assert!(text.contains("$0.00 → $71.68 a month (+$71.68)"), "{text}");
    assert!(
        text.contains("OVER BUDGET: DEV would cost $235.13 a month against its budget of $170.00"),
        "{text}"
    );
    assert!(
        text.contains("COST/MO") && text.contains("+$71.68"),
        "{text}"
    );
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("$0.00 → $71.68"))
        .expect("the cost line");
    let x = line.find("$0.00").expect("figure") as u16;
    let x = line[..x as usize].chars().count() as u16;
    assert_eq!(buffer[(x, y as u16)].fg, palette.danger);
    // Within budget: the same change is y/Enter.
    let mut config = defaults();
    config.cost.budgets = vec![(Environment::Dev, 1000.0)];
    let (mut state, _) = console(Environment::Dev, false, config);
    state.cost.spend = Some(spend());
    state.cost.spend_account = Some(ACCOUNT.into());
    let verdict = crate::cost::tui::deploy_verdict(
        &state,
        ACCOUNT,
        "us-east-1",
        Environment::Dev,
        None,
        (template, &params),
        "library:ec2-instance",
    );
    assert!(!verdict.needs_typed_name());
}

#[test]
fn the_template_picker_shows_each_templates_monthly_cost() {
    let (mut state, _) = console(Environment::Dev, false, defaults());
    state.focus = Pane::Inventory;
    key(&mut state, KeyCode::Char('n'));
    assert!(matches!(state.mode, Mode::Picker(_)));
    let text = screen(&render(&state, 120, 30));
    assert!(
        text.contains("pricing…"),
        "before the catalogue loads: {text}"
    );
    loaded(&mut state);
    let text = screen(&render(&state, 120, 30));
    let row = text
        .lines()
        .find(|l| l.contains("ec2-instance"))
        .expect("row");
    // t3.small and a 20 GB gp3 root volume.
    assert!(row.contains("$16.78/mo"), "{row}");
    let bucket = text.lines().find(|l| l.contains("s3-bucket")).expect("row");
    assert!(bucket.contains("$0.00/mo+"), "usage-priced: {bucket}");
    assert!(
        text.contains("a month at the defaults in us-east-1; prices as of"),
        "{text}"
    );
}

#[test]
fn the_reap_command_names_the_findings() {
    let (mut state, _) = state_dev_with_idle();
    crate::tui::shell::run_command(&mut state, "reap eipalloc-1");
    let Mode::Confirm(dialog) = &state.mode else {
        panic!("a confirmation opens: {:?}", state.toast);
    };
    assert_eq!(dialog.request.op.name(), "release-addresses");
    assert_eq!(dialog.request.tier, RiskTier::TypeName("eipalloc-1".into()));
    let (mut state, _) = state_dev_with_idle();
    crate::tui::shell::run_command(&mut state, "reap i-nope");
    assert!(matches!(state.mode, Mode::Normal));
    assert!(
        state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("i-nope is not among"))
    );
}

#[test]
fn the_pane_shows_the_assistants_tokens_and_cost_today_and_this_month() {
    use crate::assistant::model::Usage;
    use crate::assistant::usage::Totals;
    use crate::cost::tui::{AssistantSpend, CostCmd};
    let loads = |cmds: &[Cmd]| {
        cmds.iter()
            .filter(|c| matches!(c, Cmd::Cost(CostCmd::LoadAssistantUsage)))
            .count()
    };
    let (mut state, _) = console(Environment::Dev, false, defaults());
    // Read when the console starts (after the first frame) and when the pane opens.
    assert_eq!(loads(&crate::cost::tui::initial_commands(&state)), 1);
    state.focus = Pane::Inventory;
    assert_eq!(loads(&key(&mut state, KeyCode::Char('3'))), 1);
    assert_eq!(state.focus, Pane::Cost);
    assert_eq!(
        loads(&key(&mut state, KeyCode::Char('j'))),
        0,
        "only on opening"
    );
    // And when a turn of the assistant ends.
    state.chat.answering = Some(crate::assistant::tui::Answering {
        job: Some(41),
        open: false,
        settled: true,
    });
    let cmds = update(
        &mut state,
        Msg::Engine(crate::engine::EngineEvent::TaskDone {
            job: 41,
            result: Ok(String::new()),
        }),
    );
    assert_eq!(loads(&cmds), 1);

    // What the job store answered, on screen.
    let totals = |input: u64, output: u64, cost_usd: f64, unpriced_calls: u64| Totals {
        usage: Usage {
            input,
            output,
            cache_read: 0,
            cache_write: 0,
        },
        cost_usd,
        unpriced_calls,
        calls: 3 + unpriced_calls,
    };
    update(
        &mut state,
        Msg::Cost(CostMsg::AssistantUsage(Ok(AssistantSpend {
            today: totals(1_234, 340, 0.0123, 0),
            month: totals(45_600, 3_400, 0.4567, 2),
        }))),
    );
    state.zoomed = true;
    let text = screen(&render(&state, 120, 24));
    assert!(
        text.contains(
            "Assistant today 1.2k in / 340 out $0.0123 · this month 45.6k in / 3.4k out $0.4567 (+2 calls of unpriced models)"
        ),
        "{text}"
    );
    update(
        &mut state,
        Msg::Cost(CostMsg::AssistantUsage(Ok(AssistantSpend::default()))),
    );
    let text = screen(&render(&state, 120, 24));
    assert!(
        text.contains("Assistant: no model calls this month"),
        "{text}"
    );
}

#[test]
fn the_assistants_usage_is_read_from_the_job_store_off_the_ui_thread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(crate::engine::store::JobStore::open_in_memory().expect("store"));
    let used = crate::assistant::model::Usage {
        input: 1000,
        output: 100,
        cache_read: 0,
        cache_write: 0,
    };
    crate::assistant::usage::record(&store, "m", &used, Some(0.5)).expect("recorded");
    let paths = crate::config::Paths::in_dirs(dir.path().join("config"), dir.path().join("data"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let msg = rt.block_on(async {
        let (back, mut rx) = tokio::sync::mpsc::unbounded_channel();
        crate::cost::tui::run(
            crate::cost::tui::CostCmd::LoadAssistantUsage,
            &paths,
            &store,
            &back,
        );
        rx.recv().await
    });
    let Some(Msg::Cost(CostMsg::AssistantUsage(Ok(spend)))) = msg else {
        panic!("the usage comes back as a message");
    };
    assert_eq!((spend.today.usage.input, spend.month.calls), (1000, 1));
    assert!((spend.month.cost_usd - 0.5).abs() < 1e-9);
}
