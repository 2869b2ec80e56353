//! `opsdeck check`: judge templates (files, directories, library names) and deployed stacks
//! with the rule pack, the user's policies and waivers, and write the report in one format.
//!
//! Exit codes: 0 every judged resource passes (or its failures are waived); 1 at least one
//! unwaived failure; 2 something could not be judged — a template that does not parse (named
//! with file:line), a policy or waivers file that does not load, a rule that fails to evaluate,
//! an AWS error — or bad arguments. 2 wins over 1: the report may be incomplete. Whatever
//! could be judged is still reported (errors are listed in it and on stderr), so one broken
//! user policy does not hide the findings of the rest.
//!
//! Deployed stacks are read with ListStacks, DescribeStacks (parameter values) and GetTemplate
//! through the same engine and gate as the console: read operations only, so read-only mode
//! and the viewer role allow them. NoEcho parameters come back masked (`****`); those values
//! are not passed on (a rule would judge the mask), so such a parameter takes the template's
//! default, or stays an unresolved `Ref`.

use crate::cfn::ops::CfnRead;
use crate::cfn::port::CfnOutput;
use crate::cfn::{deploy as plan, library};
use crate::compliance::Checker;
use crate::compliance::export::{self, Format};
use crate::compliance::policy::Evaluation;
use crate::config::Paths;
use crate::engine::ReadOutput;
use crate::headless::clean;
use crate::headless::runner::{Runner, Stop};
use crate::ops::{ReadOp, ReadScope};
use crate::setup::Options;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How deep a directory argument is searched.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// Template files, directories or library names; none (and no stack) = the library.
    pub paths: Vec<String>,
    /// Deployed stacks, by name.
    pub stacks: Vec<String>,
    pub format: Format,
    /// Write the report here instead of stdout.
    pub output: Option<PathBuf>,
    /// `KEY=VALUE` parameter values for templates (stacks use their deployed values).
    pub params: Vec<String>,
}

/// A template to judge: its source name (as findings show it) and text. Shared with
/// `opsdeck cost`, which reads its PATH arguments the same way.
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) text: String,
    /// Found by searching a directory: a file that is not a template is skipped, not an error.
    pub(crate) discovered: bool,
}

/// `opsdeck check`. Returns the exit code.
pub async fn check(opts: &Options, paths: &Paths, args: CheckArgs, out: &mut dyn Write) -> i32 {
    let params = match plan::parse_param_args(&args.params) {
        Ok(params) => params,
        Err(e) => {
            crate::errln!("opsdeck check: --param {}", clean(&e.to_string()));
            return 2;
        }
    };
    // Only `[compliance]` is needed here (the waiver horizon); a broken config is an error.
    let config = match crate::config::Config::load(paths, opts.config_path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            crate::errln!("opsdeck check: {}", clean(&e.to_string()));
            return 2;
        }
    };
    let checker = Checker::load(paths, &config.compliance);
    let mut errors = Vec::new();
    let sources = if args.paths.is_empty() && args.stacks.is_empty() {
        library::LIBRARY
            .iter()
            .map(|t| Source {
                name: format!("templates/{}.yaml", t.name),
                text: t.body.to_string(),
                discovered: false,
            })
            .collect()
    } else {
        collect(&args.paths, &mut errors)
    };
    let environment = opts.env_override.map(|e| e.as_str());
    let mut judged: Vec<(String, Evaluation)> = Vec::new();
    for source in sources {
        match checker.judge_template(&source.text, &source.name, &params, environment) {
            Ok(eval) => judged.push((source.name, eval)),
            Err(e) if source.discovered && e.is_not_a_template() => {
                crate::errln!(
                    "opsdeck check: skipped {}: not a CloudFormation template",
                    clean(&source.name)
                );
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    // A stop signal ends the run with 128 + its number once the report is written.
    let mut stopped_by = None;
    if !args.stacks.is_empty() {
        match Runner::start(opts, paths) {
            Ok(mut runner) => {
                let result = judge_stacks(&mut runner, &checker, &args.stacks).await;
                runner.shutdown();
                stopped_by = runner.interrupted();
                match result {
                    Ok((stacks, stack_errors)) => {
                        judged.extend(stacks);
                        errors.extend(stack_errors);
                    }
                    Err(stop) => errors.push(stop.to_string()),
                }
            }
            Err(e) => errors.push(crate::output::error_text(&e)),
        }
    }
    let mut report = checker.report(judged);
    // Sources that could not be judged first: they are why the report is incomplete.
    errors.append(&mut report.errors);
    report.errors = errors;
    for e in &report.errors {
        crate::errln!("opsdeck check: {}", clean(e));
    }
    let rendered = export::render(&report, args.format, std::time::SystemTime::now());
    let written = match &args.output {
        Some(file) => crate::files::private::write_output(file, rendered.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", file.display())),
        None => out
            .write_all(rendered.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(e) = written {
        crate::errln!("opsdeck check: {}", clean(&e));
        return 2;
    }
    let failing = report.failures().count();
    if let Some(file) = &args.output {
        let s = report.summary();
        crate::errln!(
            "opsdeck check: wrote {}: controls {} passed, {} failed, {} error, {} waived, {} not applicable; {failing} failing finding(s)",
            clean(&file.display().to_string()),
            s.passed,
            s.failed,
            s.error,
            s.waived,
            s.not_applicable
        );
    }
    match stopped_by {
        Some(signal) => signal.exit_code(),
        None => exit_code(report.errors.len(), failing),
    }
}

/// 2 when anything could not be judged, else 1 when anything unwaived failed, else 0.
pub fn exit_code(errors: usize, failing: usize) -> i32 {
    if errors > 0 {
        2
    } else if failing > 0 {
        1
    } else {
        0
    }
}

/// Resolve PATH arguments: a library name, a file, or a directory (searched for templates).
pub(crate) fn collect(specs: &[String], errors: &mut Vec<String>) -> Vec<Source> {
    let mut sources = Vec::new();
    for spec in specs {
        let path = Path::new(spec);
        if !path.exists()
            && let Some(entry) = library::find(spec)
        {
            sources.push(Source {
                name: format!("templates/{}.yaml", entry.name),
                text: entry.body.to_string(),
                discovered: false,
            });
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                walk(path, 0, &mut files, errors);
                files.sort();
                if files.is_empty() {
                    errors.push(format!("{spec}: no *.yaml, *.yml or *.json file in it"));
                }
                for file in files {
                    if let Some(text) = read(&file, errors) {
                        sources.push(Source {
                            name: file.display().to_string(),
                            text,
                            discovered: true,
                        });
                    }
                }
            }
            Ok(_) => {
                if let Some(text) = read(path, errors) {
                    sources.push(Source {
                        name: spec.clone(),
                        text,
                        discovered: false,
                    });
                }
            }
            Err(e) => errors.push(format!(
                "{spec}: no such file, directory or library template ({e}); library: {}",
                library::LIBRARY
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    sources
}

fn walk(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: cannot read directory: {e}", dir.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if hidden {
            continue;
        }
        if kind.is_dir() {
            walk(&path, depth + 1, files, errors);
        } else if path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            files.push(path);
        }
    }
}

/// A regular file of template size, as text: through the one guard for user files.
fn read(path: &Path, errors: &mut Vec<String>) -> Option<String> {
    match crate::files::read_text(path, crate::files::FileKind::Template) {
        Ok(text) => Some(text),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    }
}

/// Fetch and judge each deployed stack. The outer error stops every stack (no identity, no
/// region, ListStacks failed); a stack that cannot be read is an error of its own.
async fn judge_stacks(
    runner: &mut Runner,
    checker: &Checker,
    names: &[String],
) -> Result<(Vec<(String, Evaluation)>, Vec<String>), Stop> {
    let identity = runner.identify().await?;
    let environment = runner.environment_of(&identity.account);
    let environment = match environment {
        crate::model::Environment::Unmapped => None,
        mapped => Some(mapped.as_str()),
    };
    let region = runner.region.clone().ok_or_else(|| {
        Stop::Input("no AWS region configured: use --region or AWS_REGION".to_string())
    })?;
    let scope = ReadScope {
        region: region.clone(),
    };
    let stacks = match runner
        .read(ReadOp::Cfn(CfnRead::ListStacks {
            scope: scope.clone(),
        }))
        .await
    {
        Ok(ReadOutput::Cfn(CfnOutput::Stacks(stacks))) => stacks,
        Ok(_) => return Err(Stop::Failed("unexpected answer to ListStacks".into())),
        Err(e) => return Err(Stop::Failed(format!("cannot list stacks: {e}"))),
    };
    let mut judged = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        let source = format!("stack:{name}");
        let Some(stack) = stacks.iter().find(|s| &s.name == name) else {
            errors.push(format!("{source}: no stack named {name} in {region}"));
            continue;
        };
        let detail = match runner
            .read(ReadOp::Cfn(CfnRead::DescribeStack {
                scope: scope.clone(),
                stack_id: stack.id.clone(),
                stack_name: name.clone(),
            }))
            .await
        {
            Ok(ReadOutput::Cfn(CfnOutput::StackDetail(detail))) => detail,
            Ok(_) => {
                errors.push(format!("{source}: unexpected answer to DescribeStacks"));
                continue;
            }
            Err(e) => {
                errors.push(format!("{source}: cannot describe: {e}"));
                continue;
            }
        };
        let body = match runner
            .read(ReadOp::Cfn(CfnRead::GetTemplate {
                scope: scope.clone(),
                stack_id: stack.id.clone(),
                stack_name: name.clone(),
            }))
            .await
        {
            Ok(ReadOutput::Cfn(CfnOutput::Template { body, .. })) => body,
            Ok(_) => {
                errors.push(format!("{source}: unexpected answer to GetTemplate"));
                continue;
            }
            Err(e) => {
                errors.push(format!("{source}: cannot get the template: {e}"));
                continue;
            }
        };
        let params = deployed_parameters(&detail.parameters);
        match checker.judge_template(&body, &source, &params, environment) {
            Ok(eval) => judged.push((source, eval)),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok((judged, errors))
}

/// The values a stack was deployed with, without NoEcho masks (`****`): a mask is not the
/// value, and judging it would be wrong either way.
fn deployed_parameters(
    parameters: &[crate::cfn::model::StackParameter],
) -> BTreeMap<String, String> {
    parameters
        .iter()
        .filter(|p| p.value != "****")
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::model::StackParameter;

    #[test]
    fn errors_win_over_failures() {
        assert_eq!(exit_code(0, 0), 0);
        assert_eq!(exit_code(0, 3), 1);
        assert_eq!(exit_code(1, 0), 2);
        assert_eq!(exit_code(1, 3), 2);
    }

    #[test]
    fn masked_noecho_values_are_not_judged() {
        let p = |k: &str, v: &str| StackParameter {
            key: k.into(),
            value: v.into(),
        };
        let given = deployed_parameters(&[p("Password", "****"), p("Env", "PRD")]);
        assert_eq!(given.len(), 1);
        assert_eq!(given["Env"], "PRD");
    }

    #[test]
    fn directories_yield_templates_sorted_and_skip_hidden() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir");
        for f in ["b.yaml", "a.json", "sub/c.yml", ".git/x.yaml", "notes.txt"] {
            std::fs::write(dir.path().join(f), "Resources: {}\n").expect("write");
        }
        let mut errors = Vec::new();
        let found = collect(&[dir.path().display().to_string()], &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<String> = found
            .iter()
            .map(|s| {
                Path::new(&s.name)
                    .strip_prefix(dir.path())
                    .expect("under dir")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.json", "b.yaml", "sub/c.yml"]);
        let missing = collect(&["no-such-thing".to_string()], &mut errors);
        assert!(missing.is_empty());
        assert!(errors[0].contains("library: s3-bucket"), "{errors:?}");
        let lib = collect(&["s3-bucket".to_string()], &mut Vec::new());
        assert_eq!(lib[0].name, "templates/s3-bucket.yaml");
    }

    #[test]
    fn fifos_devices_and_huge_files_in_a_directory_are_errors_not_hangs() {
        let dir = tempfile::tempdir().expect("tempdir");
        nix::unistd::mkfifo(&dir.path().join("a.yaml"), nix::sys::stat::Mode::S_IRWXU)
            .expect("mkfifo");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("b.yaml")).expect("symlink");
        std::fs::write(dir.path().join("c.yaml"), "#".repeat(2 * 1024 * 1024)).expect("write");
        std::fs::write(dir.path().join("d.yaml"), "Resources: {}\n").expect("write");
        let spec = dir.path().display().to_string();
        let (found, errors) = crate::files::bounded(move || {
            let mut errors = Vec::new();
            let found = collect(&[spec], &mut errors);
            (found.len(), errors)
        });
        assert_eq!(found, 1, "{errors:?}");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("a FIFO (named pipe)"), "{errors:?}");
        assert!(errors[1].contains("a character device"), "{errors:?}");
        assert!(
            errors[2].contains("larger than 1 MiB, the limit for a template"),
            "{errors:?}"
        );
    }
}
