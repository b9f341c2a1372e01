//! Implementation partners: the partner record, how the partners for a lead are chosen and
//! rotated, and the partner an operator adds.

use super::input::text;
use crate::field::{FieldError, FieldErrors};
use crate::types::{required_line, CountryCode, Email};
use serde::{Deserialize, Serialize};

/// "receive up to 5 offers from our certified Partners".
pub const MAX_PARTNERS: usize = 5;

/// An implementation partner, as seeded (`PARTNER#<id>/META`): `products` empty means every product;
/// `last_sent_at` is when it was last sent a lead (epoch seconds, 0 = never).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub email: Email,
    pub countries: Vec<CountryCode>,
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
            && self.countries.iter().any(|c| c.as_str().eq_ignore_ascii_case(country))
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
        let id = errs.take(required_line("id", self.id.as_deref(), 63).and_then(|id| {
            let ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if ok {
                Ok(id)
            } else {
                Err(FieldError::new("id", "may contain only lowercase letters, digits and hyphens"))
            }
        }));
        let name = errs.take(required_line("name", self.name.as_deref(), 200));
        let email = errs.take(Email::parse("email", self.email.as_deref()));
        let countries = match self.countries.as_deref() {
            None | Some([]) => errs.take(Err(FieldError::required("countries"))),
            Some(list) => {
                let parsed: Result<Vec<CountryCode>, FieldError> =
                    list.iter().map(|c| CountryCode::parse("countries", Some(c))).collect();
                errs.take(parsed)
            }
        };
        let products: Vec<String> =
            self.products.iter().flatten().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect();
        match (id, name, email, countries) {
            (Some(id), Some(name), Some(email), Some(countries)) if errs.is_empty() => Ok(Partner {
                id,
                name,
                email,
                countries,
                products,
                certified: self.certified.unwrap_or(true),
                last_sent_at: 0,
            }),
            _ => Err(errs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn partner(id: &str, countries: &[&str], products: &[&str], last: i64) -> Partner {
        Partner {
            id: id.into(),
            name: format!("{id} Ltd"),
            email: crate::types::v(&format!("leads@{id}.example.com")),
            countries: countries.iter().map(|c| crate::types::v(c)).collect(),
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
        let mut ps: Vec<Partner> =
            ["a", "b", "c", "d", "e", "f"].iter().map(|id| partner(id, &["US"], &[], 0)).collect();
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
}
