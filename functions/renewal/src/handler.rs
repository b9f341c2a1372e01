//! Routes of the renewal function (SPEC: Payments through Stripe; §7, §21.3), and what they share.

use crate::{card, checkout, plans, webhook};
use domain::billing::{Ineligible, MAX_MONTHS};
use domain::types::required_text;
use domain::FieldError;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::http::{answer, method_not_allowed, segments, ApiResult};
use platform::stripe::StripeError;
use platform::{ApiError, App};
use serde_json::json;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(app, "renewal", &req, route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("GET", ["plans"]) => plans::plans(app),
        ("GET", ["accounts", id, "compatibility"]) => plans::compatibility(app, req, id).await,
        ("PUT", ["accounts", id, "auto-renew"]) => plans::auto_renew(app, req, id).await,
        ("PUT", ["accounts", id, "next-plan"]) => plans::next_plan(app, req, id).await,
        ("POST", ["accounts", id, "payment-method"]) => card::start(app, req, id).await,
        ("POST", ["accounts", id, "payment-method", "confirm"]) => card::confirm(app, req, id).await,
        ("POST", ["accounts", id, "checkout"]) => checkout::checkout(app, req, id).await,
        ("POST", ["billing", "webhook"]) => webhook::webhook(app, req).await,
        ("GET", ["operator", "unapplied-payments"]) => webhook::unapplied(app, req).await,
        (_, ["plans"] | ["accounts", _, _] | ["accounts", _, _, _] | ["billing", "webhook"]) => {
            Err(method_not_allowed())
        }
        (_, ["operator", "unapplied-payments"]) => Err(method_not_allowed()),
        _ => Err(ApiError::no_route()),
    }
}

pub(crate) fn plan_of<'a>(app: &'a App, field: &str, id: Option<&str>) -> Result<&'a domain::Plan, FieldError> {
    let id = required_text(field, id, 40)?;
    app.catalog.get(&id).ok_or_else(|| FieldError::new(field, "is not a plan of the catalog"))
}

pub(crate) fn ineligible(e: Ineligible) -> ApiError {
    match e {
        Ineligible::Incompatible(chart) => ApiError::with(
            StatusCode::UNPROCESSABLE_ENTITY,
            "incompatible",
            "current usage exceeds this plan's limits; remove the content the chart lists first (§7.4, §21.3)",
            json!({ "chart": chart }),
        ),
        Ineligible::Months => ApiError::field("months", format!("must be 1 to {MAX_MONTHS}")),
        Ineligible::Country => ApiError::problem(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "country_not_allowed",
            "the service can no longer be sold to this account's country or region (§13.3, §28)",
        ),
        Ineligible::FreePlan => ApiError::field("plan", "the Free plan is not bought; choose it as the next plan"),
        Ineligible::EmailUnverified => email_unverified(),
        other => ApiError::problem(StatusCode::CONFLICT, "not_eligible", other.to_string()),
    }
}

/// §4.1: an administrator whose address is not verified may look, but not pay.
pub(crate) fn email_unverified() -> ApiError {
    ApiError::problem(
        StatusCode::CONFLICT,
        "email_unverified",
        "verify your e-mail address first (see the link we sent)",
    )
}

/// §21.2: what an administrator of a suspended account may not do.
pub(crate) fn suspended() -> ApiError {
    ApiError::problem(StatusCode::CONFLICT, "account_suspended", "the account is suspended (§21.2)")
}

/// Stripe out of reach (or refusing what we sent) is our problem, not the caller's: 502.
pub(crate) fn stripe_failed(e: StripeError) -> ApiError {
    tracing::error!(error = %e, "Stripe request failed");
    ApiError::problem(
        StatusCode::BAD_GATEWAY,
        "payment_provider_unavailable",
        "the payment provider did not answer; try again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::testkit::{app, event, status_and_json};

    const PLANS: &str = include_str!("../tests/events/plans.json");
    const WEBHOOK: &str = include_str!("../tests/events/webhook.json");

    async fn call(app: &App, fixture: &str, vars: &[(&str, &str)]) -> (u16, serde_json::Value) {
        status_and_json(&handle(app, event(fixture, vars)).await.expect("handled"))
    }

    #[tokio::test]
    async fn the_plans_event_lists_the_catalog() {
        let app = app().await;
        let (status, body) = call(&app, PLANS, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(body["plans"].as_array().map(Vec::len), Some(5));
    }

    #[tokio::test]
    async fn a_webhook_signed_with_another_secret_or_too_old_is_refused_and_another_type_ignored() {
        let app = app().await;
        let secret = app.secrets.get(platform::Secret::StripeWebhook).unwrap().to_string();
        let body = r#"{"id":"evt_1","type":"customer.created","data":{"object":{"id":"cus_1"}}}"#;
        let forged = platform::auth::sign_webhook("whsec_not_the_secret", 1_798_761_600, body.as_bytes());
        assert_eq!(call(&app, WEBHOOK, &[("signature", &forged)]).await.0, 400);
        let stale = platform::auth::sign_webhook(&secret, 1_798_761_600 - 301, body.as_bytes());
        assert_eq!(call(&app, WEBHOOK, &[("signature", &stale)]).await.0, 400);
        let good = platform::auth::sign_webhook(&secret, 1_798_761_600, body.as_bytes());
        let (status, answer) = call(&app, WEBHOOK, &[("signature", &good)]).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    }
}
