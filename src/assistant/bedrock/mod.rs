//! Claude on Amazon Bedrock: ConverseStream through `aws-sdk-bedrockruntime`, with the same
//! credential chain as every other client, or a Bedrock API key (bearer auth) from the
//! keyring or `AWS_BEARER_TOKEN_BEDROCK`. The only code that talks to Bedrock.
//!
//! Where the calls go: `[assistant] endpoint_url`, else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`
//! (even when `--endpoint-url` or `AWS_ENDPOINT_URL` point the other clients elsewhere), else
//! the session's endpoint, else AWS's own for the region.

mod convert;

use super::port::{ModelApi, ModelError, ModelReply, ModelRequest, Sink};
use super::secret::ApiKey;
use crate::assistant::model::{Block, StopReason, Usage};
use crate::aws::AwsSettings;
use crate::config::settings::AssistantSettings;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput as Event, InferenceConfiguration,
    SystemContentBlock, error::ConverseStreamOutputError,
};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use convert::{doc_to_json, json_to_doc};

/// Longest silence in the middle of an answer before it counts as cut off. ConverseStream has
/// no stalled-stream protection of its own.
const IDLE_LIMIT: Duration = Duration::from_secs(90);

pub struct BedrockModel {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
    /// `ConverseStream to http://127.0.0.1:8080 (us-east-1)`, for error sentences.
    site: String,
    call_timeout: Duration,
}

/// Where Bedrock calls go, as said in errors.
fn site(endpoint: Option<&str>, region: Option<&str>) -> String {
    let region = region.unwrap_or("no region configured");
    match endpoint {
        Some(url) => format!("ConverseStream to {url} ({region})"),
        None => format!("ConverseStream to Bedrock in {region}"),
    }
}

impl BedrockModel {
    /// Build the client: the SDK configuration every client uses (credentials, retries off,
    /// per-call timeout), Bedrock's own region and endpoint, and the API key when there is one.
    pub async fn connect(
        aws: &AwsSettings,
        settings: &AssistantSettings,
        key: Option<ApiKey>,
    ) -> Result<BedrockModel, String> {
        let model_id = settings
            .model_id
            .clone()
            .ok_or_else(|| "no model is configured ([assistant] model_id)".to_string())?;
        let sdk = crate::aws::sdk_config(aws).await;
        let mut builder = aws_sdk_bedrockruntime::config::Builder::from(&sdk);
        if let Some(region) = &settings.region {
            builder = builder.region(aws_sdk_bedrockruntime::config::Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        if let Some(key) = key {
            builder = builder
                .bearer_token(aws_sdk_bedrockruntime::config::Token::new(
                    key.expose(),
                    None,
                ))
                .auth_scheme_preference([
                    aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID,
                ]);
        }
        let config = builder.build();
        let region = config.region().map(|r| r.to_string());
        let endpoint = settings
            .endpoint_url
            .clone()
            .or_else(|| aws.endpoint_url.clone());
        Ok(BedrockModel {
            client: aws_sdk_bedrockruntime::Client::from_conf(config),
            model_id,
            site: site(endpoint.as_deref(), region.as_deref()),
            call_timeout: aws.call_timeout,
        })
    }

    /// A service's message, masked and made safe for a terminal.
    fn said(&self, code: Option<&str>, message: Option<&str>, fallback: &str) -> String {
        let clean = |t: &str| crate::aws::clean(Some(&crate::redact::redact(t)));
        let message = message.map(clean).filter(|m| !m.is_empty());
        match (code.map(clean), message) {
            (Some(c), Some(m)) => format!("{}: {c}: {m}", self.site),
            (Some(c), None) => format!("{}: {c}", self.site),
            (None, Some(m)) => format!("{}: {m}", self.site),
            (None, None) => format!("{}: {fallback}", self.site),
        }
    }

    /// An error from sending the request (before any of the answer).
    fn send_error<E>(
        &self,
        err: SdkError<E, aws_sdk_bedrockruntime::config::http::HttpResponse>,
    ) -> ModelError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        tracing::debug!(
            error = %aws_sdk_bedrockruntime::error::DisplayErrorContext(&err),
            "ConverseStream failed"
        );
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::TimeoutError(_) => ModelError::Unreachable(format!(
                "{}: no answer within {}",
                self.site,
                crate::engine::retry::human(self.call_timeout)
            )),
            SdkError::DispatchFailure(d) => {
                let why = if d.is_timeout() {
                    "the connection timed out"
                } else if d.is_io() {
                    "the connection failed (refused, reset or no route)"
                } else {
                    "the request could not be sent"
                };
                ModelError::Unreachable(format!("{}: {why}", self.site))
            }
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                let code = err.code();
                let text = self.said(
                    code,
                    err.message(),
                    &format!("HTTP {}", status.unwrap_or(0)),
                );
                match (code, status) {
                    (Some("ThrottlingException" | "ServiceQuotaExceededException"), _)
                    | (_, Some(429)) => ModelError::Throttled(text),
                    (
                        Some(
                            "ServiceUnavailableException"
                            | "InternalServerException"
                            | "ModelNotReadyException"
                            | "ModelTimeoutException"
                            | "ModelErrorException"
                            | "ModelStreamErrorException",
                        ),
                        _,
                    ) => ModelError::Unavailable(text),
                    (_, Some(s)) if s >= 500 => ModelError::Unavailable(text),
                    _ => ModelError::Refused(text),
                }
            }
            _ => {
                let detail = crate::aws::clean(Some(&crate::redact::redact(
                    &aws_sdk_bedrockruntime::error::DisplayErrorContext(&err).to_string(),
                )));
                let lower = detail.to_ascii_lowercase();
                if lower.contains("credential") || lower.contains("token") {
                    ModelError::Refused(format!(
                        "{}: no usable credentials (AWS credentials, or a Bedrock API key: `opsdeck secret set bedrock-api-key` or AWS_BEARER_TOKEN_BEDROCK)",
                        self.site
                    ))
                } else {
                    ModelError::Refused(format!(
                        "{}: the request could not be built: {}",
                        self.site,
                        detail.lines().next().unwrap_or_default()
                    ))
                }
            }
        }
    }

    /// An error in the middle of the stream; `answered` when text already reached the screen.
    fn stream_error(
        &self,
        err: SdkError<ConverseStreamOutputError, aws_smithy_types::event_stream::RawMessage>,
        answered: bool,
    ) -> ModelError {
        // Exceptions inside the stream carry their name in a frame header, not in the error's
        // metadata: name them by variant.
        let named = match err.as_service_error() {
            Some(ConverseStreamOutputError::ModelStreamErrorException(_)) => {
                Some("modelStreamErrorException")
            }
            Some(ConverseStreamOutputError::ThrottlingException(_)) => Some("throttlingException"),
            Some(ConverseStreamOutputError::ValidationException(_)) => Some("validationException"),
            Some(ConverseStreamOutputError::InternalServerException(_)) => {
                Some("internalServerException")
            }
            Some(ConverseStreamOutputError::ServiceUnavailableException(_)) => {
                Some("serviceUnavailableException")
            }
            _ => None,
        };
        let text = self.said(err.code().or(named), err.message(), "the stream broke off");
        let broke = |text: String| {
            if answered {
                ModelError::CutOff(text)
            } else {
                ModelError::Unavailable(text)
            }
        };
        match err.as_service_error() {
            Some(ConverseStreamOutputError::ThrottlingException(_)) if !answered => {
                ModelError::Throttled(text)
            }
            Some(ConverseStreamOutputError::ValidationException(_)) => ModelError::Refused(text),
            _ => broke(text),
        }
    }
}

/// A block being received, by its index.
enum Building {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

impl ModelApi for BedrockModel {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn converse<'a>(
        &'a self,
        request: &'a ModelRequest,
        sink: &'a dyn Sink,
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelReply, ModelError>> {
        Box::pin(async move {
            let mut call = self
                .client
                .converse_stream()
                .model_id(&self.model_id)
                .set_messages(Some(convert::messages(&request.messages)?))
                .system(SystemContentBlock::Text(request.system.clone()))
                .inference_config(
                    InferenceConfiguration::builder()
                        .max_tokens(i32::try_from(request.max_tokens).unwrap_or(i32::MAX))
                        .temperature(request.temperature)
                        .build(),
                );
            if let Some(tools) = convert::tools(&request.tools)? {
                call = call.tool_config(tools);
            }
            let mut out = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ModelError::Cancelled),
                sent = tokio::time::timeout(self.call_timeout, call.send()) => match sent {
                    Ok(Ok(out)) => out,
                    Ok(Err(e)) => return Err(self.send_error(e)),
                    Err(_) => return Err(ModelError::Unreachable(format!(
                        "{}: no answer within {}",
                        self.site,
                        crate::engine::retry::human(self.call_timeout)
                    ))),
                },
            };
            let mut blocks: BTreeMap<i32, Building> = BTreeMap::new();
            let mut stop = StopReason::EndTurn;
            let mut usage = Usage::default();
            let mut answered = false;
            loop {
                let event = tokio::select! {
                    biased;
                    // Dropping the stream closes the connection: the service stops too.
                    _ = cancel.cancelled() => return Err(ModelError::Cancelled),
                    r = tokio::time::timeout(IDLE_LIMIT, out.stream.recv()) => match r {
                        Err(_) => {
                            let text = format!(
                                "{}: nothing arrived for {}",
                                self.site,
                                crate::engine::retry::human(IDLE_LIMIT)
                            );
                            return Err(if answered { ModelError::CutOff(text) } else { ModelError::Unavailable(text) });
                        }
                        Ok(Err(e)) => return Err(self.stream_error(e, answered)),
                        Ok(Ok(None)) => break,
                        Ok(Ok(Some(event))) => event,
                    },
                };
                match event {
                    Event::ContentBlockStart(s) => {
                        if let Some(ContentBlockStart::ToolUse(t)) = s.start() {
                            blocks.insert(
                                s.content_block_index(),
                                Building::Tool {
                                    id: t.tool_use_id().to_string(),
                                    name: t.name().to_string(),
                                    json: String::new(),
                                },
                            );
                        }
                    }
                    Event::ContentBlockDelta(d) => match d.delta() {
                        Some(ContentBlockDelta::Text(t)) => {
                            let entry = blocks
                                .entry(d.content_block_index())
                                .or_insert_with(|| Building::Text(String::new()));
                            if let Building::Text(text) = entry {
                                text.push_str(t);
                                answered = true;
                                sink.text(t).await;
                            }
                        }
                        Some(ContentBlockDelta::ToolUse(u)) => {
                            if let Some(Building::Tool { json, .. }) =
                                blocks.get_mut(&d.content_block_index())
                            {
                                json.push_str(u.input());
                            }
                        }
                        _ => {}
                    },
                    Event::MessageStop(m) => stop = convert::stop_reason(m.stop_reason()),
                    Event::Metadata(m) => {
                        if let Some(u) = m.usage() {
                            let n = |v: i32| u64::try_from(v).unwrap_or(0);
                            usage = Usage {
                                input: n(u.input_tokens()),
                                output: n(u.output_tokens()),
                                cache_read: n(u.cache_read_input_tokens().unwrap_or(0)),
                                cache_write: n(u.cache_write_input_tokens().unwrap_or(0)),
                            };
                        }
                    }
                    _ => {}
                }
            }
            let mut reply = Vec::with_capacity(blocks.len());
            for (_, block) in blocks {
                reply.push(match block {
                    Building::Text(t) => Block::Text(t),
                    Building::Tool { id, name, json } => {
                        let input = if json.trim().is_empty() {
                            serde_json::json!({})
                        } else {
                            // A model's malformed tool input is answered as a tool error, not
                            // a failed turn: the model can try again.
                            serde_json::from_str(&json)
                                .unwrap_or_else(|_| serde_json::json!({ "_unreadable": json }))
                        };
                        Block::ToolUse { id, name, input }
                    }
                });
            }
            Ok(ModelReply {
                blocks: reply,
                stop,
                usage,
            })
        })
    }
}
