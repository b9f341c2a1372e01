//! Saving the renewal card, checkout and automatic renewal (SPEC: Payments through Stripe; §7),
//! shared by the renewal function's routes and the portal's pages. Each takes a checked session.

use crate::auth::Claims;
use crate::dynamo::expr::{s, Path, Update};
use crate::ops::{update_account, Decision};
use crate::stripe::{NewPayment, StripeError};
use crate::{session, ApiError, App, HistoryEvent};
use chrono::{DateTime, Duration, Utc};
use domain::account::{Checkout, SavedCard};
use domain::billing::{quote, Ineligible, MAX_MONTHS};
use domain::catalog::Chart;
use domain::lifecycle::{set_auto_renew, set_next_plan};
use domain::types::required_text;
use domain::{Account, FieldError, FieldErrors};
use lambda_http::http::StatusCode;
use serde_json::{json, Value};

pub fn plan_of<'a>(app: &'a App, field: &str, id: Option<&str>) -> Result<&'a domain::Plan, FieldError> {
    let id = required_text(field, id, 40)?;
    app.catalog.get(&id).ok_or_else(|| FieldError::new(field, "is not a plan of the catalog"))
}

pub fn ineligible(e: Ineligible) -> ApiError {
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
        Ineligible::EmailUnverified => email_unverified(),
        other => ApiError::problem(StatusCode::CONFLICT, "not_eligible", other.to_string()),
    }
}

/// §4.1: an administrator whose address is not verified may look, but not pay.
pub fn email_unverified() -> ApiError {
    ApiError::problem(
        StatusCode::CONFLICT,
        "email_unverified",
        "verify your e-mail address first (see the link we sent)",
    )
}

/// §21.2: what an administrator of a suspended account may not do.
pub fn suspended() -> ApiError {
    ApiError::problem(StatusCode::CONFLICT, "account_suspended", "the account is suspended (§21.2)")
}

/// Stripe out of reach (or refusing what we sent) is our problem, not the caller's: 502.
pub fn stripe_failed(e: StripeError) -> ApiError {
    tracing::error!(error = %e, "Stripe request failed");
    ApiError::problem(
        StatusCode::BAD_GATEWAY,
        "payment_provider_unavailable",
        "the payment provider did not answer; try again",
    )
}

/// A SetupIntent for the browser to confirm with Stripe.js.
pub struct CardSetup {
    pub setup_intent: String,
    pub client_secret: Option<String>,
}

/// The account's Stripe customer (created once) and a SetupIntent for the browser to confirm.
pub async fn start_card(app: &App, now: DateTime<Utc>, claims: &Claims, a: &Account) -> Result<CardSetup, ApiError> {
    if !a.email_verified {
        return Err(email_unverified());
    }
    let customer = match a.stripe_customer.clone() {
        Some(c) => c,
        None => {
            let created =
                app.stripe.create_customer(&a.id, &format!("customer-{}", a.id)).await.map_err(stripe_failed)?;
            // Two racing saves may each create one; the first stored is the account's.
            let (a, ()) = session::update(app, &a.id, now, claims, |a| -> Result<_, ApiError> {
                a.stripe_customer.get_or_insert_with(|| created.id.clone());
                Ok(Decision::new((), vec![]))
            })
            .await?;
            a.stripe_customer.unwrap_or(created.id)
        }
    };
    let si = app.stripe.create_setup_intent(&customer).await.map_err(stripe_failed)?;
    Ok(CardSetup { setup_intent: si.id, client_secret: si.client_secret })
}

fn incomplete(detail: &str) -> ApiError {
    ApiError::problem(StatusCode::CONFLICT, "setup_incomplete", detail)
}

/// The SetupIntent succeeded for this account's customer, so its card becomes the renewal card.
pub async fn confirm_card(
    app: &App,
    now: DateTime<Utc>,
    claims: &Claims,
    a: &Account,
    setup_intent: Option<&str>,
) -> Result<Account, ApiError> {
    let si_id = required_text("setup_intent", setup_intent, 255)?;
    if !a.email_verified {
        return Err(email_unverified());
    }
    let customer = a.stripe_customer.clone().ok_or_else(|| incomplete("no card is being saved for this account"))?;
    let si = match app.stripe.setup_intent(&si_id).await {
        Ok(si) => si,
        Err(StripeError::Refused { status: 400 | 404, .. }) => {
            return Err(ApiError::field("setup_intent", "is not a SetupIntent of this account"))
        }
        Err(e) => return Err(stripe_failed(e)),
    };
    if si.customer.as_deref() != Some(customer.as_str()) {
        return Err(ApiError::field("setup_intent", "is not a SetupIntent of this account"));
    }
    let (Some("succeeded"), Some(pm_id)) = (si.status.as_deref(), si.payment_method.as_deref()) else {
        return Err(incomplete("the card has not been confirmed yet"));
    };
    let pm = app.stripe.payment_method(pm_id).await.map_err(stripe_failed)?;
    app.stripe.make_default(&customer, &pm).await.map_err(stripe_failed)?;
    let card = pm.card.unwrap_or(crate::stripe::Card { brand: None, last4: None, exp_month: None, exp_year: None });
    let saved = SavedCard {
        id: pm.id,
        brand: card.brand.unwrap_or_default(),
        last4: card.last4.unwrap_or_default(),
        exp_month: card.exp_month.unwrap_or_default(),
        exp_year: card.exp_year.unwrap_or_default(),
    };
    let (a, ()) = session::update(app, &a.id, now, claims, |a| -> Result<_, ApiError> {
        a.payment_method = Some(saved.clone());
        let mut d = Decision::new((), vec![]);
        d.history.push(HistoryEvent::new(
            now,
            "payment_method_saved",
            json!({ "brand": saved.brand, "last4": saved.last4 }),
        ));
        Ok(d)
    })
    .await?;
    Ok(a)
}

/// §7.7: automatic renewal off (or on) at any time; off withdraws every renewal charge attempt
/// not yet made.
pub async fn auto_renew(app: &App, now: DateTime<Utc>, claims: &Claims, enabled: bool) -> Result<Account, ApiError> {
    let (a, ()) = session::update(app, &claims.sub, now, claims, |a| -> Result<_, ApiError> {
        if a.state == domain::State::Suspended {
            return Err(suspended());
        }
        set_auto_renew(a, enabled, now);
        let mut d = Decision::new((), vec![]);
        d.history.push(HistoryEvent::new(now, "auto_renew_set", json!({ "enabled": enabled })));
        Ok(d)
    })
    .await?;
    Ok(a)
}

/// The plans an administrator may choose to follow the current paid term: Free or a cheaper paid
/// plan (§7.4). Empty when the account has no paid term.
pub fn next_plan_choices<'a>(app: &'a App, a: &Account) -> Vec<&'a domain::Plan> {
    let current = app.catalog.get(a.plan.as_str()).map(|p| p.rank).unwrap_or(0);
    if !a.is_paid() {
        return vec![];
    }
    app.catalog.plans.iter().filter(|p| p.id.is_free() || p.rank < current).collect()
}

/// The plan for after the current term: Free or a cheaper paid plan, with its compatibility
/// chart (§7.4). Choosing another plan withdraws any renewal charge not yet made.
pub async fn next_plan(
    app: &App,
    now: DateTime<Utc>,
    claims: &Claims,
    plan: Option<&str>,
) -> Result<(Account, Chart), ApiError> {
    let plan = plan_of(app, "plan", plan)?;
    session::update(app, &claims.sub, now, claims, |a| -> Result<_, ApiError> {
        if a.state == domain::State::Suspended {
            return Err(suspended());
        }
        if !a.is_paid() {
            return Err(ApiError::problem(
                StatusCode::CONFLICT,
                "no_paid_term",
                "the account has no paid term to follow",
            ));
        }
        if !next_plan_choices(app, a).iter().any(|p| p.id == plan.id) {
            return Err(ApiError::field("plan", "must be Free or a plan cheaper than the current one"));
        }
        set_next_plan(a, plan.id.clone(), now);
        let mut d = Decision::new(app.catalog.chart(plan, &a.usage), vec![]);
        d.history.push(HistoryEvent::new(now, "next_plan_set", json!({ "plan": plan.id })));
        Ok(d)
    })
    .await
}

/// Checkout (SPEC: "Checkout", "The quoted amount"): eligibility, the country and the chart are
/// checked before any charge; the checkout is stored first, then the saved card is charged for
/// exactly the quoted amount. The payment applies when its webhook arrives, never from here.
/// Answers the checkout as the JSON route shows it.
pub async fn checkout(
    app: &App,
    now: DateTime<Utc>,
    claims: &Claims,
    plan: Option<&str>,
    months: Option<u32>,
) -> Result<Value, ApiError> {
    let id = claims.sub.as_str();
    let mut errs = FieldErrors::default();
    let plan = errs.take(plan_of(app, "plan", plan));
    if months.is_none() {
        errs.push(FieldError::required("months"));
    }
    errs.clone().into_result()?;
    let (Some(plan), Some(months)) = (plan, months) else { return Err(errs.into()) };
    let checkout_id = uuid::Uuid::new_v4().simple().to_string();
    let policy = &app.config.policy;

    // 1. The checkout is stored before any charge, so a payment always finds what it was for.
    let (a, (q, idx)) = session::update(app, id, now, claims, |a| -> Result<_, ApiError> {
        if !a.email_verified {
            return Err(email_unverified());
        }
        if a.payment_method.is_none() {
            return Err(ApiError::problem(StatusCode::CONFLICT, "no_payment_method", "save a card first"));
        }
        let q = quote(a, plan, months, now, app.catalog).map_err(ineligible)?;
        a.checkouts.retain(|c| c.expires_at > now);
        a.checkouts.push(Checkout {
            id: checkout_id.clone(),
            plan: q.plan.clone(),
            months,
            amount: q.amount.clone(),
            proration: q.proration,
            payment_intent: None,
            created_at: now,
            expires_at: now + Duration::hours(policy.checkout_hours),
        });
        Ok(Decision::new((q, a.checkouts.len() - 1), vec![]))
    })
    .await?;

    // 2. The saved card is charged for exactly the quoted amount.
    let (Some(customer), Some(card)) = (a.stripe_customer.as_deref(), a.payment_method.as_ref()) else {
        return Err(ApiError::problem(StatusCode::CONFLICT, "no_payment_method", "save a card first"));
    };
    let months_text = months.to_string();
    let metadata = [
        ("kind", "checkout"),
        ("account_id", a.id.as_str()),
        ("checkout_id", checkout_id.as_str()),
        ("plan", q.plan.as_str()),
        ("months", months_text.as_str()),
    ];
    let payment = NewPayment {
        amount: q.amount.amount,
        currency: &q.amount.currency,
        customer,
        payment_method: &card.id,
        off_session: false,
        metadata: &metadata,
    };
    match app.stripe.pay(&payment, &format!("checkout-{checkout_id}")).await {
        Ok(pi) => {
            // 3. Its PaymentIntent recorded beside it (cheaply when nobody wrote the account since).
            let update = Update::new().set(Path::InList("checkouts", idx, Some("payment_intent")), s(&pi.id));
            if !app.accounts.amend(&a, update, vec![]).await? {
                let pi_id = pi.id.clone();
                update_account(app, id, now, |a| -> Result<_, ApiError> {
                    if let Some(c) = a.checkouts.iter_mut().find(|c| c.id == checkout_id) {
                        c.payment_intent = Some(pi_id.clone());
                    }
                    Ok(Decision::new((), vec![]))
                })
                .await?;
            }
            Ok(json!({
                "checkout_id": checkout_id, "plan": q.plan, "months": months,
                "amount": q.amount.amount, "proration": q.proration, "currency": q.amount.currency,
                "tax_included": false, "term_start": q.term_start, "applies_now": q.applies_now,
                "payment_intent": pi.id, "status": pi.status, "client_secret": pi.client_secret,
            }))
        }
        Err(StripeError::Declined { code, decline_code, .. }) => {
            // A decline is recorded in history and sends no notice; the checkout goes.
            let line = HistoryEvent::new(
                now,
                "checkout_declined",
                json!({ "checkout_id": checkout_id, "code": code, "decline_code": decline_code, "amount": q.amount }),
            );
            let update = Update::new().remove(Path::InList("checkouts", idx, None));
            if !app.accounts.amend(&a, update, vec![line.clone()]).await? {
                update_account(app, id, now, |a| -> Result<_, ApiError> {
                    a.checkouts.retain(|c| c.id != checkout_id);
                    let mut d = Decision::new((), vec![]);
                    d.history.push(line.clone());
                    Ok(d)
                })
                .await?;
            }
            Err(ApiError::with(
                StatusCode::PAYMENT_REQUIRED,
                "card_declined",
                "the card was declined; nothing was charged",
                json!({ "decline_code": decline_code, "checkout_id": checkout_id }),
            ))
        }
        Err(e) => Err(stripe_failed(e)),
    }
}
