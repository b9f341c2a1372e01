//! The copyright notice (§15.1, §15.3): its six elements a–f, and the account a location names.

use super::input::{flag, phone, text};
use crate::field::{must_be_true, FieldErrors};
use crate::types::{required_line, required_text, DomainLabel, Email};
use serde::{Deserialize, Serialize};

/// A notice of claimed infringement with the six elements a–f of §15.1.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CopyrightNoticeInput {
    /// (a) physical or electronic signature of the person authorized to act.
    #[serde(default, deserialize_with = "text")]
    pub signature: Option<String>,
    /// (b) the copyrighted work claimed to be infringed.
    #[serde(default, deserialize_with = "text")]
    pub work: Option<String>,
    /// (c) where the infringing material is (URL, host or account domain).
    #[serde(default, deserialize_with = "text")]
    pub location: Option<String>,
    /// (d) address, telephone number and e-mail address.
    #[serde(default, deserialize_with = "text")]
    pub contact_address: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub contact_phone: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub contact_email: Option<String>,
    /// (e) good-faith belief that the use is not authorized.
    #[serde(default, deserialize_with = "flag")]
    pub good_faith: Option<bool>,
    /// (f) the information is accurate, under penalty of perjury, and the sender is authorized.
    #[serde(default, deserialize_with = "flag")]
    pub perjury: Option<bool>,
    /// The honeypot: people leave it empty.
    #[serde(default, deserialize_with = "text")]
    pub website: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyrightNotice {
    pub signature: String,
    pub work: String,
    pub location: String,
    pub contact_address: String,
    pub contact_phone: String,
    pub contact_email: Email,
}

impl CopyrightNoticeInput {
    pub fn is_bot(&self) -> bool {
        super::input::honeypot_filled(self.website.as_deref())
    }

    pub fn parse(&self) -> Result<CopyrightNotice, FieldErrors> {
        let mut errs = FieldErrors::default();
        let signature = errs.take(required_line("signature", self.signature.as_deref(), 200));
        let work = errs.take(required_text("work", self.work.as_deref(), 5000));
        let location = errs.take(required_line("location", self.location.as_deref(), 2000));
        let contact_address = errs.take(required_text("contact_address", self.contact_address.as_deref(), 500));
        let contact_phone = errs.take(phone("contact_phone", self.contact_phone.as_deref()));
        let contact_email = errs.take(Email::parse("contact_email", self.contact_email.as_deref()));
        errs.take(must_be_true(
            "good_faith",
            self.good_faith,
            "must be true: a statement of good-faith belief that the use is not authorized (§15.1 e)",
        ));
        errs.take(must_be_true(
            "perjury",
            self.perjury,
            "must be true: a statement, under penalty of perjury, that the notice is accurate (§15.1 f)",
        ));
        match (signature, work, location, contact_address, contact_phone, contact_email) {
            (
                Some(signature),
                Some(work),
                Some(location),
                Some(contact_address),
                Some(contact_phone),
                Some(contact_email),
            ) if errs.is_empty() => {
                Ok(CopyrightNotice { signature, work, location, contact_address, contact_phone, contact_email })
            }
            _ => Err(errs),
        }
    }
}

/// The account label a location names: `https://acme.<base>/path`, `acme.<base>` or plain `acme`.
/// Subdomains (`files.acme.<base>`) name their account; other hosts name none.
pub fn account_label(location: &str, base_domain: &str) -> Option<DomainLabel> {
    let v = location.trim().to_lowercase();
    let base = base_domain.trim().trim_matches('.').to_lowercase();
    let rest = v.split_once("://").map(|(_, r)| r).unwrap_or(&v);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = host_port.split(':').next().unwrap_or("").trim_end_matches('.');
    let label = if let Some(prefix) = host.strip_suffix(&base).and_then(|p| p.strip_suffix('.')) {
        prefix.rsplit('.').next().unwrap_or("")
    } else if !v.contains(['.', '/', ':', '@']) {
        host
    } else {
        return None;
    };
    DomainLabel::parse("location", Some(label)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldError, REQUIRED};
    use serde_json::json;

    const NOTICE_FIELDS: [&str; 8] =
        ["signature", "work", "location", "contact_address", "contact_phone", "contact_email", "good_faith", "perjury"];

    fn notice(over: serde_json::Value) -> CopyrightNoticeInput {
        let mut v = json!({
            "signature": "/Jane Roe/", "work": "Photo 'Sunrise'", "location": "https://acme.saas.local/gallery/1",
            "contact_address": "1 Main St, Springfield", "contact_phone": "+1 555 010 2030",
            "contact_email": "jane@example.com", "good_faith": true, "perjury": "on"
        });
        for (k, x) in over.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_notice_with_all_six_elements_parses() {
        let n = notice(json!({})).parse().unwrap();
        assert_eq!(n.contact_email.as_str(), "jane@example.com");
    }

    #[test]
    fn each_missing_element_of_a_notice_is_required() {
        for f in NOTICE_FIELDS {
            let e = notice(json!({ f: null })).parse().unwrap_err();
            assert_eq!(e.0, vec![FieldError::new(f, REQUIRED)], "{f}");
        }
    }

    #[test]
    fn the_good_faith_and_perjury_statements_must_be_true() {
        let e = notice(json!({"good_faith": false, "perjury": "false"})).parse().unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert!(e.message_for("good_faith").unwrap().starts_with("must be true"));
        assert!(e.message_for("perjury").unwrap().starts_with("must be true"));
    }

    #[test]
    fn a_location_names_the_account_by_url_host_or_label() {
        let b = "saas.local";
        assert_eq!(
            account_label("https://acme.saas.local/gallery/1?x=1", b).as_ref().map(DomainLabel::as_str),
            Some("acme")
        );
        assert_eq!(
            account_label("HTTP://Files.Acme.SAAS.local:8443/", b).as_ref().map(DomainLabel::as_str),
            Some("acme")
        );
        assert_eq!(account_label("acme.saas.local", b).as_ref().map(DomainLabel::as_str), Some("acme"));
        assert_eq!(account_label(" acme ", b).as_ref().map(DomainLabel::as_str), Some("acme"));
        assert_eq!(account_label("https://saas.local/acme", b), None);
        assert_eq!(account_label("https://evil-saas.local/", b), None);
        assert_eq!(account_label("https://acme.example.org/", b), None);
        assert_eq!(account_label("www.saas.local", b), None, "reserved labels are no account");
        assert_eq!(account_label("", b), None);
    }
}
