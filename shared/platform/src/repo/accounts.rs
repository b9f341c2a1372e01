//! Accounts: the account item (or its tombstone), its users, history and uniqueness claims, and
//! the one transaction that commits an account change with its history and outbox mail.

use crate::dynamo::expr::{n, s, Cond, Update};
use crate::dynamo::item::{entity_of, from_item, key_of, set_due, to_item, to_item_at, Item};
use crate::dynamo::keys::{entity, Key};
use crate::dynamo::store::{Store, Tag, Write, WriteError};
use crate::repo::identity::{LinkKind, OneTimeLink};
use crate::repo::outbox::{Outbox, OutboxMail};
use anyhow::Result;
use chrono::{DateTime, Utc};
use domain::lifecycle::{sweep_due_at, Effect};
use domain::notice::{render, NoticeKind};
use domain::types::{DomainLabel, Email};
use domain::{Account, Policy, StateReason};
use serde::{Deserialize, Serialize};

/// The administrator's credential: the e-mail claim item carries the account and the hash, so a
/// sign-in needs one read to find both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub email: Email,
    pub account_id: String,
    pub domain: DomainLabel,
    pub password_hash: String,
    /// The credential version tokens are issued with (the account holds the same number).
    #[serde(default)]
    pub credential_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub account_id: String,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// The domain label's claim: one account per label. It also carries the account's standing
/// (state, reason, plan), rewritten with every change of them, so the product reads it in one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainClaim {
    pub domain: DomainLabel,
    pub account_id: String,
    /// Absent on claims written before the standing was kept here: then the account is read.
    #[serde(default, flatten)]
    pub standing: Option<crate::repo::events::Standing>,
}

/// One line of an account's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl HistoryEvent {
    pub fn new(at: DateTime<Utc>, kind: &str, detail: serde_json::Value) -> HistoryEvent {
        HistoryEvent { at, kind: kind.to_string(), detail }
    }
    fn of(e: &Effect) -> Result<HistoryEvent> {
        Ok(HistoryEvent { at: e.at(), kind: e.label(), detail: serde_json::to_value(e)? })
    }
}

/// What remains of a deleted account: id, dates and reason, no personal data (SPEC: Lifecycle).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: String,
    /// Always `deleted`: what a reader of the raw item sees.
    pub state: domain::State,
    pub created_at: DateTime<Utc>,
    pub deleted_at: DateTime<Utc>,
    pub reason: Option<StateReason>,
    /// The account's other items are still to be removed (done by the sweep, repeatably).
    pub purge_pending: bool,
    pub version: u64,
}

/// The item at an account's key: the account, or what its deletion left.
#[derive(Debug, Clone)]
pub enum AccountRecord {
    Live(Box<Account>),
    Deleted(Tombstone),
}

impl AccountRecord {
    pub(crate) fn from_item(item: Item) -> Result<AccountRecord> {
        match entity_of(&item) {
            Some(entity::TOMBSTONE) => Ok(AccountRecord::Deleted(from_item(item)?)),
            Some(entity::ACCOUNT) => Ok(AccountRecord::Live(Box::new(from_item(item)?))),
            other => {
                let k = key_of(&item);
                Err(anyhow::anyhow!("item {}/{} is a {other:?}, not an account", k.pk, k.sk))
            }
        }
    }
}

/// An account change to commit: the new account, the version it was read at, and what happened.
pub struct Change<'a> {
    pub account: &'a mut Account,
    /// `None` creates the account (it must not exist).
    pub expected_version: Option<u64>,
    pub effects: &'a [Effect],
    /// History lines beyond the effects (signup acceptance, a failed payment, ...).
    pub history: Vec<HistoryEvent>,
    /// Further labelled writes in the same transaction.
    pub extra: Vec<Write>,
    pub now: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Accounts {
    pub(crate) store: Store,
    /// Where the links in mail point (`PUBLIC_BASE_URL`: the portal).
    pub(crate) public_base_url: String,
    /// Leases of the mail its changes write.
    pub(crate) mail: crate::repo::outbox::MailSettings,
}

impl Accounts {
    /// A live account; `None` when there is none or it was deleted.
    pub async fn get(&self, id: &str) -> Result<Option<Account>> {
        Ok(match self.record(id).await? {
            Some(AccountRecord::Live(a)) => Some(*a),
            _ => None,
        })
    }

    pub async fn record(&self, id: &str) -> Result<Option<AccountRecord>> {
        self.store.get(&Key::account(id)).await?.map(AccountRecord::from_item).transpose()
    }

    /// The account holding a domain label's claim, if any.
    pub async fn by_domain(&self, label: &DomainLabel) -> Result<Option<Account>> {
        match self.store.get(&Key::domain_claim(label.as_str())).await? {
            Some(item) => self.get(&from_item::<DomainClaim>(item)?.account_id).await,
            None => Ok(None),
        }
    }

    pub async fn domain_taken(&self, label: &DomainLabel) -> Result<bool> {
        Ok(self.store.get(&Key::domain_claim(label.as_str())).await?.is_some())
    }

    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>> {
        let (pk, prefix) = Key::history_prefix(id);
        self.store.query(&pk, prefix).await?.into_iter().map(from_item).collect()
    }

    /// The standing the product reads by domain (SPEC: Events for the product): one item, the
    /// domain claim; a claim from before the standing was kept there reads the account too.
    pub async fn standing(&self, label: &DomainLabel) -> Result<Option<(String, crate::repo::events::Standing)>> {
        let Some(item) = self.store.get(&Key::domain_claim(label.as_str())).await? else { return Ok(None) };
        let claim: DomainClaim = from_item(item)?;
        match claim.standing {
            Some(s) => Ok(Some((claim.account_id, s))),
            None => {
                Ok(self.get(&claim.account_id).await?.map(|a| (a.id.clone(), crate::repo::events::Standing::of(&a))))
            }
        }
    }

    /// The account's users (administrators), as signup and later changes wrote them.
    pub async fn users(&self, id: &str) -> Result<Vec<User>> {
        let (pk, prefix) = Key::users_prefix(id);
        self.store.query(&pk, prefix).await?.into_iter().map(from_item).collect()
    }

    /// The claims and user a new account brings: the label and the address must be free.
    pub fn signup_writes(&self, a: &Account, user: &User, password_hash: String) -> Result<Vec<Write>> {
        let admin = user.email.clone();
        // The account's first event is `AccountCreated`, number 1: the standing reflects it.
        let standing = Some(crate::repo::events::Standing { version: 1, ..crate::repo::events::Standing::of(a) });
        let claim = DomainClaim { domain: a.domain.clone(), account_id: a.id.clone(), standing };
        let login = Login {
            credential_version: a.credential(&admin),
            email: admin,
            account_id: a.id.clone(),
            domain: a.domain.clone(),
            password_hash,
        };
        Ok(vec![
            Write::put(Tag::DomainClaim, to_item(&claim)?, Some(Cond::New)),
            Write::put(Tag::EmailClaim, to_item(&login)?, Some(Cond::New)),
            Write::put(Tag::AccountItem, to_item(user)?, None),
        ])
    }

    /// The account item as written: the account plus its place in the due-time index.
    pub(crate) fn item(&self, a: &Account, p: &Policy) -> Result<Item> {
        let mut item = to_item(a)?;
        set_due(&mut item, &a.id, sweep_due_at(a, p));
        Ok(item)
    }

    /// The writes of a change: the account (conditional on its version), its history, each
    /// notice as an outbox mail already leased to this caller, each renewal charge requested.
    /// A deletion writes a tombstone instead and releases the domain and e-mail claims (§21.4).
    pub fn change_writes(&self, c: Change<'_>, policy: &Policy) -> Result<(Vec<Write>, Vec<OutboxMail>)> {
        let a = c.account;
        let cond = match c.expected_version {
            Some(v) => {
                a.version = v + 1;
                Cond::Eq("version", n(v as i64))
            }
            None => {
                a.version = 1;
                Cond::New
            }
        };
        let deleted = c.effects.iter().find_map(|e| match e {
            Effect::Delete { at, reason } => Some((*at, *reason)),
            _ => None,
        });
        let created = c.expected_version.is_none();
        // Numbered before the account is written: it carries the counter.
        let events = domain::events::number(a, c.effects, created);
        let head = match deleted {
            Some((at, reason)) => {
                let t = Tombstone {
                    id: a.id.clone(),
                    state: domain::State::Deleted,
                    created_at: a.created_at,
                    deleted_at: at,
                    reason,
                    purge_pending: true,
                    version: a.version,
                };
                let mut item = to_item(&t)?;
                set_due(&mut item, &a.id, Some(c.now));
                item
            }
            None => self.item(a, policy)?,
        };
        let mut writes = vec![Write::put(Tag::Account, head, Some(cond))];
        writes.extend(c.extra);
        for e in &events {
            writes.push(crate::repo::events::put(&a.id, e)?);
        }
        if !events.is_empty() && !created && deleted.is_none() {
            writes.push(crate::repo::events::standing_update(a));
        }
        let mut mails = Vec::new();
        if deleted.is_some() {
            writes.push(Write::delete(Tag::DomainClaim, Key::domain_claim(a.domain.as_str())));
            for e in &a.admins {
                writes.push(Write::delete(Tag::EmailClaim, Key::email_claim(e.as_str())));
            }
            return Ok((writes, mails));
        }
        let effect_lines = c.effects.iter().map(HistoryEvent::of).collect::<Result<Vec<_>>>()?;
        for (i, h) in c.history.into_iter().chain(effect_lines).enumerate() {
            let item = to_item_at(&Key::history(&a.id, h.at, a.version, i), entity::EVENT, &h)?;
            writes.push(Write::put(Tag::AccountItem, item, None));
        }
        let outbox = Outbox { store: self.store.clone(), settings: self.mail };
        for e in c.effects {
            if let Effect::Notice(notice) = e {
                let asked_for = matches!(notice.kind, NoticeKind::VerifyEmail | NoticeKind::VerifyReminder);
                // A link the person waits for goes to the address; a notice skips addresses that
                // bounced or complained (its history line stays, it is not mailed).
                let to = if asked_for { a.admins.clone() } else { a.mail_recipients() };
                if to.is_empty() {
                    continue;
                }
                let mail = match notice.kind {
                    NoticeKind::VerifyEmail | NoticeKind::VerifyReminder => {
                        let (link, link_writes) = self.verification_link(a, c.now, policy)?;
                        writes.extend(link_writes);
                        domain::identity::verification_mail(a, &link, policy, notice.kind == NoticeKind::VerifyReminder)
                    }
                    _ => render(notice, a, policy),
                };
                let m = OutboxMail::leased(notice.key(&a.id), Some(a.id.clone()), to, mail, &self.mail);
                writes.push(outbox.put(&m)?);
                mails.push(m);
            }
        }
        Ok((writes, mails))
    }

    /// A new one-time verification link (§4.1), good until the account's verification deadline;
    /// only its hash is stored.
    fn verification_link(&self, a: &Account, now: DateTime<Utc>, p: &Policy) -> Result<(String, [Write; 2])> {
        let (token, hash) = crate::auth::one_time_token();
        let admin =
            a.admins.first().cloned().ok_or_else(|| anyhow::anyhow!("account {} has no administrator", a.id))?;
        let link = OneTimeLink {
            kind: LinkKind::Verify,
            account_id: a.id.clone(),
            email: admin,
            issued_at: now,
            valid_until: domain::identity::verification_deadline(a, p),
            used: false,
        };
        let write = crate::repo::identity::Identity { store: self.store.clone() }.new_link(&hash, &link)?;
        Ok((format!("{}/app/verify?token={token}", self.public_base_url.trim_end_matches('/')), write))
    }

    /// Commits a change in one transaction; returns the outbox mails to deliver now.
    pub async fn commit(&self, c: Change<'_>, policy: &Policy) -> Result<Vec<OutboxMail>, WriteError> {
        let (writes, mails) = self.change_writes(c, policy)?;
        self.store.transact(writes).await?;
        Ok(mails)
    }

    /// A small change to the account as last written (at `a.version`), without reading it again:
    /// `false` when someone wrote it since, and the caller takes the full read-act-commit path.
    pub async fn amend(&self, a: &Account, update: Update, history: Vec<HistoryEvent>) -> Result<bool> {
        let cond = Cond::Eq("version", n(a.version as i64));
        let mut writes =
            vec![Write::update(Tag::Account, Key::account(&a.id), update.add("version", n(1)), Some(cond))];
        for (i, h) in history.into_iter().enumerate() {
            let item = to_item_at(&Key::history(&a.id, h.at, a.version + 1, i), entity::EVENT, &h)?;
            writes.push(Write::put(Tag::AccountItem, item, None));
        }
        match self.store.transact(writes).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict(_) | WriteError::Contended) => Ok(false),
            Err(WriteError::Unexpected(e)) => Err(e),
        }
    }

    /// The renewal charge as changed on `a` (last written at `a.version`), without a read; see `amend`.
    pub async fn amend_renewal(&self, a: &Account) -> Result<bool> {
        let value = serde_dynamo::to_attribute_value(&a.renewal)?;
        self.amend(a, Update::new().set("renewal", value), vec![]).await
    }

    /// Writes labelled writes as one transaction (for callers that add their own, e.g. tests).
    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), WriteError> {
        self.store.transact(writes).await
    }

    /// The credential of an administrator's address.
    pub async fn login(&self, email: &Email) -> Result<Option<Login>> {
        self.store.get(&Key::email_claim(email.as_str())).await?.map(from_item).transpose()
    }

    /// A sign-in's activity without reading the account (the common case): it applies only if
    /// the account is active, nothing is due on it by `now` and its activity is not later, so the
    /// answer can say "active" without a read; otherwise the condition loses and the caller takes
    /// the full read-advance-commit path.
    pub fn touch_sign_in(&self, id: &str, now: DateTime<Utc>) -> Write {
        let at = s(now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        let nothing_due =
            Cond::Missing(crate::dynamo::keys::DUE_AT).or(Cond::Gt(crate::dynamo::keys::DUE_AT, n(now.timestamp())));
        let cond = Cond::Eq("state", s(domain::State::Active.as_str()))
            .and(nothing_due)
            .and(Cond::Le("last_activity", at.clone()));
        Write::update(
            Tag::Account,
            Key::account(id),
            Update::new().set("last_activity", at).add("version", n(1)),
            Some(cond),
        )
    }

    /// The credential of an address and its sign-in failure counter, in one read.
    pub async fn login_and_throttle(&self, email: &Email) -> Result<(Option<Login>, SignInThrottle)> {
        let (login_key, throttle_key) = (Key::email_claim(email.as_str()), Key::throttle(&format!("signin#{email}")));
        let mut login = None;
        let mut throttle = SignInThrottle::default();
        for item in self.store.get_many(&[login_key.clone(), throttle_key]).await? {
            if key_of(&item) == login_key {
                login = Some(from_item(item)?);
            } else {
                throttle = from_item(item)?;
            }
        }
        Ok((login, throttle))
    }

    /// One more failed sign-in: inside the window it adds to the count; after it, a new window opens.
    pub async fn record_sign_in_failure(
        &self,
        email: &Email,
        t: &SignInThrottle,
        in_window: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let start = if in_window { t.window_start } else { now.timestamp() };
        let mut update = crate::dynamo::expr::Update::new()
            .set("window_start", n(start))
            .set(crate::dynamo::keys::EXPIRES_AT, n(start + 86_400))
            .set(crate::dynamo::keys::ENTITY, crate::dynamo::expr::s(entity::THROTTLE));
        update = if in_window { update.add("failures", n(1)) } else { update.set("failures", n(1)) };
        let key = Key::throttle(&format!("signin#{email}"));
        self.store.write(Write::update(Tag::Throttle, key, update, None)).await?;
        Ok(())
    }

    /// Removes every remaining item of a deleted account, then clears the tombstone's purge flag.
    /// Safe to repeat: a crash part-way leaves the tombstone due, and the next sweep finishes.
    /// Deletion's last step (§21.4, §26): every item of the account's partition, every record its
    /// references point to (data requests, copyright notices, one-time links), and its unsent
    /// mail; the tombstone stays. Each step can run again after a crash.
    pub async fn purge(&self, account_id: &str) -> Result<usize> {
        let items = self.store.query(&Key::account_partition(account_id), "").await?;
        let mut doomed: Vec<Key> = Vec::with_capacity(items.len());
        for item in &items {
            let k = key_of(item);
            if k.is_account_head() {
                continue;
            }
            if let (Some(pk), Some(sk)) = (str_attr(item, REF_PK), str_attr(item, REF_SK)) {
                doomed.push(Key::new(pk, sk));
            }
            doomed.push(k);
        }
        let mail = self.store.query(&Key::account_outbox(account_id), "").await?;
        doomed.extend(mail.iter().map(key_of));
        self.store.delete_all(&doomed).await?;
        let done = crate::dynamo::expr::Update::new()
            .set("purge_pending", crate::dynamo::expr::b(false))
            .remove(crate::dynamo::keys::DUE_PK)
            .remove(crate::dynamo::keys::DUE_AT);
        self.store.write(Write::update(Tag::Setting, Key::account(account_id), done, None)).await?;
        Ok(doomed.len())
    }
}

const REF_PK: &str = "target_pk";
const REF_SK: &str = "target_sk";

fn str_attr<'a>(item: &'a crate::dynamo::item::Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A reference from the account's partition to a record elsewhere that names the account or its
/// people, written with that record: deletion follows it (SPEC: Personal data).
pub(crate) fn reference(account_id: &str, target: &Key) -> Write {
    let mut item = crate::dynamo::item::key_item(&Key::reference(account_id, target));
    item.insert(REF_PK.into(), crate::dynamo::expr::s(&target.pk));
    item.insert(REF_SK.into(), crate::dynamo::expr::s(&target.sk));
    item.insert(crate::dynamo::keys::ENTITY.into(), crate::dynamo::expr::s(crate::dynamo::keys::entity::REFERENCE));
    Write::put(Tag::AccountItem, item, None)
}

/// Failed sign-ins of one address in the current window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignInThrottle {
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub window_start: i64,
}
