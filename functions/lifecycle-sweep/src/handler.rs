//! The sweep worker (SPEC: Time, Lifecycle, Notices): reads only the due-time index, never the
//! table. The dispatcher sends each worker the schedule's time and its logical shards; a schedule
//! sent straight to it (as `make dev` and the tests do) sweeps every shard.

use crate::lanes::{self, Job};
#[cfg(test)]
use crate::summary::Summary;
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent};
use platform::dynamo::keys::SHARDS;
use platform::{telemetry, App};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Stop taking new work this long before the invocation's deadline; the next run continues.
const RESERVE: Duration = Duration::from_secs(10);

/// The job an event names: `shards` (logical shard numbers) and `workers` from the dispatcher,
/// or every shard for a plain schedule.
pub(crate) fn job_of(v: &Value, now: DateTime<Utc>) -> Result<Job, String> {
    let Some(list) = v.get("shards") else { return Ok(Job::everything(now)) };
    let shards: Vec<u32> = serde_json::from_value(list.clone()).map_err(|e| format!("`shards`: {e}"))?;
    if shards.is_empty() || shards.iter().any(|s| *s >= SHARDS) {
        return Err(format!("`shards` must be logical shards below {SHARDS}, at least one"));
    }
    let workers = v.get("workers").and_then(Value::as_u64).unwrap_or(1).clamp(1, u64::from(SHARDS)) as u32;
    Ok(Job { now, shards, workers })
}

pub(crate) async fn handle(
    app: &App,
    bus: Option<&dyn crate::publish::Bus>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let now = platform::schedule::event_now(&event.payload, app.config.local_replay)?;
    let job = job_of(&event.payload, now)?;
    app.secrets.load().await?;
    let deadline = Instant::now() + remaining(event.context.deadline).saturating_sub(RESERVE);
    let before = app.store.requests();
    let mut s = lanes::sweep(app, bus, &job, deadline).await?;
    s.ddb_requests = app.store.requests() - before;
    telemetry::metrics(
        "lifecycle-sweep",
        &[
            ("Due", telemetry::Value::Count(s.due as u64)),
            ("Transitions", telemetry::Value::Count(s.transitions as u64)),
            ("NoticesSent", telemetry::Value::Count(s.notices_sent as u64)),
            ("NoticesFailed", telemetry::Value::Count(s.notices_failed as u64)),
            ("MailFailed", telemetry::Value::Count(s.mails_failed as u64)),
            ("LostRaces", telemetry::Value::Count(s.lost_races as u64)),
            ("EventsPublished", telemetry::Value::Count(s.events_published as u64)),
            ("EventsWaiting", telemetry::Value::Count(s.events_failed as u64)),
            ("SweepLagSeconds", telemetry::Value::Seconds(s.lag_seconds as f64)),
        ],
    );
    tracing::info!(
        now = %job.now,
        shards = s.shards,
        due = s.due,
        transitions = s.transitions,
        notices_sent = s.notices_sent,
        notices_failed = s.notices_failed,
        charges_made = s.charges_made,
        charges_declined = s.charges_declined,
        mails_failed = s.mails_failed,
        events_published = s.events_published,
        events_failed = s.events_failed,
        lost_races = s.lost_races,
        items_read = s.items_read,
        shard_queries = s.shard_queries,
        ddb_requests = s.ddb_requests,
        lag_seconds = s.lag_seconds,
        complete = s.complete,
        "sweep done"
    );
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

/// Every shard, in one run (the tests' way in).
#[cfg(test)]
pub(crate) async fn sweep(app: &App, now: DateTime<Utc>, deadline: Instant) -> anyhow::Result<Summary> {
    lanes::sweep(app, None, &Job::everything(now), deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
    use domain::Account;
    use platform::testkit::v;
    use platform::Change;

    /// Free accounts created at `at`; they fall due 23 days later (the inactivity warning).
    async fn accounts(app: &App, n: usize, at: DateTime<Utc>) {
        for _ in 0..n {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let mut a = Account::new_free(
                id.clone(),
                v(&format!("s{}", &id[..12])),
                "Acme".into(),
                v("US"),
                None,
                ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() },
                v(&format!("{}@sweep.example", &id[..12])),
                "2021-11-01".into(),
                at,
            );
            a.email_verified = true;
            let change = Change {
                account: &mut a,
                expected_version: None,
                effects: &[],
                history: vec![],
                extra: vec![],
                now: at,
            };
            app.accounts.commit(change, &app.config.policy).await.unwrap();
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

    async fn terms_rollout(app: &App, now: DateTime<Utc>, deadline: Instant, s: &mut Summary) -> anyhow::Result<bool> {
        let parts = app.sweep.partitions(&(0..SHARDS).collect::<Vec<_>>());
        let run = crate::summary::Run::default();
        let done = crate::rollout::rollout(app, &parts, now, deadline, &run).await?;
        let queued = run.take_queue();
        let d = platform::outbox::deliver(&app.outbox, app.mailer.as_ref(), &queued, now).await;
        *s = run.summary();
        s.delivered(d);
        Ok(done)
    }

    #[tokio::test]
    async fn a_terms_rollout_cut_short_by_the_deadline_resumes_and_tells_everyone_once() {
        let base = platform::testkit::app().await;
        accounts(&base, 7, at(2027, 1, 1)).await;
        let mut config = (*base.config).clone();
        config.terms_version = "2027-02-01".into();
        let app = App::new(config, base.store.clone(), base.mailer.clone(), base.secrets.clone());
        let mut first = Summary::default();
        assert!(!terms_rollout(&app, at(2027, 1, 2), Instant::now(), &mut first).await.unwrap(), "out of time");
        assert_eq!(first.terms_notices, 0);
        let mut rest = Summary::default();
        assert!(terms_rollout(&app, at(2027, 1, 2), Instant::now() + Duration::from_secs(60), &mut rest)
            .await
            .unwrap());
        assert_eq!((rest.terms_notices, rest.notices_sent), (7, 7));
        let mut again = Summary::default();
        assert!(terms_rollout(&app, at(2027, 1, 3), Instant::now() + Duration::from_secs(60), &mut again)
            .await
            .unwrap());
        assert_eq!((again.terms_notices, again.items_read), (0, 0), "done: not walked again");
    }

    #[tokio::test]
    async fn a_scheduled_event_on_an_empty_table_sweeps_every_shard_and_finds_nothing_due() {
        let app = platform::testkit::app().await;
        let payload: Value = serde_json::from_str(include_str!("../../../infra/events/schedule.json")).unwrap();
        let out = handle(&app, None, LambdaEvent::new(payload, lambda_runtime::Context::default())).await.unwrap();
        assert_eq!((out["due"].as_u64(), out["complete"].as_bool()), (Some(0), Some(true)));
        let parts = app.sweep.partitions(&(0..SHARDS).collect::<Vec<_>>()).len() as u64;
        assert_eq!(
            out["ddb_requests"].as_u64(),
            Some(parts + 4 + u64::from(SHARDS) + 3),
            "per run: one query per partition, per old partition drained, per mail shard; the Terms markers"
        );
    }
}
