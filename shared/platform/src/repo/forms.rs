//! The public forms' records: implementation requests, partners and their lead slots, the form
//! switch, rate-limit counters, idempotency keys, copyright notices and data requests.

use crate::dynamo::expr::{b, n, s, Cond, Update};
use crate::dynamo::item::{from_item, set_due, to_item, to_item_at, Item};
use crate::dynamo::keys::{entity, Key, EXPIRES_AT};
use crate::dynamo::store::{Store, Tag, Write, WriteError};
use anyhow::Result;
use chrono::{DateTime, Utc};
use domain::forms::{CopyrightNotice, DataRequestRecord, ImplementationRequest, Partner};
use domain::types::{CountryCode, DomainLabel};
use serde::{Deserialize, Serialize};

/// A partner as remembered on the request, for the confirmation and its resends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Routed {
    pub id: String,
    pub name: String,
}

/// `FORM#<id>`: an accepted implementation request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormRecord {
    pub id: String,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub request: ImplementationRequest,
    pub partners: Vec<Routed>,
    pub resends: u32,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// `IDEMPOTENCY#form#<key>`: the first answer to a POST carrying that key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub payload_sha256: String,
    pub request_id: String,
    pub partners: Vec<String>,
    pub expires_at: i64,
}

/// `COPYRIGHT#<id>`: the notice, the account its location names, and the operator's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyrightRecord {
    pub id: String,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub notice: CopyrightNotice,
    /// The domain label the location names, whether or not an account holds it.
    pub domain: Option<DomainLabel>,
    pub account_id: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    /// Absent (not NULL) until the operator decides: the outcome's write is conditional on that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent_removal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
}

const IDEMPOTENCY_SCOPE: &str = "form";
const DISABLED_ATTR: &str = "implementation_request_disabled";

#[derive(Clone)]
pub struct Forms {
    pub(crate) store: Store,
    /// `form_retention_days`.
    pub(crate) retention_days: i64,
}

impl Forms {
    /// Every partner listing `country`: one Query of the partners' partition (a few hundred items
    /// at most), read consistently so `last_sent_at` is current.
    pub async fn partners_for(&self, country: &CountryCode) -> Result<Vec<Partner>> {
        let (pk, prefix) = Key::partners_prefix();
        let mut found = Vec::new();
        for item in self.store.query(pk, prefix).await? {
            let p: Partner = from_item(item)?;
            if p.countries.contains(country) {
                found.push(p);
            }
        }
        Ok(found)
    }

    /// A new partner, never sent a lead; `false` when one with its id exists.
    pub async fn add_partner(&self, p: &Partner) -> Result<bool> {
        match self.store.write(self.partner_put(p, false)?).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A partner's write: new only, or replacing (the operator's seed).
    pub fn partner_put(&self, p: &Partner, replace: bool) -> Result<Write> {
        Ok(Write::put(Tag::Record, to_item(p)?, (!replace).then_some(Cond::New)))
    }

    /// The partner's `last_sent_at`, moved from the value read to the new stamp: a racing request
    /// that read the same value loses its condition and re-reads.
    pub fn take_partner_slot(&self, id: &str, previous: i64, sent_at: i64) -> Write {
        let read = Cond::Eq("last_sent_at", n(previous));
        let cond = if previous == 0 { Cond::Missing("last_sent_at").or(read) } else { read };
        Write::update(
            Tag::PartnerSlot,
            Key::partner(id),
            Update::new().set("last_sent_at", n(sent_at)),
            Some(Cond::Exists.and(cond)),
        )
    }

    /// One more hit on a per-hour counter; the condition fails once `max` hits are in.
    /// TTL (`expires_at`) only cleans up: a stale counter is for a past hour and never read again.
    pub async fn form_disabled(&self) -> Result<bool> {
        let Some(item) = self.store.get(&Key::form_settings()).await? else { return Ok(false) };
        match item.get(DISABLED_ATTR) {
            None => Ok(false),
            Some(v) => {
                v.as_bool().copied().map_err(|_| anyhow::anyhow!("corrupt item SETTINGS/FORMS: {DISABLED_ATTR}"))
            }
        }
    }

    pub async fn set_form_disabled(&self, disabled: bool, now: DateTime<Utc>) -> Result<()> {
        let update = Update::new()
            .set(DISABLED_ATTR, b(disabled))
            .set("updated_at", s(now.to_rfc3339()))
            .set(crate::dynamo::keys::ENTITY, s(entity::SETTINGS));
        self.store.write(Write::update(Tag::Setting, Key::form_settings(), update, None)).await?;
        Ok(())
    }

    pub fn new_form(&self, r: &FormRecord) -> Result<Write> {
        let mut item = to_item(r)?;
        self.expire(&mut item, r.received_at);
        Ok(Write::put(Tag::Record, item, Some(Cond::New)))
    }

    pub async fn form(&self, id: &str) -> Result<Option<FormRecord>> {
        self.store.get(&Key::form(id)).await?.map(from_item).transpose()
    }

    /// One more resend, from the count read.
    pub fn bump_resends(&self, id: &str, current: u32) -> Write {
        let update = Update::new().set("resends", n(current + 1));
        Write::update(Tag::Decision, Key::form(id), update, Some(Cond::Eq("resends", n(current))))
    }

    pub async fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>> {
        self.store.get(&Key::idempotency(IDEMPOTENCY_SCOPE, key)).await?.map(from_item).transpose()
    }

    /// The record of a key's first answer; an expired key may be used again (TTL removes it only eventually).
    pub fn idempotency_put(&self, key: &str, r: &IdempotencyRecord, now: DateTime<Utc>) -> Result<Write> {
        let mut item = to_item_at(&Key::idempotency(IDEMPOTENCY_SCOPE, key), entity::IDEMPOTENCY, r)?;
        item.insert(EXPIRES_AT.into(), n(r.expires_at));
        let cond = Cond::New.or(Cond::Le(EXPIRES_AT, n(now.timestamp())));
        Ok(Write::put(Tag::Idempotency, item, Some(cond)))
    }

    /// The notice (kept `form_retention_days`) and, if it names an account, the reference
    /// deletion follows.
    pub fn new_copyright(&self, r: &CopyrightRecord) -> Result<Vec<Write>> {
        let mut item = to_item(r)?;
        self.expire(&mut item, r.received_at);
        let mut writes = vec![Write::put(Tag::Record, item, Some(Cond::New))];
        if let Some(a) = &r.account_id {
            writes.push(crate::repo::accounts::reference(a, &Key::copyright(&r.id)));
        }
        Ok(writes)
    }

    /// Form records hold personal data only `form_retention_days` (SPEC: Forms): then TTL takes them.
    fn expire(&self, item: &mut Item, received_at: DateTime<Utc>) {
        let until = received_at + chrono::Duration::days(self.retention_days);
        item.insert(EXPIRES_AT.into(), n(until.timestamp()));
    }

    pub async fn copyright(&self, id: &str) -> Result<Option<CopyrightRecord>> {
        self.store.get(&Key::copyright(id)).await?.map(from_item).transpose()
    }

    /// The operator's outcome, recorded once.
    pub fn record_outcome(&self, id: &str, removal: bool, now: DateTime<Utc>) -> Write {
        let update = Update::new().set("permanent_removal", b(removal)).set("decided_at", s(now.to_rfc3339()));
        let cond = Cond::Exists.and(Cond::Missing("permanent_removal"));
        Write::update(Tag::Decision, Key::copyright(id), update, Some(cond))
    }

    /// §15.3: one more removal on the account; bumps its version so a writer holding an older
    /// read loses its condition and re-reads instead of dropping the count.
    pub fn count_removal(&self, account_id: &str) -> Write {
        let update = Update::new().add("copyright_removals", n(1)).add("version", n(1));
        Write::update(Tag::Account, Key::account(account_id), update, Some(Cond::Exists))
    }

    /// Sets `repeat_infringer` once the account has more than one removal (safe to repeat); its answer.
    pub async fn mark_repeat_infringer(&self, account_id: &str) -> Result<bool> {
        let update = Update::new().set("repeat_infringer", b(true)).add("version", n(1));
        let cond = Cond::Exists.and(Cond::Gt("copyright_removals", n(1)));
        match self.store.write(Write::update(Tag::Account, Key::account(account_id), update, Some(cond))).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A new data request, waiting in the due-time index for the sweep's reminders.
    pub async fn data_request(&self, id: &str) -> Result<Option<DataRequestRecord>> {
        self.store.get(&Key::data_request(id)).await?.map(from_item).transpose()
    }

    /// Marks the request answered, once, and takes it out of the due-time index (no reminders).
    /// `false` if it was answered first by someone else.
    pub async fn answer_data_request(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let update = Update::new()
            .set("answered_at", s(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            .remove(crate::dynamo::keys::DUE_PK)
            .remove(crate::dynamo::keys::DUE_AT);
        let cond = Cond::Exists.and(Cond::Missing("answered_at"));
        match self.store.write(Write::update(Tag::Decision, Key::data_request(id), update, Some(cond))).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The request, in the due-time index for its reminders, and its reference from the account.
    pub fn new_data_request(&self, r: &DataRequestRecord, next_due: Option<DateTime<Utc>>) -> Result<Vec<Write>> {
        let mut item = to_item(r)?;
        set_due(&mut item, &r.id, next_due);
        self.expire(&mut item, r.received_at);
        Ok(vec![
            Write::put(Tag::Record, item, Some(Cond::New)),
            crate::repo::accounts::reference(&r.account_id, &Key::data_request(&r.id)),
        ])
    }

    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        self.store.transact(writes).await
    }
}
