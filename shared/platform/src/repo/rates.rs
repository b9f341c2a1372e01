//! Fixed-window rate-limit counters of the public routes, keyed by a keyed hash of who is
//! counted (a source IP or a recipient address: neither is ever stored).

use crate::auth::keyed_hash;
use crate::dynamo::expr::{n, s, Cond, Update};
use crate::dynamo::keys::{entity, Key, ENTITY, EXPIRES_AT};
use crate::dynamo::store::{Store, Tag, Write, WriteError};
use anyhow::Result;
use chrono::{DateTime, Utc};
use domain::limits::{retry_after, Rule, WINDOW_SECONDS};

#[derive(Clone)]
pub struct Rates {
    pub(crate) store: Store,
    pub(crate) secrets: std::sync::Arc<crate::secrets::Secrets>,
}

/// Over a limit: seconds until its window ends (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: i64,
}

impl Rates {
    /// One more hit on `rule`'s counter for `who`, as a write to put in the transaction that
    /// does the work (no request of its own): it loses with `Tag::RateLimit` once `max` are in.
    pub fn hit(&self, rule: Rule, who: &str, now: DateTime<Utc>) -> Result<Write> {
        let window = now.timestamp().div_euclid(WINDOW_SECONDS);
        let end = (window + 1) * WINDOW_SECONDS;
        let who_h = keyed_hash(self.secrets.get(crate::secrets::Secret::RateKey)?, "rate", who);
        let u =
            Update::new().add("hits", n(1)).set(EXPIRES_AT, n(end + WINDOW_SECONDS)).set(ENTITY, s(entity::THROTTLE));
        let cond = Cond::Missing("hits").or(Cond::Lt("hits", n(i64::from(rule.max))));
        Ok(Write::update(Tag::RateLimit, Key::throttle(&format!("{}#{who_h}#{window}", rule.name)), u, Some(cond)))
    }

    /// The limit's answer for a transaction that lost, if it was a rate limit that refused it.
    pub fn refused(e: &WriteError, now: DateTime<Utc>) -> Option<Limited> {
        e.lost(Tag::RateLimit).then(|| Limited { retry_after: retry_after(now.timestamp()) })
    }

    /// Hits on their own, for a route with no transaction to carry them: one request.
    pub async fn check(&self, hits: Vec<Write>, now: DateTime<Utc>) -> Result<Result<(), Limited>> {
        let mut hits = hits;
        let r = match (hits.pop(), hits.is_empty()) {
            (Some(one), true) => self.store.write(one).await,
            (Some(last), false) => {
                hits.push(last);
                self.store.transact(hits).await
            }
            (None, _) => return Ok(Ok(())),
        };
        match r {
            Ok(()) => Ok(Ok(())),
            Err(e) => match Self::refused(&e, now) {
                Some(l) => Ok(Err(l)),
                None => Err(e.into()),
            },
        }
    }
}
