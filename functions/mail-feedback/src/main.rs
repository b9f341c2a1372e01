//! mail-feedback: SES's bounce and complaint events, from the configuration set through SNS.
//! A hard bounce or a complaint marks the administrator's address undeliverable (no more
//! notices to it) and the outcome goes in the account's history (§23: a notice that bounced is
//! not a notice delivered).

mod feedback;
mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use platform::{telemetry, App};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let app = App::from_env(&[]).await?;
    run(service_fn(|event: LambdaEvent<Value>| handler::handle(&app, event))).await
}
