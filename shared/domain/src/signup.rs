//! Signup input (SPEC: Signup; §1.3, §4, §13, §28): parsed into values that can only be valid.

use crate::countries::{rule_for, ContractingParty, CountryRule};
use crate::field::{must_be_true, FieldError, FieldErrors};
use crate::types::{required_line, CountryCode, DomainLabel, Email, Password, RegionCode};
use serde::Deserialize;

/// The request body as sent; every field optional so a missing one is named, not a parse failure.
#[derive(Debug, Default, Deserialize)]
pub struct SignupRequest {
    pub company: Option<String>,
    pub domain: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub accept_terms: Option<bool>,
    pub terms_version: Option<String>,
    pub legal_age: Option<bool>,
}

#[derive(Debug)]
pub struct Signup {
    pub company: String,
    pub domain: DomainLabel,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub password: Password,
    pub country: CountryCode,
    pub region: Option<RegionCode>,
    pub terms_version: String,
    pub party: ContractingParty,
}

#[derive(Debug, thiserror::Error)]
pub enum SignupRefusal {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// §13.3: HTTP 451.
    #[error("signups from this country or region are not permitted (export control)")]
    Embargoed,
    /// §28: the Terms do not cover this country.
    #[error("the service is not offered in this country under these Terms")]
    CountryNotServed,
}

impl SignupRequest {
    pub fn parse(self, current_terms: &str) -> Result<Signup, SignupRefusal> {
        let mut errs = FieldErrors::default();
        let company = errs.take(required_line("company", self.company.as_deref(), 200));
        let domain = errs.take(DomainLabel::parse("domain", self.domain.as_deref()));
        let first_name = errs.take(required_line("first_name", self.first_name.as_deref(), 100));
        let last_name = errs.take(required_line("last_name", self.last_name.as_deref(), 100));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let password = errs.take(Password::parse("password", self.password.as_deref()));
        let country = errs.take(CountryCode::parse("country", self.country.as_deref()));
        let region = match (self.region.as_deref().map(str::trim), country) {
            (None | Some(""), _) => None,
            (Some(r), Some(c)) => errs.take(RegionCode::parse("region", r, c)),
            (Some(_), None) => None,
        };
        errs.take(must_be_true(
            "accept_terms",
            self.accept_terms,
            "the Terms of Service and Privacy Policy must be accepted",
        ));
        errs.take(must_be_true(
            "legal_age",
            self.legal_age,
            "you must be of legal age to form a binding contract (§13.1)",
        ));
        let terms_version = errs.take(required_line("terms_version", self.terms_version.as_deref(), 40));
        if let Some(v) = &terms_version {
            if v != current_terms {
                errs.push(FieldError::new("terms_version", format!("the current Terms version is {current_terms}")));
            }
        }
        // Export control outranks field errors: a refused country is refused whatever else is wrong.
        if let Some(c) = country {
            match rule_for(c.as_str(), region.as_ref().map(|r| r.as_str())) {
                CountryRule::Embargoed => return Err(SignupRefusal::Embargoed),
                CountryRule::NotCovered if errs.is_empty() => return Err(SignupRefusal::CountryNotServed),
                _ => {}
            }
        }
        errs.clone().into_result()?;
        let party = match rule_for(country.map(|c| c.as_str().to_string()).unwrap_or_default().as_str(), None) {
            CountryRule::Party(p) => p,
            _ => return Err(SignupRefusal::CountryNotServed),
        };
        match (company, domain, first_name, last_name, email, password, country, terms_version) {
            (
                Some(company),
                Some(domain),
                Some(first_name),
                Some(last_name),
                Some(email),
                Some(password),
                Some(country),
                Some(terms_version),
            ) => Ok(Signup {
                company,
                domain,
                first_name,
                last_name,
                email,
                password,
                country,
                region,
                terms_version,
                party,
            }),
            _ => Err(SignupRefusal::Invalid(errs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> SignupRequest {
        SignupRequest {
            company: Some("Acme".into()),
            domain: Some("acme".into()),
            first_name: Some("Ann".into()),
            last_name: Some("Lee".into()),
            email: Some("ann@acme.example".into()),
            password: Some("correct horse battery".into()),
            country: Some("DE".into()),
            region: None,
            accept_terms: Some(true),
            terms_version: Some("2021-11-01".into()),
            legal_age: Some(true),
        }
    }

    #[test]
    fn a_complete_signup_parses_with_its_contracting_party() {
        let s = valid().parse("2021-11-01").unwrap();
        assert_eq!(s.party.name, "Bitrix24 Ltd.");
        assert_eq!(s.domain.as_str(), "acme");
    }

    #[test]
    fn an_empty_signup_names_every_required_field() {
        let Err(SignupRefusal::Invalid(e)) = SignupRequest::default().parse("2021-11-01") else { panic!() };
        for f in [
            "company",
            "domain",
            "first_name",
            "last_name",
            "email",
            "password",
            "country",
            "accept_terms",
            "terms_version",
            "legal_age",
        ] {
            assert_eq!(e.message_for(f), Some("Field is required"), "{f}");
        }
    }

    #[test]
    fn terms_not_accepted_or_another_version_are_refused() {
        let mut r = valid();
        r.accept_terms = Some(false);
        assert!(
            matches!(r.parse("2021-11-01"), Err(SignupRefusal::Invalid(e)) if e.message_for("accept_terms").is_some())
        );
        let mut r = valid();
        r.terms_version = Some("2020-01-01".into());
        assert!(
            matches!(r.parse("2021-11-01"), Err(SignupRefusal::Invalid(e)) if e.message_for("terms_version").is_some())
        );
    }

    #[test]
    fn a_minor_cannot_sign_up() {
        let mut r = valid();
        r.legal_age = Some(false);
        assert!(
            matches!(r.parse("2021-11-01"), Err(SignupRefusal::Invalid(e)) if e.message_for("legal_age").is_some())
        );
    }

    #[test]
    fn embargoed_country_and_crimea_are_refused() {
        let mut r = valid();
        r.country = Some("IR".into());
        assert!(matches!(r.parse("2021-11-01"), Err(SignupRefusal::Embargoed)));
        let mut r = valid();
        r.country = Some("UA".into());
        r.region = Some("UA-43".into());
        assert!(matches!(r.parse("2021-11-01"), Err(SignupRefusal::Embargoed)));
    }

    #[test]
    fn an_uncovered_country_is_not_served() {
        let mut r = valid();
        r.country = Some("RU".into());
        assert!(matches!(r.parse("2021-11-01"), Err(SignupRefusal::CountryNotServed)));
    }
}
