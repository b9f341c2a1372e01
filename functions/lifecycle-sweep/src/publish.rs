//! The event lane (SPEC: Events for the product): events written with their changes are
//! published to the EventBridge bus, `PutEvents` in batches of up to 10, then deleted. Per account
//! they go out in `seq` order: a batch holds at most one event of an account, and an account
//! whose event failed waits for the next run. If the bus is down, nothing is lost and nothing
//! waits on it: the events stay due and the next run tries again.

use crate::summary::Run;
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use platform::dynamo::Cursor;
use platform::repo::events::EventRecord;
use platform::App;
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

/// `PutEvents` takes at most 10 entries.
const BATCH: usize = 10;

/// The bus: one call for up to 10 events; whether each entry was accepted.
#[async_trait]
pub(crate) trait Bus: Send + Sync {
    async fn put(&self, events: &[EventRecord]) -> anyhow::Result<Vec<bool>>;
}

pub(crate) struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// From `EVENT_BUS_NAME` (none: events wait in the table, and the run says so).
    pub async fn from_env() -> Option<EventBridgeBus> {
        let bus = std::env::var("EVENT_BUS_NAME").ok().filter(|b| !b.is_empty())?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Some(EventBridgeBus { client: aws_sdk_eventbridge::Client::new(&sdk), bus })
    }
}

#[async_trait]
impl Bus for EventBridgeBus {
    async fn put(&self, events: &[EventRecord]) -> anyhow::Result<Vec<bool>> {
        let entries: Vec<PutEventsRequestEntry> = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(domain::events::SOURCE)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(e.at.timestamp()))
                    .build()
            })
            .collect();
        let out = self.client.put_events().set_entries(Some(entries)).send().await.map_err(|e| {
            anyhow::anyhow!("EventBridge PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(&e))
        })?;
        // Entries answer in order; a failed one has an error code (`FailedEntryCount` counts them).
        let ok: Vec<bool> = out.entries().iter().map(|r| r.error_code().is_none() && r.event_id().is_some()).collect();
        if ok.len() != events.len() {
            anyhow::bail!("EventBridge answered {} entries for {}", ok.len(), events.len());
        }
        Ok(ok)
    }
}

/// The events due in this worker's shards. Whether the lane got through (the bus being down is
/// not a reason to stop the run: the events wait).
pub(crate) async fn event_lane(
    app: &App,
    bus: Option<&dyn Bus>,
    shards: &[u32],
    now: DateTime<Utc>,
    deadline: Instant,
    run: &Run,
) -> anyhow::Result<bool> {
    let Some(bus) = bus else { return Ok(true) };
    let upto = now.max(Utc::now());
    for &shard in shards {
        let mut start: Option<Cursor> = None;
        loop {
            if Instant::now() >= deadline {
                return Ok(false);
            }
            let (page, next) = app.events.due_page(shard, upto, crate::lanes::PAGE, start).await?;
            run.tally(|s| {
                s.shard_queries += 1;
                s.items_read += page.len();
            });
            let events: Vec<EventRecord> = page
                .into_iter()
                .filter_map(|e| {
                    e.map_err(|e| tracing::error!(shard, error = format!("{e:#}"), "unreadable event")).ok()
                })
                .collect();
            if !publish(app, bus, events, run).await? {
                return Ok(true); // the bus is down: the rest waits for the next run
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    Ok(true)
}

/// Publishes in rounds: round `r` takes each account's `r`-th event, so an account's events go
/// out in `seq` order and one that fails holds back the account's later ones. `false` if the bus
/// could not be reached.
async fn publish(app: &App, bus: &dyn Bus, events: Vec<EventRecord>, run: &Run) -> anyhow::Result<bool> {
    let mut by_account: BTreeMap<String, Vec<EventRecord>> = BTreeMap::new();
    for e in events {
        by_account.entry(e.account_id.clone()).or_default().push(e);
    }
    for list in by_account.values_mut() {
        list.sort_by_key(|e| std::cmp::Reverse(e.seq)); // popped from the end: lowest seq first
    }
    let mut held: HashSet<String> = HashSet::new();
    loop {
        let round: Vec<EventRecord> =
            by_account.iter_mut().filter(|(a, _)| !held.contains(*a)).filter_map(|(_, l)| l.pop()).collect();
        if round.is_empty() {
            return Ok(true);
        }
        for batch in round.chunks(BATCH) {
            let ok = match bus.put(batch).await {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "the event bus is unreachable; events wait for the next run"
                    );
                    run.tally(|s| s.events_failed += batch.len());
                    return Ok(false);
                }
            };
            let (sent, failed): (Vec<_>, Vec<_>) = batch.iter().zip(ok).partition(|(_, ok)| *ok);
            let sent: Vec<EventRecord> = sent.into_iter().map(|(e, _)| e.clone()).collect();
            for (e, _) in &failed {
                tracing::warn!(event_id = %e.event_id, "the bus refused an event; it is retried alone next run");
                held.insert(e.account_id.clone());
            }
            app.events.published(&sent).await?;
            run.tally(|s| {
                s.events_published += sent.len();
                s.events_failed += failed.len();
            });
        }
    }
}
