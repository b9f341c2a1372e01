//! The event lane against a bus that works, refuses one entry, or cannot be reached.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test's failure is a panic")]

use crate::handler::sweep;
use crate::publish::{event_lane, Bus};
use crate::summary::Run;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use domain::countries::ContractingParty;
use domain::Account;
use platform::repo::events::EventRecord;
use platform::testkit::{app, v};
use platform::{App, Change};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct FakeBus {
    down: bool,
    /// Refuse the first entry offered for this event id, once.
    refuse_once: Mutex<Option<String>>,
    batches: Mutex<Vec<Vec<(String, u64)>>>,
}

#[async_trait]
impl Bus for FakeBus {
    async fn put(&self, events: &[EventRecord]) -> anyhow::Result<Vec<bool>> {
        if self.down {
            anyhow::bail!("connection refused");
        }
        assert!(events.len() <= 10, "PutEvents takes at most 10");
        let mut refuse = self.refuse_once.lock().unwrap();
        let ok: Vec<bool> = events.iter().map(|e| refuse.as_deref() != Some(e.event_id.as_str())).collect();
        if ok.contains(&false) {
            *refuse = None;
        }
        let sent = events.iter().zip(&ok).filter(|(_, ok)| **ok).map(|(e, _)| (e.account_id.clone(), e.seq));
        self.batches.lock().unwrap().push(sent.collect());
        Ok(ok)
    }
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// An account created, then archived by a sweep: events 1 (created) and 2 (archived) wait.
async fn account_with_two_events(app: &App) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut a = Account::new_free(
        id.clone(),
        v(&format!("e{}", &id[..12])),
        "Acme".into(),
        v("US"),
        None,
        ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
        v(&format!("{}@events.example", &id[..12])),
        "2021-11-01".into(),
        at(2027, 1, 1),
    );
    a.email_verified = true;
    let change = Change {
        account: &mut a,
        expected_version: None,
        effects: &[],
        history: vec![],
        extra: vec![],
        now: at(2027, 1, 1),
    };
    app.accounts.commit(change, &app.config.policy).await.unwrap();
    id
}

async fn lane(app: &App, bus: &FakeBus) -> crate::summary::Summary {
    let run = Run::default();
    let shards: Vec<u32> = (0..platform::dynamo::keys::SHARDS).collect();
    event_lane(app, Some(bus), &shards, at(2027, 2, 5), Instant::now() + Duration::from_secs(60), &run).await.unwrap();
    run.summary()
}

fn of(bus: &FakeBus, id: &str) -> Vec<u64> {
    bus.batches.lock().unwrap().iter().flatten().filter(|(a, _)| a == id).map(|(_, s)| *s).collect()
}

#[tokio::test]
async fn with_the_bus_down_nothing_is_lost_and_a_later_run_publishes_in_seq_order() {
    let app = app().await;
    let ids = [account_with_two_events(&app).await, account_with_two_events(&app).await];
    sweep(&app, at(2027, 2, 5), Instant::now() + Duration::from_secs(60)).await.unwrap();
    let down = FakeBus { down: true, ..FakeBus::default() };
    let s = lane(&app, &down).await;
    assert_eq!((s.events_published, s.events_failed > 0), (0, true));
    let up = FakeBus::default();
    let s = lane(&app, &up).await;
    assert_eq!(s.events_published, 4);
    for id in &ids {
        assert_eq!(of(&up, id), [1, 2], "in order, each once");
    }
    assert!(up.batches.lock().unwrap().iter().all(|b| b.len() <= 10));
    assert_eq!(lane(&app, &FakeBus::default()).await.events_published, 0, "published ones are gone");
}

#[tokio::test]
async fn a_refused_entry_is_retried_alone_and_holds_back_its_account_s_later_events() {
    let app = app().await;
    let (a, b) = (account_with_two_events(&app).await, account_with_two_events(&app).await);
    sweep(&app, at(2027, 2, 5), Instant::now() + Duration::from_secs(60)).await.unwrap();
    let bus = FakeBus { refuse_once: Mutex::new(Some(format!("{a}-1"))), ..FakeBus::default() };
    let first = lane(&app, &bus).await;
    assert_eq!((first.events_published, first.events_failed), (2, 1), "b's two, not a's second");
    assert_eq!(of(&bus, &b), [1, 2]);
    assert!(of(&bus, &a).is_empty());
    lane(&app, &bus).await;
    assert_eq!(of(&bus, &a), [1, 2], "a's, in order, on the next run");
}
