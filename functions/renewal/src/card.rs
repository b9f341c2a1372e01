//! Saving the renewal card (SPEC: "Saving a card"): a SetupIntent for off-session use, which
//! the browser confirms with Stripe.js; the server then checks it with Stripe and makes its card
//! the account's renewal payment method (the customer's default).

use crate::handler::{email_unverified, stripe_failed};
use domain::account::SavedCard;
use domain::types::required_text;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{bearer_for, event_time, json_response, parse_body, ApiResult};
use platform::ops::Decision;
use platform::{session, ApiError, App, HistoryEvent};
use serde::Deserialize;
use serde_json::json;

/// `POST /accounts/{id}/payment-method`: the account's Stripe customer (created once) and a
/// SetupIntent for the browser to confirm.
pub(crate) async fn start(app: &App, req: &Request, id: &str) -> ApiResult {
    let (now, claims, a) = session::account(app, req, id).await?;
    if !a.email_verified {
        return Err(email_unverified());
    }
    let customer = match a.stripe_customer.clone() {
        Some(c) => c,
        None => {
            let created =
                app.stripe.create_customer(&a.id, &format!("customer-{}", a.id)).await.map_err(stripe_failed)?;
            // Two racing saves may each create one; the first stored is the account's.
            let (a, ()) = session::update(app, id, now, &claims, |a| -> Result<_, ApiError> {
                a.stripe_customer.get_or_insert_with(|| created.id.clone());
                Ok(Decision::new((), vec![]))
            })
            .await?;
            a.stripe_customer.unwrap_or(created.id)
        }
    };
    let si = app.stripe.create_setup_intent(&customer).await.map_err(stripe_failed)?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "setup_intent": si.id, "client_secret": si.client_secret,
            "publishable_key": app.config.stripe.publishable_key,
        }),
    )
}

#[derive(Deserialize)]
struct ConfirmBody {
    setup_intent: Option<String>,
}

fn incomplete(detail: &str) -> ApiError {
    ApiError::problem(StatusCode::CONFLICT, "setup_incomplete", detail)
}

/// `POST /accounts/{id}/payment-method/confirm`: the SetupIntent succeeded for this account's
/// customer, so its card becomes the renewal card.
pub(crate) async fn confirm(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: ConfirmBody = parse_body(req)?;
    let si_id = required_text("setup_intent", b.setup_intent.as_deref(), 255)?;
    let (now, claims, a) = session::account(app, req, id).await?;
    if !a.email_verified {
        return Err(email_unverified());
    }
    let customer = a.stripe_customer.clone().ok_or_else(|| incomplete("no card is being saved for this account"))?;
    let si = match app.stripe.setup_intent(&si_id).await {
        Ok(si) => si,
        Err(platform::stripe::StripeError::Refused { status: 400 | 404, .. }) => {
            return Err(ApiError::field("setup_intent", "is not a SetupIntent of this account"))
        }
        Err(e) => return Err(stripe_failed(e)),
    };
    if si.customer.as_deref() != Some(customer.as_str()) {
        return Err(ApiError::field("setup_intent", "is not a SetupIntent of this account"));
    }
    let (Some("succeeded"), Some(pm_id)) = (si.status.as_deref(), si.payment_method.as_deref()) else {
        return Err(incomplete("the card has not been confirmed yet"));
    };
    let pm = app.stripe.payment_method(pm_id).await.map_err(stripe_failed)?;
    app.stripe.make_default(&customer, &pm).await.map_err(stripe_failed)?;
    let card = pm.card.unwrap_or(platform::stripe::Card { brand: None, last4: None, exp_month: None, exp_year: None });
    let saved = SavedCard {
        id: pm.id,
        brand: card.brand.unwrap_or_default(),
        last4: card.last4.unwrap_or_default(),
        exp_month: card.exp_month.unwrap_or_default(),
        exp_year: card.exp_year.unwrap_or_default(),
    };
    let (a, ()) = session::update(app, id, now, &claims, |a| -> Result<_, ApiError> {
        a.payment_method = Some(saved.clone());
        let mut d = Decision::new((), vec![]);
        d.history.push(HistoryEvent::new(
            now,
            "payment_method_saved",
            json!({ "brand": saved.brand, "last4": saved.last4 }),
        ));
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "payment_method": a.payment_method }))
}
