//! The text of the payment notices: receipts (amount, currency, plan, term, contracting party),
//! declined renewals, renewals that charge nothing, and payments that could not be applied.

use crate::account::Account;
use crate::notice::{NoticeKind, PaymentNote};
use crate::time::mail_time;

fn day(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(mail_time).unwrap_or_default()
}

/// Subject and text of a payment notice.
pub fn render(kind: NoticeKind, note: Option<&PaymentNote>, a: &Account) -> (String, String) {
    let portal = &a.domain;
    let Some(p) = note else {
        return (format!("{portal}: about a payment"), String::new());
    };
    let party = &a.contracting_party;
    match kind {
        NoticeKind::Receipt => {
            let mut lines = vec![
                format!("Amount paid: {} (exclusive of tax, §7.5)", p.amount.display()),
                format!("Plan: {} for the term {} to {}", p.plan, day(p.term_start), day(p.term_end)),
            ];
            if p.proration > 0 {
                let part = crate::money::Money::new(p.proration, &p.amount.currency);
                lines.push(format!("Of which upgrade of the running term (prorated): {}", part.display()));
            }
            lines.push(format!("Contracting party: {}; legal notices to {} (§28).", party.name, party.notices_email));
            lines.push(format!("Payment reference: {}", p.reference));
            (format!("{portal}: receipt for {}", p.amount.display()), lines.join("\n"))
        }
        NoticeKind::RenewalFailed => {
            let next = match p.next_retry {
                Some(t) => format!("We will try again on {}.", mail_time(t)),
                None => "There will be no further attempt.".to_string(),
            };
            (
                format!("{portal}: the renewal payment of {} did not go through", p.amount.display()),
                format!(
                    "The charge of {} for the {} plan did not go through: {}.\n{next}\n\
                     You can pay in the portal at any time; your term ended {} (§7.3).",
                    p.amount.display(),
                    p.plan,
                    p.reason.as_deref().unwrap_or("declined"),
                    day(p.term_start)
                ),
            )
        }
        NoticeKind::RenewalNotCharged => (
            format!("{portal}: your next term will not be charged"),
            format!(
                "Automatic renewal is on, but nothing will be charged for the term starting {}: {}.\n\
                 Choose another plan or buy one in the portal before then (§7.4, §7.7).",
                day(p.term_start),
                p.reason.as_deref().unwrap_or("no plan can be charged")
            ),
        ),
        _ => (
            format!("{portal}: a payment of {} could not be applied", p.amount.display()),
            format!(
                "We received {} (reference {}) but could not apply it to your account: {}.\n\
                 A person will refund it (§7.5); you need do nothing.",
                p.amount.display(),
                p.reference,
                p.reason.as_deref().unwrap_or("it matched nothing we asked for")
            ),
        ),
    }
}
