//! The pages of a signed-in administrator: the account, plans and checkout, the card,
//! termination and the export. Each runs the use case its JSON route runs, on the session's
//! account.

use crate::handler::{Portal, Session};
use crate::pages::account::AccountView;
use crate::pages::billing::{CardView, PlansView};
use crate::pages::{self, refused, Frame};
use crate::web::{Form, Web};
use domain::field::FieldErrors;
use domain::lifecycle::{forecast, grace_end};
use domain::State;
use lambda_http::http::StatusCode;
use platform::cases;
use platform::http::ApiResult;
use platform::ApiError;
use web::TimelineItem;

pub(crate) async fn route(
    p: &Portal<'_>,
    web: &mut Web<'_>,
    s: Session,
    method: &str,
    page: &str,
    form: Option<Form>,
) -> ApiResult {
    match (method, page, form) {
        ("GET", "account", _) => account(p, web, &s, None).await,
        ("POST", "next-plan", Some(f)) => next_plan(p, web, &s, &f).await,
        ("POST", "auto-renew", Some(f)) => auto_renew(p, web, &s, &f).await,
        ("GET", "plans", _) => plans(p, web, &s, "", "12", &FieldErrors::default(), None),
        ("POST", "checkout", Some(f)) => checkout(p, web, &s, &f).await,
        ("GET", "card", _) => card(p, web, &s, None).await,
        ("POST", "card", Some(f)) => save_card(p, web, &s, &f).await,
        ("GET", "terminate", _) => terminate_page(web, &s, &FieldErrors::default(), None),
        ("POST", "terminate", Some(f)) => terminate(p, web, &s, &f).await,
        ("GET", "export", _) => export(p, web, &s).await,
        _ => Err(platform::http::method_not_allowed()),
    }
}

fn app_root(web: &Web<'_>) -> String {
    format!("{}/app", web.base)
}

/// The messages a redirect back to the account page brings (`?done=`).
fn done(what: Option<&str>) -> Option<&'static str> {
    match what? {
        "auto-renew-on" => Some("Automatic renewal is on."),
        "auto-renew-off" => Some("Automatic renewal is off: the forecast shows what happens at the term end."),
        "card" => Some("Your card is saved."),
        "next-plan" => Some("Your next plan is set: the forecast shows it at the term end."),
        "paid" => Some("Payment accepted. The new term shows here as soon as Stripe confirms it (a few seconds)."),
        _ => None,
    }
}

/// The account page; `next_error` is a refused choice of next plan, shown beside its field (400).
async fn account(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, next_error: Option<&str>) -> ApiResult {
    let (app, a, now) = (p.app, &s.account, s.now);
    let history = app.accounts.history(&a.id).await?;
    let forecast: Vec<TimelineItem> = forecast(a, &app.config.policy, app.catalog, now)
        .into_iter()
        .map(|f| TimelineItem { at: f.at, event: f.event, amount: f.amount, currency: f.currency })
        .collect();
    // The plan after this term: the chosen next plan, else the plan renewed; else none (grace follows).
    let after = a.next_plan.as_ref().map(|p| p.as_str()).or(a.auto_renew.then_some(a.plan.as_str()));
    let next = after.and_then(|id| app.catalog.get(id)).map(|plan| app.catalog.chart(plan, &a.usage));
    let choices = if a.state == State::Suspended { vec![] } else { cases::billing::next_plan_choices(app, a) };
    let done_q = web.query("done");
    let v = AccountView {
        account: a,
        csrf: &s.csrf,
        now,
        portal: format!("{}.{}", a.domain.as_str(), app.config.base_domain),
        grace_end: if a.state == State::Grace { grace_end(a, &app.config.policy) } else { None },
        next,
        choices: choices.iter().map(|p| (p.id.as_str(), p.id.as_str())).collect(),
        next_error,
        forecast,
        history: &history,
        done: done(done_q.as_deref()),
    };
    let root = app_root(web);
    let f = Frame { app: &root, signed_in: Some(&s.csrf) };
    let status = if next_error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    web.page(status, pages::account::account(&f, &v))
}

/// Chooses the plan to follow the term (as `PUT /accounts/{id}/next-plan` does); a refusal shows
/// beside the field on the account page.
async fn next_plan(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, form: &Form) -> ApiResult {
    match cases::billing::next_plan(p.app, s.now, &s.claims, form.text("plan").as_deref()).await {
        Ok(_) => web.redirect("account?done=next-plan"),
        Err(e) => {
            let (_, errors, message) = refused(e)?;
            let text = errors.message_for("plan").map(String::from).or(message);
            account(p, web, s, Some(text.as_deref().unwrap_or("The next plan could not be set."))).await
        }
    }
}

async fn auto_renew(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, form: &Form) -> ApiResult {
    let enabled = match form.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(ApiError::field("enabled", "must be true or false")),
    };
    cases::billing::auto_renew(p.app, s.now, &s.claims, enabled).await?;
    web.redirect(if enabled { "account?done=auto-renew-on" } else { "account?done=auto-renew-off" })
}

fn plans(
    p: &Portal<'_>,
    web: &Web<'_>,
    s: &Session,
    plan: &str,
    months: &str,
    errors: &FieldErrors,
    message: Option<&str>,
) -> ApiResult {
    let v = PlansView {
        plans: p.app.catalog.plans.iter().filter(|p| !p.id.is_free()).collect(),
        current: s.account.plan.as_str(),
        card: s.account.payment_method.as_ref(),
        csrf: &s.csrf,
        plan,
        months,
        errors,
        message,
    };
    let root = app_root(web);
    let f = Frame { app: &root, signed_in: Some(&s.csrf) };
    let status = if errors.is_empty() && message.is_none() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    web.page(status, pages::billing::plans(&f, &v))
}

async fn checkout(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, form: &Form) -> ApiResult {
    let (plan, months_text) = (form.get("plan").unwrap_or(""), form.get("months").unwrap_or(""));
    let months = match months_text {
        "" => None,
        m => match m.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let errors = FieldErrors(vec![domain::FieldError::new("months", "must be a whole number of months")]);
                return plans(p, web, s, plan, months_text, &errors, None);
            }
        },
    };
    match cases::billing::checkout(p.app, s.now, &s.claims, form.text("plan").as_deref(), months).await {
        // 3-D Secure: the bank wants the administrator to confirm this payment in the browser.
        Ok(c) if c["status"] == "requires_action" => {
            let (Some(secret), Some(amount), Some(currency)) =
                (c["client_secret"].as_str(), c["amount"].as_u64(), c["currency"].as_str())
            else {
                return Err(anyhow::anyhow!("a payment needing confirmation came without its client secret").into());
            };
            let root = app_root(web);
            let f = Frame { app: &root, signed_in: Some(&s.csrf) };
            let (js, pk) = (&p.settings.stripe_js, &p.app.config.stripe.publishable_key);
            web.page(StatusCode::OK, pages::billing::confirm_payment(&f, js, pk, secret, &web::money(amount, currency)))
        }
        Ok(_) => web.redirect("account?done=paid"),
        Err(e) => {
            let (_, errors, message) = refused(e)?;
            plans(p, web, s, plan, months_text, &errors, message.as_deref())
        }
    }
}

async fn card(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, error: Option<&str>) -> ApiResult {
    // A SetupIntent for this visit, as `POST /accounts/{id}/payment-method` makes it.
    let (setup, message) = match cases::billing::start_card(p.app, s.now, &s.claims, &s.account).await {
        Ok(setup) => (Some(setup), None),
        Err(e) => {
            let (_, _, message) = refused(e)?;
            (None, message)
        }
    };
    let v = CardView {
        card: s.account.payment_method.as_ref(),
        csrf: &s.csrf,
        stripe_js: &p.settings.stripe_js,
        publishable_key: &p.app.config.stripe.publishable_key,
        client_secret: setup.as_ref().and_then(|s| s.client_secret.as_deref()),
        error,
        message: message.as_deref(),
    };
    let root = app_root(web);
    let f = Frame { app: &root, signed_in: Some(&s.csrf) };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    web.page(status, pages::billing::card(&f, &v))
}

async fn save_card(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, form: &Form) -> ApiResult {
    match cases::billing::confirm_card(p.app, s.now, &s.claims, &s.account, form.get("setup_intent")).await {
        Ok(_) => web.redirect("account?done=card"),
        Err(e) => {
            let (_, errors, message) = refused(e)?;
            let text = message.or_else(|| errors.message_for("setup_intent").map(|m| format!("The card setup {m}.")));
            card(p, web, s, text.as_deref().or(Some("The card could not be saved."))).await
        }
    }
}

fn terminate_page(web: &Web<'_>, s: &Session, errors: &FieldErrors, message: Option<&str>) -> ApiResult {
    let root = app_root(web);
    let f = Frame { app: &root, signed_in: Some(&s.csrf) };
    let status = if errors.is_empty() && message.is_none() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    web.page(status, pages::billing::terminate(&f, &s.csrf, s.account.domain.as_str(), errors, message))
}

async fn terminate(p: &Portal<'_>, web: &mut Web<'_>, s: &Session, form: &Form) -> ApiResult {
    match cases::account::terminate(p.app, s.now, &s.claims, form.text("confirm_domain").as_deref()).await {
        Ok((_, deletion_at)) => {
            // A terminated account's tokens no longer work: the session ends here.
            web.clear_session();
            let root = app_root(web);
            let f = Frame { app: &root, signed_in: None };
            web.page(StatusCode::OK, pages::billing::terminated(&f, &deletion_at.format("%-d %B %Y").to_string()))
        }
        Err(e) => {
            let (_, errors, message) = refused(e)?;
            terminate_page(web, s, &errors, message.as_deref())
        }
    }
}

async fn export(p: &Portal<'_>, web: &mut Web<'_>, s: &Session) -> ApiResult {
    let data = cases::account::export(p.app, &s.account).await?;
    let body = serde_json::to_string_pretty(&data).map_err(anyhow::Error::from)?;
    web.download(&format!("{}-export.json", s.account.domain.as_str()), "application/json", body)
}
