//! The text of every mail the public forms send: the partner's lead and the requester's
//! confirmation, the copyright notice's acknowledgement and forward, and the data-request mails.

use super::copyright::CopyrightNotice;
use super::data_request::DataRequestRecord;
use super::implementation_request::{product_label, ImplementationRequest};
use super::input::REQUEST_SENT;
use super::partners::MAX_PARTNERS;
use crate::notice::Mail;
use crate::time::mail_time;

/// The plural "s" of a noun counted `n` times.
fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) {
        ""
    } else {
        "s"
    }
}

/// The lead a partner receives.
pub fn lead_mail(r: &ImplementationRequest, partner_name: &str, request_id: &str) -> Mail {
    Mail {
        subject: format!("Bitrix24 implementation request from {} {} ({})", r.first_name, r.last_name, r.country),
        text: format!(
            "Hello {partner_name},\n\n\
             A new Bitrix24 implementation request was sent to you and up to {MAX_PARTNERS} certified partners.\n\
             The requester agreed to be contacted by authorized Bitrix24 partners. Treat these details as \
             strictly confidential.\n\n\
             Name: {} {}\nE-mail: {}\nPhone: {}\nCountry: {}\nCity / State / Region: {}\n\
             Product version or services required: {}\n\nImplementation Request:\n{}\n\n\
             Request id: {request_id}\n",
            r.first_name,
            r.last_name,
            r.email.as_str(),
            r.phone,
            r.country,
            r.region,
            product_label(&r.product),
            r.request,
        ),
    }
}

/// The requester's confirmation (also what "Resend" sends again).
pub fn confirmation_mail(r: &ImplementationRequest, partner_names: &[String], request_id: &str, resent: bool) -> Mail {
    let routed = if partner_names.is_empty() {
        "No certified partner serves your country and product at the moment. Your request is on record \
         with Bitrix24."
            .to_string()
    } else {
        format!(
            "It was sent to {} certified partner{}, who will contact you at {} or {}:\n{}",
            partner_names.len(),
            plural(partner_names.len()),
            r.email.as_str(),
            r.phone,
            partner_names.iter().map(|n| format!("- {n}")).collect::<Vec<_>>().join("\n"),
        )
    };
    Mail {
        subject: format!("{}Your Bitrix24 implementation request", if resent { "(Resent) " } else { "" }),
        text: format!(
            "Hello {},\n\n{REQUEST_SENT}\n\n{routed}\n\n\
             Product version or services required: {}\nImplementation Request:\n{}\n\n\
             All personal information is treated as strictly confidential by Bitrix24 and our Partners.\n\
             Request id: {request_id}\n",
            r.first_name,
            product_label(&r.product),
            r.request,
        ),
    }
}

fn copyright_elements(n: &CopyrightNotice) -> String {
    format!(
        "(a) Signature: {}\n(b) Work claimed to be infringed: {}\n(c) Location of the material: {}\n\
         (d) Contact: {}; {}; {}\n(e) Good-faith statement: given\n(f) Statement under penalty of perjury: given\n",
        n.signature,
        n.work,
        n.location,
        n.contact_address,
        n.contact_phone,
        n.contact_email.as_str(),
    )
}

/// Acknowledgement to the sender of a copyright notice.
pub fn copyright_ack_mail(n: &CopyrightNotice, notice_id: &str) -> Mail {
    Mail {
        subject: format!("We received your copyright notice {notice_id}"),
        text: format!(
            "We received your notice of claimed copyright infringement (§15.1) and will review it.\n\n{}\n\
             Notice id: {notice_id}\n",
            copyright_elements(n)
        ),
    }
}

/// The notice as forwarded to the administrators of the account the location names.
pub fn copyright_forward_mail(n: &CopyrightNotice, notice_id: &str, portal: &str) -> Mail {
    Mail {
        subject: format!("{portal}: copyright infringement notice {notice_id}"),
        text: format!(
            "We received a notice claiming that material in your account {portal} infringes a copyright \
             (§15.1). Please review the material. Material may be removed, and accounts of repeat \
             infringers terminated (§15.3).\n\n{}\nNotice id: {notice_id}\n",
            copyright_elements(n)
        ),
    }
}

fn data_request_body(r: &DataRequestRecord) -> String {
    format!(
        "Kind: {}\nFrom: {} <{}>\nReceived: {}\nRespond by: {}\n\nDetails:\n{}\n\nRequest id: {}\n",
        r.kind.as_str(),
        r.name,
        r.email,
        mail_time(r.received_at),
        mail_time(r.respond_by),
        r.details,
        r.id
    )
}

/// The request as forwarded to the account's administrators.
pub fn data_request_forward_mail(r: &DataRequestRecord) -> Mail {
    Mail {
        subject: format!(
            "{}: personal data {} request, respond by {}",
            r.domain,
            r.kind.as_str(),
            mail_time(r.respond_by)
        ),
        text: format!(
            "A person asks for {} of personal data held in your account {} (§5.5, §26.5). Please answer \
             them directly at {} by {}.\n\n{}",
            r.kind.as_str(),
            r.domain,
            r.email,
            mail_time(r.respond_by),
            data_request_body(r)
        ),
    }
}

/// Acknowledgement to the person who made the request.
pub fn data_request_ack_mail(r: &DataRequestRecord) -> Mail {
    Mail {
        subject: format!("Your personal data {} request for {}", r.kind.as_str(), r.domain),
        text: format!(
            "Hello {},\n\nWe forwarded your request to the administrators of {}, who control the data in that \
             account. They are asked to answer you by {}.\n\n{}",
            r.name,
            r.domain,
            mail_time(r.respond_by),
            data_request_body(r)
        ),
    }
}

/// A reminder to the account's administrators, `days_before` the respond-by date.
pub fn data_request_reminder_mail(r: &DataRequestRecord, days_before: i64) -> Mail {
    Mail {
        subject: format!("{}: personal data request due in {days_before} day{}", r.domain, plural(days_before)),
        text: format!(
            "Reminder: the personal data {} request below must be answered by {} (§5.5, §26.5).\n\n{}",
            r.kind.as_str(),
            mail_time(r.respond_by),
            data_request_body(r)
        ),
    }
}

/// To the account's administrators once the respond-by date has passed.
pub fn data_request_overdue_mail(r: &DataRequestRecord) -> Mail {
    Mail {
        subject: format!("{}: personal data request overdue", r.domain),
        text: format!(
            "The personal data {} request below was due on {} and is now overdue (§5.5, §26.5).\n\n{}",
            r.kind.as_str(),
            mail_time(r.respond_by),
            data_request_body(r)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::implementation_request::fixtures::complete;

    #[test]
    fn the_lead_carries_the_requesters_details_and_the_confirmation_names_the_partners() {
        let r = complete().parse().unwrap();
        let lead = lead_mail(&r, "Thames CRM", "req-1");
        for needle in [
            "Ada Lovelace",
            "ada@example.com",
            "+44 20 7946 0958",
            "London",
            "Bitrix24 Cloud",
            "CRM for 40 people",
            "req-1",
        ] {
            assert!(lead.text.contains(needle) || lead.subject.contains(needle), "{needle}");
        }
        let c = confirmation_mail(&r, &["Thames CRM".into(), "Rheinwerk".into()], "req-1", false);
        assert!(
            c.text.contains(REQUEST_SENT) && c.text.contains("- Thames CRM") && c.text.contains("2 certified partners")
        );
        assert!(confirmation_mail(&r, &[], "req-1", true).subject.starts_with("(Resent)"));
    }
}
