//! The rule pack: Rego files from `policies/` (compiled in) and from user directories, loaded
//! into one regorus engine. A file that does not parse, or whose `metadata` is incomplete,
//! gets an error naming the file and line and is left out; the others still load.
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
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

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

/// A policy that could not be loaded or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
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
                    }),
                }
            }
        }
        let (pack, more) = PolicyPack::from_sources(sources);
        errors.extend(more);
        (pack, errors)
    }

    /// Load each source on its own first, so one broken file cannot stop the others.
    pub fn from_sources(sources: Vec<(String, String)>) -> (PolicyPack, Vec<PolicyError>) {
        let mut engine = regorus::Engine::new();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        let mut ids = HashSet::new();
        for (file, text) in sources {
            match check_source(&file, &text) {
                Ok((package, meta)) => {
                    if !ids.insert(meta.id.clone()) {
                        errors.push(PolicyError {
                            line: line_of(&text, "metadata"),
                            file,
                            message: format!(
                                "rule id {} is already used by another policy",
                                meta.id
                            ),
                        });
                        continue;
                    }
                    if let Err(e) = engine.add_policy(file.clone(), text) {
                        errors.push(parse_error(&file, &e.to_string()));
                        continue;
                    }
                    rules.push(LoadedRule { package, meta });
                }
                Err(e) => errors.push(e),
            }
        }
        (
            PolicyPack {
                engine,
                rules: std::sync::Arc::new(rules),
            },
            errors,
        )
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
                    out.errors.push(PolicyError {
                        file: input.source.clone(),
                        line: None,
                        message: format!("cannot load resource {}: {e}", r.id),
                    });
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
            out.errors.push(PolicyError {
                file: input.source.clone(),
                line: None,
                message: "cannot load the input".into(),
            });
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
            let value = match engine.eval_rule(format!("{}.findings", rule.package)) {
                Ok(v) => v,
                Err(e) => {
                    out.errors.push(PolicyError {
                        file: meta.source.clone(),
                        line: None,
                        message: format!("evaluation failed: {e}"),
                    });
                    continue;
                }
            };
            let Ok(value) = value.to_json_str().map(|s| {
                serde_json::from_str::<serde_json::Value>(&s).unwrap_or(serde_json::Value::Null)
            }) else {
                continue;
            };
            let items = match value {
                serde_json::Value::Array(items) => items,
                _ => Vec::new(), // undefined or empty
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

/// Parse one file alone and read its metadata.
fn check_source(file: &str, text: &str) -> Result<(String, RuleMeta), PolicyError> {
    let mut scratch = regorus::Engine::new();
    let package = scratch
        .add_policy(file.to_string(), text.to_string())
        .map_err(|e| parse_error(file, &e.to_string()))?;
    let error = |line: Option<usize>, message: String| PolicyError {
        file: file.to_string(),
        line,
        message,
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
