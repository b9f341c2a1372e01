//! The DynamoDB adapter: reads, conditional writes, and the one transaction that commits an
//! account change together with its history and its outbox mail.

use crate::items::*;
use anyhow::{anyhow, Context, Result};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use domain::lifecycle::{due_at, Effect};
use domain::notice::render;
use domain::{Account, Policy};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use crate::items::OUTBOX_LEASE_SECONDS;
/// Sent mail and seen webhooks are kept this long, then DynamoDB's TTL cleans them up.
pub const RETENTION_DAYS: i64 = 90;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    shards: u32,
    requests: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A condition lost: the indexes of the transaction's items whose conditions failed.
    #[error("a conditional write lost (items {failed:?})")]
    Conflict { failed: Vec<usize> },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// An account change to commit: the new account, the version it was read at, and what happened.
pub struct Change<'a> {
    pub account: &'a mut Account,
    /// `None` creates the account (it must not exist).
    pub expected_version: Option<u64>,
    pub effects: &'a [Effect],
    /// History lines beyond the effects (signup acceptance, a failed payment, ...).
    pub history: Vec<HistoryEvent>,
    /// Further writes in the same transaction; their indexes in a conflict start at 1.
    pub extra: Vec<TransactWriteItem>,
    pub now: DateTime<Utc>,
}

pub fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem> {
    let p = Put::builder().table_name(table).set_item(Some(item)).set_condition_expression(condition.map(String::from)).build()?;
    Ok(TransactWriteItem::builder().put(p).build())
}

pub fn delete(table: &str, pk: String, sk: &str) -> Result<TransactWriteItem> {
    let d = Delete::builder().table_name(table).set_key(Some(key(pk, sk))).build()?;
    Ok(TransactWriteItem::builder().delete(d).build())
}

fn effect_history(e: &Effect) -> HistoryEvent {
    HistoryEvent { at: e.at(), kind: e.label(), detail: serde_json::to_value(e).unwrap_or_default() }
}

impl Store {
    pub fn new(client: Client, table: &str, shards: u32) -> Store {
        Store { client, table: table.to_string(), shards, requests: Arc::new(AtomicU64::new(0)) }
    }
    pub fn table(&self) -> &str {
        &self.table
    }
    pub fn shards(&self) -> u32 {
        self.shards
    }
    pub fn client(&self) -> &Client {
        &self.client
    }
    /// DynamoDB requests made through this store so far (logged per invocation, read by the bench).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        self.count();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .context("GetItem")?;
        Ok(out.item)
    }

    /// Reads several items in one request; missing ones are simply absent.
    pub async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>> {
        let mut found = Vec::new();
        let mut pending = Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build()?);
        while let Some(ka) = pending.take() {
            self.count();
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ka)
                .send()
                .await
                .context("BatchGetItem")?;
            if let Some(mut r) = out.responses {
                found.extend(r.remove(&self.table).unwrap_or_default());
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        Ok(found)
    }

    /// A put that must not overwrite: `Ok(false)` when the item already exists.
    pub async fn put_new(&self, item: Item) -> Result<bool> {
        self.count();
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(anyhow!(e).context("PutItem")),
        }
    }

    async fn put_conditional(&self, p: Put) -> Result<(), WriteError> {
        self.count();
        let r = self
            .client
            .put_item()
            .table_name(p.table_name)
            .set_item(Some(p.item))
            .set_condition_expression(p.condition_expression)
            .set_expression_attribute_names(p.expression_attribute_names)
            .set_expression_attribute_values(p.expression_attribute_values)
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(WriteError::Conflict { failed: vec![0] })
            }
            Err(e) => Err(WriteError::Other(anyhow!(e).context("PutItem"))),
        }
    }

    /// An unconditional UpdateItem with the given expression and values.
    pub async fn update(&self, k: Item, expr: &str, values: &[(&str, AttributeValue)]) -> Result<()> {
        self.count();
        let values = values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(k))
            .update_expression(expr)
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .context("UpdateItem")?;
        Ok(())
    }

    pub async fn put(&self, item: Item) -> Result<()> {
        self.count();
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.context("PutItem")?;
        Ok(())
    }

    /// Every item of one partition whose sort key starts with `prefix`, oldest first.
    pub async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.count();
            let mut q = self.client.query().table_name(&self.table).expression_attribute_values(":pk", s(pk));
            q = if prefix.is_empty() {
                q.key_condition_expression("PK = :pk")
            } else {
                q.key_condition_expression("PK = :pk AND begins_with(SK, :p)").expression_attribute_values(":p", s(prefix))
            };
            let out = q
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .context("Query")?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    /// One page of the due-time index: items of `shard` due at or before `now`, earliest first.
    pub async fn due_page(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>)> {
        self.count();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("DuePK = :p AND DueAt <= :now")
            .expression_attribute_values(":p", s(format!("DUE#{shard}")))
            .expression_attribute_values(":now", n(now.timestamp()))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("Query ByDueTime")?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// One page of a whole shard of the due-time index, due or not: every live account is in it.
    pub async fn index_page(&self, shard: u32, limit: i32, start: Option<Item>) -> Result<(Vec<Item>, Option<Item>)> {
        self.count();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("DuePK = :p")
            .expression_attribute_values(":p", s(format!("DUE#{shard}")))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("Query ByDueTime shard")?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), WriteError> {
        self.count();
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) => match se.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let failed = c
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect::<Vec<_>>();
                    if failed.is_empty() {
                        Err(WriteError::Other(anyhow!("transaction cancelled: {:?}", c.cancellation_reasons())))
                    } else {
                        Err(WriteError::Conflict { failed })
                    }
                }
                other => Err(WriteError::Other(anyhow!(other).context("TransactWriteItems"))),
            },
            Err(e) => Err(WriteError::Other(anyhow!(e).context("TransactWriteItems"))),
        }
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>> {
        match self.get(&account_pk(id), META).await? {
            Some(item) if item.get("state").and_then(|v| v.as_s().ok()).map(String::as_str) != Some("deleted") => {
                Ok(Some(from_item(item)?))
            }
            _ => Ok(None),
        }
    }

    /// The account item as written: the account plus its place in the due-time index.
    pub fn account_item(&self, a: &Account, p: &Policy) -> Result<Item> {
        let mut item = to_item(account_pk(&a.id), META, "account", a)?;
        set_due(&mut item, &a.id, self.shards, due_at(a, p));
        Ok(item)
    }

    /// Commits an account change in one transaction: the account (conditional on its version),
    /// its history, and each notice as an outbox mail already leased to this caller. A deletion
    /// writes a tombstone instead and releases the domain and e-mail claims (§21.4).
    /// Returns the outbox mails to deliver now.
    pub async fn commit(&self, c: Change<'_>, policy: &Policy) -> Result<Vec<OutboxMail>, WriteError> {
        let (mut items, mails) = self.commit_items(c, policy)?;
        if items.len() == 1 {
            // A lone conditional put costs half a transaction's write capacity.
            if let Some(p) = items.pop().and_then(|i| i.put) {
                return self.put_conditional(p).await.map(|()| mails);
            }
        }
        self.transact(items).await?;
        Ok(mails)
    }

    pub fn commit_items(&self, c: Change<'_>, policy: &Policy) -> Result<(Vec<TransactWriteItem>, Vec<OutboxMail>)> {
        let a = c.account;
        let condition = match c.expected_version {
            Some(v) => {
                a.version = v + 1;
                format!("version = :v{v}")
            }
            None => {
                a.version = 1;
                "attribute_not_exists(PK)".into()
            }
        };
        let deleted = c.effects.iter().find_map(|e| match e {
            Effect::Delete { at, reason } => Some((*at, *reason)),
            _ => None,
        });
        let head = match deleted {
            Some((at, reason)) => {
                let t = Tombstone {
                    id: a.id.clone(),
                    state: "deleted".into(),
                    created_at: a.created_at,
                    deleted_at: at,
                    reason,
                    purge_pending: true,
                    version: a.version,
                };
                let mut item = to_item(account_pk(&a.id), META, "tombstone", &t)?;
                set_due(&mut item, &a.id, self.shards, Some(c.now));
                item
            }
            None => self.account_item(a, policy)?,
        };
        let mut head_put = Put::builder().table_name(&self.table).set_item(Some(head)).condition_expression(condition);
        if let Some(v) = c.expected_version {
            head_put = head_put.expression_attribute_values(format!(":v{v}"), n(v as i64));
        }
        let mut items = vec![TransactWriteItem::builder().put(head_put.build()?).build()];
        items.extend(c.extra);
        let mut mails = Vec::new();
        if deleted.is_some() {
            items.push(delete(&self.table, domain_pk(&a.domain), "DOMAIN")?);
            for e in &a.admins {
                items.push(delete(&self.table, email_pk(e), "EMAIL")?);
            }
            return Ok((items, mails));
        }
        let history = c.history.into_iter().chain(c.effects.iter().map(effect_history));
        for (i, h) in history.enumerate() {
            let sk = format!("EVENT#{}#{:010}#{i:03}", h.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), a.version);
            items.push(put(&self.table, to_item(account_pk(&a.id), sk, "event", &h)?, None)?);
        }
        for e in c.effects {
            if let Effect::ChargeRequest { at, plan, months, term_start } = e {
                // §7.7: the request the payment processor takes; it answers through the webhook.
                let price = domain::Catalog::builtin().get(plan).and_then(|p| domain::billing::price(p, *months));
                let charge = serde_json::json!({
                    "account_id": a.id, "plan": plan, "months": months, "term_start": term_start,
                    "amount": price.as_ref().map(|m| m.amount), "currency": price.map(|m| m.currency),
                    "status": "requested", "requested_at": at,
                });
                let pk = format!("CHARGE#{}#{}", a.id, term_start.timestamp());
                items.push(put(&self.table, to_item(pk, "CHARGE", "charge_request", &charge)?, Some("attribute_not_exists(PK)"))?);
            }
            if let Effect::Notice(notice) = e {
                let m = OutboxMail::leased(notice.key(&a.id), Some(a.id.clone()), a.admins.clone(), render(notice, a, policy), c.now);
                items.push(self.outbox_put(&m)?);
                mails.push(m);
            }
        }
        Ok((items, mails))
    }

    /// An outbox mail as an item; unsent mail sits in the due-time index at its lease end.
    pub fn outbox_item(&self, m: &OutboxMail) -> Result<Item> {
        let mut item = to_item(outbox_pk(&m.key), "OUTBOX", "outbox", m)?;
        let due = (m.status != SENT).then(|| DateTime::from_timestamp(m.lease_until, 0)).flatten();
        set_due(&mut item, &m.key, self.shards, due);
        Ok(item)
    }

    /// The write of a new outbox mail, once only: its key is the notice's identity.
    pub fn outbox_put(&self, m: &OutboxMail) -> Result<TransactWriteItem> {
        put(&self.table, self.outbox_item(m)?, Some("attribute_not_exists(PK)"))
    }

    /// Takes an unsent mail whose lease has run out; `None` if someone else has it or it was sent.
    pub async fn claim_mail(&self, key: &str, now: DateTime<Utc>) -> Result<Option<OutboxMail>> {
        self.count();
        let lease = (now + Duration::seconds(OUTBOX_LEASE_SECONDS)).timestamp();
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of_outbox(key)))
            .update_expression("SET lease_until = :lease, DueAt = :lease, attempts = attempts + :one")
            .condition_expression("#st <> :sent AND lease_until <= :now")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":lease", n(lease))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match r {
            Ok(out) => Ok(Some(from_item(out.attributes.unwrap_or_default())?)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(anyhow!(e).context("UpdateItem claim mail")),
        }
    }

    /// Marks a mail sent by the holder of its lease, and takes it out of the due-time index.
    pub async fn mark_sent(&self, m: &OutboxMail, message_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.count();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of_outbox(&m.key)))
            // Once sent, only the key and status are needed to never send it again: the
            // recipients and text (personal data) go now, not when TTL removes the item.
            .update_expression("SET #st = :sent, message_id = :mid, sent_at = :now, expires_at = :exp REMOVE DuePK, DueAt, #to, #text, subject")
            .condition_expression("lease_until = :lease")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#to", "to")
            .expression_attribute_names("#text", "text")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":mid", s(message_id))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":exp", n((now + Duration::days(RETENTION_DAYS)).timestamp()))
            .expression_attribute_values(":lease", n(m.lease_until))
            .send()
            .await
            .context("UpdateItem mark sent")?;
        Ok(())
    }

    /// Removes every remaining item of a deleted account, then clears the tombstone's purge flag.
    /// Safe to repeat: a crash part-way leaves the tombstone due, and the next sweep finishes.
    pub async fn purge(&self, account_id: &str) -> Result<usize> {
        let pk = account_pk(account_id);
        let items = self.query_prefix(&pk, "").await?;
        let doomed: Vec<WriteRequest> = items
            .iter()
            .filter(|i| i.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) != Some(META))
            .filter_map(|i| {
                let k: HashMap<String, AttributeValue> =
                    [PK, SK].iter().filter_map(|f| i.get(*f).map(|v| (f.to_string(), v.clone()))).collect();
                DeleteRequest::builder().set_key(Some(k)).build().ok()
            })
            .map(|d| WriteRequest::builder().delete_request(d).build())
            .collect();
        let removed = doomed.len();
        for chunk in doomed.chunks(25) {
            let mut pending = Some(chunk.to_vec());
            while let Some(reqs) = pending.take() {
                self.count();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, reqs)
                    .send()
                    .await
                    .context("BatchWriteItem purge")?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).filter(|v| !v.is_empty());
            }
        }
        self.count();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, META)))
            .update_expression("SET purge_pending = :f REMOVE DuePK, DueAt")
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .send()
            .await
            .context("UpdateItem purge done")?;
        Ok(removed)
    }
}

fn key_of_outbox(k: &str) -> Item {
    key(outbox_pk(k), "OUTBOX")
}
