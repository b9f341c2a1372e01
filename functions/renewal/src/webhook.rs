//! Stripe's webhook (SPEC: "The webhook"): signed events, each applied once whatever the order
//! and however often it comes. A payment applies only when it matches its stored checkout or
//! renewal charge; money that cannot be applied is kept for an operator and the administrators told.

use domain::billing::{charge_declined, receive_payment, unapplied_notice, Paid, PaymentFor, Received};
use domain::lifecycle::Effect;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::auth::verify_webhook;
use platform::dynamo::{Tag, Write};
use platform::http::{body_bytes, event_time, header, json_response, require_key, ApiResult};
use platform::ops::{update_account, Decision, UpdateError};
use platform::repo::payments::{SeenEvent, UnappliedPayment};
use platform::stripe::{Event, PaymentIntent};
use platform::{ApiError, App, HistoryEvent};
use serde_json::json;

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::field(field, message)
}

/// What the PaymentIntent's metadata says it paid for.
fn purpose(pi: &PaymentIntent) -> PaymentFor {
    let m = &pi.metadata;
    match m.get("kind").map(String::as_str) {
        Some("checkout") => match m.get("checkout_id") {
            Some(id) => PaymentFor::Checkout { id: id.clone() },
            None => PaymentFor::Unknown,
        },
        Some("renewal") => {
            let term_end =
                m.get("term_end").and_then(|t| t.parse().ok()).and_then(|t| chrono::DateTime::from_timestamp(t, 0));
            let attempt = m.get("attempt").and_then(|a| a.parse().ok());
            match (term_end, attempt) {
                (Some(term_end), Some(attempt)) => PaymentFor::Renewal { term_end, attempt },
                _ => PaymentFor::Unknown,
            }
        }
        _ => PaymentFor::Unknown,
    }
}

pub(crate) async fn webhook(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let body = body_bytes(req);
    verify_webhook(app.secrets.get(platform::Secret::StripeWebhook)?, header(req, "stripe-signature"), body, now)
        .map_err(|e| ApiError::problem(StatusCode::BAD_REQUEST, "bad_signature", e.to_string()))?;
    let ev: Event = serde_json::from_slice(body).map_err(|_| bad("body", "must be a Stripe event"))?;
    let handled = matches!(ev.kind.as_str(), "payment_intent.succeeded" | "payment_intent.payment_failed");
    if !handled {
        return json_response(StatusCode::OK, &json!({ "received": true, "status": "ignored" }));
    }
    let pi: PaymentIntent =
        serde_json::from_value(ev.data.object.clone()).map_err(|_| bad("data.object", "must be a PaymentIntent"))?;
    let account_id = pi.metadata.get("account_id").cloned();
    let seen = SeenEvent { event_id: ev.id.clone(), account_id: account_id.clone(), kind: ev.kind.clone() };
    let marker = app.payments.event_once(&seen, now)?;
    let outcome = if ev.kind == "payment_intent.succeeded" {
        succeeded(app, &ev, &pi, account_id.as_deref(), marker, now).await
    } else {
        failed(app, &pi, account_id.as_deref(), marker, now).await
    };
    let (status, state) = match outcome {
        Ok(x) => x,
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::EventOnce) => ("duplicate", None),
        Err(e) => return Err(e.into()),
    };
    if status == "unapplied" {
        platform::telemetry::metrics("renewal", &[("UnappliedPayments", platform::telemetry::Value::Count(1))]);
        tracing::warn!(event = %ev.id, payment_intent = %pi.id, "payment unapplied");
    }
    json_response(StatusCode::OK, &json!({ "received": true, "status": status, "state": state }))
}

type Outcome = Result<(&'static str, Option<domain::State>), UpdateError<ApiError>>;

async fn succeeded(
    app: &App,
    ev: &Event,
    pi: &PaymentIntent,
    account_id: Option<&str>,
    marker: Write,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    let received = Received {
        payment_intent: pi.id.clone(),
        amount: pi.amount.unwrap_or(0),
        currency: pi.currency.clone().unwrap_or_default(),
        purpose: purpose(pi),
    };
    let record = |reason: String| UnappliedPayment {
        event_id: ev.id.clone(),
        payment_intent: pi.id.clone(),
        account_id: account_id.map(String::from),
        amount: received.amount,
        currency: received.currency.clone(),
        reason,
        at: now,
    };
    let Some(aid) = account_id else {
        return unapplied_alone(app, marker, record("the payment names no account".into())).await;
    };
    let (p, catalog) = (&app.config.policy, app.catalog);
    let applied = update_account(app, aid, now, |a| -> Result<_, ApiError> {
        let mut d = Decision::new("applied", vec![]);
        d.extra.push(marker.clone());
        match receive_payment(a, &received, now, p, catalog) {
            Ok(Paid::Applied(effects)) => d.effects = effects,
            Ok(Paid::AlreadyApplied) => d.value = "duplicate",
            Err(why) => {
                d.value = "unapplied";
                d.extra.push(app.payments.unapplied(&record(why.to_string()))?);
                d.effects.push(Effect::Notice(unapplied_notice(&received, &ev.id, &why, a.plan.clone(), now)));
                d.history.push(HistoryEvent::new(
                    now,
                    "payment_unapplied",
                    json!({ "payment_intent": pi.id, "reason": why.to_string() }),
                ));
            }
        }
        Ok(d)
    })
    .await;
    match applied {
        Ok((a, status)) => Ok((status, Some(a.state))),
        // Deleted or never there: the money is kept for an operator all the same.
        Err(UpdateError::NotFound) => unapplied_alone(app, marker, record("the account no longer exists".into())).await,
        Err(e) => Err(e),
    }
}

async fn unapplied_alone(app: &App, marker: Write, u: UnappliedPayment) -> Outcome {
    let writes = vec![marker, app.payments.unapplied(&u)?];
    match app.payments.transact(writes).await {
        Ok(()) => Ok(("unapplied", None)),
        Err(e) if e.lost(Tag::EventOnce) => Ok(("duplicate", None)),
        Err(e) => Err(UpdateError::Unexpected(e.into())),
    }
}

/// A failed renewal charge is recorded and the administrators are told when it is retried; a
/// failed checkout payment is only recorded. A failure after the same payment succeeded changes nothing.
async fn failed(
    app: &App,
    pi: &PaymentIntent,
    account_id: Option<&str>,
    marker: Write,
    now: chrono::DateTime<chrono::Utc>,
) -> Outcome {
    let Some(aid) = account_id else {
        return match app.payments.transact(vec![marker]).await {
            Ok(()) => Ok(("ignored", None)),
            Err(e) if e.lost(Tag::EventOnce) => Ok(("duplicate", None)),
            Err(e) => Err(UpdateError::Unexpected(e.into())),
        };
    };
    let err = pi.last_payment_error.clone().unwrap_or_default();
    let action_required =
        pi.status.as_deref() == Some("requires_action") || err.code.as_deref() == Some("authentication_required");
    let purpose = purpose(pi);
    let p = &app.config.policy;
    let r = update_account(app, aid, now, |a| -> Result<_, ApiError> {
        let mut d = Decision::new("recorded", vec![]);
        d.extra.push(marker.clone());
        let detail = json!({ "payment_intent": pi.id, "code": err.code, "decline_code": err.decline_code });
        match &purpose {
            PaymentFor::Renewal { term_end, attempt } => {
                d.effects = charge_declined(a, *term_end, *attempt, &pi.id, action_required, now, p);
                if d.effects.is_empty() {
                    d.value = "ignored";
                } else {
                    d.history.push(HistoryEvent::new(now, "renewal_charge_failed", detail));
                }
            }
            _ => d.history.push(HistoryEvent::new(now, "payment_failed", detail)),
        }
        Ok(d)
    })
    .await;
    match r {
        Ok((a, status)) => Ok((status, Some(a.state))),
        Err(UpdateError::NotFound) => match app.payments.transact(vec![marker]).await {
            Ok(()) => Ok(("ignored", None)),
            Err(e) if e.lost(Tag::EventOnce) => Ok(("duplicate", None)),
            Err(e) => Err(UpdateError::Unexpected(e.into())),
        },
        Err(e) => Err(e),
    }
}

/// `GET /operator/unapplied-payments` (operator): what a person has to refund (§7.5).
pub(crate) async fn unapplied(app: &App, req: &Request) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    json_response(StatusCode::OK, &json!({ "payments": app.payments.unapplied_list().await? }))
}
