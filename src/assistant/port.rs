//! The model as the assistant sees it: one call that streams an answer. The Bedrock provider
//! (`bedrock/`) and the offline parser (`offline.rs`) implement it; tests script it.

use super::model::{Block, Message, StopReason, Usage};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A tool as the model is told about it (from the registry, see `tools.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// A JSON schema of type object.
    pub schema: Value,
}

/// One call to the model.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    pub system: String,
    /// Well formed (see `model::well_formed`).
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
    pub temperature: f32,
}

/// What the model answered, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReply {
    pub blocks: Vec<Block>,
    pub stop: StopReason,
    pub usage: Usage,
}

/// Where the text of an answer goes while it arrives.
pub trait Sink: Send + Sync {
    /// A piece of the answer's text. Waits while whoever shows it is behind.
    fn text<'a>(&'a self, delta: &'a str) -> BoxFuture<'a, ()>;
    /// A line about the call itself ("Bedrock is throttling; trying again in 2s").
    fn note<'a>(&'a self, note: &'a str) -> BoxFuture<'a, ()>;
}

/// Why a model call gave no (whole) answer. Each says what happened as a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The service is limiting requests (HTTP 429, ThrottlingException): try again later.
    #[error("Bedrock is throttling requests ({0})")]
    Throttled(String),
    /// The service or model failed or is not ready (5xx, ModelNotReady, ModelTimeout).
    #[error("the model service is unavailable ({0})")]
    Unavailable(String),
    /// The endpoint could not be reached at all.
    #[error("Bedrock could not be reached ({0})")]
    Unreachable(String),
    /// The request was refused: credentials, access, an unknown model, a bad request.
    #[error("Bedrock refused the request ({0})")]
    Refused(String),
    /// The answer broke off after it had started (a `modelStreamErrorException`, a dropped
    /// connection): what arrived was shown.
    #[error("the answer was cut off ({0})")]
    CutOff(String),
    #[error("stopped")]
    Cancelled,
}

impl ModelError {
    /// Worth another try after a pause, when nothing of the answer has arrived yet.
    pub fn retryable(&self) -> bool {
        matches!(self, ModelError::Throttled(_) | ModelError::Unavailable(_))
    }

    /// No model answers here (not reachable, not allowed): the offline parser may.
    pub fn no_model(&self) -> bool {
        matches!(self, ModelError::Unreachable(_) | ModelError::Refused(_))
    }
}

pub trait ModelApi: Send + Sync {
    /// The model's id as priced and shown ("offline" for the parser).
    fn model_id(&self) -> &str;

    /// Ask the model; its text goes to `sink` as it arrives. Ends with the whole reply, or
    /// the error; stops at once when `cancel` fires.
    fn converse<'a>(
        &'a self,
        request: &'a ModelRequest,
        sink: &'a dyn Sink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>>;
}
