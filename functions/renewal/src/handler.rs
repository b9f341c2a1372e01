//! Plans, renewal and payments (SPEC: Renewal and payments; §7, §21.3).

use chrono::Duration;
use domain::billing::{apply_payment, check_purchase, price, term_start_for, Ineligible, MAX_MONTHS};
use domain::catalog::FREE;
use domain::types::required_text;
use domain::{FieldError, FieldErrors};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::auth::verify_webhook;
use platform::http::{answer, bearer_for, body_bytes, event_time, header, json_response, method_not_allowed, parse_body, query_param, segments, ApiResult};
use platform::items::{to_item, webhook_pk, HistoryEvent, EXPIRES_AT};
use platform::ops::{update_account, Decision, UpdateError};
use platform::store::{put, RETENTION_DAYS};
use platform::{ApiError, App};
use serde::Deserialize;
use serde_json::json;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(&app.store, "renewal", route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("GET", ["plans"]) => plans(app),
        ("GET", ["accounts", id, "compatibility"]) => compatibility(app, req, id).await,
        ("POST", ["accounts", id, "checkout"]) => checkout(app, req, id).await,
        ("PUT", ["accounts", id, "auto-renew"]) => auto_renew(app, req, id).await,
        ("PUT", ["accounts", id, "next-plan"]) => next_plan(app, req, id).await,
        ("POST", ["billing", "webhook"]) => webhook(app, req).await,
        (_, ["plans"] | ["accounts", _, _] | ["billing", "webhook"]) => Err(method_not_allowed()),
        _ => Err(ApiError::no_route()),
    }
}

fn plans(app: &App) -> ApiResult {
    json_response(StatusCode::OK, &json!({ "plans": app.catalog.plans }))
}

fn plan_of<'a>(app: &'a App, field: &str, id: Option<&str>) -> Result<&'a domain::Plan, FieldError> {
    let id = required_text(field, id, 40)?;
    app.catalog.get(&id).ok_or_else(|| FieldError::new(field, "is not a plan of the catalog"))
}

fn ineligible(e: Ineligible) -> ApiError {
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
        other => ApiError::problem(StatusCode::CONFLICT, "not_eligible", other.to_string()),
    }
}

async fn compatibility(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let plan = plan_of(app, "plan", query_param(req, "plan").as_deref())?;
    let a = app.store.account(id).await?.ok_or_else(ApiError::not_found)?;
    json_response(StatusCode::OK, &app.catalog.chart(plan, &a.usage))
}

#[derive(Deserialize)]
struct CheckoutBody {
    plan: Option<String>,
    months: Option<u32>,
}

/// Eligibility and the chart are checked before any charge; the price excludes tax (§7.5).
async fn checkout(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let b: CheckoutBody = parse_body(req)?;
    let mut errs = FieldErrors::default();
    let plan = errs.take(plan_of(app, "plan", b.plan.as_deref()));
    if b.months.is_none() {
        errs.push(FieldError::required("months"));
    }
    errs.clone().into_result()?;
    let (Some(plan), Some(months)) = (plan, b.months) else { return Err(errs.into()) };
    let mut a = app.store.account(id).await?.ok_or_else(ApiError::not_found)?;
    domain::lifecycle::advance(&mut a, &app.config.policy, app.catalog, now);
    check_purchase(&a, plan, months, app.catalog).map_err(ineligible)?;
    let money = price(plan, months).ok_or_else(|| ApiError::field("months", "is too large"))?;
    let checkout_id = uuid::Uuid::new_v4().simple().to_string();
    json_response(
        StatusCode::CREATED,
        &json!({
            "checkout_id": checkout_id, "account_id": id, "plan": plan.id, "months": months,
            "amount": money.amount, "currency": money.currency, "tax_included": false,
            "term_start": term_start_for(&a, now),
        }),
    )
}

#[derive(Deserialize)]
struct AutoRenewBody {
    enabled: Option<bool>,
}

/// §7.7: the administrator can turn automatic renewal off (or on) at any time.
async fn auto_renew(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let b: AutoRenewBody = parse_body(req)?;
    let enabled = b.enabled.ok_or_else(|| ApiError::Invalid(FieldError::required("enabled").into()))?;
    let (a, ()) = update_account(app, id, now, |a| {
        a.auto_renew = enabled;
        let mut d = Decision::new((), vec![]);
        d.history.push(HistoryEvent { at: now, kind: "auto_renew_set".into(), detail: json!({ "enabled": enabled }) });
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "auto_renew": a.auto_renew, "term_end": a.term_end }))
}

#[derive(Deserialize)]
struct NextPlanBody {
    plan: Option<String>,
}

/// The plan for after the current term: Free or a cheaper paid plan, answered with its chart (§7.4).
async fn next_plan(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let b: NextPlanBody = parse_body(req)?;
    let plan = plan_of(app, "plan", b.plan.as_deref())?;
    let (a, chart) = update_account(app, id, now, |a| {
        let current = app.catalog.get(&a.plan).map(|p| p.rank).unwrap_or(0);
        if !a.is_paid() {
            return Err(ApiError::problem(StatusCode::CONFLICT, "no_paid_term", "the account has no paid term to follow"));
        }
        if plan.id != FREE && plan.rank >= current {
            return Err(ApiError::field("plan", "must be Free or a plan cheaper than the current one"));
        }
        a.next_plan = Some(plan.id.clone());
        let mut d = Decision::new(app.catalog.chart(plan, &a.usage), vec![]);
        d.history.push(HistoryEvent { at: now, kind: "next_plan_set".into(), detail: json!({ "plan": plan.id }) });
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "next_plan": a.next_plan, "chart": chart }))
}

#[derive(Deserialize)]
struct WebhookEvent {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    account_id: Option<String>,
    plan: Option<String>,
    months: Option<u32>,
    amount: Option<u64>,
    tax: Option<u64>,
    currency: Option<String>,
}

/// Signed processor events, each id applied once however often it is delivered.
async fn webhook(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    verify_webhook(&app.config.webhook_secret, header(req, "billing-signature"), body_bytes(req), now)
        .map_err(|e| ApiError::problem(StatusCode::BAD_REQUEST, "bad_signature", e.to_string()))?;
    let ev: WebhookEvent = parse_body(req)?;
    let mut errs = FieldErrors::default();
    let id = errs.take(required_text("id", ev.id.as_deref(), 200));
    let kind = errs.take(required_text("type", ev.kind.as_deref(), 40));
    let account_id = errs.take(required_text("account_id", ev.account_id.as_deref(), 64));
    if let Some(k) = &kind {
        if k != "payment.succeeded" && k != "payment.failed" {
            errs.push(FieldError::new("type", "must be payment.succeeded or payment.failed"));
        }
    }
    let succeeded = kind.as_deref() == Some("payment.succeeded");
    let plan = if succeeded { errs.take(plan_of(app, "plan", ev.plan.as_deref())) } else { None };
    if succeeded && ev.months.is_none() {
        errs.push(FieldError::required("months"));
    }
    errs.clone().into_result()?;
    let (Some(event_id), Some(account_id)) = (id, account_id) else { return Err(errs.into()) };
    // The seen-marker is written in the same transaction as the change: index 1 of `extra`.
    let mut marker = to_item(webhook_pk(&event_id), "WEBHOOK", "webhook", &json!({ "event_id": event_id, "account_id": account_id, "type": kind }))?;
    marker.insert(EXPIRES_AT.into(), platform::items::n((now + Duration::days(RETENTION_DAYS)).timestamp()));
    let marker = put(app.store.table(), marker, Some("attribute_not_exists(PK)"))?;
    let detail = json!({ "event_id": event_id, "plan": ev.plan, "months": ev.months, "amount": ev.amount, "tax": ev.tax, "currency": ev.currency });
    let result = update_account(app, &account_id, now, |a| {
        let mut d = Decision::new("applied", vec![]);
        d.extra.push(marker.clone());
        match (succeeded, plan) {
            (true, Some(plan)) => match apply_payment(a, plan, ev.months.unwrap_or(1), now, &app.config.policy, app.catalog) {
                Ok(effects) => d.effects = effects,
                Err(e) => {
                    // Money was taken but the account cannot use it: recorded for an operator (no refunds, §7.5).
                    d.value = "unapplied";
                    d.history.push(HistoryEvent { at: now, kind: "payment_unapplied".into(), detail: json!({ "reason": e.to_string(), "event": detail }) });
                }
            },
            _ => {
                d.value = "recorded";
                d.history.push(HistoryEvent { at: now, kind: "payment_failed".into(), detail: detail.clone() });
            }
        }
        Ok(d)
    })
    .await;
    match result {
        Ok((a, status)) => json_response(StatusCode::OK, &json!({ "received": true, "status": status, "state": a.state, "term_end": a.term_end })),
        Err(UpdateError::Lost(failed)) if failed.contains(&1) => json_response(StatusCode::OK, &json!({ "received": true, "status": "duplicate" })),
        Err(UpdateError::NotFound) => Err(ApiError::field("account_id", "no such account")),
        Err(e) => Err(e.into()),
    }
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
    async fn a_webhook_signed_with_another_secret_or_too_old_is_refused() {
        let app = app().await;
        let body = r#"{"id":"evt_1","type":"payment.succeeded","account_id":"a1","plan":"basic","months":1,"amount":4900,"tax":0,"currency":"USD"}"#;
        let forged = platform::auth::sign_webhook("not-the-secret", 1_798_761_600, body.as_bytes());
        assert_eq!(call(&app, WEBHOOK, &[("signature", &forged)]).await.0, 400);
        let stale = platform::auth::sign_webhook(&app.config.webhook_secret, 1_798_761_600 - 301, body.as_bytes());
        assert_eq!(call(&app, WEBHOOK, &[("signature", &stale)]).await.0, 400);
        let good = platform::auth::sign_webhook(&app.config.webhook_secret, 1_798_761_600, body.as_bytes());
        let (status, answer) = call(&app, WEBHOOK, &[("signature", &good)]).await;
        assert_eq!((status, answer["errors"][0]["field"].as_str()), (400, Some("account_id")), "signed, but no such account");
    }
}
