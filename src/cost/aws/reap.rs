//! Reaping, after the gate: stop instances; snapshot, then delete unattached volumes; release
//! unassociated Elastic IPs. Each resource is checked again just before it is changed (still
//! unattached, still unassociated), so what the scan saw is what is reaped; every wait is
//! bounded.

use super::CostProvider;
use crate::cost::ops::{DeleteVolumes, ReleaseAddresses, StopInstances};
use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;

/// Status polls before a wait gives up.
const MAX_POLLS: u32 = 200;

fn cancelled() -> ProviderError {
    ProviderError::new(ErrorKind::Cancelled, "cancelled")
}

async fn pause(p: &CostProvider, ctx: &TaskCtx) -> ProviderResult<()> {
    tokio::select! {
        _ = tokio::time::sleep(p.poll) => Ok(()),
        _ = ctx.cancelled() => Err(cancelled()),
    }
}

pub(super) async fn stop_instances(
    p: &CostProvider,
    op: &StopInstances,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let ids: Vec<String> = op.instances.iter().map(|i| i.id.clone()).collect();
    ctx.info(format!("StopInstances {}", ids.join(", ")));
    p.ec2
        .stop_instances()
        .set_instance_ids(Some(ids.clone()))
        .send()
        .await
        .map_err(|e| p.sites.ec2.fail("StopInstances", e))?;
    for poll in 0..MAX_POLLS {
        let out = p
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeInstances", e))?;
        let states: Vec<(String, String)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap_or_default().to_string(),
                    i.state()
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let stopped = states.iter().filter(|(_, s)| s == "stopped").count();
        ctx.progress(stopped as f32 / ids.len().max(1) as f32);
        if stopped == ids.len() {
            return Ok(format!(
                "stopped {} instance(s): {}; saves {} a month",
                ids.len(),
                ids.join(", "),
                op_saving(&op.instances)
            ));
        }
        if poll % 10 == 0 {
            ctx.info(format!("{stopped} of {} stopped", ids.len()));
        }
        pause(p, ctx).await?;
    }
    Err(ProviderError::new(
        ErrorKind::Detached,
        "the instances were asked to stop but did not report stopped in time; check them in EC2",
    ))
}

fn op_saving(items: &[crate::cost::ops::Reapable]) -> crate::cost::verdict::Money {
    items
        .iter()
        .filter_map(|i| i.monthly_saving)
        .fold(Default::default(), |a, b| a + b)
}

pub(super) async fn delete_volumes(
    p: &CostProvider,
    op: &DeleteVolumes,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (n, volume) in op.volumes.iter().enumerate() {
        if ctx.is_cancelled() {
            failed.push(format!("{}: not started (cancelled)", volume.id));
            continue;
        }
        ctx.progress(n as f32 / op.volumes.len() as f32);
        // Still unattached? It may have been attached since the scan.
        let state = p
            .ec2
            .describe_volumes()
            .volume_ids(&volume.id)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeVolumes", e))
            .map(|o| {
                o.volumes()
                    .first()
                    .and_then(|v| v.state())
                    .map(|s| s.as_str().to_string())
            });
        match state {
            Ok(Some(s)) if s == "available" => {}
            Ok(Some(s)) => {
                failed.push(format!("{}: now {s}, not deleted", volume.id));
                continue;
            }
            Ok(None) => {
                failed.push(format!("{}: no longer exists", volume.id));
                continue;
            }
            Err(e) => {
                failed.push(format!("{}: {e}", volume.id));
                continue;
            }
        }
        ctx.info(format!("CreateSnapshot of {}", volume.id));
        let snapshot = p
            .ec2
            .create_snapshot()
            .volume_id(&volume.id)
            .description(format!(
                "opsdeck: before deleting idle volume {}",
                volume.id
            ))
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Snapshot)
                    .tags(
                        Tag::builder()
                            .key("opsdeck:reaped-from")
                            .value(&volume.id)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("CreateSnapshot", e));
        let snapshot_id = match snapshot.map(|s| s.snapshot_id().map(str::to_string)) {
            Ok(Some(id)) => id,
            Ok(None) => {
                failed.push(format!(
                    "{}: CreateSnapshot named no snapshot; not deleted",
                    volume.id
                ));
                continue;
            }
            Err(e) => {
                failed.push(format!("{}: snapshot failed ({e}); not deleted", volume.id));
                continue;
            }
        };
        match wait_for_snapshot(p, &snapshot_id, ctx).await {
            Ok(()) => {}
            Err(e) => {
                failed.push(format!(
                    "{}: snapshot {snapshot_id} did not complete ({e}); not deleted",
                    volume.id
                ));
                continue;
            }
        }
        ctx.info(format!(
            "snapshot {snapshot_id} completed; DeleteVolume {}",
            volume.id
        ));
        match p.ec2.delete_volume().volume_id(&volume.id).send().await {
            Ok(_) => done.push(format!("{} (snapshot {snapshot_id})", volume.id)),
            Err(e) => failed.push(format!(
                "{}: delete failed ({}); snapshot {snapshot_id} kept",
                volume.id,
                p.sites.ec2.fail("DeleteVolume", e)
            )),
        }
    }
    finish("deleted", done, failed)
}

async fn wait_for_snapshot(p: &CostProvider, id: &str, ctx: &TaskCtx) -> ProviderResult<()> {
    for _ in 0..MAX_POLLS {
        let out = p
            .ec2
            .describe_snapshots()
            .snapshot_ids(id)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeSnapshots", e))?;
        match out
            .snapshots()
            .first()
            .and_then(|s| s.state())
            .map(|s| s.as_str())
        {
            Some("completed") => return Ok(()),
            Some("error") => {
                return Err(ProviderError::new(ErrorKind::Other, "the snapshot failed"));
            }
            _ => pause(p, ctx).await?,
        }
    }
    Err(ProviderError::new(ErrorKind::Other, "gave up waiting"))
}

pub(super) async fn release_addresses(
    p: &CostProvider,
    op: &ReleaseAddresses,
    ctx: &TaskCtx,
) -> ProviderResult<String> {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for address in &op.addresses {
        if ctx.is_cancelled() {
            failed.push(format!("{}: not started (cancelled)", address.id));
            continue;
        }
        let now = p
            .ec2
            .describe_addresses()
            .allocation_ids(&address.id)
            .send()
            .await
            .map_err(|e| p.sites.ec2.fail("DescribeAddresses", e));
        match now {
            Ok(out) => match out.addresses().first() {
                Some(a) if a.association_id().is_some_and(|s| !s.is_empty()) => {
                    failed.push(format!("{}: now associated, not released", address.id));
                    continue;
                }
                Some(_) => {}
                None => {
                    failed.push(format!("{}: no longer exists", address.id));
                    continue;
                }
            },
            Err(e) => {
                failed.push(format!("{}: {e}", address.id));
                continue;
            }
        }
        ctx.info(format!(
            "ReleaseAddress {} ({})",
            address.id, address.detail
        ));
        match p
            .ec2
            .release_address()
            .allocation_id(&address.id)
            .send()
            .await
        {
            Ok(_) => done.push(address.id.clone()),
            Err(e) => failed.push(format!(
                "{}: {}",
                address.id,
                p.sites.ec2.fail("ReleaseAddress", e)
            )),
        }
    }
    finish("released", done, failed)
}

/// The outcome of a batch: everything done, or an error naming what was not.
fn finish(verb: &str, done: Vec<String>, failed: Vec<String>) -> ProviderResult<String> {
    let summary = if done.is_empty() {
        format!("nothing {verb}")
    } else {
        format!("{verb} {}", done.join(", "))
    };
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(ProviderError::new(
            ErrorKind::Other,
            format!("{summary}; not done: {}", failed.join("; ")),
        ))
    }
}
