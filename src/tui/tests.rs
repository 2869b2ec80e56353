//! Console tests on `TestBackend`: table tests of `update`, the safety property, snapshots of
//! each pane and dialog, and per-cell colour checks for danger and read-only styling.

use super::keymap::Pane;
use super::state::{Cmd, Mode, Msg, Session, State, update};
use super::view;
use crate::audit::{Actor, Decision, MemoryAudit};
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::ports::{ErrorKind, ProviderError};
use crate::engine::{EngineEvent, ReadOutput, ViewKey};
use crate::model::{
    CallerIdentity, Environment, JobKind, JobRecord, JobState, Role, StackDetail, StackOutput,
    StackParameter, StackResource, StackSummary,
};
use crate::ops::{Gate, MutatingOp, ReadOnlyLatch};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::sync::Arc;

const ACCOUNT: &str = "123456789012";

fn stack(name: &str, status: &str) -> StackSummary {
    StackSummary {
        name: name.into(),
        id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/0f0e"),
        status: status.into(),
        status_reason: None,
        created: Some("2026-11-20T10:00:00Z".into()),
        updated: None,
        description: None,
        ..StackSummary::default()
    }
}

struct Harness {
    state: State,
    audit: Arc<MemoryAudit>,
    next_job: i64,
}

impl Harness {
    fn new(read_only: bool) -> Harness {
        Harness::with(read_only, None)
    }

    fn with(read_only: bool, env: Option<Environment>) -> Harness {
        let audit = Arc::new(MemoryAudit::default());
        let latch = ReadOnlyLatch::new();
        if read_only {
            latch.engage("started with --read-only");
        }
        let gate = Gate::new(
            latch,
            audit.clone(),
            Actor {
                os_user: "alice".into(),
                principal: None,
            },
            None,
        );
        let config = Arc::new(Config::defaults().expect("embedded defaults parse"));
        let session = Session {
            os_user: "alice".into(),
            profile: Some("sandbox".into()),
            region: Some("us-east-1".into()),
            env_override: env,
            role: Some(Role::Operator),
            ..Session::default()
        };
        let theme = Theme::builtin("dark").expect("dark theme is built in");
        let mut state = State::new(session, config, gate, &theme, ColorDepth::TrueColor);
        state.now_ms = 1_700_000_010_000;
        Harness {
            state,
            audit,
            next_job: 100,
        }
    }

    fn send(&mut self, msg: Msg) -> Vec<Cmd> {
        update(&mut self.state, msg)
    }

    fn key(&mut self, code: KeyCode) -> Vec<Cmd> {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn type_text(&mut self, text: &str) -> Vec<Cmd> {
        text.chars()
            .flat_map(|c| self.key(KeyCode::Char(c)))
            .collect()
    }

    fn read_done(&mut self, view: ViewKey, result: Result<ReadOutput, ProviderError>) {
        self.next_job += 1;
        let job = self.next_job;
        self.state.latest_reads.insert(view, job);
        self.send(Msg::Engine(EngineEvent::ReadDone { job, view, result }));
    }

    /// The detail the engine would return for `summary`: nothing retained, unprotected.
    fn deliver_detail(&mut self, detail: StackDetail) {
        self.read_done(
            ViewKey::StackDetail,
            Ok(ReadOutput::StackDetail(Box::new(detail))),
        );
    }

    /// `d`, then the stack detail it loads (what a delete keeps, whether it is protected).
    fn delete_key(&mut self) -> Vec<Cmd> {
        let mut cmds = self.key(KeyCode::Char('d'));
        if let Some(view) = &self.state.inventory.detail
            && view.detail.is_none()
        {
            let summary = view.stack.clone();
            self.deliver_detail(plain_detail(summary));
            cmds.clear();
        }
        cmds
    }

    fn with_identity(mut self) -> Harness {
        let identity = CallerIdentity {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            user_id: "AIDA".into(),
        };
        self.read_done(ViewKey::Identity, Ok(ReadOutput::Identity(identity)));
        self
    }

    fn with_stacks(mut self, stacks: Vec<StackSummary>) -> Harness {
        self.read_done(ViewKey::StackList, Ok(ReadOutput::Stacks(stacks)));
        self
    }

    fn render(&self, width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        terminal
            .draw(|f| view::render(f, &self.state))
            .expect("draw");
        terminal.backend().buffer().clone()
    }

    fn screen(&self, width: u16, height: u16) -> String {
        let buffer = self.render(width, height);
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn plain_detail(summary: StackSummary) -> StackDetail {
    StackDetail {
        summary,
        parameters: vec![],
        outputs: vec![],
        resources: vec![],
        termination_protection: false,
        events: vec![],
        retained: vec![],
    }
}

fn executed(cmds: &[Cmd]) -> Vec<&MutatingOp> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Execute(a) => Some(a.op()),
            _ => None,
        })
        .collect()
}

fn three_stacks() -> Vec<StackSummary> {
    vec![
        stack("api", "CREATE_COMPLETE"),
        stack("data", "UPDATE_IN_PROGRESS"),
        stack("web", "ROLLBACK_COMPLETE"),
    ]
}

// ---------- table tests of update ----------

#[test]
fn focus_moves_with_tab_numbers_and_shift_tab() {
    let mut h = Harness::new(false);
    assert_eq!(h.state.focus, Pane::Inventory);
    let cases = [
        (KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), Pane::Cost),
        (
            KeyEvent::new(KeyCode::Char('5'), KeyModifiers::NONE),
            Pane::Jobs,
        ),
        (KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), Pane::Chat),
        (
            KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
            Pane::Jobs,
        ),
        (
            KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE),
            Pane::Inventory,
        ),
    ];
    for (key, expected) in cases {
        h.send(Msg::Key(key));
        assert_eq!(h.state.focus, expected, "after {key:?}");
    }
}

#[test]
fn command_line_table() {
    let cases: &[(&str, Pane)] = &[
        ("jobs", Pane::Jobs),
        ("stacks", Pane::Inventory),
        ("chat", Pane::Chat),
        ("cost", Pane::Cost),
    ];
    for (command, pane) in cases {
        let mut h = Harness::new(false).with_stacks(three_stacks());
        h.key(KeyCode::Char(':'));
        h.type_text(command);
        h.key(KeyCode::Enter);
        assert_eq!(h.state.focus, *pane, ":{command}");
        assert!(matches!(h.state.mode, Mode::Normal));
    }
    let mut h = Harness::new(false);
    h.key(KeyCode::Char(':'));
    h.type_text("theme solarized");
    let cmds = h.key(KeyCode::Enter);
    assert!(matches!(cmds.as_slice(), [Cmd::LoadTheme(name)] if name == "solarized"));
    h.key(KeyCode::Char(':'));
    h.type_text("frobnicate");
    h.key(KeyCode::Enter);
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("unknown command `frobnicate`"))
    );
}

#[test]
fn quit_asks_only_when_jobs_run() {
    let mut h = Harness::new(false);
    assert!(matches!(h.key(KeyCode::Char('q')).as_slice(), [Cmd::Quit]));

    let mut h = Harness::new(false);
    h.state.load_history(vec![job(
        7,
        JobState::Running,
        JobKind::Mutation,
        "Delete stack web",
    )]);
    assert!(h.key(KeyCode::Char('q')).is_empty());
    assert!(matches!(h.state.mode, Mode::QuitConfirm));
    h.key(KeyCode::Char('n'));
    assert!(!h.state.quit);
    h.key(KeyCode::Char('q'));
    assert!(matches!(h.key(KeyCode::Char('y')).as_slice(), [Cmd::Quit]));
}

#[test]
fn filter_narrows_the_stack_list_and_esc_clears_it() {
    let mut h = Harness::new(false).with_stacks(three_stacks());
    h.key(KeyCode::Char('/'));
    h.type_text("we");
    assert_eq!(h.state.inventory.visible.len(), 1);
    assert_eq!(
        h.state.inventory.selected_stack().map(|s| s.name.as_str()),
        Some("web")
    );
    h.key(KeyCode::Enter);
    assert_eq!(h.state.inventory.filter, "we");
    h.key(KeyCode::Esc);
    assert_eq!(h.state.inventory.visible.len(), 3);
}

#[test]
fn enter_opens_the_detail_with_a_describe_read() {
    let mut h = Harness::new(false).with_stacks(three_stacks());
    h.key(KeyCode::Char('j'));
    let cmds = h.key(KeyCode::Enter);
    match cmds.as_slice() {
        [Cmd::Read(crate::ops::ReadOp::DescribeStack { stack_name, .. })] => {
            assert_eq!(stack_name, "data")
        }
        other => panic!("expected a describe read, got {other:?}"),
    }
    assert!(h.state.inventory.detail.is_some());
    h.key(KeyCode::Esc);
    assert!(h.state.inventory.detail.is_none());
}

#[test]
fn delete_resolves_the_target_when_asked_and_runs_exactly_that() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('G')); // web
    h.delete_key();
    assert!(matches!(h.state.mode, Mode::Confirm(_)));
    // The list changes under the open dialog: the confirmed target must not.
    h.read_done(
        ViewKey::StackList,
        Ok(ReadOutput::Stacks(vec![stack("zzz", "CREATE_COMPLETE")])),
    );
    h.type_text("web");
    let cmds = h.key(KeyCode::Enter);
    let ops = executed(&cmds);
    assert_eq!(ops.len(), 1);
    let MutatingOp::DeleteStack(d) = ops[0] else {
        panic!("expected a delete, got {:?}", ops[0]);
    };
    assert_eq!(d.target.stack_name, "web");
    assert_eq!(d.target.account, ACCOUNT);
    assert_eq!(d.target.region, "us-east-1");
    assert!(d.target.stack_id.ends_with("stack/web/0f0e"));
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(decisions, vec![Decision::Requested, Decision::Confirmed]);
}

#[test]
fn wrong_name_keeps_the_dialog_and_esc_cancels() {
    let mut h = Harness::new(false).with_stacks(three_stacks());
    h.delete_key();
    h.type_text("ap");
    assert!(executed(&h.key(KeyCode::Enter)).is_empty());
    match &h.state.mode {
        Mode::Confirm(dialog) => assert!(
            dialog
                .error
                .as_deref()
                .is_some_and(|e| e.contains("type api exactly"))
        ),
        _ => panic!("dialog closed on a wrong name"),
    }
    h.key(KeyCode::Esc);
    assert!(matches!(h.state.mode, Mode::Normal));
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(decisions, vec![Decision::Requested, Decision::Cancelled]);
}

#[test]
fn tab_to_cancel_then_enter_cancels_even_with_the_right_name() {
    let mut h = Harness::new(false).with_stacks(three_stacks());
    h.delete_key();
    h.type_text("api");
    h.key(KeyCode::Tab); // focus on Cancel
    assert!(executed(&h.key(KeyCode::Enter)).is_empty());
    assert!(matches!(h.state.mode, Mode::Normal));
}

#[test]
fn read_only_refuses_delete_and_records_it() {
    let mut h = Harness::new(true).with_stacks(three_stacks());
    h.key(KeyCode::Char('d'));
    assert!(
        matches!(h.state.mode, Mode::Normal),
        "no dialog opens in read-only mode"
    );
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("read-only"))
    );
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        vec![Decision::Requested, Decision::RefusedReadOnly]
    );
}

#[test]
fn viewer_principal_engages_read_only_when_sts_answers() {
    let text = r#"
[[role]]
role = "viewer"
principals = ["arn:aws:iam::*:user/alice"]
"#;
    let config =
        Config::from_toml_str(text, std::path::Path::new("config.toml")).expect("valid config");
    let mut h = Harness::new(false);
    h.state.config = Arc::new(config);
    let h = h.with_identity().with_stacks(three_stacks());
    assert!(h.state.read_only());
    assert_eq!(h.state.session.role, Some(Role::Viewer));
}

#[test]
fn chat_runs_commands_and_says_no_assistant() {
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('1'));
    h.type_text("what is deployed?");
    h.key(KeyCode::Enter);
    let last = h
        .state
        .chat
        .history
        .last()
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    assert!(last.contains("No assistant is configured"));
    h.type_text("jobs");
    h.key(KeyCode::Enter);
    assert_eq!(h.state.focus, Pane::Jobs);
}

#[test]
fn stale_read_results_are_dropped() {
    let mut h = Harness::new(false);
    h.state.latest_reads.insert(ViewKey::StackList, 9);
    h.send(Msg::Engine(EngineEvent::ReadDone {
        job: 8,
        view: ViewKey::StackList,
        result: Ok(ReadOutput::Stacks(three_stacks())),
    }));
    assert!(h.state.inventory.stacks.is_empty());
}

#[test]
fn credentials_error_is_shown_plainly() {
    let mut h = Harness::new(false);
    let err = ProviderError::new(
        ErrorKind::Credentials,
        "no providers in chain provided credentials",
    );
    h.state.inventory.loading = true;
    h.read_done(ViewKey::StackList, Err(err.clone()));
    h.read_done(ViewKey::Identity, Err(err));
    let screen = h.screen(100, 30);
    assert!(screen.contains("no AWS credentials"), "{screen}");
    assert!(screen.contains("Could not list stacks"), "{screen}");
}

// ---------- the safety property ----------

#[derive(Debug, Clone)]
enum Input {
    Key(KeyCode),
    StacksArrive,
}

fn input() -> impl Strategy<Value = Input> {
    let chars = prop::sample::select(vec![
        'd', 'a', 'p', 'i', 'w', 'e', 'b', 'j', 'k', 'G', 'g', 'y', 'n', 'q', ':', '/', '?', 'z',
        '1', '2', '5', 'x', 'c', 'l', 'h',
    ]);
    prop_oneof![
        6 => chars.prop_map(|c| Input::Key(KeyCode::Char(c))),
        2 => Just(Input::Key(KeyCode::Enter)),
        1 => Just(Input::Key(KeyCode::Esc)),
        1 => Just(Input::Key(KeyCode::Tab)),
        1 => Just(Input::Key(KeyCode::BackTab)),
        1 => Just(Input::Key(KeyCode::Backspace)),
        1 => Just(Input::StacksArrive),
    ]
}

/// What the open dialog would approve if this key confirmed it, captured before the key.
fn armed_op(state: &State, key: &KeyCode) -> Option<MutatingOp> {
    let Mode::Confirm(dialog) = &state.mode else {
        return None;
    };
    let typed_ok = match &dialog.request.tier {
        crate::ops::RiskTier::TypeName(name) => dialog.input.text() == name,
        crate::ops::RiskTier::Simple => true,
    };
    let confirming_key =
        matches!(key, KeyCode::Enter) && dialog.focus != super::state::DialogFocus::Cancel;
    (typed_ok && confirming_key).then(|| dialog.request.op.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No sequence of inputs yields an executed mutation unless the open confirmation was
    /// matched by typing the exact name and pressing Enter on it; and what runs is exactly
    /// what that dialog showed.
    #[test]
    fn no_mutation_without_a_matching_confirmation(inputs in prop::collection::vec(input(), 1..80)) {
        let mut h = Harness::new(false).with_stacks(three_stacks());
        for input in inputs {
            let cmds = match input {
                Input::Key(code) => {
                    let armed = armed_op(&h.state, &code);
                    let cmds = h.key(code);
                    let ran = executed(&cmds);
                    match armed {
                        Some(op) => prop_assert!(ran.is_empty() || ran == vec![&op]),
                        None => prop_assert!(ran.is_empty(), "executed without a matching confirmation"),
                    }
                    cmds
                }
                Input::StacksArrive => { h.read_done(ViewKey::StackList, Ok(ReadOutput::Stacks(three_stacks()))); Vec::new() }
            };
            drop(cmds);
            h.state.quit = false;
        }
    }

    /// In read-only mode nothing ever executes and no confirmation is ever recorded.
    #[test]
    fn read_only_never_executes(inputs in prop::collection::vec(input(), 1..80)) {
        let mut h = Harness::new(true).with_stacks(three_stacks());
        for input in inputs {
            let cmds = match input {
                Input::Key(code) => h.key(code),
                Input::StacksArrive => { h.read_done(ViewKey::StackList, Ok(ReadOutput::Stacks(three_stacks()))); Vec::new() }
            };
            prop_assert!(executed(&cmds).is_empty());
            h.state.quit = false;
        }
        prop_assert!(h.audit.records().iter().all(|r| r.decision != Decision::Confirmed));
    }
}

// ---------- snapshots ----------

fn job(id: i64, state: JobState, kind: JobKind, title: &str) -> JobRecord {
    JobRecord {
        id,
        kind,
        operation: if kind == JobKind::Read {
            "list-stacks".into()
        } else {
            "delete-stack".into()
        },
        title: title.into(),
        target: None,
        state,
        created_ms: 1_700_000_000_000,
        started_ms: Some(1_700_000_000_000),
        finished_ms: state.is_finished().then_some(1_700_000_001_500),
        progress: (state == JobState::Running).then_some(0.5),
        error: None,
        log_path: None,
    }
}

#[test]
fn snapshot_full_screen_80x24() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.state.load_history(vec![
        job(
            3,
            JobState::Running,
            JobKind::Mutation,
            "Delete stack old in 123456789012 / us-east-1 (UNMAPPED)",
        ),
        job(
            2,
            JobState::Succeeded,
            JobKind::Read,
            "List stacks in us-east-1",
        ),
        job(
            1,
            JobState::Interrupted,
            JobKind::Read,
            "Who am I (STS GetCallerIdentity)",
        ),
    ]);
    insta::assert_snapshot!(h.screen(80, 24));
}

#[test]
fn snapshot_stack_detail_resources() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Enter);
    let detail = StackDetail {
        summary: stack("api", "CREATE_COMPLETE"),
        parameters: vec![StackParameter {
            key: "DbPassword".into(),
            value: "****".into(),
        }],
        outputs: vec![StackOutput {
            key: "Url".into(),
            value: "https://api.example".into(),
            description: None,
            export_name: Some("api-url".into()),
        }],
        resources: vec![StackResource {
            logical_id: "Topic".into(),
            physical_id: Some("arn:aws:sns:us-east-1:123456789012:api-Topic".into()),
            resource_type: "AWS::SNS::Topic".into(),
            status: "CREATE_COMPLETE".into(),
            status_reason: None,
        }],
        termination_protection: false,
        events: vec![],
        retained: vec![],
    };
    h.read_done(
        ViewKey::StackDetail,
        Ok(ReadOutput::StackDetail(Box::new(detail))),
    );
    insta::assert_snapshot!("detail_overview", h.screen(100, 30));
    h.key(KeyCode::Char(']'));
    insta::assert_snapshot!("detail_resources", h.screen(100, 30));
    h.key(KeyCode::Char(']')); // Events
    h.key(KeyCode::Char(']')); // Outputs
    h.key(KeyCode::Char(']'));
    insta::assert_snapshot!("detail_parameters", h.screen(100, 30));
}

#[test]
fn snapshot_confirm_dialog() {
    let mut h = Harness::with(false, Some(Environment::Prd))
        .with_identity()
        .with_stacks(three_stacks());
    h.delete_key();
    h.type_text("ap");
    insta::assert_snapshot!(h.screen(100, 30));
}

#[test]
fn snapshot_help() {
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!(h.screen(100, 40));
}

#[test]
fn snapshot_zoomed_chat_and_placeholders() {
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('1'));
    h.type_text("hello");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('z'));
    insta::assert_snapshot!("chat_zoomed", h.screen(80, 24));
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('3'));
    h.key(KeyCode::Char('z'));
    insta::assert_snapshot!("cost_zoomed", h.screen(80, 12));
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('4'));
    h.key(KeyCode::Char('z'));
    insta::assert_snapshot!("compliance_zoomed", h.screen(80, 12));
}

#[test]
fn snapshot_read_only_jobs_zoomed() {
    let mut h = Harness::new(true)
        .with_identity()
        .with_stacks(three_stacks());
    h.state.load_history(vec![
        job(2, JobState::Failed, JobKind::Mutation, "Delete stack web"),
        job(
            1,
            JobState::Succeeded,
            JobKind::Read,
            "List stacks in us-east-1",
        ),
    ]);
    h.key(KeyCode::Char('5'));
    h.key(KeyCode::Char('z'));
    insta::assert_snapshot!(h.screen(80, 20));
}

// ---------- colours ----------

fn find(buffer: &Buffer, text: &str) -> (u16, u16) {
    let area = buffer.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            let x = row[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{text:?} not on screen");
}

#[test]
fn prd_is_drawn_in_the_danger_colour() {
    let h = Harness::with(false, Some(Environment::Prd)).with_identity();
    let buffer = h.render(100, 30);
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (x, y) = find(&buffer, " PRD ");
    assert_eq!(buffer[(x + 1, y)].bg, palette.danger);
    let h = Harness::with(false, Some(Environment::Dev)).with_identity();
    let buffer = h.render(100, 30);
    let (x, y) = find(&buffer, " DEV ");
    assert_ne!(buffer[(x + 1, y)].bg, palette.danger);
}

#[test]
fn read_only_badge_and_greyed_delete() {
    let h = Harness::new(true)
        .with_identity()
        .with_stacks(three_stacks());
    let buffer = h.render(120, 30);
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (x, y) = find(&buffer, "READ-ONLY");
    assert_eq!(buffer[(x, y)].bg, palette.read_only);
    let (x, y) = find(&buffer, "d delete");
    let cell = &buffer[(x, y)];
    assert_eq!(cell.fg, palette.muted);
    assert!(
        cell.modifier.contains(Modifier::DIM),
        "delete hint must be greyed in read-only mode"
    );
    // and not greyed when changes are allowed
    let h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    let buffer = h.render(120, 30);
    let (x, y) = find(&buffer, "d delete");
    assert!(!buffer[(x, y)].modifier.contains(Modifier::DIM));
}

#[test]
fn failed_stack_status_is_danger_coloured() {
    let h = Harness::new(false).with_stacks(three_stacks());
    let buffer = h.render(100, 30);
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (x, y) = find(&buffer, "ROLLBACK_COMPLETE");
    assert_eq!(buffer[(x, y)].fg, palette.danger);
    let (x, y) = find(&buffer, "UPDATE_IN_PROGRESS");
    assert_eq!(buffer[(x, y)].fg, palette.warning);
}

#[test]
fn no_color_still_marks_danger_with_modifiers() {
    let audit = Arc::new(MemoryAudit::default());
    let gate = Gate::new(
        ReadOnlyLatch::new(),
        audit,
        Actor {
            os_user: "a".into(),
            principal: None,
        },
        None,
    );
    let theme = Theme::builtin("dark").expect("dark");
    let session = Session {
        env_override: Some(Environment::Prd),
        ..Session::default()
    };
    let state = State::new(
        session,
        Arc::new(Config::defaults().expect("defaults")),
        gate,
        &theme,
        ColorDepth::NoColor,
    );
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("backend");
    terminal.draw(|f| view::render(f, &state)).expect("draw");
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, " PRD ");
    let cell = &buffer[(x + 1, y)];
    assert_eq!(cell.bg, Color::Reset);
    assert!(cell.modifier.contains(Modifier::REVERSED | Modifier::BOLD));
}

#[test]
fn dialog_buttons_and_cursor_survive_a_long_arn_on_a_small_terminal() {
    let long = StackSummary {
        id: format!(
            "arn:aws:cloudformation:ap-southeast-1:{ACCOUNT}:stack/payments-service-blue/8f14e45f-ceea-467f-a7b2-1c6e8d1c2f3a"
        ),
        ..stack("payments-service-blue", "CREATE_COMPLETE")
    };
    let mut h = Harness::new(false).with_identity().with_stacks(vec![long]);
    h.delete_key();
    h.type_text("pay");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("backend");
    terminal.draw(|f| view::render(f, &h.state)).expect("draw");
    let screen = h.screen(80, 24);
    assert!(
        screen.contains(" Cancel ") && screen.contains(" Delete "),
        "{screen}"
    );
    // the cursor sits right after the typed text on the `>` line
    let cursor = terminal.get_cursor_position().expect("cursor");
    let row: String = (0..80)
        .map(|x| {
            terminal.backend().buffer()[(x, cursor.y)]
                .symbol()
                .to_string()
        })
        .collect();
    assert!(row.contains("> pay"), "cursor row: {row}");
}

#[test]
fn detail_scrolling_stops_at_the_last_row() {
    let mut h = Harness::new(false).with_stacks(three_stacks());
    h.key(KeyCode::Enter);
    let detail = StackDetail {
        summary: stack("api", "CREATE_COMPLETE"),
        parameters: Vec::new(),
        outputs: Vec::new(),
        resources: (0..3)
            .map(|i| StackResource {
                logical_id: format!("R{i}"),
                physical_id: None,
                resource_type: "AWS::SNS::Topic".into(),
                status: "CREATE_COMPLETE".into(),
                status_reason: None,
            })
            .collect(),
        termination_protection: false,
        events: vec![],
        retained: vec![],
    };
    h.read_done(
        ViewKey::StackDetail,
        Ok(ReadOutput::StackDetail(Box::new(detail))),
    );
    h.key(KeyCode::Char(']'));
    h.key(KeyCode::Char('G'));
    assert_eq!(h.state.inventory.detail.as_ref().map(|v| v.scroll), Some(2));
    h.key(KeyCode::PageDown);
    assert_eq!(h.state.inventory.detail.as_ref().map(|v| v.scroll), Some(2));
}

#[test]
fn log_search_runs_off_the_loop_and_stale_answers_are_dropped() {
    use crate::engine::joblog::{JobLog, LogLevel};
    use crate::engine::task::JobHandle;
    let mut h = Harness::new(false);
    let mut log = JobLog::memory_only(100);
    for i in 0..20 {
        log.push(LogLevel::Info, &format!("line {i}"));
    }
    let handle = JobHandle {
        id: 5,
        log: Arc::new(std::sync::Mutex::new(log)),
        notified: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    let record = job(5, JobState::Succeeded, JobKind::Read, "List stacks");
    h.send(Msg::Engine(EngineEvent::JobCreated { record, handle }));
    h.key(KeyCode::Char('5'));
    h.key(KeyCode::Enter); // open the log
    h.key(KeyCode::Char('/'));
    h.type_text("line 1");
    let cmds = h.key(KeyCode::Enter);
    let Some(Cmd::SearchLog { handle, needle }) = cmds.into_iter().next() else {
        panic!("the search must be handed to the app loop");
    };
    assert_eq!(needle, "line 1");
    // a stale answer (another needle) changes nothing
    h.send(Msg::SearchDone {
        job: 5,
        needle: "old".into(),
        found: Ok(vec![3]),
    });
    assert!(h.state.jobs.log.matches.is_empty());
    let found = handle
        .log
        .lock()
        .unwrap()
        .search(&needle)
        .map_err(|e| e.to_string());
    h.send(Msg::SearchDone {
        job: 5,
        needle,
        found,
    });
    assert_eq!(h.state.jobs.log.matches.len(), 11); // "line 1" and "line 10".."line 19"
    assert!(!h.state.jobs.log.follow);
    h.key(KeyCode::Char('n'));
    assert_eq!(h.state.jobs.log.match_idx, 1);
}
