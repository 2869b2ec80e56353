//! Offline commands: when no model is configured or reachable, a forgiving parser maps common
//! operator phrasings to the same operations the model's tools are ("deploy the s3 bucket
//! template to dev as logs-bucket", "scale checkout to 5", "who am I"). It says what it
//! understood, asks when a target is ambiguous, offers suggestions when it understands
//! nothing, and never guesses a change: a phrasing that changes something must name its
//! target exactly.
//!
//! It plugs in as a [`ModelApi`], so what it understood runs through the very same turn, tool
//! executor, plan functions and gate as a model's tool call. Operation ids are resolved
//! through the registry: an id this build does not have (`scale-deployment` without the
//! Kubernetes capability, say) is answered with a sentence, never a panic.

use super::model::{Block, Message, Role, StopReason, Usage};
use super::port::{ModelApi, ModelError, ModelReply, ModelRequest, Sink};
use crate::cfn::library::LIBRARY;
use futures::future::BoxFuture;
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use tokio_util::sync::CancellationToken;

/// What the parser made of a phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum Understood {
    /// An operation with its arguments. `what` names it in words, for "… is not available in
    /// this build"; `note` says how a name was matched.
    Op {
        id: &'static str,
        args: Value,
        what: &'static str,
        note: Option<String>,
    },
    /// A question back: the target is ambiguous or missing.
    Ask(String),
    /// Nothing matched: phrasings to try.
    Nothing(Vec<&'static str>),
}

/// Which slot holds what, for building arguments and resolving names.
#[derive(Clone, Copy)]
struct Rule {
    id: &'static str,
    what: &'static str,
    /// Changes something: its target is never guessed.
    mutating: bool,
    pattern: &'static str,
    build: fn(&Slots) -> Result<Value, String>,
}

/// Captured slots, case preserved from what was typed.
struct Slots<'a> {
    caps: regex::Captures<'a>,
    text: &'a str,
}

impl Slots<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.caps
            .name(name)
            .map(|m| self.text[m.start()..m.end()].to_string())
    }
}

fn none(_: &Slots) -> Result<Value, String> {
    Ok(json!({}))
}

fn stack_arg(s: &Slots) -> Result<Value, String> {
    Ok(json!({ "stack": s.get("stack") }))
}

fn optional(pairs: &[(&str, Option<String>)]) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            map.insert((*k).to_string(), Value::String(v.clone()));
        }
    }
    Value::Object(map)
}

/// A library template from words: `s3 bucket` → `s3-bucket`, `rds` → `rds-postgres`.
fn template(words: &str) -> Result<String, String> {
    let words = words.trim().to_ascii_lowercase();
    let synonyms = [
        ("load balancer", "alb"),
        ("node group", "eks-nodegroup"),
        ("nodegroup", "eks-nodegroup"),
        ("network", "vpc-3az"),
        ("database", "rds-postgres"),
        ("postgres", "rds-postgres"),
        ("bucket", "s3-bucket"),
        ("instance", "ec2-instance"),
    ];
    if let Some((_, name)) = synonyms.iter().find(|(w, _)| *w == words) {
        return Ok((*name).to_string());
    }
    let dashed = words.split_whitespace().collect::<Vec<_>>().join("-");
    if let Some(t) = LIBRARY.iter().find(|t| t.name == dashed) {
        return Ok(t.name.to_string());
    }
    let found: Vec<&str> = LIBRARY
        .iter()
        .map(|t| t.name)
        .filter(|n| n.starts_with(&dashed) || n.split('-').any(|part| part == dashed))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).to_string()),
        [] if dashed.contains('/') || dashed.ends_with(".yaml") || dashed.ends_with(".json") => {
            Ok(words)
        }
        [] => Err(format!(
            "I know no template called {words:?}. The library has: {}.",
            LIBRARY
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        many => Err(format!(
            "Which template: {}? Say it with its full name.",
            many.join(" or ")
        )),
    }
}

fn environment(word: Option<String>) -> Option<String> {
    word.map(|w| match w.to_ascii_lowercase().as_str() {
        "dev" | "development" => "DEV".to_string(),
        "tst" | "test" | "testing" => "TST".to_string(),
        _ => "PRD".to_string(),
    })
}

/// The phrase table: first match wins, so the more specific come first.
static RULES: &[Rule] = &[
    Rule {
        id: "whoami",
        what: "saying who you are",
        mutating: false,
        pattern: r"^(?:who ?am ?i|whoami|who is logged in|who are we|which account(?: is this| am i in| are we in)?|what account(?: is this| am i in| are we in)?)$",
        build: none,
    },
    Rule {
        id: "help",
        what: "help",
        mutating: false,
        pattern: r"^(?:help|what can you do|commands|list (?:the )?commands|\?)$",
        build: none,
    },
    Rule {
        id: "cancel-job",
        what: "cancelling jobs",
        mutating: false,
        pattern: r"^(?:cancel|stop|abort|kill) (?:the )?job (?:number |no\.? |#)?(?P<job>[0-9]+)$",
        build: |s| {
            let job: i64 = s
                .get("job")
                .and_then(|j| j.parse().ok())
                .ok_or("a job number")?;
            Ok(json!({ "job": job }))
        },
    },
    Rule {
        id: "list-jobs",
        what: "listing jobs",
        mutating: false,
        pattern: r"^(?:(?:list|show|get)(?: me)? )?(?:the |all |my )?(?:running |recent )?jobs$|^what(?:'s| is) running$",
        build: none,
    },
    Rule {
        id: "set-region",
        what: "switching regions",
        mutating: false,
        pattern: r"^(?:(?:switch|change|move|go|set)(?: the)?(?: region)? to|use(?: region)?|region) (?P<region>[a-z]{2}(?:-[a-z]+){1,2}-[0-9]{1,2})$",
        build: |s| Ok(json!({ "region": s.get("region") })),
    },
    Rule {
        id: "list-stacks",
        what: "listing stacks",
        mutating: false,
        pattern: r"^(?:(?:list|show|get|what|which)(?: are| me)?(?: the| all| my| our)? )?(?:cloudformation )?stacks(?: are there| exist| do we have| are deployed)?$",
        build: none,
    },
    // Kubernetes, before the stack rules that would read "delete pod x" as a stack.
    Rule {
        id: "scale-deployment",
        what: "scaling deployments",
        mutating: true,
        pattern: r"^scale(?: the)?(?: deployment)? (?P<deployment>[a-z0-9][a-z0-9.-]*)(?: deployment)?(?: in (?:the )?(?P<namespace>[a-z0-9][a-z0-9-]*)(?: namespace)?)? (?:to|up to|down to) (?P<replicas>[0-9]+)(?: replicas?| pods?)?$",
        build: |s| {
            let replicas: u64 = s
                .get("replicas")
                .and_then(|n| n.parse().ok())
                .ok_or("a number of replicas")?;
            let mut args = optional(&[
                ("deployment", s.get("deployment")),
                ("namespace", s.get("namespace")),
            ]);
            args["replicas"] = replicas.into();
            Ok(args)
        },
    },
    Rule {
        id: "restart-deployment",
        what: "restarting deployments",
        mutating: true,
        pattern: r"^(?:restart|rollout restart|bounce)(?: the)?(?: deployment)? (?P<deployment>[a-z0-9][a-z0-9.-]*)(?: deployment)?(?: in (?:the )?(?P<namespace>[a-z0-9][a-z0-9-]*)(?: namespace)?)?$",
        build: |s| {
            Ok(optional(&[
                ("deployment", s.get("deployment")),
                ("namespace", s.get("namespace")),
            ]))
        },
    },
    Rule {
        id: "delete-pod",
        what: "deleting pods",
        mutating: true,
        pattern: r"^(?:delete|kill|remove)(?: the)? pod (?P<pod>[a-z0-9][a-z0-9.-]*)(?: in (?:the )?(?P<namespace>[a-z0-9][a-z0-9-]*)(?: namespace)?)?$",
        build: |s| {
            Ok(optional(&[
                ("pod", s.get("pod")),
                ("namespace", s.get("namespace")),
            ]))
        },
    },
    Rule {
        id: "pod-logs",
        what: "showing pod logs",
        mutating: false,
        pattern: r"^(?:(?:show|get|tail|follow|print)(?: me)? )?(?:the )?logs? (?:of|for|from) (?:the )?(?:pod )?(?P<pod>[a-z0-9][a-z0-9.-]*)(?: pod)?(?: in (?:the )?(?P<namespace>[a-z0-9][a-z0-9-]*)(?: namespace)?)?$",
        build: |s| {
            Ok(optional(&[
                ("pod", s.get("pod")),
                ("namespace", s.get("namespace")),
            ]))
        },
    },
    Rule {
        id: "list-pods",
        what: "listing pods",
        mutating: false,
        pattern: r"^(?:(?:list|show|get|what)(?: are| me)?(?: the| all)? )?pods(?: are running)?(?: in (?:the )?(?P<namespace>[a-z0-9][a-z0-9-]*)(?: namespace)?)?$",
        build: |s| Ok(optional(&[("namespace", s.get("namespace"))])),
    },
    Rule {
        id: "list-nodes",
        what: "listing nodes",
        mutating: false,
        pattern: r"^(?:(?:list|show|get|what)(?: are| me)?(?: the| all)? )?(?:kubernetes |k8s |eks )?nodes$",
        build: none,
    },
    // Cost.
    Rule {
        id: "estimate-cost",
        what: "estimating costs",
        mutating: false,
        pattern: r"^(?:(?:what|how much) (?:does|would|will|do) (?:the )?(?P<template>.+?) template cost(?: to run| per month| a month| monthly)?|estimate(?: the)?(?: cost of)?(?: the)? (?P<template2>.+?) template(?:'s cost)?)$",
        build: |s| {
            let words = s
                .get("template")
                .or_else(|| s.get("template2"))
                .unwrap_or_default();
            Ok(json!({ "template": template(&words)? }))
        },
    },
    Rule {
        id: "estimate-cost",
        what: "estimating costs",
        mutating: false,
        pattern: r"^(?:what|how much) (?:does|would|will) (?:the )?(?:stack )?(?P<stack>[a-z0-9][a-z0-9-]*)(?: stack)? cost(?: to run| per month| a month| monthly)?$",
        build: stack_arg,
    },
    Rule {
        id: "show-spend",
        what: "showing actual spend",
        mutating: false,
        pattern: r"^(?:(?:what|how much) (?:did|have|do) we (?:spend|spent)(?: this month| today| so far| on aws)?|(?:show )?(?:the |our )?(?:actual )?(?:spend|spending|aws bill|bill)(?: this month)?)$",
        build: none,
    },
    Rule {
        id: "list-idle",
        what: "finding idle resources",
        mutating: false,
        pattern: r"^(?:(?:list|show|find|what are)(?: the)? )?idle(?: resources)?(?: in dev)?$|^what is idle$",
        build: none,
    },
    Rule {
        id: "reap-idle",
        what: "reaping idle resources",
        mutating: true,
        pattern: r"^(?:reap|clean up|remove|delete)(?: the| all)? idle(?: dev)? resources(?: in dev)?$",
        build: none,
    },
    // Compliance.
    Rule {
        id: "show-compliance",
        what: "showing compliance",
        mutating: false,
        pattern: r"^(?:are we|is it|is everything|am i) compliant(?: with (?:nist )?(?:control )?(?P<control>[a-z]{2}-[0-9]{1,2}(?:\([0-9]{1,2}\))?))?$|^(?:show |what is )?(?:the )?compliance(?: (?:status|state))?(?: (?:for|of|with) (?:nist )?(?:control )?(?P<control2>[a-z]{2}-[0-9]{1,2}(?:\([0-9]{1,2}\))?))?$",
        build: |s| {
            let control = s.get("control").or_else(|| s.get("control2"));
            Ok(optional(&[(
                "control",
                control.map(|c| c.to_ascii_uppercase()),
            )]))
        },
    },
    Rule {
        id: "show-compliance",
        what: "showing compliance",
        mutating: false,
        pattern: r"^is (?:the )?(?:stack )?(?P<stack>[a-z0-9][a-z0-9-]*)(?: stack)? compliant(?: with (?:nist )?(?:control )?(?P<control>[a-z]{2}-[0-9]{1,2}(?:\([0-9]{1,2}\))?))?$",
        build: |s| {
            Ok(optional(&[
                ("stack", s.get("stack")),
                ("control", s.get("control").map(|c| c.to_ascii_uppercase())),
            ]))
        },
    },
    Rule {
        id: "check-template",
        what: "checking templates",
        mutating: false,
        pattern: r"^(?:check|judge|scan|audit)(?: the)? (?:template )?library(?: for compliance)?$|^check compliance$",
        build: none,
    },
    Rule {
        id: "check-template",
        what: "checking templates",
        mutating: false,
        pattern: r"^(?:check|judge|scan|audit)(?: the)?(?: stack)? (?P<stack>[a-z0-9][a-z0-9-]*)(?: stack)?(?: for compliance)?$",
        build: stack_arg,
    },
    Rule {
        id: "export-report",
        what: "exporting the compliance report",
        mutating: false,
        pattern: r"^export(?: the)?(?: compliance)?(?: report)?(?: as| to| in)? (?P<format>text|json|csv|sarif|oscal)$",
        build: |s| Ok(json!({ "format": s.get("format") })),
    },
    // Installers.
    Rule {
        id: "run-installer",
        what: "running installers",
        mutating: true,
        pattern: r"^(?:run|install)(?: the)?(?: installer)? (?P<installer>[a-z0-9][a-z0-9._-]*)(?: installer)? on (?P<target>\S+)$",
        build: |s| {
            Ok(optional(&[
                ("installer", s.get("installer")),
                ("target", s.get("target")),
            ]))
        },
    },
    // CloudFormation.
    Rule {
        id: "deploy-template",
        what: "deploying templates",
        mutating: true,
        pattern: r"^(?:deploy|launch|create)(?: a| the| an)? (?P<template>.+?)(?: template| stack)?(?: (?:to|in|into|on) (?:the )?(?P<env>dev|development|tst|test|testing|prd|prod|production)(?: account| environment)?)?(?: (?:as|named|called) (?P<stack>[a-z][a-z0-9-]*))?$",
        build: |s| {
            let words = s.get("template").unwrap_or_default();
            let template = template(&words)?;
            let Some(stack) = s.get("stack") else {
                return Err(format!(
                    "What should the new stack be called? Say, for example: deploy the {template} template as my-{template}"
                ));
            };
            let mut args = json!({ "template": template, "stack": stack });
            if let Some(env) = environment(s.get("env")) {
                args["environment"] = env.into();
            }
            Ok(args)
        },
    },
    Rule {
        id: "stack-events",
        what: "showing stack events",
        mutating: false,
        pattern: r"^(?:(?:show|list|get)(?: me)? )?(?:the )?(?:recent |latest )?events (?:of|for|on|in) (?:the )?(?:stack )?(?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?$|^(?P<stack2>[a-z0-9][a-z0-9-]*) events$",
        build: |s| Ok(json!({ "stack": s.get("stack").or_else(|| s.get("stack2")) })),
    },
    Rule {
        id: "follow-stack",
        what: "following stacks",
        mutating: false,
        pattern: r"^(?:follow|watch|tail)(?: the)?(?: stack)? (?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?$",
        build: stack_arg,
    },
    Rule {
        id: "detect-drift",
        what: "detecting drift",
        mutating: false,
        pattern: r"^(?:(?:detect|check)(?: the)? drift (?:of|on|for|in) (?:the )?(?:stack )?(?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?|(?:has|is|did) (?:the )?(?:stack )?(?P<stack2>[a-z0-9][a-z0-9-]*)(?: stack)? drift(?:ed)?|drift (?:of )?(?P<stack3>[a-z0-9][a-z0-9-]*))$",
        build: |s| {
            Ok(
                json!({ "stack": s.get("stack").or_else(|| s.get("stack2")).or_else(|| s.get("stack3")) }),
            )
        },
    },
    Rule {
        id: "update-stack",
        what: "updating stacks",
        mutating: true,
        pattern: r"^update(?: the)?(?: stack)? (?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?$",
        build: stack_arg,
    },
    Rule {
        id: "delete-stack",
        what: "deleting stacks",
        mutating: true,
        pattern: r"^(?:delete|remove|destroy|tear down|teardown|drop)(?: the)?(?: stack)? (?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?$",
        build: stack_arg,
    },
    Rule {
        id: "describe-stack",
        what: "describing stacks",
        mutating: false,
        pattern: r"^(?:describe|show|inspect|details of|detail|status of|what is the status of|how is|what is|what's in)(?: the)?(?: stack)? (?P<stack>[a-z0-9][a-z0-9:/-]*)(?: stack)?(?: doing)?$",
        build: stack_arg,
    },
];

/// Words that never name a target: "delete everything" is not a stack called everything.
const NOT_A_NAME: &[&str] = &[
    "everything",
    "all",
    "it",
    "them",
    "this",
    "that",
    "these",
    "those",
    "stacks",
    "something",
    "anything",
    "stack",
    "everything-now",
];

/// Shown when nothing matched; the closest first.
const EXAMPLES: &[&str] = &[
    "list stacks",
    "describe stack NAME",
    "events of NAME",
    "detect drift on NAME",
    "deploy the s3 bucket template to dev as NAME",
    "delete stack NAME",
    "are we compliant with SC-28",
    "check the library",
    "export the report as sarif",
    "what does the rds template cost",
    "how much did we spend this month",
    "scale checkout to 5",
    "logs of POD in NAMESPACE",
    "list jobs",
    "cancel job 12",
    "switch to eu-west-1",
    "who am I",
    "help",
];

/// Changes aimed at many things at once: never guessed into one operation.
const MASS: &str = r"^(?:delete|remove|destroy|tear down|teardown|drop|wipe|nuke|kill|scale down|stop)(?: all| every| each)?(?: of)?(?: the| our| my)? (?:stacks|everything|all(?: stacks| of them| of it)?|resources|pods|deployments|it all|the lot)(?: now)?$";

static MASS_RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(MASS).ok());

static COMPILED: LazyLock<Vec<Option<Regex>>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|r| match Regex::new(r.pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                // The table is literal and every pattern is compiled by the tests.
                tracing::error!("offline rule {} does not compile: {e}", r.id);
                None
            }
        })
        .collect()
});

/// The phrase as matched: lower-case ASCII (so positions match what was typed), polite
/// openings and closing punctuation gone, spaces single.
fn normalise(text: &str) -> String {
    let mut t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    while t.ends_with(['?', '.', '!', ',']) {
        t.pop();
    }
    let lower = t.to_ascii_lowercase();
    let openings = [
        "please ",
        "can you ",
        "could you ",
        "would you ",
        "will you ",
        "i want to ",
        "i'd like to ",
        "i would like to ",
        "let's ",
        "go ahead and ",
        "hey opsdeck ",
        "opsdeck ",
    ];
    let mut start = 0;
    while let Some(o) = openings.iter().find(|o| lower[start..].starts_with(**o)) {
        start += o.len();
    }
    let mut t = t[start..].to_string();
    let lower = t.to_ascii_lowercase();
    for closing in [" please", " for me", " now"] {
        if lower.ends_with(closing) {
            t.truncate(t.len() - closing.len());
            break;
        }
    }
    t
}

/// Match `name` (a stack named in the phrase) against the stacks the console knows.
fn resolve(
    name: &str,
    known: &[String],
    mutating: bool,
    id: &str,
) -> Result<(String, Option<String>), String> {
    if known.is_empty() || known.iter().any(|k| k == name) || name.starts_with("arn:") {
        return Ok((name.to_string(), None));
    }
    let lower = name.to_ascii_lowercase();
    let same: Vec<&String> = known
        .iter()
        .filter(|k| k.to_ascii_lowercase() == lower)
        .collect();
    if let [one] = same.as_slice() {
        return Ok(((*one).clone(), None));
    }
    let near: Vec<&String> = known
        .iter()
        .filter(|k| k.to_ascii_lowercase().contains(&lower))
        .collect();
    match near.as_slice() {
        [] => Ok((name.to_string(), None)),
        [one] if !mutating => Ok((
            (*one).clone(),
            Some(format!(
                "no stack is called {name}; using {one}, the only close match"
            )),
        )),
        [one] => Err(format!(
            "No stack is called {name}. Did you mean {one}? I do not guess the target of a change: say \"{} {one}\" to propose it.",
            id.split('-').next().unwrap_or(id)
        )),
        many => Err(format!(
            "Which stack do you mean: {}?",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Parse one phrase. `known_stacks` are the stack names the asker can see (for ambiguity);
/// empty when unknown.
pub fn parse(text: &str, known_stacks: &[String]) -> Understood {
    let text = normalise(text);
    let lower = text.to_ascii_lowercase();
    if lower.is_empty() {
        return Understood::Nothing(EXAMPLES[..4].to_vec());
    }
    if MASS_RE.as_ref().is_some_and(|re| re.is_match(&lower)) {
        return Understood::Ask(
            "I will not turn that into changes: each change is proposed on its own, with its target named. Name one, for example: \"delete stack logs-bucket\".".into(),
        );
    }
    for (rule, re) in RULES.iter().zip(COMPILED.iter()) {
        let Some(re) = re else { continue };
        let Some(caps) = re.captures(&lower) else {
            continue;
        };
        let slots = Slots { caps, text: &text };
        // Never a target picked by a pronoun or "everything".
        for slot in [
            "stack",
            "stack2",
            "stack3",
            "deployment",
            "pod",
            "installer",
        ] {
            if let Some(v) = slots.get(slot)
                && NOT_A_NAME.contains(&v.to_ascii_lowercase().as_str())
            {
                return Understood::Ask(if rule.mutating {
                    format!(
                        "I will not guess what to change from {v:?}. Name exactly one target, for example: \"delete stack logs-bucket\"."
                    )
                } else {
                    "Which one? Name it, for example: \"describe stack logs-bucket\".".to_string()
                });
            }
        }
        let mut args = match (rule.build)(&slots) {
            Ok(args) => args,
            Err(question) => return Understood::Ask(question),
        };
        let mut note = None;
        if rule.id != "deploy-template"
            && let Some(name) = args.get("stack").and_then(Value::as_str).map(String::from)
        {
            match resolve(&name, known_stacks, rule.mutating, rule.id) {
                Ok((resolved, why)) => {
                    args["stack"] = resolved.into();
                    note = why;
                }
                Err(question) => return Understood::Ask(question),
            }
        }
        return Understood::Op {
            id: rule.id,
            args,
            what: rule.what,
            note,
        };
    }
    Understood::Nothing(suggestions(&lower))
}

/// Up to four example phrasings, those sharing the most words with `lower` first.
fn suggestions(lower: &str) -> Vec<&'static str> {
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut scored: Vec<(usize, usize, &'static str)> = EXAMPLES
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let shared = e
                .split_whitespace()
                .filter(|w| w.len() > 2 && !["the", "and", "for", "all", "NAME"].contains(w))
                .filter(|w| {
                    words
                        .iter()
                        .any(|x| x.starts_with(&w.to_ascii_lowercase()[..3]))
                })
                .count();
            (shared, i, *e)
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(4).map(|(_, _, e)| e).collect()
}

/// The parser as a model: a phrase becomes one tool call (what it understood), and the tool's
/// result becomes the answer, in words.
pub struct OfflineModel {
    known_stacks: Vec<String>,
    /// Why there is no model, said once at the start of an answer ("" for none).
    reason: String,
}

impl OfflineModel {
    pub fn new(known_stacks: Vec<String>, reason: impl Into<String>) -> OfflineModel {
        OfflineModel {
            known_stacks,
            reason: reason.into(),
        }
    }

    fn reply_to(&self, text: &str) -> Vec<Block> {
        let lead = if self.reason.is_empty() {
            String::new()
        } else {
            format!("({}; answering offline.)\n", self.reason)
        };
        match parse(text, &self.known_stacks) {
            Understood::Op {
                id,
                args,
                what,
                note,
            } => {
                if crate::registry::by_id(id).is_none() {
                    return vec![Block::Text(format!(
                        "{lead}Understood: {id}. But {what} is not available in this build of opsdeck."
                    ))];
                }
                let shown = if args.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    format!(" {args}")
                };
                let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
                vec![
                    Block::Text(format!("{lead}Understood: {id}{shown}{note}.\n")),
                    Block::ToolUse {
                        id: format!("offline-{}", crate::model::now_ms()),
                        name: id.to_string(),
                        input: args,
                    },
                ]
            }
            Understood::Ask(question) => vec![Block::Text(format!("{lead}{question}"))],
            Understood::Nothing(examples) => vec![Block::Text(format!(
                "{lead}I did not understand that. Without a model I know common phrasings, such as: {}. `help` lists the commands.",
                examples
                    .iter()
                    .map(|e| format!("\"{e}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))],
        }
    }
}

/// A tool's result in words: its data rendered, or its sentence.
pub fn describe_result(text: &str) -> String {
    match super::tools::data_of(text) {
        Some(value) => {
            let mut lines = Vec::new();
            render(&value, 0, &mut lines);
            if lines.is_empty() {
                "Nothing to show.".into()
            } else {
                lines.join("\n")
            }
        }
        None => text.to_string(),
    }
}

const LABEL_FIELDS: &[&str] = &[
    "name",
    "stack_name",
    "control",
    "rule",
    "id",
    "operation",
    "logical_id",
    "title",
    "status",
    "state",
    "resource",
    "severity",
    "timestamp",
    "reason",
    "message",
    "error",
    "command",
    "does",
];

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One line for an item of a list.
fn one_line(v: &Value) -> String {
    if let Some(n) = v.get("_not_shown").and_then(Value::as_u64) {
        return format!("… {n} more not shown");
    }
    match v {
        Value::Object(map) => {
            let parts: Vec<String> = LABEL_FIELDS
                .iter()
                .filter_map(|f| map.get(*f).and_then(scalar))
                .filter(|s| !s.is_empty())
                .take(4)
                .collect();
            if parts.is_empty() {
                map.iter()
                    .filter_map(|(k, v)| scalar(v).map(|s| format!("{k}: {s}")))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" · ")
            } else {
                parts.join(" · ")
            }
        }
        other => scalar(other).unwrap_or_else(|| other.to_string()),
    }
}

fn render(v: &Value, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let key = k.replace('_', " ");
                match item {
                    Value::Array(items) if items.is_empty() => {
                        out.push(format!("{pad}{key}: none"))
                    }
                    Value::Array(items) => {
                        let shown = items
                            .iter()
                            .filter(|i| i.get("_not_shown").is_none())
                            .count();
                        out.push(format!("{pad}{key} ({shown}):"));
                        for i in items.iter().take(25) {
                            out.push(format!("{pad}- {}", one_line(i)));
                        }
                    }
                    Value::Object(_) if depth < 2 => {
                        out.push(format!("{pad}{key}:"));
                        render(item, depth + 1, out);
                    }
                    Value::Null => {}
                    other => out.push(format!("{pad}{key}: {}", one_line(other))),
                }
            }
        }
        Value::Array(items) => {
            for i in items.iter().take(25) {
                out.push(format!("{pad}- {}", one_line(i)));
            }
        }
        other => out.push(format!("{pad}{}", one_line(other))),
    }
}

impl ModelApi for OfflineModel {
    fn model_id(&self) -> &str {
        "offline"
    }

    fn converse<'a>(
        &'a self,
        request: &'a ModelRequest,
        sink: &'a dyn Sink,
        _cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let last = request.messages.last().filter(|m| m.role == Role::User);
            let results: Vec<&str> = last
                .map(|m| {
                    m.blocks
                        .iter()
                        .filter_map(|b| match b {
                            Block::ToolResult { text, .. } => Some(text.as_str()),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let blocks = if !results.is_empty() {
                vec![Block::Text(
                    results
                        .iter()
                        .map(|t| describe_result(t))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )]
            } else {
                self.reply_to(&last.map(Message::text).unwrap_or_default())
            };
            for b in &blocks {
                if let Block::Text(t) = b {
                    sink.text(t).await;
                }
            }
            let stop = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
                StopReason::ToolUse
            } else {
                StopReason::EndTurn
            };
            Ok(ModelReply {
                blocks,
                stop,
                usage: Usage::default(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(text: &str) -> (String, Value) {
        match parse(text, &[]) {
            Understood::Op { id, args, .. } => (id.to_string(), args),
            other => panic!("{text:?}: expected an operation, got {other:?}"),
        }
    }

    #[test]
    fn every_pattern_compiles() {
        for (rule, re) in RULES.iter().zip(COMPILED.iter()) {
            assert!(re.is_some(), "{}: {}", rule.id, rule.pattern);
        }
        assert!(MASS_RE.is_some());
    }

    #[test]
    fn phrasings_map_to_operations_and_arguments() {
        let table: &[(&str, &str, Value)] = &[
            (
                "deploy the s3 bucket template to dev as logs-bucket",
                "deploy-template",
                json!({"template": "s3-bucket", "stack": "logs-bucket", "environment": "DEV"}),
            ),
            (
                "Please deploy the rds template as orders-db",
                "deploy-template",
                json!({"template": "rds-postgres", "stack": "orders-db"}),
            ),
            (
                "scale checkout to 5",
                "scale-deployment",
                json!({"deployment": "checkout", "replicas": 5}),
            ),
            (
                "scale deployment checkout in payments to 3 replicas",
                "scale-deployment",
                json!({"deployment": "checkout", "namespace": "payments", "replicas": 3}),
            ),
            (
                "logs of checkout-7f9c in payments",
                "pod-logs",
                json!({"pod": "checkout-7f9c", "namespace": "payments"}),
            ),
            (
                "show me the logs for pod api-0",
                "pod-logs",
                json!({"pod": "api-0"}),
            ),
            (
                "what does the rds template cost",
                "estimate-cost",
                json!({"template": "rds-postgres"}),
            ),
            (
                "How much does the s3 bucket template cost per month?",
                "estimate-cost",
                json!({"template": "s3-bucket"}),
            ),
            (
                "are we compliant with SC-28",
                "show-compliance",
                json!({"control": "SC-28"}),
            ),
            ("Are we compliant?", "show-compliance", json!({})),
            (
                "is web compliant with ac-3",
                "show-compliance",
                json!({"stack": "web", "control": "AC-3"}),
            ),
            ("who am I", "whoami", json!({})),
            ("Who am i?", "whoami", json!({})),
            ("which account is this", "whoami", json!({})),
            ("list stacks", "list-stacks", json!({})),
            ("what stacks do we have", "list-stacks", json!({})),
            ("show all stacks", "list-stacks", json!({})),
            (
                "describe stack web",
                "describe-stack",
                json!({"stack": "web"}),
            ),
            (
                "what is the status of Payments-API",
                "describe-stack",
                json!({"stack": "Payments-API"}),
            ),
            ("events of web", "stack-events", json!({"stack": "web"})),
            (
                "show the latest events for stack web",
                "stack-events",
                json!({"stack": "web"}),
            ),
            ("follow web", "follow-stack", json!({"stack": "web"})),
            (
                "detect drift on web",
                "detect-drift",
                json!({"stack": "web"}),
            ),
            ("has web drifted", "detect-drift", json!({"stack": "web"})),
            ("update stack web", "update-stack", json!({"stack": "web"})),
            (
                "delete stack logs-bucket",
                "delete-stack",
                json!({"stack": "logs-bucket"}),
            ),
            (
                "tear down the logs-bucket stack",
                "delete-stack",
                json!({"stack": "logs-bucket"}),
            ),
            (
                "delete pod api-7d9 in shop",
                "delete-pod",
                json!({"pod": "api-7d9", "namespace": "shop"}),
            ),
            (
                "restart checkout in payments",
                "restart-deployment",
                json!({"deployment": "checkout", "namespace": "payments"}),
            ),
            (
                "list pods in payments",
                "list-pods",
                json!({"namespace": "payments"}),
            ),
            ("show nodes", "list-nodes", json!({})),
            ("how much did we spend this month", "show-spend", json!({})),
            ("show idle resources", "list-idle", json!({})),
            ("reap idle resources", "reap-idle", json!({})),
            ("check the library", "check-template", json!({})),
            (
                "check stack web for compliance",
                "check-template",
                json!({"stack": "web"}),
            ),
            (
                "export the report as sarif",
                "export-report",
                json!({"format": "sarif"}),
            ),
            (
                "install node-exporter on ssh:web-1",
                "run-installer",
                json!({"installer": "node-exporter", "target": "ssh:web-1"}),
            ),
            ("list jobs", "list-jobs", json!({})),
            ("what's running", "list-jobs", json!({})),
            ("cancel job 12", "cancel-job", json!({"job": 12})),
            (
                "switch to eu-west-1",
                "set-region",
                json!({"region": "eu-west-1"}),
            ),
            (
                "use region us-east-2",
                "set-region",
                json!({"region": "us-east-2"}),
            ),
            ("help", "help", json!({})),
        ];
        for (text, id, args) in table {
            assert_eq!(op(text), (id.to_string(), args.clone()), "{text:?}");
        }
    }

    #[test]
    fn phrasings_that_must_map_to_nothing_or_a_question() {
        for text in [
            "",
            "hello there",
            "make it better",
            "what is the meaning of life and everything",
            "rm -rf /",
            "stakcs",
        ] {
            assert!(
                matches!(parse(text, &[]), Understood::Nothing(_)),
                "{text:?}: {:?}",
                parse(text, &[])
            );
        }
        // A change is never guessed: no target, a pronoun, "everything", a missing name.
        for text in [
            "delete everything",
            "delete all",
            "delete it",
            "delete all stacks",
            "remove them",
            "deploy the s3 bucket template",
            "deploy the eks template as x",
            "scale it to 5",
        ] {
            assert!(
                matches!(parse(text, &[]), Understood::Ask(_)),
                "{text:?} must ask, got {:?}",
                parse(text, &[])
            );
        }
    }

    #[test]
    fn an_ambiguous_target_is_asked_about_and_a_change_is_never_guessed() {
        let known = vec![
            "web-a".to_string(),
            "web-b".to_string(),
            "logs-bucket".to_string(),
        ];
        assert!(
            matches!(parse("describe web", &known), Understood::Ask(q) if q.contains("web-a") && q.contains("web-b"))
        );
        match parse("describe logs", &known) {
            Understood::Op { args, note, .. } => {
                assert_eq!(args["stack"], "logs-bucket");
                assert!(note.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(parse("delete logs", &known), Understood::Ask(q) if q.contains("logs-bucket")),
            "a change is not aimed at a close match"
        );
        assert!(matches!(
            parse("delete stack logs-bucket", &known),
            Understood::Op { .. }
        ));
    }

    #[test]
    fn suggestions_come_when_nothing_matched() {
        let Understood::Nothing(s) = parse("drift pls on the thing over there", &[]) else {
            panic!("nothing should match");
        };
        assert!(!s.is_empty() && s.len() <= 4);
        assert!(s.contains(&"detect drift on NAME"), "{s:?}");
    }

    #[test]
    fn an_operation_this_build_lacks_is_said_plainly() {
        let model = OfflineModel::new(vec![], "");
        let blocks = model.reply_to("scale checkout to 5");
        assert_eq!(blocks.len(), 1, "no tool call for a missing operation");
        let Block::Text(text) = &blocks[0] else {
            panic!("a sentence");
        };
        if crate::registry::by_id("scale-deployment").is_none() {
            assert!(
                text.contains("scaling deployments is not available in this build"),
                "{text}"
            );
        }
        let blocks = model.reply_to("who am I");
        assert!(
            blocks
                .iter()
                .any(|b| matches!(b, Block::ToolUse { name, .. } if name == "whoami"))
        );
    }

    #[test]
    fn results_read_as_words() {
        let text = super::super::tools::data(
            "list-stacks",
            json!({"stacks": [{"name": "web", "status": "CREATE_COMPLETE", "id": "arn:x"}]}),
        );
        let words = describe_result(&text);
        assert!(words.contains("stacks (1):"), "{words}");
        assert!(words.contains("web · arn:x · CREATE_COMPLETE"), "{words}");
        assert_eq!(
            describe_result("proposed; the operator cancelled"),
            "proposed; the operator cancelled"
        );
    }
}
