//! Every row of SPEC's lifecycle table at its boundary: the moment before, of, and after.

use super::*;
use crate::account::Usage;
use crate::billing::apply_payment;
use crate::countries::ContractingParty;
use chrono::{Duration, TimeZone};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 10, 9, 30, 0).unwrap()
}
fn p() -> Policy {
    Policy::default()
}
fn cat() -> &'static Catalog {
    Catalog::builtin()
}
fn free_account() -> Account {
    Account::new_free(
        "a1".into(), "acme".into(), "Acme".into(), "US".into(), None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        "ann@acme.example".into(), "2021-11-01".into(), t0(),
    )
}
/// A paid account whose term ends at `t0 + 30 days`.
fn paid_account() -> (Account, DateTime<Utc>) {
    let mut a = free_account();
    apply_payment(&mut a, cat().get("standard").unwrap(), 1, t0(), &p(), cat()).unwrap();
    let end = a.term_end.unwrap();
    (a, end)
}
fn labels(e: &[Effect]) -> Vec<String> {
    e.iter().map(Effect::label).collect()
}
const S: Duration = Duration::seconds(1);

#[test]
fn a_paid_term_becomes_grace_at_its_end_and_not_a_second_before() {
    let (mut a, end) = paid_account();
    advance(&mut a, &p(), cat(), end - S);
    assert_eq!(a.state, State::Active);
    let e = advance(&mut a, &p(), cat(), end);
    assert_eq!(a.state, State::Grace);
    assert_eq!(labels(&e), ["grace", "notice:grace_started"]);
    let Effect::Notice(n) = &e[1] else { panic!() };
    assert_eq!(n.subject_at, Some(end + days(15)), "the grace notice names the suspension date");
}

#[test]
fn grace_ends_in_suspension_for_not_renewing_fifteen_days_after_the_term() {
    let (mut a, end) = paid_account();
    advance(&mut a, &p(), cat(), end + days(15) - S);
    assert_eq!(a.state, State::Grace);
    let e = advance(&mut a, &p(), cat(), end + days(15));
    assert_eq!(a.state, State::Suspended);
    assert_eq!(a.state_reason, Some(StateReason::NotRenewed));
    assert_eq!(a.state_since, end + days(15));
    assert!(labels(&e).contains(&"notice:suspended".to_string()));
}

#[test]
fn a_late_sweep_applies_each_transition_at_its_own_moment() {
    let (mut a, end) = paid_account();
    let e = advance(&mut a, &p(), cat(), end + days(40));
    assert_eq!(a.state, State::Suspended);
    assert_eq!(a.state_since, end + days(15));
    // The warnings whose moment had passed are not sent late.
    assert!(!labels(&e).iter().any(|l| l == "notice:suspension_coming" || l == "notice:renewal_coming"));
}

#[test]
fn a_term_ending_with_free_chosen_and_fitting_usage_becomes_active_free() {
    let (mut a, end) = paid_account();
    a.next_plan = Some("free".into());
    let e = advance(&mut a, &p(), cat(), end);
    assert_eq!((a.state, a.plan.as_str(), a.term_end), (State::Active, "free", None));
    assert_eq!(labels(&e).last().map(String::as_str), Some("active"));
}

#[test]
fn free_chosen_but_usage_over_free_goes_to_grace_then_suspension_for_incompatible_content() {
    let (mut a, end) = paid_account();
    a.next_plan = Some("free".into());
    a.usage = Usage { users: 6, storage_gb: 1, features: Default::default() };
    advance(&mut a, &p(), cat(), end);
    assert_eq!(a.state, State::Grace);
    advance(&mut a, &p(), cat(), end + days(15));
    assert_eq!((a.state, a.state_reason), (State::Suspended, Some(StateReason::IncompatibleContent)));
}

#[test]
fn free_chosen_and_usage_reduced_during_grace_becomes_active_free_at_grace_end() {
    let (mut a, end) = paid_account();
    a.next_plan = Some("free".into());
    a.usage.users = 6;
    advance(&mut a, &p(), cat(), end);
    a.usage.users = 5;
    advance(&mut a, &p(), cat(), end + days(15));
    assert_eq!((a.state, a.plan.as_str()), (State::Active, "free"));
}

#[test]
fn an_idle_free_account_is_archived_after_thirty_days_exactly() {
    let mut a = free_account();
    advance(&mut a, &p(), cat(), t0() + days(30) - S);
    assert_eq!(a.state, State::Active);
    let e = advance(&mut a, &p(), cat(), t0() + days(30));
    assert_eq!(a.state, State::Archived);
    assert_eq!(labels(&e), ["archived", "notice:archived"]);
}

#[test]
fn the_inactivity_warning_comes_seven_days_before_archiving() {
    let mut a = free_account();
    assert!(advance(&mut a, &p(), cat(), t0() + days(23) - S).is_empty());
    assert_eq!(labels(&advance(&mut a, &p(), cat(), t0() + days(23))), ["notice:inactivity_warning"]);
    assert!(advance(&mut a, &p(), cat(), t0() + days(23) + S).is_empty(), "sent once");
}

#[test]
fn activity_moves_the_archive_date() {
    let mut a = free_account();
    record_activity(&mut a, t0() + days(20)).unwrap();
    advance(&mut a, &p(), cat(), t0() + days(49) );
    assert_eq!(a.state, State::Active);
    advance(&mut a, &p(), cat(), t0() + days(50));
    assert_eq!(a.state, State::Archived);
}

#[test]
fn an_archived_account_is_deleted_fifteen_days_later() {
    let mut a = free_account();
    let archived = t0() + days(30);
    advance(&mut a, &p(), cat(), archived + days(15) - S);
    assert_eq!(a.state, State::Archived);
    let e = advance(&mut a, &p(), cat(), archived + days(15));
    assert_eq!(a.state, State::Deleted);
    assert!(e.iter().any(|e| matches!(e, Effect::Delete { reason: Some(StateReason::Inactivity), .. })));
}

#[test]
fn a_sign_in_restores_an_archived_account_but_product_activity_does_not() {
    let mut a = free_account();
    advance(&mut a, &p(), cat(), t0() + days(31));
    record_activity(&mut a, t0() + days(32)).unwrap();
    assert_eq!(a.state, State::Archived);
    let e = sign_in(&mut a, t0() + days(33)).unwrap();
    assert_eq!(a.state, State::Active);
    assert_eq!(labels(&e), ["active", "notice:restored"]);
    advance(&mut a, &p(), cat(), t0() + days(33) + days(30) - S);
    assert_eq!(a.state, State::Active, "the inactivity count restarts at the sign-in");
}

#[test]
fn a_suspended_account_is_deleted_fifty_days_after_suspension_with_two_warnings() {
    let (mut a, end) = paid_account();
    let suspended = end + days(15);
    advance(&mut a, &p(), cat(), suspended);
    let e = advance(&mut a, &p(), cat(), suspended + days(49));
    assert_eq!(labels(&e), ["notice:deletion_coming", "notice:deletion_coming"]);
    assert_eq!(a.state, State::Suspended);
    advance(&mut a, &p(), cat(), suspended + days(50) - S);
    assert_eq!(a.state, State::Suspended);
    advance(&mut a, &p(), cat(), suspended + days(50));
    assert_eq!(a.state, State::Deleted);
}

#[test]
fn a_terminated_account_is_deleted_thirty_days_later_and_cannot_sign_in() {
    let mut a = free_account();
    let at = t0() + days(3);
    let e = terminate(&mut a, &p(), at).unwrap();
    assert_eq!(labels(&e), ["terminated", "notice:terminated"]);
    assert_eq!(sign_in(&mut a, at + days(1)), Err(Refusal::Terminated));
    advance(&mut a, &p(), cat(), at + days(30) - S);
    assert_eq!(a.state, State::Terminated);
    advance(&mut a, &p(), cat(), at + days(30));
    assert_eq!(a.state, State::Deleted);
    assert_eq!(terminate(&mut a, &p(), at + days(31)), Err(Refusal::Deleted));
}

#[test]
fn an_operator_suspension_is_for_a_terms_violation() {
    let mut a = free_account();
    suspend_for_violation(&mut a, &p(), t0() + days(1)).unwrap();
    assert_eq!((a.state, a.state_reason), (State::Suspended, Some(StateReason::TermsViolation)));
}

#[test]
fn a_payment_in_grace_starts_the_new_term_at_the_old_end() {
    let (mut a, end) = paid_account();
    advance(&mut a, &p(), cat(), end + days(3));
    let last_moment = end + days(15) - S;
    apply_payment(&mut a, cat().get("standard").unwrap(), 1, last_moment, &p(), cat()).unwrap();
    assert_eq!(a.state, State::Active);
    assert_eq!(a.term_start, Some(end));
}

#[test]
fn a_payment_at_the_grace_end_finds_the_account_suspended_and_starts_at_payment() {
    let (mut a, end) = paid_account();
    let g = end + days(15);
    apply_payment(&mut a, cat().get("standard").unwrap(), 1, g, &p(), cat()).unwrap();
    assert_eq!(a.state, State::Active);
    assert_eq!(a.term_start, Some(g), "§21.3: restored from the payment");
}

#[test]
fn a_payment_while_active_extends_the_term_with_no_gap_or_overlap() {
    let (mut a, end) = paid_account();
    apply_payment(&mut a, cat().get("standard").unwrap(), 2, end - days(10), &p(), cat()).unwrap();
    assert_eq!(a.term_start, Some(end));
    assert_eq!(a.term_end, crate::billing::term_end(end, 2));
}

#[test]
fn restoring_a_suspended_account_needs_a_plan_that_fits() {
    let (mut a, end) = paid_account();
    a.usage.users = 60;
    advance(&mut a, &p(), cat(), end + days(15));
    let r = apply_payment(&mut a, cat().get("standard").unwrap(), 1, end + days(16), &p(), cat());
    assert!(matches!(r, Err(crate::billing::Ineligible::Incompatible(_))));
    apply_payment(&mut a, cat().get("professional").unwrap(), 1, end + days(16), &p(), cat()).unwrap();
    assert_eq!((a.state, a.term_start), (State::Active, Some(end + days(16))));
}

#[test]
fn auto_renewal_requests_one_charge_three_days_before_the_term_ends() {
    let (mut a, end) = paid_account();
    assert!(a.auto_renew);
    let e = advance(&mut a, &p(), cat(), end - days(3) - S);
    assert!(!labels(&e).contains(&"renewal_charge".to_string()));
    let e = advance(&mut a, &p(), cat(), end - days(3));
    assert_eq!(labels(&e), ["renewal_charge"]);
    assert!(advance(&mut a, &p(), cat(), end - days(1)).is_empty(), "requested once");
}

#[test]
fn with_auto_renewal_off_no_charge_is_requested() {
    let (mut a, end) = paid_account();
    a.auto_renew = false;
    let e = advance(&mut a, &p(), cat(), end - S);
    assert_eq!(labels(&e), ["notice:renewal_coming"]);
}

#[test]
fn a_cheaper_plan_paid_ahead_takes_over_when_the_running_term_ends() {
    let (mut a, end) = paid_account();
    apply_payment(&mut a, cat().get("basic").unwrap(), 1, end - days(5), &p(), cat()).unwrap();
    assert_eq!(a.plan, "standard");
    advance(&mut a, &p(), cat(), end);
    assert_eq!((a.plan.as_str(), a.state), ("basic", State::Active));
}

#[test]
fn the_forecast_of_an_idle_free_account_runs_to_its_deletion() {
    let a = free_account();
    let f = forecast(&a, &p(), cat(), t0());
    let ev: Vec<_> = f.iter().map(|f| (f.event.as_str(), (f.at - t0()).num_days())).collect();
    assert_eq!(
        ev,
        [("notice:inactivity_warning", 23), ("archived", 30), ("notice:archived", 30),
         ("notice:deletion_coming", 38), ("notice:deletion_coming", 44), ("deleted", 45)]
    );
}

#[test]
fn the_forecast_of_a_paid_account_goes_through_grace_and_suspension() {
    let (a, end) = paid_account();
    let f = forecast(&a, &p(), cat(), t0());
    let at = |ev: &str| f.iter().find(|x| x.event == ev).map(|x| x.at);
    assert_eq!(at("renewal_charge"), Some(end - days(3)));
    assert_eq!(at("grace"), Some(end));
    assert_eq!(at("suspended"), Some(end + days(15)));
    assert_eq!(at("deleted"), Some(end + days(65)));
}

#[test]
fn the_due_time_is_the_next_step_after_the_cursor() {
    let mut a = free_account();
    assert_eq!(due_at(&a, &p()), Some(t0() + days(23)));
    advance(&mut a, &p(), cat(), t0() + days(23));
    assert_eq!(due_at(&a, &p()), Some(t0() + days(30)));
    a.state = State::Deleted;
    assert_eq!(due_at(&a, &p()), None);
}

#[test]
fn a_new_terms_version_is_notified_once_and_not_to_those_who_accepted_it() {
    let mut a = free_account();
    assert_eq!(labels(&notify_terms_update(&mut a, "2027-06-01")), ["notice:terms_updated"]);
    assert!(notify_terms_update(&mut a, "2027-06-01").is_empty(), "once");
    assert!(notify_terms_update(&mut a, "2021-11-01").is_empty(), "not for an older version");
    let mut b = free_account();
    b.terms_version = "2027-06-01".into();
    assert!(notify_terms_update(&mut b, "2027-06-01").is_empty(), "accepted already");
    let mut c = free_account();
    terminate(&mut c, &p(), t0()).unwrap();
    assert!(notify_terms_update(&mut c, "2027-06-01").is_empty(), "not to a terminated account");
}
