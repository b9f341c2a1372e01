//! Rate limits of the public routes (SPEC: Public surface), per source IP and, for the routes
//! that mail an address the caller chose, per recipient: settings, with these defaults
//! (`RATE_LIMITS_JSON` overrides any of them; an unknown name is refused at start).

use serde::{Deserialize, Serialize};

/// Every counter's fixed window.
pub const WINDOW_SECONDS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Signups accepted per source IP per hour.
    pub signup_per_ip_per_hour: u32,
    /// Signups (each mails a verification link) per administrator address per hour.
    pub signup_per_recipient_per_hour: u32,
    /// Sign-in attempts per source IP per hour, over all addresses (the per-address lock is policy).
    pub sign_in_per_ip_per_hour: u32,
    /// E-mail verifications per source IP per hour.
    pub verify_per_ip_per_hour: u32,
    /// Password-reset requests per source IP per hour (per IP only, so a 429 reveals nothing
    /// about the address).
    pub reset_per_ip_per_hour: u32,
    /// New passwords set through a reset link per source IP per hour.
    pub reset_confirm_per_ip_per_hour: u32,
    /// Copyright notices per source IP per hour.
    pub copyright_per_ip_per_hour: u32,
    /// Copyright notices (each acknowledged by mail) per sender address per hour.
    pub copyright_per_recipient_per_hour: u32,
    /// Personal-data requests per source IP per hour.
    pub data_request_per_ip_per_hour: u32,
    /// Personal-data requests (each acknowledged by mail) per requester address per hour.
    pub data_request_per_recipient_per_hour: u32,
    /// Re-sent implementation-request confirmations per source IP per hour.
    pub resend_per_ip_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            signup_per_ip_per_hour: 20,
            signup_per_recipient_per_hour: 3,
            sign_in_per_ip_per_hour: 300,
            verify_per_ip_per_hour: 30,
            reset_per_ip_per_hour: 10,
            reset_confirm_per_ip_per_hour: 20,
            copyright_per_ip_per_hour: 10,
            copyright_per_recipient_per_hour: 5,
            data_request_per_ip_per_hour: 10,
            data_request_per_recipient_per_hour: 5,
            resend_per_ip_per_hour: 20,
        }
    }
}

/// One counter: its name (part of the key) and its limit per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub max: u32,
}

impl RateLimits {
    pub fn signup_ip(&self) -> Rule {
        Rule { name: "signup-ip", max: self.signup_per_ip_per_hour }
    }
    pub fn signup_recipient(&self) -> Rule {
        Rule { name: "signup-to", max: self.signup_per_recipient_per_hour }
    }
    pub fn sign_in_ip(&self) -> Rule {
        Rule { name: "sign-in-ip", max: self.sign_in_per_ip_per_hour }
    }
    pub fn verify_ip(&self) -> Rule {
        Rule { name: "verify-ip", max: self.verify_per_ip_per_hour }
    }
    pub fn reset_ip(&self) -> Rule {
        Rule { name: "reset-ip", max: self.reset_per_ip_per_hour }
    }
    pub fn reset_confirm_ip(&self) -> Rule {
        Rule { name: "reset-confirm-ip", max: self.reset_confirm_per_ip_per_hour }
    }
    pub fn copyright_ip(&self) -> Rule {
        Rule { name: "copyright-ip", max: self.copyright_per_ip_per_hour }
    }
    pub fn copyright_recipient(&self) -> Rule {
        Rule { name: "copyright-to", max: self.copyright_per_recipient_per_hour }
    }
    pub fn data_request_ip(&self) -> Rule {
        Rule { name: "data-request-ip", max: self.data_request_per_ip_per_hour }
    }
    pub fn data_request_recipient(&self) -> Rule {
        Rule { name: "data-request-to", max: self.data_request_per_recipient_per_hour }
    }
    pub fn resend_ip(&self) -> Rule {
        Rule { name: "resend-ip", max: self.resend_per_ip_per_hour }
    }
}

/// Seconds until the window that holds `now` (unix seconds) ends, for `Retry-After`.
pub fn retry_after(now: i64) -> i64 {
    ((now.div_euclid(WINDOW_SECONDS) + 1) * WINDOW_SECONDS - now).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_names_only_what_it_changes_and_a_typo_is_refused() {
        let r: RateLimits = serde_json::from_str(r#"{"copyright_per_ip_per_hour": 2}"#).expect("parsed");
        assert_eq!(r.copyright_ip().max, 2);
        assert_eq!(r.signup_ip().max, 20);
        assert!(serde_json::from_str::<RateLimits>(r#"{"copyright_per_ip": 2}"#).is_err());
    }

    #[test]
    fn retry_after_runs_to_the_end_of_the_hour() {
        assert_eq!(retry_after(3600), 3600);
        assert_eq!(retry_after(7199), 1);
        assert_eq!(retry_after(5400), 1800);
    }
}
