//! The phrase table, phrasings that must map to nothing, questions, and what is said.

use super::rules::RULES;
use super::*;
use serde_json::json;

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
        (
            "how much does the web stack cost",
            "estimate-cost",
            json!({"stack": "web"}),
        ),
    ];
    let mut checked = std::collections::BTreeSet::new();
    for (text, id, args) in table {
        assert_eq!(op(text), (id.to_string(), args.clone()), "{text:?}");
        if fits_the_tool_schema(text, id, args) {
            checked.insert(*id);
        }
    }
    for id in [
        "estimate-cost",
        "show-spend",
        "list-idle",
        "reap-idle",
        "list-pods",
        "list-nodes",
        "pod-logs",
        "scale-deployment",
        "restart-deployment",
        "delete-pod",
        "run-installer",
    ] {
        assert!(checked.contains(id), "{id}'s arguments were not checked");
    }
}

/// What the parser sends is what the tool's schema takes: every argument a property of the
/// schema and of its type, every required one given (a renamed argument fails here, not at run
/// time). `false` for an id that is no tool.
fn fits_the_tool_schema(text: &str, id: &str, args: &Value) -> bool {
    let Some(tool) = crate::assistant::tools::find(id) else {
        return false;
    };
    let schema = tool.spec().schema;
    let props = &schema["properties"];
    let given = args.as_object().expect("arguments are an object");
    for (name, value) in given {
        let prop = &props[name.as_str()];
        assert!(
            prop.is_object(),
            "{text:?}: {id} takes no argument {name}: {schema}"
        );
        let fits = match prop["type"].as_str() {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("array") => value.is_array(),
            Some("object") => value.is_object(),
            _ => true,
        };
        assert!(
            fits,
            "{text:?}: {id} {name}={value} is not a {}",
            prop["type"]
        );
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        let required = required.as_str().expect("a name");
        assert!(
            given.contains_key(required),
            "{text:?}: {id} needs {required}: {schema}"
        );
    }
    true
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
    if crate::registry::by_id("scale-deployment").is_none() {
        assert_eq!(blocks.len(), 1, "no tool call for a missing operation");
        let Block::Text(text) = &blocks[0] else {
            panic!("a sentence");
        };
        assert!(
            text.contains("scaling deployments is not available in this build"),
            "{text}"
        );
    } else {
        assert!(
            blocks
                .iter()
                .any(|b| matches!(b, Block::ToolUse { name, .. } if name == "scale-deployment")),
            "the operation this build has is called"
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
        json!({"stacks": [{"name": "web", "status": "CREATE_COMPLETE", "id": "arn:aws:x"}]}),
    );
    let words = describe_result(&text);
    assert!(words.contains("stacks (1):"), "{words}");
    assert!(words.contains("web · CREATE_COMPLETE"), "{words}");
    assert_eq!(
        describe_result("proposed; the operator cancelled"),
        "proposed; the operator cancelled"
    );
}
