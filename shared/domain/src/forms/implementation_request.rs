//! The implementation request form: its input, the valid request, the products it names and the
//! privacy answer it needs (§13.3 refuses embargoed countries and regions outright).

use super::input::{answered, names_embargoed_region, not_one_of, phone, text, I_ACCEPT, PRIVACY_REFUSED};
use crate::countries;
use crate::field::{FieldError, FieldErrors};
use crate::types::{required_line, required_text, CountryCode, Email};
use serde::{Deserialize, Serialize};

/// "Product version or services required": the value a partner's `products` list names, and its label.
pub const PRODUCTS: &[(&str, &str)] = &[
    ("cloud", "Bitrix24 Cloud"),
    ("on-premise", "Bitrix24 On-Premise (self-hosted)"),
    ("migration", "Migration from another system"),
    ("integration", "Integration and custom development"),
    ("training", "Training and onboarding"),
];

pub fn product_label(id: &str) -> &str {
    PRODUCTS.iter().find(|(p, _)| *p == id).map(|(_, l)| *l).unwrap_or(id)
}

/// The implementation request as sent (JSON or form). `website` is the honeypot: people leave it empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplementationRequestInput {
    #[serde(default, deserialize_with = "text")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub region: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub product: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub request: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub privacy: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub website: Option<String>,
}

impl ImplementationRequestInput {
    /// A filled honeypot: a bot. The caller pretends success and sends nothing.
    pub fn is_bot(&self) -> bool {
        super::input::honeypot_filled(self.website.as_deref())
    }
}

/// A valid implementation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplementationRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: String,
    pub country: CountryCode,
    pub region: String,
    /// One of `PRODUCTS`.
    pub product: String,
    pub request: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormRefusal {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// §13.3: answered with HTTP 451.
    #[error("requests from this country or region are not accepted (export control, §13.3)")]
    Embargoed,
}

fn product(field: &str, raw: Option<&str>) -> Result<String, FieldError> {
    let v = required_text(field, raw, 100)?.to_lowercase();
    match PRODUCTS.iter().find(|(id, label)| *id == v || label.to_lowercase() == v) {
        Some((id, _)) => Ok(id.to_string()),
        None => Err(not_one_of(field, PRODUCTS.iter().map(|(id, _)| *id))),
    }
}

/// "I accept" is the only answer that lets the request go (JSON `true` means the same).
fn privacy(field: &str, raw: Option<&str>) -> Result<(), FieldError> {
    let v = answered(field, raw)?;
    if v.eq_ignore_ascii_case(I_ACCEPT) || v == "true" {
        Ok(())
    } else {
        Err(FieldError::new(field, PRIVACY_REFUSED))
    }
}

impl ImplementationRequestInput {
    /// Every field is checked and every problem reported at once; an embargoed country or
    /// region (§13.3) is refused outright, whatever else is wrong.
    pub fn parse(&self) -> Result<ImplementationRequest, FormRefusal> {
        let mut errs = FieldErrors::default();
        let first_name = errs.take(required_line("first_name", self.first_name.as_deref(), 100));
        let last_name = errs.take(required_line("last_name", self.last_name.as_deref(), 100));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let phone = errs.take(phone("phone", self.phone.as_deref()));
        let country = errs.take(CountryCode::parse("country", self.country.as_deref()));
        let region = errs.take(required_line("region", self.region.as_deref(), 200));
        let product = errs.take(product("product", self.product.as_deref()));
        let request = errs.take(required_text("request", self.request.as_deref(), 5000));
        errs.take(privacy("privacy", self.privacy.as_deref()));
        let region_raw = self.region.as_deref().unwrap_or("");
        if country.is_some_and(|c| countries::is_embargoed(c.as_str(), None)) || names_embargoed_region(region_raw) {
            return Err(FormRefusal::Embargoed);
        }
        match (first_name, last_name, email, phone, country, region, product, request) {
            (
                Some(first_name),
                Some(last_name),
                Some(email),
                Some(phone),
                Some(country),
                Some(region),
                Some(product),
                Some(request),
            ) if errs.is_empty() => {
                Ok(ImplementationRequest { first_name, last_name, email, phone, country, region, product, request })
            }
            _ => Err(FormRefusal::Invalid(errs)),
        }
    }
}

/// A complete request and variations of it, for the tests of every form module.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::ImplementationRequestInput;
    use serde_json::json;

    pub(crate) fn complete() -> ImplementationRequestInput {
        serde_json::from_value(json!({
            "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com",
            "phone": "+44 20 7946 0958", "country": "gb", "region": "London",
            "product": "cloud", "request": "CRM for 40 people", "privacy": "I accept"
        }))
        .unwrap()
    }

    pub(crate) fn with(field: &str, value: serde_json::Value) -> ImplementationRequestInput {
        let mut v = serde_json::to_value(complete()).unwrap();
        v[field] = value;
        serde_json::from_value(v).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{complete, with};
    use super::*;
    use crate::field::REQUIRED;
    use crate::forms::I_DONT_ACCEPT;
    use serde_json::json;

    const FIELDS: [&str; 9] =
        ["first_name", "last_name", "email", "phone", "country", "region", "product", "request", "privacy"];

    fn errors(i: &ImplementationRequestInput) -> FieldErrors {
        match i.parse() {
            Err(FormRefusal::Invalid(e)) => e,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_parses_with_the_email_lowercased_and_the_country_uppercased() {
        let r = complete().parse().unwrap();
        assert_eq!(r.email.as_str(), "ada@example.com");
        assert_eq!(r.country, "GB");
        assert_eq!(r.product, "cloud");
        assert_eq!(r.region, "London");
    }

    #[test]
    fn each_missing_field_is_required_on_that_field_alone() {
        for field in FIELDS {
            for missing in [json!(null), json!(""), json!("   ")] {
                let e = errors(&with(field, missing.clone()));
                assert_eq!(e.0, vec![FieldError::new(field, REQUIRED)], "{field} = {missing}");
            }
        }
    }

    #[test]
    fn an_empty_request_names_every_field_in_form_order() {
        let e = errors(&ImplementationRequestInput::default());
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, FIELDS);
        assert!(e.0.iter().all(|e| e.message == REQUIRED));
    }

    #[test]
    fn i_dont_accept_is_refused_on_the_privacy_field() {
        let e = errors(&with("privacy", json!(I_DONT_ACCEPT)));
        assert_eq!(e.0, vec![FieldError::new("privacy", PRIVACY_REFUSED)]);
        assert_eq!(errors(&with("privacy", json!(false))).message_for("privacy"), Some(PRIVACY_REFUSED));
        assert_eq!(errors(&with("privacy", json!("maybe"))).message_for("privacy"), Some(PRIVACY_REFUSED));
    }

    #[test]
    fn i_accept_is_accepted_in_any_case_and_as_json_true() {
        assert!(with("privacy", json!("i ACCEPT")).parse().is_ok());
        assert!(with("privacy", json!(true)).parse().is_ok());
    }

    #[test]
    fn a_bad_email_is_named() {
        for bad in ["ada", "ada@example", "ada@@example.com", "a da@example.com"] {
            let e = errors(&with("email", json!(bad)));
            assert_eq!(e.message_for("email"), Some("must be an e-mail address"), "{bad}");
            assert_eq!(e.0.len(), 1);
        }
    }

    #[test]
    fn a_country_must_be_an_assigned_alpha_2_code() {
        assert!(errors(&with("country", json!("XX"))).message_for("country").is_some());
        assert!(errors(&with("country", json!("Germany"))).message_for("country").is_some());
    }

    #[test]
    fn an_embargoed_country_is_refused_even_with_other_errors() {
        for c in ["CU", "IR", "KP", "SD", "SY", "cu"] {
            assert_eq!(with("country", json!(c)).parse(), Err(FormRefusal::Embargoed), "{c}");
        }
        let mut i = with("country", json!("SY"));
        i.first_name = None;
        assert_eq!(i.parse(), Err(FormRefusal::Embargoed));
    }

    #[test]
    fn crimea_named_in_the_region_is_refused() {
        for r in ["Sevastopol", "Republic of Crimea", "UA-43", "Krym"] {
            let mut i = with("region", json!(r));
            i.country = Some("UA".into());
            assert_eq!(i.parse(), Err(FormRefusal::Embargoed), "{r}");
        }
        let mut kyiv = with("region", json!("Kyiv"));
        kyiv.country = Some("UA".into());
        assert!(kyiv.parse().is_ok());
    }

    #[test]
    fn the_product_is_one_of_the_listed_products_by_id_or_label() {
        assert_eq!(with("product", json!("Bitrix24 On-Premise (self-hosted)")).parse().unwrap().product, "on-premise");
        assert_eq!(with("product", json!("TRAINING")).parse().unwrap().product, "training");
        assert!(errors(&with("product", json!("a spaceship")))
            .message_for("product")
            .unwrap()
            .starts_with("must be one of"));
    }

    #[test]
    fn an_overlong_request_text_is_refused() {
        assert!(with("request", json!("x".repeat(5000))).parse().is_ok());
        assert!(errors(&with("request", json!("x".repeat(5001)))).message_for("request").is_some());
    }

    #[test]
    fn a_filled_honeypot_marks_a_bot() {
        assert!(!complete().is_bot());
        assert!(!with("website", json!("  ")).is_bot());
        assert!(with("website", json!("http://spam.example")).is_bot());
    }
}
