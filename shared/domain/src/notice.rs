//! Notices to administrators (§1.4, §23): their kinds, keys and text.

use crate::account::{Account, StateReason};
use crate::money::Money;
use crate::policy::{days, Policy};
use crate::time::mail_time;
use crate::types::PlanId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Welcome,
    RenewalComing,
    GraceStarted,
    SuspensionComing,
    Suspended,
    InactivityWarning,
    Archived,
    DeletionComing,
    Terminated,
    Restored,
    TermsUpdated,
    /// A payment was applied (its receipt).
    Receipt,
    /// A renewal charge was declined or needs the customer; says when it is retried.
    RenewalFailed,
    /// Auto-renewal is on but nothing will be charged, and why.
    RenewalNotCharged,
    /// Money arrived that could not be applied; a person will refund it (§7.5).
    PaymentUnapplied,
    /// §4.1: the one-time link to verify the address (the only mail until it is used).
    VerifyEmail,
    /// §4.1: the one reminder, before an unverified account is deleted.
    VerifyReminder,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Welcome => "welcome",
            NoticeKind::RenewalComing => "renewal_coming",
            NoticeKind::GraceStarted => "grace_started",
            NoticeKind::SuspensionComing => "suspension_coming",
            NoticeKind::Suspended => "suspended",
            NoticeKind::InactivityWarning => "inactivity_warning",
            NoticeKind::Archived => "archived",
            NoticeKind::DeletionComing => "deletion_coming",
            NoticeKind::Terminated => "terminated",
            NoticeKind::Restored => "restored",
            NoticeKind::TermsUpdated => "terms_updated",
            NoticeKind::Receipt => "receipt",
            NoticeKind::RenewalFailed => "renewal_failed",
            NoticeKind::RenewalNotCharged => "renewal_not_charged",
            NoticeKind::PaymentUnapplied => "payment_unapplied",
            NoticeKind::VerifyEmail => "verify_email",
            NoticeKind::VerifyReminder => "verify_reminder",
        }
    }
}

/// A notice due at `at`; `subject_at` is the moment it warns about (term end, suspension, deletion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub subject_at: Option<DateTime<Utc>>,
    /// What a payment notice is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentNote>,
}

/// The payment a notice is about; `reference` (the PaymentIntent) keeps each one's notice apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNote {
    pub reference: String,
    pub plan: PlanId,
    pub amount: Money,
    #[serde(default)]
    pub proration: u64,
    #[serde(default)]
    pub term_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub term_end: Option<DateTime<Utc>>,
    /// Why a charge was not made or a payment not applied; when a declined charge is retried.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub next_retry: Option<DateTime<Utc>>,
}

impl Notice {
    pub fn new(kind: NoticeKind, at: DateTime<Utc>, subject_at: Option<DateTime<Utc>>) -> Notice {
        Notice { kind, at, subject_at, payment: None }
    }
    pub fn about_payment(kind: NoticeKind, at: DateTime<Utc>, payment: PaymentNote) -> Notice {
        Notice { kind, at, subject_at: None, payment: Some(payment) }
    }
    /// Sent exactly once per account, kind and the moment it is for (and the payment it is about).
    pub fn key(&self, account_id: &str) -> String {
        let at = self.at.format("%Y-%m-%dT%H:%M:%SZ");
        match &self.payment {
            Some(p) => format!("{account_id}#{}#{at}#{}", self.kind.as_str(), p.reference),
            None => format!("{account_id}#{}#{at}", self.kind.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub subject: String,
    pub text: String,
}

/// Why an account is suspended, in words (never the reason's code).
fn suspension_reason(r: Option<StateReason>) -> &'static str {
    match r {
        Some(StateReason::NotRenewed) => "Your paid term ended and its grace period passed without a new term (§7.3).",
        Some(StateReason::IncompatibleContent) => {
            "Content that the Free plan does not allow was not removed within the grace period (§7.4, §21.2.2)."
        }
        Some(StateReason::TermsViolation) => {
            "We suspended your account for a violation of the Terms of Service (§21.2.1)."
        }
        _ => "Your account is suspended.",
    }
}

/// What lifts the suspension: a payment for a lapse, never for a violation.
fn suspension_remedy(a: &Account) -> String {
    match a.state_reason {
        Some(StateReason::TermsViolation) => format!(
            "Buying a plan does not lift this suspension. To resolve it, write to {} quoting your domain; \
             we lift it once the violation is resolved.",
            a.contracting_party.notices_email
        ),
        _ => "To restore it, sign in and buy a paid plan whose limits fit your current usage (§21.3).".into(),
    }
}

/// The text of a notice; every date in it is computed from the account and the policy.
pub fn render(n: &Notice, a: &Account, policy: &Policy) -> Mail {
    let portal = &a.domain;
    let subject_day = n.subject_at.map(mail_time).unwrap_or_default();
    let (subject, body) = match n.kind {
        NoticeKind::Welcome => (
            format!("Welcome to {portal}"),
            format!(
                "Your account {portal} is ready on the Free plan.\n\
                 You accepted the Terms of Service version {} on {}.\n\
                 Your contracting party is {}; legal notices go to {}.",
                a.terms_version,
                mail_time(n.at),
                a.contracting_party.name,
                a.contracting_party.notices_email
            ),
        ),
        NoticeKind::RenewalComing => (
            format!("{portal}: your {} plan term ends on {subject_day}", a.plan),
            if a.auto_renew {
                format!("Automatic renewal is on: the next term will be charged {} days before it ends. You can turn it off at any time (§7.7).", policy.renewal_charge_days)
            } else {
                format!("Automatic renewal is off. Buy a new term before {subject_day} to keep your plan; a {}-day grace period follows (§7.3).", policy.grace_days)
            },
        ),
        NoticeKind::GraceStarted => (
            format!("{portal}: your paid term has ended, grace period until {subject_day}"),
            format!("Buy a new term before {subject_day}, or your account will be suspended (§7.3). A new term starts when the previous one ended."),
        ),
        NoticeKind::SuspensionComing => (
            format!("{portal}: suspension on {subject_day}"),
            "Your grace period is about to end. Buy a new term to keep your account active (§7.3, §7.4).".into(),
        ),
        NoticeKind::Suspended => {
            let deletion = mail_time(a.state_since + days(policy.suspension_deletion_days));
            (
                format!("{portal}: your account is suspended"),
                format!(
                    "{} Your account and all its data will be deleted on {deletion} (§21.4).\n{}",
                    suspension_reason(a.state_reason),
                    suspension_remedy(a)
                ),
            )
        }
        NoticeKind::InactivityWarning => (
            format!("{portal}: archiving on {subject_day}"),
            "Your Free account has had no activity. Sign in or use it before that date to keep it active (§21.1).".into(),
        ),
        NoticeKind::Archived => {
            let deletion = mail_time(a.state_since + days(policy.archive_deletion_days));
            (
                format!("{portal}: your account is archived"),
                format!("Sign in to restore it. If no administrator signs in, it will be deleted on {deletion} (§21.1)."),
            )
        }
        NoticeKind::DeletionComing => (
            format!("{portal}: deletion on {subject_day}"),
            "Your account and all its data will be deleted on that date, without the possibility of recovery (§21.4).".into(),
        ),
        NoticeKind::Terminated => {
            let deletion = mail_time(a.state_since + days(policy.termination_deletion_days));
            (
                format!("{portal}: termination received"),
                format!("We received your written notice of termination (§8.2). Your account and its data will be deleted on {deletion}."),
            )
        }
        NoticeKind::Restored => (
            format!("{portal}: your account is active again"),
            format!("Your account is active on the {} plan.", a.plan),
        ),
        NoticeKind::TermsUpdated => (
            "Our Terms of Service have been updated".into(),
            "A new version of the Terms of Service is published. Your continued use of the service indicates your agreement to the changes (§1.4).".into(),
        ),
        NoticeKind::Receipt | NoticeKind::RenewalFailed | NoticeKind::RenewalNotCharged | NoticeKind::PaymentUnapplied => {
            crate::billing::mail::render(n.kind, n.payment.as_ref(), a)
        }
        // Their link is made by the adapter (a one-time token): `identity::verification_mail`.
        NoticeKind::VerifyEmail | NoticeKind::VerifyReminder => {
            let m = crate::identity::verification_mail(a, "", policy, n.kind == NoticeKind::VerifyReminder);
            (m.subject, m.text)
        }
    };
    Mail { subject, text: body }
}
