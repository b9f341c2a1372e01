//! The account as stored: plan, lifecycle state, term, usage and the lifecycle cursor.

use crate::countries::ContractingParty;
use crate::money::Money;
use crate::types::{CountryCode, DomainLabel, Email, PlanId, RegionCode};
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
    /// §4.1: the administrator's e-mail address was never verified.
    Unverified,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub users: u64,
    pub storage_gb: u64,
    #[serde(default)]
    pub features: BTreeSet<String>,
}

/// A term paid for ahead of time: it follows the running term (or the one before it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidTerm {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub months: u32,
    pub plan: PlanId,
}

/// The card renewals are charged to (the Stripe customer's default), as the account view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCard {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// Where a renewal charge attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// Recorded; not yet known to be created at Stripe (a run finding it checks Stripe first).
    Pending,
    /// Created at Stripe; its outcome comes through the webhook.
    Created,
    Declined,
    /// The card needs the customer (3-D Secure): they are told to pay in the portal.
    ActionRequired,
    Succeeded,
    /// Auto-renewal turned off, the next plan changed, or the account closed or suspended.
    Withdrawn,
    /// Nothing to charge: Free chosen, or no plan fits the usage.
    NotCharged,
}

/// The renewal charge of the term ending at `term_end` (§7.7): its latest attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalCharge {
    pub term_end: DateTime<Utc>,
    pub plan: PlanId,
    pub months: u32,
    pub amount: Money,
    /// 1 for the charge before the term ends, 2.. for the retries in grace.
    pub attempt: u8,
    pub status: ChargeStatus,
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// When this attempt was recorded, or its outcome learned.
    pub at: DateTime<Utc>,
    /// A pending attempt is being made by whoever set this (wall clock, set by the adapter).
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
}

/// A checkout waiting for its payment (valid `checkout_hours`); the webhook compares a payment
/// with it, never with a recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    pub id: String,
    pub plan: PlanId,
    pub months: u32,
    /// The total charged: price × months plus the proration.
    pub amount: Money,
    pub proration: u64,
    #[serde(default)]
    pub payment_intent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The last payment applied, as the account view shows it (proration as its own line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPayment {
    pub at: DateTime<Utc>,
    pub plan: PlanId,
    pub months: u32,
    pub amount: Money,
    pub proration: u64,
    pub term_start: DateTime<Utc>,
    pub term_end: DateTime<Utc>,
    pub payment_intent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub domain: DomainLabel,
    pub company: String,
    pub country: CountryCode,
    #[serde(default)]
    pub region: Option<RegionCode>,
    pub contracting_party: ContractingParty,
    /// Administrators' e-mail addresses (each also claims its address, one account per address).
    pub admins: Vec<Email>,
    /// §4.1: the administrator's address is verified. Accounts from before verification count as verified.
    #[serde(default = "verified")]
    pub email_verified: bool,
    /// Each administrator's credential version, carried in their tokens: raising it revokes them.
    #[serde(default)]
    pub credentials: std::collections::BTreeMap<Email, u32>,
    /// Administrators' addresses that bounced for good or complained (SES feedback): no mail goes
    /// to them until the address is verified again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub undeliverable: std::collections::BTreeSet<Email>,
    pub plan: PlanId,
    pub state: State,
    #[serde(default)]
    pub state_reason: Option<StateReason>,
    /// When the current state began: anchors archive, suspension and termination deadlines.
    pub state_since: DateTime<Utc>,
    /// Start of the running paid term.
    #[serde(default)]
    pub term_start: Option<DateTime<Utc>>,
    /// The end of everything paid for (the running term and those bought ahead); `None` on Free.
    #[serde(default)]
    pub term_end: Option<DateTime<Utc>>,
    /// Months of the running term.
    #[serde(default = "one")]
    pub term_months: u32,
    /// Terms bought ahead, in order; the first starts when the running term ends.
    #[serde(default)]
    pub terms_ahead: Vec<PaidTerm>,
    pub auto_renew: bool,
    #[serde(default)]
    pub next_plan: Option<PlanId>,
    /// The Stripe customer, created when a card is first saved.
    #[serde(default)]
    pub stripe_customer: Option<String>,
    #[serde(default)]
    pub payment_method: Option<SavedCard>,
    #[serde(default)]
    pub renewal: Option<RenewalCharge>,
    #[serde(default)]
    pub checkouts: Vec<Checkout>,
    #[serde(default)]
    pub last_payment: Option<LastPayment>,
    #[serde(default)]
    pub usage: Usage,
    pub last_activity: DateTime<Utc>,
    /// Every scheduled step at or before this moment has been applied.
    pub swept_until: DateTime<Utc>,
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
    /// Events published for the product so far (SPEC: Events for the product): the next is this + 1.
    #[serde(default)]
    pub event_seq: u64,
    /// Optimistic-concurrency version: every write is conditional on it.
    pub version: u64,
}

fn one() -> u32 {
    1
}

fn verified() -> bool {
    true
}

impl Account {
    pub fn is_paid(&self) -> bool {
        self.term_end.is_some()
    }
    /// When the running term ends: where the first term bought ahead starts, else `term_end`.
    pub fn running_end(&self) -> Option<DateTime<Utc>> {
        self.terms_ahead.first().map(|t| t.start).or(self.term_end)
    }
    /// The credential version of an administrator (0 until first raised).
    /// Who the account's mail goes to: its administrators, less the addresses that bounced or
    /// complained (empty if all did: the notice is kept in history, not mailed).
    pub fn mail_recipients(&self) -> Vec<Email> {
        self.admins.iter().filter(|e| !self.undeliverable.contains(*e)).cloned().collect()
    }
    pub fn credential(&self, admin: &Email) -> u32 {
        self.credentials.get(admin).copied().unwrap_or(0)
    }
    /// Revokes every token of an administrator (sign-out, password change or reset).
    pub fn revoke(&mut self, admin: &Email) -> u32 {
        let v = self.credentials.entry(admin.clone()).or_insert(0);
        *v += 1;
        *v
    }
    /// The plan and months of the last term paid for (what a renewal continues).
    pub fn last_term(&self) -> (&PlanId, u32) {
        match self.terms_ahead.last() {
            Some(t) => (&t.plan, t.months),
            None => (&self.plan, self.term_months),
        }
    }

    /// Builds a new account, active on the Free plan (SPEC: Signup).
    #[allow(clippy::too_many_arguments)]
    pub fn new_free(
        id: String,
        domain: DomainLabel,
        company: String,
        country: CountryCode,
        region: Option<RegionCode>,
        contracting_party: ContractingParty,
        admin: Email,
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
            email_verified: false,
            credentials: std::collections::BTreeMap::new(),
            undeliverable: std::collections::BTreeSet::new(),
            plan: PlanId::free(),
            state: State::Active,
            state_reason: None,
            state_since: now,
            term_start: None,
            term_end: None,
            term_months: 1,
            terms_ahead: Vec::new(),
            auto_renew: false,
            next_plan: None,
            stripe_customer: None,
            payment_method: None,
            renewal: None,
            checkouts: Vec::new(),
            last_payment: None,
            usage: Usage::default(),
            last_activity: now,
            swept_until: now,
            terms_version,
            terms_notified: None,
            created_at: now,
            copyright_removals: 0,
            repeat_infringer: false,
            event_seq: 0,
            version: 0,
        }
    }
}
