//! The sweep's lanes (SPEC: Public surface): failing mail never stalls transitions, retries keep
//! to the wall clock whatever the event's time, and outside local mode a far-off time is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's failure is a panic")]

use crate::handler::{handle, sweep};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::countries::ContractingParty;
use domain::notice::Mail;
use domain::{Account, State};
use lambda_runtime::LambdaEvent;
use platform::dynamo::keys::shard;
use platform::mailer::{MailError, Mailer, OutgoingMail};
use platform::outbox::deliver;
use platform::repo::outbox::OutboxMail;
use platform::testkit::{app, app_configured, v};
use platform::{App, Change};
use std::sync::Arc;
use std::time::Instant;

/// SES down: every try fails after a pause, as a slow endpoint would.
struct SlowRefusing;
#[async_trait]
impl Mailer for SlowRefusing {
    async fn send(&self, _: &OutgoingMail) -> Result<String, MailError> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(MailError::Transient(anyhow::anyhow!("SES is down")))
    }
}

/// An id (or key) that falls in logical shard `s`.
fn in_shard(prefix: &str, s: u32) -> String {
    (0..)
        .map(|i| format!("{prefix}{}x{i}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
        .find(|k| shard(k) == s)
        .unwrap()
}

async fn free_account(app: &App, id: &str, at: DateTime<Utc>) {
    let mut a = Account::new_free(
        id.into(),
        v(&format!("l{}", &id[..id.len().min(20)])),
        "Acme".into(),
        v("US"),
        None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        v(&format!("{id}@lanes.example")),
        "2021-11-01".into(),
        at,
    );
    a.email_verified = true;
    let change =
        Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra: vec![], now: at };
    app.accounts.commit(change, &app.config.policy).await.unwrap();
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

#[tokio::test]
async fn two_hundred_failing_mails_in_shard_0_leave_shard_1_transitions_done_in_the_same_run() {
    let base = app().await;
    let app = App::new((*base.config).clone(), base.store.clone(), Arc::new(SlowRefusing), base.secrets.clone());
    let mut writes = Vec::new();
    for _ in 0..200 {
        let mut m = OutboxMail::leased(
            in_shard("form#stuck#", 0),
            None,
            vec![v("stuck@lanes.example")],
            Mail { subject: "s".into(), text: "t".into() },
            &app.config.mail,
        );
        m.lease_until = Utc::now().timestamp() - 1; // its lease ran out: due for a retry now
        writes.push(app.outbox.put(&m).unwrap());
    }
    for chunk in writes.chunks(25) {
        app.forms.transact(chunk.to_vec()).await.unwrap();
    }
    let ids: Vec<String> = (0..3).map(|_| in_shard("lane", 1)).collect();
    for id in &ids {
        free_account(&app, id, at(2027, 1, 1)).await;
    }
    // 200 tries at 20 ms would take 4 s; the run has 1.5 s.
    let s = sweep(&app, at(2027, 2, 5), Instant::now() + std::time::Duration::from_millis(1500)).await.unwrap();
    assert!(!s.complete, "the mail lane did not get through: {s:?}");
    for id in &ids {
        assert_eq!(app.accounts.get(id).await.unwrap().unwrap().state, State::Archived, "{s:?}");
    }
}

#[tokio::test]
async fn a_sweep_with_an_old_or_a_replayed_time_does_not_resend_mail_waiting_on_the_clock() {
    let app = app().await;
    let id = in_shard("old", 0);
    let admin = v(&format!("{id}@lanes.example"));
    let mut a = Account::new_free(
        id.clone(),
        v(&format!("o{}", &id[..12])),
        "Acme".into(),
        v("US"),
        None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        admin,
        "2021-11-01".into(),
        Utc::now(),
    );
    a.email_verified = true;
    let welcome = [domain::lifecycle::Effect::Notice(domain::notice::Notice::new(
        domain::notice::NoticeKind::Welcome,
        Utc::now(),
        None,
    ))];
    let change = Change {
        account: &mut a,
        expected_version: None,
        effects: &welcome,
        history: vec![],
        extra: vec![],
        now: Utc::now(),
    };
    let mails = app.accounts.commit(change, &app.config.policy).await.unwrap();
    assert_eq!(
        deliver(&app.outbox, &SlowRefusing, &mails, Utc::now()).await.failed,
        1,
        "its next try is a minute away"
    );
    for time in [Utc::now() - Duration::minutes(10), Utc::now() + Duration::days(40)] {
        let s = sweep(&app, time, Instant::now() + std::time::Duration::from_secs(30)).await.unwrap();
        assert_eq!(s.mails_retried, 0, "{time}: {s:?}");
    }
    let stored = app.outbox.get(Some(&id), &mails[0].key).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 1, "never tried again before its time on the clock");
}

fn schedule(time: DateTime<Utc>) -> LambdaEvent<serde_json::Value> {
    let payload =
        serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": time.to_rfc3339()});
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

#[tokio::test]
async fn outside_local_mode_a_time_more_than_fifteen_minutes_off_is_refused() {
    let app = app_configured(|c| c.local_replay = false).await;
    let future = handle(&app, None, schedule(Utc::now() + Duration::days(30))).await;
    assert!(future.is_err_and(|e| e.to_string().contains("from the clock")));
    assert!(handle(&app, None, schedule(Utc::now() - Duration::hours(1))).await.is_err(), "a stale retry too");
    assert!(handle(&app, None, schedule(Utc::now() - Duration::minutes(5))).await.is_ok(), "a late schedule runs");
}

/// The run of worker `i` of `workers` at `now`, as the dispatcher would send it.
async fn worker(app: &App, i: u32, workers: u32, now: DateTime<Utc>) -> crate::summary::Summary {
    let job = crate::lanes::Job { now, shards: platform::dynamo::keys::shard_group(i, workers), workers };
    crate::lanes::sweep(app, None, &job, Instant::now() + std::time::Duration::from_secs(60)).await.unwrap()
}

#[tokio::test]
async fn an_account_left_in_an_old_partition_is_still_swept_and_moves_to_its_logical_shard() {
    let app = app().await;
    let (due, idle) = (in_shard("legacy", 5), in_shard("legacy", 9));
    free_account(&app, &due, at(2027, 1, 1)).await;
    free_account(&app, &idle, at(2027, 6, 1)).await;
    for id in [&due, &idle] {
        platform::testkit::move_to_legacy_partition(&app, id).await;
    }
    let account = |id: &str| platform::dynamo::Key::account(id);
    assert_eq!(platform::testkit::due_partition_of(&app, &account(&due)).await.as_deref(), Some("DUE#1"));
    let s = sweep(&app, at(2027, 2, 5), Instant::now() + std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(app.accounts.get(&due).await.unwrap().unwrap().state, State::Archived, "{s:?}");
    assert_eq!(s.legacy_moved, 1, "the idle one moved by the drain: {s:?}");
    for (id, s) in [(&due, 5), (&idle, 9)] {
        let now_in = platform::testkit::due_partition_of(&app, &account(id)).await;
        assert_eq!(now_in, Some(platform::dynamo::keys::due_pk(s)));
    }
}

#[tokio::test]
async fn workers_cut_from_eight_to_two_leave_no_account_unswept_and_none_swept_twice() {
    let app = app().await;
    let ids: Vec<String> = (0..16).map(|i| in_shard("cut", i * 16 + i % 8)).collect();
    for id in &ids {
        free_account(&app, id, at(2027, 1, 1)).await;
    }
    let when = at(2027, 2, 5);
    for i in 0..4 {
        worker(&app, i, 8, when).await; // half of eight workers ran, then the setting became 2
    }
    let mut transitions = 0;
    for i in 0..2 {
        transitions += worker(&app, i, 2, when).await.transitions;
    }
    for id in &ids {
        assert_eq!(app.accounts.get(id).await.unwrap().unwrap().state, State::Archived, "{id}");
        let archived = app.accounts.history(id).await.unwrap().iter().filter(|h| h.kind == "archived").count();
        assert_eq!(archived, 1, "{id}");
    }
    assert_eq!(transitions, 8, "the two workers did only what the first four of eight had not");
}
