//! Every row of SPEC's lifecycle table at its boundary: the moment before, of, and after.

use super::*;
use crate::account::Usage;
use crate::account::{ChargeStatus, SavedCard};
use crate::billing::{
    apply_purchase as apply_payment, charge_declined, charge_outcome, idempotency_key, ChargeOutcome,
};
use crate::countries::ContractingParty;
use crate::types::v;
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
    let mut a = unverified_account();
    a.email_verified = true;
    a
}
fn unverified_account() -> Account {
    Account::new_free(
        "a1".into(),
        v("acme"),
        "Acme".into(),
        v("US"),
        None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        v("ann@acme.example"),
        "2021-11-01".into(),
        t0(),
    )
}
/// A paid account whose term ends at `t0 + 30 days`.
fn paid_account() -> (Account, DateTime<Utc>) {
    let mut a = free_account();
    apply_payment(&mut a, cat().get("standard").unwrap(), 1, t0(), &p(), cat()).unwrap();
    let end = a.term_end.unwrap();
    (a, end)
}
/// A paid account with auto-renewal on and a saved card.
fn renewing_account() -> (Account, DateTime<Utc>) {
    let (mut a, end) = paid_account();
    a.payment_method = Some(SavedCard {
        id: "pm_1".into(),
        brand: "visa".into(),
        last4: "4242".into(),
        exp_month: 12,
        exp_year: 2030,
    });
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
    a.next_plan = Some(v("free"));
    let e = advance(&mut a, &p(), cat(), end);
    assert_eq!((a.state, a.plan.as_str(), a.term_end), (State::Active, "free", None));
    assert_eq!(labels(&e).last().map(String::as_str), Some("active"));
}

#[test]
fn free_chosen_but_usage_over_free_goes_to_grace_then_suspension_for_incompatible_content() {
    let (mut a, end) = paid_account();
    a.next_plan = Some(v("free"));
    a.usage = Usage { users: 6, storage_gb: 1, features: Default::default() };
    advance(&mut a, &p(), cat(), end);
    assert_eq!(a.state, State::Grace);
    advance(&mut a, &p(), cat(), end + days(15));
    assert_eq!((a.state, a.state_reason), (State::Suspended, Some(StateReason::IncompatibleContent)));
}

#[test]
fn free_chosen_and_usage_reduced_during_grace_becomes_active_free_at_grace_end() {
    let (mut a, end) = paid_account();
    a.next_plan = Some(v("free"));
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
    advance(&mut a, &p(), cat(), t0() + days(49));
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
fn lifting_a_violation_suspension_gives_the_state_the_term_gives_and_says_so_in_words() {
    let (mut a, end) = paid_account();
    suspend_for_violation(&mut a, &p(), end - days(10)).unwrap();
    let text = crate::notice::render(&crate::notice::Notice::new(NoticeKind::Suspended, end, None), &a, &p()).text;
    assert!(text.contains("violation of the Terms of Service") && text.contains("does not lift"), "{text}");
    assert!(!text.contains("TermsViolation"), "no code names reach customers: {text}");
    // Still within the term: active again.
    let mut within = a.clone();
    let e = lift_suspension(&mut within, &p(), cat(), end - days(5)).unwrap();
    assert_eq!((within.state, within.state_reason), (State::Active, None));
    assert!(labels(&e).iter().any(|l| l.contains("restored")), "{:?}", labels(&e));
    // The term ended meanwhile: the grace period it gives, from the term's end.
    let e = lift_suspension(&mut a, &p(), cat(), end + days(2)).unwrap();
    assert_eq!(a.state, State::Grace, "{:?}", labels(&e));
    assert_eq!(a.state_since, end);
    assert_eq!(lift_suspension(&mut a, &p(), cat(), end + days(3)), Err(NotLiftable), "not suspended now");
}

#[test]
fn a_lapse_suspension_is_not_an_operator_s_to_lift_and_its_notice_says_why_in_words() {
    let (mut a, end) = paid_account();
    advance(&mut a, &p(), cat(), end + days(16));
    assert_eq!((a.state, a.state_reason), (State::Suspended, Some(StateReason::NotRenewed)));
    assert_eq!(lift_suspension(&mut a, &p(), cat(), end + days(17)), Err(NotLiftable));
    let text = crate::notice::render(&crate::notice::Notice::new(NoticeKind::Suspended, end, None), &a, &p()).text;
    assert!(text.contains("grace period passed without a new term") && text.contains("buy a paid plan"), "{text}");
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
    assert_eq!(a.term_start, Some(t0()), "the running term runs on");
    assert_eq!(a.terms_ahead.iter().map(|t| (t.start, t.months)).collect::<Vec<_>>(), [(end, 2)]);
    assert_eq!(a.term_end, crate::billing::term_end(end, 2));
    advance(&mut a, &p(), cat(), end);
    assert_eq!((a.state, a.term_start, a.term_months), (State::Active, Some(end), 2), "the next term rolls in");
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
    let (mut a, end) = renewing_account();
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
        [
            ("notice:inactivity_warning", 23),
            ("archived", 30),
            ("notice:archived", 30),
            ("notice:deletion_coming", 38),
            ("notice:deletion_coming", 44),
            ("deleted", 45)
        ]
    );
}

#[test]
fn the_forecast_of_a_paid_account_goes_through_grace_and_suspension() {
    let (a, end) = paid_account();
    let f = forecast(&a, &p(), cat(), t0());
    let at = |ev: &str| f.iter().find(|x| x.event == ev).map(|x| x.at);
    assert_eq!(at("renewal_charge"), None, "auto-renewal on but no card: nothing can be charged");
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

#[test]
fn without_a_saved_card_auto_renewal_charges_nothing() {
    let (mut a, end) = paid_account();
    assert!(a.auto_renew && a.payment_method.is_none());
    let e = advance(&mut a, &p(), cat(), end - days(3));
    assert!(!labels(&e).contains(&"renewal_charge".to_string()));
}

#[test]
fn the_forecast_with_a_card_shows_the_charge_and_renewed_at_the_term_end_and_stops() {
    let (a, end) = renewing_account();
    let f = forecast(&a, &p(), cat(), t0());
    let ev: Vec<_> = f.iter().map(|f| (f.event.as_str(), f.at, f.amount)).collect();
    assert_eq!(
        ev,
        [
            ("notice:renewal_coming", end - days(7), None),
            ("renewal_charge", end - days(3), Some(9_900)),
            ("renewed", end, Some(9_900))
        ]
    );
    assert_eq!(f[2].currency.as_deref(), Some("USD"));
}

#[test]
fn the_charge_is_for_the_chosen_cheaper_next_plan_and_free_is_never_charged() {
    let (mut a, end) = renewing_account();
    set_next_plan(&mut a, v("basic"), t0());
    advance(&mut a, &p(), cat(), end - days(3) - S);
    let e = advance(&mut a, &p(), cat(), end - days(3));
    assert!(
        matches!(&e[..], [Effect::ChargeRequest { plan, price: Some(m), attempt: 1, .. }] if plan == "basic" && m.amount == 4_900)
    );

    let (mut a, end) = renewing_account();
    set_next_plan(&mut a, v("free"), t0());
    advance(&mut a, &p(), cat(), end - days(3) - S);
    let e = advance(&mut a, &p(), cat(), end - days(3));
    assert_eq!(labels(&e), ["notice:renewal_not_charged"]);
    assert_eq!(a.renewal.as_ref().map(|r| r.status), Some(ChargeStatus::NotCharged));
    assert!(advance(&mut a, &p(), cat(), end - days(1)).is_empty(), "told once");
}

#[test]
fn a_plan_that_no_longer_fits_is_not_charged_and_the_administrators_are_told_why() {
    let (mut a, end) = renewing_account();
    a.usage.users = 60; // standard allows 50
    advance(&mut a, &p(), cat(), end - days(3) - S);
    let e = advance(&mut a, &p(), cat(), end - days(3));
    let Effect::Notice(n) = &e[0] else { panic!("{e:?}") };
    assert!(n.payment.as_ref().and_then(|p| p.reason.as_deref()).unwrap().contains("does not fit"));
}

/// The attempt recorded pending, created at Stripe, then declined by the webhook at `at`.
fn decline(a: &mut Account, attempt: u8, at: DateTime<Utc>) -> Vec<Effect> {
    let r = a.renewal.clone().unwrap();
    assert_eq!((r.attempt, r.status), (attempt, ChargeStatus::Pending));
    let key = idempotency_key(&a.id, r.term_end, attempt);
    charge_outcome(a, &key, ChargeOutcome::Created { payment_intent: format!("pi_{attempt}") }, at, &p());
    charge_declined(a, r.term_end, attempt, &format!("pi_{attempt}"), false, at, &p())
}

#[test]
fn a_declined_charge_is_retried_at_one_three_and_seven_days_after_the_term_end_then_grace_runs_out() {
    let (mut a, end) = renewing_account();
    advance(&mut a, &p(), cat(), end - days(3));
    let told = decline(&mut a, 1, end - days(3));
    let Effect::Notice(n) = &told[0] else { panic!() };
    assert_eq!(n.payment.as_ref().unwrap().next_retry, Some(end + days(1)));
    for (attempt, retry) in [(2, 1), (3, 3), (4, 7)] {
        let before = advance(&mut a, &p(), cat(), end + days(retry) - S);
        assert!(!labels(&before).contains(&"renewal_charge".to_string()), "attempt {attempt} not early");
        let e = advance(&mut a, &p(), cat(), end + days(retry));
        assert_eq!(labels(&e), ["renewal_charge"], "attempt {attempt}");
        assert_eq!(a.state, State::Grace, "retries never extend grace");
        decline(&mut a, attempt, end + days(retry));
    }
    let e = advance(&mut a, &p(), cat(), end + days(15));
    assert_eq!(labels(&e), ["suspended", "notice:suspended"]);
}

#[test]
fn turning_auto_renewal_off_during_grace_stops_the_remaining_retries() {
    let (mut a, end) = renewing_account();
    advance(&mut a, &p(), cat(), end - days(3));
    decline(&mut a, 1, end - days(3));
    advance(&mut a, &p(), cat(), end + days(1));
    decline(&mut a, 2, end + days(1));
    set_auto_renew(&mut a, false, end + days(2));
    assert_eq!(a.renewal.as_ref().map(|r| r.status), Some(ChargeStatus::Withdrawn));
    let e = advance(&mut a, &p(), cat(), end + days(14));
    assert!(!labels(&e).contains(&"renewal_charge".to_string()), "{e:?}");
}

#[test]
fn choosing_another_next_plan_or_terminating_withdraws_the_pending_attempt() {
    let (mut a, end) = renewing_account();
    advance(&mut a, &p(), cat(), end - days(3));
    set_next_plan(&mut a, v("basic"), end - days(2));
    assert_eq!(a.renewal.as_ref().map(|r| r.status), Some(ChargeStatus::Withdrawn));
    let (mut a, end) = renewing_account();
    advance(&mut a, &p(), cat(), end - days(3));
    terminate(&mut a, &p(), end - days(2)).unwrap();
    assert_eq!(a.renewal.as_ref().map(|r| r.status), Some(ChargeStatus::Withdrawn));
}

#[test]
fn a_failure_after_the_success_of_the_same_payment_changes_nothing() {
    let (mut a, end) = renewing_account();
    advance(&mut a, &p(), cat(), end - days(3));
    a.renewal.as_mut().unwrap().status = ChargeStatus::Succeeded;
    assert!(charge_declined(&mut a, end, 1, "pi_1", false, end - days(2), &p()).is_empty());
    assert_eq!(a.renewal.as_ref().map(|r| r.status), Some(ChargeStatus::Succeeded));
}

#[test]
fn an_unverified_account_gets_one_reminder_two_days_before_and_is_deleted_on_day_seven() {
    let mut a = unverified_account();
    let deadline = t0() + days(7);
    assert!(advance(&mut a, &p(), cat(), deadline - days(2) - S).is_empty());
    assert_eq!(labels(&advance(&mut a, &p(), cat(), deadline - days(2))), ["notice:verify_reminder"]);
    assert!(advance(&mut a, &p(), cat(), deadline - S).is_empty());
    let e = advance(&mut a, &p(), cat(), deadline);
    assert_eq!(labels(&e), ["deleted", "deleted"]);
    assert!(matches!(e[1], Effect::Delete { reason: Some(StateReason::Unverified), .. }));
}

#[test]
fn a_verified_account_is_not_deleted_on_day_seven_and_is_welcomed_once() {
    let mut a = unverified_account();
    let e = verify_email(&mut a, t0() + days(6)).unwrap();
    assert_eq!(labels(&e), ["notice:welcome"]);
    assert!(verify_email(&mut a, t0() + days(6)).unwrap().is_empty(), "once");
    assert!(advance(&mut a, &p(), cat(), t0() + days(8)).is_empty());
    assert_eq!(a.state, State::Active);
}

#[test]
fn the_unverified_are_not_told_of_new_terms_and_their_forecast_is_the_deletion() {
    let mut a = unverified_account();
    assert!(notify_terms_update(&mut a, "2030-01-01").is_empty());
    let f = forecast(&a, &p(), cat(), t0());
    let ev: Vec<_> = f.iter().map(|f| (f.event.as_str(), (f.at - t0()).num_days())).collect();
    assert_eq!(ev, [("notice:verify_reminder", 5), ("deleted", 7)]);
}

#[test]
fn an_account_stored_before_verification_counts_as_verified() {
    let mut v = serde_json::to_value(free_account()).unwrap();
    v.as_object_mut().unwrap().remove("email_verified");
    let a: Account = serde_json::from_value(v).unwrap();
    assert!(a.email_verified);
}
