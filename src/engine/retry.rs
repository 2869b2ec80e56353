//! Bounded retries, shared by everything that asks AWS again: the engine's read retries, every
//! status poll (change sets, stack events, drift), and the clean-up of a change set nobody will
//! execute. One place decides how long opsdeck keeps asking and what it says when it stops.

use crate::engine::ports::{ErrorKind, ProviderError, ProviderResult};
use crate::engine::task::TaskCtx;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Exponential backoff: `base`, doubling per failure, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The pause after the `failures`-th failure in a row (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1 << failures.saturating_sub(1).min(16));
        exp.min(self.max)
    }
}

/// How a status poll paces itself and when it gives up. A poll that answers is repeated after
/// `interval`; after a failure the pause doubles from `interval` up to `backoff_max`. A poll
/// stops, with an error saying so, once nothing has answered for `give_up_after` and at least
/// `min_failures` polls in a row failed. Errors that are not transient (access denied, a
/// change set that is gone) stop it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub interval: Duration,
    pub backoff_max: Duration,
    pub give_up_after: Duration,
    pub min_failures: u32,
}

impl PollPolicy {
    pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);
    pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(180);
    pub const DEFAULT_MIN_FAILURES: u32 = 3;

    /// The defaults around a poll interval.
    pub fn every(interval: Duration) -> PollPolicy {
        PollPolicy {
            interval,
            backoff_max: PollPolicy::DEFAULT_BACKOFF_MAX.max(interval),
            give_up_after: PollPolicy::DEFAULT_GIVE_UP_AFTER,
            min_failures: PollPolicy::DEFAULT_MIN_FAILURES,
        }
    }

    /// The pause before the next poll after `failures` failures in a row (0: it answered).
    pub fn pause(&self, failures: u32) -> Duration {
        if failures == 0 {
            return self.interval;
        }
        Backoff {
            base: self.interval.saturating_mul(2),
            max: self.backoff_max.max(self.interval),
        }
        .delay(failures)
    }
}

/// One poll loop's bookkeeping: consecutive failures and when something last answered.
pub struct Poller<'a> {
    ctx: &'a TaskCtx,
    policy: PollPolicy,
    /// What the poll does, for the log: "read change set opsdeck-1".
    what: String,
    failures: u32,
    answered: Instant,
}

/// The poll was cancelled while it paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl<'a> Poller<'a> {
    pub fn new(ctx: &'a TaskCtx, policy: PollPolicy, what: impl Into<String>) -> Poller<'a> {
        Poller {
            ctx,
            policy,
            what: what.into(),
            failures: 0,
            answered: Instant::now(),
        }
    }

    /// The poll answered.
    pub fn answered(&mut self) {
        self.failures = 0;
        self.answered = Instant::now();
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The poll failed. `Ok(())`: try again after [`Poller::pause`]. `Err`: stop; the error
    /// counts the attempts and says that opsdeck stopped asking.
    pub fn failed(&mut self, e: ProviderError) -> ProviderResult<()> {
        if !e.is_transient() {
            return Err(e);
        }
        self.failures += 1;
        let silent = self.answered.elapsed();
        if self.failures >= self.policy.min_failures && silent >= self.policy.give_up_after {
            self.ctx.error(format!(
                "could not {} for {}: stopped asking",
                self.what,
                human(silent)
            ));
            return Err(ProviderError {
                attempts: self.failures,
                ..e
            }
            .context(format!(
                "stopped asking after {} without an answer",
                human(silent)
            )));
        }
        self.ctx.warn(format!(
            "could not {} ({} failure(s) in a row): {e}; asking again in {}",
            self.what,
            self.failures,
            human(self.policy.pause(self.failures))
        ));
        Ok(())
    }

    /// Wait before the next poll: the interval, or the backoff after failures.
    pub async fn pause(&self) -> Result<(), Cancelled> {
        let pause = self.policy.pause(self.failures);
        tokio::select! {
            biased;
            _ = self.ctx.cancelled() => Err(Cancelled),
            _ = tokio::time::sleep(pause) => Ok(()),
        }
    }
}

/// Retry `step` with backoff while it fails transiently; any other error ends it. Unbounded in
/// count on purpose: callers bound it in time with [`within`].
pub async fn until_done<T, F, Fut>(
    ctx: &TaskCtx,
    backoff: Backoff,
    what: &str,
    last_error: &mut Option<ProviderError>,
    mut step: F,
) -> ProviderResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ProviderResult<T>>,
{
    let mut failures = 0u32;
    loop {
        match step().await {
            Ok(value) => {
                *last_error = None;
                return Ok(value);
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                let pause = backoff.delay(failures);
                ctx.warn(format!(
                    "could not {what} (try {failures}): {e}; trying again in {}",
                    human(pause)
                ));
                *last_error = Some(ProviderError {
                    attempts: failures,
                    ..e
                });
                tokio::time::sleep(pause).await;
            }
            Err(e) => {
                *last_error = Some(e.clone());
                return Err(e);
            }
        }
    }
}

/// Run `work` for at most `budget`, and for at most `after_cancel` once the task is cancelled
/// (or from now, when it already is). `None` when it was cut short.
pub async fn within<T>(
    ctx: &TaskCtx,
    budget: Duration,
    after_cancel: Duration,
    work: impl Future<Output = T>,
) -> Option<T> {
    let cut_after_cancel = async {
        ctx.cancelled().await;
        tokio::time::sleep(after_cancel).await;
    };
    tokio::select! {
        done = work => Some(done),
        _ = tokio::time::sleep(budget) => None,
        _ = cut_after_cancel => None,
    }
}

/// The error for a clean-up that ran out of time before AWS answered.
pub fn out_of_time(what: &str, spent: Duration, last: Option<ProviderError>) -> ProviderError {
    match last {
        Some(e) => e.context(format!("could not {what} within {}", human(spent))),
        None => ProviderError::new(
            ErrorKind::Network,
            format!(
                "could not {what} within {}: AWS did not answer",
                human(spent)
            ),
        ),
    }
}

/// A duration as a person reads it: "400 ms", "3 s", "2.5 s", "3 min", "1 min 30 s".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = d.as_secs();
    if secs < 60 {
        let tenths = (ms % 1000) / 100;
        return if tenths == 0 {
            format!("{secs} s")
        } else {
            format!("{secs}.{tenths} s")
        };
    }
    let (min, rest) = (secs / 60, secs % 60);
    if min >= 60 {
        let (h, min) = (min / 60, min % 60);
        return if min == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {min} min")
        };
    }
    if rest == 0 {
        format!("{min} min")
    } else {
        format!("{min} min {rest} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            base: Duration::from_millis(400),
            max: Duration::from_secs(10),
        };
        let delays: Vec<_> = (1..=7).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn polls_back_off_on_errors_only() {
        let p = PollPolicy::every(Duration::from_secs(3));
        let pauses: Vec<_> = (0..=6).map(|n| p.pause(n).as_secs()).collect();
        assert_eq!(pauses, [3, 6, 12, 24, 30, 30, 30]);
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(human(Duration::from_millis(400)), "400 ms");
        assert_eq!(human(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(human(Duration::from_secs(60)), "1 min");
        assert_eq!(human(Duration::from_secs(195)), "3 min 15 s");
        assert_eq!(human(Duration::from_secs(3 * 3600)), "3 h");
    }
}
