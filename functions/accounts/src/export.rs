//! §26: the administrator's download of all the account's data (SPEC: Personal data).

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{json_response, ApiResult};
use platform::{session, App};
use serde_json::{json, Value};

/// History lines about money: payments, renewal charges and their notices (receipts, failures).
fn about_money(kind: &str) -> bool {
    ["payment", "renewal_charge", "notice:receipt", "notice:renewal_failed", "notice:payment_unapplied"]
        .iter()
        .any(|k| kind.starts_with(k))
}

/// `GET /accounts/{id}/export` (bearer): the account, its administrators (never a password
/// hash: those live on the login, which is not exported), its history, payments and receipts,
/// and the Terms acceptance record.
pub(crate) async fn export(app: &App, req: &Request, id: &str) -> ApiResult {
    let (_, _, account) = session::account(app, req, id).await?;
    let (users, history) = tokio::try_join!(app.accounts.users(id), app.accounts.history(id))?;
    let mut a = serde_json::to_value(&account).map_err(anyhow::Error::from)?;
    if let Value::Object(m) = &mut a {
        m.remove("credentials"); // token bookkeeping, not the customer's data
    }
    let acceptance = history.iter().find(|h| h.kind == "terms_accepted");
    let money: Vec<_> = history.iter().filter(|h| about_money(&h.kind)).collect();
    json_response(
        StatusCode::OK,
        &json!({
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
        }),
    )
}
