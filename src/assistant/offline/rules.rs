//! The phrase table: each rule maps a phrasing (a regex over the lower-cased phrase) to an
//! operation id of the registry and its arguments. This is the only place in the assistant
//! that names operations, some of which other builds (Kubernetes, cost, installers) provide.

use crate::cfn::library::LIBRARY;
use serde_json::{Map, Value, json};

/// Which slot holds what, for building arguments and resolving names.
#[derive(Clone, Copy)]
pub(super) struct Rule {
    pub(super) id: &'static str,
    pub(super) what: &'static str,
    /// Changes something: its target is never guessed.
    pub(super) mutating: bool,
    pub(super) pattern: &'static str,
    pub(super) build: fn(&Slots) -> Result<Value, String>,
}

/// Captured slots, case preserved from what was typed.
pub(super) struct Slots<'a> {
    pub(super) caps: regex::Captures<'a>,
    pub(super) text: &'a str,
}

impl Slots<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
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
pub(super) static RULES: &[Rule] = &[
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
pub(super) const NOT_A_NAME: &[&str] = &[
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
pub(super) const EXAMPLES: &[&str] = &[
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
pub(super) const MASS: &str = r"^(?:delete|remove|destroy|tear down|teardown|drop|wipe|nuke|kill|scale down|stop)(?: all| every| each)?(?: of)?(?: the| our| my)? (?:stacks|everything|all(?: stacks| of them| of it)?|resources|pods|deployments|it all|the lot)(?: now)?$";
