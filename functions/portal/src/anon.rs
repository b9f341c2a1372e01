//! The pages before signing in: each GET renders its form (bound to the `csrf` cookie), each
//! POST runs the same use case as the JSON route and shows refusals beside their fields, or
//! redirects (Post/Redirect/Get).

use crate::cookies;
use crate::handler::{session, Portal};
use crate::pages::anon::{self as view, DomainCheck, SignupValues};
use crate::pages::{refused, Frame};
use crate::web::{Form, Web};
use domain::field::FieldErrors;
use domain::signup::SignupRequest;
use lambda_http::http::StatusCode;
use maud::Markup;
use platform::cases::identity::{ResetBody, ResetConfirmBody, SignInBody};
use platform::cases::{self, Ctx};
use platform::http::ApiResult;
use platform::{ApiError, Secret};

/// The anonymous CSRF token (setting the `csrf` cookie if needed) and the page frame's root.
fn anon_token(p: &Portal<'_>, web: &mut Web<'_>) -> Result<(String, String), ApiError> {
    let binding = web.anon_binding();
    let token = cookies::csrf_token(p.app.secrets.get(Secret::Token)?, &binding);
    Ok((token, format!("{}/app", web.base)))
}

fn render(web: &Web<'_>, status: StatusCode, m: Markup) -> ApiResult {
    web.page(status, m)
}

pub(crate) async fn signup_page(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let v = SignupValues::default();
    let m = view::signup(&f, &csrf, &v, &FieldErrors::default(), &DomainCheck::None, &p.app.config.base_domain, None);
    render(web, StatusCode::OK, m)
}

pub(crate) async fn signup(p: &Portal<'_>, web: &mut Web<'_>, form: Form) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let v = SignupValues {
        company: form.get("company").unwrap_or("").into(),
        domain: form.get("domain").unwrap_or("").into(),
        first_name: form.get("first_name").unwrap_or("").into(),
        last_name: form.get("last_name").unwrap_or("").into(),
        email: form.get("email").unwrap_or("").into(),
        country: form.get("country").unwrap_or("").into(),
        region: form.get("region").unwrap_or("").into(),
        accept_terms: form.checked("accept_terms"),
        legal_age: form.checked("legal_age"),
    };
    let base_domain = &p.app.config.base_domain;
    if form.get("action") == Some("check") {
        // The live domain check, without JavaScript: the form comes back with the answer.
        let (status, errors, check) = match cases::signup::available(p.app, "domain", &v.domain).await {
            Ok((label, true)) => {
                (StatusCode::OK, FieldErrors::default(), DomainCheck::Available(label.as_str().into()))
            }
            Ok((label, false)) => (StatusCode::OK, FieldErrors::default(), DomainCheck::Taken(label.as_str().into())),
            Err(e) => {
                let (s, f, _) = refused(e)?;
                (s, f, DomainCheck::None)
            }
        };
        return render(web, status, view::signup(&f, &csrf, &v, &errors, &check, base_domain, None));
    }
    let ctx = Ctx::of(web.req)?;
    let body = SignupRequest {
        company: form.text("company"),
        domain: form.text("domain"),
        first_name: form.text("first_name"),
        last_name: form.text("last_name"),
        email: form.text("email"),
        password: form.text("password"),
        country: form.text("country"),
        region: form.text("region"),
        accept_terms: Some(form.checked("accept_terms")),
        terms_version: Some(p.app.config.terms_version.clone()),
        legal_age: Some(form.checked("legal_age")),
    };
    match cases::signup::create(p.app, &ctx, body).await {
        Ok(_) => web.redirect("sign-in?done=signed-up"),
        Err(e) => {
            let (status, errors, message) = refused(e)?;
            let m = view::signup(&f, &csrf, &v, &errors, &DomainCheck::None, base_domain, message.as_deref());
            render(web, status, m)
        }
    }
}

pub(crate) async fn verify_page(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let token = web.query("token").unwrap_or_default();
    render(web, StatusCode::OK, view::verify(&f, &csrf, &token, &FieldErrors::default()))
}

pub(crate) async fn verify(p: &Portal<'_>, web: &mut Web<'_>, form: Form) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let ctx = Ctx::of(web.req)?;
    match cases::signup::verify(p.app, &ctx, form.get("token")).await {
        Ok(_) => web.redirect("sign-in?done=verified"),
        Err(e) => {
            let (status, errors, message) = refused(e)?;
            let errors = match message {
                Some(m) => FieldErrors(vec![domain::FieldError::new("token", m)]),
                None => errors,
            };
            render(web, status, view::verify(&f, &csrf, form.get("token").unwrap_or(""), &errors))
        }
    }
}

pub(crate) async fn sign_in_page(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    // Already signed in: straight to the account.
    if session(p, web).await?.is_some() {
        return web.redirect("account");
    }
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let done = web.query("done");
    let m = view::sign_in(&f, &csrf, "", "", &FieldErrors::default(), done.as_deref().and_then(view::done).map(Ok));
    render(web, StatusCode::OK, m)
}

pub(crate) async fn sign_in(p: &Portal<'_>, web: &mut Web<'_>, form: Form) -> ApiResult {
    let ctx = Ctx::of(web.req)?;
    let body = SignInBody { domain: form.text("domain"), email: form.text("email"), password: form.text("password") };
    match cases::identity::sign_in(p.app, &ctx, body).await {
        Ok(s) => {
            web.set_session(&s.token, s.expires_in);
            web.redirect("account")
        }
        Err(e) => {
            let (csrf, app) = anon_token(p, web)?;
            let f = Frame { app: &app, signed_in: None };
            let (status, errors, message) = refused(e)?;
            let (domain, email) = (form.get("domain").unwrap_or(""), form.get("email").unwrap_or(""));
            render(web, status, view::sign_in(&f, &csrf, domain, email, &errors, message.as_deref().map(Err)))
        }
    }
}

pub(crate) async fn forgot_page(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let sent = web.query("done").as_deref() == Some("sent");
    render(web, StatusCode::OK, view::forgot(&f, &csrf, "", "", &FieldErrors::default(), sent))
}

pub(crate) async fn forgot(p: &Portal<'_>, web: &mut Web<'_>, form: Form) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let ctx = Ctx::of(web.req)?;
    let (domain, email) = (form.get("domain").unwrap_or(""), form.get("email").unwrap_or(""));
    let body = ResetBody { domain: form.text("domain"), email: form.text("email") };
    match cases::identity::request_reset(p.app, &ctx, body).await {
        // Always the same answer, whether or not the address administers the domain.
        Ok(()) => web.redirect("forgot?done=sent"),
        Err(e) => {
            let (status, errors, message) = refused(e)?;
            let mut m = view::forgot(&f, &csrf, domain, email, &errors, false);
            if let Some(text) = message {
                m = maud::html! { (crate::pages::alert(&text)) (m) };
            }
            render(web, status, m)
        }
    }
}

pub(crate) async fn reset_page(p: &Portal<'_>, web: &mut Web<'_>) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let token = web.query("token").unwrap_or_default();
    render(web, StatusCode::OK, view::reset(&f, &csrf, &token, &FieldErrors::default()))
}

pub(crate) async fn reset(p: &Portal<'_>, web: &mut Web<'_>, form: Form) -> ApiResult {
    let (csrf, app) = anon_token(p, web)?;
    let f = Frame { app: &app, signed_in: None };
    let ctx = Ctx::of(web.req)?;
    let body = ResetConfirmBody { token: form.text("token"), password: form.text("password") };
    match cases::identity::confirm_reset(p.app, &ctx, body).await {
        Ok(()) => {
            // Every earlier token is revoked: so is this browser's session, if it had one.
            web.clear_session();
            web.redirect("sign-in?done=reset")
        }
        Err(e) => {
            let (status, errors, message) = refused(e)?;
            let errors = match message {
                Some(m) => FieldErrors(vec![domain::FieldError::new("token", m)]),
                None => errors,
            };
            render(web, status, view::reset(&f, &csrf, form.get("token").unwrap_or(""), &errors))
        }
    }
}
