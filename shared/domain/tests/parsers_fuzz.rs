//! Property tests of the input parsers: arbitrary input never panics, and what parses is valid
//! and stable. `make test` runs the default number of cases; `make fuzz` runs many more.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's failure is a panic")]

use domain::forms::ImplementationRequestInput;
use domain::signup::SignupRequest;
use domain::types::{CountryCode, DomainLabel, Email, Password, RegionCode};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "[a-z0-9@._ -]{0,70}".prop_map(Some),
        "[A-Za-z]{2}(-[A-Za-z0-9]{1,4})?".prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn a_domain_label_that_parses_is_valid_and_parses_to_itself(raw in text()) {
        if let Ok(l) = DomainLabel::parse("domain", raw.as_deref()) {
            let v = l.as_str();
            prop_assert!((3..=63).contains(&v.len()));
            prop_assert!(v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            prop_assert!(!v.starts_with('-') && !v.ends_with('-'));
            prop_assert_eq!(DomainLabel::parse("domain", Some(v)).unwrap(), l.clone());
        }
    }

    #[test]
    fn an_email_that_parses_is_lower_case_with_one_at_and_is_stable(raw in text()) {
        if let Ok(e) = Email::parse("email", raw.as_deref()) {
            let v = e.as_str();
            prop_assert_eq!(v.matches('@').count(), 1);
            prop_assert_eq!(v.to_lowercase(), v);
            prop_assert_eq!(Email::parse("email", Some(v)).unwrap(), e.clone());
        }
    }

    #[test]
    fn country_region_and_password_parsers_never_panic(c in text(), r in any::<String>(), p in text()) {
        if let Ok(cc) = CountryCode::parse("country", c.as_deref()) {
            prop_assert_eq!(cc.as_str().len(), 2);
            let _ = RegionCode::parse("region", &r, cc);
        }
        if let Ok(pw) = Password::parse("password", p.as_deref()) {
            prop_assert!(pw.expose().chars().count() >= Password::MIN_CHARS);
        }
    }

    #[test]
    fn a_whole_signup_never_panics_and_refuses_with_named_fields(
        company in text(), domain in text(), email in text(), password in text(), country in text(),
        region in text(), accept in any::<Option<bool>>(), version in text(), age in any::<Option<bool>>(),
    ) {
        let req = SignupRequest {
            company, domain, first_name: Some("Ann".into()), last_name: Some("Lee".into()), email, password,
            country, region, accept_terms: accept, terms_version: version, legal_age: age,
        };
        if let Err(domain::signup::SignupRefusal::Invalid(errs)) = req.parse("2021-11-01") {
            prop_assert!(!errs.is_empty());
            prop_assert!(errs.0.iter().all(|e| !e.field.is_empty() && !e.message.is_empty()));
        }
    }

    #[test]
    fn an_implementation_request_never_panics(
        first in text(), email in text(), phone in text(), country in text(), region in text(), privacy in text(),
    ) {
        let input = ImplementationRequestInput {
            first_name: first, email, phone, country, region, privacy,
            ..Default::default()
        };
        let _ = input.parse();
    }
}
