//! The portal's routes: every POST's CSRF token is checked before anything else, every page that
//! needs a session redirects to the sign-in page without one, and refusals become pages.

use crate::pages::{self, Frame};
use crate::settings::Settings;
use crate::web::{Form, Web};
use crate::{anon, cookies, signed};
use chrono::{DateTime, Utc};
use domain::Account;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use maud::html;
use platform::auth::{verify_token, Claims};
use platform::http::{answer, event_time, segments, ApiResult};
use platform::{ApiError, App, Secret};

/// The card page's one script, served by the portal so the policy needs no inline script.
const CARD_JS: &str = include_str!("../static/card.js");

pub(crate) struct Portal<'a> {
    pub app: &'a App,
    pub settings: &'a Settings,
}

/// A signed-in administrator: the token's claims and the account, checked as the JSON routes do.
pub(crate) struct Session {
    pub now: DateTime<Utc>,
    pub claims: Claims,
    pub account: Account,
    pub csrf: String,
}

pub(crate) async fn handle(p: &Portal<'_>, req: Request) -> Result<Response<Body>, Error> {
    Ok(answer(p.app, "portal", &req, async {
        // Outside `/app` nothing is a page: the problem+json 404 every function answers.
        if segments(&req).first().map(String::as_str) != Some("app") {
            return Err(ApiError::no_route());
        }
        let mut web = Web::new(&req, &p.settings.csp, &p.settings.base_path);
        match route(p, &mut web).await {
            Ok(res) => Ok(res),
            Err(e) => error_page(&web, e),
        }
    })
    .await)
}

async fn route(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    let segs = segments(web.req);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = web.req.method().as_str().to_string();
    let Some((&"app", rest)) = segs.split_first() else { return Err(ApiError::no_route()) };
    if method == "GET" && rest == ["static", "card.js"] {
        return script();
    }
    let form = if method == "POST" { Some(checked_form(p, web)?) } else { None };
    match (method.as_str(), rest, form) {
        ("GET", [] | [""], _) => web.redirect("account"),
        ("GET", ["signup"], _) => anon::signup_page(p, web).await,
        ("POST", ["signup"], Some(f)) => anon::signup(p, web, f).await,
        ("GET", ["verify"], _) => anon::verify_page(p, web).await,
        ("POST", ["verify"], Some(f)) => anon::verify(p, web, f).await,
        ("GET", ["sign-in"], _) => anon::sign_in_page(p, web).await,
        ("POST", ["sign-in"], Some(f)) => anon::sign_in(p, web, f).await,
        ("GET", ["forgot"], _) => anon::forgot_page(p, web).await,
        ("POST", ["forgot"], Some(f)) => anon::forgot(p, web, f).await,
        ("GET", ["reset"], _) => anon::reset_page(p, web).await,
        ("POST", ["reset"], Some(f)) => anon::reset(p, web, f).await,
        ("POST", ["sign-out"], Some(_)) => sign_out(p, web).await,
        (
            _,
            [page @ ("account" | "plans" | "card" | "terminate" | "export" | "auto-renew" | "checkout" | "next-plan")],
            form,
        ) => {
            let Some(s) = session(p, web).await? else { return web.redirect("sign-in") };
            signed::route(p, web, s, &method, page, form).await
        }
        (_, ["signup" | "verify" | "sign-in" | "forgot" | "reset" | "sign-out"], _) => {
            Err(platform::http::method_not_allowed())
        }
        _ => Err(ApiError::no_route()),
    }
}

/// A POST's form, refused with 403 unless its `csrf` is the token of a cookie it came with.
fn checked_form(p: &Portal<'_>, web: &Web<'_>) -> Result<Form, ApiError> {
    let form = Form::parse(web.req)?;
    let secret = p.app.secrets.get(Secret::Token)?;
    if cookies::csrf_ok(secret, form.get("csrf"), &[web.session.as_deref(), web.anon.as_deref()]) {
        Ok(form)
    } else {
        Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "this form has expired or did not come from this site; reload the page and try again",
        ))
    }
}

/// The session of the `session` cookie, if it still speaks for an administrator of an open
/// account; a bad or revoked one is cleared.
pub(crate) async fn session(p: &Portal<'_>, web: &mut Web<'_>) -> Result<Option<Session>, ApiError> {
    let now = event_time(web.req)?;
    let secret = p.app.secrets.get(Secret::Token)?;
    let Some(token) = web.session.clone() else { return Ok(None) };
    let Some(claims) = verify_token(secret, &token, now) else {
        web.clear_session();
        return Ok(None);
    };
    match platform::session::account_of(p.app, &claims).await {
        Ok(account) => Ok(Some(Session { now, csrf: cookies::csrf_token(secret, &token), claims, account })),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED || e.status() == StatusCode::NOT_FOUND => {
            web.clear_session();
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Sign-out revokes the token (as `POST /sign-out` does) and clears the cookie.
async fn sign_out(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    if let Some(s) = session(p, web).await? {
        platform::cases::identity::sign_out(p.app, s.now, &s.claims).await?;
    }
    web.clear_session();
    web.redirect("sign-in?done=signed-out")
}

fn script() -> ApiResult {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/javascript; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "public, max-age=300")
        .body(Body::Text(CARD_JS.to_string()))
        .map_err(anyhow::Error::from)?)
}

/// A refusal no form can show beside a field: a page with its status and reason. Unexpected
/// errors are logged with their cause and shown without it.
fn error_page(web: &Web<'_>, e: ApiError) -> ApiResult {
    let status = e.status();
    let text = match &e {
        ApiError::Unexpected(err) => {
            tracing::error!(error = format!("{err:#}"), "unexpected error");
            "Something went wrong on our side; it has been logged. Try again in a moment.".to_string()
        }
        ApiError::Invalid(errs) => pages::sentence(&errs.to_string()),
        ApiError::Problem { detail, code, .. } => {
            tracing::info!(problem = *code, "refused");
            pages::sentence(detail)
        }
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let app = format!("{}/app", web.base);
    let f = Frame { app: &app, signed_in: None };
    web.page(status, pages::page(&f, title, 0, html! { (pages::alert(&text)) }))
}
