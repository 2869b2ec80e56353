//! The app loop: set up, draw the first frame before anything touches the network, then turn
//! terminal, engine and signal events into `Msg`s, run the resulting `Cmd`s, and redraw only
//! when something happened.

use crate::audit::{Actor, AuditRecord, AuditSink, Decision};
use crate::aws::AwsSettings;
use crate::config::Paths;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::joblog::JobLog;
use crate::engine::store::{JobStore, RecoveredJob};
use crate::engine::task::JobHandle;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::model::{JobKind, now_ms};
use crate::tui::state::{
    Cmd, Flow, Msg, Planned, Session, State, Toast, ToastLevel, ViewKey, update,
};
use crate::tui::terminal::TerminalGuard;
use crate::tui::view;
use anyhow::Context as _;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::{FutureExt, StreamExt};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{BufWriter, Stdout};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

pub use crate::setup::{Options, os_user};

/// Everything built before the first frame: local files only, no network.
pub struct Prepared {
    pub state: State,
    pub store: Arc<JobStore>,
    pub audit: Arc<dyn AuditSink>,
    pub paths: Paths,
    pub aws: AwsSettings,
    pub recovered: usize,
}

pub fn prepare(opts: &Options, paths: Paths) -> anyhow::Result<Prepared> {
    let crate::setup::Guarded {
        config,
        audit,
        store,
        gate,
        os_user,
        role,
        aws,
        recovered,
    } = crate::setup::open(opts, &paths)?;
    let theme_name = opts.theme.clone().unwrap_or_else(|| config.theme.clone());
    let theme = Theme::load(&theme_name, Some(&paths.themes_dir))?;
    let depth = ColorDepth::from_env();
    let recovered = recovered.len();
    let session = Session {
        os_user,
        profile: aws
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|s| !s.is_empty())),
        region: aws.region.clone().or_else(|| {
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok()
                .filter(|s| !s.is_empty())
        }),
        endpoint_url: aws.endpoint_url.clone(),
        env_override: opts.env_override,
        role,
        ..Session::default()
    };
    let mut state = State::new(session, config, gate, &theme, depth);
    state.cost.data_dir = Some(paths.data_dir.clone());
    match store.recent(500) {
        Ok(records) => state.load_history(records),
        Err(e) => {
            state.toast = Some(Toast {
                level: ToastLevel::Error,
                text: format!("job history unavailable: {e}"),
            })
        }
    }
    if recovered > 0 {
        state.toast = Some(Toast {
            level: ToastLevel::Warn,
            text: format!(
                "{recovered} job(s) were running when opsdeck last stopped: marked interrupted (see Jobs)"
            ),
        });
    }
    Ok(Prepared {
        state,
        store,
        audit,
        paths,
        aws,
        recovered,
    })
}

/// Changes that were running when an earlier opsdeck died (crash, SIGKILL) have `started` but
/// no outcome in the audit log: close them as interrupted, so every request has an ending.
pub fn record_lost_changes(audit: &dyn AuditSink, os_user: &str, recovered: &[RecoveredJob]) {
    for lost in recovered
        .iter()
        .filter(|j| j.record.kind == JobKind::Mutation)
    {
        let job = &lost.record;
        // What was recorded when the change was submitted: the same actor, environment,
        // request id and target as the `started` entry this one closes. Rows written by an
        // older version have none, and say so.
        let (actor, environment, request_id, target) = match &lost.origin {
            Some(origin) => {
                let mut target = origin.target.clone();
                if let Some(fields) = target.as_object_mut() {
                    fields.insert("job".into(), job.id.into());
                }
                (
                    origin.actor.clone(),
                    origin.environment.clone(),
                    Some(origin.request_id),
                    target,
                )
            }
            None => (
                Actor {
                    os_user: os_user.to_string(),
                    principal: None,
                },
                "UNKNOWN".to_string(),
                None,
                serde_json::json!({ "job": job.id, "target": job.target }),
            ),
        };
        let record = AuditRecord {
            actor,
            operation: job.operation.clone(),
            target,
            environment,
            decision: Decision::Interrupted,
            request_id,
            detail: Some(format!(
                "opsdeck ended while this change was running (found when {os_user} next ran opsdeck); check its state in AWS"
            )),
        };
        if let Err(e) = audit.append(&record) {
            tracing::error!("could not record interrupted job {}: {e}", job.id);
        }
    }
}

type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Run the console until the person quits or a signal ends it. Returns the exit code.
pub async fn run(prepared: Prepared) -> anyhow::Result<i32> {
    let Prepared {
        mut state,
        store,
        audit,
        paths,
        aws,
        ..
    } = prepared;

    let guard = TerminalGuard::enter().context("cannot set up the terminal (is this a TTY?)")?;
    let backend = CrosstermBackend::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    let mut terminal: Term = Terminal::new(backend)?;
    // The first frame: nothing above waited for the network.
    terminal.draw(|f| view::render(f, &state))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<EngineEvent>();
    let binding = state.gate.binding();
    let providers = async move { Arc::new(crate::aws::providers(&aws, binding).await) }.boxed();
    let engine_config = EngineConfig {
        logs_dir: Some(paths.job_logs_dir.clone()),
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        providers,
        store,
        audit,
        state.gate.binding(),
        tx,
        engine_config,
    );

    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<Msg>();
    let fx = Effects {
        engine: &engine,
        paths: &paths,
        back: &back_tx,
    };
    let initial = state.initial_commands();
    execute(&mut state, &fx, initial);

    let mut events = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut exit_code = 0;
    loop {
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => Msg::Key(key),
                Some(Ok(Event::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                // The terminal is gone (closed SSH session without SIGHUP): leave cleanly.
                Some(Err(_)) | None => { exit_code = 129; Msg::Terminate("the terminal closed") },
            },
            Some(ev) = rx.recv() => Msg::Engine(ev),
            Some(msg) = back_rx.recv() => msg,
            // Every second: durations and the periodic refresh. An idle tick draws nothing.
            _ = tick.tick() => Msg::Tick { now_ms: now_ms() },
            _ = sigterm.recv() => { exit_code = 143; Msg::Terminate("SIGTERM") },
            _ = sighup.recv() => { exit_code = 129; Msg::Terminate("SIGHUP") },
            _ = sigint.recv() => { exit_code = 130; Msg::Terminate("SIGINT") },
        };
        let cmds = update(&mut state, msg);
        let mut changed = !state.quiet;
        execute(&mut state, &fx, cmds);
        // Coalesce bursts: fold every waiting engine event into the state before one redraw.
        while let Ok(ev) = rx.try_recv() {
            let cmds = update(&mut state, Msg::Engine(ev));
            changed |= !state.quiet;
            execute(&mut state, &fx, cmds);
        }
        if state.quit {
            break;
        }
        // Nothing on screen changed (an idle tick, a refresh that found the same stacks):
        // no draw, so nothing is written to the terminal.
        if !changed {
            continue;
        }
        if let Err(e) = terminal.draw(|f| view::render(f, &state)) {
            tracing::warn!("draw failed, leaving: {e}");
            break;
        }
    }

    // A confirmation left open is recorded as cancelled, so no request stays without an outcome.
    // A change set's review left open is discarded, as Esc would have (briefly waited for, so
    // quitting does not leave a REVIEW_IN_PROGRESS stack behind).
    let mut discarding = None;
    if let Some(id) = state.gate.open_request().map(|r| r.id)
        && let Some(discard) = state.gate.cancel(id)
    {
        discarding = engine.submit_mutation(discard).ok();
    }
    if let Some(job) = discarding {
        let wait = async {
            while let Some(ev) = rx.recv().await {
                if matches!(ev, EngineEvent::MutationDone { job: done, .. } if done == job) {
                    break;
                }
            }
        };
        if tokio::time::timeout(DISCARD_ON_QUIT, wait).await.is_err() {
            tracing::warn!("quit before the open change set was discarded (job {job})");
        }
    }
    let interrupted = engine.shutdown();
    drop(terminal);
    drop(guard);
    if interrupted > 0 {
        crate::errln!(
            "opsdeck: {interrupted} running job(s) recorded as interrupted (see `opsdeck jobs`)"
        );
    }
    Ok(exit_code)
}

/// How long quitting waits for an open change-set review to be discarded.
const DISCARD_ON_QUIT: Duration = Duration::from_secs(15);

/// What a flow planned in the console may use: the engine's reads (recorded as jobs) and the
/// session's facts as they were when the flow started.
struct ConsoleCtx {
    engine: Engine,
    region: Option<String>,
    config: Arc<crate::config::Config>,
    profile: Option<String>,
    env_override: Option<crate::model::Environment>,
}

impl ConsoleCtx {
    fn new(engine: &Engine, state: &State) -> ConsoleCtx {
        ConsoleCtx {
            engine: engine.clone(),
            region: state.session.region.clone(),
            config: state.config.clone(),
            profile: state.session.profile.clone(),
            env_override: state.session.env_override,
        }
    }
}

impl crate::ops::SessionFacts for ConsoleCtx {
    fn region(&self) -> Option<String> {
        self.region.clone()
    }

    fn environment_of(&self, account: &str) -> crate::model::Environment {
        crate::setup::environment_of(
            &self.config,
            Some(account),
            self.profile.as_deref(),
            self.env_override,
        )
    }
}

impl crate::ops::PlanCtx for ConsoleCtx {
    fn read(
        &self,
        op: crate::ops::ReadOp,
    ) -> futures::future::BoxFuture<
        '_,
        crate::engine::ports::ProviderResult<crate::engine::ReadOutput>,
    > {
        Box::pin(self.engine.read(op))
    }
}

/// What running a `Cmd` needs besides the state.
struct Effects<'a> {
    engine: &'a Engine,
    paths: &'a Paths,
    /// Results of work moved off the UI thread come back here as messages.
    back: &'a mpsc::UnboundedSender<Msg>,
}

fn execute(state: &mut State, fx: &Effects, cmds: Vec<Cmd>) {
    let Effects {
        engine,
        paths,
        back,
    } = fx;
    for cmd in cmds {
        match cmd {
            Cmd::Read(op) => {
                let view = ViewKey::of(&op);
                match engine.submit_read(op, view.supersede_key()) {
                    Some(job) => state.read_submitted(view, job),
                    None => {
                        state.toast = Some(Toast {
                            level: ToastLevel::Error,
                            text: "the job store is unavailable".into(),
                        })
                    }
                }
            }
            Cmd::Plan(flow) => {
                let ctx = ConsoleCtx::new(engine, state);
                let back = (*back).clone();
                tokio::spawn(async move {
                    let planned = match flow {
                        Flow::Cfn(flow) => {
                            Planned::Cfn(crate::cfn::tui::flows::run(flow, &ctx).await)
                        }
                        Flow::Cost(flow) => {
                            Planned::Cost(crate::cost::tui::run_flow(flow, &ctx).await)
                        }
                    };
                    let _ = back.send(Msg::Planned(planned));
                });
            }
            Cmd::Refresh(op) => {
                let view = ViewKey::of(&op);
                let job = engine.submit_refresh(op, view.supersede_key());
                state.read_submitted(view, job);
            }
            Cmd::Execute(approved) => {
                if let Err(refused) = engine.submit_mutation(approved) {
                    state.toast = Some(Toast {
                        level: ToastLevel::Error,
                        text: format!("refused: {refused}"),
                    });
                }
            }
            Cmd::CancelJob(id) => {
                if !engine.cancel(id) {
                    state.toast = Some(Toast {
                        level: ToastLevel::Info,
                        text: format!("job {id} is not running"),
                    });
                }
            }
            Cmd::OpenPastLog { job, path } => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let opened = JobLog::open_existing(&path, JobLog::DEFAULT_RING)
                        .map(|log| JobHandle {
                            id: job,
                            log: Arc::new(std::sync::Mutex::new(log)),
                            notified: Arc::new(AtomicBool::new(false)),
                        })
                        .map_err(|e| format!("cannot read {path}: {e}"));
                    let _ = back.send(Msg::PastLogOpened(opened));
                });
            }
            Cmd::SearchLog { handle, needle } => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let found = handle
                        .log
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .search(&needle)
                        .map_err(|e| e.to_string());
                    let _ = back.send(Msg::SearchDone {
                        job: handle.id,
                        needle,
                        found,
                    });
                });
            }
            Cmd::LoadTheme(name) => {
                let loaded = Theme::load(&name, Some(&paths.themes_dir)).map_err(|e| e.to_string());
                let more = update(state, Msg::ThemeLoaded(loaded));
                execute(state, fx, more);
            }
            Cmd::LoadChecker => {
                // Parsing the rule pack takes longer than the first frame may: never before it.
                let back = (*back).clone();
                let paths = (*paths).clone();
                tokio::task::spawn_blocking(move || {
                    let checker = Arc::new(crate::compliance::Checker::load(&paths));
                    let _ = back.send(Msg::CheckerLoaded(crate::compliance::tui::SharedChecker(
                        checker,
                    )));
                });
            }
            Cmd::CheckLibrary(checker) => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let judged = crate::compliance::tui::judge_library(&checker.0);
                    let _ = back.send(Msg::LibraryJudged(Box::new(judged)));
                });
            }
            Cmd::ExportReport {
                report,
                format,
                stamp,
            } => {
                let back = (*back).clone();
                let dir = paths.data_dir.join("reports");
                tokio::task::spawn_blocking(move || {
                    let written =
                        crate::compliance::tui::export::write(&dir, &stamp, format, &report);
                    let _ = back.send(Msg::ExportDone(written));
                });
            }
            Cmd::Cost(cmd) => crate::cost::tui::run(cmd, paths, back),
            Cmd::Quit => state.quit = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::MemoryAudit;
    use crate::model::{JobRecord, JobState};

    fn lost(id: i64, kind: JobKind) -> RecoveredJob {
        RecoveredJob {
            record: lost_record(id, kind),
            origin: None,
        }
    }

    fn lost_record(id: i64, kind: JobKind) -> JobRecord {
        JobRecord {
            id,
            kind,
            operation: if kind == JobKind::Mutation {
                "delete-stack".into()
            } else {
                "list-stacks".into()
            },
            title: "t".into(),
            target: Some("stack web in 123456789012 / us-east-1 (DEV)".into()),
            state: JobState::Interrupted,
            created_ms: 0,
            started_ms: Some(0),
            finished_ms: Some(1),
            progress: None,
            error: None,
            log_path: None,
        }
    }

    #[test]
    fn changes_lost_in_a_crash_get_an_interrupted_audit_entry() {
        let audit = MemoryAudit::default();
        record_lost_changes(
            &audit,
            "alice",
            &[lost(1, JobKind::Read), lost(2, JobKind::Mutation)],
        );
        let records = audit.records();
        assert_eq!(records.len(), 1, "reads are not audited");
        assert_eq!(records[0].decision, Decision::Interrupted);
        assert_eq!(records[0].operation, "delete-stack");
        assert_eq!(records[0].target["job"], 2);
        assert_eq!(records[0].actor.os_user, "alice");
    }

    #[test]
    fn a_lost_change_keeps_the_actor_and_environment_recorded_with_its_request() {
        let audit = MemoryAudit::default();
        let origin = crate::engine::store::ChangeOrigin {
            actor: Actor {
                os_user: "alice".into(),
                principal: Some("arn:aws:iam::123456789012:role/ops".into()),
            },
            environment: "PRD".into(),
            request_id: 42,
            target: serde_json::json!({ "stack_name": "web", "account": "123456789012" }),
        };
        record_lost_changes(
            &audit,
            "bob",
            &[RecoveredJob {
                record: lost_record(7, JobKind::Mutation),
                origin: Some(origin),
            }],
        );
        let records = audit.records();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.decision, Decision::Interrupted);
        assert_eq!(r.environment, "PRD");
        assert_eq!(r.actor.os_user, "alice", "who asked, not who found it");
        assert_eq!(
            r.actor.principal.as_deref(),
            Some("arn:aws:iam::123456789012:role/ops")
        );
        assert_eq!(r.request_id, Some(42));
        assert_eq!(r.target["stack_name"], "web");
        assert_eq!(r.target["job"], 7);
        assert!(
            r.detail.as_deref().unwrap_or_default().contains("bob"),
            "{r:?}"
        );
    }
}
