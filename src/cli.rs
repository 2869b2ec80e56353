//! Command-line interface: the console's flags and the headless subcommands.

use crate::audit::{self, VerifyReport};
use crate::config::Paths;
use crate::engine::store::JobStore;
use crate::model::{Environment, JobRecord};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "A full-screen terminal console for operating AWS from a bastion host",
    long_about = "A full-screen terminal console for operating AWS from a bastion host.\n\n\
        Without a subcommand, opens the console. Credentials and region come from the standard AWS \
        chain (environment, profiles, SSO, instance role), as the aws CLI finds them."
)]
pub struct Cli {
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ConsoleArgs {
    /// Viewer mode: every change is refused; cannot be turned off while running.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// AWS profile (default: AWS_PROFILE or config).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION, the profile, or config). `prices refresh` takes it
    /// more than once.
    #[arg(long, global = true, value_name = "REGION", value_parser = region_arg, action = clap::ArgAction::Append)]
    pub region: Vec<String>,
    /// Environment to assume when config maps neither the account nor the profile.
    #[arg(long = "env", global = true, value_enum, value_name = "ENV")]
    pub env: Option<EnvArg>,
    /// Point every AWS client at this endpoint, e.g. a local emulator (also AWS_ENDPOINT_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Colour theme: dark, light, high-contrast, ansi16, or a file name in the themes dir.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/opsdeck/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Kubeconfig file (default: the KUBECONFIG list, else ~/.kube/config, as kubectl).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubernetes context to start in (default: the kubeconfig's current context).
    #[arg(long = "context", global = true, value_name = "NAME")]
    pub kube_context: Option<String>,
}

/// `--region` is checked like config's `aws.region`.
fn region_arg(name: &str) -> Result<String, String> {
    match crate::config::region_problem(name) {
        None => Ok(name.to_string()),
        Some(problem) => Err(problem),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvArg {
    #[value(name = "DEV", alias = "dev")]
    Dev,
    #[value(name = "TST", alias = "tst")]
    Tst,
    #[value(name = "PRD", alias = "prd")]
    Prd,
}

impl ConsoleArgs {
    pub fn options(&self) -> crate::setup::Options {
        crate::setup::Options {
            read_only: self.read_only,
            aws: crate::aws::AwsSettings {
                profile: self.profile.clone(),
                region: self.region.last().cloned(),
                endpoint_url: self.endpoint_url.clone(),
                ..crate::aws::AwsSettings::default()
            },
            env_override: self.env.map(Into::into),
            theme: self.theme.clone(),
            config_path: self.config.clone(),
            kube: crate::kube::KubeSettings {
                kubeconfig: self.kubeconfig.clone(),
                context: self.kube_context.clone(),
            },
        }
    }
}

impl From<EnvArg> for Environment {
    fn from(e: EnvArg) -> Environment {
        match e {
            EnvArg::Dev => Environment::Dev,
            EnvArg::Tst => Environment::Tst,
            EnvArg::Prd => Environment::Prd,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Deploy a template by change set: preview it with --plan, execute with --confirm STACK.
    ///
    /// Exit 0 done, nothing to do, or plan printed; 1 the change failed or was refused
    /// (read-only mode refuses both --plan and --confirm); 2 bad input; 130/143/129 stopped
    /// by SIGINT/SIGTERM/SIGHUP (after removing what the run made; a second signal exits at
    /// once).
    Deploy {
        /// A library template (e.g. s3-bucket; see templates/) or a template file.
        #[arg(value_name = "TEMPLATE")]
        template: String,
        /// The stack to create or update.
        #[arg(long, value_name = "NAME")]
        stack: String,
        /// A parameter value; repeat for each. Parameters not given keep their current value
        /// on an update, or take the template's default.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// A parameter whose value is read from an environment variable; required for NoEcho
        /// (secret) parameters, whose values must not appear in `ps` or shell history.
        #[arg(long = "param-env", value_name = "KEY=ENV_VAR")]
        param_envs: Vec<String>,
        /// Compute the change set, print it, and delete it again: nothing is changed.
        #[arg(long)]
        plan: bool,
        /// Execute the change set; must equal the stack name (the typed confirmation).
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
        /// Print JSON instead of text on stdout (progress goes to stderr either way).
        #[arg(long)]
        json: bool,
    },
    /// Judge templates and deployed stacks against the compliance rules (NIST SP 800-53 rev 5).
    ///
    /// PATH is a template file, a directory (every *.yaml, *.yml and *.json template in it) or a
    /// library template name; with no PATH and no --stack, the whole library is judged. The
    /// user's policies and waivers (config dir) apply.
    ///
    /// Exit 0 all pass (or waived); 1 an unwaived failure; 2 something could not be judged (a
    /// bad template, policy or waivers file, an AWS error) — the report is still written.
    Check {
        #[arg(value_name = "PATH")]
        paths: Vec<String>,
        /// A deployed stack to judge (its template and parameter values); repeat for each.
        #[arg(long = "stack", value_name = "NAME")]
        stacks: Vec<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Write the report to FILE instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// A template parameter value (templates only; stacks use their deployed values).
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Judge the live workloads of this kubeconfig context instead (deployments,
        /// statefulsets, daemonsets, jobs, cronjobs and pods no controller made).
        #[arg(long = "kube-context", value_name = "CTX", conflicts_with_all = ["paths", "stacks", "params"])]
        kube_context: Option<String>,
        /// With --kube-context: only this namespace (default: all namespaces).
        #[arg(long, value_name = "NS", requires = "kube_context")]
        namespace: Option<String>,
    },
    /// EKS: tokens for kubectl, and kubeconfig entries that use them.
    Eks {
        #[command(subcommand)]
        command: EksCommand,
    },
    /// Delete a stack and follow it until it is gone. Exit codes as for deploy.
    Delete {
        #[arg(long, value_name = "NAME")]
        stack: String,
        /// Must equal the stack name (the typed confirmation).
        #[arg(long, value_name = "NAME")]
        confirm: String,
        #[arg(long)]
        json: bool,
    },
    /// Run one action of the registry by its id (`opsdeck run continue-update-rollback --arg
    /// stack=web --confirm web`), planned exactly as the console plans it: the same gate,
    /// engine and audit log. A read runs at once; a change needs --plan (resolve and print what
    /// would run, change nothing) or --confirm TEXT (the dialog's answer: the name a typed
    /// confirmation asks for). `opsdeck run --list` lists the actions.
    ///
    /// Exit 0 done or planned; 1 refused or failed; 2 bad input (an unknown action, a missing
    /// or malformed argument).
    Run {
        /// The action's id (kebab-case, as in the audit log).
        #[arg(value_name = "ACTION", required_unless_present = "list")]
        action: Option<String>,
        /// An argument as KEY=VALUE; a key given again makes a list; KEY.NAME=VALUE sets one
        /// entry of an object argument (`values.http_port=8080`).
        #[arg(long = "arg", value_name = "KEY=VALUE")]
        args: Vec<String>,
        /// Resolve the change and print it; change nothing.
        #[arg(long)]
        plan: bool,
        /// Confirm the change: the text its confirmation asks for.
        #[arg(long, value_name = "TEXT")]
        confirm: Option<String>,
        /// Print JSON instead of text on stdout.
        #[arg(long)]
        json: bool,
        /// List the actions that can be run this way, with their arguments.
        #[arg(long)]
        list: bool,
    },
    /// The installers opsdeck can run: bundled ones and those in the config dir's installers/.
    ///
    /// Exit 0; 2 when a user installer cannot be loaded (named on stderr with file, line and
    /// key; the others are still listed).
    Installers {
        /// Print JSON (every manifest field, inputs, hash) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run an installer on targets: preview with --plan, run with --confirm ID.
    ///
    /// TARGET is local, ssh:HOST or ssm:INSTANCE_ID. Each target is preflighted (OS, RAM, disk,
    /// cores) and refused when it does not meet the manifest. Exit 0 done (or plan printed);
    /// 1 failed or refused (read-only mode refuses --confirm); 2 bad input, naming the field.
    Install {
        /// The installer's id (see `opsdeck installers`).
        #[arg(value_name = "ID")]
        installer: String,
        /// Where to run it; repeat or list several.
        #[arg(long = "target", value_name = "TARGET", required = true, num_args = 1..)]
        targets: Vec<String>,
        /// An input's value; repeat for each. Sensitive inputs must use --set-env.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// An input whose value is read from an environment variable (required for sensitive
        /// inputs: their values must not appear in `ps` or shell history).
        #[arg(long = "set-env", value_name = "KEY=ENV_VAR")]
        set_envs: Vec<String>,
        /// Targets running at once: N or N% (default 1).
        #[arg(long, value_name = "N")]
        max_concurrency: Option<String>,
        /// Failed targets tolerated before no further target starts: N or N% (default 0).
        #[arg(long, value_name = "N")]
        max_errors: Option<String>,
        /// Preflight every target and print what would run: nothing is changed.
        #[arg(long)]
        plan: bool,
        /// Run it; must equal the installer's id (the typed confirmation).
        #[arg(long, value_name = "ID")]
        confirm: Option<String>,
        /// Print JSON instead of text on stdout (the run's log goes to stderr either way).
        #[arg(long)]
        json: bool,
    },
    /// Estimate the monthly cost of templates and deployed stacks from the offline price
    /// catalogue.
    ///
    /// PATH is a template file, a directory or a library template name; with no PATH and no
    /// --stack, the whole library is estimated. Exit 0 ok; 1 over --max-total or
    /// --max-increase; 2 an error (a template that does not parse, a bad usage file, AWS).
    Cost {
        #[arg(value_name = "PATH|NAME")]
        paths: Vec<String>,
        /// A deployed stack to estimate (its template and parameter values); repeat for each.
        #[arg(long = "stack", value_name = "NAME")]
        stacks: Vec<String>,
        /// A template parameter value (templates only); repeat for each.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Usage of usage-priced resources (default: usage.yml in the config dir).
        #[arg(long, value_name = "FILE")]
        usage: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Write the report to FILE instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Exit 1 when the total monthly cost is over USD.
        #[arg(long, value_name = "USD")]
        max_total: Option<f64>,
        /// Exit 1 when the templates cost more than the stacks given by USD, or by N%.
        #[arg(long, value_name = "USD|N%")]
        max_increase: Option<String>,
    },
    /// Actual spend: month to date, recent months by service, the month-end forecast (Cost
    /// Explorer within the daily call budget; the free AWS/Billing metric as fallback).
    ///
    /// A report fetched within cost.cache_hours is used as it is. Exit 0 report printed, 2
    /// nothing could be read.
    Spend {
        /// Months before the current one.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=12))]
        months: u32,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Fetch again even when the cached report is fresh (Cost Explorer: $0.01 a request).
        #[arg(long)]
        refresh: bool,
        /// Read only the free AWS/Billing EstimatedCharges metric.
        #[arg(long)]
        free: bool,
    },
    /// Idle resources (Trusted Advisor's thresholds) and what each costs a month.
    Idle {
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// The price catalogue.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Ask the assistant: print its answer and the operations it proposes. A change is never
    /// run by `ask`; reads may run to answer (read-only mode allows them). Without a model
    /// (`[assistant] model_id`), or with --offline, common phrasings are understood offline.
    ///
    /// JSON: {"answer": "...", "operations": [{"op": "delete-stack", "target": {...},
    /// "mutating": true}], "usage": {"input_tokens": N, "output_tokens": N, "cost_usd": N}}.
    ///
    /// Exit 0 answered; 1 the model failed (what arrived is printed, then why); 2 bad input;
    /// 130 stopped by SIGINT.
    Ask {
        /// What to ask, in plain words (several words are joined).
        #[arg(value_name = "TEXT", required = true, num_args = 1..)]
        text: Vec<String>,
        /// Do not call the model: answer with the offline phrase parser.
        #[arg(long)]
        offline: bool,
        /// Print JSON instead of text on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Secrets opsdeck keeps in the OS keyring (the kernel keyring on Linux).
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
    /// Job history (newest first), including jobs interrupted by a crash or a dropped session.
    Jobs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// How many jobs to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// `opsdeck cost|spend|idle --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
}

impl From<ReportFormat> for crate::cost::headless::Format {
    fn from(f: ReportFormat) -> Self {
        use crate::cost::headless::Format;
        match f {
            ReportFormat::Text => Format::Text,
            ReportFormat::Json => Format::Json,
            ReportFormat::Csv => Format::Csv,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Fetch the AWS Price List bulk files and replace the catalogue in the data dir (it then
    /// overrides the bundled prices). Exit 0 replaced; 2 failed (the old catalogue stays).
    Refresh {
        /// Where the bulk files are: a mirror URL or an absolute directory (default:
        /// cost.offer_url).
        #[arg(long, value_name = "BASE")]
        offer_url: Option<String>,
    },
}

/// `opsdeck check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Summary, then failures by control family → control → finding.
    Text,
    /// The report (stable field names).
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// One row per finding.
    Csv,
    /// OSCAL 1.2 assessment-results.
    Oscal,
}

impl From<CheckFormat> for crate::compliance::export::Format {
    fn from(f: CheckFormat) -> Self {
        use crate::compliance::export::Format;
        match f {
            CheckFormat::Text => Format::Text,
            CheckFormat::Json => Format::Json,
            CheckFormat::Sarif => Format::Sarif,
            CheckFormat::Csv => Format::Csv,
            CheckFormat::Oscal => Format::Oscal,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EksCommand {
    /// Print an ExecCredential with an EKS token, signed from the AWS credential chain (so
    /// kubectl can use opsdeck as its exec plugin; no aws CLI needed). Nothing else goes to
    /// stdout. Exit 0, or 2 when no token could be made.
    Token {
        /// The EKS cluster's name.
        #[arg(long, value_name = "NAME")]
        cluster: String,
    },
    /// Write (or merge) a kubeconfig context for an EKS cluster whose user runs
    /// `opsdeck eks token`, like `aws eks update-kubeconfig`. The file is --kubeconfig, else
    /// the KUBECONFIG file already holding the cluster, else the first KUBECONFIG file, else
    /// ~/.kube/config.
    Kubeconfig {
        /// The EKS cluster's name.
        #[arg(long, value_name = "NAME")]
        cluster: String,
        /// The context's name (default: the cluster's ARN).
        #[arg(long, value_name = "NAME")]
        alias: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Read the secret from stdin (not echoed on a terminal) and keep it in the keyring. On
    /// Linux it lasts until reboot (or 3 days unused); AWS_BEARER_TOKEN_BEDROCK is the
    /// fallback.
    Set {
        #[arg(value_enum)]
        name: SecretName,
    },
    /// Remove the secret from the keyring.
    Delete {
        #[arg(value_enum)]
        name: SecretName,
    },
}

/// The secrets opsdeck keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretName {
    /// The Bedrock API key (bearer auth), instead of AWS credentials for Bedrock.
    #[value(name = "bedrock-api-key")]
    BedrockApiKey,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; print OK or the first broken line. Exit 0 OK, 1 broken, 2 error.
    Verify {
        /// Audit log to check (default: the data dir's audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `opsdeck audit verify`. Returns the exit code.
pub fn audit_verify(paths: &Paths, file: Option<PathBuf>, out: &mut dyn Write) -> i32 {
    let path = file.unwrap_or_else(|| paths.audit_log.clone());
    match audit::verify(&path) {
        Ok(VerifyReport::Ok { entries }) => {
            let _ = writeln!(
                out,
                "OK: {entries} entries, chain intact ({})",
                path.display()
            );
            0
        }
        Ok(VerifyReport::Broken { line, reason }) => {
            let _ = writeln!(out, "BROKEN: {}:{line}: {reason}", path.display());
            1
        }
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            2
        }
    }
}

/// `opsdeck jobs`. Returns the exit code.
pub fn jobs(paths: &Paths, json: bool, limit: usize, out: &mut dyn Write) -> anyhow::Result<i32> {
    if !paths.jobs_db.exists() {
        if json {
            writeln!(out, "[]")?;
        } else {
            writeln!(
                out,
                "no jobs yet ({} does not exist)",
                paths.jobs_db.display()
            )?;
        }
        return Ok(0);
    }
    let store = JobStore::open(&paths.jobs_db)?;
    // Listing also settles jobs whose process died, so it must close their audit trail too.
    let recovered = store.recover_interrupted()?;
    if recovered
        .iter()
        .any(|j| j.record.kind == crate::model::JobKind::Mutation)
    {
        let audit = crate::audit::AuditLog::open(&paths.audit_log)?;
        crate::setup::record_lost_changes(&audit, &crate::setup::os_user(), &recovered);
    }
    let records = store.recent(limit)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &records)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:>6}  {:<11}  {:<9}  {:<16}  {:>9}  TITLE",
            "ID", "STATE", "KIND", "OPERATION", "DURATION"
        )?;
        for r in &records {
            writeln!(out, "{}", job_row(r))?;
        }
    }
    Ok(0)
}

fn job_row(r: &JobRecord) -> String {
    let duration = r
        .duration_ms(crate::model::now_ms())
        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let mut row = format!(
        "{:>6}  {:<11}  {:<9}  {:<16}  {:>9}  {}",
        r.id,
        r.state.as_str(),
        r.kind.as_str(),
        r.operation,
        duration,
        r.title
    );
    if let Some(err) = &r.error {
        row.push_str(&format!(" — {err}"));
    }
    // The store may hold text from AWS or an older version: never print control characters.
    let mut clean = String::new();
    crate::engine::joblog::sanitize_into(&row, &mut clean);
    clean
}
