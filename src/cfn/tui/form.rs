//! The deploy form: the shell's generated form (`tui::form`) with one field for the stack
//! name, then one per template parameter in the order of the template's Interface groups. The
//! template decides what each value must be; the deploy flow (`deploy.rs`) decides what a
//! submit does and `form_view.rs` draws it.

pub use crate::cfn::deploy::FormTemplate;
use crate::cfn::model::StackParameter;
use crate::cfn::template::{ParameterSpec, Template};
pub use crate::tui::form::{Field as FormField, FieldKind, Form, FormEvent, FormRules};
use crate::tui::input::LineInput;
use crossterm::event::KeyEvent;
use std::collections::BTreeMap;

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
    /// The fields (the stack name first, named ""), focus and form-wide refusal.
    pub form: Form,
    /// Sent, and its template is being judged off the UI thread: locked until the verdict
    /// comes back (Esc cancels).
    pub judging: bool,
    /// An update's current template text, to estimate the cost before the change.
    pub current_template: Option<String>,
}

impl std::ops::Deref for DeployForm {
    type Target = Form;

    fn deref(&self) -> &Form {
        &self.form
    }
}

impl std::ops::DerefMut for DeployForm {
    fn deref_mut(&mut self) -> &mut Form {
        &mut self.form
    }
}

/// What a deploy form's values must be: the stack name's rule, each parameter's spec.
struct DeployRules<'a> {
    template: &'a Template,
    target: &'a DeployTarget,
}

impl FormRules for DeployRules<'_> {
    fn check(&self, form: &Form, index: usize) -> Option<String> {
        let field = &form.fields[index];
        let value = field.value();
        if field.name.is_empty() {
            return validate_stack_name(value.trim()).err();
        }
        // A blank secret on an update keeps the stack's value.
        if field.kind == FieldKind::Secret && value.is_empty() && keeps(self.target, &field.name) {
            return None;
        }
        self.template
            .parameter(&field.name)
            .and_then(|spec| spec.validate(&value).err())
    }
}

/// The stack has this parameter now (so leaving it unchanged keeps it).
fn keeps(target: &DeployTarget, name: &str) -> bool {
    match target {
        DeployTarget::Update { existing_keys, .. } => existing_keys.iter().any(|k| k == name),
        DeployTarget::New => false,
    }
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
        let locked = matches!(target, DeployTarget::Update { .. });
        let mut fields = vec![FormField {
            description: Some(
                "Letters, digits and hyphens, starting with a letter; at most 128 characters."
                    .into(),
            ),
            group: "Stack".into(),
            tag: locked.then(|| "  (fixed: this stack is updated)".to_string()),
            locked,
            ..FormField::text("", "Stack name", stack_name)
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
            form: Form::new(fields),
            judging: false,
            current_template: None,
        }
    }

    /// Start the choice field `name` at `value`, when that is one of its choices.
    pub fn preselect(&mut self, name: &str, value: &str) {
        for field in self.form.fields.iter_mut().filter(|f| f.name == name) {
            field.select(value);
        }
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

    /// A key, as every form handles it, with the template's rules.
    pub fn on_key(&mut self, key: KeyEvent) -> FormEvent {
        let rules = DeployRules {
            template: &self.template,
            target: &self.target,
        };
        self.form.on_key(key, &rules)
    }

    /// The stack has this parameter now (so leaving it unchanged keeps it).
    pub fn keeps(&self, name: &str) -> bool {
        keeps(&self.target, name)
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
            .filter(|f| !f.name.is_empty() && f.kind != FieldKind::Secret)
            .map(|f| (f.name.clone(), f.value()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// The stack's current parameter values (updates; NoEcho ones are not known).
    pub fn current_parameters(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .filter(|f| !f.name.is_empty())
            .filter_map(|f| f.current.clone().map(|v| (f.name.clone(), v)))
            .collect()
    }

    pub fn given(&self) -> BTreeMap<String, String> {
        let mut given = BTreeMap::new();
        for field in self.fields.iter().filter(|f| !f.name.is_empty()) {
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
        description: spec.description.clone(),
        tag: Some(format!("  {} · {}", spec.name, spec.kind)),
        group: group.to_string(),
        input: LineInput::with_text(&text),
        choice,
        note: (spec.no_echo && kept).then(|| "blank keeps the current value".to_string()),
        current,
        ..FormField::text(
            &spec.name,
            &spec.label.clone().unwrap_or_else(|| spec.name.clone()),
            "",
        )
    }
}
