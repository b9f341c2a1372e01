//! The forms' reads and writes: partners, settings, throttles, account lookup, outbox mail.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use domain::forms::Partner;
use domain::Account;
use platform::items::{from_item, key, n, s, throttle_pk, Item, EXPIRES_AT};
use platform::Store;

pub(crate) const SETTINGS_PK: &str = "SETTINGS";
pub(crate) const SETTINGS_SK: &str = "FORMS";
pub(crate) const DISABLED_ATTR: &str = "implementation_request_disabled";

/// All partners share one partition, so one Query finds them whatever the table's size.
pub(crate) const PARTNERS_PK: &str = "PARTNERS";
pub(crate) fn partner_sk(id: &str) -> String {
    format!("PARTNER#{id}")
}
pub(crate) fn form_pk(id: &str) -> String {
    format!("FORM#{id}")
}
pub(crate) fn copyright_pk(id: &str) -> String {
    format!("COPYRIGHT#{id}")
}
pub(crate) use platform::items::data_request_pk;
pub(crate) fn idempotency_pk(key: &str) -> String {
    format!("IDEMPOTENCY#form#{key}")
}

/// A fresh id for a submission.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Ids we hand out are UUIDs; anything else cannot name a stored item.
pub(crate) fn is_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

/// Every partner listing `country`: one Query of the partners' partition (a few hundred items
/// at most), read consistently so `last_sent_at` is current.
pub(crate) async fn partners_for(store: &Store, country: &str) -> Result<Vec<Partner>> {
    let items = store.query_prefix(PARTNERS_PK, "PARTNER#").await.context("Query partners")?;
    let mut found = Vec::new();
    for item in items {
        match from_item::<Partner>(item) {
            Ok(p) if p.countries.iter().any(|c| c == country) => found.push(p),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = format!("{e:#}"), "a partner item does not parse; skipped"),
        }
    }
    Ok(found)
}

fn update(table: &str, k: Item) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    Update::builder().table_name(table).set_key(Some(k))
}

/// The partner's `last_sent_at`, moved from the value read to the new stamp: a racing request
/// that read the same value loses its condition and re-reads.
pub(crate) fn take_partner_slot(table: &str, id: &str, previous: i64, sent_at: i64) -> Result<TransactWriteItem> {
    let mut u = update(table, key(PARTNERS_PK, partner_sk(id)))
        .update_expression("SET last_sent_at = :new")
        .expression_attribute_values(":new", n(sent_at))
        .expression_attribute_values(":old", n(previous));
    u = if previous == 0 {
        u.condition_expression("attribute_exists(PK) AND (attribute_not_exists(last_sent_at) OR last_sent_at = :old)")
    } else {
        u.condition_expression("attribute_exists(PK) AND last_sent_at = :old")
    };
    Ok(TransactWriteItem::builder().update(u.build()?).build())
}

/// One more hit on a per-hour counter; the condition fails once `max` hits are in.
/// TTL (`expires_at`) only cleans up: a stale counter is for a past hour and never read again.
pub(crate) fn throttle_hit(table: &str, who: &str, now: DateTime<Utc>, max: i64) -> Result<TransactWriteItem> {
    let hour = now.timestamp().div_euclid(3600);
    let u = update(table, key(throttle_pk(&format!("form#{who}#{hour}")), "THROTTLE"))
        .update_expression("ADD hits :one SET #exp = :exp")
        .condition_expression("attribute_not_exists(hits) OR hits < :max")
        .expression_attribute_names("#exp", EXPIRES_AT)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":max", n(max))
        .expression_attribute_values(":exp", n((hour + 2) * 3600));
    Ok(TransactWriteItem::builder().update(u.build()?).build())
}

pub(crate) async fn form_disabled(store: &Store) -> Result<bool> {
    Ok(store
        .get(SETTINGS_PK, SETTINGS_SK)
        .await?
        .and_then(|i| i.get(DISABLED_ATTR).and_then(|v| v.as_bool().ok().copied()))
        .unwrap_or(false))
}

pub(crate) async fn set_form_disabled(store: &Store, disabled: bool, now: DateTime<Utc>) -> Result<()> {
    store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(key(SETTINGS_PK, SETTINGS_SK)))
        .update_expression("SET #d = :d, updated_at = :now")
        .expression_attribute_names("#d", DISABLED_ATTR)
        .expression_attribute_values(":d", AttributeValue::Bool(disabled))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .send()
        .await
        .context("UpdateItem form settings")?;
    Ok(())
}

/// The live account whose domain claim is `label`, if any.
pub(crate) async fn account_by_label(store: &Store, label: &str) -> Result<Option<Account>> {
    let claim = store.get(&platform::items::domain_pk(label), "DOMAIN").await?;
    let Some(id) = claim.and_then(|c| c.get("account_id").and_then(|v| v.as_s().ok()).cloned()) else {
        return Ok(None);
    };
    store.account(&id).await
}

/// True when the write lost only to a concurrent transaction (real DynamoDB; Local never does it).
pub(crate) fn is_transaction_conflict(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("TransactionConflict")
}
