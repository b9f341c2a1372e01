//! The single-table layout (DESIGN: DynamoDB): keys, item shapes, and the due-time index fields.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const DUE_PK: &str = "DuePK";
pub const DUE_AT: &str = "DueAt";
pub const DUE_INDEX: &str = "ByDueTime";
pub const ENTITY: &str = "entity";
pub const EXPIRES_AT: &str = "expires_at";

pub fn account_pk(id: &str) -> String {
    format!("ACCOUNT#{id}")
}
pub const META: &str = "META";
pub fn user_sk(email: &str) -> String {
    format!("USER#{email}")
}
pub fn domain_pk(label: &str) -> String {
    format!("DOMAIN#{label}")
}
pub fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}
pub fn outbox_pk(key: &str) -> String {
    format!("OUTBOX#{key}")
}
pub fn webhook_pk(event_id: &str) -> String {
    format!("WEBHOOK#{event_id}")
}
pub fn data_request_pk(id: &str) -> String {
    format!("DATAREQ#{id}")
}
pub fn throttle_pk(key: &str) -> String {
    format!("THROTTLE#{key}")
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// A serde value as an item, with its keys added.
pub fn to_item<T: Serialize>(pk: impl Into<String>, sk: impl Into<String>, entity: &str, v: &T) -> anyhow::Result<Item> {
    let mut item: Item = serde_dynamo::to_item(v)?;
    item.extend(key(pk, sk));
    item.insert(ENTITY.into(), s(entity));
    Ok(item)
}

pub fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> anyhow::Result<T> {
    Ok(serde_dynamo::from_item(item)?)
}

/// Puts an item into the sparse due-time index, on a shard chosen from its id.
pub fn set_due(item: &mut Item, id: &str, shards: u32, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => {
            item.insert(DUE_PK.into(), s(format!("DUE#{}", shard_of(id, shards))));
            item.insert(DUE_AT.into(), n(at.timestamp()));
        }
        None => {
            item.remove(DUE_PK);
            item.remove(DUE_AT);
        }
    }
}

/// FNV-1a: stable across processes and releases, unlike the std hasher.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards.max(1)
}

/// The administrator's credential: the e-mail claim item carries the account and the hash, so a
/// sign-in needs one read to find both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub email: String,
    pub account_id: String,
    pub domain: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// One line of an account's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// A mail waiting in the outbox (DESIGN: sent once, retried by the sweep until marked sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxMail {
    pub key: String,
    #[serde(default)]
    pub account_id: Option<String>,
    /// Recipients and text are removed once the mail is sent.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    pub status: String,
    /// Until this epoch second the mail belongs to whoever last claimed it.
    pub lease_until: i64,
    pub attempts: u32,
    #[serde(default)]
    pub message_id: Option<String>,
}

/// How long a writer owns a fresh outbox mail before the sweep may retry it.
pub const OUTBOX_LEASE_SECONDS: i64 = 120;

impl OutboxMail {
    /// A new mail, leased to its writer, who sends it right after the write commits.
    pub fn leased(key: String, account_id: Option<String>, to: Vec<String>, mail: domain::notice::Mail, now: DateTime<Utc>) -> OutboxMail {
        OutboxMail {
            key,
            account_id,
            to,
            subject: mail.subject,
            text: mail.text,
            status: SENDING.into(),
            lease_until: (now + chrono::Duration::seconds(OUTBOX_LEASE_SECONDS)).timestamp(),
            attempts: 1,
            message_id: None,
        }
    }
}

pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";

/// What remains of a deleted account: id, dates and reason, no personal data (SPEC: Lifecycle).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub deleted_at: DateTime<Utc>,
    pub reason: Option<domain::StateReason>,
    /// The account's other items are still to be removed (done by the sweep, repeatably).
    pub purge_pending: bool,
    pub version: u64,
}
