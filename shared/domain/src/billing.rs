//! Terms, prices and payments (§7): term arithmetic, checkout eligibility, applying a payment.

use crate::account::{Account, PlanSwitch, State, StateReason};
use crate::catalog::{Catalog, Chart, Plan};
use crate::lifecycle::{advance, Effect};
use crate::policy::Policy;
use chrono::{DateTime, Months, Utc};
use serde::Serialize;

pub const MAX_MONTHS: u32 = 36;

/// Money in integer minor units with its currency; never floating point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    pub amount: u64,
    pub currency: String,
}

/// The price of `months` of `plan`, exclusive of tax (§7.5).
pub fn price(plan: &Plan, months: u32) -> Option<Money> {
    plan.price_per_month
        .checked_mul(u64::from(months))
        .map(|amount| Money { amount, currency: plan.currency.clone() })
}

/// A term of `months` from `start`; a start on the 31st ends on the last day of a shorter month.
pub fn term_end(start: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    start.checked_add_months(Months::new(months))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("the account is {0:?}")]
    Closed(State),
    #[error("the account is suspended for a Terms violation")]
    Violation,
    #[error("the Free plan cannot be bought")]
    FreePlan,
    #[error("the plan does not fit current usage")]
    Incompatible(Chart),
    #[error("months must be 1 to {MAX_MONTHS}")]
    Months,
    /// §13.3, §28: the account's country is no longer one these Terms may serve.
    #[error("the service can no longer be sold to the account's country or region")]
    Country,
}

/// When a payment made at `at` would start its term (§7.3 no gap, no overlap; §21.3 from payment).
pub fn term_start_for(a: &Account, at: DateTime<Utc>) -> DateTime<Utc> {
    match (a.state, a.term_end) {
        (State::Active | State::Grace, Some(t)) => t,
        _ => at,
    }
}

/// Checks a purchase before any charge: open account, paid plan, usage fits (§7.4, §21.3).
pub fn check_purchase(a: &Account, plan: &Plan, months: u32, catalog: &Catalog) -> Result<(), Ineligible> {
    match a.state {
        State::Terminated | State::Deleted => return Err(Ineligible::Closed(a.state)),
        State::Suspended if a.state_reason == Some(StateReason::TermsViolation) => {
            return Err(Ineligible::Violation)
        }
        _ => {}
    }
    if !matches!(crate::countries::rule_for(&a.country, a.region.as_deref()), crate::countries::CountryRule::Party(_)) {
        return Err(Ineligible::Country);
    }
    if plan.is_free() {
        return Err(Ineligible::FreePlan);
    }
    if !(1..=MAX_MONTHS).contains(&months) {
        return Err(Ineligible::Months);
    }
    let chart = catalog.chart(plan, &a.usage);
    if !chart.fits {
        return Err(Ineligible::Incompatible(chart));
    }
    Ok(())
}

/// Applies a successful payment made at `at`. The account is first brought up to `at`, so a
/// payment after the grace end finds it suspended even if no sweep has run yet.
pub fn apply_payment(
    a: &mut Account,
    plan: &Plan,
    months: u32,
    at: DateTime<Utc>,
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Vec<Effect>, Ineligible> {
    let mut out = advance(a, policy, catalog, at);
    check_purchase(a, plan, months, catalog)?;
    let start = term_start_for(a, at);
    let end = term_end(start, months).ok_or(Ineligible::Months)?;
    let was = a.state;
    let old_plan = a.plan.clone();
    let cheaper = catalog.get(&a.plan).is_some_and(|cur| plan.rank < cur.rank);
    if start > at && cheaper {
        // The running term keeps what was paid for; the cheaper plan starts with the new term.
        a.plan_switch = Some(PlanSwitch { at: start, plan: plan.id.clone() });
    } else {
        a.plan = plan.id.clone();
        a.plan_switch = None;
    }
    if !a.is_paid() {
        a.auto_renew = true; // §7.7: automatic renewal is on by default for paid plans
    }
    a.term_start = Some(start);
    a.term_end = Some(end);
    a.term_months = months;
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
        out.push(Effect::Notice(crate::notice::Notice { kind: crate::notice::NoticeKind::Restored, at, subject_at: None }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_term_from_the_31st_ends_on_the_last_day_of_a_short_month() {
        assert_eq!(term_end(t(2027, 1, 31), 1), Some(t(2027, 2, 28)));
        assert_eq!(term_end(t(2028, 1, 31), 1), Some(t(2028, 2, 29)));
    }

    #[test]
    fn a_term_from_a_leap_day_ends_a_year_later_on_february_28() {
        assert_eq!(term_end(t(2028, 2, 29), 12), Some(t(2029, 2, 28)));
    }

    #[test]
    fn a_purchase_is_refused_once_the_country_is_no_longer_served() {
        let c = Catalog::builtin();
        let party = crate::countries::ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() };
        let mut a = Account::new_free("a".into(), "acme".into(), "Acme".into(), "US".into(), None, party, "a@b.co".into(), "2021-11-01".into(), t(2027, 1, 1));
        assert_eq!(check_purchase(&a, c.get("basic").unwrap(), 1, c), Ok(()));
        a.country = "UA".into();
        a.region = Some("UA-43".into());
        assert_eq!(check_purchase(&a, c.get("basic").unwrap(), 1, c), Err(Ineligible::Country));
    }

    #[test]
    fn the_price_is_months_times_the_monthly_price_in_minor_units() {
        let c = Catalog::builtin();
        assert_eq!(price(c.get("basic").unwrap(), 12), Some(Money { amount: 58_800, currency: "USD".into() }));
    }
}
