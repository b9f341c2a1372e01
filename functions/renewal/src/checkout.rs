//! Checkout (SPEC: "Checkout", "The quoted amount"): eligibility, the country and the chart are
//! checked before any charge; the checkout is stored first, then the saved card is charged for
//! exactly the quoted amount. The payment applies when its webhook arrives, never from here.

use crate::handler::{email_unverified, ineligible, plan_of, stripe_failed};
use chrono::Duration;
use domain::account::Checkout;
use domain::billing::quote;
use domain::{FieldError, FieldErrors};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::dynamo::expr::{s, Path, Update};
use platform::http::{bearer_for, event_time, json_response, parse_body, ApiResult};
use platform::ops::{update_account, Decision};
use platform::stripe::{NewPayment, StripeError};
use platform::{session, ApiError, App, HistoryEvent};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct CheckoutBody {
    plan: Option<String>,
    months: Option<u32>,
}

pub(crate) async fn checkout(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: CheckoutBody = parse_body(req)?;
    let mut errs = FieldErrors::default();
    let plan = errs.take(plan_of(app, "plan", b.plan.as_deref()));
    if b.months.is_none() {
        errs.push(FieldError::required("months"));
    }
    errs.clone().into_result()?;
    let (Some(plan), Some(months)) = (plan, b.months) else { return Err(errs.into()) };
    let checkout_id = uuid::Uuid::new_v4().simple().to_string();
    let policy = &app.config.policy;

    // 1. The checkout is stored before any charge, so a payment always finds what it was for.
    let (a, (q, idx)) = session::update(app, id, now, &claims, |a| -> Result<_, ApiError> {
        if !a.email_verified {
            return Err(email_unverified());
        }
        if a.payment_method.is_none() {
            return Err(ApiError::problem(StatusCode::CONFLICT, "no_payment_method", "save a card first"));
        }
        let q = quote(a, plan, months, now, app.catalog).map_err(ineligible)?;
        a.checkouts.retain(|c| c.expires_at > now);
        a.checkouts.push(Checkout {
            id: checkout_id.clone(),
            plan: q.plan.clone(),
            months,
            amount: q.amount.clone(),
            proration: q.proration,
            payment_intent: None,
            created_at: now,
            expires_at: now + Duration::hours(policy.checkout_hours),
        });
        Ok(Decision::new((q, a.checkouts.len() - 1), vec![]))
    })
    .await?;

    // 2. The saved card is charged for exactly the quoted amount.
    let (Some(customer), Some(card)) = (a.stripe_customer.as_deref(), a.payment_method.as_ref()) else {
        return Err(ApiError::problem(StatusCode::CONFLICT, "no_payment_method", "save a card first"));
    };
    let months_text = months.to_string();
    let metadata = [
        ("kind", "checkout"),
        ("account_id", a.id.as_str()),
        ("checkout_id", checkout_id.as_str()),
        ("plan", q.plan.as_str()),
        ("months", months_text.as_str()),
    ];
    let payment = NewPayment {
        amount: q.amount.amount,
        currency: &q.amount.currency,
        customer,
        payment_method: &card.id,
        off_session: false,
        metadata: &metadata,
    };
    match app.stripe.pay(&payment, &format!("checkout-{checkout_id}")).await {
        Ok(pi) => {
            // 3. Its PaymentIntent recorded beside it (cheaply when nobody wrote the account since).
            let update = Update::new().set(Path::InList("checkouts", idx, Some("payment_intent")), s(&pi.id));
            if !app.accounts.amend(&a, update, vec![]).await? {
                let pi_id = pi.id.clone();
                update_account(app, id, now, |a| -> Result<_, ApiError> {
                    if let Some(c) = a.checkouts.iter_mut().find(|c| c.id == checkout_id) {
                        c.payment_intent = Some(pi_id.clone());
                    }
                    Ok(Decision::new((), vec![]))
                })
                .await?;
            }
            json_response(
                StatusCode::CREATED,
                &json!({
                    "checkout_id": checkout_id, "plan": q.plan, "months": months,
                    "amount": q.amount.amount, "proration": q.proration, "currency": q.amount.currency,
                    "tax_included": false, "term_start": q.term_start, "applies_now": q.applies_now,
                    "payment_intent": pi.id, "status": pi.status, "client_secret": pi.client_secret,
                }),
            )
        }
        Err(StripeError::Declined { code, decline_code, .. }) => {
            // A decline is recorded in history and sends no notice; the checkout goes.
            let line = HistoryEvent::new(
                now,
                "checkout_declined",
                json!({ "checkout_id": checkout_id, "code": code, "decline_code": decline_code, "amount": q.amount }),
            );
            let update = Update::new().remove(Path::InList("checkouts", idx, None));
            if !app.accounts.amend(&a, update, vec![line.clone()]).await? {
                update_account(app, id, now, |a| -> Result<_, ApiError> {
                    a.checkouts.retain(|c| c.id != checkout_id);
                    let mut d = Decision::new((), vec![]);
                    d.history.push(line.clone());
                    Ok(d)
                })
                .await?;
            }
            Err(ApiError::with(
                StatusCode::PAYMENT_REQUIRED,
                "card_declined",
                "the card was declined; nothing was charged",
                json!({ "decline_code": decline_code, "checkout_id": checkout_id }),
            ))
        }
        Err(e) => Err(stripe_failed(e)),
    }
}
