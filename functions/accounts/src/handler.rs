//! Sign-in and the account (SPEC: Sign-in and account; §8.2, §21).

use chrono::{DateTime, Duration, Utc};
use domain::lifecycle::{self, forecast, Refusal};
use domain::types::{required_text, DomainLabel, Email};
use domain::{Account, FieldErrors, State, Usage};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::auth::{issue_token, verify_against_dummy, verify_password};
use platform::http::{answer, bearer_for, empty, event_time, json_response, method_not_allowed, parse_body, require_key, segments, ApiResult};
use platform::items::{account_pk, email_pk, from_item, key, n, throttle_pk, HistoryEvent, Item, Login};
use platform::ops::{update_account, Decision};
use platform::{ApiError, App};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(&app.store, "accounts", route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("POST", ["sign-in"]) => sign_in(app, req).await,
        ("GET", ["accounts", id]) => view(app, req, id).await,
        ("GET", ["accounts", id, "history"]) => history(app, req, id).await,
        ("PUT", ["accounts", id, "usage"]) => usage(app, req, id).await,
        ("POST", ["accounts", id, "activity"]) => activity(app, req, id).await,
        ("POST", ["accounts", id, "termination"]) => termination(app, req, id).await,
        ("POST", ["accounts", id, "suspension"]) => suspension(app, req, id).await,
        (_, ["sign-in"] | ["accounts", _] | ["accounts", _, _]) => Err(method_not_allowed()),
        _ => Err(ApiError::no_route()),
    }
}

fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Deleted => ApiError::not_found(),
        Refusal::Terminated => ApiError::problem(StatusCode::CONFLICT, "account_terminated", "the account is terminated"),
        Refusal::Suspended => ApiError::problem(StatusCode::CONFLICT, "account_suspended", "the account is suspended (§21.2)"),
    }
}

#[derive(Deserialize)]
struct SignInBody {
    domain: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize, Default)]
struct Throttle {
    #[serde(default)]
    failures: u32,
    #[serde(default)]
    window_start: i64,
}

fn bad_credentials() -> ApiError {
    ApiError::problem(StatusCode::UNAUTHORIZED, "invalid_credentials", "the domain, e-mail or password is not right")
}

async fn sign_in(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let b: SignInBody = parse_body(req)?;
    let mut errs = FieldErrors::default();
    let domain = errs.take(DomainLabel::parse("domain", b.domain.as_deref()));
    let email = errs.take(Email::parse("email", b.email.as_deref()));
    let password = errs.take(required_text("password", b.password.as_deref(), 256));
    errs.clone().into_result()?;
    let (Some(domain), Some(email), Some(password)) = (domain, email, password) else { return Err(errs.into()) };
    let p = &app.config.policy;
    let tkey = throttle_pk(&format!("signin#{}", email.as_str()));
    // One read finds the credential and the failure counter.
    let found = app.store.batch_get(vec![key(email_pk(email.as_str()), "EMAIL"), key(tkey.clone(), "THROTTLE")]).await?;
    let pk_of = |i: &Item| i.get("PK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let mut login: Option<Login> = None;
    let mut throttle = Throttle::default();
    for item in found {
        if pk_of(&item) == tkey {
            throttle = from_item(item).unwrap_or_default();
        } else {
            login = from_item(item).ok();
        }
    }
    let window = Duration::minutes(p.sign_in_lockout_minutes).num_seconds();
    let in_window = now.timestamp() - throttle.window_start < window;
    if in_window && throttle.failures >= p.sign_in_max_failures {
        return Err(ApiError::problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", "too many failed sign-ins; try again later"));
    }
    let ok = match &login {
        Some(l) => verify_password(&password, &l.password_hash) && l.domain == domain.as_str(),
        None => {
            verify_against_dummy(&password);
            false
        }
    };
    let Some(login) = login.filter(|_| ok) else {
        record_failure(app, &tkey, in_window, throttle.window_start, now).await?;
        return Err(bad_credentials());
    };
    let (account, ()) = update_account(app, &login.account_id, now, |a| {
        let effects = lifecycle::sign_in(a, now).map_err(|r| match r {
            Refusal::Terminated | Refusal::Deleted => bad_credentials(),
            other => refused(other),
        })?;
        Ok(Decision::new((), effects))
    })
    .await
    .map_err(|e| match e {
        platform::ops::UpdateError::NotFound => bad_credentials(),
        other => other.into(),
    })?;
    let token = issue_token(&app.config.token_secret, &account.id, email.as_str(), now, Duration::minutes(p.token_ttl_minutes))?;
    json_response(
        StatusCode::OK,
        &json!({ "token": token, "token_type": "Bearer", "expires_in": p.token_ttl_minutes * 60,
                 "account_id": account.id, "state": account.state }),
    )
}

async fn record_failure(app: &App, tkey: &str, in_window: bool, window_start: i64, now: DateTime<Utc>) -> Result<(), ApiError> {
    // A failure inside the window adds to the count; the first one after it opens a new window.
    let (expr, start) = if in_window {
        ("ADD failures :one SET window_start = :s, expires_at = :e, entity = :t", window_start)
    } else {
        ("SET failures = :one, window_start = :s, expires_at = :e, entity = :t", now.timestamp())
    };
    app.store
        .update(
            key(tkey, "THROTTLE"),
            expr,
            &[(":one", n(1)), (":s", n(start)), (":e", n(start + 86_400)), (":t", platform::items::s("throttle"))],
        )
        .await?;
    Ok(())
}

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
        "auto_renew": a.auto_renew,
        "next_plan": a.next_plan,
        "usage": a.usage,
        "terms_version": a.terms_version,
        "contracting_party": a.contracting_party,
        "forecast": forecast(a, &app.config.policy, app.catalog, now),
    })
}

async fn authorized(app: &App, req: &Request, id: &str) -> Result<(DateTime<Utc>, Account), ApiError> {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let a = app.store.account(id).await?.ok_or_else(ApiError::not_found)?;
    if a.state == State::Terminated {
        return Err(refused(Refusal::Terminated));
    }
    Ok((now, a))
}

async fn view(app: &App, req: &Request, id: &str) -> ApiResult {
    let (now, a) = authorized(app, req, id).await?;
    json_response(StatusCode::OK, &account_json(&a, app, now))
}

async fn history(app: &App, req: &Request, id: &str) -> ApiResult {
    authorized(app, req, id).await?;
    let items = app.store.query_prefix(&account_pk(id), "EVENT#").await?;
    let events: Vec<Value> = items
        .into_iter()
        .filter_map(|i| from_item::<HistoryEvent>(i).ok())
        .map(|h| {
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
    require_key(req, "x-service-key", &app.config.service_key)?;
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
    let usage = Usage { users: b.users.unwrap_or(0), storage_gb: b.storage_gb.unwrap_or(0), features: b.features.unwrap_or_default() };
    let (a, ()) = update_account(app, id, now, |a| {
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
    require_key(req, "x-service-key", &app.config.service_key)?;
    let now = event_time(req)?;
    update_account(app, id, now, |a| Ok(Decision::new((), lifecycle::record_activity(a, now).map_err(refused)?))).await?;
    empty(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TerminationBody {
    confirm_domain: Option<String>,
}

async fn termination(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, &app.config.token_secret, now, id)?;
    let b: TerminationBody = parse_body(req)?;
    let confirm = required_text("confirm_domain", b.confirm_domain.as_deref(), 63)?;
    let p = app.config.policy.clone();
    let (a, ()) = update_account(app, id, now, |a| {
        if a.domain != confirm {
            return Err(ApiError::field("confirm_domain", "must be the account's domain"));
        }
        Ok(Decision::new((), lifecycle::terminate(a, &p, now).map_err(refused)?))
    })
    .await?;
    let deletion_at = a.state_since + Duration::days(p.termination_deletion_days);
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "state": a.state, "deletion_at": deletion_at }))
}

#[derive(Deserialize)]
struct SuspensionBody {
    note: Option<String>,
}

/// §21.2.1: an operator suspends an account for a Terms violation.
async fn suspension(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-operator-key", &app.config.operator_key)?;
    let now = event_time(req)?;
    let b: SuspensionBody = parse_body(req)?;
    let p = app.config.policy.clone();
    let (a, ()) = update_account(app, id, now, |a| {
        let mut d = Decision::new((), lifecycle::suspend_for_violation(a, &p, now).map_err(refused)?);
        d.history.push(HistoryEvent { at: now, kind: "operator_note".into(), detail: json!({ "note": b.note }) });
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
    use platform::items::{email_pk, to_item};
    use platform::store::{put, Change};
    use platform::testkit::{app, event, status_and_json};

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
        let mut a = Account::new_free(id.clone(), domain.clone(), "Acme".into(), "US".into(), None,
            ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
            email.clone(), "2021-11-01".into(), at);
        let login = Login { email: email.clone(), account_id: id.clone(), domain: domain.clone(), password_hash: hash_password("correct horse battery").unwrap() };
        let extra = vec![put(app.store.table(), to_item(email_pk(&email), "EMAIL", "login", &login).unwrap(), None).unwrap()];
        app.store.commit(Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra, now: at }, &app.config.policy).await.unwrap();
        (id, domain, email)
    }

    #[tokio::test]
    async fn a_sign_in_event_gives_a_token_that_reads_only_its_own_account() {
        let app = app().await;
        let (id, domain, email) = seeded(&app).await;
        let (status, body) = call(&app, SIGN_IN, &[("domain", &domain), ("email", &email), ("password", "correct horse battery")]).await;
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
        let wrong = call(&app, SIGN_IN, &[("domain", &domain), ("email", &email), ("password", "not the password")]).await;
        let unknown = call(&app, SIGN_IN, &[("domain", &domain), ("email", "nobody@handler.example"), ("password", "not the password")]).await;
        assert_eq!(wrong.0, 401);
        assert_eq!(wrong, unknown);
    }

    #[tokio::test]
    async fn usage_needs_the_service_key() {
        let app = app().await;
        let (id, _, _) = seeded(&app).await;
        assert_eq!(call(&app, USAGE, &[("id", &id), ("key", "wrong")]).await.0, 401);
        let key = app.config.service_key.clone();
        let (status, body) = call(&app, USAGE, &[("id", &id), ("key", &key)]).await;
        assert_eq!((status, body["usage"]["users"].as_u64()), (200, Some(3)));
    }
}
