//! A CloudFormation template as the deploy form needs it: its parameters with their
//! constraints, the `AWS::CloudFormation::Interface` groups and labels, and its resources.
//!
//! Parsed with yaml_serde, which keeps `!Ref`/`!Sub` tags (JSON templates are YAML too).
//! Every error names the file, the line and the field.
//!
//! Over 800 lines because the parameter constraints, the Interface metadata and the resource
//! checks share one located walk of the YAML; the last third is tests.

use regex::Regex;
use serde_json::Value as Json;
use std::fmt;
use std::path::{Path, PathBuf};
use yaml_serde::{Mapping, Value};

/// A template's parameter and everything CloudFormation would check about its value.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpec {
    pub name: String,
    /// `Type`, e.g. `String`, `Number`, `CommaDelimitedList`, `AWS::EC2::VPC::Id`.
    pub kind: String,
    pub description: Option<String>,
    /// The label from the Interface metadata, if any.
    pub label: Option<String>,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    pub allowed_pattern: Option<String>,
    pub constraint_description: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    /// Secret: masked in the form, never logged, audited or shown.
    pub no_echo: bool,
    /// 1-based line of the parameter's key in the template.
    pub line: usize,
}

/// A group of parameters from `ParameterGroups`, in template order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterGroup {
    pub label: String,
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    pub logical_id: String,
    pub resource_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub path: PathBuf,
    pub description: Option<String>,
    pub parameters: Vec<ParameterSpec>,
    /// Groups as the Interface metadata orders them; parameters in no group come last under
    /// "Other parameters".
    pub groups: Vec<ParameterGroup>,
    pub resources: Vec<ResourceSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Where in the template, e.g. `Parameters.DbPassword.MinLength`.
    pub field: Option<String>,
    pub message: String,
    /// See [`TemplateError::is_not_a_template`].
    pub not_a_template: bool,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

const OTHER_GROUP: &str = "Other parameters";

impl TemplateError {
    /// The text is not a CloudFormation template at all (the top level is not a mapping, or
    /// there is no `Resources` key): a directory search skips such files instead of failing.
    pub fn is_not_a_template(&self) -> bool {
        self.not_a_template
    }
}

/// How deeply collections may nest in a template: far beyond any real template (a deep one
/// nests about 15 levels). Checked before the YAML parser sees the text, because libyaml's
/// cost grows with the square of the nesting depth (50,000 nested brackets took seconds).
/// The parser itself then stops at 128 levels.
pub const MAX_NESTING: usize = 256;

impl Template {
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let text =
            crate::files::read_text(path, crate::files::FileKind::Template).map_err(|e| {
                TemplateError {
                    path: path.to_path_buf(),
                    line: None,
                    column: None,
                    field: None,
                    message: format!("cannot read this template: {}", e.reason()),
                    not_a_template: false,
                }
            })?;
        Template::parse(&text, path)
    }

    /// Parse and check a template. Whoever reads one (the deploy form, the headless deploy,
    /// `opsdeck check`, the compliance judge) gets the same checks, so nothing is judged that
    /// a deploy would refuse.
    pub fn parse(text: &str, path: &Path) -> Result<Template, TemplateError> {
        let root = parse_tree(text, path)?;
        Template::from_tree(&root, text, path)
    }

    /// Check the tree [`parse_tree`] made of `text` and read the template from it.
    pub fn from_tree(root: &Value, text: &str, path: &Path) -> Result<Template, TemplateError> {
        let lines = LineFinder {
            text: strip_bom(text),
        };
        let error = |field: Option<String>, line: Option<usize>, message: String| TemplateError {
            path: path.to_path_buf(),
            line,
            column: None,
            field,
            message,
            not_a_template: false,
        };
        let Some(root) = root.as_mapping() else {
            return Err(TemplateError {
                not_a_template: true,
                ..error(
                    None,
                    Some(1),
                    "a template is a mapping with a Resources section".into(),
                )
            });
        };
        let description = root
            .get("Description")
            .and_then(Value::as_str)
            .map(str::to_string);

        let mut parameters = Vec::new();
        if let Some(section) = root.get("Parameters") {
            let Some(section) = section.as_mapping() else {
                return Err(error(
                    Some("Parameters".into()),
                    lines.key_line(&["Parameters"]),
                    format!(
                        "must be a mapping of parameter names to their Type and constraints, not {}",
                        kind_of(section)
                    ),
                ));
            };
            for (name, body) in section {
                let name = logical_id(name).map_err(|why| {
                    error(
                        Some("Parameters".into()),
                        lines.key_line(&["Parameters"]),
                        format!("parameter name {why}"),
                    )
                })?;
                let line = lines.key_line(&["Parameters", &name]);
                parameters.push(parse_parameter(&name, body, line).map_err(
                    |(field, message)| {
                        let field_line = lines.key_line(&["Parameters", &name, &field]).or(line);
                        error(
                            Some(format!("Parameters.{name}.{field}")),
                            field_line,
                            message,
                        )
                    },
                )?);
            }
        }

        let Some(section) = root.get("Resources") else {
            return Err(TemplateError {
                not_a_template: true,
                ..error(
                    Some("Resources".into()),
                    None,
                    "missing: a template needs a Resources mapping with at least one resource"
                        .into(),
                )
            });
        };
        let resources = resources(section, &lines)
            .map_err(|(field, line, message)| error(Some(field), line, message))?;

        let interface = root
            .get("Metadata")
            .and_then(|m| m.get("AWS::CloudFormation::Interface"))
            .and_then(Value::as_mapping);
        let groups = interface_groups(interface, &mut parameters);
        Ok(Template {
            path: path.to_path_buf(),
            description,
            parameters,
            groups,
            resources,
        })
    }

    pub fn parameter(&self, name: &str) -> Option<&ParameterSpec> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// What a YAML node is, in words, for errors.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "an intrinsic function",
    }
}

/// `(field, line, message)` of a problem in the `Resources` section.
type SectionError = (String, Option<usize>, String);

/// The `Resources` section as CloudFormation requires it: a mapping of at least one
/// alphanumeric logical id to a mapping with a `Type` name.
fn resources(section: &Value, lines: &LineFinder) -> Result<Vec<ResourceSpec>, SectionError> {
    let at = lines.key_line(&["Resources"]);
    let Some(section) = section.as_mapping() else {
        return Err((
            "Resources".into(),
            at,
            format!(
                "must be a mapping of logical ids to resources, not {}",
                kind_of(section)
            ),
        ));
    };
    if section.is_empty() {
        return Err((
            "Resources".into(),
            at,
            "a template needs at least one resource".into(),
        ));
    }
    let mut out = Vec::with_capacity(section.len());
    for (id, body) in section {
        let logical_id = logical_id(id)
            .map_err(|why| ("Resources".to_string(), at, format!("logical id {why}")))?;
        let field = format!("Resources.{logical_id}");
        // Found only for an error: a search per resource would read a big template once per
        // resource.
        let line = || lines.key_line(&["Resources", &logical_id]).or(at);
        let Some(body) = body.as_mapping() else {
            return Err((
                field,
                line(),
                format!(
                    "must be a mapping with a Type (e.g. Type: AWS::S3::Bucket), not {}",
                    kind_of(body)
                ),
            ));
        };
        let resource_type = match body.get("Type") {
            Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
            None | Some(Value::Null) => {
                return Err((
                    format!("{field}.Type"),
                    line(),
                    "every resource needs a Type".into(),
                ));
            }
            Some(other) => {
                return Err((
                    format!("{field}.Type"),
                    lines
                        .key_line(&["Resources", &logical_id, "Type"])
                        .or_else(line),
                    format!(
                        "must be a resource type name such as AWS::S3::Bucket, not {}",
                        kind_of(other)
                    ),
                ));
            }
        };
        out.push(ResourceSpec {
            logical_id,
            resource_type,
        });
    }
    Ok(out)
}

/// A logical id (of a resource or a parameter) as CloudFormation requires it: letters and
/// digits only. Otherwise the reason, with the id escaped so that it can be shown.
fn logical_id(key: &Value) -> Result<String, String> {
    let Some(id) = yaml_scalar(key) else {
        return Err(format!("must be a name, not {}", kind_of(key)));
    };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "\"{}\" must be letters and digits only (A-Z, a-z, 0-9)",
            id.escape_default()
        ));
    }
    Ok(id)
}

/// The text without a UTF-8 byte-order mark: editors on Windows write one, and the YAML
/// parser would take it for the start of a second document.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Parse a template's text (YAML or JSON) into a tree. A byte-order mark is ignored, and
/// nesting deeper than [`MAX_NESTING`] is refused with its line before the parser runs.
/// Every reader of template text goes through here.
pub fn parse_tree(text: &str, path: &Path) -> Result<Value, TemplateError> {
    let text = strip_bom(text);
    let refused = |line: Option<usize>, column: Option<usize>, message: String| TemplateError {
        path: path.to_path_buf(),
        line,
        column,
        field: None,
        message,
        not_a_template: false,
    };
    if let Some(line) = nesting_exceeds(text, MAX_NESTING) {
        return Err(refused(
            Some(line),
            None,
            format!("nested more than {MAX_NESTING} levels deep; no template nests this deeply"),
        ));
    }
    yaml_serde::from_str(text).map_err(|e| {
        let location = e.location();
        let message = e.to_string();
        let message = if message.starts_with("recursion limit exceeded") {
            "nested more than 128 levels deep (the YAML parser's limit)".to_string()
        } else {
            format!("not valid YAML: {message}")
        };
        refused(
            location.as_ref().map(|l| l.line()),
            location.as_ref().map(|l| l.column()),
            message,
        )
    })
}

/// The 1-based line where the nesting of collections first goes beyond `limit`, found in one
/// linear pass by [`NestingScan`].
fn nesting_exceeds(text: &str, limit: usize) -> Option<usize> {
    let mut scan = NestingScan {
        limit,
        flow: 0,
        indents: Vec::new(),
        quote: None,
        plain: false,
        block_scalar: None,
        key_allowed: true,
        maybe_key: 0,
    };
    text.split('\n')
        .position(|line| {
            let chars: Vec<char> = line.trim_end_matches('\r').chars().collect();
            scan.line(&chars)
        })
        .map(|i| i + 1)
}

/// libyaml's scanner reduced to what decides how deeply it nests: where its tokens start
/// (so brackets inside quoted, plain and block scalars and comments are text, as they are to
/// libyaml), its flow level, and its stack of block indentations. Each rule mirrors
/// `libyaml-rs`'s `scanner.rs` (`fetch_next_token`, `scan_plain_scalar`, `roll_indent`,
/// block scalars). Where it cannot tell, it counts rather than skips: a count too high only
/// refuses a template nested almost as deeply as the limit, a count too low would let
/// libyaml's quadratic scan through.
struct NestingScan {
    limit: usize,
    /// Open `[` / `{` (libyaml's `flow_level`).
    flow: usize,
    /// Columns of the open block collections (libyaml's `indents`; the current indent is the
    /// last, or -1 when there is none), each marked when it is an indentless sequence (`-`
    /// at its parent key's column): libyaml opens no indentation for one, but it nests.
    indents: Vec<(usize, bool)>,
    /// Inside a quoted scalar that runs on past the end of a line.
    quote: Option<char>,
    /// A plain scalar ended a line and may go on in the next one.
    plain: bool,
    /// Inside a block scalar (`|`, `>`): the indentation its header line was under, and the
    /// indentation of its content once its first line sets it.
    block_scalar: Option<(isize, Option<usize>)>,
    /// libyaml's `simple_key_allowed`: whether the next token may start a key.
    key_allowed: bool,
    /// 1 while a flow collection that may turn out to be a key (of a block mapping not yet
    /// opened, as libyaml only knows at the `:`) is open: that mapping is counted already.
    maybe_key: usize,
}

/// Where a plain scalar stops on a line.
enum PlainEnd {
    /// At the end of the line: it may go on in the next.
    Eol,
    /// At this index, where a token starts (`: ` or, in flow, a flow indicator).
    Token(usize),
    /// At a comment: the rest of the line is text.
    Comment,
}

impl NestingScan {
    fn indent(&self) -> isize {
        self.indents.last().map_or(-1, |&(i, _)| i as isize)
    }

    fn too_deep(&self) -> bool {
        self.indents.len() + self.flow + self.maybe_key > self.limit
    }

    /// A block collection opens at `column` (a key's or a `-`'s), as `roll_indent` does.
    fn roll(&mut self, column: usize) -> bool {
        if self.flow == 0 && self.indent() < column as isize {
            self.indents.push((column, false));
        }
        self.too_deep()
    }

    /// A `-` at `column`: a sequence, indented or not (counted once per column).
    fn entry(&mut self, column: usize) -> bool {
        if self.flow == 0
            && self.indent() == column as isize
            && self
                .indents
                .last()
                .is_some_and(|&(_, indentless)| !indentless)
        {
            self.indents.push((column, true));
        }
        self.roll(column)
    }

    /// Whether this line takes the nesting past the limit.
    fn line(&mut self, line: &[char]) -> bool {
        let spaces = line.iter().take_while(|&&c| c == ' ').count();
        let blank = line.iter().all(|&c| c == ' ' || c == '\t');
        if let Some((base, content)) = self.block_scalar {
            if blank {
                return false;
            }
            match content {
                Some(indent) if spaces >= indent => return false,
                None if spaces as isize >= (base + 1).max(1) => {
                    self.block_scalar = Some((base, Some(spaces)));
                    return false;
                }
                _ => self.block_scalar = None,
            }
        }
        let mut at = 0;
        if let Some(quote) = self.quote {
            match close_quote(line, 0, quote) {
                Some(end) => {
                    self.quote = None;
                    self.key_allowed = false;
                    at = end;
                }
                None => return false,
            }
        } else if self.plain {
            if blank {
                return false;
            }
            self.plain = false;
            let document_marker = spaces == 0 && is_document_marker(line);
            // A continuation: in flow anywhere, in block context indented past the
            // collection the scalar is in.
            if !document_marker && (self.flow > 0 || spaces as isize > self.indent()) {
                if line.get(spaces) == Some(&'#') {
                    return false;
                }
                match self.plain_run(line, spaces) {
                    PlainEnd::Eol => {
                        self.plain = true;
                        return false;
                    }
                    PlainEnd::Comment => return false,
                    PlainEnd::Token(end) => at = end,
                }
            }
        } else if self.flow == 0 {
            self.key_allowed = true;
        }
        self.tokens(line, at)
    }

    /// Tokens from `at` to the end of the line.
    fn tokens(&mut self, line: &[char], mut at: usize) -> bool {
        // The column of a token that may be a simple key, for the `:` that follows it.
        let mut key: Option<usize> = None;
        loop {
            while at < line.len() && (line[at] == ' ' || line[at] == '\t') {
                at += 1;
            }
            // A comment is skipped before any token (it closes no collection).
            let Some(&c) = line.get(at).filter(|&&c| c != '#') else {
                return false;
            };
            let next_blank = line.get(at + 1).is_none_or(|&n| n == ' ' || n == '\t');
            if self.flow == 0 {
                // `unroll_indent`: a token left of a collection closes it.
                while self.indent() > at as isize {
                    self.indents.pop();
                }
            }
            // Only a key in block context opens a block collection; inside flow, keys of
            // inner collections must not move the column of the one that holds them.
            if self.key_allowed && self.flow == 0 && !matches!(c, '#' | ']' | '}' | ',') {
                key = Some(at);
            }
            match c {
                '%' if at == 0 => return false,
                '-' | '.' if at == 0 && is_document_marker(line) => {
                    self.indents.clear();
                    self.key_allowed = false;
                    at += 3;
                }
                '[' | '{' => {
                    if self.flow == 0 {
                        self.maybe_key =
                            usize::from(self.key_allowed && at as isize > self.indent());
                    }
                    self.flow += 1;
                    if self.too_deep() {
                        return true;
                    }
                    self.key_allowed = true;
                    at += 1;
                }
                ']' | '}' => {
                    self.flow = self.flow.saturating_sub(1);
                    self.key_allowed = false;
                    at += 1;
                }
                ',' => {
                    self.key_allowed = true;
                    at += 1;
                }
                '-' if next_blank => {
                    if self.entry(at) {
                        return true;
                    }
                    self.key_allowed = true;
                    at += 1;
                }
                '?' if self.flow > 0 || next_blank => {
                    if self.roll(at) {
                        return true;
                    }
                    self.key_allowed = self.flow == 0;
                    at += 1;
                }
                ':' if self.flow > 0 || next_blank => {
                    if let Some(column) = key.take()
                        && self.roll(column)
                    {
                        return true;
                    }
                    self.key_allowed = self.flow == 0;
                    at += 1;
                }
                '*' | '&' | '!' => {
                    at += 1;
                    while at < line.len()
                        && !matches!(line[at], ' ' | '\t' | ',' | '[' | ']' | '{' | '}')
                    {
                        at += 1;
                    }
                    self.key_allowed = false;
                }
                '|' | '>' if self.flow == 0 => {
                    self.block_scalar = Some((self.indent(), None));
                    return false;
                }
                '\'' | '"' => {
                    self.key_allowed = false;
                    match close_quote(line, at + 1, c) {
                        Some(end) => at = end,
                        None => {
                            self.quote = Some(c);
                            return false;
                        }
                    }
                }
                _ => {
                    self.key_allowed = false;
                    match self.plain_run(line, at) {
                        PlainEnd::Eol => {
                            self.plain = true;
                            return false;
                        }
                        PlainEnd::Comment => return false,
                        PlainEnd::Token(end) => at = end,
                    }
                }
            }
        }
    }

    /// A plain scalar from `at`, as `scan_plain_scalar` reads it within one line.
    fn plain_run(&self, line: &[char], mut at: usize) -> PlainEnd {
        loop {
            while at < line.len() && line[at] != ' ' && line[at] != '\t' {
                let c = line[at];
                let next = line.get(at + 1).copied();
                if c == ':' && next.is_none_or(|n| n == ' ' || n == '\t') {
                    return PlainEnd::Token(at);
                }
                if self.flow > 0
                    && (matches!(c, ',' | '[' | ']' | '{' | '}')
                        || (c == ':' && next.is_some_and(|n| ",?[]{}".contains(n))))
                {
                    return PlainEnd::Token(at);
                }
                at += 1;
            }
            while at < line.len() && (line[at] == ' ' || line[at] == '\t') {
                at += 1;
            }
            match line.get(at) {
                None => return PlainEnd::Eol,
                Some('#') => return PlainEnd::Comment,
                Some(_) => {}
            }
        }
    }
}

/// `---` or `...` at the start of a line, alone or followed by a blank.
fn is_document_marker(line: &[char]) -> bool {
    line.len() >= 3
        && (line[..3] == ['-', '-', '-'] || line[..3] == ['.', '.', '.'])
        && line.get(3).is_none_or(|&c| c == ' ' || c == '\t')
}

/// The index just past the quote that closes a `quote` scalar whose text starts at `at`, if
/// it closes on this line (`''` is a quote in single quotes, `\` escapes in double quotes).
fn close_quote(line: &[char], mut at: usize, quote: char) -> Option<usize> {
    while at < line.len() {
        match line[at] {
            '\\' if quote == '"' => at += 2,
            '\'' if quote == '\'' && line.get(at + 1) == Some(&'\'') => at += 2,
            c if c == quote => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// Scalars as CloudFormation sees them: numbers and booleans are strings too. The one rule
/// for both forms a template takes here: the JSON the rules judge, and (through
/// [`yaml_scalar`]) the YAML tree the form reads.
pub(crate) fn scalar(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// [`scalar`] of a YAML node.
fn yaml_scalar(value: &Value) -> Option<String> {
    match value {
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => None,
        scalar_node => scalar(&to_json(scalar_node)),
    }
}

/// YAML (with CloudFormation's short-form tags) → JSON with the long-form intrinsics
/// (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`).
pub(crate) fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => serde_json::to_value(n).unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                out.insert(key, to_json(v));
            }
            Json::Object(out)
        }
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&tagged.value);
            let (key, value) = match name {
                "Ref" => ("Ref".to_string(), inner),
                "Condition" => ("Condition".to_string(), inner),
                // `!GetAtt A.B` is the string form of `Fn::GetAtt: [A, B]`.
                "GetAtt" => (
                    "Fn::GetAtt".to_string(),
                    match inner {
                        Json::String(s) => match s.split_once('.') {
                            Some((a, b)) => Json::Array(vec![a.into(), b.into()]),
                            None => Json::String(s),
                        },
                        other => other,
                    },
                ),
                other => (format!("Fn::{other}"), inner),
            };
            let mut out = serde_json::Map::new();
            out.insert(key, value);
            Json::Object(out)
        }
    }
}

type FieldError = (String, String);

fn parse_parameter(
    name: &str,
    body: &Value,
    line: Option<usize>,
) -> Result<ParameterSpec, FieldError> {
    let Some(body) = body.as_mapping() else {
        return Err((
            "Type".into(),
            format!("parameter {name} must be a mapping with a Type"),
        ));
    };
    let text = |key: &str| -> Result<Option<String>, FieldError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => yaml_scalar(v)
                .map(Some)
                .ok_or_else(|| (key.to_string(), "expected a single value".to_string())),
        }
    };
    let number = |key: &str| -> Result<Option<f64>, FieldError> {
        match text(key)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| (key.to_string(), format!("{s:?} is not a number"))),
        }
    };
    let count = |key: &str| -> Result<Option<u64>, FieldError> {
        match number(key)? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
            Some(n) => Err((
                key.to_string(),
                format!("{n} is not a whole number of characters"),
            )),
        }
    };
    let kind = text("Type")?.ok_or_else(|| {
        (
            "Type".to_string(),
            "every parameter needs a Type".to_string(),
        )
    })?;
    let allowed_values = match body.get("AllowedValues") {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| {
                yaml_scalar(v).ok_or_else(|| {
                    (
                        "AllowedValues".to_string(),
                        "values must be scalars".to_string(),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(("AllowedValues".into(), "expected a list".into())),
    };
    let allowed_pattern = text("AllowedPattern")?;
    let no_echo = match text("NoEcho")?.as_deref() {
        None | Some("false") | Some("False") => false,
        Some("true") | Some("True") => true,
        Some(other) => return Err(("NoEcho".into(), format!("{other:?} is not true or false"))),
    };
    let spec = ParameterSpec {
        name: name.to_string(),
        kind,
        description: text("Description")?,
        label: None,
        default: text("Default")?,
        allowed_values,
        allowed_pattern,
        constraint_description: text("ConstraintDescription")?,
        min_length: count("MinLength")?,
        max_length: count("MaxLength")?,
        min_value: number("MinValue")?,
        max_value: number("MaxValue")?,
        no_echo,
        line: line.unwrap_or(0),
    };
    // A template whose own default breaks its constraints would fail in CloudFormation.
    if let Some(default) = &spec.default
        && let Err(why) = spec.validate(default)
    {
        return Err((
            "Default".into(),
            format!("the default breaks the parameter's own constraints: {why}"),
        ));
    }
    Ok(spec)
}

fn interface_groups(
    interface: Option<&Mapping>,
    parameters: &mut [ParameterSpec],
) -> Vec<ParameterGroup> {
    let mut groups = Vec::new();
    if let Some(interface) = interface {
        if let Some(labels) = interface.get("ParameterLabels").and_then(Value::as_mapping) {
            for p in parameters.iter_mut() {
                p.label = labels
                    .get(p.name.as_str())
                    .and_then(|l| l.get("default"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
        }
        if let Some(list) = interface
            .get("ParameterGroups")
            .and_then(Value::as_sequence)
        {
            for group in list {
                let label = group
                    .get("Label")
                    .and_then(|l| l.get("default"))
                    .and_then(Value::as_str)
                    .unwrap_or("Parameters")
                    .to_string();
                let names = group
                    .get("Parameters")
                    .and_then(Value::as_sequence)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(Value::as_str)
                            .filter(|n| parameters.iter().any(|p| p.name == *n))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                groups.push(ParameterGroup {
                    label,
                    parameters: names,
                });
            }
        }
    }
    let grouped: Vec<&String> = groups.iter().flat_map(|g| g.parameters.iter()).collect();
    let rest: Vec<String> = parameters
        .iter()
        .filter(|p| !grouped.contains(&&p.name))
        .map(|p| p.name.clone())
        .collect();
    if !rest.is_empty() {
        groups.push(ParameterGroup {
            label: OTHER_GROUP.to_string(),
            parameters: rest,
        });
    }
    groups
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

impl ParameterSpec {
    pub fn is_list(&self) -> bool {
        self.kind == "CommaDelimitedList" || self.kind.starts_with("List<")
    }

    pub fn is_number(&self) -> bool {
        self.kind == "Number" || self.kind == "List<Number>"
    }

    /// A value as it may appear in a message: never the value of a NoEcho parameter.
    fn shown(&self, value: &str) -> String {
        if self.no_echo {
            "the value".to_string()
        } else {
            format!("{value:?}")
        }
    }

    /// What the form shows under the field when a value is refused.
    fn refusal(&self, detail: String) -> String {
        match &self.constraint_description {
            Some(c) => format!("{detail} ({c})"),
            None => detail,
        }
    }

    /// Check a value as CloudFormation would before it accepts the stack. For list types each
    /// element is checked. A value that is empty and has no default is missing.
    pub fn validate(&self, value: &str) -> Result<(), String> {
        if value.is_empty()
            && self.default.is_none()
            && (self.is_number() || self.kind.starts_with("AWS::"))
        {
            return Err(format!("{} needs a value", self.name));
        }
        let items: Vec<&str> = if self.is_list() {
            value.split(',').map(str::trim).collect()
        } else {
            vec![value]
        };
        // Length limits apply to the whole value, the rest to each element.
        let chars = value.chars().count() as u64;
        if let Some(min) = self.min_length
            && chars < min
        {
            return Err(self.refusal(format!("at least {min} {}", plural(min, "character"))));
        }
        if let Some(max) = self.max_length
            && chars > max
        {
            return Err(self.refusal(format!("at most {max} {}", plural(max, "character"))));
        }
        for item in items {
            if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|a| a == item) {
                return Err(
                    self.refusal(format!("must be one of {}", self.allowed_values.join(", ")))
                );
            }
            if self.is_number() {
                let n: f64 = item
                    .parse()
                    .map_err(|_| self.refusal(format!("{} is not a number", self.shown(item))))?;
                if let Some(min) = self.min_value
                    && n < min
                {
                    return Err(self.refusal(format!("at least {min}")));
                }
                if let Some(max) = self.max_value
                    && n > max
                {
                    return Err(self.refusal(format!("at most {max}")));
                }
            }
            if let Some(pattern) = &self.allowed_pattern
                && let Ok(re) = Regex::new(&format!("^(?:{pattern})$"))
                && !re.is_match(item)
            {
                return Err(self.refusal(format!("must match {pattern}")));
            }
        }
        Ok(())
    }
}

/// Finds the line of a key path (e.g. `Parameters` → `DbName` → `MinLength`) in block-style
/// YAML by indentation. Values carry no positions, so errors found after parsing use this.
/// Finds the line of a key path in YAML text by indentation (good enough for templates).
pub(crate) struct LineFinder<'a> {
    pub(crate) text: &'a str,
}

impl LineFinder<'_> {
    pub(crate) fn key_line(&self, path: &[&str]) -> Option<usize> {
        let mut depth = 0;
        // Indent of the block being searched: top level first, then the matched key's children.
        let mut parent_indent: Option<usize> = None;
        let mut child_indent: Option<usize> = None;
        for (index, raw) in self.text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            if let Some(parent) = parent_indent
                && indent <= parent
            {
                // Left the parent's block without finding the next key.
                return None;
            }
            let level = *child_indent.get_or_insert(indent);
            if indent != level {
                continue;
            }
            let key = trimmed
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            if trimmed.contains(':') && key == path[depth] {
                depth += 1;
                if depth == path.len() {
                    return Some(index + 1);
                }
                parent_indent = Some(indent);
                child_indent = None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Description: A bucket
Metadata:
  AWS::CloudFormation::Interface:
    ParameterGroups:
      - Label: { default: Storage }
        Parameters: [BucketName, Versioning]
    ParameterLabels:
      BucketName: { default: Bucket name }
Parameters:
  BucketName:
    Type: String
    Description: Globally unique name
    AllowedPattern: "[a-z0-9][a-z0-9.-]*"
    ConstraintDescription: lower-case letters, digits, dots and hyphens
    MinLength: 3
    MaxLength: 63
  Versioning:
    Type: String
    Default: Enabled
    AllowedValues: [Enabled, Suspended]
  RetentionDays:
    Type: Number
    Default: 30
    MinValue: 1
    MaxValue: 3653
  ApiKey:
    Type: String
    NoEcho: true
    Default: ""
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref BucketName
      Tags:
        - Key: Name
          Value: !Sub "${AWS::StackName}-bucket"
"#;

    fn parse(text: &str) -> Result<Template, TemplateError> {
        Template::parse(text, Path::new("templates/s3.yaml"))
    }

    #[test]
    fn parameters_groups_labels_and_resources() {
        let t = parse(TEMPLATE).expect("parses");
        assert_eq!(t.description.as_deref(), Some("A bucket"));
        let names: Vec<_> = t.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["BucketName", "Versioning", "RetentionDays", "ApiKey"]
        );
        let bucket = t.parameter("BucketName").unwrap();
        assert_eq!(bucket.label.as_deref(), Some("Bucket name"));
        assert_eq!(bucket.line, 11);
        assert_eq!((bucket.min_length, bucket.max_length), (Some(3), Some(63)));
        assert!(t.parameter("ApiKey").unwrap().no_echo);
        assert_eq!(
            t.groups[0],
            ParameterGroup {
                label: "Storage".into(),
                parameters: vec!["BucketName".into(), "Versioning".into()]
            }
        );
        assert_eq!(t.groups[1].label, "Other parameters");
        assert_eq!(t.groups[1].parameters, ["RetentionDays", "ApiKey"]);
        assert_eq!(
            t.resources,
            [ResourceSpec {
                logical_id: "Bucket".into(),
                resource_type: "AWS::S3::Bucket".into()
            }]
        );
    }

    #[test]
    fn validation_table() {
        let t = parse(TEMPLATE).expect("parses");
        let cases: &[(&str, &str, bool)] = &[
            ("BucketName", "logs-2026", true),
            ("BucketName", "ab", false),
            ("BucketName", "Logs", false),
            ("BucketName", &"a".repeat(64), false),
            ("Versioning", "Enabled", true),
            ("Versioning", "On", false),
            ("RetentionDays", "30", true),
            ("RetentionDays", "0", false),
            ("RetentionDays", "4000", false),
            ("RetentionDays", "thirty", false),
            ("RetentionDays", "", false),
        ];
        for (name, value, ok) in cases {
            let result = t.parameter(name).unwrap().validate(value);
            assert_eq!(result.is_ok(), *ok, "{name}={value:?}: {result:?}");
        }
        let err = t
            .parameter("BucketName")
            .unwrap()
            .validate("Logs")
            .unwrap_err();
        assert!(
            err.contains("lower-case letters"),
            "constraint description shown: {err}"
        );
    }

    #[test]
    fn refusals_never_repeat_a_noecho_value() {
        let text = "Parameters:\n  Pin:\n    Type: Number\n    NoEcho: true\nResources:\n  T:\n    Type: AWS::SNS::Topic\n";
        let t = parse(text).expect("parses");
        let err = t.parameter("Pin").unwrap().validate("hunter2").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn list_parameters_check_each_element() {
        let text = "Parameters:\n  Zones:\n    Type: CommaDelimitedList\n    AllowedValues: [a, b, c]\nResources:\n  T:\n    Type: AWS::SNS::Topic\n";
        let t = parse(text).expect("parses");
        let zones = t.parameter("Zones").unwrap();
        assert!(zones.validate("a, b").is_ok());
        assert!(zones.validate("a,d").is_err());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad_yaml = "Resources:\n  T:\n    Type: [unclosed\n";
        let e = parse(bad_yaml).unwrap_err();
        assert!(e.to_string().starts_with("templates/s3.yaml:"), "{e}");
        assert!(e.line.is_some());

        let bad_min = "Parameters:\n  Name:\n    Type: String\n    MinLength: lots\nResources:\n  T:\n    Type: AWS::SNS::Topic\n";
        let e = parse(bad_min).unwrap_err();
        assert_eq!(
            e.to_string(),
            "templates/s3.yaml:4: Parameters.Name.MinLength: \"lots\" is not a number"
        );

        let bad_default = "Parameters:\n  Env:\n    Type: String\n    Default: PROD\n    AllowedValues: [DEV, PRD]\nResources:\n  T:\n    Type: AWS::SNS::Topic\n";
        let e = parse(bad_default).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("templates/s3.yaml:4: Parameters.Env.Default: the default breaks"),
            "{e}"
        );

        let no_type = "Resources:\n  T:\n    Properties: {}\n";
        let e = parse(no_type).unwrap_err();
        assert_eq!(
            e.to_string(),
            "templates/s3.yaml:2: Resources.T.Type: every resource needs a Type"
        );

        let no_resources = "Parameters: {}\n";
        assert!(
            parse(no_resources)
                .unwrap_err()
                .to_string()
                .contains("Resources")
        );
    }

    /// Each of these is refused by the deploy form and by the compliance judge alike, with
    /// the same words: they share one parser and one check.
    #[test]
    fn check_and_deploy_refuse_the_same_templates() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "Resources:\n  T:\n    Properties: {}\n",
                "templates/s3.yaml:2: Resources.T.Type: every resource needs a Type",
                "no Type",
            ),
            (
                "Resources:\n  T:\n    Type: 42\n",
                "templates/s3.yaml:3: Resources.T.Type: must be a resource type name such as AWS::S3::Bucket, not a number",
                "numeric Type",
            ),
            (
                "Resources:\n  T:\n",
                "templates/s3.yaml:2: Resources.T: must be a mapping with a Type (e.g. Type: AWS::S3::Bucket), not empty",
                "null resource",
            ),
            (
                "Resources:\n  - Type: AWS::SNS::Topic\n",
                "templates/s3.yaml:1: Resources: must be a mapping of logical ids to resources, not a list",
                "Resources as a list",
            ),
            (
                "Resources: {}\n",
                "templates/s3.yaml:1: Resources: a template needs at least one resource",
                "no resource",
            ),
            (
                "Resources:\n  \"A\\e[31mB\":\n    Type: AWS::SNS::Topic\n",
                "templates/s3.yaml:1: Resources: logical id \"A\\u{1b}[31mB\" must be letters and digits only (A-Z, a-z, 0-9)",
                "escape sequence in a logical id",
            ),
        ];
        for (text, expected, what) in cases {
            let deploy = parse(text).expect_err(what).to_string();
            assert_eq!(&deploy, expected, "{what}");
            let judged = crate::compliance::input::from_template(
                text,
                "templates/s3.yaml",
                &std::collections::BTreeMap::new(),
                None,
            )
            .expect_err(what)
            .to_string();
            assert_eq!(judged, deploy, "{what}");
        }
        // Not a template at all (a directory search skips these), unlike the above.
        assert!(parse("a: 1\n").unwrap_err().is_not_a_template());
        assert!(parse("- 1\n").unwrap_err().is_not_a_template());
        assert!(!parse("Resources: []\n").unwrap_err().is_not_a_template());
    }

    #[test]
    fn a_byte_order_mark_is_not_a_second_document() {
        let text = "\u{feff}Resources:\n  T:\n    Type: AWS::SNS::Topic\n";
        let t = parse(text).expect("a BOM is allowed");
        assert_eq!(t.resources[0].logical_id, "T");
        let (input, lines) = crate::compliance::input::from_template(
            text,
            "t.yaml",
            &std::collections::BTreeMap::new(),
            None,
        )
        .expect("judged too");
        assert_eq!(input.resources.len(), 1);
        assert_eq!(lines.line_of("T", "Type"), Some(3));
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line_before_parsing() {
        let head = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: ";
        let deep = format!("{head}{}{}\n", "[".repeat(50_000), "]".repeat(50_000));
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(
            e.message
                .contains(&format!("more than {MAX_NESTING} levels")),
            "refused before the parser: {e}"
        );
        // Unclosed, as maps, and as block sequences: all counted.
        for text in [
            format!("{head}{}\n", "[".repeat(10_000)),
            format!("{head}{}1{}\n", "{a: ".repeat(10_000), "}".repeat(10_000)),
            format!("{head}\n        {}x\n", "- ".repeat(10_000)),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.message.contains("levels"), "{e}");
            assert!(e.line.is_some_and(|l| l >= 5), "{e}");
        }
        // Between the parser's limit and ours: the parser's limit, said plainly.
        let e = parse(&format!("{head}{}{}\n", "[".repeat(200), "]".repeat(200))).unwrap_err();
        assert!(e.message.contains("128 levels"), "{e}");
        // Brackets in quotes and comments are text, not nesting.
        let quoted = format!(
            "{head}\"{}\"\n      Y: '{}' # {}\n",
            "[".repeat(1000),
            "{".repeat(1000),
            "[".repeat(1000)
        );
        assert!(parse(&quoted).is_ok(), "{:?}", parse(&quoted).err());
        // Alias expansion stays bounded (yaml_serde's repetition limit): a billion laughs.
        let mut laughs = String::from(
            "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      A0: &a0 [x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..9 {
            laughs.push_str(&format!(
                "      A{i}: &a{i} [{}]\n",
                vec![format!("*a{}", i - 1); 9].join(", ")
            ));
        }
        let e = parse(&laughs).unwrap_err();
        assert!(e.message.contains("repetition limit"), "{e}");
        // The same limit guards the compliance judge and the retained-resources reader.
        assert!(
            crate::compliance::input::from_template(
                &deep,
                "t.yaml",
                &std::collections::BTreeMap::new(),
                None
            )
            .unwrap_err()
            .message
            .contains("levels")
        );
        assert!(
            crate::cfn::retained::retained_resources(&deep)
                .unwrap_err()
                .contains("levels")
        );
    }

    /// The deepest collection nesting of a parsed YAML value.
    fn depth(v: &Value) -> usize {
        match v {
            Value::Sequence(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Mapping(map) => {
                1 + map
                    .iter()
                    .map(|(k, v)| depth(k).max(depth(v)))
                    .max()
                    .unwrap_or(0)
            }
            Value::Tagged(t) => depth(&t.value),
            _ => 0,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// The pre-parse scan never sees less nesting than the parser builds: whatever YAML
        /// text parses, the scan counts at least its depth (quotes, comments, plain and
        /// block scalars, tags and anchors mixed in). A count too low is how a deep
        /// template would slip past to libyaml.
        #[test]
        fn the_nesting_scan_never_counts_lower_than_the_parser(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "[", "]", "{", "}", ",", " ", "\n", "\n  ", "\n    ", "'", "\"", "a", "#",
                    ": ", ":", "- ", "? ", "|", "|\n", ">", "!t ", "&a ", "*a", "\\", "k: ",
                    "\n- ", "--- ", "\t", "'a'", "\"b\"", "\n#", "  ", "\n  - ", "\n    k: ",
                    "|-\n", ">\n      ", "'\n", "\"\n", "...\n", "%Y\n", "?",
                ]),
                1..80,
            )
        ) {
            for text in [parts.concat(), format!("x: {}", parts.concat())] {
                if let Ok(v) = yaml_serde::from_str::<Value>(&text) {
                    let d = depth(&v);
                    proptest::prop_assert!(
                        d == 0 || nesting_exceeds(&text, d - 1).is_some(),
                        "depth {} not seen in {:?}",
                        d,
                        text
                    );
                }
            }
        }
    }

    /// Texts that once slipped past a simpler scan: a quote that is plain text to libyaml,
    /// a comment sign in a quoted string, a quote between brackets.
    #[test]
    fn the_nesting_scan_is_not_fooled_by_text_that_looks_like_quotes_or_comments() {
        let head = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n";
        let deep = "[".repeat(10_000);
        for text in [
            format!("{head}      X: b\n        'x\n      Y: {deep}\n"),
            format!("{head}      X: [\"a #\", {deep}\n"),
            format!("{head}      X: {}\n", "[\"]\",".repeat(10_000)),
            format!("{head}      X: \"abc\n        def\" {deep}\n"),
            format!("{head}      X: |\n          text\n        {deep}\n"),
            format!("{head}      X: it's a 'thing\n      Y: {deep}\n"),
            format!("{head}---\n{deep}\n"),
        ] {
            let e = parse(&text).expect_err(&text[..text.len().min(120)]);
            assert!(e.message.contains("levels"), "{e}");
        }
    }

    #[test]
    fn json_templates_parse_too() {
        let t = parse(r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#)
            .expect("JSON is YAML");
        assert_eq!(t.resources[0].resource_type, "AWS::SNS::Topic");
    }
}

#[cfg(test)]
mod library_tests {
    use super::*;

    /// Every template in the library loads with the console's own parser, every parameter is
    /// grouped and labelled for the form, and every default passes its own constraints.
    #[test]
    fn every_library_template_is_ready_for_the_form() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("templates/ exists") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            count += 1;
            let t = Template::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                t.description.is_some(),
                "{}: no Description",
                path.display()
            );
            assert!(!t.resources.is_empty());
            assert!(
                t.groups.iter().all(|g| g.label != OTHER_GROUP),
                "{}: parameters outside the Interface groups",
                path.display()
            );
            for p in &t.parameters {
                assert!(
                    p.description.is_some(),
                    "{}: {} has no Description",
                    path.display(),
                    p.name
                );
                assert!(
                    p.label.is_some(),
                    "{}: {} has no label",
                    path.display(),
                    p.name
                );
                if let Some(pattern) = &p.allowed_pattern {
                    assert!(
                        Regex::new(pattern).is_ok(),
                        "{}: {} pattern does not compile",
                        path.display(),
                        p.name
                    );
                }
            }
        }
        assert!(count >= 8, "expected the 8-template library, found {count}");
    }
}
