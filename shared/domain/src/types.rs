//! Parsed input values: each newtype can only hold a valid value (parse, don't validate).

use crate::countries;
use crate::field::FieldError;
use serde::{Deserialize, Serialize};

/// Labels that would shadow our own hosts or mislead users; never given to an account.
pub const RESERVED_LABELS: &[&str] = &[
    "www", "api", "admin", "administrator", "mail", "email", "smtp", "imap", "pop", "ftp", "ns1",
    "ns2", "dns", "app", "apps", "static", "cdn", "assets", "status", "support", "help", "billing",
    "login", "signin", "signup", "account", "accounts", "auth", "root", "system", "security",
    "abuse", "postmaster", "hostmaster", "webmaster", "partners", "partner", "dev", "test",
    "staging", "portal", "dashboard", "blog", "docs", "legal", "privacy", "terms",
];

/// A required text field: trimmed, non-empty, bounded.
pub fn required_text(field: &str, raw: Option<&str>, max: usize) -> Result<String, FieldError> {
    let v = raw.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(FieldError::required(field));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Lower-cased so one address is one key; a deliberately plain check (one `@`, a dotted domain).
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = required_text(field, raw, 254)?.to_lowercase();
        let bad = || FieldError::new(field, "must be an e-mail address");
        let (local, host) = v.split_once('@').ok_or_else(bad)?;
        let host_ok = host.contains('.')
            && !host.starts_with('.')
            && !host.ends_with('.')
            && !host.contains("..")
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c == '@' || c == '<' || c == '>' || c == ',');
        if host_ok && local_ok { Ok(Email(v)) } else { Err(bad()) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainLabel(String);

impl DomainLabel {
    /// Lowercase letters, digits and hyphens, 3–63 characters, no edge hyphen, not reserved.
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = raw.map(str::trim).unwrap_or("");
        if v.is_empty() {
            return Err(FieldError::required(field));
        }
        let n = v.chars().count();
        if !(3..=63).contains(&n) {
            return Err(FieldError::new(field, "must be 3 to 63 characters"));
        }
        if !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(FieldError::new(field, "may contain only lowercase letters, digits and hyphens"));
        }
        if v.starts_with('-') || v.ends_with('-') {
            return Err(FieldError::new(field, "must not start or end with a hyphen"));
        }
        if RESERVED_LABELS.contains(&v) {
            return Err(FieldError::new(field, "is reserved"));
        }
        Ok(DomainLabel(v.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// An assigned ISO 3166-1 alpha-2 code; lower case is accepted and upper-cased.
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = raw.map(str::trim).unwrap_or("");
        if v.is_empty() {
            return Err(FieldError::required(field));
        }
        let up = v.to_ascii_uppercase();
        let b = up.as_bytes();
        if b.len() == 2 && countries::is_assigned(&up) {
            Ok(CountryCode([b[0], b[1]]))
        } else {
            Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 country code"))
        }
    }
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    /// An ISO 3166-2 subdivision code of the given country: `CC-` then 1–3 letters or digits.
    pub fn parse(field: &str, raw: &str, country: CountryCode) -> Result<Self, FieldError> {
        let up = raw.trim().to_ascii_uppercase();
        let ok = match up.split_once('-') {
            Some((cc, sub)) => {
                cc == country.as_str()
                    && (1..=3).contains(&sub.len())
                    && sub.chars().all(|c| c.is_ascii_alphanumeric())
            }
            None => false,
        };
        if ok {
            Ok(RegionCode(up))
        } else {
            Err(FieldError::new(field, "must be an ISO 3166-2 code of the country, like US-CA"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed; it never leaves the request that carries it except as a hash.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = raw.unwrap_or("");
        if v.is_empty() {
            return Err(FieldError::required(field));
        }
        let n = v.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(field, format!("must be at least {} characters", Self::MIN_CHARS)));
        }
        if n > 256 {
            return Err(FieldError::new(field, "must be at most 256 characters"));
        }
        Ok(Password(v.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_label_is_three_to_sixty_three_characters() {
        assert!(DomainLabel::parse("domain", Some("ab")).is_err());
        assert!(DomainLabel::parse("domain", Some("abc")).is_ok());
        assert!(DomainLabel::parse("domain", Some(&"a".repeat(63))).is_ok());
        assert!(DomainLabel::parse("domain", Some(&"a".repeat(64))).is_err());
    }

    #[test]
    fn a_domain_label_refuses_capitals_edge_hyphens_and_reserved_words() {
        for bad in ["Acme", "-acme", "acme-", "ac_me", "ac me", "www", "api", "admin", "mail", "ác-me"] {
            assert!(DomainLabel::parse("domain", Some(bad)).is_err(), "{bad}");
        }
        assert!(DomainLabel::parse("domain", Some("ac-me-2")).is_ok());
    }

    #[test]
    fn a_missing_field_is_required() {
        assert_eq!(DomainLabel::parse("domain", None).unwrap_err().message, "Field is required");
        assert_eq!(Email::parse("email", Some("  ")).unwrap_err().message, "Field is required");
    }

    #[test]
    fn an_email_is_lowercased_and_needs_a_dotted_domain() {
        assert_eq!(Email::parse("email", Some(" Ann@Example.COM ")).unwrap().as_str(), "ann@example.com");
        for bad in ["ann", "ann@", "@example.com", "ann@example", "ann@ex..com", "a b@example.com"] {
            assert!(Email::parse("email", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_password_has_at_least_ten_characters() {
        assert!(Password::parse("password", Some("123456789")).is_err());
        assert!(Password::parse("password", Some("1234567890")).is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("password", Some("correct horse battery")).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn a_country_is_an_assigned_alpha_2_code() {
        assert_eq!(CountryCode::parse("country", Some("de")).unwrap().as_str(), "DE");
        for bad in ["XX", "D", "DEU", "ZZ", "1A"] {
            assert!(CountryCode::parse("country", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_region_belongs_to_its_country() {
        let ua = CountryCode::parse("country", Some("UA")).unwrap();
        assert_eq!(RegionCode::parse("region", "ua-43", ua).unwrap().as_str(), "UA-43");
        assert!(RegionCode::parse("region", "US-CA", ua).is_err());
        assert!(RegionCode::parse("region", "UA-", ua).is_err());
    }
}
