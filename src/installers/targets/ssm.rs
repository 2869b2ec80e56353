//! The `ssm:INSTANCE_ID` target, through SSM Run Command (`AWS-RunShellScript`): one
//! SendCommand per target, GetCommandInvocation polled with a bounded backoff, the whole
//! output read from CloudWatch Logs (the inline copy stops at 24,000 characters), cancel by
//! CancelCommand.
//!
//! No input value is a parameter of the command: SSM keeps those in its history. The inputs
//! travel in one SecureString parameter per run (`/opsdeck/run/<run-id>/env`), read by the
//! instance's aws CLI and deleted when the run ends. The command's last line,
//! `opsdeck-run-end <nonce> rc=<code>`, says the output in CloudWatch is complete.

use super::TargetSettings;
use super::process::{Ended, Masker};
use super::wire;
use crate::aws::AwsSettings;
use crate::aws::calls::Site;
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use crate::installers::ops::HostFacts;
use aws_sdk_ssm::types::{
    CloudWatchOutputConfig, CommandInvocationStatus, ParameterTier, ParameterType,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long SSM may take to deliver a command before it gives up (SendCommand's
/// `TimeoutSeconds`).
const DELIVERY_TIMEOUT: i32 = 600;
/// The largest value of a SecureString parameter (Advanced tier).
const PARAMETER_MAX: usize = 8 * 1024;

/// The SSM, CloudWatch Logs, tagging and STS clients of one session.
pub struct Ssm {
    ssm: aws_sdk_ssm::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    sts: aws_sdk_sts::Client,
    /// Where each client's calls go, for the sentence a failure becomes.
    sites: Sites,
    region: Option<String>,
    account: tokio::sync::OnceCell<String>,
}

struct Sites {
    ssm: Site,
    logs: Site,
    tagging: Site,
    sts: Site,
}

/// One CloudWatch Logs stream being read: where the last read ended.
struct Cursor {
    stream: String,
    token: Option<String>,
    stderr: bool,
}

/// What a followed command ended in.
struct Followed {
    status: Option<CommandInvocationStatus>,
    details: String,
    response_code: i32,
    /// The exit code the end marker gave, when it was seen.
    marked: Option<i32>,
    cancelled: bool,
    timed_out: bool,
}

impl Ssm {
    pub fn new(config: &aws_config::SdkConfig, settings: &AwsSettings) -> Ssm {
        let region = config.region().map(|r| r.to_string());
        let site = |service| settings.site(service, region.clone());
        Ssm {
            sites: Sites {
                ssm: site("SSM"),
                logs: site("CloudWatch Logs"),
                tagging: site("Resource Groups Tagging"),
                sts: site("STS"),
            },
            ssm: aws_sdk_ssm::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            region: config.region().map(|r| r.to_string()),
            account: tokio::sync::OnceCell::new(),
        }
    }

    /// Store the run's input records in one SecureString parameter; returns its name. The
    /// parameter carries an expiration policy at `lifetime` from now (the longest the run can
    /// take), so a crash cannot leave the values in Parameter Store beyond the run; the run
    /// deletes it itself when it ends.
    pub async fn put_inputs(
        &self,
        run_id: &str,
        records: &[u8],
        lifetime: Duration,
    ) -> ProviderResult<String> {
        use base64::Engine as _;
        let value = base64::engine::general_purpose::STANDARD.encode(records);
        if value.len() > PARAMETER_MAX {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "the inputs take {} bytes encoded, more than the {PARAMETER_MAX} an SSM parameter holds; shorten them",
                    value.len()
                ),
            ));
        }
        let expires = aws_sdk_ssm::primitives::DateTime::from_secs(
            crate::model::now_ms() / 1000 + lifetime.as_secs() as i64,
        )
        .fmt(aws_sdk_ssm::primitives::DateTimeFormat::DateTime)
        .map_err(|e| ProviderError::new(ErrorKind::Other, format!("an expiry time: {e}")))?;
        let policy = serde_json::json!([{
            "Type": "Expiration",
            "Version": "1.0",
            "Attributes": { "Timestamp": expires },
        }]);
        let name = format!("/opsdeck/run/{run_id}/env");
        self.ssm
            .put_parameter()
            .name(&name)
            .description("opsdeck installer run inputs; deleted when the run ends")
            .value(value)
            .r#type(ParameterType::SecureString)
            // Parameter policies (the expiration) need the Advanced tier.
            .tier(ParameterTier::Advanced)
            .policies(policy.to_string())
            .overwrite(false)
            .send()
            .await
            .map_err(|e| self.sites.ssm.fail("PutParameter", e))?;
        Ok(name)
    }

    pub async fn delete_inputs(&self, name: &str) -> ProviderResult<()> {
        self.ssm
            .delete_parameter()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.sites.ssm.fail("DeleteParameter", e))
    }

    async fn send(
        &self,
        instance: &str,
        command: String,
        timeout_seconds: u64,
        comment: &str,
        log_group: &str,
    ) -> ProviderResult<String> {
        let out = self
            .ssm
            .send_command()
            .instance_ids(instance)
            .document_name("AWS-RunShellScript")
            .parameters("commands", vec![command])
            .parameters("executionTimeout", vec![timeout_seconds.to_string()])
            .timeout_seconds(DELIVERY_TIMEOUT)
            .max_concurrency("1")
            .max_errors("0")
            .comment(comment.chars().take(100).collect::<String>())
            .cloud_watch_output_config(
                CloudWatchOutputConfig::builder()
                    .cloud_watch_output_enabled(true)
                    .cloud_watch_log_group_name(log_group)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.sites.ssm.fail("SendCommand", e))?;
        out.command()
            .and_then(|c| c.command_id())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Other,
                    "SSM answered SendCommand without a command id",
                )
            })
    }

    /// New lines of one stream since the cursor (all pages). A stream that does not exist yet
    /// has no output yet.
    async fn read_stream(&self, group: &str, cursor: &mut Cursor) -> ProviderResult<Vec<String>> {
        let mut lines = Vec::new();
        // Bounded: a stream is read to its end, page by page, at most this many pages a poll.
        for _ in 0..50 {
            let sent = cursor.token.clone();
            let result = self
                .logs
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(&cursor.stream)
                .start_from_head(true)
                .set_next_token(sent.clone())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    let e = self.sites.logs.fail("GetLogEvents", e);
                    if e.code.as_deref() == Some("ResourceNotFoundException") {
                        return Ok(lines);
                    }
                    return Err(e);
                }
            };
            for event in out.events() {
                if let Some(message) = event.message() {
                    lines.extend(message.lines().map(str::to_string));
                }
            }
            let next = out.next_forward_token().map(str::to_string);
            let done = next.is_none() || next == sent;
            if next.is_some() {
                cursor.token = next;
            }
            if done || out.events().is_empty() {
                return Ok(lines);
            }
        }
        Ok(lines)
    }

    /// Poll the invocation and its output until it is over and its output is complete (the
    /// end marker seen, or `settings.ssm_output_grace` after the end), `deadline` passes, or
    /// the job is cancelled. Lines go to `sink`.
    #[allow(clippy::too_many_arguments)]
    async fn follow(
        &self,
        settings: &TargetSettings,
        instance: &str,
        command_id: &str,
        nonce: &str,
        deadline: Duration,
        ctx: &TaskCtx,
        sink: &mut (dyn FnMut(bool, &str) + Send),
    ) -> ProviderResult<Followed> {
        let group = settings.ssm_log_group.as_str();
        let prefix = format!("{command_id}/{instance}/aws-runShellScript");
        let mut cursors = [
            Cursor {
                stream: format!("{prefix}/stdout"),
                token: None,
                stderr: false,
            },
            Cursor {
                stream: format!("{prefix}/stderr"),
                token: None,
                stderr: true,
            },
        ];
        let marker = wire::end_marker(nonce);
        let started = Instant::now();
        let mut pause = settings.ssm_poll_min;
        let mut followed = Followed {
            status: None,
            details: String::new(),
            response_code: -1,
            marked: None,
            cancelled: false,
            timed_out: false,
        };
        let mut ended_at: Option<Instant> = None;
        let mut cancel_sent = false;
        let mut log_warned = false;
        loop {
            for cursor in &mut cursors {
                match self.read_stream(group, cursor).await {
                    Ok(lines) => {
                        for line in lines {
                            if let Some(rc) = line.strip_prefix(&marker) {
                                followed.marked = rc.trim().parse().ok();
                            } else {
                                sink(cursor.stderr, &line);
                            }
                        }
                    }
                    Err(e) if !log_warned => {
                        log_warned = true;
                        ctx.warn(format!(
                            "cannot read the output from CloudWatch Logs group {group}: {e}"
                        ));
                    }
                    Err(_) => {}
                }
            }
            if ended_at.is_none() {
                match self
                    .ssm
                    .get_command_invocation()
                    .command_id(command_id)
                    .instance_id(instance)
                    .send()
                    .await
                {
                    Ok(inv) => {
                        followed.response_code = inv.response_code();
                        followed.details = inv.status_details().unwrap_or_default().to_string();
                        let status = inv.status().cloned();
                        let over = matches!(
                            status,
                            Some(
                                CommandInvocationStatus::Success
                                    | CommandInvocationStatus::Failed
                                    | CommandInvocationStatus::TimedOut
                                    | CommandInvocationStatus::Cancelled
                            )
                        );
                        followed.status = status;
                        if over {
                            ended_at = Some(Instant::now());
                            continue;
                        }
                    }
                    Err(e) => {
                        let e = self.sites.ssm.fail("GetCommandInvocation", e);
                        // Right after SendCommand, the invocation does not exist yet.
                        if e.code.as_deref() != Some("InvocationDoesNotExist") {
                            if !e.is_transient() {
                                return Err(e);
                            }
                            ctx.warn(format!("GetCommandInvocation: {e}; trying again"));
                        }
                    }
                }
            }
            if followed.marked.is_some() && ended_at.is_some() {
                return Ok(followed);
            }
            if let Some(at) = ended_at
                && at.elapsed() >= settings.ssm_output_grace
            {
                ctx.warn(format!(
                    "the command ended, but its output in CloudWatch Logs ({group}) has no end line after {}s; it may be incomplete",
                    settings.ssm_output_grace.as_secs()
                ));
                return Ok(followed);
            }
            let out_of_time = started.elapsed() >= deadline;
            if (ctx.is_cancelled() || out_of_time) && !cancel_sent {
                cancel_sent = true;
                followed.cancelled = ctx.is_cancelled();
                followed.timed_out = out_of_time;
                ctx.warn(if out_of_time {
                    format!(
                        "no end after {}s: cancelling the command (CancelCommand)",
                        deadline.as_secs()
                    )
                } else {
                    "cancelled: cancelling the command (CancelCommand)".to_string()
                });
                if let Err(e) = self
                    .ssm
                    .cancel_command()
                    .command_id(command_id)
                    .instance_ids(instance)
                    .send()
                    .await
                {
                    ctx.warn(format!(
                        "cancel failed: {}",
                        self.sites.ssm.fail("CancelCommand", e)
                    ));
                }
            }
            if cancel_sent && started.elapsed() >= deadline + settings.ssm_output_grace {
                return Ok(followed);
            }
            let sleep = tokio::time::sleep(pause);
            if cancel_sent {
                sleep.await;
            } else {
                tokio::select! {
                    _ = sleep => {}
                    _ = ctx.cancelled() => {}
                }
            }
            pause = (pause * 2).min(settings.ssm_poll_max);
        }
    }

    /// Run `script` on `instance` (inputs from `parameter`), following it to its end.
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &self,
        settings: &TargetSettings,
        instance: &str,
        script: &str,
        parameter: Option<&str>,
        timeout_seconds: u64,
        comment: &str,
        ctx: &TaskCtx,
        masker: &Masker,
    ) -> Ended {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let command = wire::ssm_command(script, parameter, self.region.as_deref(), &nonce);
        let command_id = match self
            .send(
                instance,
                command,
                timeout_seconds,
                comment,
                &settings.ssm_log_group,
            )
            .await
        {
            Ok(id) => id,
            Err(e) => return Ended::Unreachable(format!("SendCommand to {instance} failed: {e}")),
        };
        ctx.info(format!(
            "SSM command {command_id} sent to {instance}; output from CloudWatch Logs group {}",
            settings.ssm_log_group
        ));
        let deadline = Duration::from_secs(timeout_seconds + DELIVERY_TIMEOUT as u64 + 60);
        let mut sink = |stderr: bool, line: &str| {
            let masked = masker.mask(line);
            if stderr {
                ctx.warn(masked);
            } else {
                ctx.info(masked);
            }
        };
        let followed = match self
            .follow(
                settings,
                instance,
                &command_id,
                &nonce,
                deadline,
                ctx,
                &mut sink,
            )
            .await
        {
            Ok(f) => f,
            Err(e) => return Ended::Unreachable(format!("following command {command_id}: {e}")),
        };
        ctx.info(format!(
            "SSM says: {} (response code {})",
            if followed.details.is_empty() {
                "no status".to_string()
            } else {
                followed.details.clone()
            },
            followed.response_code
        ));
        match (&followed.status, followed.marked) {
            (Some(CommandInvocationStatus::Cancelled), _) => Ended::Cancelled,
            (Some(CommandInvocationStatus::TimedOut), _) if followed.marked.is_none() => {
                if followed.details.contains("Delivery") {
                    Ended::Unreachable(format!(
                        "SSM could not deliver the command to {instance} ({}); is the SSM agent running and the instance online?",
                        followed.details
                    ))
                } else {
                    Ended::TimedOut
                }
            }
            _ if followed.cancelled => Ended::Cancelled,
            _ if followed.timed_out && followed.marked.is_none() => Ended::TimedOut,
            (_, Some(rc)) => Ended::Exited(rc),
            (Some(CommandInvocationStatus::Success), None) => Ended::Exited(0),
            (Some(CommandInvocationStatus::Failed), None) if followed.response_code >= 0 => {
                Ended::Exited(followed.response_code)
            }
            _ => Ended::Unreachable(format!(
                "command {command_id} on {instance} ended without an exit code ({})",
                followed.details
            )),
        }
    }

    /// Preflight on `instance`: the preflight script as a command (no values), its output
    /// parsed; then the instance's tags.
    pub async fn preflight(
        &self,
        settings: &TargetSettings,
        instance: &str,
        ctx: &TaskCtx,
    ) -> ProviderResult<HostFacts> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let command_id = self
            .send(
                instance,
                wire::ssm_preflight(&nonce),
                60,
                "opsdeck installer preflight",
                &settings.ssm_log_group,
            )
            .await?;
        ctx.info(format!("SSM command {command_id} sent to {instance}"));
        let mut output = String::new();
        let mut sink = |stderr: bool, line: &str| {
            if !stderr {
                output.push_str(line);
                output.push('\n');
            }
        };
        let followed = self
            .follow(
                settings,
                instance,
                &command_id,
                &nonce,
                Duration::from_secs(60 + DELIVERY_TIMEOUT as u64),
                ctx,
                &mut sink,
            )
            .await?;
        if followed.cancelled {
            return Err(ProviderError::new(ErrorKind::Cancelled, "cancelled"));
        }
        if followed.marked.is_none() && output.is_empty() {
            return Err(ProviderError::new(
                ErrorKind::Other,
                format!(
                    "preflight on {instance} gave no output in CloudWatch Logs group {} ({}); check the instance role may write there",
                    settings.ssm_log_group,
                    if followed.details.is_empty() {
                        "no status"
                    } else {
                        &followed.details
                    }
                ),
            ));
        }
        let mut facts = wire::parse_facts(&output);
        facts.account = self.account().await.ok();
        match self.tags(instance).await {
            Ok(tags) => facts.tags = tags,
            Err(e) => {
                ctx.warn(format!("cannot read the tags of {instance}: {e}"));
                facts.tags_error = Some(e.to_string());
            }
        }
        Ok(facts)
    }

    async fn account(&self) -> ProviderResult<String> {
        self.account
            .get_or_try_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| self.sites.sts.fail("GetCallerIdentity", e))?;
                out.account().map(str::to_string).ok_or_else(|| {
                    ProviderError::new(ErrorKind::Invalid, "STS answered without an account")
                })
            })
            .await
            .cloned()
    }

    /// The instance's tags, through the Resource Groups Tagging API.
    async fn tags(&self, instance: &str) -> ProviderResult<BTreeMap<String, String>> {
        let region = self.region.clone().ok_or_else(|| {
            ProviderError::new(ErrorKind::Invalid, "no AWS region is set; use --region")
        })?;
        let account = self.account().await?;
        let arn = if instance.starts_with("mi-") {
            format!("arn:aws:ssm:{region}:{account}:managed-instance/{instance}")
        } else {
            format!("arn:aws:ec2:{region}:{account}:instance/{instance}")
        };
        let out = self
            .tagging
            .get_resources()
            .resource_arn_list(&arn)
            .send()
            .await
            .map_err(|e| self.sites.tagging.fail("GetResources", e))?;
        let mut tags = BTreeMap::new();
        for mapping in out.resource_tag_mapping_list() {
            for tag in mapping.tags() {
                tags.insert(tag.key().to_string(), tag.value().to_string());
            }
        }
        Ok(tags)
    }
}
