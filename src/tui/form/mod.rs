//! A generated form: fields made from a spec (a CloudFormation template's parameters, an
//! installer's inputs), edited in place, checked as the person types, with errors under their
//! fields. The capability that opens a form decides what a value must be ([`FormRules`]) and
//! what sending does; this widget only edits, checks and shows. [`view::render`] draws it.

pub mod view;

use crate::registry::{self, Action, Context};
use crate::tui::input::LineInput;
use crate::tui::shell::ShellAction;
use crossterm::event::KeyEvent;

/// How a field takes its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Typed text.
    Text,
    /// One of these choices: cycled with ←/→/Space, never typed.
    Select(Vec<String>),
    /// Typed, drawn as `•`, never shown back.
    Secret,
}

/// One field.
#[derive(Debug, Clone)]
pub struct Field {
    pub kind: FieldKind,
    /// What the capability knows the field by (a parameter key, an input name).
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    /// Shown muted after the label (`  Key · Type`).
    pub tag: Option<String>,
    /// A heading is drawn where the group changes.
    pub group: String,
    pub input: LineInput,
    /// Index into the choices of a `Select`.
    pub choice: usize,
    pub error: Option<String>,
    /// The value it has now (an update's current value): shown while it differs.
    pub current: Option<String>,
    /// A muted line under the value (`blank keeps the current value`).
    pub note: Option<String>,
    /// Shown but not editable.
    pub locked: bool,
    /// Not shown, not focusable (an input whose `visible_if` does not hold).
    pub hidden: bool,
}

impl Field {
    /// A text field with the given name, label and starting text.
    pub fn text(name: &str, label: &str, text: &str) -> Field {
        Field {
            kind: FieldKind::Text,
            name: name.to_string(),
            label: label.to_string(),
            description: None,
            tag: None,
            group: String::new(),
            input: LineInput::with_text(text),
            choice: 0,
            error: None,
            current: None,
            note: None,
            locked: false,
            hidden: false,
        }
    }

    pub fn value(&self) -> String {
        match &self.kind {
            FieldKind::Select(choices) => choices.get(self.choice).cloned().unwrap_or_default(),
            _ => self.input.text().to_string(),
        }
    }

    /// Make a select start at `value`, when it is one of its choices.
    pub fn select(&mut self, value: &str) {
        if let FieldKind::Select(choices) = &self.kind
            && let Some(i) = choices.iter().position(|c| c == value)
        {
            self.choice = i;
        }
    }
}

/// What a value must be, and which fields show: decided by the capability that opened the
/// form.
pub trait FormRules {
    /// Why the value of field `index` is refused, as it stands; `None` when it is fine.
    fn check(&self, form: &Form, index: usize) -> Option<String>;

    /// Recompute what depends on the values (which fields are hidden); called after every
    /// change.
    fn refresh(&self, _form: &mut Form) {}
}

/// The fields, the focused one, and a refusal that belongs to no single field.
#[derive(Debug, Clone)]
pub struct Form {
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
}

/// What a key did to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    /// Still editing.
    Stay,
    /// Send it (Ctrl-S, or Enter on the last field).
    Submit,
    /// Leave it; nothing was sent.
    Close,
}

impl Form {
    /// A form over `fields`, focus on the first field that can take it.
    pub fn new(fields: Vec<Field>) -> Form {
        let mut form = Form {
            fields,
            focus: 0,
            error: None,
        };
        let first = form.editable().next();
        form.focus = first.unwrap_or(0);
        form
    }

    /// Indices of the fields focus can land on.
    fn editable(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.locked && !f.hidden)
            .map(|(i, _)| i)
    }

    pub fn focused(&self) -> &Field {
        &self.fields[self.focus]
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
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

    /// Focus stays on a field that can take it (after fields were hidden).
    fn settle_focus(&mut self) {
        let f = &self.fields[self.focus];
        if f.hidden || f.locked {
            let at = self.focus;
            let before = self.editable().rfind(|&i| i < at);
            let first = self.editable().next();
            self.focus = before.or(first).unwrap_or(0);
        }
    }

    /// Cycle a select's choice; other fields ignore it.
    pub fn cycle(&mut self, forward: bool, rules: &dyn FormRules) -> bool {
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
        self.changed(rules);
        true
    }

    /// An editing key for the focused text field.
    pub fn edit(&mut self, key: KeyEvent, rules: &dyn FormRules) {
        let field = &mut self.fields[self.focus];
        if field.locked || matches!(field.kind, FieldKind::Select(_)) {
            return;
        }
        if field.input.handle(key) {
            self.error = None;
            self.changed(rules);
        }
    }

    /// The focused field changed: check it (so the message sits under it as the person
    /// types) and recompute what depends on it.
    fn changed(&mut self, rules: &dyn FormRules) {
        let i = self.focus;
        self.fields[i].error = rules.check(self, i);
        rules.refresh(self);
        self.settle_focus();
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

    /// Handle a key the way every form does (the keys are the registry's `Form` and
    /// `FormSelect` contexts).
    pub fn on_key(&mut self, key: KeyEvent, rules: &dyn FormRules) -> FormEvent {
        let mut contexts = Vec::with_capacity(2);
        if matches!(self.focused().kind, FieldKind::Select(_)) {
            contexts.push(Context::FormSelect);
        }
        contexts.push(Context::Form);
        match registry::lookup(&contexts, &key) {
            Some(Action::Shell(ShellAction::FormNext)) => self.next(),
            Some(Action::Shell(ShellAction::FormPrev)) => self.prev(),
            Some(Action::Shell(ShellAction::ChoiceNext)) => {
                self.cycle(true, rules);
            }
            Some(Action::Shell(ShellAction::ChoicePrev)) => {
                self.cycle(false, rules);
            }
            Some(Action::Shell(ShellAction::FormEnter)) if self.is_last() => {
                return FormEvent::Submit;
            }
            Some(Action::Shell(ShellAction::FormEnter)) => self.next(),
            Some(Action::Shell(ShellAction::FormSubmit)) => return FormEvent::Submit,
            Some(Action::Shell(ShellAction::FormClose)) => return FormEvent::Close,
            _ => self.edit(key, rules),
        }
        FormEvent::Stay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    struct NoEmpty;

    impl FormRules for NoEmpty {
        fn check(&self, form: &Form, index: usize) -> Option<String> {
            form.fields[index]
                .value()
                .is_empty()
                .then(|| "needs a value".to_string())
        }

        /// `b` shows only while `a` is "yes".
        fn refresh(&self, form: &mut Form) {
            let show = form.field("a").is_some_and(|f| f.value() == "yes");
            if let Some(b) = form.fields.iter_mut().find(|f| f.name == "b") {
                b.hidden = !show;
            }
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn hidden_fields_take_no_focus_and_appear_when_their_condition_holds() {
        let mut b = Field::text("b", "B", "");
        b.hidden = true;
        let mut form = Form::new(vec![
            Field::text("a", "A", ""),
            b,
            Field::text("c", "C", ""),
        ]);
        assert_eq!(form.focus, 0);
        form.next();
        assert_eq!(form.focused().name, "c", "b is hidden");
        form.prev();
        for c in "yes".chars() {
            assert_eq!(
                form.on_key(key(KeyCode::Char(c)), &NoEmpty),
                FormEvent::Stay
            );
        }
        assert!(!form.fields[1].hidden, "b shows once a is yes");
        form.next();
        assert_eq!(form.focused().name, "b");
        // erasing a hides b again, and focus leaves it
        form.focus_field("a");
        form.on_key(
            KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL),
            &NoEmpty,
        );
        assert_eq!(form.fields[0].error.as_deref(), Some("needs a value"));
        assert!(form.fields[1].hidden);
        assert_eq!(form.on_key(key(KeyCode::Esc), &NoEmpty), FormEvent::Close);
        form.focus_field("c");
        assert_eq!(
            form.on_key(key(KeyCode::Enter), &NoEmpty),
            FormEvent::Submit
        );
    }
}
