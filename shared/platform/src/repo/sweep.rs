//! What the sweep reads and writes: pages of the due-time index decoded into typed items, the
//! Terms rollout's saved place per partition, the data-request step, and the draining of the
//! partitions of the release before logical shards.

use crate::dynamo::expr::{b, n, s, Cond, Update};
use crate::dynamo::item::{due_at_of, entity_of, from_item, key_item, key_of, set_due, to_item, Item};
use crate::dynamo::keys::{due_pk, entity, legacy_due_pk, shard, Key, DUE_PK, ENTITY};
use crate::dynamo::store::{Cursor, Store, Tag, Write, WriteError};
use crate::repo::accounts::{AccountRecord, Tombstone};
use crate::repo::outbox::OutboxMail;
use anyhow::{anyhow, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use domain::forms::DataRequestRecord;
use domain::Account;
use std::collections::HashMap;

/// An item of the due-time index, decoded.
#[derive(Debug)]
pub enum DueItem {
    Account(Box<Account>),
    Tombstone(Tombstone),
    /// With the due time read, which the step's write is conditional on.
    DataRequest {
        record: DataRequestRecord,
        due_at: i64,
    },
}

/// One page of the due-time index: each item decoded, or the error naming its key.
pub struct DuePage {
    pub items: Vec<Result<DueItem>>,
    pub next: Option<Cursor>,
    /// The due time of the page's first item: the index is in due-time order, so on a
    /// partition's first page it is the oldest due item there (the sweep's lag).
    pub oldest_due_at: Option<i64>,
}

/// Where the Terms rollout of a version stands in one partition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollout {
    pub done: bool,
    pub start: Option<Cursor>,
}

#[derive(Clone)]
pub struct Sweep {
    pub(crate) store: Store,
    /// `form_retention_days`: a data request re-written by a step keeps its expiry.
    pub(crate) retention_days: i64,
    /// `DUE_SHARDS` of the release before logical shards: its partitions are drained.
    pub(crate) legacy_shards: u32,
}

fn decode(item: Item) -> Result<DueItem> {
    Ok(match entity_of(&item) {
        Some(entity::ACCOUNT) | Some(entity::TOMBSTONE) => match AccountRecord::from_item(item)? {
            AccountRecord::Live(a) => DueItem::Account(a),
            AccountRecord::Deleted(t) => DueItem::Tombstone(t),
        },
        Some(entity::DATA_REQUEST) => {
            let due_at = due_at_of(&item).unwrap_or_default();
            DueItem::DataRequest { record: from_item(item)?, due_at }
        }
        other => {
            let k = key_of(&item);
            return Err(anyhow!("unknown item {}/{} ({other:?}) in the due index", k.pk, k.sk));
        }
    })
}

impl Sweep {
    /// The due-index partitions a worker of these logical shards sweeps: theirs, and the old
    /// partitions whose items fall in them (old partition `n` holds shards ≡ n modulo their count,
    /// so it goes to the worker of shard `n`).
    pub fn partitions(&self, mine: &[u32]) -> Vec<String> {
        let mut parts: Vec<String> = mine.iter().map(|s| due_pk(*s)).collect();
        parts.extend((0..self.legacy_shards).filter(|n| mine.contains(n)).map(legacy_due_pk));
        parts
    }

    /// One page of a partition's due items, earliest first.
    pub async fn due_page(&self, pk: &str, now: DateTime<Utc>, limit: i32, start: Option<Cursor>) -> Result<DuePage> {
        let page = self.store.due_page(pk, Some(now.timestamp()), limit, start).await?;
        let oldest_due_at = page.items.first().and_then(due_at_of);
        Ok(DuePage { items: page.items.into_iter().map(decode).collect(), next: page.next, oldest_due_at })
    }

    /// One page of a whole partition, due or not (every live account is in it): its accounts.
    pub async fn accounts_page(
        &self,
        pk: &str,
        limit: i32,
        start: Option<Cursor>,
    ) -> Result<(Vec<Result<Account>>, Option<Cursor>)> {
        let page = self.store.due_page(pk, None, limit, start).await?;
        let accounts =
            page.items.into_iter().filter(|i| entity_of(i) == Some(entity::ACCOUNT)).map(from_item).collect();
        Ok((accounts, page.next))
    }

    /// Where the rollout of `version` stands in each of `partitions` (one request per 100).
    pub async fn rollouts(&self, version: &str, partitions: &[String]) -> Result<HashMap<String, Rollout>> {
        let everywhere = Key::terms_rollout(version);
        let mut keys: Vec<Key> = partitions.iter().map(|p| Key::terms_rollout_in(version, p)).collect();
        keys.push(everywhere.clone());
        let mut found: HashMap<Key, Item> = HashMap::new();
        for item in self.store.get_many(&keys).await? {
            found.insert(key_of(&item), item);
        }
        let all_done =
            found.get(&everywhere).is_some_and(|i| i.get("done").and_then(|v| v.as_bool().ok()) == Some(&true));
        let mut out = HashMap::new();
        for p in partitions {
            let r = match found.get(&Key::terms_rollout_in(version, p)) {
                _ if all_done => Rollout { done: true, start: None },
                Some(item) => rollout_of(item)?,
                None => Rollout::default(),
            };
            out.insert(p.clone(), r);
        }
        Ok(out)
    }

    /// Saves the rollout's place in one partition.
    pub async fn save_rollout(&self, version: &str, pk: &str, r: &Rollout) -> Result<()> {
        let mut item = key_item(&Key::terms_rollout_in(version, pk));
        item.insert("done".into(), b(r.done));
        item.insert(ENTITY.into(), s(entity::ROLLOUT));
        if let Some(c) = &r.start {
            item.insert("start".into(), AttributeValue::M(c.0.clone()));
        }
        self.store.write(Write::put(Tag::Setting, item, None)).await?;
        Ok(())
    }

    /// Marks a table that has no accounts yet as already told of `version` (nobody to tell);
    /// never undoes a rollout in progress. Whether it wrote the marker.
    pub async fn rollout_done_if_empty(&self, version: &str) -> Result<bool> {
        if !self.store.due_index_empty().await? {
            return Ok(false);
        }
        let mut item = key_item(&Key::terms_rollout(version));
        item.insert("done".into(), b(true));
        item.insert(ENTITY.into(), s(entity::ROLLOUT));
        match self.store.write(Write::put(Tag::Setting, item, Some(Cond::New))).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The data request's new state, conditional on the due time read (of two racing sweeps one acts).
    pub fn data_request_step(
        &self,
        r: &DataRequestRecord,
        read_due_at: i64,
        next: Option<DateTime<Utc>>,
    ) -> Result<Write> {
        let mut item = to_item(r)?;
        set_due(&mut item, &r.id, next);
        let until = r.received_at + chrono::Duration::days(self.retention_days);
        item.insert(crate::dynamo::keys::EXPIRES_AT.into(), n(until.timestamp()));
        Ok(Write::put(Tag::Decision, item, Some(Cond::Eq(crate::dynamo::keys::DUE_AT, n(read_due_at)))))
    }

    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        self.store.transact(writes).await
    }

    /// Moves up to a page of items out of an old partition into their logical shards; how many
    /// it moved (0: the partition is empty). Each move is conditional on the item still being
    /// there, so it can run again, or beside a writer that moves it first.
    pub async fn drain_legacy(&self, pk: &str, limit: i32) -> Result<usize> {
        let page = self.store.due_page(pk, None, limit, None).await?;
        let mut moved = 0;
        for item in page.items {
            let r = match entity_of(&item) {
                Some(entity::OUTBOX) => self.move_mail(item).await,
                _ => self.move_to_shard(item, pk).await,
            };
            match r {
                Ok(()) => moved += 1,
                Err(e) => tracing::error!(error = format!("{e:#}"), "an old-partition item was not moved"),
            }
        }
        Ok(moved)
    }

    async fn move_to_shard(&self, item: Item, from: &str) -> Result<()> {
        let id = item.get("id").and_then(|v| v.as_s().ok()).ok_or_else(|| anyhow!("item without id in {from}"))?;
        let u = Update::new().set(DUE_PK, s(due_pk(shard(id))));
        match self.store.write(Write::update(Tag::Setting, key_of(&item), u, Some(Cond::Eq(DUE_PK, s(from))))).await {
            Ok(()) | Err(WriteError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Old mail lived at `OUTBOX#<key>` whoever it was for: it moves to its account's outbox
    /// partition and the mail lane, as one transaction.
    async fn move_mail(&self, item: Item) -> Result<()> {
        let old = key_of(&item);
        let m: OutboxMail = from_item(item.clone())?;
        let outbox = crate::repo::outbox::Outbox { store: self.store.clone(), settings: Default::default() };
        let put = outbox.put(&m)?;
        if put.key() == old {
            let u = Update::new().set(DUE_PK, s(crate::dynamo::keys::mail_due_pk(shard(&m.key))));
            self.store.write(Write::update(Tag::Setting, old, u, None)).await?;
            return Ok(());
        }
        match self.store.transact(vec![put, Write::delete(Tag::Outbox, old)]).await {
            Ok(()) | Err(WriteError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn rollout_of(item: &Item) -> Result<Rollout> {
    let k = key_of(item);
    let corrupt = || anyhow!("corrupt item {}/{}", k.pk, k.sk);
    let done = item.get("done").map(|v| v.as_bool().copied().map_err(|_| corrupt())).transpose()?.unwrap_or(false);
    let start = match item.get("start") {
        Some(v) => Some(Cursor(v.as_m().map_err(|_| corrupt())?.clone())),
        None => None,
    };
    Ok(Rollout { done, start })
}
