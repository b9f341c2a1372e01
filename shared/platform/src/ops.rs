//! The one write path for account changes: read, bring up to the event time, act, commit
//! conditionally on the version read, deliver the notices; a lost race is retried from a fresh read.

use crate::app::App;
use crate::http::ApiError;
use crate::items::HistoryEvent;
use crate::outbox::deliver;
use crate::store::{Change, WriteError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use domain::lifecycle::{advance, Effect};
use domain::Account;

/// What an action decided: its result, its effects, extra history and extra writes.
pub struct Decision<T> {
    pub value: T,
    pub effects: Vec<Effect>,
    pub history: Vec<HistoryEvent>,
    pub extra: Vec<TransactWriteItem>,
}

impl<T> Decision<T> {
    pub fn new(value: T, effects: Vec<Effect>) -> Self {
        Decision { value, effects, history: Vec::new(), extra: Vec::new() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no such account")]
    NotFound,
    /// One of the action's extra writes lost its condition (index from 1, as in `Change::extra`).
    #[error("a condition of the action lost: {0:?}")]
    Lost(Vec<usize>),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<UpdateError> for ApiError {
    fn from(e: UpdateError) -> ApiError {
        match e {
            UpdateError::NotFound => ApiError::not_found(),
            UpdateError::Lost(_) => ApiError::conflict_retry(),
            UpdateError::Api(a) => a,
        }
    }
}

const ATTEMPTS: usize = 4;

pub async fn update_account<T>(
    app: &App,
    id: &str,
    now: DateTime<Utc>,
    mut action: impl FnMut(&mut Account) -> Result<Decision<T>, ApiError>,
) -> Result<(Account, T), UpdateError> {
    for _ in 0..ATTEMPTS {
        let mut account = app.store.account(id).await.map_err(ApiError::from)?.ok_or(UpdateError::NotFound)?;
        let read_version = account.version;
        let mut effects = advance(&mut account, &app.config.policy, app.catalog, now);
        let d = action(&mut account)?;
        effects.extend(d.effects);
        let change = Change {
            account: &mut account,
            expected_version: Some(read_version),
            effects: &effects,
            history: d.history,
            extra: d.extra,
            now,
        };
        match app.store.commit(change, &app.config.policy).await {
            Ok(mails) => {
                deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
                return Ok((account, d.value));
            }
            Err(WriteError::Conflict { failed }) if failed == [0] => continue,
            Err(WriteError::Conflict { failed }) => return Err(UpdateError::Lost(failed)),
            Err(WriteError::Other(e)) => return Err(ApiError::Unexpected(e).into()),
        }
    }
    Err(ApiError::conflict_retry().into())
}
