//! Turning what an operator entered (form fields or `--param K=V`) into the parameters of a
//! change set, checked as CloudFormation would check them, before anything is sent.

use super::template::{ParameterSpec, Template};
use crate::cfn::model::StackSummary;
use crate::ops::{DeployParameter, ParamValue, Secret};
use std::collections::BTreeMap;
use std::fmt;

/// Where the template text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormTemplate {
    /// Template text read when the form opened (library entry or file).
    Body(String),
    /// The stack's current template (its text, from GetTemplate, is kept to judge it for
    /// compliance): only parameters change.
    Previous(String),
}

/// One refused value, named by parameter. Never contains a NoEcho value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Check every value against its parameter and decide what the change set passes.
///
/// - a value given (non-empty, or empty for a plain string) is validated and sent; NoEcho
///   values become [`Secret`]s;
/// - nothing given, updating a stack that has the parameter: keep its current value
///   (`UsePreviousValue`) — "unchanged ones kept";
/// - nothing given otherwise: the template's default, or an error if it has none.
///
/// `existing` lists the parameter keys the stack has now (`None` for a new stack).
pub fn resolve_parameters(
    template: &Template,
    given: &BTreeMap<String, String>,
    existing: Option<&[String]>,
) -> Result<Vec<DeployParameter>, Vec<ParamError>> {
    let mut errors: Vec<ParamError> = given
        .keys()
        .filter(|k| template.parameter(k).is_none())
        .map(|k| ParamError {
            name: k.clone(),
            message: format!(
                "the template has no parameter {k:?} (it has: {})",
                template
                    .parameters
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    let mut resolved = Vec::new();
    for spec in &template.parameters {
        let kept = existing.is_some_and(|keys| keys.contains(&spec.name));
        let value = match given.get(&spec.name) {
            // A blank secret on an update means "keep it"; a blank secret otherwise is missing.
            Some(v) if v.is_empty() && spec.no_echo && kept => ParamValue::UsePrevious,
            Some(v) => match check(spec, v) {
                Ok(value) => value,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            None if kept => ParamValue::UsePrevious,
            None => match &spec.default {
                Some(default) => value_of(spec, default),
                None => {
                    errors.push(ParamError {
                        name: spec.name.clone(),
                        message: "needs a value (the template gives no default)".into(),
                    });
                    continue;
                }
            },
        };
        resolved.push(DeployParameter {
            key: spec.name.clone(),
            value,
        });
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(errors)
    }
}

fn check(spec: &ParameterSpec, value: &str) -> Result<ParamValue, ParamError> {
    if spec.no_echo && value.is_empty() {
        return Err(ParamError {
            name: spec.name.clone(),
            message: "needs a value".into(),
        });
    }
    spec.validate(value).map_err(|message| ParamError {
        name: spec.name.clone(),
        message,
    })?;
    Ok(value_of(spec, value))
}

fn value_of(spec: &ParameterSpec, value: &str) -> ParamValue {
    if spec.no_echo {
        ParamValue::Secret(Secret::new(value))
    } else {
        ParamValue::Plain(value.to_string())
    }
}

/// Parse `--param KEY=VALUE` arguments. A key given twice is an error, not "last wins".
pub fn parse_param_args(args: &[String]) -> Result<BTreeMap<String, String>, ParamError> {
    let mut out = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ParamError {
                name: arg.split(['=', ' ']).next().unwrap_or_default().to_string(),
                message: "expected KEY=VALUE".into(),
            });
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ParamError {
                name: String::new(),
                message: "expected KEY=VALUE with a non-empty KEY".into(),
            });
        }
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(ParamError {
                name: key.to_string(),
                message: "given more than once".into(),
            });
        }
    }
    Ok(out)
}

/// Whether a deploy to `stack_name` creates or updates, given the stack of that name (if any).
/// Returns the ARN to update, `None` to create, or why a deploy cannot go ahead.
pub fn existing_stack_for_deploy(
    stack_name: &str,
    existing: Option<&StackSummary>,
) -> Result<Option<String>, String> {
    let Some(stack) = existing else {
        return Ok(None);
    };
    match stack.status.as_str() {
        "ROLLBACK_COMPLETE" => Err(format!(
            "stack {stack_name} is ROLLBACK_COMPLETE: its creation failed and it cannot be updated; delete it (d) before deploying it again"
        )),
        // An empty stack left by a discarded or failed change set: a CREATE change set may
        // still use it.
        "REVIEW_IN_PROGRESS" => Ok(None),
        s if s.ends_with("_IN_PROGRESS") => Err(format!(
            "stack {stack_name} is {s}; wait for it to settle (f follows it) before deploying"
        )),
        "DELETE_FAILED" => Err(format!(
            "stack {stack_name} is DELETE_FAILED; finish deleting it before deploying"
        )),
        _ => Ok(Some(stack.id.clone())),
    }
}

/// A change set name CloudFormation accepts (`[a-zA-Z][-a-zA-Z0-9]*`), unique per request.
pub fn change_set_name(now_ms: i64) -> String {
    format!("opsdeck-{now_ms}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::library;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rds() -> Template {
        library::choose("rds-postgres").expect("bundled").template
    }

    fn secret_param(t: &Template) -> String {
        t.parameters
            .iter()
            .find(|p| p.no_echo)
            .expect("rds-postgres has a NoEcho parameter")
            .name
            .clone()
    }

    #[test]
    fn defaults_fill_in_and_unknown_keys_are_named() {
        let t = library::choose("s3-bucket").expect("bundled").template;
        let mut values = BTreeMap::new();
        for p in &t.parameters {
            if p.default.is_none() {
                values.insert(
                    p.name.clone(),
                    p.allowed_values.first().cloned().unwrap_or("team-a".into()),
                );
            }
        }
        let resolved = resolve_parameters(&t, &values, None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(resolved.len(), t.parameters.len());
        values.insert("Nope".into(), "x".into());
        let errors = resolve_parameters(&t, &values, None).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].name, "Nope");
    }

    #[test]
    fn secrets_are_wrapped_and_never_echoed_in_errors() {
        let t = rds();
        let secret = secret_param(&t);
        let errors = resolve_parameters(&t, &given(&[(&secret, "x")]), None).unwrap_err();
        let text = format!("{errors:?}");
        let refused = errors.iter().find(|e| e.name == secret).expect("too short");
        assert!(!refused.message.contains("\"x\""), "{text}");
        // blank secret on update keeps the old value; unnamed parameters are kept too
        let keys: Vec<String> = t.parameters.iter().map(|p| p.name.clone()).collect();
        let resolved =
            resolve_parameters(&t, &given(&[(&secret, "")]), Some(&keys)).expect("update");
        assert!(resolved.iter().all(|p| p.value == ParamValue::UsePrevious));
    }

    #[test]
    fn param_args_need_key_value_once() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_param_args(&args(&["A=1", "B=x=y"])).expect("ok"),
            given(&[("A", "1"), ("B", "x=y")])
        );
        assert!(parse_param_args(&args(&["A"])).is_err());
        assert!(parse_param_args(&args(&["A=1", "A=2"])).is_err());
    }

    #[test]
    fn rollback_complete_must_be_deleted_first() {
        let stack = |status: &str| StackSummary {
            name: "web".into(),
            id: "arn:aws:cloudformation:us-east-1:1:stack/web/1".into(),
            status: status.into(),
            ..StackSummary::default()
        };
        assert_eq!(existing_stack_for_deploy("web", None), Ok(None));
        let err = existing_stack_for_deploy("web", Some(&stack("ROLLBACK_COMPLETE"))).unwrap_err();
        assert!(err.contains("delete it"), "{err}");
        assert_eq!(
            existing_stack_for_deploy("web", Some(&stack("UPDATE_COMPLETE"))),
            Ok(Some(
                "arn:aws:cloudformation:us-east-1:1:stack/web/1".into()
            ))
        );
        assert_eq!(
            existing_stack_for_deploy("web", Some(&stack("REVIEW_IN_PROGRESS"))),
            Ok(None)
        );
        assert!(existing_stack_for_deploy("web", Some(&stack("UPDATE_IN_PROGRESS"))).is_err());
    }
}
