//! The installers' entries in the action registry, and what each does in the console.

use crate::actions;
use crate::installers::{headless, plan, tui};
use crate::ops::{MutatingOp, Op, PlanCtx, PlanError};
use crate::registry::{ActionSpec, Context, Kind, hint, k};
use crate::tui::state::{Cmd, State};
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// `run-installer`'s arguments. `installer` and `target` are what the offline parser sends.
const RUN_SCHEMA: &str = r#"{"type":"object","properties":{"installer":{"type":"string","description":"the installer's id (list-installers lists them)"},"target":{"type":"string","description":"where it runs: local (the bastion), ssh:HOST or ssm:INSTANCE_ID"},"targets":{"type":"array","items":{"type":"string"},"description":"several targets in one request (local, ssh:HOST, ssm:INSTANCE_ID); give target or targets"},"values":{"type":"object","additionalProperties":{"type":"string"},"description":"input values by input name; the others take their defaults. Sensitive inputs (passwords, tokens) cannot be given here: the operator enters them in the console's form"},"max_concurrency":{"type":"string","description":"how many targets run at once: N or N% (default 1)"},"max_errors":{"type":"string","description":"how many failed targets are tolerated before no further one starts: N or N% (default 0)"}},"required":["installer"],"additionalProperties":false}"#;

actions! {
    /// Installers: the list, a run (form, targets, confirmation), and the target picker's keys.
    pub enum InstallAction {
        ListInstallers => ActionSpec::new("list-installers", "List the installers with their OS requirements and inputs", Kind::Read)
            .command("installers", &[], "")
            .help("list the installers (Enter opens one's form)")
            .schema(r#"{"type":"object","properties":{"installer":{"type":"string","description":"only this installer (its id)"}},"additionalProperties":false}"#)
            .answer(answer_list),
        RunInstaller => ActionSpec::new("run-installer", "Run an installer on targets (form, targets, confirm)", Kind::Mutating)
            .command("install", &[], "ID")
            .help("run an installer: its form, then the targets, then the confirmation")
            .tier("y/Enter; the installer's id typed when a target is in PRD or unmapped")
            .schema(RUN_SCHEMA)
            .plan(plan_run)
            // Local and ssh targets need no AWS credentials; an SSM target's run settles who
            // the person is once it is planned (`MutatingOp::uses_aws`).
            .without_aws_identity(),
        ToggleTarget => ActionSpec::new("toggle-target", "Select or unselect a target", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k(' '), k('x')], "select")])
            .help("select / unselect the target"),
        AddTarget => ActionSpec::new("add-target", "Type a target to add", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('a')], "add")])
            .help("add a target: local, ssh:HOST or ssm:INSTANCE_ID (Enter adds, Esc leaves)"),
        CycleConcurrency => ActionSpec::new("cycle-max-concurrency", "Change how many targets run at once", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('c')], "concurrency")])
            .help("max concurrency: 1, 2, 5, 10, 25%, 50%, 100%"),
        CycleErrors => ActionSpec::new("cycle-max-errors", "Change how many failed targets stop the run", Kind::Ui)
            .binds(&[hint(Context::TargetPicker, &[k('e')], "errors")])
            .help("max errors: 0, 1, 2, 5, 10%, 50%, 100%"),
    }
}

/// The run, resolved as `opsdeck install --plan` resolves it (see [`plan::run_from_args`]).
fn plan_run<'a>(ctx: &'a dyn PlanCtx, args: &'a Value) -> BoxFuture<'a, Result<Op, PlanError>> {
    Box::pin(async move {
        let run = plan::run_from_args(ctx, args).await?;
        Ok(Op::Mutate(MutatingOp::from(run)))
    })
}

/// The catalog (or one installer): as `opsdeck installers --json` lists it, without the
/// fields that are not set. A sensitive input never has a default, so no secret is listed.
fn answer_list<'a>(
    ctx: &'a dyn PlanCtx,
    args: &'a Value,
) -> BoxFuture<'a, Result<Value, PlanError>> {
    Box::pin(async move {
        let (catalog, _) = plan::catalog(ctx)?;
        let wanted = args
            .get("installer")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let installers: Vec<Value> = match wanted {
            Some(id) => {
                let installer = plan::find_installer(&catalog, id).map_err(|why| match why {
                    plan::NoInstaller::Unknown(_) => PlanError::NotFound(format!(
                        "{why}; list-installers without an id lists them"
                    )),
                    plan::NoInstaller::Broken(..) => PlanError::Failed(why.to_string()),
                })?;
                vec![headless::installer_json(&installer)]
            }
            None => catalog
                .installers
                .iter()
                .map(headless::installer_json)
                .collect(),
        };
        let mut installers = Value::Array(installers);
        drop_unset(&mut installers);
        Ok(json!({
            "installers": installers,
            "problems": catalog.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "sensitive_inputs": "inputs marked sensitive (passwords, tokens) are never given to run-installer: the operator enters them in the console form (:install ID) or with `opsdeck install ID --set-env NAME=ENV_VAR`",
        }))
    })
}

/// Remove null fields and empty lists and objects, at every depth: a compact answer.
fn drop_unset(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(drop_unset),
        Value::Object(map) => {
            map.values_mut().for_each(drop_unset);
            map.retain(|_, v| match v {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            });
        }
        _ => {}
    }
}

/// What an installer action does in the console (the picker's keys are handled by the picker).
pub fn apply(state: &mut State, action: InstallAction, args: &[&str]) -> Vec<Cmd> {
    match action {
        InstallAction::ListInstallers => tui::open_list(state, None),
        InstallAction::RunInstaller => match args.first() {
            Some(id) => tui::open_list(state, Some(id)),
            None => tui::open_list(state, None),
        },
        InstallAction::ToggleTarget
        | InstallAction::AddTarget
        | InstallAction::CycleConcurrency
        | InstallAction::CycleErrors => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ReadOutput;
    use crate::engine::ports::{ErrorKind, ProviderError};
    use crate::installers::ops::{HostFacts, InstallRead, Rate, Target};
    use crate::installers::port::InstallOutput;
    use crate::model::Environment;
    use crate::ops::ReadOp;
    use std::sync::Mutex;

    /// A session whose every target is a Debian 12 host; records each preflight.
    struct Ctx {
        installers: bool,
        preflights: Mutex<Vec<Target>>,
    }

    impl Ctx {
        fn new() -> Ctx {
            Ctx {
                installers: true,
                preflights: Mutex::new(Vec::new()),
            }
        }

        fn preflights(&self) -> Vec<Target> {
            self.preflights.lock().expect("not poisoned").clone()
        }
    }

    impl crate::ops::SessionFacts for Ctx {
        fn region(&self) -> Option<String> {
            None
        }
        fn environment_of(&self, _: &str) -> Environment {
            Environment::Dev
        }
        fn kube_environment(&self, _: &str, _: &str) -> Environment {
            Environment::Dev
        }
        fn kube_context(&self) -> Option<crate::kube::model::ContextRef> {
            None
        }
    }

    impl PlanCtx for Ctx {
        fn read(&self, op: ReadOp) -> BoxFuture<'_, Result<ReadOutput, ProviderError>> {
            let answer = match op {
                ReadOp::Install(InstallRead::Preflight { target }) => {
                    self.preflights
                        .lock()
                        .expect("not poisoned")
                        .push(target.clone());
                    let facts = HostFacts {
                        os_id: "debian".into(),
                        os_version: "12".into(),
                        ram_mb: 4096,
                        disk_mb: 20_000,
                        cpu_cores: 2,
                        systemd: true,
                        ..HostFacts::default()
                    };
                    Ok(ReadOutput::Install(InstallOutput::Facts {
                        target,
                        facts: Box::new(facts),
                    }))
                }
                other => Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!("no read expected ({})", other.name()),
                )),
            };
            Box::pin(async move { answer })
        }

        fn installers(&self) -> Option<plan::InstallerSource> {
            // Only the bundled installers: the folder does not exist.
            self.installers.then(|| plan::InstallerSource {
                dir: std::env::temp_dir().join("opsdeck-no-such-installers-dir"),
                targets: Default::default(),
            })
        }
    }

    fn planned(ctx: &Ctx, args: Value) -> Result<crate::installers::ops::RunInstaller, PlanError> {
        futures::executor::block_on(plan::run_from_args(ctx, &args))
    }

    #[test]
    fn the_schema_declares_exactly_the_arguments_the_plan_takes() {
        let schema: Value = serde_json::from_str(RUN_SCHEMA).expect("JSON");
        let mut declared: Vec<&str> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        declared.sort_unstable();
        let mut taken = plan::RUN_ARGS.to_vec();
        taken.sort_unstable();
        assert_eq!(declared, taken);
    }

    #[test]
    fn a_run_is_resolved_from_target_and_targets_with_values_and_rates() {
        let ctx = Ctx::new();
        let run = planned(
            &ctx,
            json!({
                "installer": "nginx",
                "target": "ssh:web-1",
                "targets": ["ssh:web-2"],
                "values": {"http_port": 8081},
                "max_concurrency": "50%",
                "max_errors": 1,
            }),
        )
        .expect("planned");
        assert_eq!(run.installer, "nginx");
        assert!(run.hash.starts_with("sha256:"));
        let names: Vec<String> = run.targets.iter().map(|t| t.target.to_string()).collect();
        assert_eq!(names, ["ssh:web-1", "ssh:web-2"]);
        assert!(
            run.targets
                .iter()
                .all(|t| t.environment == Environment::Unmapped)
        );
        assert_eq!(ctx.preflights().len(), 2, "each target preflighted");
        let port = run
            .inputs
            .iter()
            .find(|i| i.name == "http_port")
            .expect("http_port");
        assert_eq!(port.shown(), "8081");
        assert_eq!(run.max_concurrency, Rate::Percent(50));
        assert_eq!(run.max_errors, Rate::Count(1));
    }

    #[test]
    fn secrets_are_refused_before_any_target_is_touched_and_never_quoted() {
        let ctx = Ctx::new();
        let needed = planned(&ctx, json!({"installer": "mariadb", "target": "local"}));
        let Err(PlanError::Refused(why)) = needed else {
            panic!("{needed:?}");
        };
        assert!(
            why.starts_with("root_password is sensitive")
                && why.contains("console form (:install mariadb)")
                && why.contains("--set-env root_password=ENV_VAR"),
            "{why}"
        );
        let given = planned(
            &ctx,
            json!({"installer": "mariadb", "target": "local", "values": {"root_password": "hunter2-s3cr3t"}}),
        );
        let Err(PlanError::Refused(why)) = given else {
            panic!("refused");
        };
        assert!(!why.contains("hunter2"), "{why}");
        assert!(ctx.preflights().is_empty(), "no target was touched");
    }

    #[test]
    fn bad_arguments_are_input_errors_naming_the_field() {
        let ctx = Ctx::new();
        let input = |args: Value| match planned(&ctx, args) {
            Err(PlanError::Input(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(input(json!({"installer": "nginx"})).contains("target is missing"));
        assert!(
            input(json!({"installer": "nginx", "target": "local", "values": "x=1"}))
                .contains("values must be an object")
        );
        assert!(
            input(json!({"installer": "nginx", "target": "local", "values": {"http_port": [1]}}))
                .starts_with("values.http_port:")
        );
        assert!(
            input(json!({"installer": "nginx", "target": "local", "max_errors": "x"}))
                .starts_with("max_errors ")
        );
        assert!(
            input(json!({"installer": "nginx", "target": "local", "target_list": []}))
                .contains("takes no argument target_list")
        );
        assert!(matches!(
            planned(&ctx, json!({"installer": "nope", "target": "local"})),
            Err(PlanError::NotFound(_))
        ));
        assert!(ctx.preflights().is_empty());
        let elsewhere = Ctx {
            installers: false,
            ..Ctx::new()
        };
        assert!(matches!(
            planned(&elsewhere, json!({"installer": "nginx", "target": "local"})),
            Err(PlanError::Failed(_))
        ));
    }

    #[test]
    fn the_catalog_answer_lists_inputs_with_their_types_and_no_unset_fields() {
        let ctx = Ctx::new();
        let answer = futures::executor::block_on(answer_list(&ctx, &json!({}))).expect("answers");
        let list = answer["installers"].as_array().expect("a list");
        assert_eq!(list.len(), crate::installers::catalog::BUNDLED.len());
        let mariadb = list.iter().find(|i| i["id"] == "mariadb").expect("mariadb");
        let root = mariadb["inputs"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["name"] == "root_password"))
            .expect("root_password");
        assert_eq!(root["type"], "password");
        assert_eq!(root["sensitive"], true);
        assert!(root.get("default").is_none(), "{root}");
        let one = futures::executor::block_on(answer_list(&ctx, &json!({"installer": "redis"})))
            .expect("answers");
        assert_eq!(one["installers"].as_array().map(Vec::len), Some(1));
    }
}
