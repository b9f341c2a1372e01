//! Routes of the renewal function (SPEC: Payments through Stripe; §7, §21.3), and what they share.

use crate::{card, checkout, plans, webhook};
use lambda_http::{Body, Error, Request, Response};
use platform::http::{answer, method_not_allowed, segments, ApiResult};
use platform::{ApiError, App};

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

// The refusals the routes share, with the portal, from `platform::cases::billing`.
pub(crate) use platform::cases::billing::plan_of;

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
