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

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; returns the provider's message id.
    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<String>;
}

pub struct SesMailer {
    client: aws_sdk_ses::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_ses::Client, from: &str) -> Self {
        SesMailer { client, from: from.to_string() }
    }
}

fn content(s: &str) -> anyhow::Result<Content> {
    Content::builder().data(s).charset("UTF-8").build().context("mail content")
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<String> {
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
            .send()
            .await
            .context("SES SendEmail")?;
        Ok(out.message_id().to_string())
    }
}
