//! Settings from the environment (locally: `infra/local.env`; on AWS: the SAM template).

use anyhow::{Context, Result};
use domain::forms::FormLimits;
use domain::Policy;

#[derive(Clone)]
pub struct Config {
    pub table: String,
    pub mail_from: String,
    pub base_domain: String,
    pub terms_version: String,
    /// Where links in mail point: the portal (`<PUBLIC_BASE_URL>/app/verify?token=…`).
    pub public_base_url: String,
    pub stripe: StripeConfig,
    /// `DUE_SHARDS` of the release before logical shards (4): the old partitions the sweep drains.
    pub legacy_due_shards: u32,
    /// How long a sweep holds a pending renewal charge while it makes it at Stripe (wall clock).
    pub charge_lease_seconds: i64,
    pub policy: Policy,
    pub form_limits: FormLimits,
    pub rate_limits: domain::limits::RateLimits,
    /// `LOCAL_REPLAY=1` (local stack only; off in the template): the sweep takes any event time,
    /// so tests can replay months. Otherwise it refuses a time far from the clock.
    pub local_replay: bool,
    /// Outbox leases and retries.
    pub mail: crate::repo::outbox::MailSettings,
    /// `SWEEP_IN_FLIGHT`: due items a sweep worker handles at once (8).
    pub sweep_in_flight: usize,
    /// `SES_MAX_SEND_RATE`: sends per second for all workers together, instead of SES's
    /// `MaxSendRate` (locally: the emulator reports 1).
    pub ses_max_send_rate: Option<f64>,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

/// Stripe's address and publishable key (SPEC: Payments through Stripe); its secret key and
/// webhook secret are secrets (`crate::secrets`).
#[derive(Clone, Default)]
pub struct StripeConfig {
    pub api_base: String,
    pub publishable_key: String,
}

/// `DUE_SHARDS`: how many due-index partitions the release before logical shards used (4 when
/// unset or invalid); only to drain them.
pub fn legacy_due_shards() -> u32 {
    var("DUE_SHARDS").ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or(4)
}

/// A JSON setting: absent means the defaults, a bad one stops the function at start.
fn json_setting<T: serde::de::DeserializeOwned + Default>(name: &str) -> Result<T> {
    match std::env::var(name) {
        Ok(j) if !j.trim().is_empty() => serde_json::from_str(&j).with_context(|| format!("{name} does not parse")),
        _ => Ok(T::default()),
    }
}

impl Config {
    pub fn from_env() -> Result<Config> {
        let policy = json_setting("POLICY_JSON")?;
        let form_limits = json_setting("FORM_LIMITS_JSON")?;
        let rate_limits = json_setting("RATE_LIMITS_JSON")?;
        Ok(Config {
            table: var("TABLE_NAME")?,
            mail_from: var("MAIL_FROM")?,
            base_domain: var("BASE_DOMAIN").unwrap_or_else(|_| "example.com".into()),
            terms_version: var("TERMS_VERSION").unwrap_or_else(|_| "2021-11-01".into()),
            public_base_url: var("PUBLIC_BASE_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:9000/lambda-url/portal".into()),
            stripe: StripeConfig {
                api_base: var("STRIPE_API_BASE").unwrap_or_else(|_| "https://api.stripe.com".into()),
                publishable_key: var("STRIPE_PUBLISHABLE_KEY").unwrap_or_default(),
            },
            legacy_due_shards: legacy_due_shards(),
            charge_lease_seconds: var("CHARGE_LEASE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(120),
            policy,
            form_limits,
            rate_limits,
            local_replay: var("LOCAL_REPLAY").is_ok_and(|v| v == "1"),
            mail: crate::repo::outbox::MailSettings::from_env(),
            sweep_in_flight: var("SWEEP_IN_FLIGHT").ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or(8),
            ses_max_send_rate: var("SES_MAX_SEND_RATE").ok().and_then(|s| s.parse().ok()).filter(|r: &f64| *r > 0.0),
        })
    }
}

/// Settings only (no secret is here), kept short in logs.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("mail_from", &self.mail_from)
            .field("terms_version", &self.terms_version)
            .field("legacy_due_shards", &self.legacy_due_shards)
            .finish_non_exhaustive()
    }
}
