//! An installer's form: the shell's generated form (`tui::form`) with one field per manifest
//! input, checked by the manifest's own rules as the person types; inputs whose `visible_if`
//! does not hold are hidden (and neither validated nor passed).

use crate::installers::catalog::Installer;
use crate::installers::manifest::{Input, InputProblem, InputType, InputValue, Manifest};
use crate::tui::form::{Field, FieldKind, Form, FormEvent, FormRules};
use crate::tui::input::LineInput;
use crossterm::event::KeyEvent;
use std::collections::BTreeMap;

pub struct InstallForm {
    pub installer: Installer,
    pub form: Form,
}

/// The manifest's rules, as a form's.
struct ManifestRules<'a>(&'a Manifest);

impl ManifestRules<'_> {
    fn values(form: &Form) -> BTreeMap<String, String> {
        form.fields
            .iter()
            .map(|f| (f.name.clone(), f.value()))
            .collect()
    }
}

impl FormRules for ManifestRules<'_> {
    fn check(&self, form: &Form, index: usize) -> Option<String> {
        let field = &form.fields[index];
        let input = self.0.input(&field.name)?;
        let value = field.value();
        if value.is_empty() {
            return input
                .required
                .then(|| format!("{} is required", input.label));
        }
        input.check(&value).err()
    }

    fn refresh(&self, form: &mut Form) {
        let visible = self.0.visibility(&Self::values(form));
        for (field, shown) in form.fields.iter_mut().zip(visible) {
            field.hidden = !shown;
        }
    }
}

fn field_for(input: &Input) -> Field {
    let default = input.default.clone().unwrap_or_default();
    let (kind, text) = match input.kind {
        InputType::Boolean => (
            FieldKind::Select(vec!["false".into(), "true".into()]),
            String::new(),
        ),
        InputType::Select => {
            let mut choices = input.validation.allowed_values.clone();
            if !input.required && input.default.is_none() {
                choices.insert(0, String::new());
            }
            (FieldKind::Select(choices), String::new())
        }
        _ if input.sensitive => (FieldKind::Secret, String::new()),
        _ => (FieldKind::Text, default.clone()),
    };
    let mut tag = format!("  {} · {}", input.name, input.kind.as_str());
    if input.required {
        tag.push_str(" · required");
    }
    if input.sensitive {
        tag.push_str(" · sensitive");
    }
    let mut field = Field {
        kind,
        description: input.description.clone(),
        tag: Some(tag),
        group: "Inputs".into(),
        input: LineInput::with_text(&text),
        ..Field::text(&input.name, &input.label, "")
    };
    field.select(&default);
    field
}

impl InstallForm {
    pub fn new(installer: Installer) -> InstallForm {
        let fields = installer.manifest.inputs.iter().map(field_for).collect();
        let mut form = Form::new(fields);
        ManifestRules(&installer.manifest).refresh(&mut form);
        let first = form.fields.iter().position(|f| !f.hidden).unwrap_or(0);
        form.focus = first;
        InstallForm { installer, form }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> FormEvent {
        let rules = ManifestRules(&self.installer.manifest);
        self.form.on_key(key, &rules)
    }

    /// The values as typed, by input name (hidden ones included; `resolve` drops them).
    pub fn given(&self) -> BTreeMap<String, String> {
        self.form
            .fields
            .iter()
            .filter(|f| !f.value().is_empty())
            .map(|f| (f.name.clone(), f.value()))
            .collect()
    }

    /// Check every visible value; on refusal, the errors go under their fields.
    pub fn resolve(&mut self) -> Result<Vec<InputValue>, Vec<InputProblem>> {
        let result = self.installer.manifest.resolve(&self.given());
        match &result {
            Ok(_) => self.form.show_errors(&[]),
            Err(problems) => {
                let errors: Vec<(String, String)> = problems
                    .iter()
                    .map(|p| (p.name.clone(), p.message.clone()))
                    .collect();
                self.form.show_errors(&errors);
                self.form.error = Some(format!(
                    "{} field(s) need attention (marked ✗)",
                    problems.len()
                ));
            }
        }
        result
    }
}
