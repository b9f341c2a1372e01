//! The plan catalog (data in `data/catalog.json`) and the plan compatibility chart (§7.4).

use crate::account::Usage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::OnceLock;

pub const FREE: &str = "free";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_users: u64,
    pub storage_gb: u64,
    pub features: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: crate::types::PlanId,
    pub rank: u8,
    /// Integer minor units per month, exclusive of tax (§7.5).
    pub price_per_month: u64,
    #[serde(default)]
    pub currency: String,
    pub limits: Limits,
}

impl Plan {
    pub fn is_free(&self) -> bool {
        self.price_per_month == 0
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub currency: String,
    pub plans: Vec<Plan>,
}

/// One limit the usage exceeds, as the chart shows it to the administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Over {
    pub limit: String,
    pub used: u64,
    pub allowed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    pub plan: crate::types::PlanId,
    pub fits: bool,
    pub over: Vec<Over>,
}

impl Catalog {
    pub fn parse(json: &str) -> Result<Catalog, serde_json::Error> {
        let mut c: Catalog = serde_json::from_str(json)?;
        for p in &mut c.plans {
            p.currency = c.currency.clone();
        }
        c.plans.sort_by_key(|p| p.rank);
        Ok(c)
    }

    /// The catalog shipped with this build (parsed once per process).
    #[allow(clippy::expect_used, reason = "compiled-in data, checked by the catalog's unit tests")]
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::parse(include_str!("../data/catalog.json")).expect("data/catalog.json is valid"))
    }

    pub fn get(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    pub fn free(&self) -> &Plan {
        self.get(FREE).unwrap_or(&self.plans[0])
    }

    /// The compatibility chart: every limit of `plan` that `usage` exceeds (§7.4).
    pub fn chart(&self, plan: &Plan, usage: &Usage) -> Chart {
        let mut over = Vec::new();
        if usage.users > plan.limits.max_users {
            over.push(Over { limit: "max_users".into(), used: usage.users, allowed: plan.limits.max_users });
        }
        if usage.storage_gb > plan.limits.storage_gb {
            over.push(Over { limit: "storage_gb".into(), used: usage.storage_gb, allowed: plan.limits.storage_gb });
        }
        for f in usage.features.difference(&plan.limits.features) {
            over.push(Over { limit: format!("feature:{f}"), used: 1, allowed: 0 });
        }
        Chart { plan: plan.id.clone(), fits: over.is_empty(), over }
    }

    pub fn fits(&self, plan_id: &str, usage: &Usage) -> bool {
        self.get(plan_id).is_some_and(|p| self.chart(p, usage).fits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(users: u64, storage_gb: u64, features: &[&str]) -> Usage {
        Usage { users, storage_gb, features: features.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn the_catalog_has_five_plans_ranked_with_integer_prices() {
        let c = Catalog::builtin();
        let ids: Vec<_> = c.plans.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["free", "basic", "standard", "professional", "enterprise"]);
        assert!(c.free().is_free());
        assert!(c.plans.windows(2).all(|w| w[0].price_per_month < w[1].price_per_month));
    }

    #[test]
    fn usage_at_the_limit_fits_and_one_over_does_not() {
        let c = Catalog::builtin();
        let free = c.free();
        assert!(c.chart(free, &usage(5, 5, &[])).fits);
        let chart = c.chart(free, &usage(6, 5, &[]));
        assert!(!chart.fits);
        assert_eq!(chart.over, vec![Over { limit: "max_users".into(), used: 6, allowed: 5 }]);
    }

    #[test]
    fn the_chart_lists_every_exceeded_limit_and_feature() {
        let c = Catalog::builtin();
        let chart = c.chart(c.get("basic").unwrap(), &usage(7, 30, &["telephony", "sites"]));
        let limits: Vec<_> = chart.over.iter().map(|o| o.limit.as_str()).collect();
        assert_eq!(limits, ["max_users", "storage_gb", "feature:telephony"]);
    }
}
