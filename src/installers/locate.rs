//! Lines of keys in a manifest's YAML text, so a check made after parsing (a pattern that does
//! not compile, a default that breaks its own rule) can name the line it is about.
//!
//! A small scanner over block-style YAML, which is what manifests are written in: each
//! `key:` line and each `- ` list item gets a path (`inputs[2].validation.pattern`). A key
//! inside flow style (`{a: 1}`) is not found; [`Lines::line`] then falls back to the nearest
//! enclosing key that was, so an error always names a line.

use std::collections::HashMap;

/// Key path → 1-based line of its first appearance.
#[derive(Debug, Default)]
pub struct Lines {
    lines: HashMap<String, usize>,
}

struct Open {
    /// Column of the key (or of the item's content, for a list item).
    indent: usize,
    path: String,
    /// A key whose value is on the following lines (a nested mapping or a list).
    open: bool,
}

impl Lines {
    pub fn scan(text: &str) -> Lines {
        let mut lines = HashMap::new();
        let mut stack: Vec<Open> = Vec::new();
        let mut items: HashMap<String, usize> = HashMap::new();
        for (number, raw) in text.lines().enumerate() {
            let number = number + 1;
            let content = raw.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let mut indent = raw.len() - content.len();
            let mut rest = content;
            // `- ` starts a list item under the nearest open key at or left of the dash.
            while let Some(after) = rest
                .strip_prefix('-')
                .filter(|a| a.is_empty() || a.starts_with(' '))
            {
                while stack
                    .last()
                    .is_some_and(|o| o.indent > indent || (o.indent == indent && !o.open))
                {
                    stack.pop();
                }
                let parent = stack.last().map(|o| o.path.clone()).unwrap_or_default();
                let index = items.entry(parent.clone()).or_insert(0);
                let path = format!("{parent}[{index}]");
                *index += 1;
                lines.entry(path.clone()).or_insert(number);
                let trimmed = after.trim_start_matches(' ');
                let item_indent = indent + 1 + (after.len() - trimmed.len());
                stack.push(Open {
                    indent: indent + 1,
                    path,
                    open: true,
                });
                indent = item_indent;
                rest = trimmed;
            }
            let Some((key, value)) = split_key(rest) else {
                continue;
            };
            while stack.last().is_some_and(|o| o.indent >= indent) {
                stack.pop();
            }
            let parent = stack.last().map(|o| o.path.as_str()).unwrap_or_default();
            let path = if parent.is_empty() {
                key.to_string()
            } else {
                format!("{parent}.{key}")
            };
            lines.entry(path.clone()).or_insert(number);
            let value = value.trim();
            stack.push(Open {
                indent,
                path,
                open: value.is_empty() || value.starts_with('#'),
            });
        }
        Lines { lines }
    }

    /// The line of `path`, or of the nearest enclosing key that has one.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// `key: value` → (`key`, `value`); plain or quoted keys only.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let (key, value) =
        if let Some(quoted) = text.strip_prefix('"').or_else(|| text.strip_prefix('\'')) {
            let quote = if text.starts_with('"') { '"' } else { '\'' };
            let end = quoted.find(quote)?;
            let after = &quoted[end + 1..];
            let value = after.strip_prefix(':')?;
            (&quoted[..end], value)
        } else {
            let colon = text.find(':')?;
            let key = &text[..colon];
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                return None;
            }
            (key, &text[colon + 1..])
        };
    if !(value.is_empty() || value.starts_with(' ')) {
        return None;
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_nested_keys_and_list_items() {
        let text = "\
id: nginx
os_requirements:
  family: [debian]
inputs:
  - name: port
    type: port
    validation:
      min_value: 1
  -   name: tls
      type: boolean
tags:
- web
- proxy
";
        let lines = Lines::scan(text);
        assert_eq!(lines.line("id"), Some(1));
        assert_eq!(lines.line("os_requirements.family"), Some(3));
        assert_eq!(lines.line("inputs[0]"), Some(5));
        assert_eq!(lines.line("inputs[0].name"), Some(5));
        assert_eq!(lines.line("inputs[0].validation.min_value"), Some(8));
        assert_eq!(lines.line("inputs[1].type"), Some(10));
        assert_eq!(lines.line("tags[1]"), Some(13));
        // not found: the nearest enclosing key
        assert_eq!(lines.line("os_requirements.family[0]"), Some(3));
        assert_eq!(lines.line("inputs[0].validation.pattern"), Some(7));
        assert_eq!(lines.line("nothing"), None);
    }
}
