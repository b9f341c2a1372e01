//! The mail port and its SES adapter.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
}

/// Why a mail was not sent: worth another try later, or never (SES refused the message itself).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("refused for good: {0}")]
    Permanent(String),
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; returns the provider's message id.
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError>;
    /// Messages per second the provider accepts from this account (`None`: unknown).
    async fn max_send_rate(&self) -> Option<f64> {
        None
    }
}

/// SES error codes that no retry can change: the message or an address in it is refused.
const PERMANENT: [&str; 3] = ["MessageRejected", "InvalidParameterValue", "MailFromDomainNotVerified"];

pub struct SesMailer {
    client: aws_sdk_ses::Client,
    from: String,
    /// `SES_CONFIGURATION_SET` (on AWS): its bounce and complaint events reach the operator.
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, from: &str) -> Self {
        let configuration_set = std::env::var("SES_CONFIGURATION_SET").ok().filter(|s| !s.is_empty());
        SesMailer { client, from: from.to_string(), configuration_set }
    }
}

fn content(s: &str) -> anyhow::Result<Content> {
    Content::builder().data(s).charset("UTF-8").build().context("mail content")
}

#[async_trait]
impl Mailer for SesMailer {
    async fn max_send_rate(&self) -> Option<f64> {
        match self.client.get_send_quota().send().await {
            Ok(q) => Some(q.max_send_rate()).filter(|r| *r > 0.0),
            Err(e) => {
                tracing::warn!(error = %aws_sdk_ses::error::DisplayErrorContext(&e), "SES GetSendQuota failed");
                None
            }
        }
    }

    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.text)?).build())
            .build();
        let out = self
            .client
            .send_email()
            .source(&self.from)
            .destination(Destination::builder().set_to_addresses(Some(mail.to.clone())).build())
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.message_id().to_string()),
            Err(e) => {
                use aws_sdk_ses::error::ProvideErrorMetadata;
                match e.code() {
                    Some(code) if PERMANENT.contains(&code) => {
                        Err(MailError::Permanent(format!("{code}: {}", e.message().unwrap_or_default())))
                    }
                    _ => Err(MailError::Transient(anyhow::Error::new(e).context("SES SendEmail"))),
                }
            }
        }
    }
}
