//! The events the product learns (SPEC: Events for the product, §21): which changes of an account
//! it must enforce, in the order they happened, numbered per account with no gaps.

use crate::account::{Account, State, StateReason};
use crate::lifecycle::Effect;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Every event's `source` on the bus.
pub const SOURCE: &str = "saas.accounts";

/// One event, numbered: `seq` is the account's counter (1, 2, 3 …), `event_id` is stable (the
/// same change always has the same id, as a change is committed once under its `seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    pub detail_type: &'static str,
    pub at: DateTime<Utc>,
    pub seq: u64,
    pub event_id: String,
    /// The detail as published: `event_id`, `account_id`, `domain`, `seq`, `at` and the change.
    pub detail: Value,
}

/// Why an account became active: a payment, a sign-in restoring an archived account, an operator
/// lifting a violation suspension, or the move to Free when a paid plan was not renewed.
fn reason_to_active(from: State, paid: bool) -> &'static str {
    match from {
        _ if paid => "payment",
        State::Archived => "restored",
        State::Suspended => "lifted",
        _ => "not_renewed",
    }
}

fn code(r: Option<StateReason>) -> Value {
    r.and_then(|r| serde_json::to_value(r).ok()).unwrap_or(Value::Null)
}

/// The events of one committed change of `a` (as it is after the change), numbered from
/// `a.event_seq + 1`; `created` for the change that created the account. Advances `a.event_seq`.
pub fn number(a: &mut Account, effects: &[Effect], created: bool) -> Vec<AccountEvent> {
    let paid = effects.iter().any(|e| matches!(e, Effect::Payment { .. }));
    let mut found: Vec<(&'static str, DateTime<Utc>, Value)> = Vec::new();
    if created {
        found.push(("AccountCreated", a.created_at, json!({"state": a.state, "plan": a.plan})));
    }
    for e in effects {
        match e {
            Effect::Delete { at, reason } => {
                // A deletion is only `AccountDeleted`: what it ends is gone with it.
                found.retain(|(t, _, _)| *t == "AccountCreated");
                found.push(("AccountDeleted", *at, json!({"reason": code(*reason)})));
                break;
            }
            Effect::Transition { at, from, to, reason, .. } if from != to => {
                let why = if *to == State::Active { json!(reason_to_active(*from, paid)) } else { code(*reason) };
                found.push(("AccountStateChanged", *at, json!({"from": from, "to": to, "reason": why})));
            }
            Effect::PlanChanged { at, from, to } => {
                found.push(("AccountPlanChanged", *at, json!({"from": from, "to": to})));
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .map(|(detail_type, at, change)| {
            a.event_seq += 1;
            let seq = a.event_seq;
            let event_id = format!("{}-{seq}", a.id);
            let mut detail = json!({
                "event_id": event_id, "account_id": a.id, "domain": a.domain, "seq": seq,
                "at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
            if let (Value::Object(d), Value::Object(c)) = (&mut detail, change) {
                d.extend(c);
            }
            AccountEvent { detail_type, at, seq, event_id, detail }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{advance, lift_suspension, suspend_for_violation};
    use crate::{Catalog, Policy};
    use chrono::{Duration, TimeZone};

    fn account() -> Account {
        let t0 = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let mut a = Account::new_free(
            "a1".into(),
            crate::types::v("acme"),
            "Acme".into(),
            crate::types::v("US"),
            None,
            crate::countries::ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "n@example.com".into() },
            crate::types::v("ada@example.com"),
            "2021-11-01".into(),
            t0,
        );
        a.email_verified = true;
        a
    }

    #[test]
    fn numbers_run_on_without_gaps_and_reasons_name_why() {
        let mut a = account();
        let created = number(&mut a, &[], true);
        assert_eq!((created[0].detail_type, created[0].seq), ("AccountCreated", 1));
        let (p, cat) = (Policy::default(), Catalog::builtin());
        let t = a.created_at + Duration::days(31);
        let archived = advance(&mut a, &p, cat, t);
        let e = number(&mut a, &archived, false);
        assert_eq!(e.len(), 1, "notices are not events");
        assert_eq!(
            (e[0].seq, e[0].detail["to"].as_str(), e[0].detail["reason"].as_str()),
            (2, Some("archived"), Some("inactivity"))
        );
        let restored = crate::lifecycle::sign_in(&mut a, t + Duration::days(1)).unwrap();
        let e = number(&mut a, &restored, false);
        assert_eq!((e[0].seq, e[0].detail["reason"].as_str()), (3, Some("restored")));
        assert_eq!(e[0].event_id, "a1-3");
        let s = suspend_for_violation(&mut a, &p, t + Duration::days(2)).unwrap();
        assert_eq!(number(&mut a, &s, false)[0].detail["reason"], "terms_violation");
        let l = lift_suspension(&mut a, &p, cat, t + Duration::days(3)).unwrap();
        let e = number(&mut a, &l, false);
        assert_eq!((e[0].seq, e[0].detail["reason"].as_str()), (5, Some("lifted")));
    }

    #[test]
    fn a_deletion_is_only_account_deleted() {
        let mut a = account();
        a.event_seq = 7;
        let at = a.created_at;
        let effects = [
            Effect::Transition {
                at,
                from: State::Archived,
                to: State::Deleted,
                reason: Some(StateReason::Inactivity),
                plan: a.plan.clone(),
            },
            Effect::Delete { at, reason: Some(StateReason::Inactivity) },
        ];
        let e = number(&mut a, &effects, false);
        assert_eq!(e.iter().map(|e| (e.detail_type, e.seq)).collect::<Vec<_>>(), [("AccountDeleted", 8)]);
        assert_eq!(e[0].detail["reason"], "inactivity");
    }
}
