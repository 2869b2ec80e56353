//! The conversation as opsdeck keeps it: messages of text, tool calls and tool results,
//! independent of any provider's types (the Bedrock provider converts them at its edge), so
//! the offline parser, the stub tests and the persisted history share one shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Text(String),
    /// The model asks for a tool (an operation of the registry) with these arguments.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// What the tool answered, as text for the model (data from outside is delimited).
    ToolResult {
        id: String,
        text: String,
        ok: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub blocks: Vec<Block>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            blocks: vec![Block::Text(text.into())],
        }
    }

    pub fn assistant(text: impl Into<String>) -> Message {
        Message {
            role: Role::Assistant,
            blocks: vec![Block::Text(text.into())],
        }
    }

    /// The message's text blocks, joined.
    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("")
    }

    pub fn tool_uses(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.blocks.iter().filter_map(|b| match b {
            Block::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }

    fn result_ids(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::ToolResult { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    /// Anything else the service said (guardrail, content filter, context window…).
    Other,
}

/// Tokens one model call (or a sum of them) used, from the stream's `metadata.usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }

    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

/// The messages as a model service accepts them: the first from the user, roles
/// alternating, every tool call answered by a result in the next message, and no result
/// without its call. A conversation cut short (a stopped answer, a failed call) is repaired
/// here rather than refused by the service.
pub fn well_formed(messages: &[Message]) -> Vec<Message> {
    // Merge neighbours of one role, dropping empty messages.
    let mut merged: Vec<Message> = Vec::new();
    for m in messages.iter().filter(|m| !m.blocks.is_empty()) {
        match merged.last_mut() {
            Some(last) if last.role == m.role => last.blocks.extend(m.blocks.iter().cloned()),
            _ => merged.push(m.clone()),
        }
    }
    while merged.first().is_some_and(|m| m.role != Role::User) {
        merged.remove(0);
    }
    // Keep a call only when the next message answers it, and a result only after its call.
    let mut out: Vec<Message> = Vec::with_capacity(merged.len());
    for i in 0..merged.len() {
        let mut m = merged[i].clone();
        match m.role {
            Role::Assistant => {
                let answered: Vec<String> = merged
                    .get(i + 1)
                    .map(|next| next.result_ids().into_iter().map(String::from).collect())
                    .unwrap_or_default();
                m.blocks.retain(|b| match b {
                    Block::ToolUse { id, .. } => answered.contains(id),
                    _ => true,
                });
            }
            Role::User => {
                let called: Vec<String> = out
                    .last()
                    .filter(|prev| prev.role == Role::Assistant)
                    .map(|prev| prev.tool_uses().map(|(id, _, _)| id.to_string()).collect())
                    .unwrap_or_default();
                m.blocks.retain(|b| match b {
                    Block::ToolResult { id, .. } => called.contains(id),
                    _ => true,
                });
            }
        }
        if m.blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == m.role => last.blocks.extend(m.blocks),
            _ => out.push(m),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str) -> Block {
        Block::ToolUse {
            id: id.into(),
            name: "list-stacks".into(),
            input: json!({}),
        }
    }

    fn result(id: &str) -> Block {
        Block::ToolResult {
            id: id.into(),
            text: "[]".into(),
            ok: true,
        }
    }

    #[test]
    fn a_cut_conversation_is_repaired_into_one_a_service_accepts() {
        let messages = vec![
            Message::assistant("left over"),
            Message::user("list stacks"),
            Message::user("please"),
            Message {
                role: Role::Assistant,
                blocks: vec![Block::Text("Listing".into()), call("t1"), call("t2")],
            },
            Message {
                role: Role::User,
                blocks: vec![result("t1"), result("t9")],
            },
            Message {
                role: Role::Assistant,
                blocks: vec![call("t3")],
            },
            Message::user("stop"),
        ];
        let fixed = well_formed(&messages);
        let roles: Vec<Role> = fixed.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![Role::User, Role::Assistant, Role::User],
            "{fixed:#?}"
        );
        assert_eq!(fixed[0].text(), "list stacksplease");
        assert_eq!(
            fixed[1]
                .tool_uses()
                .map(|(id, _, _)| id)
                .collect::<Vec<_>>(),
            vec!["t1"],
            "a call without a result goes"
        );
        assert_eq!(
            fixed[2].result_ids(),
            vec!["t1"],
            "a result without its call goes"
        );
        assert_eq!(fixed[2].text(), "stop");
    }
}
