//! Identity rules (SPEC: Sign-in and account, §4.1): the verification deadline, the reset link's
//! validity, the sign-in throttle's windows and limits, and the credential version a token carries.

use crate::account::Account;
use crate::policy::{days, Policy};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// When an account whose administrator never verified the address is deleted (§4.1).
pub fn verification_deadline(a: &Account, p: &Policy) -> DateTime<Utc> {
    a.created_at + days(p.verification_days)
}

/// A reset link is good for `reset_token_minutes` of event time after it was issued.
pub fn reset_link_valid(issued_at: DateTime<Utc>, now: DateTime<Utc>, p: &Policy) -> bool {
    now >= issued_at && now < issued_at + Duration::minutes(p.reset_token_minutes)
}

/// One throttle counter: failures counted in a fixed window that starts at its first attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Attempts counted (a success takes its own back, so it may briefly read below zero).
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub window_start: i64,
}

impl Window {
    /// The window still runs at `now`.
    pub fn live(&self, now: DateTime<Utc>, p: &Policy) -> bool {
        now.timestamp() < self.window_start + Duration::minutes(p.sign_in_window_minutes).num_seconds()
    }
    /// Attempts already counted in the running window (none once it has run out).
    pub fn counted(&self, now: DateTime<Utc>, p: &Policy) -> u32 {
        if self.live(now, p) {
            u32::try_from(self.count).unwrap_or(0)
        } else {
            0
        }
    }
    /// Seconds until the window runs out (for `Retry-After`), at least 1.
    pub fn retry_after(&self, now: DateTime<Utc>, p: &Policy) -> i64 {
        let end = self.window_start + Duration::minutes(p.sign_in_window_minutes).num_seconds();
        (end - now.timestamp()).max(1)
    }
}

/// Which limit a sign-in attempt is over, if any: the (address, source) pair's, or the address's
/// over all sources. A correct password from a clean source is refused only by the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    Pair {
        retry_after: i64,
    },
    Address {
        retry_after: i64,
    },
    /// The source IP's attempts over all addresses (a route rate limit).
    Source {
        retry_after: i64,
    },
}

/// Whether one more attempt may be counted, given the counters as they are before it.
pub fn may_attempt(pair: &Window, all: &Window, now: DateTime<Utc>, p: &Policy) -> Result<(), Throttled> {
    if all.counted(now, p) >= p.sign_in_address_limit {
        return Err(Throttled::Address { retry_after: all.retry_after(now, p) });
    }
    if pair.counted(now, p) >= p.sign_in_pair_limit {
        return Err(Throttled::Pair { retry_after: pair.retry_after(now, p) });
    }
    Ok(())
}

/// The verification mail (§4.1): the link, and when the unverified account will be deleted.
pub fn verification_mail(a: &Account, link: &str, p: &Policy, reminder: bool) -> crate::notice::Mail {
    let deadline = crate::time::mail_time(verification_deadline(a, p));
    let portal = &a.domain;
    let subject = if reminder {
        format!("{portal}: verify your e-mail address before {deadline}")
    } else {
        format!("{portal}: verify your e-mail address")
    };
    let text = format!(
        "Open this link to verify your e-mail address and activate {portal}:\n{link}\n\n\
         If it is not verified by {deadline}, the account is deleted and its name released (§4.1).\n\
         If you did not sign up, ignore this mail: nothing else will be sent to you."
    );
    crate::notice::Mail { subject, text }
}

/// The password-reset mail: the link and how long it is good.
pub fn reset_mail(domain: &crate::types::DomainLabel, link: &str, p: &Policy) -> crate::notice::Mail {
    crate::notice::Mail {
        subject: format!("{domain}: reset your password"),
        text: format!(
            "Open this link within {} minutes to choose a new password:\n{link}\n\n\
             It works once, and signs out every session. If you did not ask, ignore this mail.",
            p.reset_token_minutes
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0).unwrap()
    }
    const S: Duration = Duration::seconds(1);

    fn w(count: i64, start: DateTime<Utc>) -> Window {
        Window { count, window_start: start.timestamp() }
    }

    #[test]
    fn five_attempts_from_a_pair_are_allowed_and_the_sixth_is_refused_until_the_window_ends() {
        let p = Policy::default();
        let none = Window::default();
        assert_eq!(may_attempt(&w(4, t0()), &none, t0(), &p), Ok(()));
        assert_eq!(may_attempt(&w(5, t0()), &none, t0(), &p), Err(Throttled::Pair { retry_after: 900 }));
        let last = t0() + Duration::minutes(15) - S;
        assert_eq!(may_attempt(&w(5, t0()), &none, last, &p), Err(Throttled::Pair { retry_after: 1 }));
        assert_eq!(may_attempt(&w(5, t0()), &none, t0() + Duration::minutes(15), &p), Ok(()), "a new window");
    }

    #[test]
    fn fifty_failures_over_all_sources_refuse_every_source_for_the_window() {
        let p = Policy::default();
        let clean = Window::default();
        assert_eq!(may_attempt(&clean, &w(49, t0()), t0(), &p), Ok(()));
        assert!(matches!(
            may_attempt(&clean, &w(50, t0()), t0() + Duration::minutes(15) - S, &p),
            Err(Throttled::Address { .. })
        ));
        assert_eq!(may_attempt(&clean, &w(50, t0()), t0() + Duration::minutes(15), &p), Ok(()));
    }

    #[test]
    fn a_reset_link_is_good_for_sixty_minutes_of_event_time() {
        let p = Policy::default();
        assert!(reset_link_valid(t0(), t0(), &p));
        assert!(reset_link_valid(t0(), t0() + Duration::minutes(60) - S, &p));
        assert!(!reset_link_valid(t0(), t0() + Duration::minutes(60), &p));
        assert!(!reset_link_valid(t0(), t0() - S, &p), "not before it was issued");
    }
}
