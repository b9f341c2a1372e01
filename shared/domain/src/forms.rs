//! Public forms (SPEC: Forms): the field rules of the implementation request, the copyright
//! notice (§15.1, §15.3) and the personal-data request (§5.5, §26.5); partner routing; the
//! data-request deadline and its reminders; the text of every mail these forms send.

use crate::countries;
use crate::field::{FieldError, FieldErrors};
use crate::notice::Mail;
use crate::policy::{days, Policy};
use crate::types::{required_text, CountryCode, DomainLabel, Email};
use chrono::{DateTime, Utc};
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

/// "receive up to 5 offers from our certified Partners".
pub const MAX_PARTNERS: usize = 5;

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

/// Limits of the public forms (per sender and per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormLimits {
    /// Accepted implementation requests per e-mail address per hour.
    pub per_email_per_hour: i64,
    /// Accepted implementation requests per source IP per hour.
    pub per_ip_per_hour: i64,
    /// Re-sent confirmations per request.
    pub resends_per_request: u32,
}

impl Default for FormLimits {
    fn default() -> Self {
        FormLimits { per_email_per_hour: 5, per_ip_per_hour: 20, resends_per_request: 3 }
    }
}

// ------------------------------------------------------------------ lenient input

/// Form posts carry text; JSON callers may send a number (a phone) or a boolean: all read as text.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(D::Error::custom("must be text")),
    }
}

/// A statement the sender confirms: JSON `true`, or a checked box (`on`, `true`, `yes`, `1`).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
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

fn must_be_true(field: &str, v: Option<bool>, msg: &str) -> Result<(), FieldError> {
    match v {
        None => Err(FieldError::required(field)),
        Some(true) => Ok(()),
        Some(false) => Err(FieldError::new(field, msg)),
    }
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
    ["crimea", "krym", "sevastopol", "sebastopol", "ua-43", "ua-40", "крым", "севастопол"]
        .iter()
        .any(|w| r.contains(w))
}

// ------------------------------------------------------------------ implementation request

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
        self.website.as_deref().is_some_and(|w| !w.trim().is_empty())
    }
}

/// A valid implementation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplementationRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
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
        None => {
            let ids: Vec<&str> = PRODUCTS.iter().map(|(id, _)| *id).collect();
            Err(FieldError::new(field, format!("must be one of: {}", ids.join(", "))))
        }
    }
}

/// "I accept" is the only answer that lets the request go (JSON `true` means the same).
fn privacy(field: &str, raw: Option<&str>) -> Result<(), FieldError> {
    let v = raw.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Err(FieldError::required(field));
    }
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
        let first_name = errs.take(required_text("first_name", self.first_name.as_deref(), 100));
        let last_name = errs.take(required_text("last_name", self.last_name.as_deref(), 100));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let phone = errs.take(phone("phone", self.phone.as_deref()));
        let country = errs.take(CountryCode::parse("country", self.country.as_deref()));
        let region = errs.take(required_text("region", self.region.as_deref(), 200));
        let product = errs.take(product("product", self.product.as_deref()));
        let request = errs.take(required_text("request", self.request.as_deref(), 5000));
        errs.take(privacy("privacy", self.privacy.as_deref()));
        let region_raw = self.region.as_deref().unwrap_or("");
        if country.is_some_and(|c| countries::is_embargoed(c.as_str(), None)) || names_embargoed_region(region_raw) {
            return Err(FormRefusal::Embargoed);
        }
        match (first_name, last_name, email, phone, country, region, product, request) {
            (Some(first_name), Some(last_name), Some(email), Some(phone), Some(country), Some(region), Some(product), Some(request))
                if errs.is_empty() =>
            {
                Ok(ImplementationRequest {
                    first_name,
                    last_name,
                    email,
                    phone,
                    country: country.as_str().to_string(),
                    region,
                    product,
                    request,
                })
            }
            _ => Err(FormRefusal::Invalid(errs)),
        }
    }
}

// ------------------------------------------------------------------ partners

/// An implementation partner, as seeded (`PARTNER#<id>/META`): `products` empty means every product;
/// `last_sent_at` is when it was last sent a lead (epoch seconds, 0 = never).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub email: String,
    pub countries: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub certified: bool,
    #[serde(default)]
    pub last_sent_at: i64,
}

impl Partner {
    pub fn serves(&self, country: &str, product: &str) -> bool {
        self.certified
            && self.countries.iter().any(|c| c.eq_ignore_ascii_case(country))
            && (self.products.is_empty() || self.products.iter().any(|p| p.eq_ignore_ascii_case(product)))
    }
}

/// A partner chosen for a lead: its `last_sent_at` as read (the write's condition) and the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen<'a> {
    pub partner: &'a Partner,
    pub previous: i64,
    pub sent_at: i64,
}

/// Up to `MAX_PARTNERS` certified partners serving the country and product, least recently sent
/// a lead first (ties by id). The chosen get strictly increasing stamps from `now` on (past every
/// stamp among the candidates), so leads in the same second still rotate through all partners.
pub fn choose_partners<'a>(partners: &'a [Partner], country: &str, product: &str, now: i64) -> Vec<Chosen<'a>> {
    let mut eligible: Vec<&Partner> = partners.iter().filter(|p| p.serves(country, product)).collect();
    eligible.sort_by(|a, b| a.last_sent_at.cmp(&b.last_sent_at).then_with(|| a.id.cmp(&b.id)));
    let newest = eligible.iter().map(|p| p.last_sent_at).max().unwrap_or(0);
    let base = now.max(newest.saturating_add(1));
    eligible
        .into_iter()
        .take(MAX_PARTNERS)
        .enumerate()
        .map(|(i, p)| Chosen { partner: p, previous: p.last_sent_at, sent_at: base + i as i64 })
        .collect()
}

/// A partner as an operator adds it (`POST /partners`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PartnerInput {
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
    #[serde(default)]
    pub countries: Option<Vec<String>>,
    #[serde(default)]
    pub products: Option<Vec<String>>,
    #[serde(default)]
    pub certified: Option<bool>,
}

impl PartnerInput {
    pub fn parse(&self) -> Result<Partner, FieldErrors> {
        let mut errs = FieldErrors::default();
        let id = errs.take(required_text("id", self.id.as_deref(), 63).and_then(|id| {
            let ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if ok { Ok(id) } else { Err(FieldError::new("id", "may contain only lowercase letters, digits and hyphens")) }
        }));
        let name = errs.take(required_text("name", self.name.as_deref(), 200));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let countries = match self.countries.as_deref() {
            None | Some([]) => errs.take(Err(FieldError::required("countries"))),
            Some(list) => {
                let parsed: Result<Vec<String>, FieldError> = list
                    .iter()
                    .map(|c| CountryCode::parse("countries", Some(c)).map(|c| c.as_str().to_string()))
                    .collect();
                errs.take(parsed)
            }
        };
        let products: Vec<String> = self
            .products
            .iter()
            .flatten()
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        match (id, name, email, countries) {
            (Some(id), Some(name), Some(email), Some(countries)) if errs.is_empty() => Ok(Partner {
                id,
                name,
                email: email.as_str().to_string(),
                countries,
                products,
                certified: self.certified.unwrap_or(true),
                last_sent_at: 0,
            }),
            _ => Err(errs),
        }
    }
}

// ------------------------------------------------------------------ copyright notice (§15.1)

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
    pub fn parse(&self) -> Result<CopyrightNotice, FieldErrors> {
        let mut errs = FieldErrors::default();
        let signature = errs.take(required_text("signature", self.signature.as_deref(), 200));
        let work = errs.take(required_text("work", self.work.as_deref(), 5000));
        let location = errs.take(required_text("location", self.location.as_deref(), 2000));
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
            (Some(signature), Some(work), Some(location), Some(contact_address), Some(contact_phone), Some(contact_email))
                if errs.is_empty() =>
            {
                Ok(CopyrightNotice { signature, work, location, contact_address, contact_phone, contact_email })
            }
            _ => Err(errs),
        }
    }
}

/// The account label a location names: `https://acme.<base>/path`, `acme.<base>` or plain `acme`.
/// Subdomains (`files.acme.<base>`) name their account; other hosts name none.
pub fn account_label(location: &str, base_domain: &str) -> Option<String> {
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
    DomainLabel::parse("location", Some(label)).ok().map(|l| l.as_str().to_string())
}

// ------------------------------------------------------------------ personal data request (§5.5, §26.5)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataRequestKind {
    Access,
    Correction,
    Removal,
}

impl DataRequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataRequestKind::Access => "access",
            DataRequestKind::Correction => "correction",
            DataRequestKind::Removal => "removal",
        }
    }
    fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        match raw.map(|s| s.trim().to_lowercase()).as_deref() {
            None | Some("") => Err(FieldError::required(field)),
            Some("access") => Ok(DataRequestKind::Access),
            Some("correction") => Ok(DataRequestKind::Correction),
            Some("removal") => Ok(DataRequestKind::Removal),
            Some(_) => Err(FieldError::new(field, "must be one of: access, correction, removal")),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DataRequestInput {
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub email: Option<String>,
    /// The account's domain label (`acme`), or its host or URL.
    #[serde(default, deserialize_with = "text")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRequest {
    pub name: String,
    pub email: Email,
    pub domain: String,
    pub kind: DataRequestKind,
    pub details: String,
}

impl DataRequestInput {
    pub fn parse(&self, base_domain: &str) -> Result<DataRequest, FieldErrors> {
        let mut errs = FieldErrors::default();
        let name = errs.take(required_text("name", self.name.as_deref(), 200));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let domain = errs.take(required_text("domain", self.domain.as_deref(), 300).and_then(|d| {
            account_label(&d, base_domain).ok_or_else(|| {
                FieldError::new("domain", format!("must be the account's domain, like acme or acme.{base_domain}"))
            })
        }));
        let kind = errs.take(DataRequestKind::parse("kind", self.kind.as_deref()));
        let details = errs.take(required_text("details", self.details.as_deref(), 5000));
        match (name, email, domain, kind, details) {
            (Some(name), Some(email), Some(domain), Some(kind), Some(details)) if errs.is_empty() => {
                Ok(DataRequest { name, email, domain, kind, details })
            }
            _ => Err(errs),
        }
    }
}

/// A data request as stored (`DATAREQ#<id>/META`), read back by the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRequestRecord {
    pub id: String,
    pub account_id: String,
    pub domain: String,
    pub name: String,
    pub email: String,
    pub kind: DataRequestKind,
    pub details: String,
    pub received_at: DateTime<Utc>,
    pub respond_by: DateTime<Utc>,
    /// The reminders sent so far, as days before `respond_by`.
    #[serde(default)]
    pub reminded: Vec<i64>,
    #[serde(default)]
    pub overdue: bool,
}

/// §5.5, §26.5: the request is answered within `data_request_days` (30).
pub fn respond_by(received_at: DateTime<Utc>, policy: &Policy) -> DateTime<Utc> {
    received_at + days(policy.data_request_days)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum DataRequestStep {
    /// Remind the administrators: `days_before` the respond-by date.
    Reminder { days_before: i64 },
    /// The respond-by date has come: flag the request overdue (once).
    Overdue,
}

/// Reminder lead times that can still fire, largest first: positive, shorter than the whole
/// period, and shorter than every reminder already sent (a later reminder supersedes earlier ones).
fn pending_reminders(reminded: &[i64], policy: &Policy) -> Vec<i64> {
    let floor = reminded.iter().copied().min().unwrap_or(i64::MAX);
    let mut v: Vec<i64> = policy
        .data_request_reminder_days
        .iter()
        .copied()
        .filter(|d| *d > 0 && *d < policy.data_request_days && *d < floor)
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.dedup();
    v
}

/// What the sweep does for a data request at `now`: the most urgent reminder that is due and not
/// yet sent (a missed earlier one is skipped, not sent late), or, from `respond_by` on, Overdue.
/// `None` when nothing is due. The caller stops asking once it has flagged the request overdue.
pub fn data_request_step(
    respond_by: DateTime<Utc>,
    reminded: &[i64],
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<DataRequestStep> {
    if now >= respond_by {
        return Some(DataRequestStep::Overdue);
    }
    pending_reminders(reminded, policy)
        .into_iter()
        .filter(|d| now >= respond_by - days(*d))
        .min()
        .map(|days_before| DataRequestStep::Reminder { days_before })
}

/// When the sweep should next look at the request (its place in the due-time index): the next
/// pending reminder, then `respond_by`; `None` once it is flagged overdue.
pub fn data_request_next_due(
    respond_by: DateTime<Utc>,
    reminded: &[i64],
    overdue: bool,
    policy: &Policy,
) -> Option<DateTime<Utc>> {
    if overdue {
        return None;
    }
    match pending_reminders(reminded, policy).first() {
        Some(d) => Some(respond_by - days(*d)),
        None => Some(respond_by),
    }
}

// ------------------------------------------------------------------ mail texts

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
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
            if partner_names.len() == 1 { "" } else { "s" },
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
        when(r.received_at),
        when(r.respond_by),
        r.details,
        r.id
    )
}

/// The request as forwarded to the account's administrators.
pub fn data_request_forward_mail(r: &DataRequestRecord) -> Mail {
    Mail {
        subject: format!("{}: personal data {} request, respond by {}", r.domain, r.kind.as_str(), when(r.respond_by)),
        text: format!(
            "A person asks for {} of personal data held in your account {} (§5.5, §26.5). Please answer \
             them directly at {} by {}.\n\n{}",
            r.kind.as_str(),
            r.domain,
            r.email,
            when(r.respond_by),
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
            when(r.respond_by),
            data_request_body(r)
        ),
    }
}

/// A reminder to the account's administrators, `days_before` the respond-by date.
pub fn data_request_reminder_mail(r: &DataRequestRecord, days_before: i64) -> Mail {
    Mail {
        subject: format!("{}: personal data request due in {days_before} day{}", r.domain, if days_before == 1 { "" } else { "s" }),
        text: format!(
            "Reminder: the personal data {} request below must be answered by {} (§5.5, §26.5).\n\n{}",
            r.kind.as_str(),
            when(r.respond_by),
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
            when(r.respond_by),
            data_request_body(r)
        ),
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::REQUIRED;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    const FIELDS: [&str; 9] =
        ["first_name", "last_name", "email", "phone", "country", "region", "product", "request", "privacy"];

    fn complete() -> ImplementationRequestInput {
        serde_json::from_value(json!({
            "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com",
            "phone": "+44 20 7946 0958", "country": "gb", "region": "London",
            "product": "cloud", "request": "CRM for 40 people", "privacy": "I accept"
        }))
        .unwrap()
    }

    fn with(field: &str, value: serde_json::Value) -> ImplementationRequestInput {
        let mut v = serde_json::to_value(complete()).unwrap();
        v[field] = value;
        serde_json::from_value(v).unwrap()
    }

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
        assert!(errors(&with("product", json!("a spaceship"))).message_for("product").unwrap().starts_with("must be one of"));
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

    #[test]
    fn a_nested_value_is_a_type_error_not_a_panic() {
        let r: Result<ImplementationRequestInput, _> = serde_json::from_value(json!({"first_name": {"a": 1}}));
        assert!(r.is_err());
    }

    // ---------------------------------------------------------------- partners

    fn partner(id: &str, countries: &[&str], products: &[&str], last: i64) -> Partner {
        Partner {
            id: id.into(),
            name: format!("{id} Ltd"),
            email: format!("leads@{id}.example.com"),
            countries: countries.iter().map(|c| c.to_string()).collect(),
            products: products.iter().map(|c| c.to_string()).collect(),
            certified: true,
            last_sent_at: last,
        }
    }

    fn ids(c: &[Chosen]) -> Vec<String> {
        c.iter().map(|c| c.partner.id.clone()).collect()
    }

    /// Applies a round's stamps, as the transaction does.
    fn apply(partners: &mut [Partner], chosen: &[(String, i64)]) {
        for (id, at) in chosen {
            partners.iter_mut().find(|p| &p.id == id).unwrap().last_sent_at = *at;
        }
    }

    #[test]
    fn at_most_five_partners_are_chosen_least_recently_sent_first_ties_by_id() {
        let ps = vec![
            partner("f", &["DE"], &[], 0),
            partner("a", &["DE"], &[], 50),
            partner("e", &["DE"], &[], 0),
            partner("b", &["DE"], &[], 10),
            partner("c", &["DE"], &[], 10),
            partner("d", &["DE"], &[], 99),
            partner("g", &["DE"], &[], 70),
        ];
        let c = choose_partners(&ps, "DE", "cloud", 1000);
        assert_eq!(ids(&c), ["e", "f", "b", "c", "a"]);
        assert_eq!(c.iter().map(|c| c.previous).collect::<Vec<_>>(), [0, 0, 10, 10, 50]);
    }

    #[test]
    fn only_certified_partners_serving_the_country_and_product_are_chosen() {
        let mut uncertified = partner("uncertified", &["DE"], &[], 0);
        uncertified.certified = false;
        let ps = vec![
            partner("any-product", &["DE", "AT"], &[], 0),
            partner("cloud-only", &["de"], &["cloud"], 0),
            partner("onprem-only", &["DE"], &["on-premise"], 0),
            partner("france", &["FR"], &[], 0),
            uncertified,
        ];
        assert_eq!(ids(&choose_partners(&ps, "DE", "cloud", 1)), ["any-product", "cloud-only"]);
        assert_eq!(ids(&choose_partners(&ps, "DE", "on-premise", 1)), ["any-product", "onprem-only"]);
        assert_eq!(ids(&choose_partners(&ps, "AT", "cloud", 1)), ["any-product"]);
        assert!(choose_partners(&ps, "JP", "cloud", 1).is_empty());
    }

    #[test]
    fn leads_rotate_through_every_partner_even_within_one_second() {
        let mut ps: Vec<Partner> = ["a", "b", "c", "d", "e", "f"].iter().map(|id| partner(id, &["US"], &[], 0)).collect();
        let mut counts = std::collections::HashMap::<String, u32>::new();
        let mut rounds = Vec::new();
        for _ in 0..6 {
            let chosen: Vec<(String, i64)> =
                choose_partners(&ps, "US", "cloud", 1000).iter().map(|c| (c.partner.id.clone(), c.sent_at)).collect();
            for (id, _) in &chosen {
                *counts.entry(id.clone()).or_default() += 1;
            }
            rounds.push(chosen.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>().join(""));
            apply(&mut ps, &chosen);
        }
        assert_eq!(rounds[..3], ["abcde", "fabcd", "efabc"]);
        // 6 rounds x 5 leads over 6 partners: exactly 5 each.
        assert!(counts.values().all(|n| *n == 5), "{counts:?}");
    }

    #[test]
    fn stamps_are_the_event_time_when_it_is_past_every_earlier_stamp() {
        let ps = vec![partner("a", &["US"], &[], 100), partner("b", &["US"], &[], 0)];
        let c = choose_partners(&ps, "US", "cloud", 5000);
        assert_eq!(c.iter().map(|c| c.sent_at).collect::<Vec<_>>(), [5000, 5001]);
        let c = choose_partners(&ps, "US", "cloud", 50);
        assert_eq!(c.iter().map(|c| c.sent_at).collect::<Vec<_>>(), [101, 102]);
    }

    #[test]
    fn an_operator_adds_a_partner_with_checked_fields() {
        let p: PartnerInput = serde_json::from_value(json!({
            "id": "kiwi-crm", "name": "Kiwi CRM", "email": "Leads@Kiwi.example.com", "countries": ["nz", "AU"]
        }))
        .unwrap();
        let p = p.parse().unwrap();
        assert_eq!(p.countries, ["NZ", "AU"]);
        assert_eq!(p.email, "leads@kiwi.example.com");
        assert!(p.certified && p.products.is_empty() && p.last_sent_at == 0);
        let e = PartnerInput::default().parse().unwrap_err();
        assert_eq!(e.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["id", "name", "email", "countries"]);
        let bad: PartnerInput = serde_json::from_value(json!({
            "id": "Kiwi CRM", "name": "K", "email": "k@k.example", "countries": ["XX"]
        }))
        .unwrap();
        let e = bad.parse().unwrap_err();
        assert!(e.message_for("id").is_some() && e.message_for("countries").is_some());
    }

    // ---------------------------------------------------------------- copyright notice

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
        assert_eq!(account_label("https://acme.saas.local/gallery/1?x=1", b).as_deref(), Some("acme"));
        assert_eq!(account_label("HTTP://Files.Acme.SAAS.local:8443/", b).as_deref(), Some("acme"));
        assert_eq!(account_label("acme.saas.local", b).as_deref(), Some("acme"));
        assert_eq!(account_label(" acme ", b).as_deref(), Some("acme"));
        assert_eq!(account_label("https://saas.local/acme", b), None);
        assert_eq!(account_label("https://evil-saas.local/", b), None);
        assert_eq!(account_label("https://acme.example.org/", b), None);
        assert_eq!(account_label("www.saas.local", b), None, "reserved labels are no account");
        assert_eq!(account_label("", b), None);
    }

    // ---------------------------------------------------------------- data request

    fn data_request(over: serde_json::Value) -> DataRequestInput {
        let mut v = json!({
            "name": "Sam Doe", "email": "sam@example.com", "domain": "acme",
            "kind": "removal", "details": "Please remove my contact card."
        });
        for (k, x) in over.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_data_request_names_an_account_by_label_or_host() {
        assert_eq!(data_request(json!({})).parse("saas.local").unwrap().domain, "acme");
        let r = data_request(json!({"domain": "https://acme.saas.local/crm", "kind": "Access"})).parse("saas.local").unwrap();
        assert_eq!((r.domain.as_str(), r.kind), ("acme", DataRequestKind::Access));
        let e = data_request(json!({"domain": "google.com"})).parse("saas.local").unwrap_err();
        assert!(e.message_for("domain").unwrap().starts_with("must be the account's domain"));
    }

    #[test]
    fn each_missing_field_of_a_data_request_is_required() {
        for f in ["name", "email", "domain", "kind", "details"] {
            let e = data_request(json!({ f: "" })).parse("saas.local").unwrap_err();
            assert_eq!(e.0, vec![FieldError::new(f, REQUIRED)], "{f}");
        }
        let e = data_request(json!({"kind": "deletion"})).parse("saas.local").unwrap_err();
        assert_eq!(e.message_for("kind"), Some("must be one of: access, correction, removal"));
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_data_request_is_answered_within_thirty_days() {
        let p = Policy::default();
        assert_eq!(respond_by(t0(), &p), Utc.with_ymd_and_hms(2025, 3, 31, 12, 0, 0).unwrap());
    }

    #[test]
    fn reminders_fire_at_seven_and_two_days_before_and_not_a_second_earlier() {
        let p = Policy::default();
        let by = respond_by(t0(), &p);
        let s = Duration::seconds(1);
        assert_eq!(data_request_step(by, &[], t0(), &p), None);
        assert_eq!(data_request_step(by, &[], by - days(7) - s, &p), None);
        assert_eq!(data_request_step(by, &[], by - days(7), &p), Some(DataRequestStep::Reminder { days_before: 7 }));
        assert_eq!(data_request_step(by, &[7], by - days(7), &p), None);
        assert_eq!(data_request_step(by, &[7], by - days(2) - s, &p), None);
        assert_eq!(data_request_step(by, &[7], by - days(2), &p), Some(DataRequestStep::Reminder { days_before: 2 }));
        assert_eq!(data_request_step(by, &[7, 2], by - s, &p), None);
    }

    #[test]
    fn the_request_is_overdue_from_the_respond_by_moment_on() {
        let p = Policy::default();
        let by = respond_by(t0(), &p);
        assert_eq!(data_request_step(by, &[7, 2], by, &p), Some(DataRequestStep::Overdue));
        assert_eq!(data_request_step(by, &[], by + days(3), &p), Some(DataRequestStep::Overdue));
    }

    #[test]
    fn a_missed_early_reminder_is_superseded_by_the_more_urgent_one() {
        let p = Policy::default();
        let by = respond_by(t0(), &p);
        assert_eq!(data_request_step(by, &[], by - days(1), &p), Some(DataRequestStep::Reminder { days_before: 2 }));
        assert_eq!(data_request_step(by, &[2], by - days(1), &p), None);
        assert_eq!(data_request_next_due(by, &[2], false, &p), Some(by));
    }

    #[test]
    fn the_next_due_time_walks_reminders_then_the_deadline_then_stops() {
        let p = Policy::default();
        let by = respond_by(t0(), &p);
        assert_eq!(data_request_next_due(by, &[], false, &p), Some(by - days(7)));
        assert_eq!(data_request_next_due(by, &[7], false, &p), Some(by - days(2)));
        assert_eq!(data_request_next_due(by, &[7, 2], false, &p), Some(by));
        assert_eq!(data_request_next_due(by, &[7, 2], true, &p), None);
        let mut custom = p.clone();
        custom.data_request_reminder_days = vec![];
        assert_eq!(data_request_next_due(by, &[], false, &custom), Some(by));
    }

    // ---------------------------------------------------------------- mail texts

    #[test]
    fn the_lead_carries_the_requesters_details_and_the_confirmation_names_the_partners() {
        let r = complete().parse().unwrap();
        let lead = lead_mail(&r, "Thames CRM", "req-1");
        for needle in ["Ada Lovelace", "ada@example.com", "+44 20 7946 0958", "London", "Bitrix24 Cloud", "CRM for 40 people", "req-1"] {
            assert!(lead.text.contains(needle) || lead.subject.contains(needle), "{needle}");
        }
        let c = confirmation_mail(&r, &["Thames CRM".into(), "Rheinwerk".into()], "req-1", false);
        assert!(c.text.contains(REQUEST_SENT) && c.text.contains("- Thames CRM") && c.text.contains("2 certified partners"));
        assert!(confirmation_mail(&r, &[], "req-1", true).subject.starts_with("(Resent)"));
    }
}
