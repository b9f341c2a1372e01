//! The store and mailer adapters against the real local stack (DynamoDB Local, the SES emulator):
//! each test writes to a table of its own, created from template.yaml by infra/bootstrap.py.

use chrono::{TimeZone, Utc};
use domain::countries::ContractingParty;
use domain::lifecycle::Effect;
use domain::notice::{Notice, NoticeKind};
use domain::{Account, Policy};
use platform::items::{self, domain_pk, from_item, to_item, OutboxMail};
use platform::mailer::{Mailer, OutgoingMail, SesMailer};
use platform::outbox::deliver;
use platform::store::{put, Change, Store, WriteError};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stack() {
    platform::testkit::local_stack();
}

fn bootstrap(args: &[&str]) {
    let status = Command::new(root().join(".tools/venv/bin/python"))
        .arg(root().join("infra/bootstrap.py"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python");
    assert!(status.success(), "bootstrap {args:?} failed");
}

async fn fresh_store() -> Store {
    stack();
    let table = format!("it-{}", uuid::Uuid::new_v4().simple());
    bootstrap(&["create-table", "--table", &table]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Store::new(aws_sdk_dynamodb::Client::new(&sdk), &table, 4)
}

async fn ses() -> SesMailer {
    stack();
    bootstrap(&["verify-sender"]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    SesMailer::new(aws_sdk_ses::Client::new(&sdk), &std::env::var("MAIL_FROM").unwrap())
}

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
        id.into(), format!("d{id}"), "Acme".into(), "US".into(), None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        admin.into(), "2021-11-01".into(), Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap(),
    )
}

#[tokio::test]
async fn an_item_written_is_read_back_and_a_second_conditional_write_loses() {
    let store = fresh_store().await;
    let item = to_item(domain_pk("acme"), "DOMAIN", "domain", &serde_json::json!({"account_id": "a1"})).unwrap();
    assert!(store.put_new(item.clone()).await.unwrap());
    let mut again = item;
    again.insert("account_id".into(), items::s("a2"));
    assert!(!store.put_new(again).await.unwrap(), "the second claim must lose");
    let back = store.get(&domain_pk("acme"), "DOMAIN").await.unwrap().unwrap();
    assert_eq!(back["account_id"].as_s().unwrap(), "a1");
}

#[tokio::test]
async fn two_writers_of_the_same_account_version_one_wins_and_the_other_conflicts() {
    let store = fresh_store().await;
    let p = Policy::default();
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let mut a = account("race1", "ann@race.example");
    store.commit(Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra: vec![], now }, &p).await.unwrap();
    let (mut first, mut second) = (store.account("race1").await.unwrap().unwrap(), store.account("race1").await.unwrap().unwrap());
    first.company = "First".into();
    second.company = "Second".into();
    let v = first.version;
    store.commit(Change { account: &mut first, expected_version: Some(v), effects: &[], history: vec![], extra: vec![], now }, &p).await.unwrap();
    let lost = store.commit(Change { account: &mut second, expected_version: Some(v), effects: &[], history: vec![], extra: vec![], now }, &p).await;
    assert!(matches!(lost, Err(WriteError::Conflict { ref failed }) if failed == &vec![0]), "{lost:?}");
    assert_eq!(store.account("race1").await.unwrap().unwrap().company, "First");
}

#[tokio::test]
async fn a_transaction_names_the_claim_that_lost_and_writes_nothing() {
    let store = fresh_store().await;
    let p = Policy::default();
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let claim = |id: &str| put(store.table(), to_item(domain_pk("taken"), "DOMAIN", "domain", &serde_json::json!({"account_id": id})).unwrap(), Some("attribute_not_exists(PK)")).unwrap();
    let mut a = account("t1", "a@t.example");
    store.commit(Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra: vec![claim("t1")], now }, &p).await.unwrap();
    let mut b = account("t2", "b@t.example");
    let r = store.commit(Change { account: &mut b, expected_version: None, effects: &[], history: vec![], extra: vec![claim("t2")], now }, &p).await;
    assert!(matches!(r, Err(WriteError::Conflict { ref failed }) if failed == &vec![1]), "{r:?}");
    assert!(store.account("t2").await.unwrap().is_none(), "nothing of the losing transaction is written");
}

#[tokio::test]
async fn a_mail_sent_through_ses_is_read_back_from_the_emulator() {
    let mailer = ses().await;
    let to = format!("{}@mail.example", uuid::Uuid::new_v4().simple());
    let id = mailer.send(&OutgoingMail { to: vec![to.clone()], subject: "Hello".into(), text: "Body text".into() }).await.unwrap();
    assert!(!id.is_empty());
    let mine: Vec<_> = sent_mail().into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == to.as_str()).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0]["subject"].as_str(), mine[0]["body"].as_str()), (Some("Hello"), Some("Body text")));
}

struct Refusing;
#[async_trait::async_trait]
impl Mailer for Refusing {
    async fn send(&self, _: &OutgoingMail) -> anyhow::Result<String> {
        anyhow::bail!("SES refused")
    }
}

#[tokio::test]
async fn a_notice_that_ses_refused_stays_in_the_outbox_and_is_sent_once_after_its_lease() {
    let store = fresh_store().await;
    let mailer = ses().await;
    let p = Policy::default();
    let now = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let admin = format!("{}@outbox.example", uuid::Uuid::new_v4().simple());
    let mut a = account("o1", &admin);
    let effects = [Effect::Notice(Notice { kind: NoticeKind::Welcome, at: now, subject_at: None })];
    let mails = store.commit(Change { account: &mut a, expected_version: None, effects: &effects, history: vec![], extra: vec![], now }, &p).await.unwrap();
    assert_eq!(deliver(&store, &Refusing, &mails, now).await.failed, 1);

    let due_now = store.due_page(items::shard_of(&mails[0].key, 4), now, 100, None).await.unwrap().0;
    assert!(due_now.iter().all(|i| i["entity"].as_s().unwrap() != "outbox"), "leased mail is not retried early");
    let later = now + chrono::Duration::seconds(121);
    assert!(store.claim_mail(&mails[0].key, now).await.unwrap().is_none(), "the lease still holds");
    let claimed = store.claim_mail(&mails[0].key, later).await.unwrap().expect("lease ran out");
    assert!(store.claim_mail(&mails[0].key, later).await.unwrap().is_none(), "one claimant at a time");
    assert_eq!(deliver(&store, &mailer, &[claimed], later).await.sent, 1);
    assert!(store.claim_mail(&mails[0].key, later + chrono::Duration::days(1)).await.unwrap().is_none(), "sent mail is never claimed again");
    let stored: OutboxMail = from_item(store.get(&items::outbox_pk(&mails[0].key), "OUTBOX").await.unwrap().unwrap()).unwrap();
    assert_eq!(stored.status, "sent");
    assert!(stored.to.is_empty() && stored.text.is_empty(), "a sent mail keeps no personal data");
    assert_eq!(sent_mail().iter().filter(|m| m["destinations"]["ToAddresses"][0] == admin.as_str()).count(), 1);
}
