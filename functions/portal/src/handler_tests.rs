//! The handler with API Gateway v2 fixture events on the local stack: the CSRF check, the
//! session redirect, the cookie flags and headers, and the problem+json 404 outside `/app`.

use crate::cookies;
use crate::handler::{handle, Portal};
use crate::settings::Settings;
use lambda_http::{Body, Response};
use platform::testkit::{app, event};
use platform::App;

const PAGE: &str = include_str!("../tests/events/page.json");

async fn call(app: &App, method: &str, path: &str, cookie: &str, body: &str, host: &str) -> Response<Body> {
    let settings = Settings::new("https://js.stripe.com/v3/", &app.config.public_base_url);
    let portal = Portal { app, settings: &settings };
    let req = event(PAGE, &[("method", method), ("path", path), ("cookie", cookie), ("body", body), ("host", host)]);
    handle(&portal, req).await.expect("handled")
}

fn header<'a>(res: &'a Response<Body>, name: &str) -> &'a str {
    res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn text(res: &Response<Body>) -> &str {
    match res.body() {
        Body::Text(t) => t,
        _ => "",
    }
}

#[tokio::test]
async fn a_form_post_is_checked_against_its_cookie_before_anything_else() {
    let app = app().await;
    let secret = app.secrets.get(platform::Secret::Token).unwrap().to_string();
    let form = "domain=nobody&email=nobody%40example.org&password=correct+horse+battery";
    let res = call(&app, "POST", "/app/sign-in", "csrf=abc", &format!("{form}&csrf=nope"), "portal.example.com").await;
    assert_eq!(res.status(), 403);
    assert!(
        header(&res, "content-type").starts_with("text/html") && text(&res).contains("did not come from this site")
    );
    let token = cookies::csrf_token(&secret, "abc");
    let res =
        call(&app, "POST", "/app/sign-in", "csrf=other", &format!("{form}&csrf={token}"), "portal.example.com").await;
    assert_eq!(res.status(), 403, "a token is good only with the cookie it was made for");
    let res =
        call(&app, "POST", "/app/sign-in", "csrf=abc", &format!("{form}&csrf={token}"), "portal.example.com").await;
    assert_eq!(res.status(), 401, "past the check, the sign-in itself refuses");
    assert!(text(&res).contains("The domain, e-mail or password is not right."));
}

#[tokio::test]
async fn a_page_sets_a_secure_lax_cookie_and_the_account_needs_a_session() {
    let app = app().await;
    let res = call(&app, "GET", "/app/sign-in", "", "", "portal.example.com").await;
    assert_eq!(res.status(), 200);
    let cookie = header(&res, "set-cookie");
    assert!(
        cookie.starts_with("csrf=")
            && cookie.contains("; HttpOnly; Secure; SameSite=Lax; Path=/lambda-url/portal/app;")
    );
    assert!(header(&res, "content-security-policy").contains("script-src 'self' https://js.stripe.com;"));
    assert_eq!(header(&res, "x-frame-options"), "DENY");
    let res = call(&app, "GET", "/app/sign-in", "", "", "127.0.0.1:9000").await;
    assert!(!header(&res, "set-cookie").contains("Secure"), "plain http on loopback only");
    let res = call(&app, "GET", "/app/account", "session=not.a.token", "", "portal.example.com").await;
    assert_eq!((res.status().as_u16(), header(&res, "location")), (303, "/lambda-url/portal/app/sign-in"));
    assert!(header(&res, "set-cookie").starts_with("session=; "), "the bad cookie is cleared");
}

#[tokio::test]
async fn outside_app_the_answer_is_the_problem_json_404() {
    let app = app().await;
    let res = call(&app, "POST", "/no-such-route", "", "", "portal.example.com").await;
    assert_eq!((res.status().as_u16(), header(&res, "content-type")), (404, "application/problem+json"));
    let res = call(&app, "GET", "/app/no-such-page", "", "", "portal.example.com").await;
    assert_eq!(res.status(), 404);
    assert!(header(&res, "content-type").starts_with("text/html"));
}
