//! Reads that take a while or return text: the stack's template and drift detection.

use super::client::Cfn;
use crate::aws::{clean, clean_opt, time};
use crate::cfn::model::{PropertyDifference, ResourceDrift, StackDrift};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::retry::Poller;
use crate::engine::task::TaskCtx;
use aws_sdk_cloudformation::types::TemplateStage;

/// The template as it was submitted (JSON or YAML text, exactly as given).
pub async fn get_template(cfn: &Cfn, stack_id: &str, ctx: &TaskCtx) -> ProviderResult<String> {
    let out = cfn
        .call(
            ctx,
            "GetTemplate",
            cfn.sdk
                .get_template()
                .stack_name(stack_id)
                .template_stage(TemplateStage::Original)
                .send(),
        )
        .await?;
    // `clean` would join the lines; the template keeps its line breaks and tabs, and loses every
    // other control character (an escape sequence cannot survive into a view that shows it).
    let body = keep_lines(out.template_body().unwrap_or_default());
    if body.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::NotFound,
            format!("no template returned for {stack_id}"),
        ));
    }
    ctx.info(format!("template: {} bytes", body.len()));
    Ok(body)
}

/// Text with its line structure kept and every other control character dropped.
pub fn keep_lines(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect()
}

/// The stack name inside a stack ARN (`arn:aws:cloudformation:R:A:stack/NAME/UUID`).
pub fn stack_name_from_arn(stack_id: &str) -> Option<&str> {
    let rest = stack_id.split_once(":stack/")?.1;
    rest.split('/').next().filter(|n| !n.is_empty())
}

fn drift_rank(status: &str) -> u8 {
    match status {
        "MODIFIED" | "DELETED" => 0,
        "NOT_CHECKED" => 2,
        "IN_SYNC" => 3,
        _ => 1,
    }
}

/// DetectStackDrift, wait for it, and read every resource's drift.
///
/// `DETECTION_FAILED` means CloudFormation could not check some resources (unsupported types,
/// missing permissions); the others were checked. The result then still comes back, with the
/// reason logged as a warning and the unchecked resources as `NOT_CHECKED`; only when no
/// resource was reported at all is it an error carrying the reason.
pub async fn detect_drift(cfn: &Cfn, stack_id: &str, ctx: &TaskCtx) -> ProviderResult<StackDrift> {
    let stack_name = stack_name_from_arn(stack_id)
        .unwrap_or(stack_id)
        .to_string();
    ctx.info(format!("DetectStackDrift {stack_name}"));
    let detection = cfn
        .call(
            ctx,
            "DetectStackDrift",
            cfn.sdk.detect_stack_drift().stack_name(stack_id).send(),
        )
        .await?;
    let detection_id = clean(detection.stack_drift_detection_id());
    let cancelled = || {
        ProviderError::new(
            ErrorKind::Cancelled,
            "cancelled; CloudFormation finishes the check on its own",
        )
    };
    let mut last_note = String::new();
    let mut poller = Poller::new(
        ctx,
        cfn.poll,
        format!("read the drift check of {stack_name}"),
    );
    let (status, detected, failure) = loop {
        let answer = cfn
            .call(
                ctx,
                "DescribeStackDriftDetectionStatus",
                cfn.sdk
                    .describe_stack_drift_detection_status()
                    .stack_drift_detection_id(&detection_id)
                    .send(),
            )
            .await;
        match answer {
            Ok(out) => {
                poller.answered();
                let detection_status = out
                    .detection_status()
                    .map(|s| clean(Some(s.as_str())))
                    .unwrap_or_default();
                let stack_status = out
                    .stack_drift_status()
                    .map(|s| clean(Some(s.as_str())))
                    .unwrap_or_else(|| "UNKNOWN".into());
                let note = format!(
                    "{detection_status}: {} drifted so far",
                    out.drifted_stack_resource_count().unwrap_or(0)
                );
                if note != last_note {
                    ctx.info(&note);
                    last_note = note;
                }
                match detection_status.as_str() {
                    "DETECTION_IN_PROGRESS" => {}
                    "DETECTION_FAILED" => {
                        let reason = clean(out.detection_status_reason());
                        break (stack_status, time(out.timestamp()), Some(reason));
                    }
                    _ => break (stack_status, time(out.timestamp()), None),
                }
            }
            Err(e) if e.kind == ErrorKind::Cancelled => return Err(cancelled()),
            Err(e) => poller.failed(e).map_err(|stop| {
                stop.context(format!(
                    "stopped waiting for the drift check of {stack_name}"
                ))
                .note("CloudFormation finishes the check on its own; run it again later")
            })?,
        }
        if poller.pause().await.is_err() {
            return Err(cancelled());
        }
    };

    let mut resources = Vec::new();
    let mut pages = cfn
        .sdk
        .describe_stack_resource_drifts()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    while let Some(page) = cfn
        .page(ctx, "DescribeStackResourceDrifts", pages.next())
        .await?
    {
        for r in page.stack_resource_drifts() {
            resources.push(ResourceDrift {
                logical_id: clean(r.logical_resource_id()),
                physical_id: clean_opt(r.physical_resource_id()),
                resource_type: clean(r.resource_type()),
                status: r
                    .stack_resource_drift_status()
                    .map(|s| clean(Some(s.as_str())))
                    .unwrap_or_default(),
                differences: r
                    .property_differences()
                    .iter()
                    .map(|d| PropertyDifference {
                        path: clean(d.property_path()),
                        expected: clean(d.expected_value()),
                        actual: clean(d.actual_value()),
                        kind: d
                            .difference_type()
                            .map(|k| clean(Some(k.as_str())))
                            .unwrap_or_default(),
                    })
                    .collect(),
            });
        }
    }
    resources.sort_by(|a, b| {
        drift_rank(&a.status)
            .cmp(&drift_rank(&b.status))
            .then_with(|| a.logical_id.cmp(&b.logical_id))
    });
    if let Some(reason) = failure {
        if resources.is_empty() {
            return Err(ProviderError::new(
                ErrorKind::Other,
                format!("drift detection of {stack_name} failed: {reason}"),
            ));
        }
        ctx.warn(format!(
            "drift detection incomplete, some resources were not checked: {reason}"
        ));
    }
    let drift = StackDrift {
        stack_id: stack_id.to_string(),
        stack_name,
        status,
        detected,
        resources,
    };
    ctx.info(format!(
        "{}: {} ({} of {} resources drifted)",
        drift.stack_name,
        drift.status,
        drift.drifted().count(),
        drift.resources.len()
    ));
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_come_from_arns() {
        assert_eq!(
            stack_name_from_arn("arn:aws:cloudformation:us-east-1:123456789012:stack/web/abc-1"),
            Some("web")
        );
        assert_eq!(stack_name_from_arn("web"), None);
    }

    #[test]
    fn templates_keep_lines_but_no_escapes() {
        assert_eq!(
            keep_lines("a: 1\n\tb: \u{1b}[2J2\r\n"),
            "a: 1\n\tb: [2J2\r\n"
        );
    }

    #[test]
    fn drifted_resources_rank_first() {
        let mut s = ["IN_SYNC", "NOT_CHECKED", "MODIFIED", "DELETED", "UNKNOWN"];
        s.sort_by_key(|s| drift_rank(s));
        assert_eq!(
            s,
            ["MODIFIED", "DELETED", "UNKNOWN", "NOT_CHECKED", "IN_SYNC"]
        );
    }
}
