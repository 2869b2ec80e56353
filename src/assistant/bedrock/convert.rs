//! opsdeck's conversation ↔ the Bedrock SDK's types. The SDK has no serde for `Document`, so
//! JSON is converted by hand.

use crate::assistant::model::{Block, Message, Role, StopReason};
use crate::assistant::port::{ModelError, ToolSpec};
use aws_sdk_bedrockruntime::types as bt;
use aws_smithy_types::{Document, Number};
use serde_json::Value;

pub fn json_to_doc(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(json_to_doc).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), json_to_doc(v))).collect())
        }
    }
}

pub fn doc_to_json(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::String(s) => Value::String(s.clone()),
        Document::Number(Number::PosInt(u)) => (*u).into(),
        Document::Number(Number::NegInt(i)) => (*i).into(),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::Array(a) => Value::Array(a.iter().map(doc_to_json).collect()),
        Document::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), doc_to_json(v))).collect())
        }
    }
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, ModelError> {
    r.map_err(|e| ModelError::Refused(format!("the request could not be built: {e}")))
}

pub fn messages(messages: &[Message]) -> Result<Vec<bt::Message>, ModelError> {
    messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => bt::ConversationRole::User,
                Role::Assistant => bt::ConversationRole::Assistant,
            };
            let mut content = Vec::new();
            for b in &m.blocks {
                content.push(match b {
                    // Bedrock refuses empty text blocks.
                    Block::Text(t) if t.trim().is_empty() => continue,
                    Block::Text(t) => bt::ContentBlock::Text(t.clone()),
                    Block::ToolUse { id, name, input } => bt::ContentBlock::ToolUse(built(
                        bt::ToolUseBlock::builder()
                            .tool_use_id(id)
                            .name(name)
                            .input(json_to_doc(input))
                            .build(),
                    )?),
                    Block::ToolResult { id, text, ok } => bt::ContentBlock::ToolResult(built(
                        bt::ToolResultBlock::builder()
                            .tool_use_id(id)
                            .content(bt::ToolResultContentBlock::Text(text.clone()))
                            .status(if *ok {
                                bt::ToolResultStatus::Success
                            } else {
                                bt::ToolResultStatus::Error
                            })
                            .build(),
                    )?),
                });
            }
            if content.is_empty() {
                content.push(bt::ContentBlock::Text("(no text)".into()));
            }
            built(
                bt::Message::builder()
                    .role(role)
                    .set_content(Some(content))
                    .build(),
            )
        })
        .collect()
}

pub fn tools(tools: &[ToolSpec]) -> Result<Option<bt::ToolConfiguration>, ModelError> {
    if tools.is_empty() {
        return Ok(None);
    }
    let specs = tools
        .iter()
        .map(|t| {
            built(
                bt::ToolSpecification::builder()
                    .name(&t.name)
                    .description(&t.description)
                    .input_schema(bt::ToolInputSchema::Json(json_to_doc(&t.schema)))
                    .build(),
            )
            .map(bt::Tool::ToolSpec)
        })
        .collect::<Result<Vec<_>, _>>()?;
    built(
        bt::ToolConfiguration::builder()
            .set_tools(Some(specs))
            .tool_choice(bt::ToolChoice::Auto(bt::AutoToolChoice::builder().build()))
            .build(),
    )
    .map(Some)
}

pub fn stop_reason(s: &bt::StopReason) -> StopReason {
    match s.as_str() {
        "end_turn" | "stop_sequence" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        _ => StopReason::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_survives_the_round_trip_through_documents() {
        let v = json!({"a": [1, -2, 2.5, "x", null, true], "b": {"c": {}}});
        assert_eq!(doc_to_json(&json_to_doc(&v)), v);
    }
}
