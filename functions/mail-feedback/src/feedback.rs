//! SES notifications inside an SNS event, read into what this system acts on (pure: no AWS).
//! The shape is SES's event publishing (`eventType`) or its older notifications
//! (`notificationType`); anything else is ignored, not an error, so a redelivery never loops.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A permanent bounce: the address does not take mail.
    HardBounce { kind: String },
    /// A temporary bounce: kept in history only; SES retried and gave up on this one mail.
    SoftBounce { kind: String },
    /// The recipient marked the mail as spam.
    Complaint { kind: String },
}

impl Outcome {
    /// Whether the address gets no more notices.
    pub fn stops_mail(&self) -> bool {
        !matches!(self, Outcome::SoftBounce { .. })
    }
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::HardBounce { .. } => "mail_bounced",
            Outcome::SoftBounce { .. } => "mail_soft_bounced",
            Outcome::Complaint { .. } => "mail_complaint",
        }
    }
    pub fn kind(&self) -> &str {
        match self {
            Outcome::HardBounce { kind } | Outcome::SoftBounce { kind } | Outcome::Complaint { kind } => kind,
        }
    }
}

/// One recipient's outcome of one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Feedback {
    pub address: String,
    pub outcome: Outcome,
    pub message_id: String,
    pub at: Option<DateTime<Utc>>,
}

/// Every recipient outcome in an SNS event (`Records[].Sns.Message`, a JSON string).
pub(crate) fn from_sns(event: &Value) -> Vec<Feedback> {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    records
        .iter()
        .filter_map(|r| r["Sns"]["Message"].as_str())
        .filter_map(|m| serde_json::from_str::<Value>(m).ok())
        .flat_map(|n| from_notification(&n))
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn from_notification(n: &Value) -> Vec<Feedback> {
    let kind = n["eventType"].as_str().or_else(|| n["notificationType"].as_str()).unwrap_or_default();
    let message_id = text(&n["mail"]["messageId"]);
    let (list, outcome, at) = match kind {
        "Bounce" => {
            let b = &n["bounce"];
            let detail = format!("{}/{}", text(&b["bounceType"]), text(&b["bounceSubType"]));
            let outcome = if b["bounceType"] == "Permanent" {
                Outcome::HardBounce { kind: detail }
            } else {
                Outcome::SoftBounce { kind: detail }
            };
            (&b["bouncedRecipients"], outcome, &b["timestamp"])
        }
        "Complaint" => {
            let c = &n["complaint"];
            let detail = c["complaintFeedbackType"].as_str().unwrap_or("complaint").to_string();
            (&c["complainedRecipients"], Outcome::Complaint { kind: detail }, &c["timestamp"])
        }
        _ => return Vec::new(),
    };
    let at = at.as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["emailAddress"].as_str())
        .map(|address| Feedback {
            address: address.to_string(),
            outcome: outcome.clone(),
            message_id: message_id.clone(),
            at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sns(message: Value) -> Value {
        json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": message.to_string()}}]})
    }

    #[test]
    fn a_permanent_bounce_stops_mail_to_each_bounced_recipient() {
        let e = sns(json!({
            "eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2031-03-02T09:00:00.000Z",
                       "bouncedRecipients": [{"emailAddress": "a@example.com"}, {"emailAddress": "b@example.com"}]},
            "mail": {"messageId": "m-1"}
        }));
        let f = from_sns(&e);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].address, "a@example.com");
        assert_eq!(f[0].outcome, Outcome::HardBounce { kind: "Permanent/General".into() });
        assert!(f[0].outcome.stops_mail() && f[0].message_id == "m-1" && f[0].at.is_some());
    }

    #[test]
    fn a_transient_bounce_is_kept_but_does_not_stop_mail() {
        let e = sns(json!({"notificationType": "Bounce", "mail": {"messageId": "m-2"},
            "bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull",
                       "bouncedRecipients": [{"emailAddress": "a@example.com"}]}}));
        let [f] = from_sns(&e).try_into().unwrap();
        assert!(!f.outcome.stops_mail() && f.outcome.label() == "mail_soft_bounced");
    }

    #[test]
    fn a_complaint_stops_mail_and_other_events_are_ignored() {
        let e = sns(json!({"eventType": "Complaint", "mail": {"messageId": "m-3"},
            "complaint": {"complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": "c@example.com"}]}}));
        let [f] = from_sns(&e).try_into().unwrap();
        assert_eq!((f.outcome.label(), f.outcome.kind()), ("mail_complaint", "abuse"));
        assert!(from_sns(&sns(json!({"eventType": "Delivery", "mail": {"messageId": "m"}}))).is_empty());
        assert!(from_sns(&json!({"Records": [{"Sns": {"Message": "not json"}}]})).is_empty());
        assert!(from_sns(&json!({})).is_empty());
    }
}
