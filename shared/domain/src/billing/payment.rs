//! Applying money (§7.3, §21.3): a purchase placed on the account's terms, and a payment Stripe
//! reports matched against the stored checkout or renewal charge it is for.

use super::{check_purchase, term_end, term_runs, Ineligible, Money};
use crate::account::{Account, ChargeStatus, LastPayment, PaidTerm, State, StateReason};
use crate::catalog::{Catalog, Plan};
use crate::lifecycle::{advance, Effect};
use crate::notice::{Notice, NoticeKind, PaymentNote};
use crate::policy::Policy;
use chrono::{DateTime, Utc};

/// What a payment was for, from the PaymentIntent's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentFor {
    Checkout { id: String },
    Renewal { term_end: DateTime<Utc>, attempt: u8 },
    Unknown,
}

/// A succeeded payment as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub payment_intent: String,
    pub amount: u64,
    pub currency: String,
    pub purpose: PaymentFor,
}

/// Why money that arrived cannot be applied: it becomes an unapplied payment (SPEC).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unapplied {
    #[error("no stored checkout or renewal charge matches this payment")]
    NoMatch,
    #[error("the amount or currency differs from the stored {0} (expected {1})")]
    Mismatch(&'static str, String),
    #[error("the checkout expired before the payment")]
    Expired,
    #[error("the account is closed ({0:?})")]
    Closed(State),
    #[error("the account is suspended for a Terms violation")]
    Violation,
    #[error("the purchase is no longer possible: {0}")]
    Ineligible(Ineligible),
}

/// What applying a payment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Paid {
    Applied(Vec<Effect>),
    /// The same payment was applied before (another event of the same PaymentIntent).
    AlreadyApplied,
}

/// Places `months` of `plan`, paid at `at`, on the account's terms (§7.3: no gap, no overlap):
/// - a higher plan while a term runs applies at once, and the terms bought ahead on the current
///   plan are upgraded with it; the new months follow the last paid term;
/// - a same or lower plan while a term runs follows the paid terms and takes over then;
/// - in grace the new term starts at the old end; otherwise (Free, suspended) at `at` (§21.3).
pub fn apply_purchase(
    a: &mut Account,
    plan: &Plan,
    months: u32,
    at: DateTime<Utc>,
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Vec<Effect>, Ineligible> {
    let mut out = advance(a, policy, catalog, at);
    check_purchase(a, plan, months, catalog)?;
    let was = a.state;
    let old_plan = a.plan.clone();
    let (start, end) = match (a.state, a.term_end) {
        (State::Active, Some(paid_until)) if term_runs(a, at) => {
            let end = term_end(paid_until, months).ok_or(Ineligible::Months)?;
            if catalog.get(a.plan.as_str()).is_some_and(|cur| plan.rank > cur.rank) {
                for t in a.terms_ahead.iter_mut().filter(|t| t.plan == old_plan) {
                    t.plan = plan.id.clone();
                }
                a.plan = plan.id.clone();
            }
            a.terms_ahead.push(PaidTerm { start: paid_until, end, months, plan: plan.id.clone() });
            (paid_until, end)
        }
        (state, paid_until) => {
            let start = match (state, paid_until) {
                (State::Grace, Some(t)) => t,
                _ => at,
            };
            let end = term_end(start, months).ok_or(Ineligible::Months)?;
            a.plan = plan.id.clone();
            a.term_start = Some(start);
            a.term_months = months;
            a.terms_ahead.clear();
            (start, end)
        }
    };
    if !a.is_paid() {
        a.auto_renew = true; // §7.7: automatic renewal is on by default for paid plans
    }
    a.term_end = Some(end);
    a.next_plan = None;
    a.last_activity = a.last_activity.max(at);
    out.push(Effect::Payment { at, plan: plan.id.clone(), months, term_start: start, term_end: end });
    if old_plan != a.plan {
        out.push(Effect::PlanChanged { at, from: old_plan, to: a.plan.clone() });
    }
    if was != State::Active {
        let from = a.state;
        a.state = State::Active;
        a.state_reason = None;
        a.state_since = at;
        out.push(Effect::Transition { at, from, to: State::Active, reason: None, plan: a.plan.clone() });
        out.push(Effect::Notice(Notice::new(NoticeKind::Restored, at, None)));
    }
    Ok(out)
}

/// Applies a payment Stripe reports as succeeded, at the webhook's event time, if it matches the
/// stored checkout or renewal charge it names in amount and currency; otherwise says why not.
pub fn receive_payment(
    a: &mut Account,
    p: &Received,
    at: DateTime<Utc>,
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Paid, Unapplied> {
    match a.state {
        State::Terminated | State::Deleted => return Err(Unapplied::Closed(a.state)),
        State::Suspended if a.state_reason == Some(StateReason::TermsViolation) => return Err(Unapplied::Violation),
        _ => {}
    }
    if a.last_payment.as_ref().is_some_and(|l| l.payment_intent == p.payment_intent) {
        return Ok(Paid::AlreadyApplied);
    }
    let (plan_id, months, expected, proration) = match &p.purpose {
        PaymentFor::Checkout { id } => {
            let c = a.checkouts.iter().find(|c| &c.id == id).ok_or(Unapplied::NoMatch)?;
            if !c.amount.same_as(p.amount, &p.currency) {
                return Err(Unapplied::Mismatch("checkout", c.amount.display()));
            }
            if at >= c.expires_at {
                return Err(Unapplied::Expired);
            }
            (c.plan.clone(), c.months, c.amount.clone(), c.proration)
        }
        PaymentFor::Renewal { term_end, attempt } => {
            let r = a.renewal.as_ref().filter(|r| r.term_end == *term_end && r.attempt == *attempt);
            let r = r.ok_or(Unapplied::NoMatch)?;
            if r.status == ChargeStatus::Succeeded {
                return Ok(Paid::AlreadyApplied);
            }
            if !r.amount.same_as(p.amount, &p.currency) {
                return Err(Unapplied::Mismatch("renewal charge", r.amount.display()));
            }
            (r.plan.clone(), r.months, r.amount.clone(), 0)
        }
        PaymentFor::Unknown => return Err(Unapplied::NoMatch),
    };
    let plan = catalog.get(plan_id.as_str()).ok_or(Unapplied::NoMatch)?;
    let mut effects = apply_purchase(a, plan, months, at, policy, catalog).map_err(Unapplied::Ineligible)?;
    let (start, end) = effects
        .iter()
        .find_map(|e| match e {
            Effect::Payment { term_start, term_end, .. } => Some((*term_start, *term_end)),
            _ => None,
        })
        .unwrap_or((at, at));
    match &p.purpose {
        PaymentFor::Checkout { id } => a.checkouts.retain(|c| &c.id != id),
        _ => {
            if let Some(r) = a.renewal.as_mut() {
                r.status = ChargeStatus::Succeeded;
                r.payment_intent = Some(p.payment_intent.clone());
                r.at = at;
            }
        }
    }
    a.last_payment = Some(LastPayment {
        at,
        plan: plan_id.clone(),
        months,
        amount: expected.clone(),
        proration,
        term_start: start,
        term_end: end,
        payment_intent: p.payment_intent.clone(),
    });
    let receipt = PaymentNote {
        reference: p.payment_intent.clone(),
        plan: plan_id,
        amount: expected,
        proration,
        term_start: Some(start),
        term_end: Some(end),
        reason: None,
        next_retry: None,
    };
    effects.push(Effect::Notice(Notice::about_payment(NoticeKind::Receipt, at, receipt)));
    Ok(Paid::Applied(effects))
}

/// The notice to administrators about money that could not be applied (§7.5: refunds by a
/// person); one per event, so each event that brought money is told of.
pub fn unapplied_notice(
    p: &Received,
    event_id: &str,
    why: &Unapplied,
    plan: crate::types::PlanId,
    at: DateTime<Utc>,
) -> Notice {
    let note = PaymentNote {
        reference: format!("{}/{event_id}", p.payment_intent),
        plan,
        amount: Money::new(p.amount, &p.currency),
        proration: 0,
        term_start: None,
        term_end: None,
        reason: Some(why.to_string()),
        next_retry: None,
    };
    Notice::about_payment(NoticeKind::PaymentUnapplied, at, note)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::quote;
    use super::*;
    use crate::account::Checkout;
    use chrono::Duration;

    fn checkout(a: &mut Account, plan: &str, months: u32, at: DateTime<Utc>) -> Checkout {
        let q = quote(a, cat().get(plan).unwrap(), months, at, cat()).unwrap();
        let c = Checkout {
            id: format!("co{}", a.checkouts.len()),
            plan: q.plan,
            months,
            amount: q.amount,
            proration: q.proration,
            payment_intent: None,
            created_at: at,
            expires_at: at + Duration::hours(24),
        };
        a.checkouts.push(c.clone());
        c
    }

    fn paid(c: &Checkout, amount: u64, currency: &str) -> Received {
        Received {
            payment_intent: format!("pi_{}", c.id),
            amount,
            currency: currency.into(),
            purpose: PaymentFor::Checkout { id: c.id.clone() },
        }
    }

    fn receive(a: &mut Account, r: &Received, at: DateTime<Utc>) -> Result<Paid, Unapplied> {
        receive_payment(a, r, at, &Policy::default(), cat())
    }

    #[test]
    fn a_payment_matching_its_checkout_applies_once_with_a_receipt_naming_the_proration() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        let c = checkout(&mut a, "professional", 1, t(2027, 12, 1));
        let Ok(Paid::Applied(e)) = receive(&mut a, &paid(&c, c.amount.amount, "usd"), t(2027, 12, 1)) else { panic!() };
        assert_eq!(a.plan, "professional", "an upgrade applies at once");
        assert_eq!(a.term_end, Some(t(2028, 2, 1)), "the new month follows the paid one");
        let Some(Effect::Notice(n)) = e.last() else { panic!("{e:?}") };
        assert_eq!((n.kind, n.payment.as_ref().map(|p| p.proration)), (NoticeKind::Receipt, Some(15_000)));
        assert!(a.checkouts.is_empty());
        assert_eq!(receive(&mut a, &paid(&c, c.amount.amount, "USD"), t(2027, 12, 2)), Ok(Paid::AlreadyApplied));
    }

    #[test]
    fn a_payment_without_the_proration_or_in_another_currency_is_unapplied() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        let c = checkout(&mut a, "professional", 1, t(2027, 12, 1));
        let short = receive(&mut a, &paid(&c, 19_900, "USD"), t(2027, 12, 1));
        assert!(matches!(short, Err(Unapplied::Mismatch("checkout", _))), "{short:?}");
        let euro = receive(&mut a, &paid(&c, c.amount.amount, "EUR"), t(2027, 12, 1));
        assert!(matches!(euro, Err(Unapplied::Mismatch(..))));
        assert_eq!(a.plan, "basic", "nothing changed");
    }

    #[test]
    fn a_payment_for_an_expired_or_unknown_checkout_is_unapplied() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        let c = checkout(&mut a, "basic", 1, t(2027, 12, 1));
        let late = t(2027, 12, 2);
        assert_eq!(receive(&mut a, &paid(&c, 4_900, "USD"), late), Err(Unapplied::Expired));
        let before = late - Duration::seconds(1);
        assert!(matches!(receive(&mut a, &paid(&c, 4_900, "USD"), before), Ok(Paid::Applied(_))));
        let mut unknown = paid(&c, 4_900, "USD");
        unknown.payment_intent = "pi_other".into();
        unknown.purpose = PaymentFor::Checkout { id: "nope".into() };
        assert_eq!(receive(&mut a, &unknown, before), Err(Unapplied::NoMatch));
    }

    #[test]
    fn a_payment_for_a_closed_or_violating_account_is_unapplied() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        let c = checkout(&mut a, "basic", 1, t(2027, 12, 1));
        a.state = State::Terminated;
        assert_eq!(receive(&mut a, &paid(&c, 4_900, "USD"), t(2027, 12, 1)), Err(Unapplied::Closed(State::Terminated)));
        a.state = State::Suspended;
        a.state_reason = Some(StateReason::TermsViolation);
        assert_eq!(receive(&mut a, &paid(&c, 4_900, "USD"), t(2027, 12, 1)), Err(Unapplied::Violation));
    }

    #[test]
    fn a_lower_plan_bought_ahead_takes_over_when_the_paid_term_ends() {
        let mut a = on("standard", 1, t(2027, 12, 1));
        let c = checkout(&mut a, "basic", 2, t(2027, 12, 10));
        assert_eq!(c.proration, 0);
        receive(&mut a, &paid(&c, 9_800, "USD"), t(2027, 12, 10)).unwrap();
        assert_eq!((a.plan.as_str(), a.term_end), ("standard", Some(t(2028, 3, 1))));
        crate::lifecycle::advance(&mut a, &Policy::default(), cat(), t(2028, 1, 1));
        assert_eq!(a.plan, "basic");
    }
}
