//! The fan-out (DESIGN: the sweep at scale): the schedule's time and a group of logical shards
//! to each worker. Groups are `shard_group(i, workers)`, so the worker count is only a setting:
//! changing it never orphans a shard. On AWS the invocations are asynchronous (`Event`: Lambda
//! retries a failed worker, then sends it to the on-failure destination); locally they may wait
//! for the workers' answers (`RequestResponse`), which `cargo lambda watch` serves.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use futures_util::future::join_all;
use lambda_runtime::{Error, LambdaEvent};
use platform::dynamo::keys::{shard_group, SHARDS};
use serde_json::{json, Value};

pub(crate) struct Dispatcher {
    lambda: aws_sdk_lambda::Client,
    /// `SWEEP_WORKER_FUNCTION`: the worker's function name or ARN.
    worker: String,
    /// `SWEEP_WORKERS`: how many workers share the logical shards (1 to 256; 8).
    workers: u32,
    /// `SWEEP_INVOCATION`: `Event` (AWS) or `RequestResponse` (wait for each worker's summary).
    invocation: InvocationType,
    local_replay: bool,
}

impl Dispatcher {
    pub async fn from_env() -> anyhow::Result<Dispatcher> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Dispatcher {
            lambda: aws_sdk_lambda::Client::new(&sdk),
            worker: var("SWEEP_WORKER_FUNCTION").unwrap_or_else(|| "lifecycle-sweep".into()),
            workers: var("SWEEP_WORKERS").and_then(|w| w.parse().ok()).unwrap_or(8).clamp(1, SHARDS),
            invocation: match var("SWEEP_INVOCATION").as_deref() {
                Some("RequestResponse") => InvocationType::RequestResponse,
                _ => InvocationType::Event,
            },
            local_replay: var("LOCAL_REPLAY").as_deref() == Some("1"),
        })
    }
}

/// Worker `i`'s event: the schedule's time, its shards, and how many workers share the run.
pub(crate) fn job(time: &str, i: u32, workers: u32) -> Value {
    json!({"time": time, "worker": i, "workers": workers, "shards": shard_group(i, workers)})
}

pub(crate) async fn handle(d: &Dispatcher, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let now = platform::schedule::event_now(&event.payload, d.local_replay)?;
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let calls = (0..d.workers).map(|i| {
        let payload = job(&time, i, d.workers);
        async move {
            let out = d
                .lambda
                .invoke()
                .function_name(&d.worker)
                .invocation_type(d.invocation.clone())
                .payload(Blob::new(payload.to_string()))
                .send()
                .await;
            match out {
                Ok(o) if o.function_error().is_none() => Ok(o
                    .payload()
                    .and_then(|p| serde_json::from_slice::<Value>(p.as_ref()).ok())
                    .unwrap_or(Value::Null)),
                Ok(o) => Err(format!("worker {i}: {}", o.function_error().unwrap_or_default())),
                Err(e) => Err(format!("worker {i}: {}", aws_sdk_lambda::error::DisplayErrorContext(&e))),
            }
        }
    });
    let results = join_all(calls).await;
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    for f in &failed {
        tracing::error!(error = %f, "a sweep worker was not invoked or failed");
    }
    let summaries: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).filter(|v| !v.is_null()).collect();
    let total = |k: &str| summaries.iter().filter_map(|s| s[k].as_u64()).sum::<u64>();
    let out = json!({
        "time": time, "workers": d.workers, "invoked": results.len() - failed.len(), "failed": failed.len(),
        "due": total("due"), "transitions": total("transitions"), "notices_sent": total("notices_sent"),
        "lost_races": total("lost_races"), "ddb_requests": total("ddb_requests"),
        "complete": summaries.len() == results.len() && summaries.iter().all(|s| s["complete"] == json!(true)),
    });
    tracing::info!(summary = %out, "sweep dispatched");
    platform::telemetry::metrics(
        "sweep-dispatcher",
        &[("WorkersFailed", platform::telemetry::Value::Count(failed.len() as u64))],
    );
    if failed.len() == results.len() {
        return Err(format!("no sweep worker could be invoked: {}", failed.first().map_or("", |f| f.as_str())).into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_s_event_names_its_shards_and_all_shards_are_named_once() {
        let mut all: Vec<u64> = (0..8)
            .flat_map(|i| job("2027-01-01T00:00:00Z", i, 8)["shards"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s.as_u64())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..u64::from(SHARDS)).collect::<Vec<_>>());
        assert_eq!(job("t", 3, 8)["workers"], 8);
    }
}
