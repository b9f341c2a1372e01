//! Sign-in and the account (SPEC: Sign-in and account; §8.2, §21).

use crate::identity;
use chrono::{DateTime, Utc};
use domain::lifecycle::{self, forecast, Refusal};
use domain::{Account, FieldErrors, State, Usage};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::http::{
    answer, bearer_for, empty, event_time, json_response, method_not_allowed, parse_body, require_key, segments,
    ApiResult,
};
use platform::ops::{update_account, Decision};
use platform::{session, ApiError, App, HistoryEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(app, "accounts", &req, route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("POST", ["sign-in"]) => identity::sign_in(app, req).await,
        ("POST", ["sign-out"]) => identity::sign_out(app, req).await,
        ("POST", ["sign-in", "password-reset"]) => identity::request_reset(app, req).await,
        ("POST", ["sign-in", "password-reset", "confirm"]) => identity::confirm_reset(app, req).await,
        ("PUT", ["accounts", id, "password"]) => identity::change_password(app, req, id).await,
        ("GET", ["accounts", "by-domain", label]) => by_domain(app, req, label).await,
        ("GET", ["accounts", id]) => view(app, req, id).await,
        ("GET", ["accounts", id, "history"]) => history(app, req, id).await,
        ("PUT", ["accounts", id, "usage"]) => usage(app, req, id).await,
        ("POST", ["accounts", id, "activity"]) => activity(app, req, id).await,
        ("POST", ["accounts", id, "termination"]) => termination(app, req, id).await,
        ("POST", ["accounts", id, "suspension"]) => suspension(app, req, id).await,
        ("DELETE", ["accounts", id, "suspension"]) => lift_suspension(app, req, id).await,
        ("GET", ["accounts", id, "export"]) => crate::export::export(app, req, id).await,
        ("GET", ["operator", "failed-mail"]) => failed_mail(app, req).await,
        (_, ["sign-in" | "sign-out"] | ["sign-in", "password-reset"] | ["sign-in", "password-reset", "confirm"]) => {
            Err(method_not_allowed())
        }
        (_, ["accounts", _] | ["accounts", _, _]) => Err(method_not_allowed()),
        _ => Err(ApiError::no_route()),
    }
}

use platform::cases::account::refused;

fn account_json(a: &Account, app: &App, now: DateTime<Utc>) -> Value {
    json!({
        "account_id": a.id,
        "domain": a.domain,
        "portal": format!("{}.{}", a.domain, app.config.base_domain),
        "company": a.company,
        "plan": a.plan,
        "state": a.state,
        "state_reason": a.state_reason,
        "term_start": a.term_start,
        "term_end": a.term_end,
        "grace_end": if a.state == State::Grace { lifecycle::grace_end(a, &app.config.policy) } else { None },
        "email_verified": a.email_verified,
        "auto_renew": a.auto_renew,
        "next_plan": a.next_plan,
        "payment_method": a.payment_method.as_ref().map(|c| json!({
            "brand": c.brand, "last4": c.last4, "exp_month": c.exp_month, "exp_year": c.exp_year,
        })),
        "renewal": a.renewal.as_ref().map(|r| json!({
            "term_end": r.term_end, "plan": r.plan, "amount": r.amount.amount, "currency": r.amount.currency,
            "attempt": r.attempt, "status": r.status,
        })),
        "last_payment": a.last_payment.as_ref().map(|l| json!({
            "at": l.at, "plan": l.plan, "months": l.months, "amount": l.amount.amount,
            "proration": l.proration, "currency": l.amount.currency,
            "term_start": l.term_start, "term_end": l.term_end,
        })),
        "usage": a.usage,
        "terms_version": a.terms_version,
        "contracting_party": a.contracting_party,
        "forecast": forecast(a, &app.config.policy, app.catalog, now),
    })
}

async fn view(app: &App, req: &Request, id: &str) -> ApiResult {
    let (now, _, a) = session::account(app, req, id).await?;
    json_response(StatusCode::OK, &account_json(&a, app, now))
}

async fn history(app: &App, req: &Request, id: &str) -> ApiResult {
    session::account(app, req, id).await?;
    let events: Vec<Value> = app
        .accounts
        .history(id)
        .await?
        .into_iter()
        .map(|h: HistoryEvent| {
            let mut v = json!({ "at": h.at, "kind": h.kind });
            if let Value::Object(m) = h.detail {
                for (k, x) in m {
                    if k != "at" && k != "kind" && k != "type" {
                        v[k] = x;
                    }
                }
            }
            v
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "events": events }))
}

#[derive(Deserialize)]
struct UsageBody {
    users: Option<u64>,
    storage_gb: Option<u64>,
    features: Option<BTreeSet<String>>,
}

async fn usage(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-service-key", app.secrets.get(platform::Secret::ServiceKey)?)?;
    let now = event_time(req)?;
    let b: UsageBody = parse_body(req)?;
    let mut errs = FieldErrors::default();
    if b.users.is_none() {
        errs.push(domain::FieldError::required("users"));
    }
    if b.storage_gb.is_none() {
        errs.push(domain::FieldError::required("storage_gb"));
    }
    errs.into_result()?;
    let usage = Usage {
        users: b.users.unwrap_or(0),
        storage_gb: b.storage_gb.unwrap_or(0),
        features: b.features.unwrap_or_default(),
    };
    let (a, ()) = update_account(app, id, now, |a| -> Result<_, ApiError> {
        if matches!(a.state, State::Terminated | State::Deleted) {
            return Err(refused(Refusal::Terminated));
        }
        a.usage = usage.clone();
        Ok(Decision::new((), vec![]))
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "usage": a.usage }))
}

async fn activity(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-service-key", app.secrets.get(platform::Secret::ServiceKey)?)?;
    let now = event_time(req)?;
    update_account(app, id, now, |a| -> Result<_, ApiError> {
        Ok(Decision::new((), lifecycle::record_activity(a, now).map_err(refused)?))
    })
    .await?;
    empty(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TerminationBody {
    confirm_domain: Option<String>,
}

async fn termination(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: TerminationBody = parse_body(req)?;
    let (a, deletion_at) = platform::cases::account::terminate(app, now, &claims, b.confirm_domain.as_deref()).await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "state": a.state, "deletion_at": deletion_at }))
}

#[derive(Deserialize)]
struct SuspensionBody {
    note: Option<String>,
}

/// §21.2.1: an operator suspends an account for a Terms violation.
async fn suspension(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let now = event_time(req)?;
    let b: SuspensionBody = parse_body(req)?;
    let p = app.config.policy.clone();
    let (a, ()) = update_account(app, id, now, |a| -> Result<_, ApiError> {
        let mut d = Decision::new((), lifecycle::suspend_for_violation(a, &p, now).map_err(refused)?);
        d.history.push(HistoryEvent::new(now, "operator_note", json!({ "note": b.note })));
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "state": a.state, "state_reason": a.state_reason }))
}

/// `GET /accounts/by-domain/{label}` (service key): the standing the product enforces, from one
/// item (the domain claim). A deleted account's label is free again: 404.
async fn by_domain(app: &App, req: &Request, label: &str) -> ApiResult {
    require_key(req, "x-service-key", app.secrets.get(platform::Secret::ServiceKey)?)?;
    let label = domain::types::DomainLabel::parse("label", Some(label))?;
    let (account_id, s) = app.accounts.standing(&label).await?.ok_or_else(ApiError::not_found)?;
    let limits = app.catalog.get(s.plan.as_str()).map(|p| p.limits.clone());
    json_response(
        StatusCode::OK,
        &json!({"account_id": account_id, "domain": label, "state": s.state, "state_reason": s.state_reason,
                "plan": s.plan, "limits": limits, "version": s.version}),
    )
}

/// `GET /operator/failed-mail` (operator): mail set aside after its last try, newest first.
async fn failed_mail(app: &App, req: &Request) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let mails: Vec<Value> = app
        .outbox
        .failed(200)
        .await?
        .into_iter()
        .map(|m| {
            json!({"key": m.key, "account_id": m.account_id, "to": m.to, "subject": m.subject,
                   "attempts": m.attempts, "last_error": m.last_error})
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "mails": mails }))
}

/// `DELETE /accounts/{id}/suspension` (operator): a violation suspension lifted; the account
/// takes the state its plan and term give now.
async fn lift_suspension(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let now = event_time(req)?;
    let (p, catalog) = (app.config.policy.clone(), app.catalog);
    let (a, ()) = update_account(app, id, now, |a| -> Result<_, ApiError> {
        let effects = lifecycle::lift_suspension(a, &p, catalog, now).map_err(|e| {
            ApiError::with(
                StatusCode::CONFLICT,
                "not_suspended_for_violation",
                e.to_string(),
                json!({"state": a.state, "state_reason": a.state_reason}),
            )
        })?;
        let mut d = Decision::new((), effects);
        d.history.push(HistoryEvent::new(now, "suspension_lifted", json!({})));
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "state": a.state, "state_reason": a.state_reason }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::countries::ContractingParty;
    use platform::auth::hash_password;
    use platform::repo::accounts::User;
    use platform::testkit::{app, event, status_and_json, v};
    use platform::Change;

    const SIGN_IN: &str = include_str!("../tests/events/sign-in.json");
    const USAGE: &str = include_str!("../tests/events/usage.json");
    const ACCOUNT: &str = include_str!("../tests/events/account.json");

    async fn call(app: &App, fixture: &str, vars: &[(&str, &str)]) -> (u16, Value) {
        status_and_json(&handle(app, event(fixture, vars)).await.expect("handled"))
    }

    /// An account as signup leaves it: the account, its e-mail credential, created at the fixtures' time.
    async fn seeded(app: &App) -> (String, String, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (domain, email) = (format!("h{}", &id[..10]), format!("{}@handler.example", &id[..8]));
        let at = domain::time::from_epoch(1_798_761_600).unwrap();
        let party = ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() };
        let mut a = Account::new_free(
            id.clone(),
            v(&domain),
            "Acme".into(),
            v("US"),
            None,
            party,
            v(&email),
            "2021-11-01".into(),
            at,
        );
        a.email_verified = true;
        let user = User {
            account_id: id.clone(),
            email: v(&email),
            first_name: "A".into(),
            last_name: "B".into(),
            role: "administrator".into(),
            created_at: at,
        };
        let extra = app.accounts.signup_writes(&a, &user, hash_password("correct horse battery").unwrap()).unwrap();
        let change = Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra, now: at };
        app.accounts.commit(change, &app.config.policy).await.unwrap();
        (id, domain, email)
    }

    #[tokio::test]
    async fn a_sign_in_event_gives_a_token_that_reads_only_its_own_account() {
        let app = app().await;
        let (id, domain, email) = seeded(&app).await;
        let (status, body) =
            call(&app, SIGN_IN, &[("domain", &domain), ("email", &email), ("password", "correct horse battery")]).await;
        assert_eq!(status, 200, "{body}");
        let token = body["token"].as_str().unwrap().to_string();
        let (status, view) = call(&app, ACCOUNT, &[("id", &id), ("token", &token)]).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["forecast"][1]["event"], "archived");
        assert_eq!(view["forecast"][1]["at"], "2027-01-31T00:00:00Z");
        let (other, _, _) = seeded(&app).await;
        assert_eq!(call(&app, ACCOUNT, &[("id", &other), ("token", &token)]).await.0, 403);
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
        let app = app().await;
        let (_, domain, email) = seeded(&app).await;
        let wrong =
            call(&app, SIGN_IN, &[("domain", &domain), ("email", &email), ("password", "not the password")]).await;
        let unknown = call(
            &app,
            SIGN_IN,
            &[("domain", &domain), ("email", "nobody@handler.example"), ("password", "not the password")],
        )
        .await;
        assert_eq!(wrong.0, 401);
        assert_eq!(wrong, unknown);
    }

    #[tokio::test]
    async fn usage_needs_the_service_key() {
        let app = app().await;
        let (id, _, _) = seeded(&app).await;
        assert_eq!(call(&app, USAGE, &[("id", &id), ("key", "wrong")]).await.0, 401);
        let key = app.secrets.get(platform::Secret::ServiceKey).unwrap().to_string();
        let (status, body) = call(&app, USAGE, &[("id", &id), ("key", &key)]).await;
        assert_eq!((status, body["usage"]["users"].as_u64()), (200, Some(3)));
    }
}
