//! Identity's records: one-time link tokens (verification, password reset) stored by hash only,
//! the sign-in throttle's counters (keyed by hashes of the address and the source, never the
//! values), the administrator's credential on its login item, and per-source rate limits.

use crate::dynamo::expr::{b, n, s, Cond, Update};
use crate::dynamo::item::{from_item, key_of, to_item_at};
use crate::dynamo::keys::{entity, Key, ENTITY, EXPIRES_AT};
use crate::dynamo::store::{Store, Tag, Write, WriteError};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use domain::identity::{may_attempt, Throttled, Window};
use domain::types::Email;
use domain::Policy;
use serde::{Deserialize, Serialize};

/// What a one-time link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Verify,
    Reset,
}

impl LinkKind {
    fn as_str(self) -> &'static str {
        match self {
            LinkKind::Verify => "verify",
            LinkKind::Reset => "reset",
        }
    }
}

/// `TOKEN#<kind>#<hash>`: a one-time link, usable until `valid_until` (event time) and once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneTimeLink {
    pub kind: LinkKind,
    pub account_id: String,
    pub email: Email,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[serde(default)]
    pub used: bool,
}

#[derive(Clone)]
pub struct Identity {
    pub(crate) store: Store,
}

impl Identity {
    /// The writes of a new link under its token's hash (TTL cleans it up a day after it expires)
    /// and of its reference from the account, which deletion follows.
    pub fn new_link(&self, token_hash: &str, link: &OneTimeLink) -> Result<[Write; 2]> {
        let key = Key::one_time(link.kind.as_str(), token_hash);
        let mut item = to_item_at(&key, entity::TOKEN, link)?;
        item.insert(EXPIRES_AT.into(), n((link.valid_until + Duration::days(1)).timestamp()));
        Ok([Write::put(Tag::Record, item, Some(Cond::New)), crate::repo::accounts::reference(&link.account_id, &key)])
    }

    pub async fn link(&self, kind: LinkKind, token_hash: &str) -> Result<Option<OneTimeLink>> {
        self.store.get(&Key::one_time(kind.as_str(), token_hash)).await?.map(from_item).transpose()
    }

    /// Uses a link, once: loses its condition if someone used it first.
    pub fn use_link(&self, kind: LinkKind, token_hash: &str) -> Write {
        let cond = Cond::Exists.and(Cond::Eq("used", b(false)));
        Write::update(
            Tag::Decision,
            Key::one_time(kind.as_str(), token_hash),
            Update::new().set("used", b(true)),
            Some(cond),
        )
    }

    /// The administrator's login after a password change, reset or sign-out: a new hash (if any)
    /// and the credential version the account now holds, so tokens issued before are refused.
    pub fn login_update(&self, email: &Email, password_hash: Option<String>, credential: u32) -> Write {
        let mut u = Update::new().set("credential_version", n(i64::from(credential)));
        if let Some(h) = password_hash {
            u = u.set("password_hash", s(h));
        }
        Write::update(Tag::AccountItem, Key::email_claim(email.as_str()), u, Some(Cond::Exists))
    }

    /// Counts a sign-in attempt before its password is checked, for the (address, source) pair
    /// and for the address over all sources, atomically: concurrent attempts cannot exceed a
    /// limit. A counter whose window ran out starts a new one. `Err` when over a limit.
    /// `per_source` is the route's per-IP limit, counted in the same transaction.
    pub async fn reserve_sign_in(
        &self,
        email_h: &str,
        ip_h: &str,
        now: DateTime<Utc>,
        p: &Policy,
        per_source: Write,
    ) -> Result<Result<(), Throttled>> {
        let (pair_key, all_key) = (Key::sign_in_pair(email_h, ip_h), Key::sign_in_all(email_h));
        let cutoff = (now - Duration::minutes(p.sign_in_window_minutes)).timestamp();
        let expires = (now + Duration::days(1)).timestamp();
        let count_in = |key: &Key, limit: u32| {
            let u = Update::new()
                .add("count", n(1))
                .set_default("window_start", n(now.timestamp()))
                .set(EXPIRES_AT, n(expires))
                .set(ENTITY, s(entity::THROTTLE));
            let live = Cond::Gt("window_start", n(cutoff)).and(Cond::Lt("count", n(i64::from(limit))));
            Write::update(Tag::Throttle, key.clone(), u, Some(Cond::Missing("count").or(live)))
        };
        for _ in 0..4 {
            let writes = vec![
                count_in(&pair_key, p.sign_in_pair_limit),
                count_in(&all_key, p.sign_in_address_limit),
                per_source.clone(),
            ];
            match self.store.transact(writes).await {
                Ok(()) => return Ok(Ok(())),
                Err(e) if e.lost(Tag::RateLimit) => {
                    return Ok(Err(Throttled::Source { retry_after: domain::limits::retry_after(now.timestamp()) }))
                }
                Err(WriteError::Conflict(_) | WriteError::Contended) => {}
                Err(WriteError::Unexpected(e)) => return Err(e),
            }
            // Over a limit, or a window ran out: read both and tell which.
            let (mut pair, mut all) = (Window::default(), Window::default());
            for item in self.store.get_many(&[pair_key.clone(), all_key.clone()]).await? {
                if key_of(&item) == pair_key {
                    pair = from_item(item)?;
                } else {
                    all = from_item(item)?;
                }
            }
            if let Err(t) = may_attempt(&pair, &all, now, p) {
                return Ok(Err(t));
            }
            for (key, w) in [(&pair_key, pair), (&all_key, all)] {
                if w.window_start <= cutoff {
                    self.restart_window(key, w, now).await?;
                }
            }
        }
        Err(anyhow::anyhow!("sign-in throttle kept changing under us"))
    }

    /// A new window from `now`, unless another attempt restarted it first.
    async fn restart_window(&self, key: &Key, old: Window, now: DateTime<Utc>) -> Result<()> {
        let u = Update::new().set("count", n(0)).set("window_start", n(now.timestamp()));
        let cond = Cond::Eq("window_start", n(old.window_start));
        match self.store.write(Write::update(Tag::Throttle, key.clone(), u, Some(cond))).await {
            Ok(()) | Err(WriteError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A success clears its pair and is not counted toward the address's overall limit.
    pub fn sign_in_succeeded(&self, email_h: &str, ip_h: &str) -> Vec<Write> {
        vec![
            Write::delete(Tag::Throttle, Key::sign_in_pair(email_h, ip_h)),
            Write::update(
                Tag::Throttle,
                Key::sign_in_all(email_h),
                Update::new().add("count", n(-1)),
                Some(Cond::Exists),
            ),
        ]
    }

    /// A password reset clears every counter of the address.
    pub async fn clear_sign_in(&self, email_h: &str) -> Result<()> {
        let items = self.store.query(&Key::sign_in_partition(email_h), "").await?;
        let keys: Vec<Key> = items.iter().map(key_of).collect();
        self.store.delete_all(&keys).await
    }

    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        self.store.transact(writes).await
    }
}
