//! opsdeck: parse the command line, load config, then open the console or run a headless
//! command.

use clap::Parser;
use opsdeck::cli::{AuditCommand, Cli, Command};
use opsdeck::config::Paths;
use opsdeck::headless;
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
        Some(Command::Deploy {
            template,
            stack,
            params,
            param_envs,
            plan,
            confirm,
            json,
        }) => {
            let opts = cli.console.options();
            let args = headless::DeployArgs {
                template,
                stack,
                params,
                param_envs,
                plan,
                json,
                confirm,
            };
            init_tracing(&paths);
            Ok(runtime()?.block_on(headless::deploy(&opts, &paths, args, &mut out)))
        }
        Some(Command::Check {
            paths: templates,
            stacks,
            format,
            output,
            params,
        }) => {
            let opts = cli.console.options();
            let args = headless::CheckArgs {
                paths: templates,
                stacks,
                format: format.into(),
                output,
                params,
            };
            init_tracing(&paths);
            Ok(runtime()?.block_on(headless::check(&opts, &paths, args, &mut out)))
        }
        Some(Command::Delete {
            stack,
            confirm,
            json,
        }) => {
            let opts = cli.console.options();
            let args = headless::DeleteArgs {
                stack,
                confirm,
                json,
            };
            init_tracing(&paths);
            Ok(runtime()?.block_on(headless::delete(&opts, &paths, args, &mut out)))
        }
        None => {
            let opts = cli.console.options();
            let prepared = app::prepare(&opts, paths.clone())?;
            init_tracing(&paths);
            runtime()?.block_on(app::run(prepared))
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Diagnostics go to a file in the data dir, never to the terminal the console draws on.
fn init_tracing(paths: &Paths) {
    if let Some(dir) = paths.trace_log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.trace_log);
    let Ok(file) = file else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // At trace level the SDK logs request bodies, and a CreateChangeSet body carries NoEcho
    // parameter values: cap the SDK's runtime whatever OPSDECK_LOG asks for.
    let filter = [
        "aws_smithy_runtime=info",
        "aws_smithy_runtime_api=info",
        "aws_smithy_http_client=info",
        "hyper=info",
    ]
    .into_iter()
    .filter_map(|d| d.parse().ok())
    .fold(filter, |f, d| f.add_directive(d));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}
