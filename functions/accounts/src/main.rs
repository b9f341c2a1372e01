//! accounts: sign-in, the account view and forecast, history, usage/activity, termination.

mod export;
mod handler;
mod identity;

use lambda_http::{run, service_fn, Error, Request};
use platform::{telemetry, App, Secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let app = App::from_env(&[Secret::Token, Secret::RateKey, Secret::ServiceKey, Secret::OperatorKey]).await?;
    run(service_fn(|req: Request| handler::handle(&app, req))).await
}
