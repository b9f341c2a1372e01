//! Notices to administrators (§1.4, §23): their kinds, keys and text.

use crate::account::Account;
use crate::policy::{days, Policy};
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
}

impl Notice {
    /// Sent exactly once per account, kind and the moment it is for.
    pub fn key(&self, account_id: &str) -> String {
        format!("{account_id}#{}#{}", self.kind.as_str(), self.at.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub subject: String,
    pub text: String,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The text of a notice; every date in it is computed from the account and the policy.
pub fn render(n: &Notice, a: &Account, policy: &Policy) -> Mail {
    let portal = &a.domain;
    let subject_day = n.subject_at.map(day).unwrap_or_default();
    let (subject, body) = match n.kind {
        NoticeKind::Welcome => (
            format!("Welcome to {portal}"),
            format!(
                "Your account {portal} is ready on the Free plan.\n\
                 You accepted the Terms of Service version {} on {}.\n\
                 Your contracting party is {}; legal notices go to {}.",
                a.terms_version,
                day(n.at),
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
            let deletion = day(a.state_since + days(policy.suspension_deletion_days));
            (
                format!("{portal}: your account is suspended"),
                format!(
                    "Reason: {}. Your account and all its data will be deleted on {deletion} (§21.4).\n\
                     To restore it, sign in and buy a paid plan whose limits fit your current usage (§21.3).",
                    a.state_reason.map(|r| format!("{r:?}")).unwrap_or_default()
                ),
            )
        }
        NoticeKind::InactivityWarning => (
            format!("{portal}: archiving on {subject_day}"),
            "Your Free account has had no activity. Sign in or use it before that date to keep it active (§21.1).".into(),
        ),
        NoticeKind::Archived => {
            let deletion = day(a.state_since + days(policy.archive_deletion_days));
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
            let deletion = day(a.state_since + days(policy.termination_deletion_days));
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
    };
    Mail { subject, text: body }
}
