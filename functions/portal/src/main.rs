//! portal: the administrators' server-rendered pages under `/app/` (SPEC: The portal (web)).

mod anon;
mod cookies;
mod handler;
#[cfg(test)]
mod handler_tests;
mod pages;
mod settings;
mod signed;
mod web;

use lambda_http::{run, service_fn, Error, Request};
use platform::{telemetry, App, Secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // The token key signs sessions and keys the CSRF tokens; the rate key names the sign-in and
    // reset counters; Stripe's key saves cards and charges at checkout.
    let app = App::from_env(&[Secret::Token, Secret::RateKey, Secret::StripeKey]).await?;
    let settings = settings::Settings::from_env(&app.config.public_base_url);
    let portal = handler::Portal { app: &app, settings: &settings };
    let portal = &portal;
    run(service_fn(move |req: Request| async move { handler::handle(portal, req).await })).await
}
