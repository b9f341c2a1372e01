//! The keys a function holds, read from AWS Secrets Manager (locally: moto's, seeded by
//! `infra/bootstrap.py seed-secrets` from `infra/local.env`).
//!
//! Each function declares the secrets it uses (`App::from_env(&[Secret::Token, …])`) and the
//! template grants it exactly those, so the public form function cannot read the key that signs
//! administrators' tokens. They are read once per sandbox, on the first invocation that needs
//! them (`load`), not at start: the cold start stays the binary's own. A rotated value reaches new
//! sandboxes; old ones keep theirs until Lambda retires them.

use anyhow::{anyhow, Context, Result};
use futures_util::future::try_join_all;
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// One secret; the environment names where to find it (its ARN on AWS, its name locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Secret {
    /// Signs (and verifies) administrators' bearer tokens.
    Token,
    /// Keys the hashes that name rate-limit counters (a source IP or an address is never stored),
    /// so the functions that only count need not hold the token key.
    RateKey,
    /// The product's `x-service-key`.
    ServiceKey,
    /// The operator's `x-operator-key`.
    OperatorKey,
    /// Stripe's secret API key.
    StripeKey,
    /// Verifies Stripe's webhook signatures.
    StripeWebhook,
}

impl Secret {
    pub const ALL: [Secret; 6] = [
        Secret::Token,
        Secret::RateKey,
        Secret::ServiceKey,
        Secret::OperatorKey,
        Secret::StripeKey,
        Secret::StripeWebhook,
    ];

    /// The environment variable holding the secret's id (ARN or name).
    pub fn env(self) -> &'static str {
        match self {
            Secret::Token => "TOKEN_SECRET_ARN",
            Secret::RateKey => "RATE_KEY_ARN",
            Secret::ServiceKey => "SERVICE_KEY_ARN",
            Secret::OperatorKey => "OPERATOR_KEY_ARN",
            Secret::StripeKey => "STRIPE_SECRET_KEY_ARN",
            Secret::StripeWebhook => "STRIPE_WEBHOOK_SECRET_ARN",
        }
    }
}

/// The declared secrets of one function, fetched once.
pub struct Secrets {
    declared: Vec<Secret>,
    client: Option<aws_sdk_secretsmanager::Client>,
    values: OnceCell<HashMap<Secret, String>>,
}

impl Secrets {
    /// Secrets this function may read, from Secrets Manager when first needed.
    pub fn from_manager(client: aws_sdk_secretsmanager::Client, declared: &[Secret]) -> Secrets {
        Secrets { declared: declared.to_vec(), client: Some(client), values: OnceCell::new() }
    }

    /// Values given directly (tests and tools): declared and loaded already.
    pub fn fixed(values: HashMap<Secret, String>) -> Secrets {
        let declared = values.keys().copied().collect();
        Secrets { declared, client: None, values: OnceCell::new_with(Some(values)) }
    }

    /// Fetches every declared secret, side by side, the first time; then nothing. A failure is
    /// not remembered: the next invocation tries again.
    pub async fn load(&self) -> Result<()> {
        self.values
            .get_or_try_init(|| async {
                let Some(client) = &self.client else {
                    return Err(anyhow!("no Secrets Manager client"));
                };
                let fetched = try_join_all(self.declared.iter().map(|s| fetch(client, *s))).await?;
                Ok::<_, anyhow::Error>(self.declared.iter().copied().zip(fetched).collect())
            })
            .await?;
        Ok(())
    }

    /// A declared secret, once `load` has run. Asking for one the function did not declare is an
    /// error, so a missing grant shows up in tests rather than as an empty key.
    pub fn get(&self, s: Secret) -> Result<&str> {
        if !self.declared.contains(&s) {
            return Err(anyhow!("secret {s:?} is not declared by this function"));
        }
        let values = self.values.get().ok_or_else(|| anyhow!("secrets not loaded yet"))?;
        values.get(&s).map(String::as_str).ok_or_else(|| anyhow!("secret {s:?} missing"))
    }

    pub fn declared(&self) -> &[Secret] {
        &self.declared
    }
}

async fn fetch(client: &aws_sdk_secretsmanager::Client, s: Secret) -> Result<String> {
    let id = std::env::var(s.env()).with_context(|| format!("environment variable {} is not set", s.env()))?;
    let out = client
        .get_secret_value()
        .secret_id(&id)
        .send()
        .await
        .map_err(|e| anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
        .with_context(|| format!("reading secret {}", s.env()))?;
    let value = out.secret_string().ok_or_else(|| anyhow!("secret {} has no string value", s.env()))?;
    if value.trim().is_empty() {
        return Err(anyhow!("secret {} is empty", s.env()));
    }
    Ok(value.to_string())
}

impl std::fmt::Debug for Secrets {
    // The values never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("declared", &self.declared).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_declared_secret_is_there_and_another_is_refused() {
        let s = Secrets::fixed(HashMap::from([(Secret::Token, "s3cr3t-value".to_string())]));
        s.load().await.unwrap();
        assert_eq!(s.get(Secret::Token).unwrap(), "s3cr3t-value");
        assert!(s.get(Secret::OperatorKey).unwrap_err().to_string().contains("not declared"));
        assert!(!format!("{s:?}").contains("s3cr3t"), "a value never reaches Debug");
    }

    #[test]
    fn nothing_is_readable_before_load() {
        let client = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
                .build(),
        );
        let s = Secrets::from_manager(client, &[Secret::Token]);
        assert!(s.get(Secret::Token).unwrap_err().to_string().contains("not loaded"));
    }
}
