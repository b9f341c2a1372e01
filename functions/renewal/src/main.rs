//! renewal: plans, compatibility, auto-renewal, next plan, the saved card, checkout, Stripe's
//! webhook and the operator's list of unapplied payments.

mod card;
mod checkout;
mod handler;
mod plans;
mod webhook;

use lambda_http::{run, service_fn, Error, Request};
use platform::{telemetry, App, Secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let app = App::from_env(&[Secret::Token, Secret::OperatorKey, Secret::StripeKey, Secret::StripeWebhook]).await?;
    run(service_fn(|req: Request| handler::handle(&app, req))).await
}
