//! The DynamoDB adapter: counted reads and labelled writes. Every request goes through here, so
//! the per-request count the bench reads is the count on the wire.

use super::expr::{Cond, Names, Update};
use super::item::{key_item, Item};
use super::keys::{Key, DUE_AT, DUE_INDEX, DUE_PK};
use anyhow::{anyhow, Context, Result};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a write's condition protects: a lost condition comes back as its tag, never a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    /// The account at the version read (or: no account with this id yet).
    Account,
    /// One account per domain label.
    DomainClaim,
    /// One account per administrator e-mail address.
    EmailClaim,
    /// An account's user or history line (unconditional).
    AccountItem,
    /// An outbox mail, written once under its key.
    Outbox,
    /// A webhook event applied once.
    EventOnce,
    /// A renewal charge requested once per term.
    Charge,
    /// A new record under a fresh id (form, notice, request).
    Record,
    /// A partner's lead slot, taken at the stamp read.
    PartnerSlot,
    /// The sign-in lock's counters with room left.
    Throttle,
    /// A public route's rate limit (per source or per recipient) with room left.
    RateLimit,
    /// An idempotency key not used before (or expired).
    Idempotency,
    /// A decision recorded once (a notice's outcome, a counter at the value read).
    Decision,
    /// Settings and markers (unconditional).
    Setting,
}

/// One write of a transaction.
#[derive(Debug, Clone)]
pub enum Op {
    Put { item: Item, cond: Option<Cond> },
    Update { key: Key, update: Update, cond: Option<Cond> },
    Delete { key: Key, cond: Option<Cond> },
    Check { key: Key, cond: Cond },
}

/// A write labelled by what its condition protects.
#[derive(Debug, Clone)]
pub struct Write {
    pub tag: Tag,
    pub op: Op,
}

impl Write {
    pub(crate) fn put(tag: Tag, item: Item, cond: Option<Cond>) -> Write {
        Write { tag, op: Op::Put { item, cond } }
    }
    pub(crate) fn update(tag: Tag, key: Key, update: Update, cond: Option<Cond>) -> Write {
        Write { tag, op: Op::Update { key, update, cond } }
    }
    pub(crate) fn delete(tag: Tag, key: Key) -> Write {
        Write { tag, op: Op::Delete { key, cond: None } }
    }
    /// The key of the item it writes.
    pub(crate) fn key(&self) -> Key {
        match &self.op {
            Op::Put { item, .. } => super::item::key_of(item),
            Op::Update { key, .. } | Op::Delete { key, .. } | Op::Check { key, .. } => key.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Conditions lost, named by their tags.
    #[error("a conditional write lost: {0:?}")]
    Conflict(Vec<Tag>),
    /// Another transaction held one of the items (real DynamoDB only): nothing was written; retry.
    #[error("a concurrent transaction touched the same items")]
    Contended,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl WriteError {
    pub fn lost(&self, tag: Tag) -> bool {
        matches!(self, WriteError::Conflict(tags) if tags.contains(&tag))
    }
}

/// One page of a query, and where the next one starts.
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// Where a query stopped; opaque to callers.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor(pub(crate) Item);

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    requests: Arc<AtomicU64>,
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl Store {
    pub fn new(client: Client, table: &str) -> Store {
        Store { client, table: table.to_string(), requests: Arc::new(AtomicU64::new(0)) }
    }
    /// The same client on another table, with a count of its own.
    pub fn on_table(&self, table: &str) -> Store {
        Store::new(self.client.clone(), table)
    }
    pub fn table(&self) -> &str {
        &self.table
    }
    /// DynamoDB requests made through this store so far (logged per request, read by the bench).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) async fn get(&self, key: &Key) -> Result<Option<Item>> {
        self.count();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .consistent_read(true)
            .send()
            .await
            .with_context(|| format!("GetItem {}/{}", key.pk, key.sk))?;
        Ok(out.item)
    }

    /// Several items in one request (more if DynamoDB leaves some unprocessed); missing ones are absent.
    /// The items at `keys` that exist, 100 keys to a request (BatchGetItem's limit).
    pub(crate) async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            found.extend(self.get_batch(chunk).await?);
        }
        Ok(found)
    }

    async fn get_batch(&self, keys: &[Key]) -> Result<Vec<Item>> {
        let mut found = Vec::new();
        let keys: Vec<Item> = keys.iter().map(key_item).collect();
        let mut pending = Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build()?);
        while let Some(ka) = pending.take() {
            self.count();
            let out =
                self.client.batch_get_item().request_items(&self.table, ka).send().await.context("BatchGetItem")?;
            if let Some(mut r) = out.responses {
                found.extend(r.remove(&self.table).unwrap_or_default());
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        Ok(found)
    }

    /// Whether the due-time index holds no item at all (a new table): one Scan of one item.
    pub(crate) async fn due_index_empty(&self) -> Result<bool> {
        self.count();
        let out = self.client.scan().table_name(&self.table).index_name(DUE_INDEX).limit(1).send().await;
        Ok(out.context("Scan ByDueTime")?.items.unwrap_or_default().is_empty())
    }

    /// Every item of one partition whose sort key starts with `prefix`, in key order.
    pub(crate) async fn query(&self, pk: &str, prefix: &str) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.count();
            let mut q = self.client.query().table_name(&self.table).expression_attribute_values(":pk", pk_value(pk));
            q = if prefix.is_empty() {
                q.key_condition_expression("PK = :pk")
            } else {
                q.key_condition_expression("PK = :pk AND begins_with(SK, :p)")
                    .expression_attribute_values(":p", pk_value(prefix))
            };
            let out = q
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .with_context(|| format!("Query {pk}"))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    /// One page of a due-index partition, earliest first: the items due at or before `upto`
    /// (epoch seconds), or every item when `upto` is `None`.
    pub(crate) async fn due_page(
        &self,
        due_pk: &str,
        upto: Option<i64>,
        limit: i32,
        start: Option<Cursor>,
    ) -> Result<Page> {
        self.count();
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .expression_attribute_names("#p", DUE_PK)
            .expression_attribute_values(":p", pk_value(due_pk));
        q = match upto {
            Some(t) => q
                .key_condition_expression("#p = :p AND #at <= :now")
                .expression_attribute_names("#at", DUE_AT)
                .expression_attribute_values(":now", super::expr::n(t)),
            None => q.key_condition_expression("#p = :p"),
        };
        let out = q
            .limit(limit)
            .set_exclusive_start_key(start.map(|c| c.0))
            .send()
            .await
            .with_context(|| format!("Query {DUE_INDEX} {due_pk}"))?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty()).map(Cursor);
        Ok(Page { items: out.items.unwrap_or_default(), next })
    }

    /// One write on its own (a single conditional write costs half a transaction's capacity).
    pub(crate) async fn write(&self, w: Write) -> Result<(), WriteError> {
        self.count();
        let tag = w.tag;
        let conflict = |e: &dyn std::fmt::Display| WriteError::Unexpected(anyhow!("{e}"));
        let lost = || WriteError::Conflict(vec![tag]);
        let mut p = Names::default();
        match w.op {
            Op::Put { item, cond } => {
                let c = cond.as_ref().map(|c| p.cond(c));
                match self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(p.names())
                    .set_expression_attribute_values(p.values())
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Err(lost()),
                    Err(e) => Err(conflict(&anyhow!(e).context(format!("PutItem ({tag:?})")))),
                }
            }
            Op::Update { key, update, cond } => {
                match self.update_returning_inner(&key, &update, cond.as_ref(), false).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.retag(tag)),
                }
            }
            Op::Delete { key, cond } => {
                let c = cond.as_ref().map(|c| p.cond(c));
                match self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_item(&key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(p.names())
                    .set_expression_attribute_values(p.values())
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Err(lost()),
                    Err(e) => Err(conflict(&anyhow!(e).context(format!("DeleteItem ({tag:?})")))),
                }
            }
            Op::Check { .. } => Err(WriteError::Unexpected(anyhow!("a condition check needs a transaction"))),
        }
    }

    /// An update that answers the item as it is after the write; `Conflict` when its condition lost.
    pub(crate) async fn update_returning(
        &self,
        tag: Tag,
        key: &Key,
        update: &Update,
        cond: Option<&Cond>,
    ) -> Result<Item, WriteError> {
        self.count();
        self.update_returning_inner(key, update, cond, true).await.map_err(|e| e.retag(tag))
    }

    async fn update_returning_inner(
        &self,
        key: &Key,
        update: &Update,
        cond: Option<&Cond>,
        all_new: bool,
    ) -> Result<Item, WriteError> {
        let mut p = Names::default();
        let expr = p.update(update);
        let c = cond.map(|c| p.cond(c));
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression(expr)
            .set_condition_expression(c)
            .set_expression_attribute_names(p.names())
            .set_expression_attribute_values(p.values())
            .set_return_values(all_new.then_some(ReturnValue::AllNew))
            .send()
            .await;
        match r {
            Ok(out) => Ok(out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Err(WriteError::Conflict(vec![])),
            Err(e) => Err(WriteError::Unexpected(anyhow!(e).context(format!("UpdateItem {}/{}", key.pk, key.sk)))),
        }
    }

    /// Writes all or nothing. One write goes alone (cheaper); a lost condition names its tags.
    pub(crate) async fn transact(&self, mut writes: Vec<Write>) -> Result<(), WriteError> {
        if writes.len() == 1 {
            if let Some(w) = writes.pop() {
                return self.write(w).await;
            }
        }
        let tags: Vec<Tag> = writes.iter().map(|w| w.tag).collect();
        let items = writes.into_iter().map(|w| self.transact_item(w)).collect::<Result<Vec<_>>>()?;
        self.count();
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(se)) => match se.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let lost: Vec<Tag> = c
                        .cancellation_reasons()
                        .iter()
                        .zip(&tags)
                        .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(_, t)| *t)
                        .collect();
                    let contended = c.cancellation_reasons().iter().any(|r| r.code() == Some("TransactionConflict"));
                    if lost.is_empty() && contended {
                        Err(WriteError::Contended)
                    } else if lost.is_empty() {
                        Err(anyhow!("transaction cancelled: {:?}", c.cancellation_reasons()).into())
                    } else {
                        Err(WriteError::Conflict(lost))
                    }
                }
                other => Err(anyhow!(other).context("TransactWriteItems").into()),
            },
            Err(e) => Err(anyhow!(e).context("TransactWriteItems").into()),
        }
    }

    fn transact_item(&self, w: Write) -> Result<TransactWriteItem> {
        let mut p = Names::default();
        let b = TransactWriteItem::builder();
        Ok(match w.op {
            Op::Put { item, cond } => {
                let c = cond.as_ref().map(|c| p.cond(c));
                b.put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .build()?,
                )
                .build()
            }
            Op::Update { key, update, cond } => {
                let expr = p.update(&update);
                let c = cond.as_ref().map(|c| p.cond(c));
                b.update(
                    aws_sdk_dynamodb::types::Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_item(&key)))
                        .update_expression(expr)
                        .set_condition_expression(c)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .build()?,
                )
                .build()
            }
            Op::Delete { key, cond } => {
                let c = cond.as_ref().map(|c| p.cond(c));
                b.delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_item(&key)))
                        .set_condition_expression(c)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .build()?,
                )
                .build()
            }
            Op::Check { key, cond } => {
                let c = p.cond(&cond);
                b.condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_item(&key)))
                        .condition_expression(c)
                        .set_expression_attribute_names(p.names())
                        .set_expression_attribute_values(p.values())
                        .build()?,
                )
                .build()
            }
        })
    }

    /// Deletes items 25 at a time (unconditional: used to purge what deletion leaves).
    pub(crate) async fn delete_all(&self, keys: &[Key]) -> Result<()> {
        for chunk in keys.chunks(25) {
            let reqs: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| DeleteRequest::builder().set_key(Some(key_item(k))).build())
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|d| WriteRequest::builder().delete_request(d).build())
                .collect();
            let mut pending = Some(reqs);
            while let Some(reqs) = pending.take() {
                self.count();
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, reqs)
                    .send()
                    .await
                    .context("BatchWriteItem")?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).filter(|v| !v.is_empty());
            }
        }
        Ok(())
    }
}

fn pk_value(v: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    super::expr::s(v)
}

impl WriteError {
    fn retag(self, tag: Tag) -> WriteError {
        match self {
            WriteError::Conflict(_) => WriteError::Conflict(vec![tag]),
            other => other,
        }
    }
}
