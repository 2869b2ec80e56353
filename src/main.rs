//! opsdeck: parse the command line, load config, then open the console or run a headless
//! command.

use clap::Parser;
use opsdeck::cli::{AuditCommand, Cli, Command};
use opsdeck::config::Paths;
use opsdeck::providers::aws::AwsSettings;
use opsdeck::tui::app;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("opsdeck: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let paths = Paths::discover()?;
    let mut out = std::io::stdout();
    match cli.command {
        Some(Command::Audit {
            command: AuditCommand::Verify { file },
        }) => Ok(opsdeck::cli::audit_verify(&paths, file, &mut out)),
        Some(Command::Jobs { json, limit }) => opsdeck::cli::jobs(&paths, json, limit, &mut out),
        None => {
            let args = cli.console;
            let opts = app::Options {
                read_only: args.read_only,
                aws: AwsSettings {
                    profile: args.profile,
                    region: args.region,
                    endpoint_url: args.endpoint_url,
                    ..AwsSettings::default()
                },
                env_override: args.env.map(Into::into),
                theme: args.theme,
                config_path: args.config,
            };
            let prepared = app::prepare(&opts, paths.clone())?;
            init_tracing(&paths);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(app::run(prepared))
        }
    }
}

/// Diagnostics go to a file in the data dir, never to the terminal the console draws on.
fn init_tracing(paths: &Paths) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.trace_log);
    let Ok(file) = file else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}
