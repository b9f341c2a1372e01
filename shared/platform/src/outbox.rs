//! Delivery of outbox mail: send, then mark sent. A failure leaves the mail for the sweep.

use crate::items::OutboxMail;
use crate::mailer::{Mailer, OutgoingMail};
use crate::store::Store;
use chrono::{DateTime, Utc};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: usize,
    pub failed: usize,
}

/// Sends mails this caller holds the lease of. Between a successful send and the mark the mail
/// could be sent again after a crash; the lease keeps two live senders from both sending it.
pub async fn deliver(store: &Store, mailer: &dyn Mailer, mails: &[OutboxMail], now: DateTime<Utc>) -> Delivery {
    let mut d = Delivery::default();
    for m in mails {
        let out = OutgoingMail { to: m.to.clone(), subject: m.subject.clone(), text: m.text.clone() };
        let result = match mailer.send(&out).await {
            Ok(id) => store.mark_sent(m, &id, now).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => d.sent += 1,
            Err(e) => {
                d.failed += 1;
                tracing::warn!(mail = %m.key, error = format!("{e:#}"), "mail left in the outbox for the next sweep");
            }
        }
    }
    d
}
