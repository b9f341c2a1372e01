//! submit-form: the public forms (implementation request, copyright notice, personal data
//! request) and their operator routes.

mod country_names;
mod handler;
mod ids;
mod implementation;
mod notices;
mod page;

use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::telemetry::init();
    let app = platform::App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move { handler::handle(app, req).await })).await
}
