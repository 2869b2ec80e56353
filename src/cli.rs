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
    /// AWS region (default: AWS_REGION, the profile, or config).
    #[arg(long, global = true, value_name = "REGION", value_parser = region_arg)]
    pub region: Option<String>,
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
                region: self.region.clone(),
                endpoint_url: self.endpoint_url.clone(),
                ..crate::aws::AwsSettings::default()
            },
            env_override: self.env.map(Into::into),
            theme: self.theme.clone(),
            config_path: self.config.clone(),
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
        /// An argument as KEY=VALUE; a key given again makes a list.
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
