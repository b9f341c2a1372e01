//! Delivery of outbox mail: send, then mark sent. A failure is recorded on the mail, which
//! waits for a later try, or is set aside as failed (SPEC: Public surface).

use crate::mailer::{MailError, Mailer, OutgoingMail};
use crate::repo::outbox::{Outbox, OutboxMail, Released};
use chrono::{DateTime, Utc};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: usize,
    pub failed: usize,
    /// Of the failed: set aside for good by this delivery.
    pub set_aside: usize,
}

/// Sends mails this caller holds the lease of. Between a successful send and the mark the mail
/// could be sent again after a crash; the lease keeps two live senders from both sending it.
pub async fn deliver(outbox: &Outbox, mailer: &dyn Mailer, mails: &[OutboxMail], now: DateTime<Utc>) -> Delivery {
    let mut d = Delivery::default();
    for m in mails {
        let to = m.to.iter().map(|e| e.as_str().to_string()).collect();
        let out = OutgoingMail { to, subject: m.subject.clone(), text: m.text.clone() };
        let (error, permanent) = match mailer.send(&out).await {
            Ok(id) => match outbox.mark_sent(m, &id, now).await {
                Ok(()) => {
                    d.sent += 1;
                    continue;
                }
                // Sent, but not marked: the lease runs out and it may go again (at least once).
                Err(e) => {
                    d.failed += 1;
                    tracing::warn!(mail = %m.key, error = format!("{e:#}"), "mail sent but not marked sent");
                    continue;
                }
            },
            Err(MailError::Permanent(e)) => (e, true),
            Err(MailError::Transient(e)) => (format!("{e:#}"), false),
        };
        d.failed += 1;
        match outbox.release(m, &error, permanent).await {
            Ok(Released::Failed) => {
                d.set_aside += 1;
                tracing::error!(mail = %m.key, attempts = m.attempts, error, "mail set aside as failed");
            }
            Ok(Released::RetryAt(at)) => {
                tracing::warn!(mail = %m.key, attempts = m.attempts, retry_at = at, error, "mail will be tried again")
            }
            Err(e) => {
                tracing::warn!(mail = %m.key, error = format!("{e:#}"), "mail failure not recorded; its lease runs out")
            }
        }
    }
    d
}
