//! The store and mailer adapters against the real local stack (DynamoDB Local, the SES emulator):
//! each test writes to a table of its own, created from template.yaml by infra/bootstrap.py.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's failure is a panic")]

use chrono::{TimeZone, Utc};
use domain::countries::ContractingParty;
use domain::lifecycle::Effect;
use domain::notice::{Notice, NoticeKind};
use domain::Account;
use platform::dynamo::{Tag, WriteError};
use platform::mailer::{MailError, Mailer, OutgoingMail};
use platform::outbox::deliver;
use platform::repo::accounts::User;
use platform::repo::outbox::{MailSettings, MailStatus};
use platform::testkit::{app, app_configured, v};
use platform::{App, Change};
use std::io::{Read, Write};

/// The messages the SES emulator accepted, from its `/moto-api/data.json`.
fn sent_mail() -> Vec<serde_json::Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SES").unwrap();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("{}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

fn account(id: &str, admin: &str) -> Account {
    Account::new_free(
        id.into(),
        v(&format!("d{id}")),
        "Acme".into(),
        v("US"),
        None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        v(admin),
        "2021-11-01".into(),
        Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap(),
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn create(app: &App, a: &mut Account) -> Result<Vec<platform::repo::outbox::OutboxMail>, WriteError> {
    let user = User {
        account_id: a.id.clone(),
        email: a.admins[0].clone(),
        first_name: "A".into(),
        last_name: "B".into(),
        role: "administrator".into(),
        created_at: a.created_at,
    };
    let extra = app.accounts.signup_writes(a, &user, "hash".into()).unwrap();
    let now = a.created_at;
    let effects = [Effect::Notice(Notice::new(NoticeKind::Welcome, now, None))];
    app.accounts
        .commit(
            Change { account: a, expected_version: None, effects: &effects, history: vec![], extra, now },
            &app.config.policy,
        )
        .await
}

#[tokio::test]
async fn a_partner_written_is_read_back_and_a_second_new_only_write_loses() {
    let app = app().await;
    let p: domain::forms::PartnerInput = serde_json::from_value(serde_json::json!({
        "id": "kiwi-crm", "name": "Kiwi CRM", "email": "leads@kiwi.example.com", "countries": ["NZ"]
    }))
    .unwrap();
    let p = p.parse().unwrap();
    assert!(app.forms.add_partner(&p).await.unwrap());
    assert!(!app.forms.add_partner(&p).await.unwrap(), "the second write must lose");
    let back = app.forms.partners_for(&v("NZ")).await.unwrap();
    assert_eq!(back.iter().filter(|b| b.id == "kiwi-crm").count(), 1);
}

#[tokio::test]
async fn two_writers_of_the_same_account_version_one_wins_and_the_other_conflicts() {
    let app = app().await;
    let p = app.config.policy.clone();
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let id = unique("race");
    create(&app, &mut account(&id, &format!("{id}@race.example"))).await.unwrap();
    let (mut first, mut second) =
        (app.accounts.get(&id).await.unwrap().unwrap(), app.accounts.get(&id).await.unwrap().unwrap());
    first.company = "First".into();
    second.company = "Second".into();
    let v = first.version;
    let c = |a| Change { account: a, expected_version: Some(v), effects: &[], history: vec![], extra: vec![], now };
    app.accounts.commit(c(&mut first), &p).await.unwrap();
    let lost = app.accounts.commit(c(&mut second), &p).await;
    assert!(matches!(lost, Err(WriteError::Conflict(ref tags)) if tags == &vec![Tag::Account]), "{lost:?}");
    assert_eq!(app.accounts.get(&id).await.unwrap().unwrap().company, "First");
}

#[tokio::test]
async fn a_transaction_names_the_claim_that_lost_and_writes_nothing() {
    let app = app().await;
    let first = unique("t");
    let mut a = account(&first, &format!("{first}@t.example"));
    create(&app, &mut a).await.unwrap();
    let second = unique("t");
    let mut b = account(&second, &format!("{second}@t.example"));
    b.domain = a.domain.clone();
    let r = create(&app, &mut b).await;
    assert!(matches!(r, Err(ref e) if e.lost(Tag::DomainClaim) && !e.lost(Tag::EmailClaim)), "{r:?}");
    assert!(app.accounts.get(&second).await.unwrap().is_none(), "nothing of the losing transaction is written");
}

#[tokio::test]
async fn a_mail_sent_through_ses_is_read_back_from_the_emulator() {
    let app = app().await;
    let mailer = app.mailer.clone();
    let to = format!("{}@mail.example", uuid::Uuid::new_v4().simple());
    let id = mailer
        .send(&OutgoingMail { to: vec![to.clone()], subject: "Hello".into(), text: "Body text".into() })
        .await
        .unwrap();
    assert!(!id.is_empty());
    let mine: Vec<_> = sent_mail().into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str()).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0]["subject"].as_str(), mine[0]["body"].as_str()), (Some("Hello"), Some("Body text")));
}

/// SES refusing every message: for a while (throttled, down) or for good (the message itself).
struct Refusing {
    permanent: bool,
    tries: std::sync::atomic::AtomicUsize,
}
impl Refusing {
    fn new(permanent: bool) -> Refusing {
        Refusing { permanent, tries: 0.into() }
    }
    fn tries(&self) -> usize {
        self.tries.load(std::sync::atomic::Ordering::SeqCst)
    }
}
#[async_trait::async_trait]
impl Mailer for Refusing {
    async fn send(&self, _: &OutgoingMail) -> Result<String, MailError> {
        self.tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.permanent {
            Err(MailError::Permanent("MessageRejected: Email address is not verified".into()))
        } else {
            Err(MailError::Transient(anyhow::anyhow!("SES refused")))
        }
    }
}

fn mail_settings(lease_seconds: i64, retry_base_seconds: i64, max_attempts: u32) -> impl FnOnce(&mut platform::Config) {
    move |c| c.mail = MailSettings { lease_seconds, retry_base_seconds, max_attempts }
}

#[tokio::test]
async fn a_notice_that_ses_refused_waits_on_the_clock_in_the_mail_lane_and_is_sent_once() {
    let app = app_configured(mail_settings(1, 1, 8)).await;
    // An event time far from the clock: leases and retries must not be measured against it.
    let now = Utc.with_ymd_and_hms(2031, 5, 1, 0, 0, 0).unwrap();
    let id = unique("o");
    let admin = format!("{}@outbox.example", uuid::Uuid::new_v4().simple());
    let mails = create(&app, &mut account(&id, &admin)).await.unwrap();
    assert!(app.outbox.claim(&mails[0]).await.unwrap().is_none(), "the writer's lease holds");
    assert_eq!(deliver(&app.outbox, &Refusing::new(false), &mails, now).await.failed, 1);
    let waiting = app.outbox.get(Some(&id), &mails[0].key).await.unwrap().unwrap();
    assert_eq!((waiting.status, waiting.attempts), (MailStatus::Sending, 1));
    assert_eq!(waiting.last_error.as_deref(), Some("SES refused"));

    let shard = platform::dynamo::keys::shard(&mails[0].key);
    let (lane, _) = app.outbox.due_page(shard, Utc::now() + chrono::Duration::seconds(5), 100, None).await.unwrap();
    assert!(lane.iter().any(|m| matches!(m, Ok(m) if m.key == mails[0].key)), "in the mail lane");
    let accounts_lane = app.sweep.due_page(&platform::dynamo::keys::due_pk(shard), now, 100, None).await.unwrap().items;
    assert!(accounts_lane.iter().all(Result::is_ok), "the account lane holds no mail");

    assert!(app.outbox.claim(&waiting).await.unwrap().is_none(), "not before its retry time on the clock");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let claimed = app.outbox.claim(&waiting).await.unwrap().expect("its retry time came");
    assert!(app.outbox.claim(&waiting).await.unwrap().is_none(), "one claimant at a time");
    assert_eq!(deliver(&app.outbox, app.mailer.as_ref(), std::slice::from_ref(&claimed), now).await.sent, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(app.outbox.claim(&claimed).await.unwrap().is_none(), "sent mail is never claimed again");
    let stored = app.outbox.get(Some(&id), &mails[0].key).await.unwrap().unwrap();
    assert_eq!(stored.status, MailStatus::Sent);
    assert!(stored.to.is_empty() && stored.text.is_empty(), "a sent mail keeps no personal data");
    assert_eq!(sent_mail().iter().filter(|m| m["destinations"]["ToAddresses"][0] == admin.as_str()).count(), 1);
}

#[tokio::test]
async fn a_mail_that_fails_a_hundred_times_is_tried_max_attempts_times_then_set_aside_and_listed() {
    let app = app_configured(mail_settings(1, 0, 5)).await;
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let id = unique("f");
    let mails = create(&app, &mut account(&id, &format!("{id}@failing.example"))).await.unwrap();
    let ses = Refusing::new(false);
    let mut mail = mails[0].clone();
    for _ in 0..100 {
        deliver(&app.outbox, &ses, std::slice::from_ref(&mail), now).await;
        let Some(next) = app.outbox.claim(&mail).await.unwrap() else { break };
        mail = next;
    }
    assert_eq!(ses.tries(), 5, "tried MAIL_MAX_ATTEMPTS times, then never again");
    let stored = app.outbox.get(Some(&id), &mails[0].key).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.attempts), (MailStatus::Failed, 5));
    let shard = platform::dynamo::keys::shard(&mails[0].key);
    let (lane, _) = app.outbox.due_page(shard, Utc::now() + chrono::Duration::days(1), 100, None).await.unwrap();
    assert!(lane.is_empty(), "out of the sweep's way");
    let failed = app.outbox.failed(100).await.unwrap();
    assert_eq!(failed.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), [mails[0].key.as_str()]);
}

#[tokio::test]
async fn a_mail_ses_refuses_for_good_is_set_aside_at_the_first_try() {
    let app = app().await;
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let id = unique("p");
    let mails = create(&app, &mut account(&id, &format!("{id}@refused.example"))).await.unwrap();
    let d = deliver(&app.outbox, &Refusing::new(true), &mails, now).await;
    assert_eq!((d.failed, d.set_aside), (1, 1));
    let stored = app.outbox.get(Some(&id), &mails[0].key).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.attempts), (MailStatus::Failed, 1));
    assert!(stored.last_error.unwrap_or_default().starts_with("MessageRejected"));
}
