//! Every table key and entity name (DESIGN: DynamoDB): nothing else spells `ACCOUNT#` or `DUE#`.
//! Each stored type declares its own key through `Entity`, in the manner of modyne.

use chrono::{DateTime, Utc};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const ENTITY: &str = "entity";
pub const EXPIRES_AT: &str = "expires_at";
/// The sparse due-time index: only items with something due carry these two attributes.
pub const DUE_INDEX: &str = "ByDueTime";
pub const DUE_PK: &str = "DuePK";
pub const DUE_AT: &str = "DueAt";

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

/// A stored type: the name written in its `entity` attribute and the key of its item.
pub trait Entity {
    const NAME: &'static str;
    fn key(&self) -> Key;
}

/// Entity names of items whose key is not derived from one value (or whose type is elsewhere).
pub mod entity {
    pub const ACCOUNT: &str = "account";
    pub const TOMBSTONE: &str = "tombstone";
    pub const USER: &str = "user";
    pub const EVENT: &str = "event";
    pub const DOMAIN_CLAIM: &str = "domain";
    pub const LOGIN: &str = "login";
    pub const OUTBOX: &str = "outbox";
    pub const WEBHOOK: &str = "webhook";
    pub const UNAPPLIED: &str = "unapplied_payment";
    pub const TOKEN: &str = "one_time_token";
    pub const DATA_REQUEST: &str = "data_request";
    pub const COPYRIGHT: &str = "copyright_notice";
    pub const FORM: &str = "implementation_request";
    pub const IDEMPOTENCY: &str = "idempotency";
    pub const THROTTLE: &str = "throttle";
    pub const PARTNER: &str = "partner";
    pub const SETTINGS: &str = "settings";
    pub const ROLLOUT: &str = "terms_rollout";
    pub const REFERENCE: &str = "reference";
    pub const PRODUCT_EVENT: &str = "product_event";
}

const META: &str = "META";
const PARTNERS_PK: &str = "PARTNERS";

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Key {
        Key { pk: pk.into(), sk: sk.into() }
    }
    pub fn account(id: &str) -> Key {
        Key::new(format!("ACCOUNT#{id}"), META)
    }
    pub fn user(account_id: &str, email: &str) -> Key {
        Key::new(format!("ACCOUNT#{account_id}"), format!("USER#{email}"))
    }
    /// The partition and sort-key prefix of an account's users.
    pub fn users_prefix(account_id: &str) -> (String, &'static str) {
        (format!("ACCOUNT#{account_id}"), "USER#")
    }
    /// One history line: ordered by time, then the version that wrote it, then its place.
    pub fn history(account_id: &str, at: DateTime<Utc>, version: u64, i: usize) -> Key {
        let at = at.format("%Y-%m-%dT%H:%M:%S%.3fZ");
        Key::new(format!("ACCOUNT#{account_id}"), format!("EVENT#{at}#{version:010}#{i:03}"))
    }
    /// The partition and sort-key prefix of an account's history.
    pub fn history_prefix(account_id: &str) -> (String, &'static str) {
        (format!("ACCOUNT#{account_id}"), "EVENT#")
    }
    /// Every item of the account's own partition (purged on deletion).
    pub fn account_partition(account_id: &str) -> String {
        format!("ACCOUNT#{account_id}")
    }
    pub fn is_account_head(&self) -> bool {
        self.sk == META
    }
    pub fn domain_claim(label: &str) -> Key {
        Key::new(format!("DOMAIN#{label}"), "DOMAIN")
    }
    pub fn email_claim(email: &str) -> Key {
        Key::new(format!("EMAIL#{email}"), "EMAIL")
    }
    /// A mail to an account's people lives in that account's outbox partition, which deletion
    /// empties with one query; any other mail (to a form's sender, a partner) stands alone.
    pub fn outbox(account_id: Option<&str>, mail_key: &str) -> Key {
        match account_id {
            Some(a) => Key::new(Key::account_outbox(a), format!("MAIL#{mail_key}")),
            None => Key::new(format!("OUTBOX#{mail_key}"), "OUTBOX"),
        }
    }
    pub fn account_outbox(account_id: &str) -> String {
        format!("OUTBOX#ACCOUNT#{account_id}")
    }
    /// An event for the product, by the account's counter: outside the account's partition, so
    /// deletion cannot purge one not yet published.
    pub fn product_event(account_id: &str, seq: u64) -> Key {
        Key::new(format!("EVENTS#{account_id}"), format!("SEQ#{seq:012}"))
    }
    /// In an account's partition, a pointer to a record elsewhere that names the account or its
    /// people (a data request, a copyright notice, a one-time link): deletion follows it.
    pub fn reference(account_id: &str, target: &Key) -> Key {
        Key::new(Key::account_partition(account_id), format!("REF#{}#{}", target.pk, target.sk))
    }
    pub fn webhook(event_id: &str) -> Key {
        Key::new(format!("WEBHOOK#{event_id}"), "WEBHOOK")
    }
    /// A payment that could not be applied: one partition the operator lists, outside any
    /// account so deletion keeps it (no personal data in it).
    pub fn unapplied(at: DateTime<Utc>, event_id: &str) -> Key {
        Key::new("UNAPPLIED", format!("{}#{event_id}", at.format("%Y-%m-%dT%H:%M:%SZ")))
    }
    pub fn unapplied_prefix() -> (&'static str, &'static str) {
        ("UNAPPLIED", "")
    }
    pub fn data_request(id: &str) -> Key {
        Key::new(format!("DATAREQ#{id}"), META)
    }
    pub fn copyright(id: &str) -> Key {
        Key::new(format!("COPYRIGHT#{id}"), META)
    }
    pub fn form(id: &str) -> Key {
        Key::new(format!("FORM#{id}"), META)
    }
    pub fn idempotency(scope: &str, key: &str) -> Key {
        Key::new(format!("IDEMPOTENCY#{scope}#{key}"), "IDEMPOTENCY")
    }
    pub fn throttle(name: &str) -> Key {
        Key::new(format!("THROTTLE#{name}"), "THROTTLE")
    }
    /// All partners share one partition, so one Query finds them whatever the table's size.
    pub fn partner(id: &str) -> Key {
        Key::new(PARTNERS_PK, format!("PARTNER#{id}"))
    }
    pub fn partners_prefix() -> (&'static str, &'static str) {
        (PARTNERS_PK, "PARTNER#")
    }
    /// The sign-in throttle of one address (its keyed hash): the counter over all sources.
    pub fn sign_in_all(email_hash: &str) -> Key {
        Key::new(format!("THROTTLE#signin#{email_hash}"), "ALL")
    }
    /// The counter of one (address, source) pair, in the address's partition.
    pub fn sign_in_pair(email_hash: &str, ip_hash: &str) -> Key {
        Key::new(format!("THROTTLE#signin#{email_hash}"), format!("IP#{ip_hash}"))
    }
    pub fn sign_in_partition(email_hash: &str) -> String {
        format!("THROTTLE#signin#{email_hash}")
    }
    /// A one-time link's token, by its hash (`verify` or `reset`).
    pub fn one_time(kind: &str, token_hash: &str) -> Key {
        Key::new(format!("TOKEN#{kind}#{token_hash}"), "TOKEN")
    }
    pub fn form_settings() -> Key {
        Key::new("SETTINGS", "FORMS")
    }
    /// The Terms rollout of a version: done everywhere (a table that had no accounts).
    pub fn terms_rollout(version: &str) -> Key {
        Key::new(format!("TERMS#{version}"), "ROLLOUT")
    }
    /// Where the Terms rollout of a version stands in one due-index partition.
    pub fn terms_rollout_in(version: &str, due_pk: &str) -> Key {
        Key::new(format!("TERMS#{version}"), format!("ROLLOUT#{due_pk}"))
    }
}

/// The due index's logical shards: fixed forever, so an item's shard never changes; the number
/// of sweep workers is only a setting that groups them (`shard_group`).
pub const SHARDS: u32 = 256;

/// The logical shard of an id.
pub fn shard(id: &str) -> u32 {
    shard_of(id, SHARDS)
}

/// The due-index partition of a logical shard.
pub fn due_pk(shard: u32) -> String {
    format!("DUE#{shard:03}")
}

/// Unsent mail waits in due-index partitions of its own, so retries never crowd out transitions.
pub fn mail_due_pk(shard: u32) -> String {
    format!("MAILDUE#{shard:03}")
}

/// Before logical shards, items were keyed `DUE#<n>` for n below `DUE_SHARDS` (4): the sweep
/// drains these partitions into the logical shards (`n` is then the shard modulo their count).
pub fn legacy_due_pk(n: u32) -> String {
    format!("DUE#{n}")
}

/// Unpublished events for the product wait in due-index partitions of their own.
pub fn event_due_pk(shard: u32) -> String {
    format!("EVENTDUE#{shard:03}")
}

/// Mail set aside as failed: one due-index partition the operator lists (kept out of every sweep).
pub const FAILED_MAIL_PK: &str = "MAILFAILED";

/// The shards of worker `i` of `workers`: shards `i`, `i + workers`, …, so every shard is in
/// exactly one group whatever the count, and changing the count never orphans one.
pub fn shard_group(i: u32, workers: u32) -> Vec<u32> {
    let workers = workers.clamp(1, SHARDS);
    (0..SHARDS).filter(|s| s % workers == i % workers).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_hash_is_fixed_fnv_1a() {
        // The values every existing item was written with: they must never change.
        assert_eq!(shard_of("", 4), 0x811c_9dc5 % 4);
        assert_eq!(shard_of("a", 1_000_000_007), 0xe40c_292c % 1_000_000_007);
    }

    #[test]
    fn any_worker_count_covers_every_shard_exactly_once() {
        for workers in [1, 2, 3, 7, 8, 64, 255, 256] {
            let mut all: Vec<u32> = (0..workers).flat_map(|i| shard_group(i, workers)).collect();
            all.sort_unstable();
            assert_eq!(all, (0..SHARDS).collect::<Vec<_>>(), "{workers} workers");
        }
        assert_eq!(due_pk(7), "DUE#007");
        assert_ne!(due_pk(1), legacy_due_pk(1), "old and new partitions never share a name");
    }

    #[test]
    fn history_keys_sort_by_time_then_version_then_place() {
        let t = DateTime::parse_from_rfc3339("2027-01-02T03:04:05Z").unwrap().to_utc();
        let a = Key::history("x", t, 2, 1);
        let b = Key::history("x", t, 10, 0);
        assert!(a.sk < b.sk);
        assert_eq!(a.sk, "EVENT#2027-01-02T03:04:05.000Z#0000000002#001");
    }
}

// ------------------------------------------------------------------ each stored type's key

use crate::repo::accounts::{DomainClaim, Login, Tombstone, User};
use crate::repo::forms::{CopyrightRecord, FormRecord};
use crate::repo::outbox::OutboxMail;
use crate::repo::payments::SeenEvent;
use domain::forms::{DataRequestRecord, Partner};
use domain::Account;

macro_rules! entity {
    ($t:ty, $name:expr, |$v:ident| $key:expr) => {
        impl Entity for $t {
            const NAME: &'static str = $name;
            fn key(&self) -> Key {
                let $v = self;
                $key
            }
        }
    };
}

entity!(Account, entity::ACCOUNT, |a| Key::account(&a.id));
entity!(Tombstone, entity::TOMBSTONE, |t| Key::account(&t.id));
entity!(User, entity::USER, |u| Key::user(&u.account_id, u.email.as_str()));
entity!(DomainClaim, entity::DOMAIN_CLAIM, |c| Key::domain_claim(c.domain.as_str()));
entity!(Login, entity::LOGIN, |l| Key::email_claim(l.email.as_str()));
entity!(OutboxMail, entity::OUTBOX, |m| Key::outbox(m.account_id.as_deref(), &m.key));
entity!(FormRecord, entity::FORM, |f| Key::form(&f.id));
entity!(CopyrightRecord, entity::COPYRIGHT, |c| Key::copyright(&c.id));
entity!(DataRequestRecord, entity::DATA_REQUEST, |r| Key::data_request(&r.id));
entity!(Partner, entity::PARTNER, |p| Key::partner(&p.id));
entity!(SeenEvent, entity::WEBHOOK, |e| Key::webhook(&e.event_id));
