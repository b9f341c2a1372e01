//! The account's own actions (SPEC: Sign-in and account; §8.2, §26): termination with the
//! domain typed as confirmation, and the data export. Shared by the accounts routes and the portal.

use crate::auth::Claims;
use crate::ops::Decision;
use crate::{session, ApiError, App};
use chrono::{DateTime, Duration, Utc};
use domain::lifecycle::{self, Refusal};
use domain::types::required_text;
use domain::Account;
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

/// A lifecycle refusal, as HTTP.
pub fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Deleted => ApiError::not_found(),
        Refusal::Terminated => {
            ApiError::problem(StatusCode::CONFLICT, "account_terminated", "the account is terminated")
        }
        Refusal::Suspended => {
            ApiError::problem(StatusCode::CONFLICT, "account_suspended", "the account is suspended (§21.2)")
        }
    }
}

/// Terminates the session's account when `confirm_domain` is its domain; answers the account
/// and when its data is deleted.
pub async fn terminate(
    app: &App,
    now: DateTime<Utc>,
    claims: &Claims,
    confirm_domain: Option<&str>,
) -> Result<(Account, DateTime<Utc>), ApiError> {
    let confirm = required_text("confirm_domain", confirm_domain, 63)?;
    let p = app.config.policy.clone();
    let (a, ()) = session::update(app, &claims.sub, now, claims, |a| -> Result<_, ApiError> {
        if a.domain != confirm.as_str() {
            return Err(ApiError::field("confirm_domain", "must be the account's domain"));
        }
        Ok(Decision::new((), lifecycle::terminate(a, &p, now).map_err(refused)?))
    })
    .await?;
    let deletion_at = a.state_since + Duration::days(p.termination_deletion_days);
    Ok((a, deletion_at))
}

/// History lines about money: payments, renewal charges and their notices (receipts, failures).
fn about_money(kind: &str) -> bool {
    ["payment", "renewal_charge", "notice:receipt", "notice:renewal_failed", "notice:payment_unapplied"]
        .iter()
        .any(|k| kind.starts_with(k))
}

/// §26: all the account's data: the account, its administrators (never a password hash: those
/// live on the login, which is not exported), its history, payments and receipts, and the Terms
/// acceptance record.
pub async fn export(app: &App, account: &Account) -> Result<Value, ApiError> {
    let id = account.id.as_str();
    let (users, history) = tokio::try_join!(app.accounts.users(id), app.accounts.history(id))?;
    let mut a = serde_json::to_value(account).map_err(anyhow::Error::from)?;
    if let Value::Object(m) = &mut a {
        m.remove("credentials"); // token bookkeeping, not the customer's data
    }
    let acceptance = history.iter().find(|h| h.kind == "terms_accepted");
    let money: Vec<_> = history.iter().filter(|h| about_money(&h.kind)).collect();
    Ok(json!({
        "exported_at": Utc::now(),
        "account": a,
        "administrators": users,
        "history": history,
        "payments": {
            "checkouts": account.checkouts,
            "last_payment": account.last_payment,
            "renewal": account.renewal,
            "payment_method": account.payment_method,
            "events": money,
        },
        "terms_acceptance": acceptance,
    }))
}
