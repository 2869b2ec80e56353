//! Console tests on `TestBackend`: table tests of `update`, the safety property, snapshots of
//! each pane and dialog, and per-cell colour checks for danger and read-only styling.
//!
//! Long on purpose: a table of short, independent tests of the one `update` function and of
//! each pane's drawing; the capabilities' own pane tests live beside their panes.

use super::state::{Cmd, Mode, Msg, Session, State, ViewKey, update};
use super::view;
use crate::audit::{Actor, Decision, MemoryAudit};
use crate::cfn::model::{StackDetail, StackOutput, StackParameter, StackResource, StackSummary};
use crate::cfn::ops::{CfnMutation, CfnRead};
use crate::cfn::port::CfnOutput;
use crate::cfn::tui::CfnView;
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::ports::{ErrorKind, ProviderError};
use crate::engine::{EngineEvent, ReadOutput};
use crate::model::{CallerIdentity, Environment, JobKind, JobRecord, JobState, Role};
use crate::ops::{MutatingOp, ReadOnlyLatch};
use crate::registry::Pane;
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
    /// What the reads of a flow answer.
    answers: Answers,
}

/// Canned answers to the reads a flow makes.
#[derive(Default, Clone)]
struct Answers {
    /// Details by stack; a stack without one gets `plain_detail`.
    details: Vec<StackDetail>,
    /// Template bodies by stack id.
    templates: Vec<(String, String)>,
    /// What preflight finds, by target (`local`, `ssh:HOST`…).
    facts: Vec<(String, crate::installers::ops::HostFacts)>,
}

/// A flow's context as the console builds it, with reads answered from `Answers` and recorded.
struct FakePlanCtx {
    region: Option<String>,
    config: Arc<Config>,
    profile: Option<String>,
    env_override: Option<Environment>,
    stacks: Vec<StackSummary>,
    answers: Answers,
    reads: std::sync::Mutex<Vec<&'static str>>,
}

impl FakePlanCtx {
    fn new(state: &State, answers: &Answers) -> FakePlanCtx {
        FakePlanCtx {
            region: state.session.region.clone(),
            config: state.config.clone(),
            profile: state.session.profile.clone(),
            env_override: state.session.env_override,
            stacks: state.inventory.stacks.clone(),
            answers: answers.clone(),
            reads: Default::default(),
        }
    }
}

impl crate::ops::SessionFacts for FakePlanCtx {
    fn region(&self) -> Option<String> {
        self.region.clone()
    }

    fn environment_of(&self, account: &str) -> Environment {
        crate::setup::environment_of(
            &self.config,
            Some(account),
            self.profile.as_deref(),
            self.env_override,
        )
    }

    fn kube_environment(&self, context: &str, cluster: &str) -> Environment {
        crate::setup::kube_environment_of(&self.config, context, cluster, self.env_override)
    }

    fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
        None
    }
}

impl crate::ops::PlanCtx for FakePlanCtx {
    fn read(
        &self,
        op: crate::ops::ReadOp,
    ) -> futures::future::BoxFuture<'_, Result<ReadOutput, ProviderError>> {
        self.reads.lock().expect("not poisoned").push(op.name());
        let answer = match op {
            crate::ops::ReadOp::Cfn(CfnRead::ListStacks { .. }) => {
                Ok(ReadOutput::Cfn(CfnOutput::Stacks(self.stacks.clone())))
            }
            crate::ops::ReadOp::Cfn(CfnRead::DescribeStack { stack_id, .. }) => {
                let detail = self
                    .answers
                    .details
                    .iter()
                    .find(|d| d.summary.id == stack_id)
                    .cloned()
                    .or_else(|| {
                        self.stacks
                            .iter()
                            .find(|s| s.id == stack_id)
                            .map(|s| plain_detail(s.clone()))
                    });
                detail
                    .map(|d| ReadOutput::Cfn(CfnOutput::StackDetail(Box::new(d))))
                    .ok_or_else(|| {
                        ProviderError::new(
                            ErrorKind::NotFound,
                            format!("{stack_id} does not exist"),
                        )
                    })
            }
            crate::ops::ReadOp::Cfn(CfnRead::GetTemplate {
                stack_id,
                stack_name,
                ..
            }) => self
                .answers
                .templates
                .iter()
                .find(|(id, _)| *id == stack_id)
                .map(|(_, body)| {
                    ReadOutput::Cfn(CfnOutput::Template {
                        stack_id: stack_id.clone(),
                        stack_name,
                        body: body.clone(),
                    })
                })
                .ok_or_else(|| ProviderError::new(ErrorKind::NotFound, "no template")),
            crate::ops::ReadOp::Install(crate::ops::InstallRead::Preflight { target }) => self
                .answers
                .facts
                .iter()
                .find(|(t, _)| *t == target.to_string())
                .map(|(_, facts)| {
                    ReadOutput::Install(crate::installers::port::InstallOutput::Facts {
                        target: target.clone(),
                        facts: Box::new(facts.clone()),
                    })
                })
                .ok_or_else(|| {
                    ProviderError::new(ErrorKind::Network, format!("{target} is unreachable"))
                }),
            other => Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("no canned answer for {}", other.name()),
            )),
        };
        Box::pin(async move { answer })
    }
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
        let gate = crate::setup::test_gate(
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
            answers: Answers::default(),
        }
    }

    /// `update`, then what the app loop would do with the judging commands: run them (here,
    /// at once, where the app uses a blocking thread) and send their answers back. The
    /// other commands are returned.
    fn send(&mut self, msg: Msg) -> Vec<Cmd> {
        let cmds = update(&mut self.state, msg);
        self.settle(cmds)
    }

    /// `update` alone: judging commands are returned, not run.
    fn send_raw(&mut self, msg: Msg) -> Vec<Cmd> {
        update(&mut self.state, msg)
    }

    fn settle(&mut self, cmds: Vec<Cmd>) -> Vec<Cmd> {
        let mut rest = Vec::new();
        for cmd in cmds {
            match cmd {
                Cmd::JudgeDeploy(judgement) => {
                    let (id, verdict) = judgement.run();
                    rest.extend(self.send(Msg::DeployJudged { id, verdict }));
                }
                Cmd::JudgeStack(judgement) => {
                    rest.extend(self.send(Msg::StackJudged(Box::new(judgement.run()))));
                }
                other => rest.push(other),
            }
        }
        rest
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
        let key = view.supersede_key();
        self.send(Msg::Engine(EngineEvent::ReadDone { job, key, result }));
    }

    /// The detail the engine would return for `summary`: nothing retained, unprotected.
    fn deliver_detail(&mut self, detail: StackDetail) {
        self.read_done(
            ViewKey::Cfn(CfnView::StackDetail),
            Ok(ReadOutput::Cfn(CfnOutput::StackDetail(Box::new(detail)))),
        );
    }

    /// `d`, then the flow it starts, with the stack's detail as the test set it in
    /// `answers.details` (else nothing retained, unprotected).
    fn delete_key(&mut self) -> Vec<Cmd> {
        let cmds = self.key(KeyCode::Char('d'));
        self.run_flows(cmds).0
    }

    /// Run the flows among `cmds` as the app does (off the UI thread there; here at once, with
    /// reads answered from `answers`), and deliver their outcomes. Returns the other commands
    /// and the reads the flows made.
    fn run_flows(&mut self, cmds: Vec<Cmd>) -> (Vec<Cmd>, Vec<&'static str>) {
        let mut rest = Vec::new();
        let mut reads = Vec::new();
        for cmd in cmds {
            let Cmd::Plan(flow) = cmd else {
                rest.push(cmd);
                continue;
            };
            let ctx = FakePlanCtx::new(&self.state, &self.answers);
            let planned = match flow {
                super::state::Flow::Action { action, args } => {
                    let plan = action.spec().plan.expect("a planned action has a plan");
                    super::state::Planned::Action(futures::executor::block_on(plan(&ctx, &args)))
                }
                super::state::Flow::Cfn(flow) => super::state::Planned::Cfn(
                    futures::executor::block_on(crate::cfn::tui::flows::run(flow, &ctx)),
                ),
                super::state::Flow::Install(flow) => super::state::Planned::Install(
                    futures::executor::block_on(crate::installers::tui::run(flow, &ctx)),
                ),
                super::state::Flow::Kube(flow) => super::state::Planned::Kube(
                    futures::executor::block_on(crate::kube::tui::flows::run(flow, &ctx)),
                ),
                super::state::Flow::Cost(flow) => super::state::Planned::Cost(
                    futures::executor::block_on(crate::cost::tui::run_flow(flow, &ctx)),
                ),
            };
            reads.extend(ctx.reads.into_inner().unwrap_or_default());
            rest.extend(self.send(Msg::Planned(planned)));
        }
        (rest, reads)
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
        self.read_done(
            ViewKey::Cfn(CfnView::StackList),
            Ok(ReadOutput::Cfn(CfnOutput::Stacks(stacks))),
        );
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

    // the job finishes while the question is open: nothing is left to wait for
    let mut h = Harness::new(false);
    h.state.load_history(vec![job(
        7,
        JobState::Running,
        JobKind::Read,
        "List stacks",
    )]);
    h.key(KeyCode::Char('q'));
    assert!(matches!(h.state.mode, Mode::QuitConfirm));
    h.send(Msg::Engine(EngineEvent::JobChanged(job(
        7,
        JobState::Succeeded,
        JobKind::Read,
        "List stacks",
    ))));
    assert!(h.state.quit);
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
        [Cmd::Read(crate::ops::ReadOp::Cfn(CfnRead::DescribeStack { stack_name, .. }))] => {
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
        ViewKey::Cfn(CfnView::StackList),
        Ok(ReadOutput::Cfn(CfnOutput::Stacks(vec![stack(
            "zzz",
            "CREATE_COMPLETE",
        )]))),
    );
    h.type_text("web");
    let cmds = h.key(KeyCode::Enter);
    let ops = executed(&cmds);
    assert_eq!(ops.len(), 1);
    let MutatingOp::Cfn(CfnMutation::DeleteStack(d)) = ops[0] else {
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
fn chat_sends_words_to_the_assistant_and_runs_commands() {
    use crate::assistant::tui::{AssistantCmd, Entry};
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('1'));
    h.type_text("what is deployed?");
    let cmds = h.key(KeyCode::Enter);
    let [Cmd::Assistant(AssistantCmd::Turn(turn))] = cmds.as_slice() else {
        panic!("words start a turn: {cmds:?}");
    };
    assert_eq!(
        turn.conversation.last().map(|m| m.text()).as_deref(),
        Some("what is deployed?")
    );
    assert_eq!(turn.facts.region.as_deref(), Some("us-east-1"));
    assert!(h.state.chat.answering.is_some());
    assert_eq!(
        h.state.contexts()[0],
        crate::registry::Context::ChatAnswering,
        "Esc and Ctrl-C stop the answer while it is written"
    );
    // While it answers, words wait; commands still run.
    h.type_text("and more?");
    assert!(h.key(KeyCode::Enter).is_empty());
    assert_eq!(h.state.chat.input.lines().join(""), "and more?");
    h.key(KeyCode::Esc);
    assert!(
        h.state.chat.input.lines().join("").is_empty() || h.state.chat.answering.is_some(),
        "Esc stops the answer first"
    );
    h.state.chat.input = Default::default();
    h.type_text(":jobs");
    h.key(KeyCode::Enter);
    assert_eq!(h.state.focus, Pane::Jobs);
    assert!(
        h.state
            .chat
            .entries
            .iter()
            .any(|e| matches!(e, Entry::User(t) if t == ":jobs"))
    );
}

#[test]
fn stale_read_results_are_dropped() {
    let mut h = Harness::new(false);
    h.state
        .latest_reads
        .insert(ViewKey::Cfn(CfnView::StackList), 9);
    h.send(Msg::Engine(EngineEvent::ReadDone {
        job: 8,
        key: ViewKey::Cfn(CfnView::StackList).supersede_key(),
        result: Ok(ReadOutput::Cfn(CfnOutput::Stacks(three_stacks()))),
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
    h.read_done(ViewKey::Cfn(CfnView::StackList), Err(err.clone()));
    h.read_done(ViewKey::Identity, Err(err));
    let screen = h.screen(100, 30);
    assert!(screen.contains("no AWS credentials"), "{screen}");
    assert!(screen.contains("Could not list stacks"), "{screen}");
}

fn who_am_i_asks(cmds: &[Cmd]) -> usize {
    use crate::ops::ReadOp::WhoAmI;
    cmds.iter()
        .filter(|c| matches!(c, Cmd::Read(WhoAmI) | Cmd::Refresh(WhoAmI)))
        .count()
}

#[test]
fn an_unreachable_sts_is_asked_again_with_backoff_until_it_answers() {
    let mut h = Harness::new(false);
    assert_eq!(who_am_i_asks(&h.state.initial_commands()), 1);
    let refused = ProviderError {
        call: Some("GetCallerIdentity to http://127.0.0.1:9 (us-east-1)".into()),
        ..ProviderError::new(
            ErrorKind::Network,
            "the connection was refused (nothing listens there)",
        )
    };
    h.read_done(ViewKey::Identity, Err(refused.clone()));
    let screen = h.screen(120, 30);
    assert!(screen.contains("AWS unreachable"), "{screen}");
    assert!(!screen.contains("no AWS credentials"), "{screen}");

    // Asked again after 5 s, then after 10, 20, ... up to 5 minutes, and on at that pace.
    for delay in [
        5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000,
    ] {
        let failed_at = h.state.now_ms;
        assert_eq!(
            who_am_i_asks(&h.send(Msg::Tick {
                now_ms: failed_at + delay - 1_000
            })),
            0,
            "not before {delay} ms"
        );
        assert_eq!(
            who_am_i_asks(&h.send(Msg::Tick {
                now_ms: failed_at + delay
            })),
            1,
            "after {delay} ms"
        );
        // One question at a time.
        assert_eq!(
            who_am_i_asks(&h.send(Msg::Tick {
                now_ms: failed_at + delay + 1_000
            })),
            0
        );
        h.read_done(ViewKey::Identity, Err(refused.clone()));
    }

    // `r` asks at once.
    assert_eq!(who_am_i_asks(&h.key(KeyCode::Char('r'))), 1);
    // STS answers: the account shows, and nobody asks again.
    let identity = CallerIdentity {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        user_id: "AIDA".into(),
    };
    h.read_done(ViewKey::Identity, Ok(ReadOutput::Identity(identity)));
    assert!(h.screen(120, 30).contains(ACCOUNT));
    let later = h.state.now_ms + 3_600_000;
    assert_eq!(who_am_i_asks(&h.send(Msg::Tick { now_ms: later })), 0);
    assert_eq!(who_am_i_asks(&h.key(KeyCode::Char('r'))), 0);
}

#[test]
fn no_credentials_an_unreachable_endpoint_and_a_refusal_read_differently() {
    let cases = [
        (
            ProviderError::new(
                ErrorKind::Credentials,
                "no providers in chain provided credentials",
            ),
            "no AWS credentials",
        ),
        (
            ProviderError::new(ErrorKind::Network, "the connection was refused"),
            "AWS unreachable",
        ),
        (
            ProviderError::with_code(
                ErrorKind::Credentials,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            "STS refused the credentials",
        ),
        (
            ProviderError::with_code(ErrorKind::AccessDenied, "AccessDenied", "not allowed"),
            "STS refused the credentials",
        ),
        (
            ProviderError::with_code(ErrorKind::Throttled, "Throttling", "Rate exceeded"),
            "STS failing",
        ),
    ];
    for (error, shown) in cases {
        let mut h = Harness::new(false);
        h.read_done(ViewKey::Identity, Err(error.clone()));
        let screen = h.screen(120, 30);
        assert!(screen.contains(shown), "{error:?} → {screen}");
        for other in [
            "no AWS credentials",
            "AWS unreachable",
            "STS refused the credentials",
            "STS failing",
        ] {
            assert!(other == shown || !screen.contains(other), "{screen}");
        }
    }
}

#[test]
fn an_empty_review_stack_is_not_moving_so_the_list_is_refreshed_slowly() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(vec![stack("planned", "REVIEW_IN_PROGRESS")]);
    let now = h.state.now_ms;
    assert!(!h.state.inventory.any_in_progress());
    assert_eq!(h.state.inventory.next_refresh_ms, now + 60_000);
    // A periodic refresh keeps the slow pace while nothing moves.
    let cmds = h.send(Msg::Tick {
        now_ms: now + 60_000,
    });
    assert_eq!(cmds.len(), 1, "one quiet list refresh");
    assert_eq!(h.state.inventory.next_refresh_ms, now + 120_000);
    // A stack really being changed still gets the fast pace.
    h.read_done(
        ViewKey::Cfn(CfnView::StackList),
        Ok(ReadOutput::Cfn(CfnOutput::Stacks(vec![
            stack("planned", "REVIEW_IN_PROGRESS"),
            stack("web", "UPDATE_IN_PROGRESS"),
        ]))),
    );
    assert_eq!(h.state.inventory.next_refresh_ms, now + 60_000 + 5_000);
}

// ---------- the safety property ----------

#[derive(Debug, Clone)]
enum Input {
    Key(KeyCode),
    Ctrl(char),
    StacksArrive,
    /// The open stack detail loads (lets `d`, `p` and `u` reach their dialogs and forms).
    DetailArrives,
    /// A CreateChangeSet job yields a change set with a replacement.
    ChangeSetReady,
}

fn input() -> impl Strategy<Value = Input> {
    let chars = prop::sample::select(vec![
        'd', 'a', 'p', 'i', 'w', 'e', 'b', 'j', 'k', 'G', 'g', 'y', 'n', 'q', ':', '/', '?', 'z',
        '1', '2', '4', '5', 'x', 'c', 'l', 'h', 'u', 'f', 'D', 'N', 'S', 'A', ']', ' ', 'C',
    ]);
    prop_oneof![
        6 => chars.prop_map(|c| Input::Key(KeyCode::Char(c))),
        1 => prop::sample::select(vec!['s', 'c', 'u']).prop_map(Input::Ctrl),
        1 => Just(Input::DetailArrives),
        1 => Just(Input::ChangeSetReady),
        1 => Just(Input::Key(KeyCode::Down)),
        1 => Just(Input::Key(KeyCode::Right)),
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
    let simple = dialog.request.tier == crate::ops::RiskTier::Simple;
    let typed_ok = match &dialog.request.tier {
        crate::ops::RiskTier::TypeName(name) => dialog.input.text() == name,
        crate::ops::RiskTier::Simple => true,
    };
    let confirming_key = (matches!(key, KeyCode::Enter)
        && dialog.focus != super::state::DialogFocus::Cancel)
        || (simple && matches!(key, KeyCode::Char('y')));
    (typed_ok && confirming_key).then(|| dialog.request.op.clone())
}

/// The change set whose review is open: cancelling it may discard exactly that one.
fn open_change_set(state: &State) -> Option<String> {
    match &state.mode {
        Mode::Confirm(dialog) => match &dialog.request.op {
            MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(e)) => {
                Some(e.preview.change_set_id.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The `CreateChangeSet` a finished job answers (its fields do not matter to the console).
fn create_op(stack_name: &str) -> MutatingOp {
    MutatingOp::from(crate::ops::CreateChangeSet {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        environment: Environment::Dev,
        stack_name: stack_name.into(),
        existing_stack_id: None,
        change_set_name: "opsdeck-1".into(),
        template: crate::ops::TemplateSource::body("s3-bucket", "Resources: {}\n"),
        parameters: vec![],
        compliance: crate::ops::ComplianceVerdict::with_failures(Vec::new()),
        cost: crate::cost::verdict::CostVerdict::none(),
    })
}

fn ready(stack_name: &str, replacement: Option<&str>) -> EngineEvent {
    EngineEvent::MutationDone {
        job: 7,
        op: Box::new(create_op(stack_name)),
        result: Ok(crate::engine::MutationOutput::Cfn(
            crate::cfn::port::CfnOutcome::ChangeSet(crate::cfn::model::ChangeSetOutcome::Ready(
                preview(stack_name, replacement),
            )),
        )),
    }
}

fn preview(stack_name: &str, replacement: Option<&str>) -> crate::cfn::model::ChangeSetPreview {
    use crate::cfn::model::{ChangeSetKind, ChangeSetPreview, ResourceChange};
    let change = |action: &str, id: &str, ty: &str, replacement: Option<&str>| ResourceChange {
        action: action.into(),
        logical_id: id.into(),
        physical_id: None,
        resource_type: ty.into(),
        replacement: replacement.map(Into::into),
        scope: if action == "Modify" {
            vec!["Properties".into()]
        } else {
            vec![]
        },
        details: if action == "Modify" {
            vec!["DBInstanceIdentifier (recreation: Always)".into()]
        } else {
            vec![]
        },
    };
    ChangeSetPreview {
        stack_name: stack_name.into(),
        stack_id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack_name}/77aa"),
        change_set_id: format!(
            "arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/opsdeck-1/cs1"
        ),
        change_set_name: "opsdeck-1".into(),
        kind: ChangeSetKind::Update,
        changes: vec![
            change("Add", "LogGroup", "AWS::Logs::LogGroup", None),
            change("Modify", "Database", "AWS::RDS::DBInstance", replacement),
            change(
                "Modify",
                "ParamGroup",
                "AWS::RDS::DBParameterGroup",
                Some("False"),
            ),
        ],
    }
}

/// Run one generated input; returns the commands and the ops a confirmation allowed.
fn run_input(h: &mut Harness, input: Input) -> (Vec<Cmd>, Option<MutatingOp>, Option<String>) {
    match input {
        Input::Key(code) => {
            let armed = armed_op(&h.state, &code);
            let discardable = open_change_set(&h.state);
            (h.key(code), armed, discardable)
        }
        Input::Ctrl(c) => {
            let discardable = open_change_set(&h.state);
            let cmds = h.send(Msg::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::CONTROL,
            )));
            (cmds, None, discardable)
        }
        Input::StacksArrive => {
            h.read_done(
                ViewKey::Cfn(CfnView::StackList),
                Ok(ReadOutput::Cfn(CfnOutput::Stacks(three_stacks()))),
            );
            (Vec::new(), None, None)
        }
        Input::DetailArrives => {
            if let Some(view) = &h.state.inventory.detail {
                let summary = view.stack.clone();
                h.deliver_detail(plain_detail(summary));
            }
            (Vec::new(), None, None)
        }
        Input::ChangeSetReady => (h.send(Msg::Engine(ready("api", Some("True")))), None, None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// No sequence of inputs yields an executed mutation unless the open confirmation was
    /// matched by typing the exact name and pressing Enter on it; and what runs is exactly
    /// what that dialog showed.
    #[test]
    fn no_mutation_without_a_matching_confirmation(inputs in prop::collection::vec(input(), 1..80)) {
        let mut h = Harness::new(false).with_identity().with_stacks(three_stacks());
        for input in inputs {
            let (cmds, armed, discardable) = run_input(&mut h, input);
            let ran = executed(&cmds);
            // Cancelling a change set's review may discard exactly that change set.
            let is_discard_of_open = |op: &&MutatingOp| matches!(
                (op, &discardable),
                (MutatingOp::Cfn(CfnMutation::DiscardChangeSet(d)), Some(id)) if d.change_set_id == *id
            );
            match armed {
                Some(op) => prop_assert!(ran.is_empty() || ran == vec![&op]),
                None => prop_assert!(
                    ran.is_empty() || (ran.len() == 1 && is_discard_of_open(&ran[0])),
                    "executed without a matching confirmation: {ran:?}"
                ),
            }
            h.state.quit = false;
        }
    }

    /// In read-only mode nothing ever executes and no confirmation is ever recorded.
    #[test]
    fn read_only_never_executes(inputs in prop::collection::vec(input(), 1..80)) {
        let mut h = Harness::new(true).with_identity().with_stacks(three_stacks());
        for input in inputs {
            let (cmds, _, _) = run_input(&mut h, input);
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
        parent: None,
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
        ViewKey::Cfn(CfnView::StackDetail),
        Ok(ReadOutput::Cfn(CfnOutput::StackDetail(Box::new(detail)))),
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
fn the_chat_placeholder_uses_the_themes_muted_style_and_no_colour_without_colours() {
    let h = Harness::new(false);
    let buffer = h.render(100, 30);
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (x, y) = find(&buffer, "type a command");
    assert_eq!(buffer[(x, y)].fg, palette.muted);

    let gate = crate::setup::test_gate(
        ReadOnlyLatch::new(),
        Arc::new(MemoryAudit::default()),
        Actor {
            os_user: "a".into(),
            principal: None,
        },
        None,
    );
    let state = State::new(
        Session::default(),
        Arc::new(Config::defaults().expect("defaults")),
        gate,
        &Theme::builtin("dark").expect("dark"),
        ColorDepth::NoColor,
    );
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("backend");
    terminal.draw(|f| view::render(f, &state)).expect("draw");
    let buffer = terminal.backend().buffer();
    let (x, y) = find(buffer, "type a command");
    let cell = &buffer[(x, y)];
    assert_eq!(
        cell.fg,
        Color::Reset,
        "NO_COLOR / TERM=dumb: no colour at all"
    );
    assert!(
        cell.modifier.contains(Modifier::DIM),
        "muted by a modifier instead"
    );
}

#[test]
fn no_color_still_marks_danger_with_modifiers() {
    let audit = Arc::new(MemoryAudit::default());
    let gate = crate::setup::test_gate(
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
        ViewKey::Cfn(CfnView::StackDetail),
        Ok(ReadOutput::Cfn(CfnOutput::StackDetail(Box::new(detail)))),
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

#[test]
fn older_log_lines_are_read_off_the_loop_and_drawing_never_reads_the_file() {
    use crate::engine::joblog::{JobLog, LogLevel};
    use crate::engine::task::JobHandle;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("9.log");
    let mut log = JobLog::create(&path, 10).expect("job log");
    for i in 0..100 {
        log.push(LogLevel::Info, &format!("line {i}"));
    }
    log.flush().expect("flush");
    let handle = JobHandle {
        id: 9,
        log: Arc::new(std::sync::Mutex::new(log)),
        notified: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    let mut h = Harness::new(false);
    h.send(Msg::Resize {
        width: 100,
        height: 30,
    });
    let record = job(9, JobState::Succeeded, JobKind::Read, "List stacks");
    h.send(Msg::Engine(EngineEvent::JobCreated { record, handle }));
    h.key(KeyCode::Char('5'));
    h.key(KeyCode::Enter); // open the log: the newest lines, from memory
    assert!(h.screen(100, 30).contains("line 99"));
    let cmds = h.key(KeyCode::Char('g')); // the first line left the ring long ago
    let [
        Cmd::ReadLogWindow {
            handle,
            start: 0,
            count,
        },
    ] = cmds.as_slice()
    else {
        panic!("the older lines are read off the loop, got {cmds:?}");
    };
    assert!(*count > 0);
    // Until they are here the view says so; it never reads the file itself.
    std::fs::remove_file(&path).expect("spill file removed");
    assert!(h.screen(100, 30).contains("reading lines from 1"));
    assert!(h.key(KeyCode::Char('g')).is_empty(), "asked for once");
    // What the app loop would have read (the test keeps the lines in a new file).
    let lines = (0..*count)
        .map(|i| crate::engine::joblog::LogLine {
            seq: i as u64,
            ts_ms: 0,
            level: LogLevel::Info,
            text: format!("line {i}"),
        })
        .collect();
    let window = crate::tui::jobs::LogWindow {
        job: handle.id,
        start: 0,
        lines,
    };
    h.send(Msg::LogWindowRead(Ok(window)));
    let screen = h.screen(100, 30);
    assert!(
        screen.contains("line 0") && screen.contains("line 1"),
        "{screen}"
    );
}

// ---------- deploy, change-set review, drift, events ----------

fn ctrl(h: &mut Harness, c: char) -> Vec<Cmd> {
    h.send(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

fn form(h: &Harness) -> &crate::cfn::tui::form::DeployForm {
    match &h.state.mode {
        Mode::Form(form) => form,
        _ => panic!("the deploy form is not open"),
    }
}

/// Move the form's focus to a field (as Tab would) and replace its text.
fn fill(h: &mut Harness, name: &str, text: &str) {
    match &mut h.state.mode {
        Mode::Form(form) => form.focus_field(name),
        _ => panic!("the deploy form is not open"),
    }
    ctrl(h, 'u');
    h.type_text(text);
}

fn field_error(h: &Harness, name: &str) -> Option<String> {
    form(h)
        .fields
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.error.clone())
}

fn open_rds_form(h: &mut Harness) {
    h.key(KeyCode::Char('n'));
    let Mode::Picker(picker) = &h.state.mode else {
        panic!("n opens the template picker");
    };
    let at = picker
        .entries
        .iter()
        .position(|(name, _)| name == "rds-postgres")
        .expect("rds-postgres is in the library");
    for _ in 0..at {
        h.key(KeyCode::Char('j'));
    }
    h.key(KeyCode::Enter);
    assert_eq!(form(h).origin, "library:rds-postgres");
}

#[test]
fn deploy_flow_from_picker_to_executed_change_set() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    open_rds_form(&mut h);
    // a bad stack name is refused under its field as it is typed, then corrected
    h.type_text("9db");
    assert!(field_error(&h, "").is_some_and(|e| e.contains("start with a letter")));
    fill(&mut h, "", "orders-db");
    assert_eq!(field_error(&h, ""), None);
    // sending with required fields empty: errors land on them, focus on the first
    assert!(ctrl(&mut h, 's').is_empty());
    let first_error = form(&h)
        .fields
        .iter()
        .position(|f| f.error.is_some())
        .expect("missing values are refused");
    assert_eq!(form(&h).focus, first_error);
    assert!(field_error(&h, "VpcId").is_some());
    fill(&mut h, "DBInstanceIdentifier", "Orders");
    assert!(field_error(&h, "DBInstanceIdentifier").is_some_and(|e| e.contains("lowercase")));
    fill(&mut h, "DBInstanceIdentifier", "orders");
    fill(&mut h, "VpcId", "vpc-0abc");
    fill(&mut h, "SubnetIds", "subnet-1,subnet-2");
    fill(&mut h, "Owner", "team-data");
    fill(&mut h, "CostCenter", "cc-42");
    fill(&mut h, "MasterUserPassword", "hunter2-secret-pw");
    assert!(
        !h.screen(120, 40).contains("hunter2"),
        "a NoEcho value is drawn masked"
    );
    assert!(ctrl(&mut h, 's').is_empty(), "sending asks first");
    let Mode::Confirm(dialog) = &h.state.mode else {
        let f = form(&h);
        let errors: Vec<_> = f
            .fields
            .iter()
            .filter_map(|x| x.error.as_ref().map(|e| (&x.name, e)))
            .collect();
        panic!("the review opens: {:?} {errors:?}", f.error);
    };
    assert_eq!(dialog.request.tier, crate::ops::RiskTier::Simple);
    let review = h.screen(120, 40);
    assert!(
        review.contains("nothing changes until you execute it"),
        "{review}"
    );
    assert!(
        review.contains("MasterUserPassword") && review.contains("****"),
        "{review}"
    );
    assert!(!review.contains("hunter2"), "{review}");

    let cmds = h.key(KeyCode::Char('y'));
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::CreateChangeSet(create))] = ops.as_slice() else {
        panic!("expected CreateChangeSet, got {ops:?}");
    };
    assert_eq!(create.stack_name, "orders-db");
    assert_eq!(create.existing_stack_id, None);
    assert_eq!(create.account, ACCOUNT);
    assert_eq!(create.region, "us-east-1");
    assert_eq!(create.template.origin(), "library:rds-postgres");
    let secret = create
        .parameters
        .iter()
        .find(|p| p.key == "MasterUserPassword")
        .expect("the password is passed");
    assert!(
        matches!(&secret.value, crate::ops::ParamValue::Secret(s) if s.expose() == "hunter2-secret-pw")
    );

    // the job yields a change set with a replacement: its review needs the typed name
    h.send(Msg::Engine(ready("orders-db", Some("True"))));
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the change-set review opens");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("orders-db".into())
    );
    assert!(executed(&h.key(KeyCode::Char('y'))).is_empty());
    h.key(KeyCode::Backspace);
    h.type_text("orders-db");
    let cmds = h.key(KeyCode::Enter);
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(execute))] = ops.as_slice() else {
        panic!("expected ExecuteChangeSet, got {ops:?}");
    };
    assert_eq!(execute.preview.change_set_name, "opsdeck-1");
    assert_eq!(execute.target.account, ACCOUNT);
    assert!(execute.target.stack_id.ends_with("stack/orders-db/77aa"));
    assert!(!format!("{:?}", h.audit.records()).contains("hunter2"));
}

#[test]
fn cancelling_the_review_discards_the_change_set() {
    let mut h = Harness::with(false, Some(Environment::Dev)).with_identity();
    h.send(Msg::Engine(ready("api", Some("False"))));
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the change-set review opens");
    };
    assert_eq!(dialog.request.tier, crate::ops::RiskTier::Simple);
    let cmds = h.key(KeyCode::Esc);
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::DiscardChangeSet(discard))] = ops.as_slice() else {
        panic!("expected DiscardChangeSet, got {ops:?}");
    };
    assert_eq!(discard.change_set_name, "opsdeck-1");
    assert!(!discard.delete_empty_stack, "an update's stack stays");
    assert!(matches!(h.state.mode, Mode::Normal));
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("change set discarded"))
    );
}

#[test]
fn no_changes_says_nothing_to_do() {
    let mut h = Harness::new(false).with_identity();
    h.send(Msg::Engine(EngineEvent::MutationDone {
        job: 9,
        op: Box::new(create_op("api")),
        result: Ok(crate::engine::MutationOutput::Cfn(
            crate::cfn::port::CfnOutcome::ChangeSet(
                crate::cfn::model::ChangeSetOutcome::NoChanges {
                    stack_name: "api".into(),
                    message: "The submitted information didn't contain changes.".into(),
                },
            ),
        )),
    }));
    assert!(matches!(h.state.mode, Mode::Normal));
    let toast = h.state.toast.clone().expect("a toast");
    assert!(
        toast.text.starts_with("nothing to do: api"),
        "{}",
        toast.text
    );
}

#[test]
fn a_preview_waits_for_the_open_form() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    open_rds_form(&mut h);
    h.send(Msg::Engine(ready("api", None)));
    assert!(
        matches!(h.state.mode, Mode::Form(_)),
        "the form is not clobbered"
    );
    h.key(KeyCode::Esc);
    assert!(
        matches!(h.state.mode, Mode::Confirm(_)),
        "then the review opens"
    );
}

fn s3_stack_parameters() -> Vec<StackParameter> {
    let t = crate::cfn::library::choose("s3-bucket")
        .expect("bundled")
        .template;
    t.parameters
        .iter()
        .map(|p| StackParameter {
            key: p.name.clone(),
            value: match p.name.as_str() {
                "Owner" => "team-data".into(),
                "CostCenter" => "cc-42".into(),
                _ => p
                    .default
                    .clone()
                    .or_else(|| p.allowed_values.first().cloned())
                    .unwrap_or_default(),
            },
        })
        .collect()
}

#[test]
fn update_keeps_unchanged_values_and_the_current_template() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    let cmds = h.key(KeyCode::Char('u')); // on api
    assert!(
        matches!(h.state.mode, Mode::Normal),
        "the form waits for the stack's values and template"
    );
    let mut detail = plain_detail(stack("api", "CREATE_COMPLETE"));
    detail.parameters = s3_stack_parameters();
    h.answers.details.push(detail);
    h.answers.templates.push((
        stack("api", "CREATE_COMPLETE").id,
        crate::cfn::library::find("s3-bucket")
            .expect("bundled")
            .body
            .into(),
    ));
    let (_, reads) = h.run_flows(cmds);
    assert_eq!(reads, vec!["describe-stack", "get-template"]);
    let f = form(&h);
    assert!(f.fields[0].locked, "an update's stack name is fixed");
    assert_eq!(f.focus, 1);
    let owner = f.fields.iter().find(|x| x.name == "Owner").expect("Owner");
    assert_eq!(
        owner.value(),
        "team-data",
        "pre-filled with the current value"
    );
    fill(&mut h, "CostCenter", "cc-77");
    ctrl(&mut h, 's');
    let cmds = h.key(KeyCode::Char('y'));
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::CreateChangeSet(create))] = ops.as_slice() else {
        panic!("expected CreateChangeSet, got {ops:?}");
    };
    assert_eq!(create.template, crate::ops::TemplateSource::Previous);
    assert_eq!(create.existing_stack_id, Some(stack("api", "x").id));
    for p in &create.parameters {
        let expected = if p.key == "CostCenter" {
            crate::ops::ParamValue::Plain("cc-77".into())
        } else {
            crate::ops::ParamValue::UsePrevious
        };
        assert_eq!(p.value, expected, "{}", p.key);
    }
}

#[test]
fn rollback_complete_cannot_be_updated() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('G')); // web, ROLLBACK_COMPLETE
    assert!(h.key(KeyCode::Char('u')).is_empty());
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("delete it"))
    );
}

#[test]
fn read_only_refuses_deploy_update_delete_and_protection() {
    let mut h = Harness::new(true)
        .with_identity()
        .with_stacks(three_stacks());
    for key in ['n', 'u', 'd'] {
        let cmds = h.key(KeyCode::Char(key));
        assert!(executed(&cmds).is_empty());
        assert!(
            matches!(h.state.mode, Mode::Normal),
            "{key} opened something"
        );
        assert!(
            h.state
                .toast
                .as_ref()
                .is_some_and(|t| t.text.contains("read-only")),
            "{key}: {:?}",
            h.state.toast
        );
    }
    h.key(KeyCode::Enter);
    h.deliver_detail(plain_detail(stack("api", "CREATE_COMPLETE")));
    let cmds = h.key(KeyCode::Char('p'));
    assert!(executed(&cmds).is_empty());
    assert!(matches!(h.state.mode, Mode::Normal));
    let records = h.audit.records();
    assert!(records.iter().all(|r| r.decision != Decision::Confirmed));
    // every refusal is audited, including those refused before an operation existed
    let refused: Vec<&str> = records
        .iter()
        .filter(|r| r.decision == Decision::RefusedReadOnly)
        .map(|r| r.operation.as_str())
        .collect();
    assert_eq!(
        refused,
        [
            "create-change-set",
            "create-change-set",
            "delete-stack",
            "set-termination-protection"
        ]
    );
    // the hints grey n, u and d with the reason
    let buffer = {
        h.key(KeyCode::Esc);
        h.render(140, 30)
    };
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    for hint in ["n deploy", "u update", "d delete"] {
        let (x, y) = find(&buffer, hint);
        assert_eq!(buffer[(x, y)].fg, palette.muted, "{hint}");
        assert!(buffer[(x, y)].modifier.contains(Modifier::DIM), "{hint}");
    }
}

#[test]
fn protected_stack_refuses_delete_and_p_turns_protection_off_typed() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Enter);
    let mut detail = plain_detail(stack("api", "CREATE_COMPLETE"));
    detail.termination_protection = true;
    h.deliver_detail(detail);
    h.answers.details = vec![{
        let mut detail = plain_detail(stack("api", "CREATE_COMPLETE"));
        detail.termination_protection = true;
        detail
    }];
    h.delete_key();
    assert!(matches!(h.state.mode, Mode::Normal));
    assert!(h.state.toast.as_ref().is_some_and(|t| {
        t.text
            .contains("termination protection is on; turn it off first (p")
    }));
    h.key(KeyCode::Char('p'));
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("p asks");
    };
    let MutatingOp::Cfn(CfnMutation::SetTerminationProtection(p)) = &dialog.request.op else {
        panic!("expected SetTerminationProtection");
    };
    assert!(!p.enabled);
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("api".into())
    );
    assert!(h.screen(100, 30).contains("can then be deleted"));
    h.type_text("api");
    assert_eq!(executed(&h.key(KeyCode::Enter)).len(), 1);
}

#[test]
fn delete_dialog_lists_what_is_kept() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    let cmds = h.key(KeyCode::Char('d'));
    assert!(
        matches!(cmds.as_slice(), [Cmd::Plan(_)]),
        "the delete is planned off the UI thread"
    );
    assert!(
        matches!(h.state.mode, Mode::Normal),
        "no dialog before the plan"
    );
    let mut detail = plain_detail(stack("api", "CREATE_COMPLETE"));
    detail.retained = vec![crate::cfn::model::RetainedResource {
        logical_id: "Bucket".into(),
        resource_type: "AWS::S3::Bucket".into(),
        policy: "Retain".into(),
    }];
    h.answers.details.push(detail);
    let (_, reads) = h.run_flows(cmds);
    assert_eq!(reads, vec!["describe-stack"], "the detail is read first");
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the delete dialog opens when the detail arrives");
    };
    let MutatingOp::Cfn(CfnMutation::DeleteStack(d)) = &dialog.request.op else {
        panic!("expected DeleteStack");
    };
    assert_eq!(d.retained.len(), 1);
    let screen = h.screen(100, 30);
    assert!(screen.contains("Kept after delete:"), "{screen}");
    assert!(
        screen.contains("Bucket (AWS::S3::Bucket) — Retain"),
        "{screen}"
    );
}

#[test]
fn follow_and_drift_are_reads_and_drift_is_kept_per_stack() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    let cmds = h.key(KeyCode::Char('f'));
    assert!(matches!(cmds.as_slice(), [Cmd::Read(op)] if op.name() == "follow-stack"));
    assert_eq!(h.state.focus, Pane::Jobs);
    h.key(KeyCode::Char('2'));
    let cmds = h.key(KeyCode::Char('D'));
    assert!(matches!(cmds.as_slice(), [Cmd::Read(op)] if op.name() == "detect-drift"));
    h.read_done(
        ViewKey::Cfn(CfnView::Drift),
        Ok(ReadOutput::Cfn(CfnOutput::Drift(Box::new(drift_of_api())))),
    );
    assert!(h.state.inventory.drift.contains_key(&stack("api", "x").id));
    let screen = h.screen(120, 30);
    assert!(screen.contains("DRIFTED"), "{screen}");
}

fn drift_of_api() -> crate::cfn::model::StackDrift {
    use crate::cfn::model::{PropertyDifference, ResourceDrift, StackDrift};
    StackDrift {
        stack_id: stack("api", "x").id,
        stack_name: "api".into(),
        status: "DRIFTED".into(),
        detected: Some("2026-11-21T09:30:00Z".into()),
        resources: vec![
            ResourceDrift {
                logical_id: "Bucket".into(),
                physical_id: Some("api-bucket-1x2y".into()),
                resource_type: "AWS::S3::Bucket".into(),
                status: "MODIFIED".into(),
                differences: vec![
                    PropertyDifference {
                        path: "/VersioningConfiguration/Status".into(),
                        expected: "Enabled".into(),
                        actual: "Suspended".into(),
                        kind: "NOT_EQUAL".into(),
                    },
                    PropertyDifference {
                        path: "/Tags/2".into(),
                        expected: "null".into(),
                        actual: "{\"Key\":\"temporary-override\",\"Value\":\"set by hand during the incident of 2026-11-20, remove after the postmortem\"}".into(),
                        kind: "ADD".into(),
                    },
                ],
            },
            ResourceDrift {
                logical_id: "Topic".into(),
                physical_id: None,
                resource_type: "AWS::SNS::Topic".into(),
                status: "IN_SYNC".into(),
                differences: vec![],
            },
        ],
    }
}

#[test]
fn periodic_refresh_is_quiet_and_follows_in_progress_stacks() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks()); // data is UPDATE_IN_PROGRESS: every 5 s
    let now = h.state.now_ms;
    let cmds = h.send(Msg::Tick {
        now_ms: now + 1_000,
    });
    assert!(
        cmds.is_empty() && h.state.quiet,
        "an idle tick changes nothing"
    );
    let cmds = h.send(Msg::Tick {
        now_ms: now + 5_000,
    });
    assert!(matches!(cmds.as_slice(), [Cmd::Refresh(op)] if op.name() == "list-stacks"));
    // the background answer has the same stacks: nothing to draw
    h.state
        .latest_reads
        .insert(ViewKey::Cfn(CfnView::StackList), -1);
    h.send(Msg::Engine(EngineEvent::ReadDone {
        job: -1,
        key: ViewKey::Cfn(CfnView::StackList).supersede_key(),
        result: Ok(ReadOutput::Cfn(CfnOutput::Stacks(three_stacks()))),
    }));
    assert!(h.state.quiet);
    // once nothing is in progress, the next refresh is a minute away
    h.state
        .latest_reads
        .insert(ViewKey::Cfn(CfnView::StackList), -2);
    h.send(Msg::Engine(EngineEvent::ReadDone {
        job: -2,
        key: ViewKey::Cfn(CfnView::StackList).supersede_key(),
        result: Ok(ReadOutput::Cfn(CfnOutput::Stacks(vec![stack(
            "api",
            "CREATE_COMPLETE",
        )]))),
    }));
    assert!(!h.state.quiet);
    assert!(
        h.send(Msg::Tick {
            now_ms: now + 30_000
        })
        .is_empty()
    );
    assert_eq!(
        h.send(Msg::Tick {
            now_ms: now + 66_000
        })
        .len(),
        1
    );
}

#[test]
fn nested_stacks_sit_under_their_parent_and_sorting_reverses() {
    let parent = stack("platform", "CREATE_COMPLETE");
    let child = StackSummary {
        parent_id: Some(parent.id.clone()),
        ..stack("platform-Network-1AB", "CREATE_COMPLETE")
    };
    let mut h = Harness::new(false).with_stacks(vec![
        child,
        stack("zeta", "UPDATE_COMPLETE"),
        parent,
        stack("alpha", "CREATE_COMPLETE"),
    ]);
    let names = |h: &Harness| -> Vec<String> {
        h.state
            .inventory
            .visible
            .iter()
            .map(|&i| h.state.inventory.stacks[i].name.clone())
            .collect()
    };
    assert_eq!(
        names(&h),
        vec!["alpha", "platform", "platform-Network-1AB", "zeta"]
    );
    assert_eq!(h.state.inventory.depth, vec![0, 0, 1, 0]);
    h.key(KeyCode::Char('N'));
    assert_eq!(
        names(&h),
        vec!["zeta", "platform", "platform-Network-1AB", "alpha"]
    );
    assert!(h.screen(100, 30).contains("└ platform-Network-1AB"));
}

// ---------- snapshots of the new screens ----------

#[test]
fn snapshot_deploy_form_s3() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter); // s3-bucket is first
    assert_eq!(form(&h).origin, "library:s3-bucket");
    h.type_text("logs-bucket");
    insta::assert_snapshot!("deploy_form_s3_80x24", h.screen(80, 24));
    // a refused value shows under its field with the constraint description
    fill(&mut h, "BucketName", "Bad_Name");
    h.key(KeyCode::Tab);
    h.key(KeyCode::Right); // cycles nothing: a number field
    insta::assert_snapshot!("deploy_form_s3_120x40", h.screen(120, 40));
}

#[test]
fn snapshot_change_set_review_with_replacement() {
    let mut h = Harness::with(false, Some(Environment::Dev)).with_identity();
    h.send(Msg::Engine(ready("orders-db", Some("True"))));
    insta::assert_snapshot!("change_set_review", h.screen(120, 40));
    let buffer = h.render(120, 40);
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let (x, y) = find(&buffer, "Database");
    assert_eq!(
        buffer[(x, y)].fg,
        palette.danger,
        "a replacement row is danger"
    );
    let (x, y) = find(&buffer, "ParamGroup");
    assert_ne!(
        buffer[(x, y)].fg,
        palette.danger,
        "Replacement False is not"
    );
    // at 80x24 the buttons still show
    let small = h.screen(80, 24);
    assert!(
        small.contains(" Discard ") && small.contains(" Execute "),
        "{small}"
    );
}

#[test]
fn snapshot_drift_and_events_tabs() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Enter);
    let mut detail = plain_detail(stack("api", "UPDATE_ROLLBACK_COMPLETE"));
    let event =
        |id: &str, ts: &str, status: &str, reason: Option<&str>| crate::cfn::model::StackEvent {
            event_id: format!("{id}-{ts}"),
            timestamp: ts.into(),
            logical_id: id.into(),
            physical_id: None,
            resource_type: "AWS::S3::Bucket".into(),
            status: status.into(),
            reason: reason.map(Into::into),
        };
    detail.events = vec![
        event(
            "api",
            "2026-11-21T10:02:10Z",
            "UPDATE_ROLLBACK_COMPLETE",
            None,
        ),
        event(
            "Bucket",
            "2026-11-21T10:01:55Z",
            "UPDATE_FAILED",
            Some(
                "Resource handler returned message: \"Access Denied\" (Service: S3, Status Code: 403)",
            ),
        ),
        event("Bucket", "2026-11-21T10:01:40Z", "UPDATE_IN_PROGRESS", None),
        event(
            "api",
            "2026-11-21T10:01:30Z",
            "UPDATE_IN_PROGRESS",
            Some("User Initiated"),
        ),
    ];
    h.deliver_detail(detail);
    h.read_done(
        ViewKey::Cfn(CfnView::Drift),
        Ok(ReadOutput::Cfn(CfnOutput::Drift(Box::new(drift_of_api())))),
    );
    h.key(KeyCode::Char('z'));
    h.key(KeyCode::Char(']'));
    h.key(KeyCode::Char(']'));
    insta::assert_snapshot!("events_tab", h.screen(120, 30));
    h.key(KeyCode::Char('['));
    h.key(KeyCode::Char('['));
    h.key(KeyCode::Char('['));
    insta::assert_snapshot!("drift_tab", h.screen(100, 30));
}

#[test]
fn failed_refreshes_back_off_and_a_success_resets_the_pace() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(vec![stack("api", "CREATE_COMPLETE")]);
    let throttled = || {
        Err(ProviderError::with_code(
            crate::engine::ports::ErrorKind::Throttled,
            "Throttling",
            "Rate exceeded",
        ))
    };
    let now = h.state.now_ms;
    h.read_done(ViewKey::Cfn(CfnView::StackList), throttled());
    assert_eq!(h.state.inventory.next_refresh_ms, now + 120_000);
    h.read_done(ViewKey::Cfn(CfnView::StackList), throttled());
    assert_eq!(h.state.inventory.next_refresh_ms, now + 240_000);
    for _ in 0..5 {
        h.read_done(ViewKey::Cfn(CfnView::StackList), throttled());
    }
    assert_eq!(
        h.state.inventory.next_refresh_ms,
        now + 300_000,
        "capped at five minutes"
    );
    h.read_done(
        ViewKey::Cfn(CfnView::StackList),
        Ok(ReadOutput::Cfn(CfnOutput::Stacks(vec![stack(
            "api",
            "CREATE_COMPLETE",
        )]))),
    );
    assert_eq!(h.state.inventory.refresh_failures, 0);
    assert_eq!(h.state.inventory.next_refresh_ms, now + 60_000);
}

#[test]
fn a_stack_that_is_gone_closes_its_detail() {
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Enter);
    assert!(h.state.inventory.detail.is_some());
    let name = h
        .state
        .inventory
        .detail
        .as_ref()
        .map(|v| v.stack.name.clone());
    let rest: Vec<StackSummary> = three_stacks()
        .into_iter()
        .filter(|s| Some(&s.name) != name.as_ref())
        .collect();
    h.read_done(
        ViewKey::Cfn(CfnView::StackList),
        Ok(ReadOutput::Cfn(CfnOutput::Stacks(rest))),
    );
    assert!(h.state.inventory.detail.is_none());
}

#[test]
fn a_review_that_opened_by_itself_ignores_stray_y_and_n() {
    let mut h = Harness::with(false, Some(Environment::Dev)).with_identity();
    h.send(Msg::Engine(ready("api", Some("False"))));
    assert!(matches!(h.state.mode, Mode::Confirm(_)));
    // e.g. typed into Chat, or `n` for the next search match, just as the review opened
    for c in ['y', 'n', 'y'] {
        assert!(executed(&h.key(KeyCode::Char(c))).is_empty(), "{c}");
        assert!(matches!(h.state.mode, Mode::Confirm(_)), "{c}");
    }
    // a stray Enter lands on Discard: nothing is executed
    let cmds = h.key(KeyCode::Enter);
    assert!(matches!(
        executed(&cmds).as_slice(),
        [MutatingOp::Cfn(CfnMutation::DiscardChangeSet(_))]
    ));
    // the deliberate way: Tab to Execute, then Enter
    h.send(Msg::Engine(ready("api", Some("False"))));
    h.key(KeyCode::Tab);
    let cmds = h.key(KeyCode::Enter);
    assert!(matches!(
        executed(&cmds).as_slice(),
        [MutatingOp::Cfn(CfnMutation::ExecuteChangeSet(_))]
    ));
}

#[test]
fn in_prd_even_computing_a_change_set_needs_the_typed_name() {
    // no config mapping: the account is unmapped, which counts as PRD
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter); // s3-bucket
    h.type_text("web-assets");
    fill(&mut h, "Owner", "web");
    fill(&mut h, "CostCenter", "cc-1");
    ctrl(&mut h, 's');
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the review opens");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("web-assets".into())
    );
    assert!(executed(&h.key(KeyCode::Char('y'))).is_empty());
}

#[test]
fn the_environment_parameter_starts_at_the_environment_the_stack_lands_in() {
    let mut h = Harness::with(false, Some(Environment::Tst)).with_identity();
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter); // s3-bucket
    let env = form(&h)
        .fields
        .iter()
        .find(|f| f.name == "Environment")
        .expect("the library tags resources with Environment");
    assert_eq!(env.value(), "TST");
}

// ---------- the compliance gate and the Compliance pane ----------

/// A bucket with no encryption, no public access block and no tags: fails S3-001 (SC-28),
/// S3-002 (high) and the tag rule.
const OPEN_BUCKET: &str = "AWSTemplateFormatVersion: '2010-09-09'\nDescription: open bucket\nResources:\n  Assets:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: assets-example\nOutputs:\n  Name:\n    Value: !Ref Assets\n";

/// The temp dir's random name, masked so the snapshot is stable wherever TMPDIR points.
fn mask_tmp(screen: String, dir: &tempfile::TempDir) -> String {
    screen.replace(&dir.path().display().to_string(), "/TMP")
}

/// `:deploy FILE` with the open bucket, stack `assets`, sent.
fn deploy_open_bucket(h: &mut Harness) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("open-bucket.yaml");
    std::fs::write(&path, OPEN_BUCKET).expect("written");
    h.key(KeyCode::Char(':'));
    h.type_text(&format!("deploy {}", path.display()));
    h.key(KeyCode::Enter);
    assert!(matches!(h.state.mode, Mode::Form(_)), "the form opens");
    h.type_text("assets");
    ctrl(h, 's');
    dir
}

#[test]
fn failing_template_in_dev_takes_the_typed_tier_lists_failures_and_audits_the_rules() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    let _dir = deploy_open_bucket(&mut h);
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the confirmation opens in DEV");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("assets".into())
    );
    let MutatingOp::Cfn(CfnMutation::CreateChangeSet(create)) = &dialog.request.op else {
        panic!("a change set is asked for");
    };
    let rules: Vec<&str> = create
        .compliance
        .failures()
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    assert!(
        rules.contains(&"S3-002") && rules.contains(&"S3-001"),
        "{rules:?}"
    );
    let screen = mask_tmp(h.screen(120, 40), &_dir);
    assert!(screen.contains("unwaived failure(s)"), "{screen}");
    assert!(screen.contains("S3-002 Assets"), "{screen}");
    insta::assert_snapshot!("deploy_dialog_lists_compliance_failures", screen);
    // y does not confirm the typed tier; the name does
    assert!(executed(&h.key(KeyCode::Char('y'))).is_empty());
    h.key(KeyCode::Backspace);
    h.type_text("assets");
    let cmds = h.key(KeyCode::Enter);
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::CreateChangeSet(create))] = ops.as_slice() else {
        panic!("expected CreateChangeSet, got {ops:?}");
    };
    assert!(!create.compliance.failures().is_empty());
    let records = h.audit.records();
    let confirmed = records
        .iter()
        .find(|r| r.decision == Decision::Confirmed)
        .expect("confirmation audited");
    let audited = confirmed.target["compliance"]["failures"].to_string();
    assert!(
        audited.contains("S3-002") && audited.contains("Assets"),
        "{audited}"
    );
}

#[test]
fn prd_refuses_a_high_compliance_failure_at_the_gate_and_nothing_runs() {
    let mut h = Harness::with(false, Some(Environment::Prd))
        .with_identity()
        .with_stacks(three_stacks());
    let _dir = deploy_open_bucket(&mut h);
    let Mode::Form(form) = &h.state.mode else {
        panic!("the form stays open with the refusal");
    };
    let error = form.error.clone().unwrap_or_default();
    assert!(
        error.contains("refused: compliance") && error.contains("S3-002"),
        "{error}"
    );
    assert!(h.state.gate.open_request().is_none());
    let records = h.audit.records();
    let last = records.last().expect("audited");
    assert_eq!(last.decision, Decision::Refused);
    assert!(
        last.detail
            .as_deref()
            .is_some_and(|d| d.contains("S3-002 (high) on Assets"))
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r.decision == Decision::Confirmed)
            .count(),
        0
    );
    insta::assert_snapshot!(
        "deploy_refused_by_the_compliance_gate",
        mask_tmp(h.screen(80, 24), &_dir)
    );
    // sending again is refused again; nothing is ever executed
    assert!(executed(&ctrl(&mut h, 's')).is_empty());
    assert!(executed(&h.key(KeyCode::Enter)).is_empty());
}

/// The bundled rules plus a user rule that fails to evaluate on any template.
fn checker_with_a_failing_rule() -> Arc<crate::compliance::Checker> {
    let mut sources: Vec<(String, String)> = crate::compliance::policy::BUNDLED
        .iter()
        .map(|(name, text)| (format!("policies/{name}.rego"), text.to_string()))
        .collect();
    sources.push((
        "/home/alice/.config/opsdeck/policies/team.rego".into(),
        "package opsdeck.rules.team\nimport rego.v1\nmetadata := {\"id\": \"TEAM-1\", \"title\": \"team rule\", \"severity\": \"low\", \"controls\": [\"CM-8\"], \"resource_types\": [], \"remediation\": \"r\"}\nfindings contains {\"resource\": \"x\", \"path\": \"\", \"message\": \"m\"} if {\n  object.get(\"nope\", \"a\", 1) == 2\n}\n".into(),
    ));
    let (pack, load_errors) = crate::compliance::policy::PolicyPack::from_sources(sources);
    assert!(load_errors.is_empty(), "{load_errors:?}");
    Arc::new(crate::compliance::Checker {
        pack,
        load_errors,
        waivers: vec![],
        waiver_errors: vec![],
        today: "2026-11-22".into(),
    })
}

/// `n`, s3-bucket, a stack name and the two values without defaults: a passing template.
fn fill_s3_form(h: &mut Harness) {
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter); // s3-bucket
    h.type_text("web-assets");
    fill(h, "Owner", "web");
    fill(h, "CostCenter", "cc-1");
}

/// Issue 8: a rule that errors counted as passed. At the gate it is an unwaived failure: in
/// PRD the deploy is refused, and nothing is confirmed.
#[test]
fn prd_refuses_a_template_a_rule_could_not_judge() {
    let mut h = Harness::with(false, Some(Environment::Prd))
        .with_identity()
        .with_stacks(three_stacks());
    h.state.compliance.checker = Some(checker_with_a_failing_rule());
    fill_s3_form(&mut h);
    ctrl(&mut h, 's');
    let Mode::Form(form) = &h.state.mode else {
        panic!("the form stays open with the refusal");
    };
    let error = form.error.clone().unwrap_or_default();
    assert!(
        error.contains("refused: compliance")
            && error.contains("could not fully judge it")
            && error.contains("rule TEAM-1 could not judge"),
        "{error}"
    );
    assert!(h.state.gate.open_request().is_none());
    assert_eq!(
        h.audit.records().last().map(|r| r.decision),
        Some(Decision::Refused)
    );
    assert!(
        h.audit
            .records()
            .iter()
            .all(|r| r.decision != Decision::Confirmed)
    );
}

/// Outside PRD the same verdict takes the typed tier, and the dialog says which check could
/// not be made.
#[test]
fn a_rule_that_could_not_judge_takes_the_typed_tier_and_is_shown() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    h.state.compliance.checker = Some(checker_with_a_failing_rule());
    fill_s3_form(&mut h);
    ctrl(&mut h, 's');
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the review opens in DEV");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("web-assets".into())
    );
    let screen = h.screen(120, 40);
    assert!(screen.contains("1 check(s) could not be made"), "{screen}");
    assert!(screen.contains("rule TEAM-1 could not judge"), "{screen}");
    assert!(!screen.contains("no unwaived failures"), "{screen}");
}

/// The rules never run on the update loop: submitting returns a judging command and locks
/// the form; the verdict that comes back is put on exactly the operation resolved at submit,
/// and only then is the gate asked.
#[test]
fn a_deploy_is_judged_off_the_update_loop_and_then_asked_of_the_gate() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    fill_s3_form(&mut h);
    let cmds = h.send_raw(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    let [Cmd::JudgeDeploy(judgement)] = cmds.as_slice() else {
        panic!("one judging command, got {cmds:?}");
    };
    assert!(form(&h).judging);
    assert!(h.state.gate.open_request().is_none(), "not asked yet");
    assert!(h.audit.records().is_empty(), "nothing requested yet");
    assert!(h.screen(120, 40).contains("judging the template"));
    // Locked while judged: typing changes nothing, sending again sends nothing.
    let before = form(&h).given();
    h.type_text("xyz");
    assert!(ctrl(&mut h, 's').is_empty());
    assert_eq!(form(&h).given(), before);
    let library = crate::cfn::library::choose("s3-bucket").expect("bundled");
    assert_eq!(
        judgement.text, library.body,
        "the template that is sent is judged"
    );
    assert_eq!(judgement.source, "library:s3-bucket");
    assert_eq!(judgement.parameters["Owner"], "web");
    let Cmd::JudgeDeploy(judgement) = cmds.into_iter().next().expect("one") else {
        unreachable!("matched above");
    };
    let (id, verdict) = judgement.run();
    assert!(verdict.clean(), "{verdict:?}");
    h.send_raw(Msg::DeployJudged {
        id,
        verdict: verdict.clone(),
    });
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the review opens when the verdict is back");
    };
    let MutatingOp::Cfn(CfnMutation::CreateChangeSet(create)) = &dialog.request.op else {
        panic!("a change set is asked for");
    };
    assert_eq!(create.compliance, verdict);
    assert_eq!(
        create.template,
        crate::ops::TemplateSource::body("library:s3-bucket", library.body)
    );
    assert_eq!(create.stack_name, "web-assets");
}

#[test]
fn esc_cancels_a_deploy_being_judged_and_its_late_verdict_is_dropped() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    fill_s3_form(&mut h);
    let cmds = h.send_raw(Msg::Key(KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    let Some(Cmd::JudgeDeploy(judgement)) = cmds.into_iter().next() else {
        panic!("a judging command");
    };
    h.key(KeyCode::Esc);
    assert!(!form(&h).judging, "unlocked");
    assert!(
        form(&h)
            .error
            .as_deref()
            .is_some_and(|e| e.contains("nothing was sent"))
    );
    let (id, verdict) = judgement.run();
    h.send_raw(Msg::DeployJudged { id, verdict });
    assert!(matches!(h.state.mode, Mode::Form(_)), "no review opens");
    assert!(h.state.gate.open_request().is_none());
    assert!(h.audit.records().is_empty());
    // Sent again: judged again, and this time the review opens.
    ctrl(&mut h, 's');
    assert!(matches!(h.state.mode, Mode::Confirm(_)));
}

#[test]
fn a_passing_library_template_keeps_the_simple_tier() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('n'));
    h.key(KeyCode::Enter); // s3-bucket
    h.type_text("web-assets");
    fill(&mut h, "Owner", "web");
    fill(&mut h, "CostCenter", "cc-1");
    ctrl(&mut h, 's');
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the review opens");
    };
    assert_eq!(dialog.request.tier, crate::ops::RiskTier::Simple);
    let MutatingOp::Cfn(CfnMutation::CreateChangeSet(create)) = &dialog.request.op else {
        panic!("a change set is asked for");
    };
    assert!(create.compliance.clean(), "{:?}", create.compliance);
    assert!(h.screen(120, 40).contains("no unwaived failures"));
}

#[test]
fn an_update_judges_the_template_get_template_returned() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    h.answers.templates = vec![(stack("api", "CREATE_COMPLETE").id, OPEN_BUCKET.into())];
    let cmds = h.key(KeyCode::Char('u')); // on api
    h.run_flows(cmds);
    ctrl(&mut h, 's');
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the review opens");
    };
    let MutatingOp::Cfn(CfnMutation::CreateChangeSet(create)) = &dialog.request.op else {
        panic!("a change set is asked for");
    };
    assert_eq!(create.template, crate::ops::TemplateSource::Previous);
    assert!(
        create
            .compliance
            .failures()
            .iter()
            .any(|f| f.rule == "S3-002")
    );
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("api".into())
    );
}

/// A stack's template is judged off the update loop too.
#[test]
fn a_stack_template_is_judged_off_the_update_loop() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('C'));
    h.next_job += 1;
    let job = h.next_job;
    let view = ViewKey::Cfn(CfnView::StackTemplate);
    h.state.latest_reads.insert(view, job);
    let cmds = h.send_raw(Msg::Engine(EngineEvent::ReadDone {
        job,
        key: view.supersede_key(),
        result: Ok(ReadOutput::Cfn(CfnOutput::Template {
            stack_id: stack("api", "CREATE_COMPLETE").id,
            stack_name: "api".into(),
            body: OPEN_BUCKET.into(),
        })),
    }));
    let [Cmd::JudgeStack(judgement)] = cmds.as_slice() else {
        panic!("one judging command, got {cmds:?}");
    };
    assert_eq!(judgement.stack.name, "api");
    assert!(h.state.compliance.current.is_none(), "not judged yet");
    assert!(h.screen(120, 40).contains("Judging templates"));
    let Some(Cmd::JudgeStack(judgement)) = cmds.into_iter().next() else {
        unreachable!("matched above");
    };
    h.send_raw(Msg::StackJudged(Box::new(judgement.run())));
    let report = &h.state.compliance.current.as_ref().expect("shown").report;
    assert!(report.failures().any(|f| f.rule == "S3-002"));
}

/// A control whose rule could not judge shows as an error in the pane, never as passed.
#[test]
fn a_rule_error_shows_as_an_error_control_in_the_pane() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    h.state.compliance.checker = Some(checker_with_a_failing_rule());
    check_api(&mut h);
    let report = &h.state.compliance.current.as_ref().expect("judged").report;
    assert!(report.summary().error > 0);
    h.key(KeyCode::Char('z'));
    let screen = h.screen(120, 40);
    assert!(screen.contains("! CM Configuration Management"), "{screen}");
    assert!(screen.contains("error (not judged)"), "{screen}");
    assert!(screen.contains("rule TEAM-1 could not judge"), "{screen}");
    // The family and its controls in state error start open; the rule's error is a row.
    let rows = h.state.compliance.rows();
    let at = rows
        .iter()
        .position(|r| matches!(r, crate::compliance::tui::Row::RuleError(_)))
        .expect("the rule error is listed under its control");
    h.state.compliance.selected = at;
    let screen = h.screen(120, 40);
    assert!(
        screen.contains("! TEAM-1 could not judge stack:api"),
        "{screen}"
    );
    assert!(screen.contains("its controls were not judged"), "{screen}");
}

/// `C` on api, whose deployed template is the open bucket.
fn check_api(h: &mut Harness) {
    let cmds = h.key(KeyCode::Char('C'));
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Read(op) if op.name() == "get-template")),
        "C fetches the template (a read)"
    );
    assert!(executed(&cmds).is_empty());
    assert_eq!(h.state.focus, Pane::Compliance);
    h.read_done(
        ViewKey::Cfn(CfnView::StackTemplate),
        Ok(ReadOutput::Cfn(CfnOutput::Template {
            stack_id: stack("api", "CREATE_COMPLETE").id,
            stack_name: "api".into(),
            body: OPEN_BUCKET.into(),
        })),
    );
}

#[test]
fn the_library_report_arrives_from_the_background_and_passes() {
    let mut h = Harness::new(false);
    let cmds = h.state.initial_commands();
    assert!(
        cmds.iter().any(|c| matches!(c, Cmd::LoadChecker(_))),
        "the user's rules load at start"
    );
    let cmds = h.send(Msg::CheckerLoaded(crate::compliance::tui::SharedChecker(
        crate::compliance::tui::bundled_checker(),
    )));
    let Some(Cmd::CheckLibrary(checker)) = cmds.iter().find(|c| matches!(c, Cmd::CheckLibrary(_)))
    else {
        panic!("the library is judged at start");
    };
    let judged = crate::compliance::tui::judge_library(&checker.0);
    h.send(Msg::LibraryJudged(Box::new(judged)));
    let report = &h.state.compliance.current.as_ref().expect("shown").report;
    assert_eq!(report.summary().failed, 0);
    assert!(report.summary().passed > 0);
}

#[test]
fn stack_report_tree_expands_collapses_and_leads_back_to_the_stack() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    check_api(&mut h);
    let judged = h.state.compliance.current.as_ref().expect("judged");
    assert_eq!(judged.title, "stack api (DEV)");
    assert!(judged.report.summary().failed > 0);
    // failed families start open; walk to the first rule, open it, open its resource
    let rows = h.state.compliance.rows();
    assert!(matches!(
        rows[0],
        crate::compliance::tui::Row::Family { .. }
    ));
    let first_control = rows
        .iter()
        .position(|r| matches!(r, crate::compliance::tui::Row::Control(_)))
        .expect("an open family shows its controls");
    for _ in 0..first_control {
        h.key(KeyCode::Char('j'));
    }
    // open and step in (l) until a failing resource is selected; rules that found nothing
    // have no resource rows, so move on (j) past them
    for step in 0..80 {
        if matches!(
            h.state.compliance.selected_row(),
            Some(crate::compliance::tui::Row::Resource(_))
        ) {
            break;
        }
        h.key(KeyCode::Char(if step % 2 == 0 { 'l' } else { 'j' }));
    }
    assert!(matches!(
        h.state.compliance.selected_row(),
        Some(crate::compliance::tui::Row::Resource(_))
    ));
    h.key(KeyCode::Char('z'));
    let screen = h.screen(80, 24);
    assert!(screen.contains("Assets"), "{screen}");
    insta::assert_snapshot!("compliance_report_80x24", screen);
    let screen = h.screen(120, 40);
    assert!(
        screen.contains("│ "),
        "the excerpt has line numbers: {screen}"
    );
    insta::assert_snapshot!("compliance_report_120x40", screen);
    // h steps out to the rule, h again closes it
    h.key(KeyCode::Char('h'));
    assert!(matches!(
        h.state.compliance.selected_row(),
        Some(crate::compliance::tui::Row::Rule { .. })
    ));
    let before = h.state.compliance.rows().len();
    h.key(KeyCode::Char('h'));
    assert!(h.state.compliance.rows().len() < before);
    // i: the stack in Inventory
    h.key(KeyCode::Char('z'));
    h.key(KeyCode::Char('i'));
    assert_eq!(h.state.focus, Pane::Inventory);
    assert_eq!(
        h.state.inventory.selected_stack().map(|s| s.name.as_str()),
        Some("api")
    );
}

#[test]
fn export_asks_the_format_and_writes_off_the_loop() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    check_api(&mut h);
    h.key(KeyCode::Char('e'));
    assert!(matches!(h.state.mode, Mode::Export { .. }));
    assert!(h.screen(80, 24).contains("sarif"));
    h.key(KeyCode::Char('j'));
    let cmds = h.key(KeyCode::Enter);
    let [Cmd::ExportReport { format, stamp, .. }] = cmds.as_slice() else {
        panic!("expected one export, got {cmds:?}");
    };
    assert_eq!(*format, crate::compliance::export::Format::Json);
    assert_eq!(stamp, "20231114-221330");
    // :export FORMAT does the same without the menu
    h.key(KeyCode::Char(':'));
    h.type_text("export sarif");
    let cmds = h.key(KeyCode::Enter);
    assert!(matches!(
        cmds.as_slice(),
        [Cmd::ExportReport {
            format: crate::compliance::export::Format::Sarif,
            ..
        }]
    ));
    h.send(Msg::ExportDone(Ok("/tmp/r/report-1.sarif".into())));
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("report-1.sarif"))
    );
}

#[test]
fn policy_and_waiver_errors_show_in_the_pane() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    let (pack, mut load_errors) = crate::compliance::policy::PolicyPack::from_sources(vec![(
        "/home/alice/.config/opsdeck/policies/broken.rego".into(),
        "package opsdeck.rules.broken\nthis is not rego\n".into(),
    )]);
    load_errors.extend(crate::compliance::Checker::bundled().load_errors);
    let checker = crate::compliance::Checker {
        pack,
        load_errors,
        waivers: vec![],
        waiver_errors: vec![],
        today: "2026-11-22".into(),
    };
    h.state.compliance.checker = Some(Arc::new(checker));
    check_api(&mut h);
    let errors = &h
        .state
        .compliance
        .current
        .as_ref()
        .expect("judged")
        .report
        .errors;
    assert!(
        errors.iter().any(|e| e.contains("broken.rego")),
        "{errors:?}"
    );
    h.key(KeyCode::Char('z'));
    assert!(h.screen(120, 40).contains("broken.rego"));
}

#[test]
fn failed_controls_are_danger_and_passed_ones_ok_coloured() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(three_stacks());
    check_api(&mut h);
    h.key(KeyCode::Char('z'));
    h.key(KeyCode::Char('j')); // the selection leaves the first row
    let palette = Theme::builtin("dark")
        .expect("dark")
        .palette_for(ColorDepth::TrueColor);
    let buffer = h.render(120, 40);
    let (x, y) = find(&buffer, "✗ AC Access Control");
    assert_eq!(buffer[(x, y)].fg, palette.danger);
    let (x, y) = find(&buffer, "failed");
    assert_eq!(buffer[(x.saturating_sub(2), y)].fg, palette.danger);
    // the library passes: its controls are drawn in the ok colour
    let judged = crate::compliance::tui::judge_library(&crate::compliance::Checker::bundled());
    h.key(KeyCode::Char('c'));
    h.send(Msg::LibraryJudged(Box::new(judged)));
    h.key(KeyCode::Char('j'));
    let buffer = h.render(120, 40);
    let (x, y) = find(&buffer, "✓ AC Access Control");
    assert_eq!(buffer[(x, y)].fg, palette.ok);
}

#[test]
fn a_followed_stacks_events_stream_into_its_open_detail() {
    use crate::engine::stream::{self, StreamItem};
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    h.key(KeyCode::Char('j')); // data, UPDATE_IN_PROGRESS
    h.key(KeyCode::Enter);
    h.deliver_detail(plain_detail(stack("data", "UPDATE_IN_PROGRESS")));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let (sink, updates) = stream::channel(42, tx);
    h.send(Msg::Engine(EngineEvent::StreamOpened(updates)));
    let event = |id: &str| crate::cfn::model::StackEvent {
        event_id: id.into(),
        timestamp: "2026-11-20T10:01:00Z".into(),
        logical_id: "Queue".into(),
        physical_id: None,
        resource_type: "AWS::SQS::Queue".into(),
        status: "UPDATE_IN_PROGRESS".into(),
        reason: Some(format!("step {id}")),
    };
    let data_id = stack("data", "UPDATE_IN_PROGRESS").id;
    for id in ["e1", "e2"] {
        let item = StreamItem::CfnEvent {
            stack_id: data_id.clone(),
            event: Box::new(event(id)),
        };
        assert!(futures::executor::block_on(sink.send(item)));
    }
    h.send(Msg::Engine(EngineEvent::StreamReady(42)));
    let view = h.state.inventory.detail.as_ref().expect("detail open");
    let events = &view.detail.as_ref().expect("loaded").events;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, vec!["e2", "e1"], "newest first, each once");
    assert!(!h.state.quiet, "what is on screen changed");
    // Events of a stack that is not on screen draw nothing.
    let item = StreamItem::CfnEvent {
        stack_id: stack("api", "CREATE_COMPLETE").id,
        event: Box::new(event("e3")),
    };
    assert!(futures::executor::block_on(sink.send(item)));
    h.send(Msg::Engine(EngineEvent::StreamReady(42)));
    assert!(h.state.quiet);
}

#[test]
fn a_stuck_stack_is_unstuck_through_the_same_plan_and_dialog() {
    let mut h = Harness::with(false, Some(Environment::Dev))
        .with_identity()
        .with_stacks(vec![
            stack("api", "UPDATE_ROLLBACK_FAILED"),
            stack("data", "UPDATE_IN_PROGRESS"),
        ]);
    let mut stuck = plain_detail(stack("api", "UPDATE_ROLLBACK_FAILED"));
    stuck.resources = vec![StackResource {
        logical_id: "Queue".into(),
        physical_id: None,
        resource_type: "AWS::SQS::Queue".into(),
        status: "UPDATE_FAILED".into(),
        status_reason: None,
    }];
    h.answers.details = vec![stuck, plain_detail(stack("data", "UPDATE_IN_PROGRESS"))];
    // R on api: planned (its status read now), then the dialog; y runs exactly it.
    let cmds = h.key(KeyCode::Char('R'));
    let (_, reads) = h.run_flows(cmds);
    assert_eq!(reads, vec!["describe-stack"]);
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the rollback's confirmation opens");
    };
    assert_eq!(dialog.request.tier, crate::ops::RiskTier::Simple);
    assert!(
        h.screen(100, 30)
            .contains("Continue the failed rollback of stack api")
    );
    let cmds = h.key(KeyCode::Char('y'));
    let ops = executed(&cmds);
    let [MutatingOp::Cfn(CfnMutation::ContinueUpdateRollback(c))] = ops.as_slice() else {
        panic!("expected ContinueUpdateRollback, got {ops:?}");
    };
    assert!(c.resources_to_skip.is_empty());
    assert_eq!(c.target.stack_name, "api");
    // Skipping a resource is typed; an unknown one is refused before any dialog.
    let cmds = h.send(Msg::Key(KeyEvent::new(
        KeyCode::Char(':'),
        KeyModifiers::NONE,
    )));
    assert!(cmds.is_empty());
    h.type_text("continue-rollback api Nope");
    let cmds = h.key(KeyCode::Enter);
    h.run_flows(cmds);
    assert!(matches!(h.state.mode, Mode::Normal));
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("has no resource Nope"))
    );
    h.key(KeyCode::Char(':'));
    h.type_text("continue-rollback api Queue");
    let cmds = h.key(KeyCode::Enter);
    h.run_flows(cmds);
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the rollback's confirmation opens");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("api".into())
    );
    h.key(KeyCode::Esc);
    // X on a stack that is not updating: refused by the plan, no dialog.
    let cmds = h.key(KeyCode::Char('X')); // api, still UPDATE_ROLLBACK_FAILED
    h.run_flows(cmds);
    assert!(matches!(h.state.mode, Mode::Normal));
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("only an update in progress"))
    );
}

#[test]
fn read_only_refuses_unsticking_at_the_gate() {
    let mut h = Harness::new(true)
        .with_identity()
        .with_stacks(vec![stack("data", "UPDATE_IN_PROGRESS")]);
    let cmds = h.key(KeyCode::Char('X'));
    h.run_flows(cmds);
    assert!(
        matches!(h.state.mode, Mode::Normal),
        "no dialog in read-only mode"
    );
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        vec![Decision::Requested, Decision::RefusedReadOnly]
    );
}

// ---------- installers: list, form, target picker, confirmation ----------

/// A harness whose ssh config names no hosts (the picker offers `local` only), with facts
/// for `local`.
fn installers_harness(read_only: bool) -> Harness {
    let mut h = Harness::with(read_only, Some(Environment::Dev)).with_identity();
    h.state.config = Arc::new(
        Config::from_toml_str(
            "[targets]\nssh_config = \"/nonexistent/opsdeck-test/ssh_config\"\n",
            std::path::Path::new("test.toml"),
        )
        .expect("config"),
    );
    h.answers.facts.push((
        "local".into(),
        crate::installers::ops::HostFacts {
            os_id: "debian".into(),
            os_version: "12".into(),
            ram_mb: 4096,
            disk_mb: 20_000,
            cpu_cores: 2,
            ..Default::default()
        },
    ));
    h
}

/// `:installers`, then the flow that loads them.
fn open_installers(h: &mut Harness) {
    h.key(KeyCode::Char(':'));
    h.type_text("installers");
    let cmds = h.key(KeyCode::Enter);
    h.run_flows(cmds);
}

fn install_form(h: &Harness) -> &crate::installers::tui::form::InstallForm {
    match &h.state.mode {
        Mode::Installers(crate::installers::tui::InstallMode::Form(form, _)) => form,
        _ => panic!("the installer form is not open"),
    }
}

/// Select `id` in the open list and press Enter.
fn choose_installer(h: &mut Harness, id: &str) {
    let Mode::Installers(crate::installers::tui::InstallMode::List(list)) = &h.state.mode else {
        panic!(":installers opens the list");
    };
    let at = list
        .installers
        .iter()
        .position(|i| i.manifest.id == id)
        .expect("listed");
    for _ in 0..at {
        h.key(KeyCode::Char('j'));
    }
    h.key(KeyCode::Enter);
}

#[test]
fn installers_list_shows_os_requirements_and_opens_the_generated_form() {
    let mut h = installers_harness(false);
    open_installers(&mut h);
    let screen = h.screen(120, 40);
    assert!(screen.contains("nginx web server 1.0.0"), "{screen}");
    assert!(screen.contains("debian 11+, ubuntu 20.04+"), "{screen}");
    choose_installer(&mut h, "nginx");
    let form = install_form(&h);
    let hidden: Vec<&str> = form
        .form
        .fields
        .iter()
        .filter(|f| f.hidden)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        hidden,
        vec!["https_port", "tls_certificate", "tls_certificate_key"],
        "visible_if: TLS off hides its inputs"
    );
    // a bad port is refused under its field as it is typed
    fill_install(&mut h, "http_port", "99999");
    assert!(
        install_field_error(&h, "http_port").is_some_and(|e| e.contains("not a port")),
        "{:?}",
        install_field_error(&h, "http_port")
    );
    fill_install(&mut h, "http_port", "8080");
    // turning TLS on shows its inputs, and sending without them puts errors under them
    match &mut h.state.mode {
        Mode::Installers(crate::installers::tui::InstallMode::Form(form, _)) => {
            form.form.focus_field("enable_tls")
        }
        _ => unreachable!(),
    }
    h.key(KeyCode::Right);
    assert!(install_form(&h).form.fields.iter().all(|f| !f.hidden));
    ctrl(&mut h, 's');
    assert!(install_field_error(&h, "tls_certificate").is_some_and(|e| e.contains("required")));
    let screen = h.screen(120, 40);
    assert!(
        screen.contains("Install nginx web server 1.0.0 (nginx)"),
        "{screen}"
    );
}

fn fill_install(h: &mut Harness, name: &str, text: &str) {
    match &mut h.state.mode {
        Mode::Installers(crate::installers::tui::InstallMode::Form(form, _)) => {
            form.form.focus_field(name)
        }
        _ => panic!("the installer form is not open"),
    }
    ctrl(h, 'u');
    h.type_text(text);
}

fn install_field_error(h: &Harness, name: &str) -> Option<String> {
    install_form(h)
        .form
        .field(name)
        .and_then(|f| f.error.clone())
}

#[test]
fn an_installer_run_goes_form_targets_preflight_confirmation_with_the_secret_masked() {
    let mut h = installers_harness(false);
    open_installers(&mut h);
    choose_installer(&mut h, "mariadb");
    fill_install(&mut h, "root_password", "hunter2-very-secret");
    assert!(!h.screen(120, 40).contains("hunter2"), "typed masked");
    ctrl(&mut h, 's');
    let Mode::Installers(crate::installers::tui::InstallMode::Targets(picker)) = &h.state.mode
    else {
        panic!("sending the form opens the target picker");
    };
    assert_eq!(
        picker.candidates.len(),
        1,
        "local only: no ssh config hosts"
    );
    // Enter with nothing selected explains
    h.key(KeyCode::Enter);
    assert!(h.screen(100, 30).contains("select at least one target"));
    h.key(KeyCode::Char(' '));
    h.key(KeyCode::Char('c')); // max concurrency 2
    let cmds = h.key(KeyCode::Enter);
    let (rest, reads) = h.run_flows(cmds);
    assert!(rest.is_empty());
    assert_eq!(reads, vec!["installer-preflight"]);
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the plan opens the confirmation");
    };
    // local is unmapped here: the installer's id is typed
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("mariadb".into())
    );
    let screen = h.screen(110, 45);
    for expected in [
        "Confirm: run-installer",
        "MariaDB server (MySQL-compatible) (mariadb)",
        "sha256:",
        "UNMAPPED",
        "debian 12",
        "max concurrency 2 · max errors 0",
        "root_password",
        "****",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
    }
    assert!(!screen.contains("hunter2"), "{screen}");
    // The run id is fresh and the hash follows the bundled files: fixed for the snapshot.
    let MutatingOp::Install(crate::installers::ops::InstallMutation::RunInstaller(planned)) =
        &dialog.request.op
    else {
        panic!("the dialog holds the run");
    };
    let fixed = screen
        .replace(&planned.run_id, &"r".repeat(planned.run_id.len()))
        .replace(&planned.hash, &format!("sha256:{}", "0".repeat(64)));
    insta::assert_snapshot!("run_installer_dialog", fixed);
    h.type_text("mariadb");
    let cmds = h.key(KeyCode::Enter);
    let ops = executed(&cmds);
    assert_eq!(ops.len(), 1);
    let MutatingOp::Install(crate::installers::ops::InstallMutation::RunInstaller(run)) = ops[0]
    else {
        panic!("a run-installer is approved");
    };
    assert_eq!(run.targets[0].target, crate::installers::ops::Target::Local);
    assert!(
        run.inputs
            .iter()
            .any(|i| i.name == "root_password" && i.is_secret())
    );
    assert!(!format!("{run:?}").contains("hunter2"));
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(decisions, vec![Decision::Requested, Decision::Confirmed]);
}

#[test]
fn a_refused_preflight_goes_back_to_the_picker_with_the_reason() {
    let mut h = installers_harness(false);
    h.answers.facts.clear(); // local does not answer
    open_installers(&mut h);
    choose_installer(&mut h, "chrony");
    ctrl(&mut h, 's');
    h.key(KeyCode::Char(' '));
    let cmds = h.key(KeyCode::Enter);
    h.run_flows(cmds);
    let Mode::Installers(crate::installers::tui::InstallMode::Targets(picker)) = &h.state.mode
    else {
        panic!("back to the picker");
    };
    assert!(
        picker
            .error
            .as_deref()
            .is_some_and(|e| e.contains("local") && e.contains("unreachable")),
        "{:?}",
        picker.error
    );
    assert!(h.audit.records().is_empty(), "nothing was requested");
}

#[test]
fn read_only_refuses_an_installer_before_its_form_opens() {
    let mut h = installers_harness(true);
    open_installers(&mut h);
    choose_installer(&mut h, "nginx");
    assert!(matches!(h.state.mode, Mode::Normal));
    assert!(
        h.state
            .toast
            .as_ref()
            .is_some_and(|t| t.text.contains("read-only: run installer nginx refused"))
    );
    let records = h.audit.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].decision, Decision::RefusedReadOnly);
    assert_eq!(records[0].operation, "run-installer");
}

/// What the assistant's turn `job` proposes, as its stream delivers it.
fn propose(h: &mut Harness, job: i64, id: u64, op: &MutatingOp) -> Vec<Cmd> {
    use crate::assistant::AssistantUpdate;
    assert!(crate::assistant::tui::on_update(
        &mut h.state,
        job,
        AssistantUpdate::Proposal {
            id,
            tool: "delete-stack".into(),
            op: Box::new(op.clone()),
        },
    ));
    // The next message of any kind lets a waiting confirmation open.
    h.send(Msg::Resize {
        width: 100,
        height: 30,
    })
}

fn delete_web() -> MutatingOp {
    MutatingOp::from(crate::ops::DeleteStack {
        target: crate::ops::StackTarget {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            environment: Environment::Dev,
            stack_name: "web".into(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/web/0f0e"),
        },
        retained: vec![],
    })
}

fn answering(
    h: &mut Harness,
    job: i64,
) -> tokio::sync::mpsc::UnboundedReceiver<(u64, crate::assistant::tools::Proposal)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    h.state.chat.answering = Some(crate::assistant::tui::Answering {
        job: Some(job),
        ..Default::default()
    });
    h.state.chat.decisions = Some(tx);
    rx
}

#[test]
fn an_assistant_proposal_opens_the_same_dialog_and_only_the_operators_keys_run_it() {
    use crate::assistant::tools::Proposal;
    use crate::assistant::tui::{CardState, Entry};
    let mut h = Harness::new(false)
        .with_identity()
        .with_stacks(three_stacks());
    let mut rx = answering(&mut h, 42);
    let op = delete_web();
    assert!(
        propose(&mut h, 42, 1, &op).is_empty(),
        "nothing runs by itself"
    );
    let Mode::Confirm(dialog) = &h.state.mode else {
        panic!("the confirmation opens");
    };
    assert_eq!(dialog.request.op, op, "exactly what was planned");
    // A `y` is not a typed name; Esc cancels and the turn hears it.
    assert!(executed(&h.key(KeyCode::Char('y'))).is_empty());
    assert!(executed(&h.key(KeyCode::Esc)).is_empty());
    assert_eq!(rx.try_recv(), Ok((1, Proposal::Cancelled)));
    assert!(
        h.state
            .chat
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Card(c) if c.id == 1 && c.state == CardState::Cancelled))
    );
    // Again, and this time the operator types the name.
    propose(&mut h, 42, 2, &op);
    h.type_text("web");
    let cmds = h.key(KeyCode::Enter);
    assert_eq!(executed(&cmds), vec![&op]);
    assert_eq!(rx.try_recv(), Ok((2, Proposal::Confirmed)));
    let records = h.audit.records();
    let decisions: Vec<Decision> = records.iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        vec![
            Decision::Requested,
            Decision::Cancelled,
            Decision::Requested,
            Decision::Confirmed
        ]
    );
    assert!(
        records[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("proposed by the assistant")),
        "{:?}",
        records[0]
    );
}

#[test]
fn read_only_refuses_an_assistant_proposal_before_any_dialog() {
    use crate::assistant::tools::Proposal;
    let mut h = Harness::new(true)
        .with_identity()
        .with_stacks(three_stacks());
    let mut rx = answering(&mut h, 7);
    assert!(propose(&mut h, 7, 1, &delete_web()).is_empty());
    assert!(matches!(h.state.mode, Mode::Normal), "no dialog");
    assert!(matches!(rx.try_recv(), Ok((1, Proposal::Refused(why))) if why.contains("read-only")),);
    let decisions: Vec<Decision> = h.audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(
        decisions,
        vec![Decision::Requested, Decision::RefusedReadOnly]
    );
}

#[test]
fn esc_and_ctrl_c_stop_an_answer_and_what_arrived_stays() {
    use crate::assistant::AssistantUpdate;
    let mut h = Harness::new(false);
    h.key(KeyCode::Char('1'));
    h.type_text("explain drift");
    h.key(KeyCode::Enter);
    crate::assistant::tui::started(&mut h.state, Some(9));
    crate::assistant::tui::on_update(&mut h.state, 9, AssistantUpdate::Text("Drift is ".into()));
    crate::assistant::tui::on_update(&mut h.state, 9, AssistantUpdate::Text("when".into()));
    let cmds = h.key(KeyCode::Esc);
    assert!(matches!(cmds.as_slice(), [Cmd::CancelJob(9)]), "{cmds:?}");
    let cmds = ctrl(&mut h, 'c');
    assert!(
        matches!(cmds.as_slice(), [Cmd::CancelJob(9)]),
        "Ctrl-C stops it, not quit: {cmds:?}"
    );
    assert!(!h.state.quit);
    h.send(Msg::Engine(EngineEvent::TaskDone {
        job: 9,
        result: Err(ProviderError::new(ErrorKind::Cancelled, "stopped")),
    }));
    assert!(h.state.chat.answering.is_none());
    assert_eq!(
        h.state
            .chat
            .conversation
            .last()
            .map(|m| m.text())
            .as_deref(),
        Some("Drift is when"),
        "the next turn knows what was said"
    );
    let screen = h.screen(100, 30);
    assert!(
        screen.contains("Drift is when") && screen.contains("stopped"),
        "{screen}"
    );
    // Not answering: Ctrl-C in Chat quits as everywhere.
    ctrl(&mut h, 'c');
    assert!(h.state.quit);
}

#[test]
fn help_lists_the_chat_keys() {
    let mut h = Harness::new(false);
    h.key(KeyCode::F(1));
    let mut text = String::new();
    for _ in 0..8 {
        text.push_str(&h.screen(100, 200));
        for _ in 0..40 {
            h.key(KeyCode::Char('j'));
        }
    }
    for needle in [
        "Chat (other keys type)",
        "send to the assistant",
        "stop the answer",
        "scroll the conversation back",
        ":clear",
    ] {
        assert!(text.contains(needle), "{needle} missing from help");
    }
}

#[test]
fn clear_forgets_the_conversation_and_its_saved_history() {
    use crate::assistant::tui::AssistantCmd;
    let mut h = Harness::new(false);
    h.state.chat.conversation = vec![crate::assistant::model::Message::user("old")];
    h.key(KeyCode::Char('1'));
    h.type_text(":clear");
    let cmds = h.key(KeyCode::Enter);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Assistant(AssistantCmd::ClearHistory))),
        "{cmds:?}"
    );
    assert!(h.state.chat.conversation.is_empty());
    assert_eq!(h.state.chat.entries.len(), 1, "only the note that says so");
}
