//! Renewal charges made at Stripe (SPEC: "Renewal charge"). An attempt is first recorded pending
//! on the account, in the transaction of the step that decides it; then it is created at Stripe
//! off-session with its own `Idempotency-Key`; then Stripe's answer is recorded. A run that finds
//! an attempt still pending (a crash in between) looks at the customer's charges at Stripe before
//! creating one, so a crash never charges twice, whether or not Stripe honours the key.

use chrono::{DateTime, Utc};
use domain::account::ChargeStatus;
use domain::billing::{charge_outcome, idempotency_key, ChargeOutcome};
use domain::Account;
use platform::ops::{update_account, Decision};
use platform::stripe::{NewPayment, PaymentIntent, StripeError};
use platform::{ApiError, App};

/// What making a charge did, for the sweep's summary.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Made {
    Created,
    Declined,
    /// Found at Stripe already (created before a crash): recorded, not created again.
    Found,
}

/// Makes the account's pending renewal attempt at Stripe and records the answer.
/// `check_first`: the attempt was pending before this run, so Stripe may already have it.
pub(crate) async fn make(
    app: &App,
    a: &Account,
    check_first: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Made>> {
    let Some(r) = a.renewal.as_ref().filter(|r| r.status == ChargeStatus::Pending) else { return Ok(None) };
    let key = idempotency_key(&a.id, r.term_end, r.attempt);
    let (Some(customer), Some(card)) = (a.stripe_customer.as_deref(), a.payment_method.as_ref()) else {
        record(app, &a.id, &key, ChargeOutcome::Declined { payment_intent: None }, now).await?;
        return Ok(Some(Made::Declined));
    };
    if check_first {
        if let Some(pi) = already_made(app, customer, &key, r.amount.amount).await? {
            record(app, &a.id, &key, outcome_of(&pi), now).await?;
            return Ok(Some(Made::Found));
        }
    }
    let (term_end, attempt) = (r.term_end.timestamp().to_string(), r.attempt.to_string());
    let metadata = [
        ("kind", "renewal"),
        ("account_id", a.id.as_str()),
        ("term_end", term_end.as_str()),
        ("attempt", attempt.as_str()),
        ("plan", r.plan.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    let payment = NewPayment {
        amount: r.amount.amount,
        currency: &r.amount.currency,
        customer,
        payment_method: &card.id,
        off_session: true,
        metadata: &metadata,
    };
    let (outcome, made) = match app.stripe.pay(&payment, &key).await {
        Ok(pi) => {
            let o = outcome_of(&pi);
            let made = if matches!(o, ChargeOutcome::Created { .. }) { Made::Created } else { Made::Declined };
            (o, made)
        }
        Err(StripeError::Declined { payment_intent, .. }) => {
            (ChargeOutcome::Declined { payment_intent: payment_intent.map(|p| p.id) }, Made::Declined)
        }
        Err(StripeError::Refused { status, message }) => {
            tracing::warn!(account_id = %a.id, status, message, "Stripe refused the renewal charge; recorded as declined");
            (ChargeOutcome::Declined { payment_intent: None }, Made::Declined)
        }
        // Not reachable: the attempt stays pending and the next run checks Stripe first.
        Err(StripeError::Unavailable(e)) => return Err(e.context("renewal charge")),
    };
    // The common answer (created, no notice) is recorded without reading the account again.
    let mut fast = a.clone();
    if matches!(outcome, ChargeOutcome::Created { .. })
        && charge_outcome(&mut fast, &key, outcome.clone(), now, &app.config.policy).is_empty()
        && app.accounts.amend_renewal(&fast).await?
    {
        return Ok(Some(made));
    }
    record(app, &a.id, &key, outcome, now).await?;
    Ok(Some(made))
}

fn outcome_of(pi: &PaymentIntent) -> ChargeOutcome {
    match pi.status.as_deref() {
        Some("requires_action") => ChargeOutcome::ActionRequired { payment_intent: pi.id.clone() },
        Some("requires_payment_method") | Some("canceled") => {
            ChargeOutcome::Declined { payment_intent: Some(pi.id.clone()) }
        }
        _ => ChargeOutcome::Created { payment_intent: pi.id.clone() },
    }
}

/// The PaymentIntent of attempt `key` among the customer's charges of its amount, if any (its
/// metadata names the key; times are not compared, as event times may be replayed).
async fn already_made(app: &App, customer: &str, key: &str, amount: u64) -> anyhow::Result<Option<PaymentIntent>> {
    let charges = app.stripe.charges(customer).await.map_err(|e| anyhow::anyhow!(e))?;
    let same_amount = charges.iter().filter(|c| c.amount.is_none_or(|a| a == amount));
    for pi_id in same_amount.filter_map(|c| c.payment_intent.as_deref()) {
        let pi = app.stripe.payment_intent(pi_id).await.map_err(|e| anyhow::anyhow!(e))?;
        if pi.metadata.get("idempotency_key").map(String::as_str) == Some(key) {
            return Ok(Some(pi));
        }
    }
    Ok(None)
}

/// Records Stripe's answer on the account (a decline tells the administrators about the retry).
async fn record(app: &App, id: &str, key: &str, outcome: ChargeOutcome, now: DateTime<Utc>) -> anyhow::Result<()> {
    let p = &app.config.policy;
    let r = update_account(app, id, now, |a| -> Result<_, ApiError> {
        Ok(Decision::new((), charge_outcome(a, key, outcome.clone(), now, p)))
    })
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("recording the renewal charge of {id}: {e}")),
    }
}
