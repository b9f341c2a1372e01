//! Events for the product (SPEC: Events for the product): each is written in the transaction of
//! the change it reports, as `EVENTS#<account>/SEQ#<n>` (outside the account's partition, so
//! deletion cannot purge one not yet published) in the due index's event lane, and published by
//! the sweep, then deleted. The account's standing is kept on its domain claim for the product's
//! one-item read.

use crate::dynamo::expr::{n, s, Cond, Update};
use crate::dynamo::item::{from_item, to_item_at};
use crate::dynamo::keys::{entity, event_due_pk, shard, Key, DUE_AT, DUE_PK};
use crate::dynamo::store::{Cursor, Store, Tag, Write};
use anyhow::Result;
use chrono::{DateTime, Utc};
use domain::events::AccountEvent;
use domain::types::PlanId;
use domain::{Account, State, StateReason};
use serde::{Deserialize, Serialize};

/// An event waiting to be published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecord {
    pub account_id: String,
    pub seq: u64,
    pub event_id: String,
    pub detail_type: String,
    pub at: DateTime<Utc>,
    /// The detail as published (JSON).
    pub detail: String,
}

/// What the product reads of an account by its domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    pub state: State,
    pub state_reason: Option<StateReason>,
    pub plan: PlanId,
    /// The `seq` of the last event this standing reflects.
    #[serde(rename = "standing_version")]
    pub version: u64,
}

impl Standing {
    pub fn of(a: &Account) -> Standing {
        Standing { state: a.state, state_reason: a.state_reason, plan: a.plan.clone(), version: a.event_seq }
    }
}

/// The write of one event, due for publishing at once.
pub(crate) fn put(account_id: &str, e: &AccountEvent) -> Result<Write> {
    let r = EventRecord {
        account_id: account_id.to_string(),
        seq: e.seq,
        event_id: e.event_id.clone(),
        detail_type: e.detail_type.to_string(),
        at: e.at,
        detail: e.detail.to_string(),
    };
    let mut item = to_item_at(&Key::product_event(account_id, e.seq), entity::PRODUCT_EVENT, &r)?;
    item.insert(DUE_PK.into(), s(event_due_pk(shard(account_id))));
    item.insert(DUE_AT.into(), n(Utc::now().timestamp()));
    Ok(Write::put(Tag::Record, item, Some(Cond::New)))
}

/// The account's new standing on its domain claim (with a change of state or plan). Not
/// conditional: the account holds its label while it lives, so a claim found missing is written
/// whole again rather than failing the change.
pub(crate) fn standing_update(a: &Account) -> Write {
    let st = Standing::of(a);
    let reason = st.state_reason.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(String::from));
    let mut u = Update::new()
        .set("account_id", s(&a.id))
        .set("domain", s(a.domain.as_str()))
        .set(crate::dynamo::keys::ENTITY, s(entity::DOMAIN_CLAIM))
        .set("state", s(st.state.as_str()))
        .set("plan", s(st.plan.as_str()))
        .set("standing_version", n(st.version as i64));
    u = match reason {
        Some(r) => u.set("state_reason", s(&r)),
        None => u.remove("state_reason"),
    };
    Write::update(Tag::AccountItem, Key::domain_claim(a.domain.as_str()), u, None)
}

#[derive(Clone)]
pub struct Events {
    pub(crate) store: Store,
}

impl Events {
    /// One page of a shard's unpublished events, earliest written first.
    pub async fn due_page(
        &self,
        shard: u32,
        upto: DateTime<Utc>,
        limit: i32,
        start: Option<Cursor>,
    ) -> Result<(Vec<Result<EventRecord>>, Option<Cursor>)> {
        let page = self.store.due_page(&event_due_pk(shard), Some(upto.timestamp()), limit, start).await?;
        Ok((page.items.into_iter().map(from_item).collect(), page.next))
    }

    /// Published: gone (25 to a request). Another sweep may have published them too (at least once).
    pub async fn published(&self, events: &[EventRecord]) -> Result<()> {
        let keys: Vec<Key> = events.iter().map(|e| Key::product_event(&e.account_id, e.seq)).collect();
        self.store.delete_all(&keys).await
    }
}
