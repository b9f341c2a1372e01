//! One worker's run over its shards (SPEC: Time, Lifecycle, Notices; DESIGN: the due index):
//! the due lane (accounts, tombstones, data requests; a bounded number in flight), the draining
//! of the partitions of the release before logical shards, the mail lane (paced to SES's send
//! rate), then the Terms rollout. Every lane starts at a partition that moves with the schedule's
//! minute, so the one cut short in one run is early in another.

use crate::rollout::rollout;
use crate::steps;
use crate::summary::{Run, Summary};
use chrono::{DateTime, Utc};
use futures_util::stream::StreamExt;
use platform::dynamo::keys::{due_pk, SHARDS};
use platform::dynamo::Cursor;
use platform::outbox::deliver;
use platform::App;
use std::time::{Duration, Instant};

pub(crate) const PAGE: i32 = 100;

/// What one worker sweeps: the schedule's time, its logical shards, and how many workers share
/// the schedule (they share SES's send rate too).
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub now: DateTime<Utc>,
    pub shards: Vec<u32>,
    pub workers: u32,
}

impl Job {
    /// The whole index in one run (a schedule sent straight to the sweep).
    pub fn everything(now: DateTime<Utc>) -> Job {
        Job { now, shards: (0..SHARDS).collect(), workers: 1 }
    }
}

/// Where a run starts in a list of `len`: it moves with the schedule's minute.
pub(crate) fn first_index(now: DateTime<Utc>, len: usize) -> usize {
    (now.timestamp().div_euclid(60) as usize) % len.max(1)
}

fn rotated<T: Clone>(items: &[T], now: DateTime<Utc>) -> Vec<T> {
    let first = first_index(now, items.len());
    items[first..].iter().chain(&items[..first]).cloned().collect()
}

pub(crate) async fn sweep(
    app: &App,
    bus: Option<&dyn crate::publish::Bus>,
    job: &Job,
    deadline: Instant,
) -> anyhow::Result<Summary> {
    let parts = rotated(&app.sweep.partitions(&job.shards), job.now);
    let run = Run::new(Summary {
        now: Some(job.now),
        shards: job.shards.len(),
        first_partition: parts.first().cloned().unwrap_or_default(),
        complete: true,
        ..Summary::default()
    });
    let pace = Pacer::for_job(app, job).await;
    run.tally(|s| s.send_rate = pace.rate);
    let done = timed(&run, "due", due_lane(app, &parts, job.now, deadline, &run)).await?
        && timed(&run, "legacy", drain_legacy(app, &parts, deadline, &run)).await?
        && timed(&run, "mail", mail_lane(app, job, &pace, deadline, &run)).await?
        && timed(&run, "events", crate::publish::event_lane(app, bus, &job.shards, job.now, deadline, &run)).await?
        && timed(&run, "rollout", rollout(app, &parts, job.now, deadline, &run)).await?
        && timed(&run, "held_mail", send_held(app, job, &pace, deadline, &run)).await?;
    // Mail committed by this run and not sent in time waits for its lease, then any run sends it.
    let mut s = run.summary();
    s.complete = done;
    Ok(s)
}

/// A lane, with its wall time kept in the summary (where a run's time goes).
async fn timed(
    run: &Run,
    lane: &'static str,
    work: impl std::future::Future<Output = anyhow::Result<bool>>,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let r = work.await;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    run.tally(|s| {
        s.lane_ms.insert(lane, ms);
    });
    r
}

/// Due accounts, tombstones and data requests: `SWEEP_IN_FLIGHT` partitions at once, each page
/// by page. Every item commits on the version (or due time) it read, so items side by side, or
/// beside another sweep, cannot undo each other.
async fn due_lane(
    app: &App,
    parts: &[String],
    now: DateTime<Utc>,
    deadline: Instant,
    run: &Run,
) -> anyhow::Result<bool> {
    let results: Vec<anyhow::Result<bool>> = futures_util::stream::iter(parts)
        .map(|pk| due_partition(app, pk, now, deadline, run))
        .buffered(app.config.sweep_in_flight)
        .collect()
        .await;
    all_through(results)
}

async fn due_partition(app: &App, pk: &str, now: DateTime<Utc>, deadline: Instant, run: &Run) -> anyhow::Result<bool> {
    let mut start: Option<Cursor> = None;
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let first = start.is_none();
        let page = app.sweep.due_page(pk, now, PAGE, start).await?;
        run.tally(|s| {
            if let (true, Some(at)) = (first, page.oldest_due_at) {
                s.lag_seconds = s.lag_seconds.max(now.timestamp() - at);
            }
            s.shard_queries += 1;
            s.items_read += page.items.len();
            s.due += page.items.len();
        });
        for item in page.items {
            // Checked per item, not per page: a page of slow transactions must not run the worker
            // past its deadline. What is left stays due for the next run.
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let key = item.as_ref().map(steps::key_of).unwrap_or_default();
            let r = match item {
                Ok(item) => steps::due(app, item, now, run).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                // One bad item must not stop the others; it stays due and is retried next run.
                tracing::error!(partition = %pk, item = %key, error = format!("{e:#}"), "sweep item failed");
            }
        }
        match page.next {
            Some(k) => start = Some(k),
            None => return Ok(true),
        }
    }
}

/// Whether every partition got through; the first error if one failed.
fn all_through(results: Vec<anyhow::Result<bool>>) -> anyhow::Result<bool> {
    let mut through = true;
    for r in results {
        through &= r?;
    }
    Ok(through)
}

/// The old partitions among these (none once drained: then one empty query each per run).
async fn drain_legacy(app: &App, parts: &[String], deadline: Instant, run: &Run) -> anyhow::Result<bool> {
    let logical: std::collections::HashSet<String> = (0..SHARDS).map(due_pk).collect();
    for pk in parts.iter().filter(|p| !logical.contains(*p)) {
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let moved = app.sweep.drain_legacy(pk, PAGE).await?;
            run.tally(|s| {
                s.shard_queries += 1;
                s.legacy_moved += moved;
            });
            if moved == 0 {
                break;
            }
        }
    }
    Ok(true)
}

/// The mail this run committed (its lease is ours: no claim), then mail whose lease or retry
/// time has come, shard by shard, at this worker's share of SES's send rate.
async fn mail_lane(app: &App, job: &Job, pace: &Pacer, deadline: Instant, run: &Run) -> anyhow::Result<bool> {
    if !send_held(app, job, pace, deadline, run).await? {
        return Ok(false);
    }
    let results: Vec<anyhow::Result<bool>> = futures_util::stream::iter(rotated(&job.shards, job.now))
        .map(|shard| mail_shard(app, shard, job.now, pace, deadline, run))
        .buffered(app.config.sweep_in_flight)
        .collect()
        .await;
    all_through(results)
}

/// Sends the mail this run committed so far (its lease is ours), paced.
async fn send_held(app: &App, job: &Job, pace: &Pacer, deadline: Instant, run: &Run) -> anyhow::Result<bool> {
    let in_flight = app.config.sweep_in_flight;
    let held: Vec<anyhow::Result<bool>> = futures_util::stream::iter(run.take_queue())
        .map(|m| async move {
            if !pace.wait(deadline).await {
                return Ok(false);
            }
            let d = deliver(&app.outbox, app.mailer.as_ref(), std::slice::from_ref(&m), job.now).await;
            run.tally(|s| s.delivered(d));
            Ok(true)
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    all_through(held)
}

async fn mail_shard(
    app: &App,
    shard: u32,
    now: DateTime<Utc>,
    pace: &Pacer,
    deadline: Instant,
    run: &Run,
) -> anyhow::Result<bool> {
    // Retry times are wall-clock; a replayed event time ahead of the clock must not hide them.
    let upto = now.max(Utc::now());
    let mut start: Option<Cursor> = None;
    loop {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let (mails, next) = app.outbox.due_page(shard, upto, PAGE, start).await?;
        run.tally(|s| {
            s.shard_queries += 1;
            s.items_read += mails.len();
        });
        for m in mails {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(shard, error = format!("{e:#}"), "unreadable mail in the mail lane");
                    continue;
                }
            };
            if !pace.wait(deadline).await {
                return Ok(false);
            }
            match app.outbox.claim(&m).await {
                Ok(Some(claimed)) => {
                    run.tally(|s| s.mails_retried += 1);
                    let d = deliver(&app.outbox, app.mailer.as_ref(), &[claimed], now).await;
                    run.tally(|s| s.delivered(d));
                }
                Ok(None) => run.tally(|s| s.lost_races += 1),
                Err(e) => tracing::error!(mail = %m.key, error = format!("{e:#}"), "mail claim failed"),
            }
        }
        match next {
            Some(k) => start = Some(k),
            None => return Ok(true),
        }
    }
}

/// Sends spaced `1 / rate` seconds apart, however many tasks ask.
struct Pacer {
    rate: f64,
    gap: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// This worker's share of SES's `MaxSendRate` (or `SES_MAX_SEND_RATE`), read once per run.
    async fn for_job(app: &App, job: &Job) -> Pacer {
        let total = match app.config.ses_max_send_rate {
            Some(r) => r,
            None => app.mailer.max_send_rate().await.unwrap_or(1.0),
        };
        Pacer::new(total / f64::from(job.workers.max(1)))
    }

    fn new(rate: f64) -> Pacer {
        let rate = rate.max(0.001);
        Pacer {
            rate,
            gap: Duration::from_secs_f64(1.0 / rate),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for the next free slot; `false` (taking none) once the deadline has passed.
    async fn wait(&self, deadline: Instant) -> bool {
        if Instant::now() >= deadline {
            return false;
        }
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.gap;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_five_minutes_apart_start_at_every_partition_in_turn() {
        let t0 = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z").unwrap().to_utc();
        let parts = ["a", "b", "c", "d"];
        let mut firsts: Vec<&str> = (0..4).map(|i| rotated(&parts, t0 + chrono::Duration::minutes(5 * i))[0]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, parts);
    }

    #[tokio::test]
    async fn the_pace_spaces_sends_whoever_asks() {
        let pace = Pacer::new(50.0);
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(5);
        let waits: Vec<bool> = futures_util::future::join_all((0..5).map(|_| pace.wait(far))).await;
        assert_eq!(waits, [true; 5]);
        assert!(t0.elapsed() >= Duration::from_millis(75), "5 slots at 50/s span at least 80 ms");
        assert!(!pace.wait(t0).await, "none after the deadline");
    }
}
