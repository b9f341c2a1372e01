//! lifecycle-sweep: on each EventBridge schedule, applies what is due and sends the outbox.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use platform::{telemetry, App};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let app = App::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| handler::handle(&app, event))).await
}
