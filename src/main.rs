//! opsdeck: parse the command line, load config, then open the console or run a headless
//! command.

#![deny(clippy::print_stdout, clippy::print_stderr)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::Parser;
use opsdeck::cli::{
    AuditCommand, Cli, Command, EksCommand, PricesCommand, SecretCommand, SecretName,
};
use opsdeck::config::Paths;
use opsdeck::headless;
use opsdeck::tui::app;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            opsdeck::errln!("opsdeck: {}", opsdeck::output::error_text(&e));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    // The Bedrock API key lives in the kernel keyring, which a process without a session
    // keyring of its own (SSH without pam_keyinit, cron, sudo) cannot use: join one now,
    // before any thread starts (threads inherit it).
    if matches!(
        cli.command,
        None | Some(Command::Ask { .. } | Command::Secret { .. })
    ) && let Err(e) = opsdeck::assistant::secret::ensure_session_keyring()
    {
        tracing::info!("no session keyring could be joined: {e}");
    }
    let paths = Paths::discover()?;
    let mut out = opsdeck::output::QuietPipe::new(std::io::stdout());
    let refresh = matches!(
        cli.command,
        Some(Command::Prices {
            command: PricesCommand::Refresh { .. }
        })
    );
    if cli.console.region.len() > 1 && !refresh {
        opsdeck::errln!("opsdeck: give --region once (only `prices refresh` takes several)");
        return Ok(2);
    }
    match cli.command {
        Some(Command::Audit {
            command: AuditCommand::Verify { file },
        }) => Ok(opsdeck::cli::audit_verify(&paths, file, &mut out)),
        Some(Command::Jobs { json, limit }) => opsdeck::cli::jobs(&paths, json, limit, &mut out),
        Some(Command::Installers { json }) => {
            Ok(opsdeck::installers::headless::list(&paths, json, &mut out))
        }
        Some(Command::Install {
            installer,
            targets,
            sets,
            set_envs,
            max_concurrency,
            max_errors,
            plan,
            confirm,
            json,
        }) => {
            let opts = cli.console.options();
            let args = opsdeck::installers::headless::InstallArgs {
                installer,
                targets,
                sets,
                set_envs,
                max_concurrency,
                max_errors,
                plan,
                confirm,
                json,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::installers::headless::install(
                &opts, &paths, args, &mut out,
            )))
        }
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
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(headless::deploy(&opts, &paths, args, &mut out)))
        }
        Some(Command::Check {
            format,
            output,
            kube_context: Some(context),
            namespace,
            ..
        }) => {
            let opts = cli.console.options();
            let args = opsdeck::kube::headless::KubeCheckArgs {
                context,
                namespace,
                format: format.into(),
                output,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::kube::headless::check(
                &opts, &paths, args, &mut out,
            )))
        }
        Some(Command::Eks {
            command: EksCommand::Token { cluster },
        }) => {
            let opts = cli.console.options();
            // No job store, no audit log: kubectl runs this for every token, and signing
            // touches no service.
            Ok(runtime()?.block_on(opsdeck::kube::headless::token(&opts, &cluster, &mut out)))
        }
        Some(Command::Eks {
            command: EksCommand::Kubeconfig { cluster, alias },
        }) => {
            let opts = cli.console.options();
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::kube::headless::kubeconfig(
                &opts, &paths, &cluster, alias, &mut out,
            )))
        }
        Some(Command::Check {
            paths: templates,
            stacks,
            format,
            output,
            params,
            ..
        }) => {
            let opts = cli.console.options();
            let args = headless::CheckArgs {
                paths: templates,
                stacks,
                format: format.into(),
                output,
                params,
            };
            opsdeck::diagnostics::init(&paths);
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
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(headless::delete(&opts, &paths, args, &mut out)))
        }
        Some(Command::Run {
            action,
            args,
            plan,
            confirm,
            json,
            list,
        }) => {
            if list {
                return Ok(headless::run::list(&mut out));
            }
            let opts = cli.console.options();
            let args = headless::run::RunArgs {
                action: action.unwrap_or_default(),
                args,
                plan,
                confirm,
                json,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(headless::run::run(&opts, &paths, args, &mut out)))
        }
        Some(Command::Cost {
            paths: templates,
            stacks,
            params,
            usage,
            format,
            output,
            max_total,
            max_increase,
        }) => {
            let opts = cli.console.options();
            let max_increase = match max_increase
                .as_deref()
                .map(opsdeck::cost::headless::Increase::parse)
                .transpose()
            {
                Ok(v) => v,
                Err(e) => {
                    opsdeck::errln!("opsdeck cost: {e}");
                    return Ok(2);
                }
            };
            let args = opsdeck::cost::headless::CostArgs {
                paths: templates,
                stacks,
                params,
                usage,
                format: format.into(),
                output,
                max_total,
                max_increase,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::cost::headless::cost(&opts, &paths, args, &mut out)))
        }
        Some(Command::Spend {
            months,
            format,
            refresh,
            free,
        }) => {
            let opts = cli.console.options();
            let args = opsdeck::cost::headless::SpendArgs {
                months,
                format: format.into(),
                refresh,
                free,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::cost::headless::spend(
                &opts, &paths, args, &mut out,
            )))
        }
        Some(Command::Idle { format }) => {
            let opts = cli.console.options();
            let args = opsdeck::cost::headless::IdleArgs {
                format: format.into(),
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::cost::headless::idle(&opts, &paths, args, &mut out)))
        }
        Some(Command::Prices {
            command: PricesCommand::Refresh { offer_url },
        }) => {
            let opts = cli.console.options();
            let regions = cli.console.region.clone();
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::cost::headless::prices_refresh(
                &opts, &paths, regions, offer_url, &mut out,
            )))
        }
        Some(Command::Ask {
            text,
            offline,
            json,
        }) => {
            let opts = cli.console.options();
            let args = opsdeck::assistant::headless::AskArgs {
                text: text.join(" "),
                offline,
                json,
            };
            opsdeck::diagnostics::init(&paths);
            Ok(runtime()?.block_on(opsdeck::assistant::headless::ask(
                &opts, &paths, args, &mut out,
            )))
        }
        Some(Command::Secret { command }) => Ok(match command {
            SecretCommand::Set {
                name: SecretName::BedrockApiKey,
            } => opsdeck::assistant::headless::secret_set(),
            SecretCommand::Delete {
                name: SecretName::BedrockApiKey,
            } => opsdeck::assistant::headless::secret_delete(),
        }),
        None => {
            let opts = cli.console.options();
            let prepared = app::prepare(&opts, paths.clone())?;
            opsdeck::diagnostics::init(&paths);
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
