//! The account as stored: plan, lifecycle state, term, usage and the lifecycle cursor.

use crate::countries::ContractingParty;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Active,
    Grace,
    Suspended,
    Archived,
    Terminated,
    Deleted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Grace => "grace",
            State::Suspended => "suspended",
            State::Archived => "archived",
            State::Terminated => "terminated",
            State::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateReason {
    /// §7.3: the grace period ended without a new paid term.
    NotRenewed,
    /// §7.4, §21.2.2: content incompatible with the Free plan was not removed.
    IncompatibleContent,
    /// §21.2.1: an operator suspended the account for a Terms violation.
    TermsViolation,
    /// §21.1: archived for inactivity, or deleted after it.
    Inactivity,
    /// §8.2: the administrator gave written notice of termination.
    Termination,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub users: u64,
    pub storage_gb: u64,
    #[serde(default)]
    pub features: BTreeSet<String>,
}

/// A cheaper plan bought for the next term takes over when the running term ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSwitch {
    pub at: DateTime<Utc>,
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub domain: String,
    pub company: String,
    pub country: String,
    #[serde(default)]
    pub region: Option<String>,
    pub contracting_party: ContractingParty,
    /// Administrators' e-mail addresses (each also claims `EMAIL#addr`).
    pub admins: Vec<String>,
    pub plan: String,
    pub state: State,
    #[serde(default)]
    pub state_reason: Option<StateReason>,
    /// When the current state began: anchors archive, suspension and termination deadlines.
    pub state_since: DateTime<Utc>,
    #[serde(default)]
    pub term_start: Option<DateTime<Utc>>,
    /// End of the paid term; `None` on the Free plan.
    #[serde(default)]
    pub term_end: Option<DateTime<Utc>>,
    #[serde(default = "one")]
    pub term_months: u32,
    pub auto_renew: bool,
    #[serde(default)]
    pub next_plan: Option<String>,
    #[serde(default)]
    pub plan_switch: Option<PlanSwitch>,
    #[serde(default)]
    pub usage: Usage,
    pub last_activity: DateTime<Utc>,
    /// Every scheduled step at or before this moment has been applied.
    pub swept_until: DateTime<Utc>,
    /// The term end whose renewal charge has been requested (so it is requested once).
    #[serde(default)]
    pub charge_requested_for: Option<DateTime<Utc>>,
    pub terms_version: String,
    /// The latest Terms version this account's administrators were notified of (§1.4).
    #[serde(default)]
    pub terms_notified: Option<String>,
    pub created_at: DateTime<Utc>,
    /// §15.3: copyright notices about this account that led to permanent removal.
    #[serde(default)]
    pub copyright_removals: u32,
    #[serde(default)]
    pub repeat_infringer: bool,
    /// Optimistic-concurrency version: every write is conditional on it.
    pub version: u64,
}

fn one() -> u32 {
    1
}

impl Account {
    pub fn is_paid(&self) -> bool {
        self.term_end.is_some()
    }

    /// Builds a new account, active on the Free plan (SPEC: Signup).
    #[allow(clippy::too_many_arguments)]
    pub fn new_free(
        id: String,
        domain: String,
        company: String,
        country: String,
        region: Option<String>,
        contracting_party: ContractingParty,
        admin: String,
        terms_version: String,
        now: DateTime<Utc>,
    ) -> Account {
        Account {
            id,
            domain,
            company,
            country,
            region,
            contracting_party,
            admins: vec![admin],
            plan: crate::catalog::FREE.into(),
            state: State::Active,
            state_reason: None,
            state_since: now,
            term_start: None,
            term_end: None,
            term_months: 1,
            auto_renew: false,
            next_plan: None,
            plan_switch: None,
            usage: Usage::default(),
            last_activity: now,
            swept_until: now,
            charge_requested_for: None,
            terms_version,
            terms_notified: None,
            created_at: now,
            copyright_removals: 0,
            repeat_infringer: false,
            version: 0,
        }
    }
}
