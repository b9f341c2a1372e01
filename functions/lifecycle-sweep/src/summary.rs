//! What a run did, counted by items that run side by side, and the mail they leave to send.

use chrono::{DateTime, Utc};
use platform::outbox::Delivery;
use platform::repo::outbox::OutboxMail;
use serde::Serialize;
use std::sync::Mutex;

#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Summary {
    pub now: Option<DateTime<Utc>>,
    /// The logical shards this run swept (all of them for a schedule sent straight to it).
    pub shards: usize,
    pub due: usize,
    pub transitions: usize,
    pub notices_sent: usize,
    pub notices_failed: usize,
    pub charges_requested: usize,
    pub charges_made: usize,
    pub charges_found: usize,
    pub charges_declined: usize,
    /// Mail whose lease or retry time had come, taken from the mail lane.
    pub mails_retried: usize,
    /// Mail set aside as failed in this run (SES refused it for good, or it ran out of tries).
    pub mails_failed: usize,
    /// Events for the product published to the bus, and those that must wait for another run.
    pub events_published: usize,
    pub events_failed: usize,
    /// Items moved out of the partitions of the release before logical shards.
    pub legacy_moved: usize,
    /// The partition this run started at (each run starts at another, so none is always last).
    pub first_partition: String,
    pub purged_accounts: usize,
    pub terms_notices: usize,
    pub lost_races: usize,
    pub items_read: usize,
    /// Queries of the due index (a run's fixed cost: per partition, not per item).
    pub shard_queries: usize,
    pub ddb_requests: u64,
    /// The pace of the mail lane, sends per second (SES's `MaxSendRate` shared by the workers).
    pub send_rate: f64,
    /// How long the oldest due item this run found had been due, in seconds (0: none was):
    /// the `SweepLagSeconds` metric, alarmed on when the sweep falls behind.
    pub lag_seconds: i64,
    /// Wall time of each lane that ran, in milliseconds (where the run's time went).
    pub lane_ms: std::collections::BTreeMap<&'static str, u64>,
    pub complete: bool,
}

impl Summary {
    pub fn delivered(&mut self, d: Delivery) {
        self.notices_sent += d.sent;
        self.notices_failed += d.failed;
        self.mails_failed += d.set_aside;
    }
}

/// The run's shared state: the tally, and mail committed by this run that it holds the lease of.
#[derive(Default)]
pub(crate) struct Run {
    summary: Mutex<Summary>,
    queued: Mutex<Vec<OutboxMail>>,
}

impl Run {
    pub fn new(s: Summary) -> Run {
        Run { summary: Mutex::new(s), queued: Mutex::new(Vec::new()) }
    }
    pub fn tally(&self, f: impl FnOnce(&mut Summary)) {
        // A panic elsewhere cannot leave a count half-written: the tally is plain numbers.
        let mut s = self.summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s);
    }
    pub fn queue(&self, mails: Vec<OutboxMail>) {
        self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(mails);
    }
    pub fn take_queue(&self) -> Vec<OutboxMail> {
        std::mem::take(&mut *self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
    pub fn summary(&self) -> Summary {
        self.summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}
