//! The deploy form's state: one field for the stack name, then one per template parameter in
//! the order of the template's Interface groups. Pure data and editing; the deploy flow
//! (`deploy.rs`) decides what a submit does and `view/form.rs` draws it.

pub use crate::cfn::deploy::FormTemplate;
use crate::cfn::model::StackParameter;
use crate::cfn::template::{ParameterSpec, Template};
use crate::tui::input::LineInput;
use crossterm::event::KeyEvent;
use std::collections::BTreeMap;

/// How a field takes its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// The stack name: `[a-zA-Z][-a-zA-Z0-9]*`, at most 128 characters.
    StackName,
    Text,
    /// `AllowedValues`: cycled with ←/→/Space, never typed.
    Select(Vec<String>),
    /// `NoEcho`: typed, drawn as `•`, never shown back.
    Secret,
}

#[derive(Debug, Clone)]
pub struct FormField {
    pub kind: FieldKind,
    /// The parameter key (empty for the stack name).
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    /// The parameter's `Type`, shown beside the label.
    pub type_name: String,
    /// The Interface group the field belongs to (a heading is drawn where it changes).
    pub group: String,
    pub input: LineInput,
    /// Index into the choices of a `Select`.
    pub choice: usize,
    pub error: Option<String>,
    /// The value the stack has now (updates only; `None` for NoEcho, which AWS masks).
    pub current: Option<String>,
    /// Shown but not editable (the stack name of an update).
    pub locked: bool,
}

impl FormField {
    pub fn value(&self) -> String {
        match &self.kind {
            FieldKind::Select(choices) => choices.get(self.choice).cloned().unwrap_or_default(),
            _ => self.input.text().to_string(),
        }
    }

    pub fn is_parameter(&self) -> bool {
        self.kind != FieldKind::StackName
    }
}

/// What the form deploys to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    /// A new stack; its name is typed in the form.
    New,
    /// An existing stack: its name is fixed and `existing_keys` are the parameters it has now.
    Update {
        stack_id: String,
        stack_name: String,
        existing_keys: Vec<String>,
    },
}

pub struct DeployForm {
    /// `library:s3-bucket`, a file path, or `current template of STACK`.
    pub origin: String,
    pub source: FormTemplate,
    pub template: Template,
    pub target: DeployTarget,
    pub fields: Vec<FormField>,
    pub focus: usize,
    /// Why the form cannot be sent as it is (a refusal that belongs to no single field).
    pub error: Option<String>,
    /// An update's current template text, to estimate the cost before the change.
    pub current_template: Option<String>,
}

pub const STACK_NAME_MAX: usize = 128;

/// CloudFormation's stack name rule, checked before anything is sent.
pub fn validate_stack_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("needs a stack name".into()),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err("must start with a letter (A-Z, a-z)".into());
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("only letters, digits and hyphens are allowed".into());
    }
    if name.len() > STACK_NAME_MAX {
        return Err(format!("at most {STACK_NAME_MAX} characters"));
    }
    Ok(())
}

impl DeployForm {
    /// A form for `template`. For an update, `current` is the stack's parameters as
    /// DescribeStacks returned them (NoEcho values are `****` there and start blank = keep).
    pub fn new(
        origin: String,
        source: FormTemplate,
        template: Template,
        target: DeployTarget,
        stack_name: &str,
        current: &[StackParameter],
    ) -> DeployForm {
        let mut fields = vec![FormField {
            kind: FieldKind::StackName,
            name: String::new(),
            label: "Stack name".into(),
            description: Some(
                "Letters, digits and hyphens, starting with a letter; at most 128 characters."
                    .into(),
            ),
            type_name: String::new(),
            group: "Stack".into(),
            input: LineInput::with_text(stack_name),
            choice: 0,
            error: None,
            current: None,
            locked: matches!(target, DeployTarget::Update { .. }),
        }];
        for group in &template.groups {
            for name in &group.parameters {
                if let Some(spec) = template.parameter(name) {
                    let now = current
                        .iter()
                        .find(|p| p.key == spec.name)
                        .map(|p| p.value.clone())
                        .filter(|_| !spec.no_echo);
                    let kept = current.iter().any(|p| p.key == spec.name);
                    fields.push(field_for(spec, &group.label, now, kept));
                }
            }
        }
        DeployForm {
            origin,
            source,
            template,
            target,
            fields,
            focus: 0,
            error: None,
            current_template: None,
        }
        .with_first_focus()
    }

    /// Start the choice field `name` at `value`, when that is one of its choices.
    pub fn preselect(&mut self, name: &str, value: &str) {
        for field in self.fields.iter_mut().filter(|f| f.name == name) {
            if let FieldKind::Select(choices) = &field.kind
                && let Some(i) = choices.iter().position(|c| c == value)
            {
                field.choice = i;
            }
        }
    }

    fn with_first_focus(mut self) -> DeployForm {
        let first = self.editable().next().unwrap_or(0);
        self.focus = first;
        self
    }

    /// Indices of the fields focus can land on.
    fn editable(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.locked)
            .map(|(i, _)| i)
    }

    pub fn stack_name(&self) -> String {
        match &self.target {
            DeployTarget::Update { stack_name, .. } => stack_name.clone(),
            DeployTarget::New => self.fields[0].input.text().trim().to_string(),
        }
    }

    pub fn spec(&self, field: &FormField) -> Option<&ParameterSpec> {
        self.template.parameter(&field.name)
    }

    pub fn focused(&self) -> &FormField {
        &self.fields[self.focus]
    }

    pub fn is_last(&self) -> bool {
        self.editable().last() == Some(self.focus)
    }

    pub fn next(&mut self) {
        let at = self.focus;
        let next = self.editable().find(|&i| i > at);
        if let Some(i) = next {
            self.focus = i;
        }
    }

    pub fn prev(&mut self) {
        let at = self.focus;
        let prev = self.editable().rfind(|&i| i < at);
        if let Some(i) = prev {
            self.focus = i;
        }
    }

    pub fn focus_field(&mut self, name: &str) {
        if let Some(i) = self.fields.iter().position(|f| f.name == name) {
            self.focus = i;
        }
    }

    /// Cycle a select's choice; other fields ignore it.
    pub fn cycle(&mut self, forward: bool) -> bool {
        let field = &mut self.fields[self.focus];
        let FieldKind::Select(choices) = &field.kind else {
            return false;
        };
        let n = choices.len().max(1);
        field.choice = if forward {
            (field.choice + 1) % n
        } else {
            (field.choice + n - 1) % n
        };
        self.check_focused();
        true
    }

    /// An editing key for the focused text field.
    pub fn edit(&mut self, key: KeyEvent) {
        let field = &mut self.fields[self.focus];
        if field.locked || matches!(field.kind, FieldKind::Select(_)) {
            return;
        }
        if field.input.handle(key) {
            self.error = None;
            self.check_focused();
        }
    }

    /// Validate the focused field as the person types, so the message sits under it.
    fn check_focused(&mut self) {
        let i = self.focus;
        let value = self.fields[i].value();
        let error = match &self.fields[i].kind {
            FieldKind::StackName => validate_stack_name(value.trim()).err(),
            // A blank secret on an update keeps the stack's value.
            FieldKind::Secret if value.is_empty() && self.keeps(&self.fields[i].name) => None,
            _ => self
                .template
                .parameter(&self.fields[i].name)
                .and_then(|spec| spec.validate(&value).err()),
        };
        self.fields[i].error = error;
    }

    /// The stack has this parameter now (so leaving it unchanged keeps it).
    pub fn keeps(&self, name: &str) -> bool {
        match &self.target {
            DeployTarget::Update { existing_keys, .. } => existing_keys.iter().any(|k| k == name),
            DeployTarget::New => false,
        }
    }

    /// What was entered, in the shape `cfn::deploy::resolve_parameters` takes.
    ///
    /// "Unchanged ones kept": on an update, a parameter the stack already has is left out
    /// (so it resolves to `UsePreviousValue`) when its field still shows the stack's current
    /// value, or when it is a NoEcho field left blank. Anything edited is sent as typed.
    /// Parameters new in the template get their typed value or default; parameters the stack
    /// has that the template dropped are not sent (CloudFormation drops them).
    /// Every parameter's value as the stack would get it, for the compliance rules: kept
    /// values are the current ones (pre-filled), blank fields fall back to the template's
    /// defaults in the judge, and secrets are left out (no rule needs a password).
    pub fn judged_parameters(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .filter(|f| f.is_parameter() && f.kind != FieldKind::Secret)
            .map(|f| (f.name.clone(), f.value()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// The stack's current parameter values (updates; NoEcho ones are not known).
    pub fn current_parameters(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .filter(|f| f.is_parameter())
            .filter_map(|f| f.current.clone().map(|v| (f.name.clone(), v)))
            .collect()
    }

    pub fn given(&self) -> BTreeMap<String, String> {
        let mut given = BTreeMap::new();
        for field in self.fields.iter().filter(|f| f.is_parameter()) {
            let value = field.value();
            // A blank secret with a default (often '' = "not used") takes the default;
            // a blank secret without one is sent, and refused as missing.
            let has_default = self
                .template
                .parameter(&field.name)
                .is_some_and(|spec| spec.default.is_some());
            if field.kind == FieldKind::Secret
                && value.is_empty()
                && has_default
                && !self.keeps(&field.name)
            {
                continue;
            }
            if self.keeps(&field.name) {
                let unchanged = match field.kind {
                    FieldKind::Secret => value.is_empty(),
                    _ => field.current.as_deref() == Some(value.as_str()),
                };
                if unchanged {
                    continue;
                }
            }
            given.insert(field.name.clone(), value);
        }
        given
    }

    /// Put refusals under their fields; focus jumps to the first refused field.
    pub fn show_errors(&mut self, errors: &[(String, String)]) {
        for field in &mut self.fields {
            field.error = None;
        }
        let mut first = None;
        for (name, message) in errors {
            if let Some(i) = self.fields.iter().position(|f| &f.name == name) {
                self.fields[i].error = Some(message.clone());
                first = Some(first.map_or(i, |f: usize| f.min(i)));
            }
        }
        if let Some(i) = first {
            self.focus = i;
        }
    }
}

fn field_for(spec: &ParameterSpec, group: &str, current: Option<String>, kept: bool) -> FormField {
    let start = current.clone().or(spec.default.clone()).unwrap_or_default();
    let (kind, choice, text) = if spec.no_echo {
        // AWS masks a stack's current secret: on an update the field starts blank (= keep).
        // A new stack starts from the template's default, drawn masked like anything typed.
        let text = if kept {
            String::new()
        } else {
            spec.default.clone().unwrap_or_default()
        };
        (FieldKind::Secret, 0, text)
    } else if !spec.allowed_values.is_empty() {
        let choice = spec
            .allowed_values
            .iter()
            .position(|v| *v == start)
            .unwrap_or(0);
        (
            FieldKind::Select(spec.allowed_values.clone()),
            choice,
            String::new(),
        )
    } else {
        (FieldKind::Text, 0, start)
    };
    FormField {
        kind,
        name: spec.name.clone(),
        label: spec.label.clone().unwrap_or_else(|| spec.name.clone()),
        description: spec.description.clone(),
        type_name: spec.kind.clone(),
        group: group.to_string(),
        input: LineInput::with_text(&text),
        choice,
        error: None,
        current,
        locked: false,
    }
}
