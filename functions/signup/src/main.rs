//! signup: `POST /signup`, `GET /signup/domains/{label}`.

mod handler;

use lambda_http::{run, service_fn, Error, Request};
use platform::{telemetry, App, Secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let app = App::from_env(&[Secret::RateKey]).await?;
    run(service_fn(|req: Request| handler::handle(&app, req))).await
}
