//! The lifecycle as one pure function (SPEC: Lifecycle): what is scheduled for an account,
//! `advance` to apply everything due by a moment, and the forecast (advance with nobody acting).

mod actions;
mod forecast;

pub use actions::*;
pub use forecast::{forecast, Forecast};

use crate::account::{Account, State, StateReason};
use crate::billing::{next_retry, record_attempt, withdraw_charges, Money};
use crate::catalog::Catalog;
use crate::notice::{Notice, NoticeKind};
use crate::policy::{days, Policy};
use crate::types::PlanId;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A step the lifecycle will take at a moment if nobody acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    RenewalNotice,
    RenewalCharge,
    /// The running term ends and the next one bought ahead begins (its plan with it).
    TermRoll,
    TermEnd,
    RenewalRetry,
    SuspensionNotice,
    GraceEnd,
    InactivityWarning,
    Archive,
    /// §4.1: the one reminder to verify the address.
    VerifyReminder,
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
                | Step::VerifyReminder
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
    Transition {
        at: DateTime<Utc>,
        from: State,
        to: State,
        reason: Option<StateReason>,
        plan: PlanId,
    },
    Notice(Notice),
    /// §7.7: a renewal charge attempt to make at Stripe (recorded pending on the account).
    ChargeRequest {
        at: DateTime<Utc>,
        plan: PlanId,
        months: u32,
        term_start: DateTime<Utc>,
        price: Option<Money>,
        attempt: u8,
    },
    PlanChanged {
        at: DateTime<Utc>,
        from: PlanId,
        to: PlanId,
    },
    Payment {
        at: DateTime<Utc>,
        plan: PlanId,
        months: u32,
        term_start: DateTime<Utc>,
        term_end: DateTime<Utc>,
    },
    Delete {
        at: DateTime<Utc>,
        reason: Option<StateReason>,
    },
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

pub(crate) fn deletion_at(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
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

/// Auto-renewal can charge: it is on and a card is saved (§7.7).
fn charges(a: &Account) -> bool {
    a.auto_renew && a.payment_method.is_some()
}

/// Every step scheduled for the account in its current state, in time order.
pub fn schedule(a: &Account, p: &Policy) -> Vec<Due> {
    let mut out = Vec::new();
    let mut warn =
        |step, lead: i64, subject: DateTime<Utc>| out.push(Due { at: subject - days(lead), step, subject_at: subject });
    // §4.1: until the address is verified, the link's reminder and the deletion are all there is.
    if a.state == State::Active && !a.email_verified {
        let deadline = crate::identity::verification_deadline(a, p);
        warn(Step::VerifyReminder, p.verification_reminder_days, deadline);
        warn(Step::Delete, 0, deadline);
        out.sort_by_key(|d| (d.at, d.step));
        return out;
    }
    match a.state {
        State::Active => match a.term_end {
            Some(t) => {
                if let Some(next) = a.terms_ahead.first() {
                    warn(Step::TermRoll, 0, next.start);
                }
                warn(Step::RenewalNotice, p.renewal_notice_days, t);
                if charges(a) && a.renewal.as_ref().map(|r| r.term_end) != Some(t) {
                    warn(Step::RenewalCharge, p.renewal_charge_days, t);
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
                if let Some((retry, _)) = next_retry(a, p).filter(|(t, _)| charges(a) && *t < g) {
                    warn(Step::RenewalRetry, 0, retry);
                }
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

/// The next scheduled step after the cursor, if any.
pub fn due_at(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
    schedule(a, p).into_iter().find(|d| d.at > a.swept_until).map(|d| d.at)
}

/// When the sweep must next look at the account (its place in the due-time index): the next
/// scheduled step, or while a renewal charge is recorded but not yet known to be made, at once
/// (or when the lease of whoever is making it runs out).
pub fn sweep_due_at(a: &Account, p: &Policy) -> Option<DateTime<Utc>> {
    let pending = a
        .renewal
        .as_ref()
        .filter(|r| r.status == crate::account::ChargeStatus::Pending)
        .map(|r| r.lease_until.unwrap_or(r.at));
    match (due_at(a, p), pending) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub(crate) fn transition(a: &mut Account, at: DateTime<Utc>, to: State, reason: Option<StateReason>) -> Effect {
    let from = a.state;
    a.state = to;
    a.state_reason = reason;
    a.state_since = at;
    Effect::Transition { at, from, to, reason, plan: a.plan.clone() }
}

/// The account goes on the Free plan, active: a plan change (if it was on another) and the transition.
pub(crate) fn to_free(a: &mut Account, at: DateTime<Utc>) -> Vec<Effect> {
    let mut out = Vec::with_capacity(2);
    if a.plan != PlanId::free() {
        out.push(Effect::PlanChanged { at, from: a.plan.clone(), to: PlanId::free() });
    }
    a.plan = PlanId::free();
    a.term_start = None;
    a.term_end = None;
    a.terms_ahead.clear();
    a.auto_renew = false;
    a.next_plan = None;
    out.push(transition(a, at, State::Active, None));
    out
}

pub(crate) fn notice(kind: NoticeKind, at: DateTime<Utc>, subject_at: Option<DateTime<Utc>>) -> Effect {
    Effect::Notice(Notice::new(kind, at, subject_at))
}

/// §7.4: at term or grace end, Free is possible only if the administrator chose it and usage fits.
fn free_fits(a: &Account, catalog: &Catalog) -> (bool, bool) {
    let wants_free = a.next_plan.as_ref().is_some_and(PlanId::is_free);
    (wants_free, wants_free && catalog.fits(crate::catalog::FREE, &a.usage))
}

/// Applies one due step; returns whether the state changed (so the schedule must be recomputed).
fn apply(a: &mut Account, d: Due, p: &Policy, catalog: &Catalog, out: &mut Vec<Effect>) -> bool {
    let at = d.at;
    match d.step {
        Step::RenewalNotice => out.push(notice(NoticeKind::RenewalComing, at, Some(d.subject_at))),
        Step::SuspensionNotice => out.push(notice(NoticeKind::SuspensionComing, at, Some(d.subject_at))),
        Step::InactivityWarning => out.push(notice(NoticeKind::InactivityWarning, at, Some(d.subject_at))),
        Step::DeletionNotice => out.push(notice(NoticeKind::DeletionComing, at, Some(d.subject_at))),
        Step::VerifyReminder => out.push(notice(NoticeKind::VerifyReminder, at, Some(d.subject_at))),
        Step::RenewalCharge => out.push(record_attempt(a, d.subject_at, 1, at, catalog)),
        Step::RenewalRetry => {
            if let (Some((_, attempt)), Some(t)) = (next_retry(a, p), a.term_end) {
                out.push(record_attempt(a, t, attempt, at, catalog));
            }
            return true;
        }
        Step::TermRoll => {
            if !a.terms_ahead.is_empty() {
                let next = a.terms_ahead.remove(0);
                a.term_start = Some(next.start);
                a.term_months = next.months;
                if next.plan != a.plan {
                    out.push(Effect::PlanChanged { at, from: a.plan.clone(), to: next.plan.clone() });
                    a.plan = next.plan;
                }
            }
            return true;
        }
        Step::TermEnd => {
            let (_, fits) = free_fits(a, catalog);
            if fits {
                out.extend(to_free(a, at));
            } else {
                out.push(transition(a, at, State::Grace, None));
                out.push(notice(NoticeKind::GraceStarted, at, grace_end(a, p)));
            }
            return true;
        }
        Step::GraceEnd => {
            withdraw_charges(a, at);
            match free_fits(a, catalog) {
                (_, true) => out.extend(to_free(a, at)),
                (wants_free, false) => {
                    let reason = if wants_free { StateReason::IncompatibleContent } else { StateReason::NotRenewed };
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
                State::Active if !a.email_verified => Some(StateReason::Unverified),
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
        let due: Vec<Due> = schedule(a, p).into_iter().filter(|d| d.at > a.swept_until && d.at <= now).collect();
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

#[cfg(test)]
mod tests;
