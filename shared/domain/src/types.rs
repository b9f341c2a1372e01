//! Parsed input values: each newtype can only hold a valid value (parse, don't validate).

use crate::countries;
use crate::field::FieldError;
use serde::{Deserialize, Serialize};

/// Labels that would shadow our own hosts or mislead users; never given to an account.
pub const RESERVED_LABELS: &[&str] = &[
    "www",
    "api",
    "admin",
    "administrator",
    "mail",
    "email",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "ns1",
    "ns2",
    "dns",
    "app",
    "apps",
    "static",
    "cdn",
    "assets",
    "status",
    "support",
    "help",
    "billing",
    "login",
    "signin",
    "signup",
    "account",
    "accounts",
    "auth",
    "root",
    "system",
    "security",
    "abuse",
    "postmaster",
    "hostmaster",
    "webmaster",
    "partners",
    "partner",
    "dev",
    "test",
    "staging",
    "portal",
    "dashboard",
    "blog",
    "docs",
    "legal",
    "privacy",
    "terms",
];

/// A required single-line field (a name, a phone, a place): like `required_text`, and no control
/// character at all, so nothing can break a mail header or a log line (SPEC: Public surface).
pub fn required_line(field: &str, raw: Option<&str>, max: usize) -> Result<String, FieldError> {
    let v = required_text(field, raw, max)?;
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must be one line, without control characters"));
    }
    Ok(v)
}

/// A required text field: trimmed, non-empty, bounded; line breaks and tabs allowed.
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
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// `local@host` in ASCII, as SES accepts it: a dot-atom local part (RFC 5322) and a dotted
    /// host name; lower-cased so one address is one key.
    pub fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = required_line(field, raw, 254)?.to_lowercase();
        let bad = || FieldError::new(field, "must be an e-mail address");
        let (local, host) = v.split_once('@').ok_or_else(bad)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok =
            !local.is_empty() && local.len() <= 64 && local.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let host_ok = host.contains('.') && host.split('.').all(label_ok);
        if host_ok && local_ok {
            Ok(Email(v))
        } else {
            Err(bad())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
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
    /// A stored label: the same shape, but a word reserved after the signup stays readable.
    pub fn parse_stored(raw: &str) -> Result<Self, FieldError> {
        match Self::parse("domain", Some(raw)) {
            Err(e) if e.message == "is reserved" => Ok(DomainLabel(raw.to_string())),
            other => other,
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
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
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// An ISO 3166-2 subdivision code of the given country: `CC-` then 1–3 letters or digits.
    pub fn parse(field: &str, raw: &str, country: CountryCode) -> Result<Self, FieldError> {
        let up = raw.trim().to_ascii_uppercase();
        let ok = match up.split_once('-') {
            Some((cc, sub)) => {
                cc == country.as_str() && (1..=3).contains(&sub.len()) && sub.chars().all(|c| c.is_ascii_alphanumeric())
            }
            None => false,
        };
        if ok {
            Ok(RegionCode(up))
        } else {
            Err(FieldError::new(field, "must be an ISO 3166-2 code of the country, like US-CA"))
        }
    }
    /// A stored region: its own country prefix is the country it was parsed against.
    pub fn parse_stored(raw: &str) -> Result<Self, FieldError> {
        let country = CountryCode::parse("region", raw.split('-').next())?;
        Self::parse("region", raw, country)
    }
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Stored values are read back through the same parsers, so a corrupt item is an error, not a value.
macro_rules! stored_as_string {
    ($t:ty, $field:literal, |$v:ident| $parse:expr) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from($v: String) -> Result<Self, String> {
                $parse.map_err(|e: FieldError| format!("{}: {} ({:?})", $field, e.message, $v))
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.as_str().to_string()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_as_string!(Email, "email", |v| Email::parse("email", Some(&v)));
stored_as_string!(DomainLabel, "domain", |v| DomainLabel::parse_stored(&v));
stored_as_string!(CountryCode, "country", |v| CountryCode::parse("country", Some(&v)));
stored_as_string!(RegionCode, "region", |v| RegionCode::parse_stored(&v));
stored_as_string!(PlanId, "plan", |v| PlanId::parse_stored(&v));

/// A plan's id as the catalog names it (`free`, `basic`, ...); the catalog decides which exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanId(String);

impl PlanId {
    pub fn free() -> PlanId {
        PlanId(crate::catalog::FREE.to_string())
    }
    pub fn is_free(&self) -> bool {
        self.0 == crate::catalog::FREE
    }
    /// Any id shaped like a catalog id; whether the plan exists is the catalog's answer.
    pub fn parse_stored(raw: &str) -> Result<Self, FieldError> {
        let ok = !raw.is_empty()
            && raw.len() <= 40
            && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(PlanId(raw.to_string()))
        } else {
            Err(FieldError::new("plan", "is not a plan id"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for PlanId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
impl PartialEq<&str> for PlanId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
impl PartialEq<str> for DomainLabel {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
impl PartialEq<&str> for DomainLabel {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
impl PartialEq<str> for Email {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
impl PartialEq<&str> for Email {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
impl PartialEq<str> for CountryCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for CountryCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A new password as typed (signup, reset and change share this one rule); it never leaves the
/// request that carries it except as a hash.
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
        if v.chars().any(char::is_control) {
            return Err(FieldError::new(field, "must not contain control characters"));
        }
        // Kept exactly as typed: leading and trailing spaces are part of it.
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

/// Test shorthand: a stored value from text, panicking on an invalid one.
#[cfg(test)]
pub(crate) fn v<T: TryFrom<String>>(s: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(s.to_string()).expect("a valid test value")
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
    fn an_email_is_ascii_with_a_dot_atom_local_part() {
        for bad in [
            "josé@example.com",
            "ann@exämple.com",
            ".ann@example.com",
            "ann.@example.com",
            "a..b@example.com",
            "\"ann\"@example.com",
            "ann@-example.com",
            "ann\n@example.com",
            "a,b@example.com",
        ] {
            assert!(Email::parse("email", Some(bad)).is_err(), "{bad}");
        }
        for good in ["ann.lee+crm@example.co.uk", "o'brien@example.ie", "x_y-z@sub.example.org"] {
            assert!(Email::parse("email", Some(good)).is_ok(), "{good}");
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
