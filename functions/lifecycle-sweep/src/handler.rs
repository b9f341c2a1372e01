//! The sweep (SPEC: Time, Lifecycle, Notices): reads only the due-time index, never the table.

use chrono::{DateTime, Utc};
use domain::lifecycle::{advance, notify_terms_update, Effect};
use domain::Account;
use lambda_runtime::{Error, LambdaEvent};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use domain::forms::{data_request_next_due, data_request_overdue_mail, data_request_reminder_mail, data_request_step, DataRequestRecord, DataRequestStep};
use platform::items::{data_request_pk, from_item, set_due, to_item, Item, OutboxMail, DUE_AT, ENTITY, META};
use platform::outbox::deliver;
use platform::store::{Change, WriteError};
use platform::{telemetry, App};
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PAGE: i32 = 100;
/// Stop taking new work this long before the invocation's deadline; the next run continues.
const RESERVE: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub now: Option<DateTime<Utc>>,
    pub due: usize,
    pub transitions: usize,
    pub notices_sent: usize,
    pub notices_failed: usize,
    pub charges_requested: usize,
    pub mails_retried: usize,
    pub purged_accounts: usize,
    pub terms_notices: usize,
    pub lost_races: usize,
    pub items_read: usize,
    pub ddb_requests: u64,
    pub complete: bool,
}

/// "Now" of a schedule: the classic rule's `time`, or the Scheduler's `<aws.scheduler.scheduled-time>`.
pub(crate) fn schedule_time(v: &Value) -> Option<DateTime<Utc>> {
    ["time", "scheduled_time", "scheduledTime"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .and_then(domain::time::parse_rfc3339)
}

pub(crate) async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let now = schedule_time(&event.payload).ok_or("the event has no `time` or `scheduled_time` (RFC 3339)")?;
    let deadline = Instant::now() + remaining(event.context.deadline).saturating_sub(RESERVE);
    let before = app.store.requests();
    let mut s = sweep(app, now, deadline).await?;
    s.ddb_requests = app.store.requests() - before;
    telemetry::metrics(
        "lifecycle-sweep",
        &[("Due", s.due as f64), ("Transitions", s.transitions as f64), ("NoticesSent", s.notices_sent as f64),
          ("NoticesFailed", s.notices_failed as f64), ("LostRaces", s.lost_races as f64)],
    );
    tracing::info!(summary = %serde_json::to_string(&s)?, "sweep done");
    Ok(serde_json::to_value(s)?)
}

/// Time left before the Lambda deadline. AWS sends epoch milliseconds; `cargo lambda watch`
/// sends the timeout itself (600000), so a value too small to be an epoch is taken as a budget.
fn remaining(deadline_ms: u64) -> Duration {
    const EPOCH_2001_MS: u64 = 1_000_000_000_000;
    if deadline_ms == 0 {
        return Duration::from_secs(900); // no deadline given: Lambda's longest timeout
    }
    if deadline_ms < EPOCH_2001_MS {
        return Duration::from_millis(deadline_ms);
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

pub(crate) async fn sweep(app: &App, now: DateTime<Utc>, deadline: Instant) -> Result<Summary, Error> {
    let mut s = Summary { now: Some(now), complete: true, ..Summary::default() };
    'shards: for shard in 0..app.store.shards() {
        let mut start: Option<Item> = None;
        loop {
            if Instant::now() >= deadline {
                s.complete = false;
                break 'shards;
            }
            let (items, next) = app.store.due_page(shard, now, PAGE, start).await?;
            s.items_read += items.len();
            for item in items {
                s.due += 1;
                let entity = item.get(ENTITY).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let r = match entity.as_str() {
                    "account" => account(app, item, now, &mut s).await,
                    "outbox" => mail(app, item, now, &mut s).await,
                    "tombstone" => purge(app, item, &mut s).await,
                    "data_request" => data_request(app, item, now, &mut s).await,
                    other => {
                        tracing::warn!(entity = other, "unknown item in the due index");
                        Ok(())
                    }
                };
                if let Err(e) = r {
                    // One bad item must not stop the others; it stays due and is retried next run.
                    tracing::error!(error = format!("{e:#}"), "sweep item failed");
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    if s.complete {
        s.complete = terms_rollout(app, now, deadline, &mut s).await?;
    }
    Ok(s)
}

/// §1.4: when a new Terms version is published, the administrators of every account are told
/// once. Every live account is in the due-time index, so the rollout pages through it (a Query,
/// never a Scan), saving its place in `TERMS#<version>/ROLLOUT` so the next run continues.
async fn terms_rollout(app: &App, now: DateTime<Utc>, deadline: Instant, s: &mut Summary) -> anyhow::Result<bool> {
    let version = app.config.terms_version.clone();
    let marker_pk = format!("TERMS#{version}");
    let marker = app.store.get(&marker_pk, "ROLLOUT").await?.unwrap_or_default();
    if marker.get("done").and_then(|v| v.as_bool().ok()) == Some(&true) {
        return Ok(true);
    }
    let mut shard = marker.get("shard").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0u32);
    let mut start = marker.get("start").and_then(|v| v.as_m().ok()).cloned();
    // The place is saved at each shard's end and when time runs out, not per page: walking a
    // page again is harmless, as an account already told is skipped.
    let save = |shard: u32, start: Option<Item>| {
        let mut item = platform::items::key(marker_pk.clone(), "ROLLOUT");
        item.insert("shard".into(), platform::items::n(i64::from(shard)));
        if let Some(k) = start {
            item.insert("start".into(), aws_sdk_dynamodb::types::AttributeValue::M(k));
        }
        item.insert("done".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(shard >= app.store.shards()));
        item.insert(ENTITY.into(), platform::items::s("terms_rollout"));
        app.store.put(item)
    };
    while shard < app.store.shards() {
        if Instant::now() >= deadline {
            save(shard, start).await?;
            return Ok(false);
        }
        let (items, next) = app.store.index_page(shard, PAGE, start.take()).await?;
        s.items_read += items.len();
        for item in items.into_iter().filter(|i| i.get(ENTITY).and_then(|v| v.as_s().ok()).map(String::as_str) == Some("account")) {
            let id = item.get("id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let mut current: Option<Account> = Some(from_item(item)?);
            // A lost race re-reads the account: the notice must not be skipped.
            for _ in 0..3 {
                let Some(mut a) = current.take() else { break };
                let effects = notify_terms_update(&mut a, &version);
                if effects.is_empty() {
                    break;
                }
                let v = a.version;
                let change = Change { account: &mut a, expected_version: Some(v), effects: &effects, history: vec![], extra: vec![], now };
                match app.store.commit(change, &app.config.policy).await {
                    Ok(mails) => {
                        s.terms_notices += 1;
                        let d = deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
                        s.notices_sent += d.sent;
                        s.notices_failed += d.failed;
                    }
                    Err(WriteError::Conflict { .. }) => current = app.store.account(&id).await?,
                    Err(WriteError::Other(e)) => return Err(e),
                }
            }
        }
        match next {
            Some(k) => start = Some(k),
            None => {
                shard += 1;
                save(shard, None).await?;
            }
        }
    }
    Ok(true)
}

async fn account(app: &App, item: Item, now: DateTime<Utc>, s: &mut Summary) -> anyhow::Result<()> {
    let mut a: Account = from_item(item)?;
    let read_version = a.version;
    let effects = advance(&mut a, &app.config.policy, app.catalog, now);
    let deleted = effects.iter().any(|e| matches!(e, Effect::Delete { .. }));
    let change = Change { account: &mut a, expected_version: Some(read_version), effects: &effects, history: vec![], extra: vec![], now };
    match app.store.commit(change, &app.config.policy).await {
        Ok(mails) => {
            s.transitions += effects.iter().filter(|e| matches!(e, Effect::Transition { .. })).count();
            s.charges_requested += effects.iter().filter(|e| matches!(e, Effect::ChargeRequest { .. })).count();
            let d = deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
            s.notices_sent += d.sent;
            s.notices_failed += d.failed;
            if deleted {
                app.store.purge(&a.id).await?;
                s.purged_accounts += 1;
            }
            Ok(())
        }
        // Someone else (another sweep, a payment, a sign-in) changed it first: theirs stands.
        Err(WriteError::Conflict { .. }) => {
            s.lost_races += 1;
            Ok(())
        }
        Err(WriteError::Other(e)) => Err(e),
    }
}

async fn mail(app: &App, item: Item, now: DateTime<Utc>, s: &mut Summary) -> anyhow::Result<()> {
    let m: OutboxMail = from_item(item)?;
    if let Some(claimed) = app.store.claim_mail(&m.key, now).await? {
        s.mails_retried += 1;
        let d = deliver(&app.store, app.mailer.as_ref(), &[claimed], now).await;
        s.notices_sent += d.sent;
        s.notices_failed += d.failed;
    } else {
        s.lost_races += 1;
    }
    Ok(())
}

/// §5.5, §26.5: reminders before a data request's respond-by date, then the overdue flag.
/// The write is conditional on the due time read, so of two racing sweeps one acts.
async fn data_request(app: &App, item: Item, now: DateTime<Utc>, s: &mut Summary) -> anyhow::Result<()> {
    let old_due = item.get(DUE_AT).cloned();
    let mut r: DataRequestRecord = from_item(item)?;
    let p = &app.config.policy;
    let step = data_request_step(r.respond_by, &r.reminded, now, p);
    let admins = match app.store.account(&r.account_id).await? {
        Some(a) => a.admins,
        None => Vec::new(), // the account is gone, and its data with it: nothing left to answer
    };
    let mut mails = Vec::new();
    let mail_key = match step {
        Some(DataRequestStep::Reminder { days_before }) => {
            r.reminded.push(days_before);
            Some((format!("datareq#{}#reminder#{days_before}", r.id), data_request_reminder_mail(&r, days_before)))
        }
        Some(DataRequestStep::Overdue) => {
            r.overdue = true;
            Some((format!("datareq#{}#overdue", r.id), data_request_overdue_mail(&r)))
        }
        None => None,
    };
    let mut record = to_item(data_request_pk(&r.id), META, "data_request", &r)?;
    let next = if admins.is_empty() { None } else { data_request_next_due(r.respond_by, &r.reminded, r.overdue, p) };
    set_due(&mut record, &r.id, app.store.shards(), next);
    let put_record = Put::builder()
        .table_name(app.store.table())
        .set_item(Some(record))
        .condition_expression("DueAt = :old")
        .set_expression_attribute_values(old_due.map(|v| [(":old".to_string(), v)].into()))
        .build()?;
    let mut writes = vec![TransactWriteItem::builder().put(put_record).build()];
    if let (Some((key, mail)), false) = (mail_key, admins.is_empty()) {
        let m = OutboxMail::leased(key, Some(r.account_id.clone()), admins, mail, now);
        writes.push(app.store.outbox_put(&m)?);
        mails.push(m);
    }
    match app.store.transact(writes).await {
        Ok(()) => {
            let d = deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
            s.notices_sent += d.sent;
            s.notices_failed += d.failed;
            Ok(())
        }
        Err(WriteError::Conflict { .. }) => {
            s.lost_races += 1;
            Ok(())
        }
        Err(WriteError::Other(e)) => Err(e),
    }
}

async fn purge(app: &App, item: Item, s: &mut Summary) -> anyhow::Result<()> {
    let t: platform::items::Tombstone = from_item(item)?;
    app.store.purge(&t.id).await?;
    s.purged_accounts += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classic_rule_and_a_scheduler_target_both_give_the_time() {
        let classic = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2027-03-01T00:05:00Z"});
        let scheduler = serde_json::json!({"scheduled_time": "2027-03-01T00:05:00Z"});
        assert_eq!(schedule_time(&classic), schedule_time(&scheduler));
        assert!(schedule_time(&classic).is_some());
        assert!(schedule_time(&serde_json::json!({})).is_none());
    }

    #[test]
    fn a_deadline_is_an_epoch_on_aws_and_a_budget_under_cargo_lambda() {
        assert_eq!(remaining(600_000), Duration::from_secs(600));
        assert_eq!(remaining(0), Duration::from_secs(900));
        let in_a_minute = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 + 60_000;
        assert!(remaining(in_a_minute) > Duration::from_secs(55));
        assert_eq!(remaining(1_000_000_000_000), Duration::ZERO);
    }

    use chrono::TimeZone;
    use domain::countries::ContractingParty;

    /// Free accounts created at `at`; they fall due 23 days later (the inactivity warning).
    async fn accounts(app: &App, n: usize, at: DateTime<Utc>) {
        for _ in 0..n {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let mut a = Account::new_free(id.clone(), format!("s{}", &id[..12]), "Acme".into(), "US".into(), None,
                ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
                format!("{}@sweep.example", &id[..12]), "2021-11-01".into(), at);
            let change = Change { account: &mut a, expected_version: None, effects: &[], history: vec![], extra: vec![], now: at };
            app.store.commit(change, &app.config.policy).await.unwrap();
        }
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn ten_times_more_idle_accounts_cost_the_same_requests_and_items_read() {
        let mut cost = Vec::new();
        for idle in [20, 200] {
            let app = platform::testkit::app().await;
            accounts(&app, 5, at(2027, 1, 1)).await; // due on 2027-01-24
            accounts(&app, idle, at(2027, 6, 1)).await; // due in late June
            let before = app.store.requests();
            let s = sweep(&app, at(2027, 1, 25), Instant::now() + Duration::from_secs(60)).await.unwrap();
            assert_eq!(s.due, 5);
            cost.push((app.store.requests() - before, s.items_read));
        }
        assert_eq!(cost[0], cost[1], "(requests, items read) with 20 and with 200 idle accounts");
        assert_eq!(cost[0].1, 5, "only the due accounts are read");
    }

    #[tokio::test]
    async fn a_sweep_out_of_time_takes_no_new_work_and_the_next_run_does_it() {
        let app = platform::testkit::app().await;
        accounts(&app, 3, at(2027, 1, 1)).await;
        let late = sweep(&app, at(2027, 1, 25), Instant::now()).await.unwrap();
        assert_eq!((late.due, late.complete), (0, false));
        let next = sweep(&app, at(2027, 1, 25), Instant::now() + Duration::from_secs(60)).await.unwrap();
        assert_eq!((next.due, next.complete, next.notices_sent), (3, true, 3));
    }

    #[tokio::test]
    async fn a_terms_rollout_cut_short_by_the_deadline_resumes_and_tells_everyone_once() {
        let base = platform::testkit::app().await;
        accounts(&base, 7, at(2027, 1, 1)).await;
        let mut config = (*base.config).clone();
        config.terms_version = "2027-02-01".into();
        let app = App { config: std::sync::Arc::new(config), ..base };
        let mut first = Summary::default();
        assert!(!terms_rollout(&app, at(2027, 1, 2), Instant::now(), &mut first).await.unwrap(), "out of time");
        assert_eq!(first.terms_notices, 0);
        let mut rest = Summary::default();
        assert!(terms_rollout(&app, at(2027, 1, 2), Instant::now() + Duration::from_secs(60), &mut rest).await.unwrap());
        assert_eq!((rest.terms_notices, rest.notices_sent), (7, 7));
        let mut again = Summary::default();
        assert!(terms_rollout(&app, at(2027, 1, 3), Instant::now() + Duration::from_secs(60), &mut again).await.unwrap());
        assert_eq!((again.terms_notices, again.items_read), (0, 0), "done: not walked again");
    }

    #[tokio::test]
    async fn a_scheduled_event_on_an_empty_table_sweeps_every_shard_and_finds_nothing_due() {
        let app = platform::testkit::app().await;
        let payload: Value = serde_json::from_str(include_str!("../../../infra/events/schedule.json")).unwrap();
        let out = handle(&app, LambdaEvent::new(payload, lambda_runtime::Context::default())).await.unwrap();
        assert_eq!((out["due"].as_u64(), out["complete"].as_bool()), (Some(0), Some(true)));
        assert_eq!(out["ddb_requests"].as_u64(), Some(u64::from(app.store.shards()) + 1), "one query per shard and the Terms marker");
    }
}
