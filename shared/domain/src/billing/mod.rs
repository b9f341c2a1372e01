//! Terms, prices and payments (§7): term arithmetic, what checkout quotes (with the proration of
//! an upgrade), applying a payment, and the renewal charge with its retries.

pub mod mail;
mod payment;
mod quote;
mod renewal;

pub use crate::money::Money;
pub use payment::{apply_purchase, receive_payment, unapplied_notice, Paid, PaymentFor, Received, Unapplied};
pub use quote::{quote, round_half_up, Quote};
pub(crate) use renewal::record_attempt;
pub use renewal::{
    charge_declined, charge_outcome, charge_plan, idempotency_key, next_retry, withdraw_charges, ChargeOutcome,
    NotCharged,
};

use crate::account::{Account, State, StateReason};
use crate::catalog::{Catalog, Chart, Plan};
use chrono::{DateTime, Months, Utc};

pub const MAX_MONTHS: u32 = 36;

/// The price of `months` of `plan`, exclusive of tax (§7.5).
pub fn price(plan: &Plan, months: u32) -> Option<Money> {
    plan.price_per_month.checked_mul(u64::from(months)).map(|amount| Money::new(amount, &plan.currency))
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
    /// §4.1: nothing is sold before the administrator's address is verified.
    #[error("the administrator's e-mail address is not verified yet")]
    EmailUnverified,
}

/// Checks a purchase before any charge: open account, paid plan, usage fits (§7.4, §21.3).
pub fn check_purchase(a: &Account, plan: &Plan, months: u32, catalog: &Catalog) -> Result<(), Ineligible> {
    match a.state {
        State::Terminated | State::Deleted => return Err(Ineligible::Closed(a.state)),
        State::Suspended if a.state_reason == Some(StateReason::TermsViolation) => return Err(Ineligible::Violation),
        _ => {}
    }
    if !a.email_verified {
        return Err(Ineligible::EmailUnverified);
    }
    let region = a.region.as_ref().map(|r| r.as_str());
    if !matches!(crate::countries::rule_for(a.country.as_str(), region), crate::countries::CountryRule::Party(_)) {
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

/// A paid term runs at `at`: the account is active with a term that has not ended.
pub(crate) fn term_runs(a: &Account, at: DateTime<Utc>) -> bool {
    a.state == State::Active && a.term_end.is_some_and(|t| t > at)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::account::Account;
    use crate::billing::apply_purchase;
    use crate::catalog::Catalog;
    use crate::countries::ContractingParty;
    use crate::policy::Policy;
    use crate::types::v;
    use chrono::{DateTime, TimeZone, Utc};

    pub fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }
    pub fn cat() -> &'static Catalog {
        Catalog::builtin()
    }
    pub fn free(at: DateTime<Utc>) -> Account {
        let party = ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() };
        let mut a = Account::new_free(
            "a".into(),
            v("acme"),
            "Acme".into(),
            v("US"),
            None,
            party,
            v("a@b.co"),
            "2021-11-01".into(),
            at,
        );
        a.email_verified = true;
        a
    }
    /// An account on `plan` for `months` from `at`.
    pub fn on(plan: &str, months: u32, at: DateTime<Utc>) -> Account {
        let mut a = free(at);
        apply_purchase(&mut a, cat().get(plan).unwrap(), months, at, &Policy::default(), cat()).unwrap();
        a
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::types::v;

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
        let c = cat();
        let mut a = free(t(2027, 1, 1));
        assert_eq!(check_purchase(&a, c.get("basic").unwrap(), 1, c), Ok(()));
        a.country = v("UA");
        a.region = Some(v("UA-43"));
        assert_eq!(check_purchase(&a, c.get("basic").unwrap(), 1, c), Err(Ineligible::Country));
    }

    #[test]
    fn the_price_is_months_times_the_monthly_price_in_minor_units() {
        assert_eq!(price(cat().get("basic").unwrap(), 12), Some(Money::new(58_800, "USD")));
    }
}
