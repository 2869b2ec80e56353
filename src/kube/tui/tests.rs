//! The console's Kubernetes views on `TestBackend`: contexts and the starting scope, k9s's
//! columns, filter, namespace scope, drill-downs, the replica field and the confirmation
//! showing current → new, read-only refusals, log follows opening in Jobs, and a lost
//! cluster said on screen.

use crate::audit::{Actor, Decision, MemoryAudit};
use crate::config::Config;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::ReadOutput;
use crate::engine::ports::{ErrorKind, ProviderError};
use crate::kube::model::*;
use crate::kube::ops::{KubeMutation, KubeRead};
use crate::kube::port::KubeOutput;
use crate::model::{Environment, JobKind, JobRecord, JobState, Role};
use crate::ops::{MutatingOp, ReadOnlyLatch, ReadOp};
use crate::registry::Pane;
use crate::tui::state::{Cmd, Flow, Mode, Msg, Planned, Session, State, ViewKey, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::sync::Arc;

const WATCH: i64 = -7;

fn state(read_only: bool, config: &str) -> (State, Arc<MemoryAudit>) {
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
    let config =
        Arc::new(Config::from_toml_str(config, std::path::Path::new("test.toml")).expect("config"));
    let session = Session {
        os_user: "alice".into(),
        region: Some("eu-west-1".into()),
        role: Some(Role::Operator),
        ..Session::default()
    };
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut state = State::new(session, config, gate, &theme, ColorDepth::TrueColor);
    state.now_ms = 1_767_225_600_000 + 3_600_000;
    state.term_size = (120, 40);
    (state, audit)
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn command(state: &mut State, line: &str) -> Vec<Cmd> {
    let mut cmds = update(state, key(':'));
    for c in line.chars() {
        cmds.extend(update(state, key(c)));
    }
    cmds.extend(update(state, code(KeyCode::Enter)));
    cmds
}

fn contexts() -> KubeconfigView {
    KubeconfigView {
        files: vec!["/home/alice/.kube/config".into()],
        current: Some("dev-eu".into()),
        contexts: vec![
            ContextInfo {
                name: "dev-eu".into(),
                cluster: "arn:aws:eks:eu-west-1:111111111111:cluster/dev".into(),
                server: Some("https://dev.example".into()),
                user: Some("dev".into()),
                namespace: Some("shop".into()),
                auth: "exec aws".into(),
                eks: Some(EksAuth {
                    cluster: "dev".into(),
                    region: Some("eu-west-1".into()),
                    profile: None,
                }),
                current: true,
            },
            ContextInfo {
                name: "prod-us".into(),
                cluster: "arn:aws:eks:us-east-1:222222222222:cluster/prod".into(),
                server: Some("https://prod.example".into()),
                user: Some("prod".into()),
                namespace: None,
                auth: "token".into(),
                eks: None,
                current: false,
            },
        ],
    }
}

fn pod(name: &str, containers: &[&str], owner: Option<&str>, labels: &[(&str, &str)]) -> KubeRow {
    KubeRow::Pod(Box::new(PodRow {
        namespace: "shop".into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        ready: (containers.len() as u16, containers.len() as u16),
        status: "Running".into(),
        restarts: 0,
        node: "ip-10-0-1-5".into(),
        owner: owner.map(|o| Owner {
            kind: "ReplicaSet".into(),
            name: o.into(),
            uid: format!("uid-{o}"),
        }),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        containers: containers
            .iter()
            .map(|c| ContainerRow {
                name: c.to_string(),
                image: format!("registry.example/{c}:1.0"),
                init: false,
                ready: true,
                state: "Running".into(),
                restarts: 0,
            })
            .collect(),
        created: Some(1_767_225_600),
    }))
}

fn web() -> KubeRow {
    KubeRow::Deployment(WorkloadRow {
        namespace: "shop".into(),
        name: "web".into(),
        uid: "uid-web".into(),
        desired: 3,
        ready: 3,
        up_to_date: 3,
        available: 3,
        selector: vec![("app".into(), "web".into())],
        created: Some(1_767_225_600),
    })
}

/// `:pods`, the kubeconfig read, the watch started on its current context, rows listed.
fn watching(state: &mut State) {
    let cmds = command(state, "pods");
    assert!(
        matches!(
            cmds.as_slice(),
            [Cmd::Read(ReadOp::Kube(KubeRead::ListContexts))]
        ),
        "{cmds:?}"
    );
    state.read_submitted(ViewKey::Kube(super::KubeView::Contexts), 1);
    let cmds = update(
        state,
        Msg::Engine(crate::engine::EngineEvent::ReadDone {
            job: 1,
            key: Some("kube:contexts".into()),
            result: Ok(ReadOutput::Kube(KubeOutput::Contexts(contexts()))),
        }),
    );
    // The context's namespace is the starting scope.
    let Some(Cmd::Refresh(ReadOp::Kube(KubeRead::Watch { context, namespace }))) = cmds.first()
    else {
        panic!("a watch: {cmds:?}");
    };
    assert_eq!(context, &ContextRef::kubeconfig("dev-eu"));
    assert_eq!(namespace.as_deref(), Some("shop"));
    state.read_submitted(ViewKey::Kube(super::KubeView::Watch), WATCH);
    let rows = vec![
        pod(
            "web-5d4f8-aaaaa",
            &["app"],
            Some("web-5d4f8"),
            &[("app", "web")],
        ),
        pod(
            "web-5d4f8-bbbbb",
            &["app", "envoy"],
            Some("web-5d4f8"),
            &[("app", "web")],
        ),
        pod("debug", &["sh"], None, &[]),
    ];
    feed(
        state,
        KubeUpdate::Listed {
            kind: KubeKind::Pod,
            rows,
        },
    );
    feed(
        state,
        KubeUpdate::Listed {
            kind: KubeKind::Deployment,
            rows: vec![web()],
        },
    );
}

fn feed(state: &mut State, update: KubeUpdate) {
    super::on_update(state, WATCH, update);
    super::settle(state);
}

fn screen(state: &State) -> String {
    let backend = ratatui::backend::TestBackend::new(120, 40);
    let mut terminal = ratatui::Terminal::new(backend).expect("terminal");
    terminal
        .draw(|f| crate::tui::view::render(f, state))
        .expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn pods_show_k9s_columns_in_the_contexts_namespace_with_its_environment() {
    let (mut state, _) = state(
        false,
        "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"dev-*\"]\n",
    );
    watching(&mut state);
    // Zoomed, every k9s column fits (a narrow pane gives NODE up first).
    update(&mut state, key('z'));
    let s = screen(&state);
    assert!(s.contains("pods 3/3 @ dev-eu"), "{s}");
    assert!(s.contains(" DEV "), "{s}");
    assert!(s.contains("ns shop"), "{s}");
    let header = s
        .lines()
        .find(|l| l.contains("NAME") && l.contains("READY"))
        .expect("header");
    for col in ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        !header.contains("NAMESPACE"),
        "one namespace: no NAMESPACE column"
    );
    assert!(
        s.contains("web-5d4f8-bbbbb") && s.contains("2/2") && s.contains("60m"),
        "{s}"
    );
    // The filter narrows; Esc clears it.
    update(&mut state, key('/'));
    for c in "debug".chars() {
        update(&mut state, key(c));
    }
    update(&mut state, code(KeyCode::Enter));
    assert_eq!(state.kube.visible.len(), 1);
    update(&mut state, code(KeyCode::Esc));
    assert_eq!(state.kube.visible.len(), 3);
}

#[test]
fn namespaces_scope_the_watch_and_zero_shows_all() {
    let (mut state, _) = state(false, "");
    watching(&mut state);
    let cmds = command(&mut state, "ns other");
    assert!(
        cmds.iter().any(|c| matches!(c, Cmd::Refresh(ReadOp::Kube(KubeRead::Watch { namespace: Some(ns), .. })) if ns == "other")),
        "{cmds:?}"
    );
    assert!(
        state.kube.rows(KubeKind::Pod).is_empty(),
        "the old scope's pods are gone"
    );
    let cmds = update(&mut state, key('0'));
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Cmd::Refresh(ReadOp::Kube(KubeRead::Watch {
                namespace: None,
                ..
            }))
        )),
        "{cmds:?}"
    );
}

#[test]
fn deployments_drill_down_to_pods_and_containers_and_back() {
    let (mut state, _) = state(false, "");
    watching(&mut state);
    command(&mut state, "deploy");
    let s = screen(&state);
    let header = s
        .lines()
        .find(|l| l.contains("UP-TO-DATE"))
        .expect("deployment columns");
    assert!(
        header.contains("AVAILABLE") && header.contains("READY"),
        "{header}"
    );
    update(&mut state, code(KeyCode::Enter));
    assert!(
        screen(&state).contains("pods of deployment web 2/2"),
        "{}",
        screen(&state)
    );
    update(&mut state, key('j'));
    update(&mut state, code(KeyCode::Enter));
    let s = screen(&state);
    assert!(
        s.contains("containers of web-5d4f8-bbbbb") && s.contains("envoy"),
        "{s}"
    );
    update(&mut state, code(KeyCode::Esc));
    update(&mut state, code(KeyCode::Esc));
    assert!(screen(&state).contains("deployments 1/1"));
    // `:stacks` is CloudFormation again.
    command(&mut state, "stacks");
    assert!(!state.kube.shown);
}

/// Answers the reads the Kubernetes plans make.
struct Plans {
    config: Arc<Config>,
}

impl crate::ops::SessionFacts for Plans {
    fn region(&self) -> Option<String> {
        Some("eu-west-1".into())
    }
    fn environment_of(&self, _: &str) -> Environment {
        Environment::Unmapped
    }
    fn kube_environment(&self, context: &str, cluster: &str) -> Environment {
        crate::setup::kube_environment_of(&self.config, context, cluster, None)
    }
    fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
        None
    }
}

impl crate::ops::PlanCtx for Plans {
    fn read(
        &self,
        op: ReadOp,
    ) -> futures::future::BoxFuture<'_, Result<ReadOutput, ProviderError>> {
        let answer = match op {
            ReadOp::Kube(KubeRead::ListContexts) => Ok(KubeOutput::Contexts(contexts())),
            ReadOp::Kube(KubeRead::GetScale { .. }) => Ok(KubeOutput::Scale(ScaleInfo {
                replicas: 3,
                uid: "uid-web".into(),
            })),
            ReadOp::Kube(KubeRead::GetObject { name, .. }) => Ok(KubeOutput::Object(ObjectInfo {
                uid: format!("uid-{name}"),
                resource_version: "9".into(),
                owner: None,
                unschedulable: false,
            })),
            other => Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("{other:?}"),
            )),
        };
        Box::pin(async move { answer.map(ReadOutput::Kube) })
    }
}

fn run_flows(state: &mut State, cmds: Vec<Cmd>) -> Vec<Cmd> {
    let mut rest = Vec::new();
    for cmd in cmds {
        let Cmd::Plan(Flow::Kube(flow)) = cmd else {
            rest.push(cmd);
            continue;
        };
        let ctx = Plans {
            config: state.config.clone(),
        };
        let planned = futures::executor::block_on(super::flows::run(flow, &ctx));
        rest.extend(update(state, Msg::Planned(Planned::Kube(planned))));
    }
    rest
}

#[test]
fn scale_prefills_the_replicas_and_confirms_current_to_new() {
    let (mut state, audit) = state(
        false,
        "[[environment]]\nname = \"DEV\"\nkube_contexts = [\"dev-*\"]\n",
    );
    watching(&mut state);
    command(&mut state, "deploy");
    let cmds = update(&mut state, key('s'));
    run_flows(&mut state, cmds);
    let Mode::Kube(super::prompt::KubePrompt::Replicas(field)) = &state.mode else {
        panic!("the replica field");
    };
    assert_eq!(field.input.text(), "3", "prefilled with the current count");
    assert!(
        screen(&state).contains("Replicas > 3"),
        "{}",
        screen(&state)
    );
    update(&mut state, code(KeyCode::Backspace));
    update(&mut state, key('5'));
    update(&mut state, code(KeyCode::Enter));
    let Mode::Confirm(dialog) = &state.mode else {
        panic!("the confirmation");
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::Simple,
        "DEV, 3 → 5: y"
    );
    let s = screen(&state);
    assert!(s.contains("Confirm: scale-workload"), "{s}");
    assert!(s.contains("3 → 5"), "{s}");
    assert!(s.contains("uid-web"), "{s}");
    let cmds = update(&mut state, key('y'));
    assert!(
        matches!(cmds.as_slice(), [Cmd::Execute(a)] if matches!(a.op(), MutatingOp::Kube(KubeMutation::Scale(s)) if s.replicas == 5 && s.current == 3))
    );
    let decisions: Vec<Decision> = audit.records().iter().map(|r| r.decision).collect();
    assert_eq!(decisions, [Decision::Requested, Decision::Confirmed]);
}

#[test]
fn unmapped_clusters_and_bare_pods_take_the_typed_name() {
    let (mut state, _) = state(false, "");
    watching(&mut state);
    assert_eq!(state.kube.environment, Some(Environment::Unmapped));
    // `d` on the pod no controller owns.
    update(&mut state, key('g'));
    let cmds = update(&mut state, key('d'));
    run_flows(&mut state, cmds);
    let Mode::Confirm(dialog) = &state.mode else {
        panic!("the confirmation: {:?}", state.toast);
    };
    assert_eq!(
        dialog.request.tier,
        crate::ops::RiskTier::TypeName("debug".into())
    );
    let s = screen(&state);
    assert!(
        s.contains("Type debug to confirm") && s.contains("gone for good"),
        "{s}"
    );
    assert!(s.contains("UNMAPPED"), "{s}");
}

#[test]
fn read_only_refuses_scale_before_the_field_and_delete_at_the_gate() {
    let (mut state, audit) = state(true, "");
    watching(&mut state);
    command(&mut state, "deploy");
    let cmds = update(&mut state, key('s'));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(matches!(state.mode, Mode::Normal));
    let toast = state.toast.clone().expect("said").text;
    assert!(
        toast.contains("read-only") && toast.contains("scale deployment shop/web"),
        "{toast}"
    );
    command(&mut state, "pods");
    let cmds = update(&mut state, key('d'));
    run_flows(&mut state, cmds);
    assert!(!matches!(state.mode, Mode::Confirm(_)));
    assert!(
        state
            .toast
            .clone()
            .expect("said")
            .text
            .contains("read-only")
    );
    let records = audit.records();
    assert_eq!(records[0].operation, "scale-workload");
    assert_eq!(records[0].decision, Decision::RefusedReadOnly);
    assert_eq!(records.last().unwrap().operation, "delete-pod");
    assert_eq!(records.last().unwrap().decision, Decision::RefusedReadOnly);
}

#[test]
fn logs_pick_a_container_and_open_live_in_jobs() {
    let (mut state, _) = state(false, "");
    watching(&mut state);
    // One container: straight to the follow.
    let cmds = update(&mut state, key('l'));
    let [Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(request.pods, ["debug"]);
    // Two: the picker; `p` there asks for the previous instance.
    update(&mut state, key('G'));
    assert!(update(&mut state, key('l')).is_empty());
    assert!(screen(&state).contains("envoy"));
    update(&mut state, key('j'));
    update(&mut state, key('p'));
    let cmds = update(&mut state, code(KeyCode::Enter));
    let [Cmd::Read(ReadOp::Kube(KubeRead::Logs(request)))] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(request.container.as_deref(), Some("envoy"));
    assert!(request.previous);
    // The follow's job opens in Jobs, following.
    state.read_submitted(ViewKey::Kube(super::KubeView::Logs), 42);
    let record = JobRecord {
        id: 42,
        kind: JobKind::Read,
        operation: "pod-logs".into(),
        title: "Logs of pod shop/web-5d4f8-bbbbb".into(),
        target: None,
        state: JobState::Running,
        created_ms: 0,
        started_ms: Some(0),
        finished_ms: None,
        progress: None,
        error: None,
        log_path: None,
        parent: None,
    };
    let handle = crate::engine::task::JobHandle {
        id: 42,
        log: Arc::new(std::sync::Mutex::new(
            crate::engine::joblog::JobLog::memory_only(10),
        )),
        notified: Arc::default(),
    };
    handle.log.lock().unwrap().push(
        crate::engine::joblog::LogLevel::Info,
        "2026-01-02T03:04:05.000000001Z listening on :8080",
    );
    update(
        &mut state,
        Msg::Engine(crate::engine::EngineEvent::JobCreated { record, handle }),
    );
    assert_eq!(state.focus, Pane::Jobs);
    assert!(state.jobs.log_open && state.jobs.log.follow);
    let s = screen(&state);
    assert!(
        s.contains("1 lines") && s.contains("listening on :8080"),
        "{s}"
    );
    assert!(
        !s.contains("2026-01-02T03:04:05.000000001Z"),
        "the source's timestamp only with t"
    );
    update(&mut state, key('t'));
    assert!(screen(&state).contains("2026-01-02T03:04:05.000000001Z listening"));
}

#[test]
fn a_lost_cluster_says_why_and_clears_when_it_is_back() {
    let (mut state, _) = state(false, "");
    watching(&mut state);
    feed(
        &mut state,
        KubeUpdate::Disconnected {
            kind: KubeKind::Pod,
            reason: "cannot reach the API server: connection refused".into(),
        },
    );
    let s = screen(&state);
    assert!(
        s.contains("disconnected: cannot reach the API server: connection refused"),
        "{s}"
    );
    assert!(s.contains("web-5d4f8-aaaaa"), "rows stay, shown stale");
    feed(
        &mut state,
        KubeUpdate::Connected {
            kind: KubeKind::Pod,
        },
    );
    assert!(!screen(&state).contains("disconnected"));
    // A watch another scope superseded: its updates are ignored.
    super::on_update(
        &mut state,
        WATCH - 1,
        KubeUpdate::Listed {
            kind: KubeKind::Pod,
            rows: vec![],
        },
    );
    assert_eq!(state.kube.rows(KubeKind::Pod).len(), 3);
}
