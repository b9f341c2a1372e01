//! Payments: Stripe events applied once, and the payments that could not be applied (kept
//! outside every account, so an account's deletion keeps them; no personal data in them).

use crate::dynamo::expr::{n, Cond};
use crate::dynamo::item::{from_item, to_item, to_item_at};
use crate::dynamo::keys::{entity, Entity, Key, EXPIRES_AT};
use crate::dynamo::store::{Store, Tag, Write};
use crate::repo::outbox::RETENTION_DAYS;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// `WEBHOOK#<event id>`: written with the change an event causes, so the event applies once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeenEvent {
    pub event_id: String,
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `UNAPPLIED/<at>#<event>`: money received that matched nothing, or could not be applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnappliedPayment {
    pub event_id: String,
    pub payment_intent: String,
    pub account_id: Option<String>,
    pub amount: u64,
    pub currency: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Payments {
    pub(crate) store: Store,
}

impl Payments {
    /// The marker of an event, new only; kept `RETENTION_DAYS` (TTL cleans up).
    pub fn event_once(&self, e: &SeenEvent, now: DateTime<Utc>) -> Result<Write> {
        let mut item = to_item(e)?;
        item.insert(EXPIRES_AT.into(), n((now + Duration::days(RETENTION_DAYS)).timestamp()));
        Ok(Write::put(Tag::EventOnce, item, Some(Cond::New)))
    }

    /// The record of an unapplied payment, once per event.
    pub fn unapplied(&self, u: &UnappliedPayment) -> Result<Write> {
        let item = to_item_at(&Key::unapplied(u.at, &u.event_id), entity::UNAPPLIED, u)?;
        Ok(Write::put(Tag::Record, item, Some(Cond::New)))
    }

    /// Every unapplied payment, oldest first (an operator refunds them by hand, §7.5).
    pub async fn unapplied_list(&self) -> Result<Vec<UnappliedPayment>> {
        let (pk, prefix) = Key::unapplied_prefix();
        self.store.query(pk, prefix).await?.into_iter().map(from_item).collect()
    }

    /// Writes labelled writes as one transaction (an event with no account left to change).
    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), crate::dynamo::WriteError> {
        self.store.transact(writes).await
    }

    pub async fn seen(&self, event_id: &str) -> Result<bool> {
        let probe = SeenEvent { event_id: event_id.into(), account_id: None, kind: String::new() };
        Ok(self.store.get(&probe.key()).await?.is_some())
    }
}
