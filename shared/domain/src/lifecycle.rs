//! The lifecycle as one pure function (SPEC: Lifecycle): what is scheduled for an account,
//! `advance` to apply everything due by a moment, and the forecast (advance with nobody acting).

use crate::account::{Account, PlanSwitch, State, StateReason};
use crate::catalog::{Catalog, FREE};
use crate::notice::{Notice, NoticeKind};
use crate::policy::{days, Policy};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A step the lifecycle will take at a moment if nobody acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    RenewalNotice,
    RenewalCharge,
    PlanSwitch,
    TermEnd,
    SuspensionNotice,
    GraceEnd,
    InactivityWarning,
    Archive,
    DeletionNotice,
    Delete,
}

impl Step {
    /// Warnings and charges are pointless once the moment they precede has passed.
    fn is_advance_warning(self) -> bool {
        matches!(
            self,
            Step::RenewalNotice
                | Step::RenewalCharge
                | Step::SuspensionNotice
                | Step::InactivityWarning
                | Step::DeletionNotice
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub step: Step,
    /// The moment this step leads up to (equal to `at` for transitions).
    pub subject_at: DateTime<Utc>,
}

/// What applying the lifecycle or an action produced, for the adapters to persist and send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    Transition { at: DateTime<Utc>, from: State, to: State, reason: Option<StateReason>, plan: String },
    Notice(Notice),
    ChargeRequest { at: DateTime<Utc>, plan: String, months: u32, term_start: DateTime<Utc> },
    PlanChanged { at: DateTime<Utc>, from: String, to: String },
    Payment { at: DateTime<Utc>, plan: String, months: u32, term_start: DateTime<Utc>, term_end: DateTime<Utc> },
    Delete { at: DateTime<Utc>, reason: Option<StateReason> },
}

impl Effect {
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Effect::Transition { at, .. }
            | Effect::ChargeRequest { at, .. }
            | Effect::PlanChanged { at, .. }
            | Effect::Payment { at, .. }
            | Effect::Delete { at, .. } => *at,
            Effect::Notice(n) => n.at,
        }
    }

    /// The name of the event in history and forecast.
    pub fn label(&self) -> String {
        match self {
            Effect::Transition { to, .. } => to.as_str().to_string(),
            Effect::Notice(n) => format!("notice:{}", n.kind.as_str()),
            Effect::ChargeRequest { .. } => "renewal_charge".into(),
            Effect::PlanChanged { .. } => "plan_changed".into(),
            Effect::Payment { .. } => "payment".into(),
            Effect::Delete { .. } => "deleted".into(),
        }
    }
}

fn free_inactivity_deadline(a: &Account, p: &Policy) -> DateTime<Utc> {
    // §21.1 counts 30 days of inactivity on the Free plan, so converting to Free restarts the count.
    a.last_activity.max(a.state_since) + days(p.inactivity_days)
}

fn deletion_at(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
    let after = match a.state {
        State::Suspended => p.suspension_deletion_days,
        State::Archived => p.archive_deletion_days,
        State::Terminated => p.termination_deletion_days,
        _ => return None,
    };
    Some(a.state_since + days(after))
}

pub fn grace_end(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
    a.term_end.map(|t| t + days(p.grace_days))
}

/// Every step scheduled for the account in its current state, in time order.
pub fn schedule(a: &Account, p: &Policy) -> Vec<Due> {
    let mut out = Vec::new();
    let mut warn = |step, lead: i64, subject: DateTime<Utc>| {
        out.push(Due { at: subject - days(lead), step, subject_at: subject })
    };
    match a.state {
        State::Active => match a.term_end {
            Some(t) => {
                warn(Step::RenewalNotice, p.renewal_notice_days, t);
                if a.auto_renew && a.charge_requested_for != Some(t) {
                    warn(Step::RenewalCharge, p.renewal_charge_days, t);
                }
                if let Some(s) = &a.plan_switch {
                    warn(Step::PlanSwitch, 0, s.at);
                }
                warn(Step::TermEnd, 0, t);
            }
            None => {
                let archive = free_inactivity_deadline(a, p);
                warn(Step::InactivityWarning, p.inactivity_warning_days, archive);
                warn(Step::Archive, 0, archive);
            }
        },
        State::Grace => {
            if let Some(g) = grace_end(a, p) {
                warn(Step::SuspensionNotice, p.suspension_notice_days, g);
                warn(Step::GraceEnd, 0, g);
            }
        }
        State::Suspended | State::Archived | State::Terminated => {
            if let Some(d) = deletion_at(a, p) {
                for lead in &p.deletion_notice_days {
                    warn(Step::DeletionNotice, *lead, d);
                }
                warn(Step::Delete, 0, d);
            }
        }
        State::Deleted => {}
    }
    out.sort_by_key(|d| (d.at, d.step));
    out
}

/// The next moment the sweep must look at this account, if any (kept in the due-time index).
pub fn due_at(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
    schedule(a, p).into_iter().find(|d| d.at > a.swept_until).map(|d| d.at)
}

fn transition(a: &mut Account, at: DateTime<Utc>, to: State, reason: Option<StateReason>) -> Effect {
    let from = a.state;
    a.state = to;
    a.state_reason = reason;
    a.state_since = at;
    Effect::Transition { at, from, to, reason, plan: a.plan.clone() }
}

fn to_free(a: &mut Account, at: DateTime<Utc>) -> Effect {
    a.plan = FREE.into();
    a.term_start = None;
    a.term_end = None;
    a.auto_renew = false;
    a.next_plan = None;
    a.plan_switch = None;
    transition(a, at, State::Active, None)
}

fn notice(kind: NoticeKind, at: DateTime<Utc>, subject_at: Option<DateTime<Utc>>) -> Effect {
    Effect::Notice(Notice { kind, at, subject_at })
}

/// §7.4: at term or grace end, Free is possible only if the administrator chose it and usage fits.
fn free_fits(a: &Account, catalog: &Catalog) -> (bool, bool) {
    let wants_free = a.next_plan.as_deref() == Some(FREE);
    (wants_free, wants_free && catalog.fits(FREE, &a.usage))
}

/// Applies one due step; returns whether the state changed (so the schedule must be recomputed).
fn apply(a: &mut Account, d: Due, p: &Policy, catalog: &Catalog, out: &mut Vec<Effect>) -> bool {
    let at = d.at;
    match d.step {
        Step::RenewalNotice => out.push(notice(NoticeKind::RenewalComing, at, Some(d.subject_at))),
        Step::SuspensionNotice => out.push(notice(NoticeKind::SuspensionComing, at, Some(d.subject_at))),
        Step::InactivityWarning => out.push(notice(NoticeKind::InactivityWarning, at, Some(d.subject_at))),
        Step::DeletionNotice => out.push(notice(NoticeKind::DeletionComing, at, Some(d.subject_at))),
        Step::RenewalCharge => {
            a.charge_requested_for = Some(d.subject_at);
            let plan = match a.next_plan.as_deref() {
                Some(n) if n != FREE => n.to_string(),
                _ => a.plan_switch.as_ref().map(|s| s.plan.clone()).unwrap_or_else(|| a.plan.clone()),
            };
            out.push(Effect::ChargeRequest { at, plan, months: a.term_months, term_start: d.subject_at });
        }
        Step::PlanSwitch => {
            if let Some(PlanSwitch { plan, .. }) = a.plan_switch.take() {
                out.push(Effect::PlanChanged { at, from: a.plan.clone(), to: plan.clone() });
                a.plan = plan;
            }
        }
        Step::TermEnd => {
            let (_, fits) = free_fits(a, catalog);
            if fits {
                out.push(to_free(a, at));
            } else {
                out.push(transition(a, at, State::Grace, None));
                out.push(notice(NoticeKind::GraceStarted, at, grace_end(a, p)));
            }
            return true;
        }
        Step::GraceEnd => {
            match free_fits(a, catalog) {
                (_, true) => out.push(to_free(a, at)),
                (wants_free, false) => {
                    let reason =
                        if wants_free { StateReason::IncompatibleContent } else { StateReason::NotRenewed };
                    out.push(transition(a, at, State::Suspended, Some(reason)));
                    out.push(notice(NoticeKind::Suspended, at, deletion_at(a, p)));
                }
            }
            return true;
        }
        Step::Archive => {
            out.push(transition(a, at, State::Archived, Some(StateReason::Inactivity)));
            out.push(notice(NoticeKind::Archived, at, deletion_at(a, p)));
            return true;
        }
        Step::Delete => {
            let reason = match a.state {
                State::Archived => Some(StateReason::Inactivity),
                State::Terminated => Some(StateReason::Termination),
                _ => a.state_reason,
            };
            out.push(transition(a, at, State::Deleted, reason));
            out.push(Effect::Delete { at, reason });
            return true;
        }
    }
    false
}

/// Applies every step due at or before `now`, each at its own scheduled moment, and moves the
/// cursor. Advance warnings whose moment has already passed by `now` are skipped, not sent late.
pub fn advance(a: &mut Account, p: &Policy, catalog: &Catalog, now: DateTime<Utc>) -> Vec<Effect> {
    let mut out = Vec::new();
    // Each pass either ends or changes the state; no chain of states is longer than a handful.
    for _ in 0..32 {
        let due: Vec<Due> =
            schedule(a, p).into_iter().filter(|d| d.at > a.swept_until && d.at <= now).collect();
        if due.is_empty() {
            break;
        }
        let mut changed = false;
        for d in due {
            a.swept_until = d.at;
            if d.step.is_advance_warning() && d.subject_at <= now {
                continue;
            }
            if apply(a, d, p, catalog, &mut out) {
                changed = true;
                break;
            }
        }
        if !changed {
            break;
        }
    }
    out
}

/// One upcoming event of the forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub at: DateTime<Utc>,
    pub event: String,
}

/// The dates of every upcoming step if nobody acts: `advance` run forward from `now`.
pub fn forecast(a: &Account, p: &Policy, catalog: &Catalog, now: DateTime<Utc>) -> Vec<Forecast> {
    let mut sim = a.clone();
    let mut out: Vec<Forecast> =
        advance(&mut sim, p, catalog, now).iter().map(|e| Forecast { at: e.at(), event: e.label() }).collect();
    for _ in 0..64 {
        let Some(next) = due_at(&sim, p) else { break };
        for e in advance(&mut sim, p, catalog, next) {
            if !matches!(e, Effect::Delete { .. }) {
                out.push(Forecast { at: e.at(), event: e.label() });
            }
        }
    }
    out
}

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
        out.push(to_free(a, at));
        out.push(notice(NoticeKind::Restored, at, None));
    }
    Ok(out)
}

/// §8.2: written notice of termination by an administrator.
pub fn terminate(a: &mut Account, p: &Policy, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    let t = transition(a, at, State::Terminated, Some(StateReason::Termination));
    Ok(vec![t, notice(NoticeKind::Terminated, at, deletion_at(a, p))])
}

/// The moment a Terms version takes effect: versions are dates (`2021-11-01`).
pub fn terms_effective_at(version: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(version, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// §1.4: once per published version, the administrators of an account that accepted an older
/// one are told. The notice is dated by the version, so however often this runs its key is one.
pub fn notify_terms_update(a: &mut Account, version: &str) -> Vec<Effect> {
    let Some(at) = terms_effective_at(version) else { return Vec::new() };
    let open = !matches!(a.state, State::Deleted | State::Terminated);
    if !open || a.terms_version.as_str() >= version || a.terms_notified.as_deref().is_some_and(|n| n >= version) {
        return Vec::new();
    }
    a.terms_notified = Some(version.to_string());
    vec![notice(NoticeKind::TermsUpdated, at, None)]
}

/// §21.2.1: an operator suspends the account for a Terms violation.
pub fn suspend_for_violation(a: &mut Account, p: &Policy, at: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    refuse_closed(a)?;
    let t = transition(a, at, State::Suspended, Some(StateReason::TermsViolation));
    Ok(vec![t, notice(NoticeKind::Suspended, at, deletion_at(a, p))])
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
