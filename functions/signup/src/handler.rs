//! Signup (SPEC: Signup; §1.3, §4, §13, §28) and domain availability.

use domain::field::FieldError;
use domain::lifecycle;
use domain::lifecycle::Effect;
use domain::notice::{Notice, NoticeKind};
use domain::signup::{Signup, SignupRefusal, SignupRequest};
use domain::types::DomainLabel;
use domain::Account;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::auth::{hash_password, token_hash};
use platform::dynamo::{Tag, WriteError};
use platform::http::{
    answer, event_time, header, json_response, method_not_allowed, parse_body, segments, source_ip, ApiResult,
};
use platform::ops::{update_account, Decision, UpdateError};
use platform::outbox::deliver;
use platform::repo::accounts::User;
use platform::repo::identity::LinkKind;
use platform::{ApiError, App, Change, HistoryEvent};
use serde_json::json;

pub(crate) async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(app, "signup", &req, route(app, &req)).await)
}

async fn route(app: &App, req: &Request) -> ApiResult {
    let segs = segments(req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method().as_str(), segs.as_slice()) {
        ("POST", ["signup"]) => signup(app, req).await,
        ("POST", ["signup", "verify"]) => verify(app, req).await,
        ("GET", ["signup", "domains", label]) => availability(app, label).await,
        (_, ["signup"] | ["signup", "verify"] | ["signup", "domains", _]) => Err(method_not_allowed()),
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
    let limits = &app.config.rate_limits;
    let password_hash = hash_password(s.password.expose())?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut account = Account::new_free(
        id.clone(),
        s.domain.clone(),
        s.company.clone(),
        s.country,
        s.region.clone(),
        s.party.clone(),
        s.email.clone(),
        s.terms_version.clone(),
        now,
    );
    let user = User {
        account_id: id.clone(),
        email: s.email.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        role: "administrator".into(),
        created_at: now,
    };
    let mut extra = app.accounts.signup_writes(&account, &user, password_hash)?;
    // Accepted signups per source IP and per address mailed, in the same transaction.
    extra.push(app.rates.hit(limits.signup_ip(), &source_ip(req).unwrap_or_default(), now)?);
    extra.push(app.rates.hit(limits.signup_recipient(), s.email.as_str(), now)?);
    // §23: the acceptance, with the version, time, source IP and user agent.
    let accepted = HistoryEvent::new(
        now,
        "terms_accepted",
        json!({
            "terms_version": s.terms_version,
            "source_ip": source_ip(req),
            "user_agent": header(req, "user-agent"),
            "legal_age_confirmed": true,
            "contracting_party": s.party,
        }),
    );
    // §4.1: until the address is verified, its link is the only mail it gets (the welcome follows).
    let effects = [Effect::Notice(Notice::new(NoticeKind::VerifyEmail, now, None))];
    let change = Change {
        account: &mut account,
        expected_version: None,
        effects: &effects,
        history: vec![accepted],
        extra,
        now,
    };
    let mails = app.accounts.commit(change, &app.config.policy).await.map_err(|e| signup_conflict(e, now))?;
    deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(account_id = %id, country = %account.country, "account created");
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

/// Which claim a lost signup transaction lost, by its tag: the label first, then the address.
pub(crate) fn signup_conflict(e: WriteError, now: chrono::DateTime<chrono::Utc>) -> ApiError {
    if let Some(l) = platform::repo::rates::Rates::refused(&e, now) {
        ApiError::rate_limited(l.retry_after, "too many signups from this source or for this address; try again later")
    } else if e.lost(Tag::DomainClaim) {
        ApiError::with(
            StatusCode::CONFLICT,
            "domain_taken",
            "this domain is already taken",
            json!({"errors": [FieldError::new("domain", "is already taken")]}),
        )
    } else if e.lost(Tag::EmailClaim) {
        ApiError::with(
            StatusCode::CONFLICT,
            "email_taken",
            "this e-mail address already administers an account",
            json!({"errors": [FieldError::new("email", "already administers an account")]}),
        )
    } else {
        e.into()
    }
}

#[derive(serde::Deserialize)]
struct VerifyBody {
    token: Option<String>,
}

/// `POST /signup/verify` `{token}`: the link's token verifies the administrator's address, once;
/// the welcome follows (SPEC: E-mail verification).
async fn verify(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let b: VerifyBody = parse_body(req)?;
    let token = domain::types::required_text("token", b.token.as_deref(), 200)?;
    let bad = || ApiError::field("token", "is not a valid, unused and unexpired verification link");
    let hash = token_hash(&token);
    let link = app.identity.link(LinkKind::Verify, &hash).await?.ok_or_else(bad)?;
    if link.used || now >= link.valid_until {
        return Err(bad());
    }
    let r = update_account(app, &link.account_id, now, |a| -> Result<_, ApiError> {
        let effects = lifecycle::verify_email(a, now).map_err(|_| bad())?;
        let mut d = Decision::new((), effects);
        d.extra.push(app.identity.use_link(LinkKind::Verify, &hash));
        d.extra.push(app.rates.hit(app.config.rate_limits.verify_ip(), &source_ip(req).unwrap_or_default(), now)?);
        d.history.push(HistoryEvent::new(now, "email_verified", json!({})));
        Ok(d)
    })
    .await;
    match r {
        Ok((a, ())) => json_response(StatusCode::OK, &json!({ "account_id": a.id, "verified": a.email_verified })),
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::Decision) => Err(bad()),
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::RateLimit) => Err(ApiError::over_limit(now)),
        Err(UpdateError::NotFound | UpdateError::Deleted) => Err(bad()),
        Err(e) => Err(e.into()),
    }
}

async fn availability(app: &App, label: &str) -> ApiResult {
    let label = DomainLabel::parse("label", Some(label))?;
    let taken = app.accounts.domain_taken(&label).await?;
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

    /// The second signup's writes (account, claims, user, history, welcome), in the order given.
    fn signup_writes(
        app: &App,
        domain: &str,
        email: &str,
        order: fn(&mut Vec<platform::dynamo::Write>),
    ) -> Vec<platform::dynamo::Write> {
        use platform::testkit::v;
        let now = domain::time::from_epoch(1_798_761_600).unwrap();
        let party = domain::countries::ContractingParty {
            name: "Bitrix, Inc.".into(),
            notices_email: "privacy@bitrix24.com".into(),
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut a = Account::new_free(
            id.clone(),
            v(domain),
            "Acme".into(),
            v("US"),
            None,
            party,
            v(email),
            "2021-11-01".into(),
            now,
        );
        let user = User {
            account_id: id,
            email: v(email),
            first_name: "A".into(),
            last_name: "B".into(),
            role: "administrator".into(),
            created_at: now,
        };
        let extra = app.accounts.signup_writes(&a, &user, "hash".into()).unwrap();
        let effects = [Effect::Notice(Notice::new(NoticeKind::VerifyEmail, now, None))];
        let change = Change { account: &mut a, expected_version: None, effects: &effects, history: vec![], extra, now };
        let (mut writes, _) = app.accounts.change_writes(change, &app.config.policy).unwrap();
        order(&mut writes);
        writes
    }

    #[tokio::test]
    async fn a_lost_claim_is_named_by_its_tag_whatever_the_order_of_the_writes() {
        let app = app().await;
        let (domain, email) = (unique("fx"), format!("{}@fixture.example", unique("a")));
        let (status, _) = call(&app, SIGNUP, &[("domain", &domain), ("email", &email), ("country", "US")]).await;
        assert_eq!(status, 201);
        let orders: [fn(&mut Vec<platform::dynamo::Write>); 3] = [|_| {}, |w| w.reverse(), |w| w.rotate_left(2)];
        for order in orders {
            let other_email = format!("{}@fixture.example", unique("b"));
            let lost = app.accounts.transact(signup_writes(&app, &domain, &other_email, order)).await.unwrap_err();
            let res = signup_conflict(lost, chrono::Utc::now()).into_response();
            assert_eq!(status_and_json(&res).1["code"], "domain_taken");
            let lost = app.accounts.transact(signup_writes(&app, &unique("fx"), &email, order)).await.unwrap_err();
            let res = signup_conflict(lost, chrono::Utc::now()).into_response();
            assert_eq!(status_and_json(&res).1["code"], "email_taken");
        }
    }

    #[tokio::test]
    async fn an_embargoed_country_is_451_and_an_uncovered_one_422() {
        let app = app().await;
        let email = format!("{}@fixture.example", unique("c"));
        let (status, body) =
            call(&app, SIGNUP, &[("domain", &unique("fx")), ("email", &email), ("country", "SY")]).await;
        assert_eq!((status, body["code"].as_str()), (451, Some("embargoed")));
        let (status, body) =
            call(&app, SIGNUP, &[("domain", &unique("fx")), ("email", &email), ("country", "BY")]).await;
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
