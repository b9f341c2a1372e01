//! Every duration of the Terms as a named setting, defaulting to the Terms' value.

use chrono::Duration;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// §7.3: grace period after a paid term ends.
    pub grace_days: i64,
    /// §21.1: a free account with no activity this long is archived.
    pub inactivity_days: i64,
    /// §21.1: an archived account nobody signs in to is deleted after this.
    pub archive_deletion_days: i64,
    /// §21.4: a suspended account is deleted after this.
    pub suspension_deletion_days: i64,
    /// §8.2: a terminated account is deleted after this (our choice).
    pub termination_deletion_days: i64,
    /// §7.7: the next term is charged this long before the term ends.
    pub renewal_charge_days: i64,
    /// A declined renewal charge is tried again this many days after the term end (in grace).
    pub renewal_retry_days: Vec<i64>,
    /// A checkout's payment is applied only within this long of the quote.
    pub checkout_hours: i64,
    pub renewal_notice_days: i64,
    pub suspension_notice_days: i64,
    pub inactivity_warning_days: i64,
    /// Lead times of the "deletion coming" notices before any deletion.
    pub deletion_notice_days: Vec<i64>,
    /// §5.5, §26.5: a removal request is answered within this.
    pub data_request_days: i64,
    pub data_request_reminder_days: Vec<i64>,
    pub token_ttl_minutes: i64,
    /// Failed sign-ins allowed per (address, source) pair in a window, then 429 for that pair.
    pub sign_in_pair_limit: u32,
    /// Failed sign-ins allowed per address over all sources in a window, then 429 for all.
    pub sign_in_address_limit: u32,
    /// The throttle's fixed window, from its first counted attempt.
    pub sign_in_window_minutes: i64,
    /// §4.1: an account whose administrator never verified the address is deleted after this (our choice).
    pub verification_days: i64,
    /// The one reminder to verify, this long before that deletion.
    pub verification_reminder_days: i64,
    /// A password-reset link is good this long (event time).
    pub reset_token_minutes: i64,
    /// Form records (requests, notices) hold personal data this long, then expire.
    pub form_retention_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            grace_days: 15,
            inactivity_days: 30,
            archive_deletion_days: 15,
            suspension_deletion_days: 50,
            termination_deletion_days: 30,
            renewal_charge_days: 3,
            renewal_retry_days: vec![1, 3, 7],
            checkout_hours: 24,
            renewal_notice_days: 7,
            suspension_notice_days: 3,
            inactivity_warning_days: 7,
            deletion_notice_days: vec![7, 1],
            data_request_days: 30,
            data_request_reminder_days: vec![7, 2],
            token_ttl_minutes: 60,
            sign_in_pair_limit: 5,
            sign_in_address_limit: 50,
            sign_in_window_minutes: 15,
            verification_days: 7,
            verification_reminder_days: 2,
            reset_token_minutes: 60,
            form_retention_days: 180,
        }
    }
}

pub fn days(n: i64) -> Duration {
    Duration::days(n)
}
