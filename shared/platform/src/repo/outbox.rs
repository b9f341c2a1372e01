//! The mail outbox (DESIGN: sent once): a mail is written with the change that causes it, leased
//! to its writer, sent, then marked sent. An unsent mail waits in the mail lane of the due-time
//! index at its lease end; each failure pushes the next try further out, and after a bounded
//! number of tries (or at once, when SES refuses the message for good) the mail is set aside as
//! failed, for operators. Leases are wall-clock times: a retried sweep carries an old event time.

use crate::dynamo::expr::{n, s, Cond, Update};
use crate::dynamo::item::{from_item, to_item, Item};
use crate::dynamo::keys::{mail_due_pk, shard, Key, DUE_AT, DUE_PK, EXPIRES_AT, FAILED_MAIL_PK};
use crate::dynamo::store::{Cursor, Store, Tag, Write, WriteError};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use domain::types::Email;
use serde::{Deserialize, Serialize};

/// Sent mail and seen webhooks are kept this long, then DynamoDB's TTL cleans them up.
pub const RETENTION_DAYS: i64 = 90;
/// The longest pause between two tries of one mail.
const MAX_DELAY_SECONDS: i64 = 6 * 3600;

/// How mail is retried (settings; defaults in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailSettings {
    /// How long a writer or a sweep owns a mail before anyone else may try it
    /// (`OUTBOX_LEASE_SECONDS`, 120).
    pub lease_seconds: i64,
    /// The pause after the first failed try, doubled after each one (`MAIL_RETRY_BASE_SECONDS`, 60).
    pub retry_base_seconds: i64,
    /// Tries before a mail is set aside as failed (`MAIL_MAX_ATTEMPTS`, 8).
    pub max_attempts: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings { lease_seconds: 120, retry_base_seconds: 60, max_attempts: 8 }
    }
}

impl MailSettings {
    /// The settings named above; absent or unreadable ones keep their defaults.
    pub fn from_env() -> MailSettings {
        let d = MailSettings::default();
        let num = |k: &str, d: i64| std::env::var(k).ok().and_then(|v| v.parse().ok()).filter(|v| *v >= 0).unwrap_or(d);
        MailSettings {
            lease_seconds: num("OUTBOX_LEASE_SECONDS", d.lease_seconds).max(1),
            retry_base_seconds: num("MAIL_RETRY_BASE_SECONDS", d.retry_base_seconds),
            max_attempts: num("MAIL_MAX_ATTEMPTS", i64::from(d.max_attempts)).clamp(1, 100) as u32,
        }
    }

    /// A lease taken now, on the wall clock.
    pub fn lease_from_now(&self) -> i64 {
        Utc::now().timestamp() + self.lease_seconds
    }

    /// The pause before the next try after `attempts` failed ones: base, 2×base, 4×base … capped.
    pub fn retry_delay(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(30);
        self.retry_base_seconds.saturating_mul(1 << doublings).min(MAX_DELAY_SECONDS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Leased to whoever wrote or last claimed it.
    Sending,
    Sent,
    /// Set aside: no more tries; listed for operators.
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }
}

/// A mail waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxMail {
    pub key: String,
    #[serde(default)]
    pub account_id: Option<String>,
    /// Recipients and text are removed once the mail is sent.
    #[serde(default)]
    pub to: Vec<Email>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    pub status: MailStatus,
    /// Until this epoch second (wall clock) the mail belongs to whoever last claimed it.
    pub lease_until: i64,
    pub attempts: u32,
    #[serde(default)]
    pub message_id: Option<String>,
    /// Why the last try failed (no recipient or text in it).
    #[serde(default)]
    pub last_error: Option<String>,
}

impl OutboxMail {
    /// A new mail, leased to its writer, who sends it right after the write commits.
    pub fn leased(
        key: String,
        account_id: Option<String>,
        to: Vec<Email>,
        mail: domain::notice::Mail,
        settings: &MailSettings,
    ) -> OutboxMail {
        OutboxMail {
            key,
            account_id,
            to,
            subject: mail.subject,
            text: mail.text,
            status: MailStatus::Sending,
            lease_until: settings.lease_from_now(),
            attempts: 1,
            message_id: None,
            last_error: None,
        }
    }

    fn storage_key(&self) -> Key {
        Key::outbox(self.account_id.as_deref(), &self.key)
    }
}

/// What became of a try that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// It waits for another try at this wall-clock second.
    RetryAt(i64),
    /// Set aside as failed.
    Failed,
}

#[derive(Clone)]
pub struct Outbox {
    pub(crate) store: Store,
    pub(crate) settings: MailSettings,
}

impl Outbox {
    /// The mail as an item; unsent mail sits in the mail lane of the due-time index at its lease end.
    fn item(&self, m: &OutboxMail) -> Result<Item> {
        let mut item = to_item(m)?;
        if m.status == MailStatus::Sending {
            item.insert(DUE_PK.into(), s(mail_due_pk(shard(&m.key))));
            item.insert(DUE_AT.into(), n(m.lease_until));
        }
        Ok(item)
    }

    pub async fn get(&self, account_id: Option<&str>, key: &str) -> Result<Option<OutboxMail>> {
        self.store.get(&Key::outbox(account_id, key)).await?.map(from_item).transpose()
    }

    /// The write of a new mail, once only: its key is the notice's identity.
    pub fn put(&self, m: &OutboxMail) -> Result<Write> {
        Ok(Write::put(Tag::Outbox, self.item(m)?, Some(Cond::New)))
    }

    /// One page of a mail shard's items due by `upto` (the sweep's mail lane).
    pub async fn due_page(
        &self,
        shard: u32,
        upto: DateTime<Utc>,
        limit: i32,
        start: Option<Cursor>,
    ) -> Result<(Vec<Result<OutboxMail>>, Option<Cursor>)> {
        let page = self.store.due_page(&mail_due_pk(shard), Some(upto.timestamp()), limit, start).await?;
        Ok((page.items.into_iter().map(from_item).collect(), page.next))
    }

    /// Takes an unsent mail whose lease has run out on the wall clock; `None` if someone else
    /// has it, or it was sent or set aside.
    pub async fn claim(&self, m: &OutboxMail) -> Result<Option<OutboxMail>> {
        let wall = Utc::now().timestamp();
        let lease = wall + self.settings.lease_seconds;
        let update = Update::new().set("lease_until", n(lease)).set(DUE_AT, n(lease)).add("attempts", n(1));
        let cond = Cond::Eq("status", s(MailStatus::Sending.as_str())).and(Cond::Le("lease_until", n(wall)));
        match self.store.update_returning(Tag::Outbox, &m.storage_key(), &update, Some(&cond)).await {
            Ok(item) => Ok(Some(from_item(item)?)),
            Err(WriteError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Marks a mail sent by the holder of its lease, and takes it out of the due-time index.
    /// Once sent, only the key and status are needed to never send it again: the recipients and
    /// text (personal data) go now, not when TTL removes the item.
    pub async fn mark_sent(&self, m: &OutboxMail, message_id: &str, now: DateTime<Utc>) -> Result<()> {
        let update = Update::new()
            .set("status", s(MailStatus::Sent.as_str()))
            .set("message_id", s(message_id))
            .set("sent_at", s(now.to_rfc3339()))
            .set(EXPIRES_AT, n((now + Duration::days(RETENTION_DAYS)).timestamp()))
            .remove(DUE_PK)
            .remove(DUE_AT)
            .remove("to")
            .remove("text")
            .remove("subject");
        let cond = Cond::Eq("lease_until", n(m.lease_until));
        self.store.write(Write::update(Tag::Outbox, m.storage_key(), update, Some(cond))).await?;
        Ok(())
    }

    /// A failed try by the holder of the lease: the mail waits longer each time, and is set aside
    /// as failed after the last allowed try, or at once when the failure is `permanent`.
    pub async fn release(&self, m: &OutboxMail, error: &str, permanent: bool) -> Result<Released> {
        let settings = &self.settings;
        let wall = Utc::now();
        let reason: String = error.chars().take(300).collect();
        let (update, released) = if permanent || m.attempts >= settings.max_attempts {
            let u = Update::new()
                .set("status", s(MailStatus::Failed.as_str()))
                .set("failed_at", s(wall.to_rfc3339()))
                .set(DUE_PK, s(FAILED_MAIL_PK))
                .set(DUE_AT, n(wall.timestamp()));
            (u, Released::Failed)
        } else {
            let at = wall.timestamp() + settings.retry_delay(m.attempts);
            (Update::new().set("lease_until", n(at)).set(DUE_AT, n(at)), Released::RetryAt(at))
        };
        let update = update.set("last_error", s(&reason));
        let cond = Cond::Eq("lease_until", n(m.lease_until)).and(Cond::Eq("status", s(MailStatus::Sending.as_str())));
        match self.store.write(Write::update(Tag::Outbox, m.storage_key(), update, Some(cond))).await {
            Ok(()) => Ok(released),
            // The lease ran out and someone else holds it now: theirs to decide.
            Err(WriteError::Conflict(_)) => Ok(Released::RetryAt(m.lease_until)),
            Err(e) => Err(e.into()),
        }
    }

    /// Mail set aside as failed, newest first (the operator's list).
    pub async fn failed(&self, limit: i32) -> Result<Vec<OutboxMail>> {
        let page = self.store.due_page(FAILED_MAIL_PK, None, limit, None).await?;
        let mut mails: Vec<OutboxMail> = page.items.into_iter().map(from_item).collect::<Result<_>>()?;
        mails.reverse();
        Ok(mails)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failed_try_doubles_the_pause_up_to_six_hours() {
        let s = MailSettings { lease_seconds: 120, retry_base_seconds: 60, max_attempts: 8 };
        let delays: Vec<i64> = (1..=10).map(|a| s.retry_delay(a)).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]);
        assert_eq!(s.retry_delay(u32::MAX), MAX_DELAY_SECONDS, "no overflow");
    }
}
