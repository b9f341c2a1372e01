//! lifecycle-sweep: on each EventBridge schedule, applies what is due and sends the outbox.

mod charges;
mod handler;
mod lanes;
#[cfg(test)]
mod lanes_tests;
mod publish;
#[cfg(test)]
mod publish_tests;
mod rollout;
mod steps;
mod summary;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use platform::{telemetry, App, Secret};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Stripe's key makes the off-session renewal charges.
    let app = App::from_env(&[Secret::StripeKey]).await?;
    let bus = publish::EventBridgeBus::from_env().await;
    let bus = bus.as_ref().map(|b| b as &dyn publish::Bus);
    run(service_fn(|event: LambdaEvent<Value>| handler::handle(&app, bus, event))).await
}
