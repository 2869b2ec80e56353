//! The app loop: set up, draw the first frame before anything touches the network, then turn
//! terminal, engine and signal events into `Msg`s, run the resulting `Cmd`s, and redraw only
//! when something happened.

use crate::audit::AuditSink;
use crate::aws::AwsSettings;
use crate::config::Paths;
use crate::config::theme::{ColorDepth, Theme};
use crate::engine::joblog::JobLog;
use crate::engine::store::JobStore;
use crate::engine::task::JobHandle;
use crate::engine::{Engine, EngineConfig, EngineEvent};
use crate::model::now_ms;
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
use std::time::{Duration, Instant};
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
    /// `[assistant]`, resolved: the Chat pane's model.
    pub assistant: crate::config::settings::AssistantSettings,
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
        settings,
        recovered,
    } = crate::setup::open(opts, &paths)?;
    let theme = Theme::load(&settings.theme, Some(&paths.themes_dir))?;
    let depth = ColorDepth::from_env();
    let recovered = recovered.len();
    let session = Session {
        os_user,
        profile: settings.aws.profile.clone(),
        region: settings.aws.region.clone(),
        endpoint_url: settings.aws.endpoint_url.clone(),
        env_override: settings.env_override,
        kube: settings.kube.clone(),
        role,
        ..Session::default()
    };
    let mut state = State::new(session, config, gate, &theme, depth);
    state.installers.dir = paths.installers_dir.clone();
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
    state.chat.model = settings.assistant.model_id.clone();
    match store.records(crate::assistant::HISTORY_KIND, 0, CHAT_HISTORY) {
        Ok(records) => state
            .chat
            .restore(records.into_iter().map(|(_, r)| r).collect()),
        Err(e) => state
            .chat
            .note(format!("the chat history could not be read: {e}")),
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
        aws: settings.aws,
        assistant: settings.assistant,
        recovered,
    })
}

/// Lines of earlier chats shown again at start.
const CHAT_HISTORY: usize = 200;

type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Run the console until the person quits or a signal ends it. Returns the exit code.
pub async fn run(prepared: Prepared) -> anyhow::Result<i32> {
    let Prepared {
        mut state,
        store,
        audit,
        paths,
        aws,
        assistant,
        ..
    } = prepared;

    let guard = TerminalGuard::enter().context("cannot set up the terminal (is this a TTY?)")?;
    let backend = CrosstermBackend::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    let mut terminal: Term = Terminal::new(backend)?;
    // The state knows the terminal's size (how many log lines fit, say); ioctl, no round trip.
    if let Ok(size) = terminal.size() {
        state.term_size = (size.width, size.height);
    }
    // The first frame: nothing above waited for the network.
    terminal.draw(|f| view::render(f, &state))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<EngineEvent>();
    let binding = state.gate.binding();
    let assistant = crate::assistant::tui::task::Runtime::new(assistant, aws.clone());
    let session_aws = aws.clone();
    let kube = state.session.kube.clone();
    let providers =
        async move { Arc::new(crate::aws::providers_with(&aws, &kube, binding).await) }.boxed();
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
        assistant: &assistant,
        aws: &session_aws,
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
    // Something on screen changed since the last frame; drawn at most once per FRAME, so a
    // flood of updates costs at most ~60 frames a second, and nothing at all while idle.
    let mut dirty = false;
    let mut last_draw = Instant::now();
    loop {
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => Msg::Key(key),
                Some(Ok(Event::Resize(width, height))) => Msg::Resize { width, height },
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
            // A change waited for the frame budget: draw it now.
            _ = tokio::time::sleep_until(next_frame), if dirty => {
                // Paced from the start of a draw, so frames come every 16 ms, not 16 + draw.
                let drawing = Instant::now();
                if let Err(e) = terminal.draw(|f| view::render(f, &state)) {
                    tracing::warn!("draw failed, leaving: {e}");
                    break;
                }
                last_draw = drawing;
                dirty = false;
                continue;
            },
        };
        // A key is answered at once; only engine floods wait for the frame budget.
        let key = matches!(msg, Msg::Key(_));
        let cmds = update(&mut state, msg);
        dirty |= !state.quiet;
        execute(&mut state, &fx, cmds);
        // Coalesce bursts: fold the engine events already waiting into the state before one
        // redraw (a bounded number, so keys are still answered under a flood).
        for _ in 0..FOLD_PER_TURN {
            let Ok(ev) = rx.try_recv() else {
                break;
            };
            let cmds = update(&mut state, Msg::Engine(ev));
            dirty |= !state.quiet;
            execute(&mut state, &fx, cmds);
        }
        if state.quit {
            break;
        }
        // Nothing on screen changed (an idle tick, a refresh that found the same stacks): no
        // draw, so nothing is written to the terminal. Within the frame budget of the last
        // draw, the change waits for the timer above.
        if !dirty || (last_draw.elapsed() < FRAME && !key) {
            continue;
        }
        let drawing = Instant::now();
        if let Err(e) = terminal.draw(|f| view::render(f, &state)) {
            tracing::warn!("draw failed, leaving: {e}");
            break;
        }
        last_draw = drawing;
        dirty = false;
    }

    // A confirmation left open is recorded as cancelled, so no request stays without an outcome.
    // A change set's review left open is discarded, as Esc would have (briefly waited for, so
    // quitting does not leave a REVIEW_IN_PROGRESS stack behind).
    let mut discarding = None;
    let mut unrecorded = None;
    if let Some(id) = state.gate.open_request().map(|r| r.id)
        && let Some(dismissal) = state.gate.cancel(id)
    {
        unrecorded = dismissal.unrecorded;
        if let Some(discard) = dismissal.undo {
            discarding = engine.submit_mutation(discard).ok();
        }
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
    if let Some(problem) = unrecorded {
        crate::errln!("opsdeck: the open confirmation was dismissed, but {problem}");
    }
    if interrupted > 0 {
        crate::errln!(
            "opsdeck: {interrupted} running job(s) recorded as interrupted (see `opsdeck jobs`)"
        );
    }
    Ok(exit_code)
}

/// At most one frame per this long, however fast updates arrive.
const FRAME: Duration = Duration::from_millis(16);

/// Engine events folded into the state between two looks at the terminal's keys.
const FOLD_PER_TURN: usize = 1_000;

/// How long quitting waits for an open change-set review to be discarded.
const DISCARD_ON_QUIT: Duration = Duration::from_secs(15);

/// What a flow planned in the console (or a tool the assistant calls) may use: the engine's
/// reads (recorded as jobs), the loaded compliance rules, the job store, and the session's
/// facts as they were when the flow started.
struct ConsoleCtx {
    engine: Engine,
    region: Option<String>,
    config: Arc<crate::config::Config>,
    profile: Option<String>,
    env_override: Option<crate::model::Environment>,
    checker: Arc<crate::compliance::Checker>,
    pricing: Option<Arc<crate::cost::headless::PricingInputs>>,
    /// The user's installers folder.
    installers_dir: std::path::PathBuf,
    /// The cluster the console shows (or `--context` before it has started).
    kube_context: Option<crate::kube::model::ContextRef>,
}

impl ConsoleCtx {
    fn new(engine: &Engine, state: &State) -> ConsoleCtx {
        ConsoleCtx {
            engine: engine.clone(),
            region: state.session.region.clone(),
            config: state.config.clone(),
            profile: state.session.profile.clone(),
            env_override: state.session.env_override,
            checker: state.compliance.checker(),
            installers_dir: state.installers.dir.clone(),
            pricing: state.cost.data_dir.clone().map(|data_dir| {
                Arc::new(crate::cost::headless::PricingInputs {
                    catalogue: state.cost.catalogue(),
                    usage: state.cost.usage.clone(),
                    settings: state.config.cost.clone(),
                    data_dir,
                })
            }),
            kube_context: crate::ops::SessionFacts::kube_context(state),
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

    fn kube_environment(&self, context: &str, cluster: &str) -> crate::model::Environment {
        crate::setup::kube_environment_of(&self.config, context, cluster, self.env_override)
    }

    fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
        self.kube_context.clone()
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

    fn checker(&self) -> Option<Arc<crate::compliance::Checker>> {
        Some(self.checker.clone())
    }

    fn pricing(&self) -> Option<Arc<crate::cost::headless::PricingInputs>> {
        self.pricing.clone()
    }

    fn jobs(&self, limit: usize) -> Vec<crate::model::JobRecord> {
        self.engine.store().recent(limit).unwrap_or_default()
    }

    fn installers(&self) -> Option<crate::installers::plan::InstallerSource> {
        Some(crate::installers::plan::InstallerSource {
            dir: self.installers_dir.clone(),
            targets: self.config.targets.clone(),
        })
    }
}

/// What running a `Cmd` needs besides the state.
struct Effects<'a> {
    engine: &'a Engine,
    paths: &'a Paths,
    /// Results of work moved off the UI thread come back here as messages.
    back: &'a mpsc::UnboundedSender<Msg>,
    /// The assistant's model client (built on the first message).
    assistant: &'a Arc<crate::assistant::tui::task::Runtime>,
    /// Where the AWS clients point (`:region` rebuilds them from it).
    aws: &'a AwsSettings,
}

fn execute(state: &mut State, fx: &Effects, cmds: Vec<Cmd>) {
    let Effects {
        engine,
        paths,
        back,
        assistant,
        aws,
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
                        Flow::Action { action, args } => {
                            Planned::Action(match action.spec().plan {
                                Some(plan) => {
                                    match crate::registry::check_args(action.spec(), &args) {
                                        Ok(()) => plan(&ctx, &args).await,
                                        Err(e) => Err(e),
                                    }
                                }
                                None => Err(crate::ops::PlanError::Input(format!(
                                    "{} has no plan",
                                    action.spec().id
                                ))),
                            })
                        }
                        Flow::Cfn(flow) => {
                            Planned::Cfn(crate::cfn::tui::flows::run(flow, &ctx).await)
                        }
                        Flow::Install(flow) => {
                            Planned::Install(crate::installers::tui::run(flow, &ctx).await)
                        }
                        Flow::Kube(flow) => {
                            Planned::Kube(crate::kube::tui::flows::run(flow, &ctx).await)
                        }
                        Flow::Cost(flow) => {
                            Planned::Cost(crate::cost::tui::run_flow(flow, &ctx).await)
                        }
                    };
                    let _ = back.send(Msg::Planned(planned));
                });
            }
            Cmd::ReadLogWindow {
                handle,
                start,
                count,
            } => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let lines = handle
                        .log
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .range(start, count)
                        .map_err(|e| e.to_string());
                    let window = lines.map(|lines| crate::tui::jobs::LogWindow {
                        job: handle.id,
                        start,
                        lines,
                    });
                    let _ = back.send(Msg::LogWindowRead(window));
                });
            }
            Cmd::DrainStream(job) => {
                let _ = back.send(Msg::Engine(EngineEvent::StreamReady(job)));
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
            Cmd::SaveLog { handle, file } => {
                let back = (*back).clone();
                let dir = paths.data_dir.join("logs");
                tokio::task::spawn_blocking(move || {
                    let saved = save_log(&handle, file, &dir);
                    let _ = back.send(Msg::LogSaved(saved));
                });
            }
            Cmd::LoadTheme(name) => {
                // A theme is a user file: read off the UI thread like every other.
                let back = (*back).clone();
                let dir = paths.themes_dir.clone();
                tokio::task::spawn_blocking(move || {
                    let loaded = Theme::load(&name, Some(&dir)).map_err(|e| e.to_string());
                    let _ = back.send(Msg::ThemeLoaded(loaded));
                });
            }
            Cmd::LoadChecker(settings) => {
                // Parsing the rule pack takes longer than the first frame may: never before it.
                let back = (*back).clone();
                let paths = (*paths).clone();
                tokio::task::spawn_blocking(move || {
                    let checker = Arc::new(crate::compliance::Checker::load(&paths, &settings));
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
            Cmd::JudgeStack(judgement) => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let _ = back.send(Msg::StackJudged(Box::new(judgement.run())));
                });
            }
            Cmd::JudgeDeploy(judgement) => {
                let back = (*back).clone();
                tokio::task::spawn_blocking(move || {
                    let (id, verdict) = judgement.run();
                    let _ = back.send(Msg::DeployJudged { id, verdict });
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
            Cmd::Cost(cmd) => crate::cost::tui::run(cmd, paths, engine.store(), back),
            Cmd::Assistant(crate::assistant::tui::AssistantCmd::Turn(request)) => {
                let ctx: Arc<dyn crate::ops::PlanCtx> = Arc::new(ConsoleCtx::new(engine, state));
                crate::assistant::tui::task::start(
                    state,
                    engine,
                    (*assistant).clone(),
                    ctx,
                    *request,
                );
            }
            Cmd::Assistant(crate::assistant::tui::AssistantCmd::ClearHistory) => {
                let store = engine.store().clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = store.delete_records(crate::assistant::HISTORY_KIND) {
                        tracing::warn!("chat history not cleared: {e}");
                    }
                });
            }
            Cmd::SetRegion(region) => {
                let mut settings = (*aws).clone();
                settings.region = Some(region);
                let binding = state.gate.binding();
                let kube = state.session.kube.clone();
                engine.set_providers(
                    async move {
                        Arc::new(crate::aws::providers_with(&settings, &kube, binding).await)
                    }
                        .boxed(),
                );
            }
            Cmd::Quit => state.quit = true,
        }
    }
}

/// Write a job's log to `file` (which must not exist) or to `dir/job-<id>-<ms>.log`, 0600.
fn save_log(
    handle: &JobHandle,
    file: Option<std::path::PathBuf>,
    dir: &std::path::Path,
) -> Result<(std::path::PathBuf, u64), String> {
    let path = match file {
        Some(path) => path,
        None => {
            crate::files::ensure_private_dir(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            dir.join(format!("job-{}-{}.log", handle.id, now_ms()))
        }
    };
    let file = crate::files::create_new_private_file(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists already; name another file", path.display())
        } else {
            format!("cannot create {}: {e}", path.display())
        }
    })?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    // The lock is held only to take the export's parts, not while it is written.
    let export = handle
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .export();
    let lines = export
        .write_to(&mut out)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((path, lines))
}
