//! The personal-data request (§5.5, §26.5): its input and record, the respond-by deadline and the
//! reminders the sweep sends before it.

use super::copyright::account_label;
use super::input::{answered, not_one_of, text};
use crate::field::{FieldError, FieldErrors};
use crate::policy::{days, Policy};
use crate::types::{required_line, required_text, DomainLabel, Email};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataRequestKind {
    Access,
    Correction,
    Removal,
}

impl DataRequestKind {
    const ALL: [DataRequestKind; 3] = [DataRequestKind::Access, DataRequestKind::Correction, DataRequestKind::Removal];

    pub fn as_str(self) -> &'static str {
        match self {
            DataRequestKind::Access => "access",
            DataRequestKind::Correction => "correction",
            DataRequestKind::Removal => "removal",
        }
    }
    fn parse(field: &str, raw: Option<&str>) -> Result<Self, FieldError> {
        let v = answered(field, raw)?.to_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == v)
            .ok_or_else(|| not_one_of(field, Self::ALL.map(DataRequestKind::as_str)))
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
    /// The honeypot: people leave it empty.
    #[serde(default, deserialize_with = "text")]
    pub website: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRequest {
    pub name: String,
    pub email: Email,
    pub domain: DomainLabel,
    pub kind: DataRequestKind,
    pub details: String,
}

impl DataRequestInput {
    pub fn is_bot(&self) -> bool {
        super::input::honeypot_filled(self.website.as_deref())
    }

    pub fn parse(&self, base_domain: &str) -> Result<DataRequest, FieldErrors> {
        let mut errs = FieldErrors::default();
        let name = errs.take(required_line("name", self.name.as_deref(), 200));
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
    pub domain: DomainLabel,
    pub name: String,
    pub email: Email,
    pub kind: DataRequestKind,
    pub details: String,
    pub received_at: DateTime<Utc>,
    pub respond_by: DateTime<Utc>,
    /// The reminders sent so far, as days before `respond_by`.
    #[serde(default)]
    pub reminded: Vec<i64>,
    #[serde(default)]
    pub overdue: bool,
    /// Marked answered by an administrator of the account or an operator: no more reminders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::REQUIRED;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

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
        let r = data_request(json!({"domain": "https://acme.saas.local/crm", "kind": "Access"}))
            .parse("saas.local")
            .unwrap();
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
}
