//! Saving the renewal card (SPEC: "Saving a card"): a SetupIntent for off-session use, which
//! the browser confirms with Stripe.js; the server then checks it with Stripe and makes its card
//! the account's renewal payment method (the customer's default). The rules live in
//! `platform::cases::billing`, shared with the portal's card page.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::cases::billing::{confirm_card, start_card};
use platform::http::{bearer_for, event_time, json_response, parse_body, ApiResult};
use platform::{session, App};
use serde::Deserialize;
use serde_json::json;

/// `POST /accounts/{id}/payment-method`: the account's Stripe customer (created once) and a
/// SetupIntent for the browser to confirm.
pub(crate) async fn start(app: &App, req: &Request, id: &str) -> ApiResult {
    let (now, claims, a) = session::account(app, req, id).await?;
    let setup = start_card(app, now, &claims, &a).await?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "setup_intent": setup.setup_intent, "client_secret": setup.client_secret,
            "publishable_key": app.config.stripe.publishable_key,
        }),
    )
}

#[derive(Deserialize)]
struct ConfirmBody {
    setup_intent: Option<String>,
}

/// `POST /accounts/{id}/payment-method/confirm`: the SetupIntent succeeded for this account's
/// customer, so its card becomes the renewal card.
pub(crate) async fn confirm(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: ConfirmBody = parse_body(req)?;
    domain::types::required_text("setup_intent", b.setup_intent.as_deref(), 255)?;
    let (now, claims, a) = session::account(app, req, id).await?;
    let a = confirm_card(app, now, &claims, &a, b.setup_intent.as_deref()).await?;
    json_response(StatusCode::OK, &json!({ "payment_method": a.payment_method }))
}
