//! Lenient form input shared by every public form: text and checkbox deserializers, phone and
//! region checks, the texts of the seed's form and the per-sender limits.

use crate::field::FieldError;
use crate::types::required_text;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Texts of the seed's form (end of the Terms page), shown as they are written there.
pub const REQUEST_SENT: &str = "Request has been sent!";
pub const FORM_DISABLED: &str = "The form is disabled";
pub const RESEND: &str = "Resend";
pub const I_ACCEPT: &str = "I accept";
pub const I_DONT_ACCEPT: &str = "I don't accept";
pub const PRIVACY_STATEMENT: &str = "I acknowledge that I have read and understood Bitrix24 Privacy Policy and agree to be contacted by authorized Bitrix24 partners";
pub const PRIVACY_REFUSED: &str = "You must accept to be contacted by partners to send the request";

/// Limits of the public forms (per sender and per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormLimits {
    /// Accepted implementation requests per e-mail address per hour.
    pub per_email_per_hour: u32,
    /// Accepted implementation requests per source IP per hour.
    pub per_ip_per_hour: u32,
    /// Re-sent confirmations per request.
    pub resends_per_request: u32,
}

impl FormLimits {
    pub fn per_ip(&self) -> crate::limits::Rule {
        crate::limits::Rule { name: "implementation-ip", max: self.per_ip_per_hour }
    }
    pub fn per_recipient(&self) -> crate::limits::Rule {
        crate::limits::Rule { name: "implementation-to", max: self.per_email_per_hour }
    }
}

impl Default for FormLimits {
    fn default() -> Self {
        FormLimits { per_email_per_hour: 5, per_ip_per_hour: 20, resends_per_request: 3 }
    }
}

/// Form posts carry text; JSON callers may send a number (a phone) or a boolean: all read as text.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(D::Error::custom("must be text")),
    }
}

/// A statement the sender confirms: JSON `true`, or a checked box (`on`, `true`, `yes`, `1`).
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "on" | "yes" | "1" => Ok(Some(true)),
            "false" | "off" | "no" | "0" => Ok(Some(false)),
            _ => Err(D::Error::custom("must be true or false")),
        },
        Some(_) => Err(D::Error::custom("must be true or false")),
    }
}

/// A choice field's answer, trimmed: missing, empty or blank is "required".
pub(crate) fn answered<'a>(field: &str, raw: Option<&'a str>) -> Result<&'a str, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Err(FieldError::required(field)),
        Some(v) => Ok(v),
    }
}

/// A choice field's answer that is none of the `allowed` values.
pub(crate) fn not_one_of<'a>(field: &str, allowed: impl IntoIterator<Item = &'a str>) -> FieldError {
    FieldError::new(field, format!("must be one of: {}", allowed.into_iter().collect::<Vec<_>>().join(", ")))
}

/// A phone number as people write it: digits with `+ - ( ) . /` and spaces, 5 to 20 digits.
pub fn phone(field: &str, raw: Option<&str>) -> Result<String, FieldError> {
    let v = required_text(field, raw, 40)?;
    let allowed = v.chars().all(|c| c.is_ascii_digit() || " +-().,/".contains(c));
    let plus_ok = v.char_indices().all(|(i, c)| c != '+' || i == 0);
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if allowed && plus_ok && (5..=20).contains(&digits) {
        Ok(v)
    } else {
        Err(FieldError::new(field, "must be a phone number"))
    }
}

/// §13.3: Crimea named in a free-text city/state/region field (any country: the region is disputed).
pub fn names_embargoed_region(region: &str) -> bool {
    let r = region.to_lowercase();
    ["crimea", "krym", "sevastopol", "sebastopol", "ua-43", "ua-40", "крым", "севастопол"].iter().any(|w| r.contains(w))
}

/// The honeypot every form carries (`website`, hidden from people): filled in, the sender is a bot,
/// and the caller answers as if accepted while storing and sending nothing.
pub fn honeypot_filled(website: Option<&str>) -> bool {
    website.is_some_and(|w| !w.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::implementation_request::fixtures::with;
    use crate::forms::ImplementationRequestInput;
    use serde_json::json;

    #[test]
    fn a_phone_has_five_to_twenty_digits_and_only_phone_characters() {
        for good in ["12345", "+1 (555) 010-2030", "030/1234567", "5550102030"] {
            assert!(phone("phone", Some(good)).is_ok(), "{good}");
        }
        for bad in ["1234", "call me", "+1 555 +1", "123456789012345678901", "12345 ext. 6"] {
            assert_eq!(phone("phone", Some(bad)).unwrap_err().message, "must be a phone number", "{bad}");
        }
        assert!(with("phone", json!(4420794609_i64)).parse().is_ok(), "a JSON number is read as text");
    }

    #[test]
    fn a_nested_value_is_a_type_error_not_a_panic() {
        let r: Result<ImplementationRequestInput, _> = serde_json::from_value(json!({"first_name": {"a": 1}}));
        assert!(r.is_err());
    }
}
