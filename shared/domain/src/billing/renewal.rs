//! The renewal charge (§7.7, SPEC "Renewal charge"): which plan it charges, its attempts and
//! their idempotency keys, the retries in grace, and its withdrawal.

use super::{price, Money};
use crate::account::{Account, ChargeStatus, RenewalCharge};
use crate::catalog::Catalog;
use crate::lifecycle::Effect;
use crate::notice::{Notice, NoticeKind, PaymentNote};
use crate::policy::{days, Policy};
use crate::types::PlanId;
use chrono::{DateTime, Utc};

/// Why auto-renewal charges nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCharged {
    #[error("the Free plan was chosen for the next term")]
    FreeChosen,
    #[error("the {0} plan does not fit the account's current usage")]
    DoesNotFit(PlanId),
}

/// The plan that will apply next, its months and its price: a chosen paid next plan if it fits;
/// nothing if Free is chosen or the chosen plan does not fit; with none chosen, the current
/// plan (of the last paid term) if it fits. The months are the last term's.
pub fn charge_plan(a: &Account, catalog: &Catalog) -> Result<(PlanId, u32, Money), NotCharged> {
    let (current, months) = a.last_term();
    let plan = match &a.next_plan {
        Some(p) if p.is_free() => return Err(NotCharged::FreeChosen),
        Some(p) => p.clone(),
        None => current.clone(),
    };
    let fits = catalog.get(plan.as_str()).filter(|p| catalog.chart(p, &a.usage).fits);
    let price = fits.and_then(|p| price(p, months)).ok_or_else(|| NotCharged::DoesNotFit(plan.clone()))?;
    Ok((plan, months, price))
}

/// Stripe's `Idempotency-Key` of one attempt: each attempt its own key, the same on every retry
/// of the same request.
pub fn idempotency_key(account_id: &str, term_end: DateTime<Utc>, attempt: u8) -> String {
    format!("renewal-{account_id}-{}-{attempt}", term_end.timestamp())
}

/// Records the attempt `attempt` for the term ending `term_end` (or that nothing is charged), at `at`.
pub(crate) fn record_attempt(
    a: &mut Account,
    term_end: DateTime<Utc>,
    attempt: u8,
    at: DateTime<Utc>,
    catalog: &Catalog,
) -> Effect {
    match charge_plan(a, catalog) {
        Ok((plan, months, amount)) => {
            a.renewal = Some(RenewalCharge {
                term_end,
                plan: plan.clone(),
                months,
                amount: amount.clone(),
                attempt,
                status: ChargeStatus::Pending,
                payment_intent: None,
                at,
                lease_until: None,
            });
            Effect::ChargeRequest { at, plan, months, term_start: term_end, price: Some(amount), attempt }
        }
        Err(why) => {
            let (plan, months) = a.last_term();
            let (plan, months) = (a.next_plan.clone().unwrap_or_else(|| plan.clone()), months);
            let amount = catalog.get(plan.as_str()).and_then(|p| price(p, months)).unwrap_or_else(|| Money::new(0, ""));
            a.renewal = Some(RenewalCharge {
                term_end,
                plan: plan.clone(),
                months,
                amount: amount.clone(),
                attempt,
                status: ChargeStatus::NotCharged,
                payment_intent: None,
                at,
                lease_until: None,
            });
            let note = PaymentNote {
                reference: format!("{}", term_end.timestamp()),
                plan,
                amount,
                proration: 0,
                term_start: Some(term_end),
                term_end: None,
                reason: Some(why.to_string()),
                next_retry: None,
            };
            Effect::Notice(Notice::about_payment(NoticeKind::RenewalNotCharged, at, note))
        }
    }
}

/// When the next attempt is due after a decline: the first retry slot (term end + 1, + 3, + 7
/// days) later than the decline. `None` when the slots are used up. Grace is never extended.
pub fn next_retry(a: &Account, policy: &Policy) -> Option<(DateTime<Utc>, u8)> {
    let r = a.renewal.as_ref()?;
    if !matches!(r.status, ChargeStatus::Declined | ChargeStatus::ActionRequired) || !a.auto_renew {
        return None;
    }
    let slots = policy.renewal_retry_days.iter().skip(usize::from(r.attempt.saturating_sub(1)));
    slots.map(|d| r.term_end + days(*d)).find(|t| *t > r.at).map(|t| (t, r.attempt + 1))
}

/// What Stripe answered when the attempt was created: a PaymentIntent (its outcome follows by
/// webhook), a decline, or a card that needs the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Created { payment_intent: String },
    Declined { payment_intent: Option<String> },
    ActionRequired { payment_intent: String },
}

/// Records Stripe's answer to the pending attempt `key`; a decline tells the administrators when
/// it is retried. Nothing happens if that attempt is no longer the pending one.
pub fn charge_outcome(
    a: &mut Account,
    key: &str,
    outcome: ChargeOutcome,
    at: DateTime<Utc>,
    policy: &Policy,
) -> Vec<Effect> {
    let pending = a
        .renewal
        .as_ref()
        .is_some_and(|r| r.status == ChargeStatus::Pending && idempotency_key(&a.id, r.term_end, r.attempt) == key);
    if !pending {
        return Vec::new();
    }
    match outcome {
        ChargeOutcome::Created { payment_intent } => {
            if let Some(r) = a.renewal.as_mut() {
                r.status = ChargeStatus::Created;
                r.payment_intent = Some(payment_intent);
            }
            Vec::new()
        }
        ChargeOutcome::Declined { payment_intent } => declined(a, payment_intent, false, at, policy),
        ChargeOutcome::ActionRequired { payment_intent } => declined(a, Some(payment_intent), true, at, policy),
    }
}

/// A `payment_intent.payment_failed` for this account's renewal attempt `attempt` of `term_end`.
/// A failure after the same PaymentIntent succeeded, or for an attempt already settled, changes nothing.
pub fn charge_declined(
    a: &mut Account,
    term_end: DateTime<Utc>,
    attempt: u8,
    payment_intent: &str,
    action_required: bool,
    at: DateTime<Utc>,
    policy: &Policy,
) -> Vec<Effect> {
    let open = a.renewal.as_ref().is_some_and(|r| {
        r.term_end == term_end
            && r.attempt == attempt
            && matches!(r.status, ChargeStatus::Pending | ChargeStatus::Created)
    });
    if !open {
        return Vec::new();
    }
    declined(a, Some(payment_intent.to_string()), action_required, at, policy)
}

fn declined(
    a: &mut Account,
    pi: Option<String>,
    action_required: bool,
    at: DateTime<Utc>,
    policy: &Policy,
) -> Vec<Effect> {
    let Some(r) = a.renewal.as_mut() else { return Vec::new() };
    r.status = if action_required { ChargeStatus::ActionRequired } else { ChargeStatus::Declined };
    r.payment_intent = pi.or(r.payment_intent.take());
    r.at = at;
    let reason = if action_required {
        "the card needs you to confirm the payment: pay in the portal"
    } else {
        "the card was declined"
    };
    let (term_end, attempt, plan, amount) = (r.term_end, r.attempt, r.plan.clone(), r.amount.clone());
    let note = PaymentNote {
        reference: format!("{}-{attempt}", term_end.timestamp()),
        plan,
        amount,
        proration: 0,
        term_start: Some(term_end),
        term_end: None,
        reason: Some(reason.into()),
        next_retry: next_retry(a, policy).map(|(t, _)| t),
    };
    vec![Effect::Notice(Notice::about_payment(NoticeKind::RenewalFailed, at, note))]
}

/// Withdraws every attempt not yet made (the pending one and the retries still to come):
/// auto-renewal turned off, another next plan chosen, termination, suspension.
pub fn withdraw_charges(a: &mut Account, at: DateTime<Utc>) {
    if let Some(r) = a.renewal.as_mut() {
        if matches!(r.status, ChargeStatus::Pending | ChargeStatus::Declined | ChargeStatus::ActionRequired) {
            r.status = ChargeStatus::Withdrawn;
            r.at = at;
        }
    }
}
