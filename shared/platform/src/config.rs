//! Settings from the environment (locally: `infra/local.env`; on AWS: the SAM template).

use anyhow::{Context, Result};
use domain::Policy;

#[derive(Clone)]
pub struct Config {
    pub table: String,
    pub mail_from: String,
    pub base_domain: String,
    pub terms_version: String,
    pub token_secret: String,
    pub webhook_secret: String,
    pub service_key: String,
    pub operator_key: String,
    pub due_shards: u32,
    pub policy: Policy,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

impl Config {
    pub fn from_env() -> Result<Config> {
        let policy = match std::env::var("POLICY_JSON") {
            Ok(j) if !j.trim().is_empty() => serde_json::from_str(&j).context("POLICY_JSON")?,
            _ => Policy::default(),
        };
        Ok(Config {
            table: var("TABLE_NAME")?,
            mail_from: var("MAIL_FROM")?,
            base_domain: var("BASE_DOMAIN").unwrap_or_else(|_| "example.com".into()),
            terms_version: var("TERMS_VERSION").unwrap_or_else(|_| "2021-11-01".into()),
            token_secret: var("TOKEN_SECRET")?,
            webhook_secret: var("WEBHOOK_SECRET")?,
            service_key: var("SERVICE_KEY")?,
            operator_key: var("OPERATOR_KEY")?,
            due_shards: var("DUE_SHARDS").ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or(4),
            policy,
        })
    }
}

/// Secrets never reach a log line, even through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("mail_from", &self.mail_from)
            .field("terms_version", &self.terms_version)
            .field("due_shards", &self.due_shards)
            .finish_non_exhaustive()
    }
}
