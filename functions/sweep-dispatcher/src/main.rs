//! sweep-dispatcher: on each schedule, one lifecycle-sweep worker per group of logical shards,
//! through the Lambda Invoke API (locally, `cargo lambda watch` serves the same API).

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::telemetry::init();
    let d = handler::Dispatcher::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| handler::handle(&d, event))).await
}
