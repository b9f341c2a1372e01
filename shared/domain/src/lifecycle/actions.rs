//! What people do to an account, decided by the rules: sign-in and activity (§21.1), termination
//! (§8.2), a violation suspension (§21.2.1), the Terms-updated notice (§1.4), auto-renewal and the
//! next plan (§7.4, §7.7).

use super::{deletion_at, notice, to_free, transition, Effect};
use crate::account::{Account, State, StateReason};
use crate::billing::withdraw_charges;
use crate::notice::NoticeKind;
use crate::policy::Policy;
use crate::types::PlanId;
use chrono::{DateTime, Utc};

/// Why an action on the account is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the account is terminated")]
    Terminated,
    #[error("the account is deleted")]
    Deleted,
    #[error("the account is suspended")]
    Suspended,
}

fn refuse_closed(a: &Account) -> Result<(), Refusal> {
    match a.state {
        State::Terminated => Err(Refusal::Terminated),
        State::Deleted => Err(Refusal::Deleted),
        _ => Ok(()),
    }
}

/// Activity reported by the product: counts against inactivity, but only an administrator's
/// sign-in retrieves an archived account (§21.1).
pub fn record_activity(a: &mut Account, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    if a.state == State::Suspended {
        return Err(Refusal::Suspended);
    }
    a.last_activity = a.last_activity.max(at);
    Ok(Vec::new())
}

/// An administrator signs in (SPEC: Sign-in): activity, and it restores an archived account.
pub fn sign_in(a: &mut Account, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    a.last_activity = a.last_activity.max(at);
    let mut out = Vec::new();
    if a.state == State::Archived {
        out.extend(to_free(a, at));
        out.push(notice(NoticeKind::Restored, at, None));
    }
    Ok(out)
}

/// §8.2: written notice of termination by an administrator; every charge not yet made is withdrawn.
pub fn terminate(a: &mut Account, p: &Policy, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    withdraw_charges(a, at);
    let t = transition(a, at, State::Terminated, Some(StateReason::Termination));
    Ok(vec![t, notice(NoticeKind::Terminated, at, deletion_at(a, p))])
}

/// The moment a Terms version takes effect: versions are dates (`2021-11-01`).
pub fn terms_effective_at(version: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(version, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// §1.4: once per published version, the administrators of an account that accepted an older
/// one are told. The notice is dated by the version, so however often this runs its key is one.
pub fn notify_terms_update(a: &mut Account, version: &str) -> Vec<Effect> {
    let Some(at) = terms_effective_at(version) else { return Vec::new() };
    // The unverified get no mail but their link and its reminder (§4.1).
    let open = !matches!(a.state, State::Deleted | State::Terminated) && a.email_verified;
    if !open || a.terms_version.as_str() >= version || a.terms_notified.as_deref().is_some_and(|n| n >= version) {
        return Vec::new();
    }
    a.terms_notified = Some(version.to_string());
    vec![notice(NoticeKind::TermsUpdated, at, None)]
}

/// §21.2.1: an operator suspends the account for a Terms violation.
pub fn suspend_for_violation(a: &mut Account, p: &Policy, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    withdraw_charges(a, at);
    let t = transition(a, at, State::Suspended, Some(StateReason::TermsViolation));
    Ok(vec![t, notice(NoticeKind::Suspended, at, deletion_at(a, p))])
}

/// Only a suspension for a violation is an operator's to lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the account is not suspended for a Terms violation")]
pub struct NotLiftable;

/// §21.2.1: an operator lifts a violation suspension. The account returns to the state its plan
/// and term give now: active, or whatever the steps it missed meanwhile lead to (a term that
/// ended meanwhile starts its grace period). The customer is told it is active again.
pub fn lift_suspension(
    a: &mut Account,
    p: &Policy,
    catalog: &crate::Catalog,
    at: DateTime<Utc>,
) -> Result<Vec<Effect>, NotLiftable> {
    if a.state != State::Suspended || a.state_reason != Some(StateReason::TermsViolation) {
        return Err(NotLiftable);
    }
    let mut out = vec![transition(a, at, State::Active, None), notice(NoticeKind::Restored, at, None)];
    out.extend(super::advance(a, p, catalog, at));
    Ok(out)
}

/// §7.7: automatic renewal on or off, at any time; off withdraws every charge not yet made.
pub fn set_auto_renew(a: &mut Account, enabled: bool, at: DateTime<Utc>) {
    if !enabled {
        withdraw_charges(a, at);
    }
    a.auto_renew = enabled;
}

/// The plan for after the paid terms (§7.4); choosing another one withdraws every charge not yet made.
pub fn set_next_plan(a: &mut Account, plan: PlanId, at: DateTime<Utc>) {
    if a.next_plan.as_ref() != Some(&plan) {
        withdraw_charges(a, at);
    }
    a.next_plan = Some(plan);
}

/// §4.1: the administrator's address is verified; the welcome follows now (nothing before it).
pub fn verify_email(a: &mut Account, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    if a.email_verified {
        return Ok(Vec::new());
    }
    a.email_verified = true;
    a.last_activity = a.last_activity.max(at);
    Ok(vec![notice(NoticeKind::Welcome, at, None)])
}
