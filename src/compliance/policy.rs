//! The rule pack: Rego files from `policies/` (compiled in) and from user directories, loaded
//! into one regorus engine. A file that does not parse, or whose `metadata` is incomplete,
//! gets an error naming the file and line and is left out; the others still load.
//!
//! Fail closed:
//! - every file owns its package: a file whose package is another file's (or nests in it, or
//!   it in another's) is refused, and so is a rule id already taken. The bundled files load
//!   first, so a user policy can neither replace nor extend a bundled rule.
//! - each rule's evaluation is stopped after [`RULE_TIME_LIMIT`] (regorus's cooperative
//!   execution timer); a rule that errors or is stopped judged nothing, and its error names
//!   the rule, so its controls are reported as "error" and the deploy gate counts it as an
//!   unwaived failure. regorus bounds memory only when built with its mimalloc allocator
//!   (`allocator-memory-limits`), which opsdeck does not use: a rule's memory is bounded only
//!   by the time it is given.
//!
//! The contract of a rule file:
//!
//! ```rego
//! package opsdeck.rules.s3_encryption
//! import rego.v1
//! metadata := {"id": "S3-001", "title": "...", "severity": "high",
//!              "controls": ["SC-28", "SC-28(1)"], "resource_types": ["AWS::S3::Bucket"],
//!              "remediation": "...",
//!              "reads": ["AWS::S3::BucketPolicy"]}   # optional: other types it looks at
//! findings contains {"resource": r.id, "path": "Properties.BucketEncryption",
//!                    "message": "..."} if { some r in input.resources; ... }
//! ```

use super::controls;
use super::input::{EvalInput, Lines};
use super::model::{Finding, RuleMeta, Severity};
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../policies/", $name, ".rego")))),*]
    };
}

/// Every bundled policy file: (file stem, text).
pub const BUNDLED: &[(&str, &str)] = bundled!(
    "s3_encryption",
    "s3_public_access",
    "required_tags",
    "cloudtrail_kms_encryption",
    "cloudtrail_log_validation",
    "cloudtrail_multi_region",
    "ebs_block_device_encryption",
    "ebs_volume_encryption",
    "ec2_imdsv2",
    "eks_control_plane_logging",
    "eks_nodegroup_remote_access",
    "eks_public_endpoint",
    "eks_secrets_encryption",
    "elasticache_encryption_at_rest",
    "elasticache_encryption_in_transit",
    "elb_access_logs",
    "elb_drop_invalid_headers",
    "elb_https_listener",
    "elb_tls_policy",
    "iam_admin_policy",
    "iam_wildcard_action",
    "iam_wildcard_resource",
    "kms_key_policy_principal",
    "kms_key_rotation",
    "log_group_retention",
    "rds_backup_retention",
    "rds_deletion_protection",
    "rds_encryption",
    "rds_multi_az",
    "rds_public_access",
    "s3_access_logging",
    "s3_tls_only",
    "s3_versioning",
    "sg_admin_ports",
    "sg_database_ports",
    "vpc_flow_logs",
    // Kubernetes workloads (live objects or manifests; see kube/compliance.rs).
    "k8s_privileged",
    "k8s_host_namespaces",
    "k8s_run_as_non_root",
    "k8s_privilege_escalation",
    "k8s_added_capabilities",
    "k8s_host_path",
    "k8s_image_tag",
    "k8s_resource_limits",
    "k8s_read_only_root",
);

/// How long one rule may take to judge one template. The whole bundled pack judges a
/// 1,000-resource template in well under 100 ms, so only a runaway rule comes near this.
pub const RULE_TIME_LIMIT: Duration = Duration::from_secs(2);

/// A policy that could not be loaded or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    /// The rule that failed to evaluate (`None`: a file that did not load, or an input that
    /// could not be read).
    pub rule: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

struct LoadedRule {
    /// `data.opsdeck.rules.s3_encryption`
    package: String,
    meta: RuleMeta,
}

/// The loaded rules, ready to evaluate.
#[derive(Clone)]
pub struct PolicyPack {
    engine: regorus::Engine,
    rules: std::sync::Arc<Vec<LoadedRule>>,
}

/// The result of judging one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// Ids of rules that had a resource of their types to judge.
    pub applicable: Vec<String>,
    /// Rules that failed to evaluate (they judged nothing).
    pub errors: Vec<PolicyError>,
}

impl PolicyPack {
    /// The bundled pack only.
    pub fn bundled() -> (PolicyPack, Vec<PolicyError>) {
        PolicyPack::from_sources(
            BUNDLED
                .iter()
                .map(|(name, text)| (format!("policies/{name}.rego"), text.to_string()))
                .collect(),
        )
    }

    /// The bundled pack plus every `*.rego` in `dirs` (missing directories are skipped).
    pub fn load(dirs: &[PathBuf]) -> (PolicyPack, Vec<PolicyError>) {
        let mut sources: Vec<(String, String)> = BUNDLED
            .iter()
            .map(|(name, text)| (format!("policies/{name}.rego"), text.to_string()))
            .collect();
        let mut errors = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rego"))
                .collect();
            files.sort();
            for file in files {
                match crate::files::read_text(&file, crate::files::FileKind::Policy) {
                    Ok(text) => sources.push((file.display().to_string(), text)),
                    Err(e) => errors.push(PolicyError {
                        file: file.display().to_string(),
                        line: None,
                        message: format!("cannot read this policy file: {}", e.reason()),
                        rule: None,
                    }),
                }
            }
        }
        let (pack, more) = PolicyPack::from_sources(sources);
        errors.extend(more);
        (pack, errors)
    }

    /// Load each source on its own first, so one broken file cannot stop the others. Sources
    /// load in order and the first to claim a package or a rule id keeps it: [`load`] puts
    /// the bundled files first.
    ///
    /// [`load`]: PolicyPack::load
    pub fn from_sources(sources: Vec<(String, String)>) -> (PolicyPack, Vec<PolicyError>) {
        let mut engine = limited_engine(RULE_TIME_LIMIT);
        let mut rules: Vec<LoadedRule> = Vec::new();
        let mut errors = Vec::new();
        for (file, text) in sources {
            let (package, meta) = match check_source(&file, &text) {
                Ok(loaded) => loaded,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Some(taken) = rules
                .iter()
                .find(|r| packages_overlap(&r.package, &package))
            {
                errors.push(PolicyError {
                    line: line_of(&text, "package"),
                    message: format!(
                        "package {} {} rule {} ({}); a policy cannot replace or extend another rule: give it a package of its own",
                        package.trim_start_matches("data."),
                        if taken.package == package {
                            "is already the package of".to_string()
                        } else {
                            format!(
                                "overlaps package {} of",
                                taken.package.trim_start_matches("data.")
                            )
                        },
                        taken.meta.id,
                        taken.meta.source,
                    ),
                    file,
                    rule: None,
                });
                continue;
            }
            if let Some(taken) = rules.iter().find(|r| r.meta.id == meta.id) {
                errors.push(PolicyError {
                    line: line_of(&text, "metadata"),
                    message: format!(
                        "rule id {} is already the id of {}; give the rule an id of its own",
                        meta.id, taken.meta.source
                    ),
                    file,
                    rule: None,
                });
                continue;
            }
            if let Err(e) = engine.add_policy(file.clone(), text) {
                errors.push(parse_error(&file, &e.to_string()));
                continue;
            }
            rules.push(LoadedRule { package, meta });
        }
        (
            PolicyPack {
                engine,
                rules: std::sync::Arc::new(rules),
            },
            errors,
        )
    }

    /// The same pack with another time limit per rule (tests of the limit itself).
    pub fn with_rule_time_limit(mut self, limit: Duration) -> PolicyPack {
        self.engine.set_execution_timer_config(timer(limit));
        self
    }

    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// Judge one input. `lines` maps findings to template lines when the source is text.
    ///
    /// Each rule sees only the resources of the types it judges or declares it `reads` (plus
    /// the parameters and context): a rule over S3 buckets never walks a thousand subnets, and
    /// a rule whose types are absent is not evaluated at all (not applicable).
    pub fn evaluate(&self, input: &EvalInput, lines: Option<&Lines>) -> Evaluation {
        let mut out = Evaluation::default();
        let mut by_type: HashMap<&str, Vec<&super::input::InputResource>> = HashMap::new();
        for r in &input.resources {
            by_type.entry(r.resource_type.as_str()).or_default().push(r);
        }
        // Each resource becomes an engine value once; a rule's view shares them (cheap clones).
        let mut values: HashMap<&str, Vec<regorus::Value>> = HashMap::new();
        let mut all: Vec<regorus::Value> = Vec::with_capacity(input.resources.len());
        for r in &input.resources {
            // serde straight from the resource to an engine value: no JSON text in between.
            let value = serde_json::to_value(r)
                .and_then(<regorus::Value as serde::Deserialize>::deserialize)
                .map_err(|e| e.to_string());
            match value {
                Ok(v) => {
                    all.push(v.clone());
                    values.entry(r.resource_type.as_str()).or_default().push(v);
                }
                Err(e) => {
                    // Nothing can be judged: every rule counts as failed to evaluate.
                    let why = format!("cannot load resource {}: {e}", r.id);
                    out.errors = self.every_rule_failed(&input.source, &why);
                    return out;
                }
            }
        }
        let base = serde_json::json!({
            "kind": input.kind,
            "source": input.source,
            "context": input.context,
            "parameters": input.parameters,
        });
        let Ok(base) = regorus::Value::from_json_str(&base.to_string()) else {
            out.errors = self.every_rule_failed(&input.source, "cannot load the input");
            return out;
        };
        let mut engine = self.engine.clone();
        for rule in self.rules.iter() {
            let meta = &rule.meta;
            let applies = meta.resource_types.is_empty()
                || meta
                    .resource_types
                    .iter()
                    .any(|t| by_type.contains_key(t.as_str()));
            if !applies {
                continue;
            }
            out.applicable.push(meta.id.clone());
            let subset: Vec<regorus::Value> = if meta.resource_types.is_empty() {
                // Every resource, in template order.
                all.clone()
            } else {
                meta.resource_types
                    .iter()
                    .chain(&meta.reads)
                    .filter_map(|t| values.get(t.as_str()))
                    .flatten()
                    .cloned()
                    .collect()
            };
            let mut view = base.clone();
            if let Ok(object) = view.as_object_mut() {
                object.insert(
                    regorus::Value::from("resources"),
                    regorus::Value::from(subset),
                );
            }
            engine.set_input(view);
            let failed = |why: String| PolicyError {
                file: meta.source.clone(),
                line: None,
                message: format!("rule {} could not judge {}: {why}", meta.id, input.source),
                rule: Some(meta.id.clone()),
            };
            let value = match engine.eval_rule(format!("{}.findings", rule.package)) {
                Ok(v) => v,
                Err(e) => {
                    let (line, why) = evaluation_error(&e, &meta.source);
                    out.errors.push(PolicyError {
                        line,
                        ..failed(why)
                    });
                    continue;
                }
            };
            let items = match value.to_json_str().map(|s| serde_json::from_str(&s)) {
                // A rule that defines no finding (undefined) found nothing.
                _ if value == regorus::Value::Undefined => Vec::new(),
                Ok(Ok(serde_json::Value::Array(items))) => items,
                Ok(Ok(other)) => {
                    out.errors.push(failed(format!(
                        "findings must be a set of objects, not {}",
                        json_kind(&other)
                    )));
                    continue;
                }
                _ => {
                    out.errors
                        .push(failed("its findings cannot be read".into()));
                    continue;
                }
            };
            for item in items {
                let resource = item["resource"].as_str().unwrap_or_default().to_string();
                let path = item["path"].as_str().unwrap_or_default().to_string();
                let resource_type = input
                    .resources
                    .iter()
                    .find(|r| r.id == resource)
                    .map(|r| r.resource_type.clone())
                    .unwrap_or_default();
                out.findings.push(Finding {
                    rule: meta.id.clone(),
                    title: meta.title.clone(),
                    severity: meta.severity,
                    controls: meta.controls.clone(),
                    source: input.source.clone(),
                    line: lines.and_then(|l| l.line_of(&resource, &path)),
                    message: item["message"]
                        .as_str()
                        .unwrap_or(meta.title.as_str())
                        .to_string(),
                    remediation: meta.remediation.clone(),
                    resource,
                    resource_type,
                    path,
                    waiver: None,
                });
            }
        }
        out.findings.sort_by(|a, b| {
            (a.line, &a.resource, &a.rule, &a.path).cmp(&(b.line, &b.resource, &b.rule, &b.path))
        });
        out
    }
}

impl PolicyPack {
    /// One error per rule: the input could not be read, so no rule judged anything.
    fn every_rule_failed(&self, source: &str, why: &str) -> Vec<PolicyError> {
        self.rules
            .iter()
            .map(|r| PolicyError {
                file: r.meta.source.clone(),
                line: None,
                message: format!("rule {} could not judge {source}: {why}", r.meta.id),
                rule: Some(r.meta.id.clone()),
            })
            .collect()
    }
}

/// An engine whose every evaluation stops after `limit`.
fn limited_engine(limit: Duration) -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(timer(limit));
    engine
}

fn timer(limit: Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig {
        limit,
        // The clock is read once per this many steps of the interpreter (a few microseconds).
        check_interval: NonZeroU32::MIN.saturating_add(99),
    }
}

/// Whether two packages are the same or one nests in the other (`a.b` and `a.b.c`): rules of
/// nested packages share paths in `data`, so one file could define another's rules.
fn packages_overlap(a: &str, b: &str) -> bool {
    let nested = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    nested(a, b) || nested(b, a)
}

/// A rule's evaluation error in one line: its line in the policy (when regorus names one)
/// and what went wrong; a rule stopped by the time limit says so.
fn evaluation_error(e: &anyhow::Error, file: &str) -> (Option<usize>, String) {
    if let Some(regorus::LimitError::TimeLimitExceeded { limit, .. }) =
        e.downcast_ref::<regorus::LimitError>()
    {
        return (
            None,
            format!(
                "stopped after {} s (the time limit per rule); make the rule cheaper",
                limit.as_secs_f64()
            ),
        );
    }
    let parsed = parse_error(file, &e.to_string());
    let message = parsed.message.trim_start_matches("error:").trim_start();
    (parsed.line, message.to_string())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a set",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Parse one file alone and read its metadata.
fn check_source(file: &str, text: &str) -> Result<(String, RuleMeta), PolicyError> {
    let mut scratch = limited_engine(RULE_TIME_LIMIT);
    let package = scratch
        .add_policy(file.to_string(), text.to_string())
        .map_err(|e| parse_error(file, &e.to_string()))?;
    let error = |line: Option<usize>, message: String| PolicyError {
        file: file.to_string(),
        line,
        message,
        rule: None,
    };
    if !package.starts_with("data.opsdeck.rules.") {
        return Err(error(
            line_of(text, "package"),
            format!(
                "package must be opsdeck.rules.<name>, not {}",
                package.trim_start_matches("data.")
            ),
        ));
    }
    let meta_line = line_of(text, "metadata");
    let value = scratch
        .eval_rule(format!("{package}.metadata"))
        .map_err(|e| error(meta_line, format!("metadata: {e}")))?;
    let meta: serde_json::Value = value
        .to_json_str()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    if !meta.is_object() {
        return Err(error(
            meta_line,
            "metadata: missing; a rule declares metadata := {id, title, severity, controls, resource_types, remediation}".into(),
        ));
    }
    let text_field = |key: &str| -> Result<String, PolicyError> {
        meta[key]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| error(meta_line, format!("metadata.{key}: missing or empty")))
    };
    let list = |key: &str| -> Vec<String> {
        meta[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = text_field("id")?;
    let severity_text = text_field("severity")?;
    let severity = Severity::parse(&severity_text).ok_or_else(|| {
        error(
            meta_line,
            format!("metadata.severity: {severity_text:?} is not low, medium, high or critical"),
        )
    })?;
    let mut control_ids = Vec::new();
    for c in list("controls") {
        match controls::lookup(&c) {
            Some(known) => control_ids.push(known.id.clone()),
            None => {
                return Err(error(
                    meta_line,
                    format!(
                        "metadata.controls: {c} is not a NIST SP 800-53 rev 5 control in the table"
                    ),
                ));
            }
        }
    }
    if control_ids.is_empty() {
        return Err(error(
            meta_line,
            "metadata.controls: a rule names at least one control".into(),
        ));
    }
    Ok((
        package,
        RuleMeta {
            id,
            title: text_field("title")?,
            severity,
            controls: control_ids,
            resource_types: list("resource_types"),
            reads: list("reads"),
            remediation: text_field("remediation")?,
            source: file.to_string(),
        },
    ))
}

/// regorus reports `file:line:col: error: ...`; keep the line.
fn parse_error(file: &str, message: &str) -> PolicyError {
    let line = message.lines().find_map(|l| {
        let rest = l.split(file).nth(1)?;
        rest.trim_start_matches(':')
            .split(':')
            .next()?
            .trim()
            .parse()
            .ok()
    });
    let first = message
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| message.lines().next().unwrap_or(message));
    PolicyError {
        file: file.to_string(),
        line,
        message: first.trim().to_string(),
        rule: None,
    }
}

/// The first line that starts with `word` (1-based).
fn line_of(text: &str, word: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(word))
        .map(|i| i + 1)
}

/// Where a user keeps extra policies: `$XDG_CONFIG_HOME/opsdeck/policies`.
pub fn user_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("policies")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::input::from_template;
    use std::collections::BTreeMap;

    #[test]
    fn the_bundled_pack_loads_cleanly_and_names_only_known_controls() {
        let (pack, errors) = PolicyPack::bundled();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(pack.rules().count(), BUNDLED.len());
        for rule in pack.rules() {
            for c in &rule.controls {
                assert!(controls::lookup(c).is_some(), "{}: {c}", rule.id);
            }
        }
    }

    #[test]
    fn every_file_in_policies_is_bundled() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("policies/")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".rego"))
                    .map(str::to_string)
            })
            .collect();
        on_disk.sort();
        let mut bundled: Vec<String> = BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
        bundled.sort();
        assert_eq!(bundled, on_disk);
    }

    #[test]
    fn a_broken_policy_is_named_with_its_line_and_the_others_still_load() {
        let good = BUNDLED[0];
        let (pack, errors) = PolicyPack::from_sources(vec![
            ("mine/broken.rego".into(), "package opsdeck.rules.broken\n\nfindings contains x if {\n".into()),
            (
                "mine/bad-control.rego".into(),
                "package opsdeck.rules.bad\nimport rego.v1\nmetadata := {\"id\": \"X-1\", \"title\": \"t\", \"severity\": \"low\", \"controls\": [\"ZZ-9\"], \"resource_types\": [], \"remediation\": \"r\"}\n".into(),
            ),
            (format!("policies/{}.rego", good.0), good.1.to_string()),
        ]);
        assert_eq!(pack.rules().count(), 1, "{errors:?}");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].file, "mine/broken.rego");
        assert!(errors[0].line.is_some(), "{errors:?}");
        assert_eq!(errors[1].file, "mine/bad-control.rego");
        assert_eq!(errors[1].line, Some(3));
        assert!(errors[1].message.contains("ZZ-9"), "{errors:?}");
    }

    fn user(file: &str, text: &str) -> (String, String) {
        (file.to_string(), text.to_string())
    }

    fn bundled_and(users: Vec<(String, String)>) -> (PolicyPack, Vec<PolicyError>) {
        let mut sources: Vec<(String, String)> = BUNDLED
            .iter()
            .map(|(name, text)| (format!("policies/{name}.rego"), text.to_string()))
            .collect();
        sources.extend(users);
        PolicyPack::from_sources(sources)
    }

    const META: &str = r#"metadata := {"id": "ID", "title": "t", "severity": "low", "controls": ["CM-8"], "resource_types": [], "remediation": "r"}"#;

    fn open_bucket(pack: &PolicyPack) -> Evaluation {
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n";
        let (input, lines) =
            from_template(template, "open.yaml", &BTreeMap::new(), None).expect("parses");
        pack.evaluate(&input, Some(&lines))
    }

    /// The fail-open of issue 8: a user file in a bundled rule's package (or an overlapping
    /// one), or with a bundled rule's id, is refused with file:line; the bundled rule still
    /// judges, and the user's other files still load.
    #[test]
    fn a_user_policy_cannot_take_a_bundled_rules_package_or_id() {
        let (pack, errors) = bundled_and(vec![
            user(
                "mine/team.rego",
                &format!(
                    "package opsdeck.rules.s3_encryption\nimport rego.v1\n{}\nfindings := set()\n",
                    META.replace("\"ID\"", "\"TEAM-1\"")
                ),
            ),
            user(
                "mine/nested.rego",
                &format!(
                    "# a comment first\npackage opsdeck.rules.s3_encryption.more\nimport rego.v1\n{}\n",
                    META.replace("\"ID\"", "\"TEAM-2\"")
                ),
            ),
            user(
                "mine/same-id.rego",
                &format!(
                    "package opsdeck.rules.mine\nimport rego.v1\n\n{}\nfindings := set()\n",
                    META.replace("\"ID\"", "\"S3-001\"")
                ),
            ),
            user(
                "mine/good.rego",
                &format!(
                    "package opsdeck.rules.good\nimport rego.v1\n{}\nfindings := set()\n",
                    META.replace("\"ID\"", "\"TEAM-3\"")
                ),
            ),
        ]);
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with("mine/team.rego:1: package opsdeck.rules.s3_encryption is already the package of rule S3-001 (policies/s3_encryption.rego)"),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("mine/nested.rego:2: package opsdeck.rules.s3_encryption.more overlaps package opsdeck.rules.s3_encryption of rule S3-001"),
            "{shown:#?}"
        );
        assert!(
            shown[2].starts_with("mine/same-id.rego:4: rule id S3-001 is already the id of policies/s3_encryption.rego"),
            "{shown:#?}"
        );
        assert_eq!(pack.rules().count(), BUNDLED.len() + 1);
        assert!(pack.rules().any(|r| r.id == "TEAM-3"));
        let eval = open_bucket(&pack);
        assert!(eval.errors.is_empty(), "{:?}", eval.errors);
        assert!(
            eval.findings.iter().any(|f| f.rule == "S3-001"),
            "the bundled rule still judges"
        );
    }

    /// A rule that errors judged nothing: its error names it (so its controls are "error"),
    /// and the rules that did not error still judge.
    #[test]
    fn a_rule_that_fails_to_evaluate_names_itself() {
        let (pack, errors) = PolicyPack::bundled();
        assert!(errors.is_empty());
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n    Properties: \"nope\"\n";
        let (input, lines) =
            from_template(template, "nope.yaml", &BTreeMap::new(), None).expect("parses");
        let eval = pack.evaluate(&input, Some(&lines));
        let failed: Vec<&str> = eval
            .errors
            .iter()
            .filter_map(|e| e.rule.as_deref())
            .collect();
        assert!(failed.contains(&"S3-002"), "{:?}", eval.errors);
        assert_eq!(failed.len(), eval.errors.len(), "each error names its rule");
        let e = eval
            .errors
            .iter()
            .find(|e| e.rule.as_deref() == Some("S3-002"))
            .expect("S3-002");
        assert_eq!(e.file, "policies/s3_public_access.rego");
        assert!(e.line.is_some(), "{e}");
        assert!(
            e.message.starts_with(
                "rule S3-002 could not judge nope.yaml: `object.get` expects object argument"
            ),
            "{e}"
        );
        assert!(!e.message.contains('\n'), "one line: {e}");
        assert!(eval.findings.iter().all(|f| f.rule != "S3-002"));
        assert!(eval.findings.iter().any(|f| f.rule == "S3-001"));

        // A rule whose findings are not a set is an error too, not "nothing found".
        let (pack, errors) = bundled_and(vec![user(
            "mine/object.rego",
            &format!(
                "package opsdeck.rules.object\nimport rego.v1\n{}\nfindings := {{\"a\": 1}}\n",
                META.replace("\"ID\"", "\"OBJ-1\"")
            ),
        )]);
        assert!(errors.is_empty(), "{errors:?}");
        let eval = open_bucket(&pack);
        assert_eq!(eval.errors.len(), 1, "{:?}", eval.errors);
        assert_eq!(eval.errors[0].rule.as_deref(), Some("OBJ-1"));
        assert!(
            eval.errors[0].message.contains("must be a set"),
            "{:?}",
            eval.errors
        );
    }

    /// A runaway rule is stopped by the time limit and reported as failed; the others judge.
    #[test]
    fn a_runaway_rule_is_stopped_and_counts_as_an_error() {
        let slow = format!(
            "package opsdeck.rules.slow\nimport rego.v1\n{}\nfindings contains {{\"resource\": \"x\", \"path\": \"\", \"message\": \"m\"}} if {{\n  some i in numbers.range(1, 100000)\n  some j in numbers.range(1, 100000)\n  i * j < 0\n}}\n",
            META.replace("\"ID\"", "\"SLOW-1\"")
        );
        let (pack, errors) = bundled_and(vec![user("mine/slow.rego", &slow)]);
        assert!(errors.is_empty(), "{errors:?}");
        let pack = pack.with_rule_time_limit(Duration::from_millis(50));
        let eval = open_bucket(&pack);
        assert_eq!(eval.errors.len(), 1, "{:?}", eval.errors);
        let e = &eval.errors[0];
        assert_eq!(e.rule.as_deref(), Some("SLOW-1"));
        assert!(e.message.contains("stopped after 0.05 s"), "{e}");
        assert!(eval.findings.iter().any(|f| f.rule == "S3-001"));
        assert!(eval.findings.iter().all(|f| f.rule != "SLOW-1"));
    }

    #[test]
    fn a_fifo_or_device_among_user_policies_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        nix::unistd::mkfifo(
            &dir.path().join("a-pipe.rego"),
            nix::sys::stat::Mode::S_IRWXU,
        )
        .expect("mkfifo");
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("b-zero.rego")).expect("symlink");
        let dirs = vec![dir.path().to_path_buf()];
        let (pack, errors) = crate::files::bounded(move || PolicyPack::load(&dirs));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].file.ends_with("a-pipe.rego"), "{errors:?}");
        assert!(
            errors[0].message.contains("a FIFO (named pipe)"),
            "{errors:?}"
        );
        assert!(
            errors[1].message.contains("a character device"),
            "{errors:?}"
        );
        assert_eq!(
            pack.rules().count(),
            BUNDLED.len(),
            "the bundled rules still load"
        );
    }

    #[test]
    fn findings_carry_rule_controls_resource_path_and_line() {
        let template = "Resources:\n  Open:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: open\n";
        let (input, lines) =
            from_template(template, "open.yaml", &BTreeMap::new(), None).expect("parses");
        let (pack, _) = PolicyPack::bundled();
        let eval = pack.evaluate(&input, Some(&lines));
        assert!(eval.errors.is_empty(), "{:?}", eval.errors);
        let enc = eval
            .findings
            .iter()
            .find(|f| f.rule == "S3-001")
            .expect("unencrypted bucket");
        assert_eq!(enc.resource, "Open");
        assert_eq!(enc.resource_type, "AWS::S3::Bucket");
        assert_eq!(enc.path, "Properties.BucketEncryption");
        assert_eq!(enc.line, Some(4), "the closest key: Properties");
        assert_eq!(enc.controls, ["sc-28", "sc-28.1"]);
        assert!(eval.applicable.contains(&"S3-002".to_string()));
    }
}

#[cfg(test)]
mod library_tests {
    use super::*;
    use crate::compliance::input::from_template;
    use std::collections::BTreeMap;

    /// Secure by default: every template in the library passes the whole pack with its
    /// defaults (and the values a deploy must give), in PRD.
    #[test]
    fn every_library_template_passes_the_whole_pack() {
        let (pack, errors) = PolicyPack::bundled();
        assert!(errors.is_empty(), "{errors:?}");
        for entry in crate::cfn::library::LIBRARY {
            let given: BTreeMap<String, String> = crate::cfn::library::choose(entry.name)
                .expect("bundled")
                .template
                .parameters
                .iter()
                .filter(|p| p.default.is_none())
                .map(|p| {
                    let value = p
                        .allowed_values
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "placeholder-value-1".into());
                    (p.name.clone(), value)
                })
                .collect();
            let (input, lines) =
                from_template(entry.body, entry.name, &given, Some("PRD")).expect("parses");
            let eval = pack.evaluate(&input, Some(&lines));
            assert!(eval.errors.is_empty(), "{}: {:?}", entry.name, eval.errors);
            let failed: Vec<String> = eval
                .findings
                .iter()
                .map(|f| format!("{} {} {}: {}", f.rule, f.resource, f.path, f.message))
                .collect();
            assert!(failed.is_empty(), "{}:\n{}", entry.name, failed.join("\n"));
        }
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    /// Each rule is handed only the resources of its `resource_types` and `reads`: a bundled
    /// rule that names any other type would silently see nothing of it.
    #[test]
    fn bundled_rules_name_only_types_they_declare() {
        let (pack, _) = PolicyPack::bundled();
        for rule in pack.rules() {
            let text = BUNDLED
                .iter()
                .find(|(name, _)| rule.source == format!("policies/{name}.rego"))
                .map(|(_, text)| *text)
                .expect("bundled source");
            let body = &text[text.find("metadata").unwrap_or(0)..];
            let body = &body[body.find("\n}").unwrap_or(0)..];
            for word in body.split('"').filter(|w| w.starts_with("AWS::")) {
                assert!(
                    rule.resource_types
                        .iter()
                        .chain(&rule.reads)
                        .any(|t| t == word),
                    "{} reads {word} without declaring it in resource_types or reads",
                    rule.id
                );
            }
        }
    }
}
