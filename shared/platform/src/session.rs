//! Bearer sessions (SPEC: Sign-in and account): a token acts on its own account while the account
//! is open and the administrator's credential version is the one the token carries. Checked on the
//! account each route reads anyway, so revocation costs no extra read.

use crate::app::App;
use crate::auth::Claims;
use crate::http::{bearer_for, event_time, ApiError};
use crate::ops::{update_account, Decision, UpdateError};
use crate::repo::accounts::AccountRecord;
use chrono::{DateTime, Utc};
use domain::types::Email;
use domain::{Account, State};
use lambda_http::Request;

/// The token still speaks for an administrator of this open account.
pub fn check(claims: &Claims, a: &Account) -> Result<(), ApiError> {
    let admin = Email::try_from(claims.email.clone()).map_err(|_| ApiError::token_revoked())?;
    let open = !matches!(a.state, State::Terminated | State::Deleted);
    if open && a.admins.contains(&admin) && a.credential(&admin) == claims.ver {
        Ok(())
    } else {
        Err(ApiError::token_revoked())
    }
}

/// The event time, the token's claims and the account it acts on, read once and checked.
pub async fn account(app: &App, req: &Request, id: &str) -> Result<(DateTime<Utc>, Claims, Account), ApiError> {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(crate::Secret::Token)?, now, id)?;
    let a = account_of(app, &claims).await?;
    Ok((now, claims, a))
}

/// The account a verified token acts on (its `sub`), read once and checked.
pub async fn account_of(app: &App, claims: &Claims) -> Result<Account, ApiError> {
    match app.accounts.record(&claims.sub).await? {
        Some(AccountRecord::Live(a)) => {
            check(claims, &a)?;
            Ok(*a)
        }
        Some(AccountRecord::Deleted(_)) => Err(ApiError::token_revoked()),
        None => Err(ApiError::not_found()),
    }
}

/// `update_account` for a bearer route: the session is checked on the account as read.
pub async fn update<T>(
    app: &App,
    id: &str,
    now: DateTime<Utc>,
    claims: &Claims,
    mut action: impl FnMut(&mut Account) -> Result<Decision<T>, ApiError>,
) -> Result<(Account, T), ApiError> {
    let r = update_account(app, id, now, |a| {
        check(claims, a)?;
        action(a)
    })
    .await;
    r.map_err(|e| match e {
        UpdateError::Deleted => ApiError::token_revoked(),
        other => other.into(),
    })
}
