//! submit-form: the public forms (implementation request, copyright notice, personal data
//! request) and their operator routes.

mod handler;
mod ids;
mod implementation;
mod notices;
mod page;

use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::telemetry::init();
    // The token key verifies an administrator answering a data request (HS256: it could sign
    // too; an asymmetric pair would take that away, README Secrets).
    let app =
        platform::App::from_env(&[platform::Secret::Token, platform::Secret::RateKey, platform::Secret::OperatorKey])
            .await?;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move { handler::handle(app, req).await })).await
}
