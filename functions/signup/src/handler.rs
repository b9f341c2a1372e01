//! Signup (SPEC: Signup; §1.3, §4, §13, §28) and domain availability.

use domain::field::FieldError;
use domain::lifecycle::Effect;
use domain::notice::{Notice, NoticeKind};
use domain::signup::{Signup, SignupRefusal, SignupRequest};
use domain::types::DomainLabel;
use domain::Account;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::auth::hash_password;
use platform::http::{answer, event_time, header, json_response, method_not_allowed, parse_body, segments, source_ip, ApiResult};
use platform::items::{domain_pk, email_pk, to_item, user_sk, account_pk, HistoryEvent, Login, User};
use platform::outbox::deliver;
use platform::store::{put, Change, WriteError};
use platform::{ApiError, App};
use serde_json::json;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(&app.store, "signup", route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("POST", ["signup"]) => signup(app, req).await,
        ("GET", ["signup", "domains", label]) => availability(app, label).await,
        (_, ["signup"] | ["signup", "domains", _]) => Err(method_not_allowed()),
        _ => Err(ApiError::no_route()),
    }
}

fn refusal(e: SignupRefusal) -> ApiError {
    match e {
        SignupRefusal::Invalid(errs) => ApiError::Invalid(errs),
        SignupRefusal::Embargoed => ApiError::problem(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "embargoed",
            "signups from this country or region are not permitted under U.S. and EU export controls (§13.3)",
        ),
        SignupRefusal::CountryNotServed => ApiError::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "country_not_served",
            "these Terms of Service do not cover customers in this country (§28)",
        ),
    }
}

async fn signup(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let body: SignupRequest = parse_body(req)?;
    let s: Signup = body.parse(&app.config.terms_version).map_err(refusal)?;
    let password_hash = hash_password(s.password.expose())?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut account = Account::new_free(
        id.clone(),
        s.domain.as_str().into(),
        s.company.clone(),
        s.country.as_str().into(),
        s.region.as_ref().map(|r| r.as_str().to_string()),
        s.party.clone(),
        s.email.as_str().into(),
        s.terms_version.clone(),
        now,
    );
    let table = app.store.table();
    let claim = "attribute_not_exists(PK)";
    let login = Login { email: s.email.as_str().into(), account_id: id.clone(), domain: s.domain.as_str().into(), password_hash };
    let user = User {
        email: s.email.as_str().into(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        role: "administrator".into(),
        created_at: now,
    };
    // Index 1: the domain claim, 2: the e-mail claim (SPEC: unique label, one account per address).
    let extra = vec![
        put(table, to_item(domain_pk(s.domain.as_str()), "DOMAIN", "domain", &json!({ "account_id": id }))?, Some(claim))?,
        put(table, to_item(email_pk(s.email.as_str()), "EMAIL", "login", &login)?, Some(claim))?,
        put(table, to_item(account_pk(&id), user_sk(s.email.as_str()), "user", &user)?, None)?,
    ];
    // §23: the acceptance, with the version, time, source IP and user agent.
    let accepted = HistoryEvent {
        at: now,
        kind: "terms_accepted".into(),
        detail: json!({
            "terms_version": s.terms_version,
            "source_ip": source_ip(req),
            "user_agent": header(req, "user-agent"),
            "legal_age_confirmed": true,
            "contracting_party": s.party,
        }),
    };
    let effects = [Effect::Notice(Notice { kind: NoticeKind::Welcome, at: now, subject_at: None })];
    let change = Change { account: &mut account, expected_version: None, effects: &effects, history: vec![accepted], extra, now };
    let mails = match app.store.commit(change, &app.config.policy).await {
        Ok(m) => m,
        Err(WriteError::Conflict { failed }) if failed.contains(&1) => {
            return Err(ApiError::with(StatusCode::CONFLICT, "domain_taken", "this domain is already taken",
                json!({"errors": [FieldError::new("domain", "is already taken")]})))
        }
        Err(WriteError::Conflict { failed }) if failed.contains(&2) => {
            return Err(ApiError::with(StatusCode::CONFLICT, "email_taken", "this e-mail address already administers an account",
                json!({"errors": [FieldError::new("email", "already administers an account")]})))
        }
        Err(WriteError::Conflict { .. }) => return Err(ApiError::conflict_retry()),
        Err(WriteError::Other(e)) => return Err(e.into()),
    };
    deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(account_id = %id, country = account.country, "account created");
    json_response(
        StatusCode::CREATED,
        &json!({
            "account_id": id,
            "domain": account.domain,
            "plan": account.plan,
            "state": account.state,
            "contracting_party": account.contracting_party,
        }),
    )
}

async fn availability(app: &App, label: &str) -> ApiResult {
    let label = DomainLabel::parse("label", Some(label))?;
    let taken = app.store.get(&domain_pk(label.as_str()), "DOMAIN").await?.is_some();
    json_response(StatusCode::OK, &json!({ "domain": label.as_str(), "available": !taken }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::testkit::{app, event, status_and_json};

    const SIGNUP: &str = include_str!("../tests/events/signup.json");
    const AVAILABILITY: &str = include_str!("../tests/events/domain-availability-seconds.json");

    fn unique(prefix: &str) -> String {
        format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
    }

    async fn call(app: &App, fixture: &str, vars: &[(&str, &str)]) -> (u16, serde_json::Value) {
        status_and_json(&handle(app, event(fixture, vars)).await.expect("handled"))
    }

    #[tokio::test]
    async fn a_signup_event_creates_a_free_account_and_the_same_label_again_is_taken() {
        let app = app().await;
        let (domain, email) = (unique("fx"), format!("{}@fixture.example", unique("a")));
        let (status, body) = call(&app, SIGNUP, &[("domain", &domain), ("email", &email), ("country", "FR")]).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["plan"].as_str(), body["state"].as_str()), (Some("free"), Some("active")));
        assert_eq!(body["contracting_party"]["name"], "Bitrix24 Ltd.");
        let other = format!("{}@fixture.example", unique("b"));
        let (status, body) = call(&app, SIGNUP, &[("domain", &domain), ("email", &other), ("country", "FR")]).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("domain_taken")));
    }

    #[tokio::test]
    async fn an_embargoed_country_is_451_and_an_uncovered_one_422() {
        let app = app().await;
        let email = format!("{}@fixture.example", unique("c"));
        let (status, body) = call(&app, SIGNUP, &[("domain", &unique("fx")), ("email", &email), ("country", "SY")]).await;
        assert_eq!((status, body["code"].as_str()), (451, Some("embargoed")));
        let (status, body) = call(&app, SIGNUP, &[("domain", &unique("fx")), ("email", &email), ("country", "BY")]).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("country_not_served")));
    }

    #[tokio::test]
    async fn availability_answers_with_an_event_time_in_seconds_and_names_a_bad_label() {
        let app = app().await;
        let (status, body) = call(&app, AVAILABILITY, &[("domain", "free-label")]).await;
        assert_eq!((status, body["available"].as_bool()), (200, Some(true)));
        let (status, body) = call(&app, AVAILABILITY, &[("domain", "ww")]).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("label")));
    }
}
