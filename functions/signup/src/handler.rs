//! Signup (SPEC: Signup; §1.3, §4, §13, §28) and domain availability: the routes; the rules run
//! in `platform::cases::signup`, shared with the portal's pages.

use domain::signup::SignupRequest;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use platform::cases::{self, Ctx};
use platform::http::{answer, json_response, method_not_allowed, parse_body, segments, ApiResult};
use platform::{ApiError, App};
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

async fn signup(app: &App, req: &Request) -> ApiResult {
    let ctx = Ctx::of(req)?;
    let body: SignupRequest = parse_body(req)?;
    let account = cases::signup::create(app, &ctx, body).await?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "account_id": account.id,
            "domain": account.domain,
            "plan": account.plan,
            "state": account.state,
            "contracting_party": account.contracting_party,
        }),
    )
}

#[derive(serde::Deserialize)]
struct VerifyBody {
    token: Option<String>,
}

/// `POST /signup/verify` `{token}`.
async fn verify(app: &App, req: &Request) -> ApiResult {
    let ctx = Ctx::of(req)?;
    let b: VerifyBody = parse_body(req)?;
    let a = cases::signup::verify(app, &ctx, b.token.as_deref()).await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "verified": a.email_verified }))
}

async fn availability(app: &App, label: &str) -> ApiResult {
    let (label, available) = cases::signup::available(app, "label", label).await?;
    json_response(StatusCode::OK, &json!({ "domain": label.as_str(), "available": available }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::lifecycle::Effect;
    use domain::notice::{Notice, NoticeKind};
    use domain::Account;
    use platform::cases::signup::signup_conflict;
    use platform::repo::accounts::User;
    use platform::testkit::{app, event, status_and_json};
    use platform::Change;

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
