//! The one write path for account changes: read, bring up to the event time, act, commit
//! conditionally on the version read, deliver the notices; a lost race is retried from a fresh read.

use crate::app::App;
use crate::dynamo::{Tag, Write, WriteError};
use crate::outbox::deliver;
use crate::repo::accounts::{AccountRecord, Change, HistoryEvent};
use chrono::{DateTime, Utc};
use domain::lifecycle::{advance, Effect};
use domain::Account;

/// What an action decided: its result, its effects, extra history and extra labelled writes.
pub struct Decision<T> {
    pub value: T,
    pub effects: Vec<Effect>,
    pub history: Vec<HistoryEvent>,
    pub extra: Vec<Write>,
}

impl<T> Decision<T> {
    pub fn new(value: T, effects: Vec<Effect>) -> Self {
        Decision { value, effects, history: Vec::new(), extra: Vec::new() }
    }
}

/// Why an account update did not happen; mapped to HTTP in one place (`http`).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    #[error("no such account")]
    NotFound,
    /// The account was deleted (its tombstone remains).
    #[error("the account is deleted")]
    Deleted,
    /// The action refused (its own error).
    #[error("refused")]
    Refused(E),
    /// One of the action's own writes lost its condition.
    #[error("a condition of the action lost: {0:?}")]
    Lost(Vec<Tag>),
    /// The account kept changing under us.
    #[error("the account changed meanwhile")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

const ATTEMPTS: usize = 4;

pub async fn update_account<T, E>(
    app: &App,
    id: &str,
    now: DateTime<Utc>,
    mut action: impl FnMut(&mut Account) -> Result<Decision<T>, E>,
) -> Result<(Account, T), UpdateError<E>> {
    for _ in 0..ATTEMPTS {
        let mut account = match app.accounts.record(id).await? {
            Some(AccountRecord::Live(a)) => *a,
            Some(AccountRecord::Deleted(_)) => return Err(UpdateError::Deleted),
            None => return Err(UpdateError::NotFound),
        };
        let read_version = account.version;
        let mut effects = advance(&mut account, &app.config.policy, app.catalog, now);
        let d = action(&mut account).map_err(UpdateError::Refused)?;
        effects.extend(d.effects);
        let change = Change {
            account: &mut account,
            expected_version: Some(read_version),
            effects: &effects,
            history: d.history,
            extra: d.extra,
            now,
        };
        match app.accounts.commit(change, &app.config.policy).await {
            Ok(mails) => {
                deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
                return Ok((account, d.value));
            }
            // A stale read can make other writes lose too (a notice the winner also wrote): re-read.
            Err(WriteError::Conflict(tags)) if tags.contains(&Tag::Account) => continue,
            Err(WriteError::Contended) => continue,
            Err(WriteError::Conflict(tags)) => return Err(UpdateError::Lost(tags)),
            Err(WriteError::Unexpected(e)) => return Err(UpdateError::Unexpected(e)),
        }
    }
    Err(UpdateError::Busy)
}
