//! The document rules judge. One shape for every source, so CloudFormation templates today
//! and live Kubernetes objects later go through the same engine:
//!
//! ```json
//! { "kind": "cloudformation", "source": "templates/s3-bucket.yaml",
//!   "context": { "environment": "PRD" },
//!   "parameters": { "EncryptionType": "SSE-KMS" },
//!   "resources": [ { "id": "Bucket", "type": "AWS::S3::Bucket", "properties": { ... } } ] }
//! ```
//!
//! A Kubernetes object would be `{"id": "ns/name", "type": "k8s:apps/v1:Deployment",
//! "properties": <the object>}` with `"kind": "kubernetes"`.
//!
//! CloudFormation intrinsics are kept as their JSON form (`{"Ref": ..}`, `{"Fn::Sub": ..}`),
//! except what can be decided from the parameters: `Ref` to a parameter becomes its value
//! (given, else default), `Ref: AWS::NoValue` removes the property, and `Fn::If` on a
//! condition that can be evaluated becomes its chosen branch.

use crate::cfn::template::{self, LineFinder, Template, TemplateError, scalar, to_json};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;
use yaml_serde::Value as Yaml;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalInput {
    pub kind: String,
    pub source: String,
    pub context: Map<String, Json>,
    pub parameters: BTreeMap<String, String>,
    pub resources: Vec<InputResource>,
    /// Every condition the template declares, decided from the parameters where they can
    /// decide it (`None`: it depends on something only CloudFormation knows). Not part of the
    /// rules' input; the cost estimate leaves out resources whose `Condition` is false.
    #[serde(skip)]
    pub conditions: BTreeMap<String, Option<bool>>,
}

impl EvalInput {
    /// Whether `resource` is created: `Some(false)` when its `Condition` is decided false,
    /// `None` when the condition cannot be decided here.
    pub fn created(&self, resource: &InputResource) -> Option<bool> {
        match resource.attributes.get("Condition").and_then(Json::as_str) {
            None => Some(true),
            Some(name) => self.conditions.get(name).copied().flatten(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputResource {
    pub id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub properties: Json,
    /// `DeletionPolicy`, `UpdateReplacePolicy`, `Condition`, `DependsOn` when present.
    pub attributes: Map<String, Json>,
}

/// Where each finding's property path is in the source text.
#[derive(Debug, Clone)]
pub struct Lines {
    text: String,
    /// Each resource's block under `Resources` (first line index, byte range), found in one
    /// pass on first use: a search then reads one resource's lines, not the whole template
    /// (a 1,000-resource template with a finding per resource would otherwise be read a
    /// thousand times over).
    blocks: std::sync::OnceLock<std::collections::HashMap<String, Block>>,
}

#[derive(Debug, Clone, Copy)]
struct Block {
    /// 0-based index of the resource's key line.
    first_line: usize,
    start: usize,
    end: usize,
}

impl Lines {
    fn new(text: &str) -> Lines {
        Lines {
            text: text.to_string(),
            blocks: std::sync::OnceLock::new(),
        }
    }

    /// The 1-based line of `path` (e.g. `Properties.BucketEncryption.X`) in resource `id`,
    /// or of the closest enclosing key that can be found.
    pub fn line_of(&self, resource: &str, path: &str) -> Option<usize> {
        let mut keys: Vec<&str> = vec!["Resources", resource];
        keys.extend(
            path.split('.')
                .filter(|s| !s.is_empty() && s.parse::<usize>().is_err()),
        );
        if let Some(block) = self.blocks().get(resource) {
            // The same search, within the resource's own lines.
            let finder = LineFinder {
                text: &self.text[block.start..block.end],
            };
            let mut keys = &keys[1..];
            while !keys.is_empty() {
                if let Some(line) = finder.key_line(keys) {
                    return Some(block.first_line + line);
                }
                keys = &keys[..keys.len() - 1];
            }
            return None;
        }
        self.scan(keys)
    }

    /// The search over the whole text (layouts the index does not cover, such as JSON).
    fn scan(&self, mut keys: Vec<&str>) -> Option<usize> {
        let finder = LineFinder { text: &self.text };
        while keys.len() >= 2 {
            if let Some(line) = finder.key_line(&keys) {
                return Some(line);
            }
            keys.pop();
        }
        None
    }

    fn blocks(&self) -> &std::collections::HashMap<String, Block> {
        self.blocks.get_or_init(|| index_resources(&self.text))
    }
}

/// The blocks of the keys under a top-level `Resources:` key, by the same indentation rules
/// as [`LineFinder`] (block YAML; anything else finds nothing here and is searched whole).
fn index_resources(text: &str) -> std::collections::HashMap<String, Block> {
    let mut blocks = std::collections::HashMap::new();
    let mut top: Option<usize> = None;
    let mut resources_indent: Option<usize> = None;
    let mut child: Option<usize> = None;
    let mut open: Option<(String, Block)> = None;
    let mut next = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let start = next;
        next += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let key = trimmed
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(|c| c == '"' || c == '\'');
        match resources_indent {
            None => {
                let level = *top.get_or_insert(indent);
                if indent == level && trimmed.contains(':') && key == "Resources" {
                    resources_indent = Some(indent);
                }
            }
            Some(parent) => {
                if indent <= parent {
                    // Left `Resources`: the open block ends here.
                    if let Some((id, mut block)) = open.take() {
                        block.end = start;
                        blocks.entry(id).or_insert(block);
                    }
                    break;
                }
                let level = *child.get_or_insert(indent);
                if indent == level && trimmed.contains(':') {
                    if let Some((id, mut block)) = open.take() {
                        block.end = start;
                        blocks.entry(id).or_insert(block);
                    }
                    open = Some((
                        key.to_string(),
                        Block {
                            first_line: index,
                            start,
                            end: text.len(),
                        },
                    ));
                }
            }
        }
    }
    if let Some((id, block)) = open.take() {
        blocks.entry(id).or_insert(block);
    }
    blocks
}

/// Build the input from a CloudFormation template's text (YAML or JSON). The template is
/// parsed and checked exactly as a deploy checks it ([`Template::parse`]): what a deploy
/// refuses is not judged either, it is an error.
pub fn from_template(
    text: &str,
    source: &str,
    given: &BTreeMap<String, String>,
    environment: Option<&str>,
) -> Result<(EvalInput, Lines), TemplateError> {
    let path = Path::new(source);
    let root = template::parse_tree(text, path)?;
    let checked = Template::from_tree(&root, text, path)?;
    // Parameters: what was given, else the template's default.
    let mut parameters = BTreeMap::new();
    for spec in &checked.parameters {
        if let Some(value) = given.get(&spec.name).or(spec.default.as_ref()) {
            parameters.insert(spec.name.clone(), value.clone());
        }
    }
    let section = |key: &str| root.get(key).map(to_json);
    let mut resolver = Resolver {
        parameters: &parameters,
        conditions: section("Conditions")
            .and_then(|c| c.as_object().cloned())
            .unwrap_or_default(),
        decided: BTreeMap::new(),
    };
    let mut resources = Vec::with_capacity(checked.resources.len());
    let declared = root.get("Resources").and_then(Yaml::as_mapping);
    // In template order; `from_tree` has checked every id and body.
    for (spec, body) in checked
        .resources
        .iter()
        .zip(declared.into_iter().flat_map(|m| m.values()))
    {
        let body = to_json(body);
        let properties = body
            .get("Properties")
            .map(|p| resolver.resolve(p).unwrap_or(Json::Null))
            .unwrap_or_else(|| Json::Object(Map::new()));
        let mut attributes = Map::new();
        for key in [
            "DeletionPolicy",
            "UpdateReplacePolicy",
            "Condition",
            "DependsOn",
        ] {
            if let Some(v) = body.get(key) {
                attributes.insert(key.to_string(), v.clone());
            }
        }
        resources.push(InputResource {
            id: spec.logical_id.clone(),
            resource_type: spec.resource_type.clone(),
            properties,
            attributes,
        });
    }
    let names: Vec<String> = resolver.conditions.keys().cloned().collect();
    let conditions = names
        .into_iter()
        .map(|name| {
            let value = resolver.condition(&name);
            (name, value)
        })
        .collect();
    let mut context = Map::new();
    if let Some(env) = environment {
        context.insert("environment".into(), Json::String(env.to_string()));
    }
    Ok((
        EvalInput {
            kind: "cloudformation".into(),
            source: source.to_string(),
            context,
            parameters,
            resources,
            conditions,
        },
        Lines::new(template::strip_bom(text)),
    ))
}

struct Resolver<'a> {
    parameters: &'a BTreeMap<String, String>,
    conditions: Map<String, Json>,
    decided: BTreeMap<String, Option<bool>>,
}

impl Resolver<'_> {
    /// `None` means "no value" (`AWS::NoValue`, or an `Fn::If` branch that is one).
    fn resolve(&mut self, v: &Json) -> Option<Json> {
        match v {
            Json::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next()?;
                match key.as_str() {
                    "Ref" => match arg.as_str() {
                        Some("AWS::NoValue") => None,
                        Some(name) => Some(match self.parameters.get(name) {
                            Some(value) => Json::String(value.clone()),
                            None => v.clone(),
                        }),
                        None => Some(v.clone()),
                    },
                    "Fn::If" => {
                        let args = arg.as_array()?;
                        if args.len() == 3
                            && let Some(name) = args[0].as_str()
                            && let Some(choice) = self.condition(name)
                        {
                            return self.resolve(&args[if choice { 1 } else { 2 }]);
                        }
                        Some(v.clone())
                    }
                    _ => Some(self.resolve_children(v)),
                }
            }
            Json::Object(_) | Json::Array(_) => Some(self.resolve_children(v)),
            other => Some(other.clone()),
        }
    }

    fn resolve_children(&mut self, v: &Json) -> Json {
        match v {
            Json::Object(map) => Json::Object(
                map.iter()
                    .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
                    .collect(),
            ),
            Json::Array(items) => {
                Json::Array(items.iter().filter_map(|v| self.resolve(v)).collect())
            }
            other => other.clone(),
        }
    }

    /// A named condition's value, when the parameters decide it.
    fn condition(&mut self, name: &str) -> Option<bool> {
        if let Some(known) = self.decided.get(name) {
            return *known;
        }
        // Guard against cycles: undecided while being worked out.
        self.decided.insert(name.to_string(), None);
        let expr = self.conditions.get(name).cloned();
        let value = expr.and_then(|e| self.eval(&e));
        self.decided.insert(name.to_string(), value);
        value
    }

    fn eval(&mut self, expr: &Json) -> Option<bool> {
        let map = expr.as_object()?;
        let (key, arg) = map.iter().next()?;
        let args = || arg.as_array().cloned().unwrap_or_default();
        match key.as_str() {
            "Fn::Equals" => {
                let a = args();
                if a.len() != 2 {
                    return None;
                }
                let left = self.resolve(&a[0]).and_then(|v| scalar(&v))?;
                let right = self.resolve(&a[1]).and_then(|v| scalar(&v))?;
                // Still an unresolved intrinsic on either side: undecided.
                if a.iter().any(|x| {
                    self.resolve(x)
                        .is_some_and(|r| r.is_object() || r.is_array())
                }) {
                    return None;
                }
                Some(left == right)
            }
            "Fn::Not" => Some(!self.eval(args().first()?)?),
            "Fn::And" => {
                let mut all = true;
                for a in args() {
                    all &= self.eval(&a)?;
                }
                Some(all)
            }
            "Fn::Or" => {
                let mut any = false;
                for a in args() {
                    any |= self.eval(&a)?;
                }
                Some(any)
            }
            "Condition" => self.condition(arg.as_str()?),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
Parameters:
  UseKms:
    Type: String
    Default: "yes"
  Days:
    Type: Number
    Default: 30
Conditions:
  Kms: !Equals [!Ref UseKms, "yes"]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties:
      BucketName: !Sub "${AWS::StackName}-data"
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: !If [Kms, "aws:kms", AES256]
      LoggingConfiguration: !If [Kms, !Ref AWS::NoValue, {DestinationBucketName: logs}]
      Retention: !Ref Days
      Arn: !GetAtt Other.Arn
"#;

    fn bucket(given: &[(&str, &str)]) -> InputResource {
        let given = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (input, _) = from_template(T, "t.yaml", &given, Some("PRD")).expect("parses");
        assert_eq!(input.context["environment"], "PRD");
        input.resources.into_iter().next().expect("one resource")
    }

    #[test]
    fn parameters_and_conditions_decide_what_they_can() {
        let b = bucket(&[]);
        let p = &b.properties;
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                ["SSEAlgorithm"],
            "aws:kms"
        );
        assert!(
            p.get("LoggingConfiguration").is_none(),
            "NoValue removes it"
        );
        assert_eq!(p["Retention"], "30");
        assert_eq!(p["BucketName"]["Fn::Sub"], "${AWS::StackName}-data");
        assert_eq!(p["Arn"]["Fn::GetAtt"], serde_json::json!(["Other", "Arn"]));
        assert_eq!(b.attributes["DeletionPolicy"], "Retain");
        let (input, _) = from_template(T, "t.yaml", &BTreeMap::new(), None).expect("parses");
        assert_eq!(input.conditions.get("Kms"), Some(&Some(true)));

        let b = bucket(&[("UseKms", "no")]);
        assert_eq!(
            b.properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                ["SSEAlgorithm"],
            "AES256"
        );
        assert_eq!(
            b.properties["LoggingConfiguration"]["DestinationBucketName"],
            "logs"
        );
    }

    #[test]
    fn lines_point_at_the_property_or_its_resource() {
        let (_, lines) = from_template(T, "t.yaml", &BTreeMap::new(), None).expect("parses");
        assert_eq!(
            lines.line_of("Bucket", "Properties.BucketEncryption"),
            Some(17)
        );
        assert_eq!(lines.line_of("Bucket", "Properties.NotThere"), Some(15));
        assert_eq!(lines.line_of("Bucket", ""), Some(12));
        assert_eq!(lines.line_of("Nope", "Properties"), None);
    }

    #[test]
    fn the_resource_index_finds_what_the_whole_text_search_finds() {
        let mut texts: Vec<&str> = crate::cfn::library::LIBRARY
            .iter()
            .map(|t| t.body)
            .collect();
        texts.push(T);
        for text in texts {
            let (input, lines) =
                from_template(text, "t.yaml", &BTreeMap::new(), None).expect("parses");
            assert!(!lines.blocks().is_empty());
            for r in &input.resources {
                for path in [
                    "",
                    "Type",
                    "Properties",
                    "Properties.Tags",
                    "Properties.Nope.X",
                    "DeletionPolicy",
                ] {
                    let mut keys = vec!["Resources", r.id.as_str()];
                    keys.extend(path.split('.').filter(|s| !s.is_empty()));
                    assert_eq!(
                        lines.line_of(&r.id, path),
                        lines.scan(keys),
                        "{} {path}",
                        r.id
                    );
                }
            }
        }
    }

    #[test]
    fn broken_yaml_names_the_file_and_line() {
        let err = from_template("Resources:\n  A: [\n", "bad.yaml", &BTreeMap::new(), None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad.yaml:"), "{err}");
    }
}
