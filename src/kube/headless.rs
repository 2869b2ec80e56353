//! Kubernetes' headless commands:
//!
//! * `opsdeck eks token --cluster NAME [--region R] [--profile P]`: an ExecCredential on
//!   stdout (kubectl's exec plugin protocol), signed from the AWS credential chain. Signing
//!   asks no service anything, so this writes no job record and no audit entry; it prints the
//!   token and nothing else on stdout.
//! * `opsdeck eks kubeconfig --cluster NAME [--alias CTX] [--kubeconfig FILE]`: DescribeCluster
//!   (a read, through the engine), then a context whose user runs `opsdeck eks token`, written
//!   or merged like `aws eks update-kubeconfig` does.
//! * `opsdeck check --kube-context CTX [--namespace NS]`: the context's live workloads judged
//!   by the rule pack, into the same report formats as templates (exit 0/1/2 likewise).

use crate::compliance::Checker;
use crate::compliance::export::{self, Format};
use crate::config::Paths;
use crate::engine::ReadOutput;
use crate::headless::runner::{Runner, Stop};
use crate::kube::model::ContextRef;
use crate::kube::ops::KubeRead;
use crate::kube::port::KubeOutput;
use crate::kube::provider::{kubeconfig, token};
use crate::ops::{ReadOp, ReadScope};
use crate::setup::Options;
use aws_credential_types::provider::ProvideCredentials;
use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

/// `opsdeck eks token`. Returns the exit code.
pub async fn token(opts: &Options, cluster: &str, out: &mut dyn Write) -> i32 {
    match make_token(opts, cluster).await {
        Ok(credential) => match writeln!(out, "{credential}").and_then(|_| out.flush()) {
            Ok(()) => 0,
            Err(e) => {
                crate::errln!("opsdeck eks token: cannot write the credential: {e}");
                2
            }
        },
        Err(e) => {
            crate::errln!("opsdeck eks token: {e}");
            2
        }
    }
}

async fn make_token(opts: &Options, cluster: &str) -> Result<String, String> {
    let settings = crate::aws::AwsSettings {
        profile: opts.aws.profile.clone(),
        region: opts.aws.region.clone(),
        ..crate::aws::AwsSettings::default()
    };
    let sdk = crate::aws::sdk_config(&settings).await;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS region: use --region, AWS_REGION or the profile's region")?;
    let provider = sdk
        .credentials_provider()
        .ok_or("no AWS credential provider is configured")?;
    let creds = provider.provide_credentials().await.map_err(|e| {
        format!(
            "no usable AWS credentials ({}); check `AWS_PROFILE`, `aws sso login` or the instance role",
            crate::redact::redact(&e.to_string())
        )
    })?;
    let now = SystemTime::now();
    let signed = token::eks_token(&creds, &region, cluster, now)?;
    let api = token::exec_api_version(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref());
    Ok(token::exec_credential(
        &signed,
        now + token::TOKEN_LIFETIME,
        api,
    ))
}

/// `opsdeck eks kubeconfig`. Returns the exit code.
pub async fn kubeconfig(
    opts: &Options,
    paths: &Paths,
    cluster: &str,
    alias: Option<String>,
    out: &mut dyn Write,
) -> i32 {
    let mut runner = match Runner::start(opts, paths) {
        Ok(runner) => runner,
        Err(e) => {
            crate::errln!("opsdeck eks kubeconfig: {}", crate::output::error_text(&e));
            return 2;
        }
    };
    let result = write_kubeconfig(&mut runner, opts, cluster, alias, out).await;
    runner.finish("eks kubeconfig", result)
}

async fn write_kubeconfig(
    runner: &mut Runner,
    opts: &Options,
    cluster: &str,
    alias: Option<String>,
    out: &mut dyn Write,
) -> Result<(), Stop> {
    let scope = ReadScope {
        region: runner
            .region
            .clone()
            .unwrap_or_else(|| "the default region".into()),
    };
    let op = ReadOp::Kube(KubeRead::DescribeEksCluster {
        scope,
        name: cluster.to_string(),
    });
    let endpoint = match runner.read(op).await {
        Ok(ReadOutput::Kube(KubeOutput::EksEndpoint(e))) => e,
        Ok(_) => return Err(Stop::Failed("unexpected answer to DescribeCluster".into())),
        Err(e) => {
            return Err(Stop::Failed(format!(
                "cannot describe EKS cluster {cluster}: {e}"
            )));
        }
    };
    let command = std::env::current_exe()
        .map_err(|e| Stop::Failed(format!("cannot tell where this opsdeck is: {e}")))?
        .display()
        .to_string();
    let entry = kubeconfig::EksEntry {
        arn: endpoint.arn.clone(),
        name: endpoint.name.clone(),
        region: endpoint.region.clone(),
        endpoint: endpoint.endpoint.clone(),
        certificate_authority: endpoint.certificate_authority.clone(),
        profile: opts
            .aws
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())),
        alias,
        command,
    };
    let file: PathBuf = kubeconfig::target_file(opts.kube.kubeconfig.as_deref(), &entry.arn)
        .ok_or_else(|| {
            Stop::Input("no kubeconfig file to write: set HOME, KUBECONFIG or --kubeconfig".into())
        })?;
    let context = kubeconfig::write_entry(&file, &entry).map_err(|e| Stop::Failed(e.0))?;
    let _ = writeln!(
        out,
        "Added context {context} for {} to {} (current context); its token comes from `opsdeck eks token`",
        entry.arn,
        file.display()
    );
    Ok(())
}

/// `opsdeck check --kube-context`.
#[derive(Debug, Clone)]
pub struct KubeCheckArgs {
    pub context: String,
    pub namespace: Option<String>,
    pub format: Format,
    pub output: Option<PathBuf>,
}

/// `opsdeck check --kube-context CTX [--namespace NS]`. Returns the exit code.
pub async fn check(opts: &Options, paths: &Paths, args: KubeCheckArgs, out: &mut dyn Write) -> i32 {
    let mut errors: Vec<String> = Vec::new();
    let context = ContextRef::kubeconfig(args.context.clone());
    let source = crate::kube::compliance::source_name(&context, args.namespace.as_deref());
    let mut judged = Vec::new();
    let runner = Runner::start(opts, paths);
    // The waiver limit comes from config; a config that does not load is reported below, and
    // the rules still judge nothing, so the report says why.
    let settings = match &runner {
        Ok(runner) => runner.config.compliance,
        Err(_) => Default::default(),
    };
    let checker = Checker::load(paths, &settings);
    match runner {
        Ok(mut runner) => {
            match judge_context(
                &mut runner,
                &checker,
                &context,
                args.namespace.as_deref(),
                &source,
            )
            .await
            {
                Ok(eval) => judged.push((source.clone(), eval)),
                Err(e) => errors.push(e),
            }
            runner.shutdown();
        }
        Err(e) => errors.push(crate::output::error_text(&e)),
    }
    let mut report = checker.report(judged);
    errors.append(&mut report.errors);
    report.errors = errors;
    for e in &report.errors {
        crate::errln!("opsdeck check: {e}");
    }
    let rendered = export::render(&report, args.format, SystemTime::now());
    let written = match &args.output {
        Some(file) => crate::files::private::write_output(file, rendered.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", file.display())),
        None => out
            .write_all(rendered.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(e) = written {
        crate::errln!("opsdeck check: {e}");
        return 2;
    }
    let failing = report.failures().count();
    if let Some(file) = &args.output {
        let s = report.summary();
        crate::errln!(
            "opsdeck check: wrote {}: controls {} passed, {} failed, {} waived, {} not applicable; {failing} failing finding(s)",
            file.display(),
            s.passed,
            s.failed,
            s.waived,
            s.not_applicable
        );
    }
    crate::compliance::headless::exit_code(report.errors.len(), failing)
}

/// The context's cluster and environment, its workloads listed (reads only: read-only mode
/// and the viewer role allow them) and judged.
async fn judge_context(
    runner: &mut Runner,
    checker: &Checker,
    context: &ContextRef,
    namespace: Option<&str>,
    source: &str,
) -> Result<crate::compliance::policy::Evaluation, String> {
    let contexts = match runner.read(ReadOp::Kube(KubeRead::ListContexts)).await {
        Ok(ReadOutput::Kube(KubeOutput::Contexts(view))) => view,
        Ok(_) => return Err("unexpected answer to reading the kubeconfig".into()),
        Err(e) => return Err(format!("cannot read the kubeconfig: {e}")),
    };
    let Some(info) = contexts.context(context.name()) else {
        return Err(format!(
            "no context {} in {}",
            context.name(),
            if contexts.files.is_empty() {
                "the kubeconfig (no file found)".to_string()
            } else {
                contexts.files.join(", ")
            }
        ));
    };
    let cluster = info.cluster_id();
    let environment =
        crate::ops::SessionFacts::kube_environment(&*runner, context.name(), &cluster);
    let op = ReadOp::Kube(KubeRead::ListWorkloads {
        context: context.clone(),
        namespace: namespace.map(str::to_string),
    });
    let objects = match runner.read(op).await {
        Ok(ReadOutput::Kube(KubeOutput::Workloads { objects, .. })) => objects,
        Ok(_) => return Err("unexpected answer to listing the workloads".into()),
        Err(e) => return Err(format!("cannot list the workloads of {context}: {e}")),
    };
    let env = (environment != crate::model::Environment::Unmapped).then(|| environment.as_str());
    let input = crate::kube::compliance::input(&objects, source, env, Some(&cluster));
    if input.resources.is_empty() {
        crate::errln!("opsdeck check: {source}: no workload to judge in this scope");
    }
    let eval = crate::kube::compliance::judge(checker, &input);
    Ok(eval)
}
