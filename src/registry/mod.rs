//! One action registry.
//!
//! Every action a person can take — and, later, every tool the assistant may call — is
//! declared once, beside the code that performs it: its id (the kebab-case operation id used
//! in JSON output, the audit log and tool names), title, key bindings per context with their
//! hint labels, its `:` command, help line, whether it reads or changes something, the
//! confirmation its operation will need, and the JSON schema of its arguments. Each capability
//! declares its actions as a closed enum with [`actions!`], so the compiler makes every
//! handler cover every action:
//!
//! * `tui::shell::ShellAction`: focus, zoom, command line, filter, help, quit, lists, forms,
//!   dialogs;
//! * `tui::jobs::JobsAction`: the Jobs pane;
//! * `cfn::actions::CfnAction`: CloudFormation;
//! * `compliance::actions::ComplianceAction`: compliance;
//! * `installers::actions::InstallAction`: installers.
//! * `kube::actions::KubeAction`: Kubernetes and EKS.
//! * `cost::actions::CostAction`: cost.
//! * `assistant::actions::AssistantAction`: the Chat pane.
//!
//! Key handling ([`lookup`]), the `?` help ([`help_sections`]), the bottom hints ([`hints`])
//! and the `:` commands ([`command`]) are all generated from these declarations, so they
//! cannot disagree. Whether an operation is read or mutating is still decided by the
//! operation's own exhaustive match (`ops::Op`); [`Kind`] only says how to show the action.

pub mod keys;

pub use crossterm::event::KeyCode;
pub use keys::{Context, Key, Pane, code, ctrl, k};

use crate::assistant::actions::AssistantAction;
use crate::cfn::actions::CfnAction;
use crate::compliance::actions::ComplianceAction;
use crate::cost::actions::CostAction;
use crate::installers::actions::InstallAction;
use crate::kube::actions::KubeAction;
use crate::tui::jobs::JobsAction;
use crate::tui::shell::ShellAction;
use crossterm::event::KeyEvent;

/// How an action shows in hints and help. Mutating actions are greyed, with the reason, in
/// read-only mode; the gate refuses them whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Moves around the console; nothing is asked of any service.
    Ui,
    /// Asks a service something; changes nothing.
    Read,
    /// Leads to a change, through the gate and its confirmation.
    Mutating,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ui => "ui",
            Kind::Read => "read",
            Kind::Mutating => "mutating",
        }
    }
}

/// Keys that trigger an action in one context, and the hint label shown for it there.
#[derive(Debug, Clone, Copy)]
pub struct Bind {
    pub context: Context,
    pub keys: &'static [Key],
    /// Shown in the bottom line when this context has focus.
    pub hint: Option<&'static str>,
    /// Only labels, in this context, a key that another of the action's bindings handles
    /// (say `/` "filter" in Inventory, bound in Global): not looked up, not in help.
    pub label_only: bool,
}

/// `bind(context, keys)`: a binding without a hint.
pub const fn bind(context: Context, keys: &'static [Key]) -> Bind {
    Bind {
        context,
        keys,
        hint: None,
        label_only: false,
    }
}

/// `hint(context, keys, label)`: a binding with a hint in the bottom line.
pub const fn hint(context: Context, keys: &'static [Key], label: &'static str) -> Bind {
    Bind {
        context,
        keys,
        hint: Some(label),
        label_only: false,
    }
}

/// `label(context, key, label)`: a hint in `context` for a key another binding handles.
pub const fn label(context: Context, keys: &'static [Key], label: &'static str) -> Bind {
    Bind {
        context,
        keys,
        hint: Some(label),
        label_only: true,
    }
}

/// A `:` command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// Arguments, as usage shows them: `TEMPLATE [STACK]`.
    pub args: &'static str,
}

/// An action's plan: from its arguments (a JSON object of the shape its `schema` says) to
/// exactly the operation to run, fetching first what must be known. The console (from the
/// selection), `opsdeck run` and, later, the assistant all go through it, so each asks for the
/// same operation. A mutating operation still needs the gate's confirmation to run.
pub type PlanFn =
    for<'a> fn(
        &'a dyn crate::ops::PlanCtx,
        &'a serde_json::Value,
    )
        -> futures::future::BoxFuture<'a, Result<crate::ops::Op, crate::ops::PlanError>>;

/// An action's answer: for an action that asks nothing of a service but reads what opsdeck
/// knows itself (the job list, the compliance rules, the registry), the data it answers with,
/// as JSON. `opsdeck run` and the assistant's tools call it; the console shows the same thing
/// in its pane. It changes nothing.
pub type AnswerFn =
    for<'a> fn(
        &'a dyn crate::ops::PlanCtx,
        &'a serde_json::Value,
    )
        -> futures::future::BoxFuture<'a, Result<serde_json::Value, crate::ops::PlanError>>;

/// Everything declared about one action.
#[derive(Clone, Copy)]
pub struct ActionSpec {
    /// The operation id: kebab-case, stable (JSON output, audit, tool names).
    pub id: &'static str,
    /// What it does, in a few words (the assistant's tool description).
    pub title: &'static str,
    pub kind: Kind,
    pub binds: &'static [Bind],
    pub command: Option<CommandSpec>,
    /// The help line (`?`).
    pub help: &'static str,
    /// The confirmation its operation needs, in words ("typed name, always").
    pub tier: &'static str,
    /// JSON schema of the arguments, for tools; `None` for actions that are not tools.
    pub schema: Option<&'static str>,
    /// How the action's operation is planned from its arguments, when it has one.
    pub plan: Option<PlanFn>,
    /// What the action answers from what opsdeck knows, when it asks no service (see
    /// [`AnswerFn`]).
    pub answer: Option<AnswerFn>,
    /// Whether `opsdeck run` asks STS who the person is before it plans. True for actions on
    /// AWS; false for those that reach their service with other credentials (a kubeconfig's),
    /// which ask STS only when the role rules need the answer (see [`ActionSpec::without_aws_identity`]).
    pub needs_aws_identity: bool,
}

impl std::fmt::Debug for ActionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("plan", &self.plan.is_some())
            .field("answer", &self.answer.is_some())
            .finish_non_exhaustive()
    }
}

impl ActionSpec {
    /// An action with no keys, command, tier or schema yet; the builders below add them.
    pub const fn new(id: &'static str, title: &'static str, kind: Kind) -> ActionSpec {
        ActionSpec {
            id,
            title,
            kind,
            binds: &[],
            command: None,
            help: title,
            tier: match kind {
                Kind::Ui | Kind::Read => "none: changes nothing",
                Kind::Mutating => "decided by the operation",
            },
            schema: None,
            plan: None,
            answer: None,
            needs_aws_identity: true,
        }
    }

    pub const fn binds(mut self, binds: &'static [Bind]) -> ActionSpec {
        self.binds = binds;
        self
    }

    pub const fn command(
        mut self,
        name: &'static str,
        aliases: &'static [&'static str],
        args: &'static str,
    ) -> ActionSpec {
        self.command = Some(CommandSpec {
            name,
            aliases,
            args,
        });
        self
    }

    pub const fn help(mut self, help: &'static str) -> ActionSpec {
        self.help = help;
        self
    }

    pub const fn tier(mut self, tier: &'static str) -> ActionSpec {
        self.tier = tier;
        self
    }

    pub const fn schema(mut self, schema: &'static str) -> ActionSpec {
        self.schema = Some(schema);
        self
    }

    pub const fn plan(mut self, plan: PlanFn) -> ActionSpec {
        self.plan = Some(plan);
        self
    }

    pub const fn answer(mut self, answer: AnswerFn) -> ActionSpec {
        self.answer = Some(answer);
        self
    }

    /// The action reaches its service without AWS credentials (a cluster from a kubeconfig),
    /// so `opsdeck run` does not ask STS who the person is unless the role rules need it to
    /// settle the role; the gate holds every change back while that is pending, so nothing is
    /// lifted by not asking.
    pub const fn without_aws_identity(mut self) -> ActionSpec {
        self.needs_aws_identity = false;
        self
    }
}

/// The argument schema of an action that takes none.
pub const NO_ARGS: &str = r#"{"type":"object","properties":{},"additionalProperties":false}"#;

/// Declare a capability's actions: the enum, its `ALL` list and its `spec()`, each action's
/// spec written once beside its variant.
#[macro_export]
macro_rules! actions {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $spec:expr),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn spec(self) -> &'static $crate::registry::ActionSpec {
                match self {
                    $($name::$variant => {
                        static SPEC: $crate::registry::ActionSpec = $spec;
                        &SPEC
                    })*
                }
            }
        }
    };
}

/// Any action, by capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Shell(ShellAction),
    Jobs(JobsAction),
    Cfn(CfnAction),
    Compliance(ComplianceAction),
    Install(InstallAction),
    Kube(KubeAction),
    Cost(CostAction),
    Assistant(AssistantAction),
}

impl Action {
    pub fn spec(self) -> &'static ActionSpec {
        match self {
            Action::Shell(a) => a.spec(),
            Action::Jobs(a) => a.spec(),
            Action::Cfn(a) => a.spec(),
            Action::Compliance(a) => a.spec(),
            Action::Install(a) => a.spec(),
            Action::Kube(a) => a.spec(),
            Action::Cost(a) => a.spec(),
            Action::Assistant(a) => a.spec(),
        }
    }
}

/// Every action, in declaration order (shell first, then each capability).
pub fn all() -> impl Iterator<Item = Action> {
    let shell = ShellAction::ALL.iter().map(|a| Action::Shell(*a));
    let jobs = JobsAction::ALL.iter().map(|a| Action::Jobs(*a));
    let cfn = CfnAction::ALL.iter().map(|a| Action::Cfn(*a));
    let compliance = ComplianceAction::ALL.iter().map(|a| Action::Compliance(*a));
    let install = InstallAction::ALL.iter().map(|a| Action::Install(*a));
    let cost = CostAction::ALL.iter().map(|a| Action::Cost(*a));
    let kube = KubeAction::ALL.iter().map(|a| Action::Kube(*a));
    let assistant = AssistantAction::ALL.iter().map(|a| Action::Assistant(*a));
    shell
        .chain(jobs)
        .chain(cfn)
        .chain(compliance)
        .chain(install)
        .chain(kube)
        .chain(cost)
        .chain(assistant)
}

/// The action bound to `key` in the first of `contexts` (searched in order) that binds it.
pub fn lookup(contexts: &[Context], key: &KeyEvent) -> Option<Action> {
    contexts.iter().find_map(|ctx| {
        all().find(|a| {
            a.spec().binds.iter().any(|b| {
                !b.label_only && b.context == *ctx && b.keys.iter().any(|k| k.matches(key))
            })
        })
    })
}

/// The action a `:` command names (by name or alias).
pub fn command(name: &str) -> Option<Action> {
    all().find(|a| {
        a.spec()
            .command
            .is_some_and(|c| c.name == name || c.aliases.contains(&name))
    })
}

/// The action whose id is `id` (`delete-stack`).
pub fn by_id(id: &str) -> Option<Action> {
    all().find(|a| a.spec().id == id)
}

/// A string argument of a plan, or why it is missing.
pub fn arg<'a>(args: &'a serde_json::Value, name: &str) -> Result<&'a str, crate::ops::PlanError> {
    args.get(name)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| crate::ops::PlanError::Input(format!("the argument {name} is missing")))
}

/// A list-of-strings argument of a plan (absent: empty). A single string counts as a list of
/// one; anything else (a number, an object, an item that is not a string) is refused, never
/// dropped: a list that silently lost its items could widen what a plan takes.
pub fn arg_list(
    args: &serde_json::Value,
    name: &str,
) -> Result<Vec<String>, crate::ops::PlanError> {
    let refused = || {
        crate::ops::PlanError::Input(format!(
            "the argument {name} must be a list of strings (or one string)"
        ))
    };
    match args.get(name) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(refused))
            .collect(),
        Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
        Some(_) => Err(refused()),
    }
}

/// Refuse the arguments an action's schema does not name, when the schema closes its
/// properties (`"additionalProperties": false`): a misspelt argument would otherwise be
/// ignored and its default used. Checked for every tool call and every `opsdeck run`.
pub fn check_args(
    spec: &ActionSpec,
    args: &serde_json::Value,
) -> Result<(), crate::ops::PlanError> {
    let Some(schema) = spec
        .schema
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    else {
        return Ok(());
    };
    if schema["additionalProperties"] != serde_json::Value::Bool(false) {
        return Ok(());
    }
    let names: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let Some(object) = args.as_object() else {
        return Err(crate::ops::PlanError::Input(
            "the arguments must be a JSON object".into(),
        ));
    };
    match object.keys().find(|k| !names.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) if names.is_empty() => Err(crate::ops::PlanError::Input(format!(
            "{} takes no argument {unknown}; it takes none",
            spec.id
        ))),
        Some(unknown) => Err(crate::ops::PlanError::Input(format!(
            "{} takes no argument {unknown}; its arguments are {}",
            spec.id,
            names.join(", ")
        ))),
    }
}

/// The label of the first key bound to `action` in `context`, e.g. "d".
pub fn key_label(context: Context, action: Action) -> Option<String> {
    action
        .spec()
        .binds
        .iter()
        .find(|b| b.context == context && !b.label_only)
        .and_then(|b| b.keys.first())
        .map(Key::label)
}

/// One hint in the bottom line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub key: String,
    pub label: &'static str,
    pub mutating: bool,
}

/// The hints for `contexts`, in lookup order; within a context a pane's own actions before the
/// shell's, then declaration order; each key once.
pub fn hints(contexts: &[Context]) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::new();
    let (shell, panes): (Vec<Action>, Vec<Action>) =
        all().partition(|a| matches!(a, Action::Shell(_)));
    for ctx in contexts {
        for action in panes.iter().chain(&shell).copied() {
            let spec = action.spec();
            for bind in spec.binds.iter().filter(|b| b.context == *ctx) {
                let (Some(label), Some(key)) = (bind.hint, bind.keys.first()) else {
                    continue;
                };
                let key = key.label();
                if out.iter().any(|h| h.key == key) {
                    continue;
                }
                out.push(Hint {
                    key,
                    label,
                    mutating: spec.kind == Kind::Mutating,
                });
            }
        }
    }
    out
}

/// The contexts of the help screen, in order.
pub const HELP_ORDER: [Context; 16] = [
    Context::Global,
    Context::List,
    Context::Inventory,
    Context::StackDetail,
    Context::Kube,
    Context::KubeDetail,
    Context::Jobs,
    Context::JobLog,
    Context::Chat,
    Context::ChatAnswering,
    Context::Form,
    Context::FormSelect,
    Context::Dialog,
    Context::Compliance,
    Context::TargetPicker,
    Context::Cost,
];

/// Help lines grouped by context: the keys (labels joined) and the help line.
pub fn help_sections() -> Vec<(Context, Vec<(String, &'static str)>)> {
    HELP_ORDER
        .iter()
        .map(|ctx| {
            let rows = all()
                .flat_map(|a| {
                    let spec = a.spec();
                    spec.binds
                        .iter()
                        .filter(|b| b.context == *ctx && !b.label_only)
                        .map(move |b| {
                            let keys = b.keys.iter().map(Key::label).collect::<Vec<_>>();
                            (keys.join(" "), spec.help)
                        })
                })
                .collect();
            (*ctx, rows)
        })
        .collect()
}

/// Every `:` command: usage (`deploy TEMPLATE [STACK]`) and help line.
pub fn commands() -> Vec<(String, &'static str)> {
    all()
        .filter_map(|a| {
            let spec = a.spec();
            spec.command.map(|c| {
                let mut usage = c.name.to_string();
                if !c.args.is_empty() {
                    usage.push(' ');
                    usage.push_str(c.args);
                }
                for alias in c.aliases {
                    usage.push_str(&format!(" (:{alias})"));
                }
                (usage, spec.help)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn every_closed_schema_refuses_an_argument_it_does_not_name() {
        let mut checked = 0;
        for action in all() {
            let spec = action.spec();
            let Some(schema) = spec.schema else { continue };
            let schema: serde_json::Value = serde_json::from_str(schema).expect("JSON");
            if schema["additionalProperties"] != serde_json::Value::Bool(false) {
                continue;
            }
            checked += 1;
            let wrong = serde_json::json!({"no_such_argument": "x"});
            assert!(
                check_args(spec, &wrong)
                    .is_err_and(|e| e.to_string().contains("no argument no_such_argument")),
                "{}",
                spec.id
            );
            assert_eq!(
                check_args(spec, &serde_json::json!({})),
                Ok(()),
                "{}",
                spec.id
            );
        }
        assert!(checked > 20, "only {checked} closed schemas");
    }

    #[test]
    fn list_arguments_refuse_what_is_not_a_string_and_unknown_names_are_refused() {
        let args = serde_json::json!({"ids": ["a", "b"], "one": "c", "bad": ["a", 1], "num": 3});
        assert_eq!(
            arg_list(&args, "ids"),
            Ok(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(arg_list(&args, "one"), Ok(vec!["c".to_string()]));
        assert_eq!(arg_list(&args, "absent"), Ok(Vec::new()));
        assert!(
            arg_list(&args, "bad").is_err(),
            "an item that is no string is not dropped"
        );
        assert!(arg_list(&args, "num").is_err());
        let reap = by_id("reap-idle").expect("reap-idle").spec();
        assert_eq!(check_args(reap, &serde_json::json!({"ids": []})), Ok(()));
        let unknown = check_args(reap, &serde_json::json!({"id": "i-1"}));
        assert!(unknown.is_err_and(|e| e.to_string().contains("no argument id")));
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        let binds: Vec<(Action, &Bind)> = all()
            .flat_map(|a| a.spec().binds.iter().map(move |b| (a, b)))
            .filter(|(_, b)| !b.label_only)
            .collect();
        for (i, (a, ba)) in binds.iter().enumerate() {
            for (b, bb) in &binds[i + 1..] {
                if ba.context != bb.context {
                    continue;
                }
                for ka in ba.keys {
                    for kb in bb.keys {
                        assert!(
                            !(ka.code == kb.code && ka.mods == kb.mods),
                            "{} bound twice in {:?}: {} and {}",
                            ka.label(),
                            ba.context,
                            a.spec().id,
                            b.spec().id
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ids_and_commands_are_unique_and_well_formed() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for a in all() {
            let spec = a.spec();
            assert!(ids.insert(spec.id), "id {} declared twice", spec.id);
            assert!(
                spec.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "id {} is not kebab-case",
                spec.id
            );
            assert!(!spec.help.is_empty() && !spec.title.is_empty());
            if let Some(c) = spec.command {
                for name in std::iter::once(&c.name).chain(c.aliases) {
                    assert!(names.insert(*name), "command {name} declared twice");
                }
            }
            if let Some(schema) = spec.schema {
                let parsed: serde_json::Value =
                    serde_json::from_str(schema).unwrap_or_else(|e| panic!("{}: {e}", spec.id));
                assert_eq!(parsed["type"], "object", "{}", spec.id);
            }
        }
    }

    #[test]
    fn context_order_decides() {
        let d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(
            lookup(&[Context::Inventory, Context::List, Context::Global], &d),
            Some(Action::Cfn(CfnAction::DeleteStack))
        );
        assert_eq!(
            lookup(&[Context::Jobs, Context::List, Context::Global], &d),
            None
        );
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(&[Context::List], &shift_g),
            Some(Action::Shell(ShellAction::Bottom))
        );
    }

    #[test]
    fn help_lists_every_binding_and_every_command() {
        let bindings: usize = all()
            .map(|a| a.spec().binds.iter().filter(|b| !b.label_only).count())
            .sum();
        let listed: usize = help_sections().iter().map(|(_, rows)| rows.len()).sum();
        assert_eq!(
            listed, bindings,
            "every context a binding uses is in HELP_ORDER"
        );
        let with_command = all().filter(|a| a.spec().command.is_some()).count();
        assert_eq!(commands().len(), with_command);
    }
}
