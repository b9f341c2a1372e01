//! What a purchase costs and when its months start (SPEC: "The quoted amount", §7.3). Buying a
//! higher plan while a paid term runs applies it at once and pays the difference for the rest of
//! that term, prorated by the second, plus the whole difference for terms already bought ahead.

use super::{check_purchase, price, term_runs, Ineligible, Money};
use crate::account::{Account, State};
use crate::catalog::{Catalog, Plan};
use crate::types::PlanId;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub plan: PlanId,
    pub months: u32,
    /// Everything charged: price × months plus `proration`.
    pub amount: Money,
    pub proration: u64,
    /// When the bought months start (the end of everything already paid, or now).
    pub term_start: DateTime<Utc>,
    /// The plan applies at once (an upgrade, or nothing was running); else when the paid terms end.
    pub applies_now: bool,
}

/// `num / den` rounded half up, for non-negative values (`den > 0`).
pub fn round_half_up(num: u128, den: u128) -> u128 {
    let (q, r) = (num / den, num % den);
    if 2 * r >= den {
        q + 1
    } else {
        q
    }
}

/// The quote for buying `months` of `plan` at `now` (the account already brought up to `now`).
pub fn quote(
    a: &Account,
    plan: &Plan,
    months: u32,
    now: DateTime<Utc>,
    catalog: &Catalog,
) -> Result<Quote, Ineligible> {
    check_purchase(a, plan, months, catalog)?;
    let base = price(plan, months).ok_or(Ineligible::Months)?;
    let current = catalog.get(a.plan.as_str());
    let (proration, term_start, applies_now) = match (a.state, a.term_end) {
        (State::Active, Some(end)) if term_runs(a, now) => {
            let upgrade = current.filter(|c| plan.rank > c.rank);
            let proration = match upgrade {
                Some(c) => upgrade_difference(a, c, plan, now),
                None => 0,
            };
            (proration, end, upgrade.is_some())
        }
        // §7.3: in grace no term runs, so nothing is prorated; the new term starts at the old end.
        (State::Grace, Some(end)) => (0, end, true),
        _ => (0, now, true),
    };
    let amount = Money::new(base.amount.saturating_add(proration), &base.currency);
    Ok(Quote { plan: plan.id.clone(), months, amount, proration, term_start, applies_now })
}

/// `round_half_up((new − current) × running months × remaining seconds / term seconds)`, plus
/// `(new − current) × months` for each term bought ahead on the current plan (upgraded too).
fn upgrade_difference(a: &Account, current: &Plan, new: &Plan, now: DateTime<Utc>) -> u64 {
    let diff = u128::from(new.price_per_month.saturating_sub(current.price_per_month));
    let (Some(start), Some(end)) = (a.term_start, a.running_end()) else { return 0 };
    let length = (end - start).num_seconds().max(1) as u128;
    let remaining = (end - now).num_seconds().clamp(0, length as i64) as u128;
    let running = round_half_up(diff * u128::from(a.term_months) * remaining, length);
    let ahead: u128 = a.terms_ahead.iter().filter(|t| t.plan == current.id).map(|t| diff * u128::from(t.months)).sum();
    u64::try_from(running + ahead).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::billing::apply_purchase;
    use crate::policy::Policy;
    use chrono::Duration;

    fn q(a: &Account, plan: &str, months: u32, now: DateTime<Utc>) -> Quote {
        quote(a, cat().get(plan).unwrap(), months, now, cat()).unwrap()
    }
    const S: Duration = Duration::seconds(1);
    // basic 4900, standard 9900, professional 19900 a month: basic → professional is 15000 more.

    #[test]
    fn an_upgrade_at_the_first_second_of_a_term_pays_the_whole_difference() {
        let a = on("basic", 1, t(2027, 12, 1));
        let x = q(&a, "professional", 1, t(2027, 12, 1));
        assert_eq!((x.proration, x.amount.amount), (15_000, 19_900 + 15_000));
        assert_eq!((x.term_start, x.applies_now), (t(2028, 1, 1), true));
    }

    #[test]
    fn an_upgrade_in_the_middle_pays_half_and_at_the_last_second_almost_nothing() {
        // December 1 to January 1: 31 days; mid-term after 15.5 days.
        let a = on("basic", 1, t(2027, 12, 1));
        let middle = t(2027, 12, 1) + Duration::hours(31 * 12);
        assert_eq!(q(&a, "professional", 1, middle).proration, 7_500);
        // 15000 × 1 / 2678400 s = 0.0056: rounds to 0.
        assert_eq!(q(&a, "professional", 1, t(2028, 1, 1) - S).proration, 0);
        // With 12 months running the last second is 15000 × 12 / (366 days in s) = 0.0057 → 0, and the
        // last 200 seconds 1.14 → 1.
        let year = on("basic", 12, t(2027, 12, 1));
        assert_eq!(q(&year, "professional", 1, t(2028, 12, 1) - S * 200).proration, 1);
    }

    #[test]
    fn the_proration_rounds_half_up_to_the_minor_unit() {
        assert_eq!(round_half_up(5, 2), 3);
        assert_eq!(round_half_up(4, 2), 2);
        assert_eq!(round_half_up(7, 4), 2);
        assert_eq!(round_half_up(5, 4), 1);
        // basic → standard is 5000 more; a February 2027 term is 28 days: one quarter left is
        // exactly 1250, and 7 days minus 1 second is 1249.99... → 1250.
        let a = on("basic", 1, t(2027, 2, 1));
        assert_eq!(q(&a, "standard", 1, t(2027, 3, 1) - Duration::days(7)).proration, 1_250);
        assert_eq!(q(&a, "standard", 1, t(2027, 3, 1) - Duration::days(7) + S).proration, 1_250);
    }

    #[test]
    fn a_leap_february_is_a_longer_term_than_a_common_one() {
        // 29 days in 2028: with 7 days left 5000 × 7/29 = 1206.9 → 1207 (1250 in 2027 above).
        let a = on("basic", 1, t(2028, 2, 1));
        assert_eq!(q(&a, "standard", 1, t(2028, 3, 1) - Duration::days(7)).proration, 1_207);
    }

    #[test]
    fn a_term_from_the_31st_prorates_over_its_short_month() {
        // January 31 to February 28, 2027: 28 days; half of it left is half the difference.
        let a = on("basic", 1, t(2027, 1, 31));
        assert_eq!(q(&a, "standard", 1, t(2027, 2, 14)).proration, 2_500);
    }

    #[test]
    fn terms_bought_ahead_on_the_current_plan_are_upgraded_in_full() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        apply_purchase(&mut a, cat().get("basic").unwrap(), 2, t(2027, 12, 2), &Policy::default(), cat()).unwrap();
        let x = q(&a, "professional", 1, t(2027, 12, 1));
        assert_eq!(x.proration, 15_000 + 2 * 15_000);
        assert_eq!(x.term_start, t(2028, 3, 1), "the new months start when the last paid term ends");
    }

    #[test]
    fn a_same_or_lower_plan_bought_mid_term_adds_nothing_and_waits_for_the_term_end() {
        let a = on("standard", 1, t(2027, 12, 1));
        for plan in ["standard", "basic"] {
            let x = q(&a, plan, 1, t(2027, 12, 10));
            assert_eq!((x.proration, x.term_start, x.applies_now), (0, t(2028, 1, 1), false), "{plan}");
        }
    }

    #[test]
    fn an_upgrade_during_grace_prorates_nothing_and_starts_at_the_old_end() {
        let mut a = on("basic", 1, t(2027, 12, 1));
        crate::lifecycle::advance(&mut a, &Policy::default(), cat(), t(2028, 1, 3));
        assert_eq!(a.state, State::Grace);
        let x = q(&a, "professional", 1, t(2028, 1, 3));
        assert_eq!((x.proration, x.amount.amount, x.term_start), (0, 19_900, t(2028, 1, 1)));
    }

    #[test]
    fn a_free_account_pays_the_price_from_now() {
        let a = free(t(2027, 12, 1));
        let x = q(&a, "standard", 3, t(2027, 12, 5));
        assert_eq!((x.amount.amount, x.proration, x.term_start), (29_700, 0, t(2027, 12, 5)));
    }
}
