//! The forecast (SPEC: account view): `advance` run forward with nobody acting. With auto-renewal
//! on and a card saved, it shows the renewal charge and `renewed` at the term end, and stops there.

use super::{advance, due_at, Effect};
use crate::account::{Account, ChargeStatus};
use crate::catalog::Catalog;
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One upcoming event of the forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub at: DateTime<Utc>,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl Forecast {
    fn of(e: &Effect) -> Forecast {
        let price = match e {
            Effect::ChargeRequest { price, .. } => price.clone(),
            _ => None,
        };
        Forecast {
            at: e.at(),
            event: e.label(),
            amount: price.as_ref().map(|m| m.amount),
            currency: price.map(|m| m.currency),
        }
    }
}

/// The dates of every upcoming step if nobody acts: `advance` run forward from `now`.
pub fn forecast(a: &Account, p: &Policy, catalog: &Catalog, now: DateTime<Utc>) -> Vec<Forecast> {
    let mut sim = a.clone();
    let mut out = Vec::new();
    // A charge already made for this term is expected to succeed: renewed at the term end.
    if let (Some(r), Some(end)) = (&a.renewal, a.term_end) {
        if r.term_end == end && matches!(r.status, ChargeStatus::Pending | ChargeStatus::Created) {
            out.push(renewed(end.max(now), &r.amount));
            return out;
        }
    }
    let mut next = Some(now);
    for _ in 0..64 {
        let Some(at) = next else { break };
        for e in advance(&mut sim, p, catalog, at) {
            if let Effect::ChargeRequest { term_start, price: Some(price), at, .. } = &e {
                out.push(Forecast::of(&e));
                out.push(renewed((*term_start).max(*at), price));
                return out;
            }
            if !matches!(e, Effect::Delete { .. }) {
                out.push(Forecast::of(&e));
            }
        }
        next = due_at(&sim, p);
    }
    out
}

fn renewed(at: DateTime<Utc>, price: &crate::money::Money) -> Forecast {
    Forecast { at, event: "renewed".into(), amount: Some(price.amount), currency: Some(price.currency.clone()) }
}
