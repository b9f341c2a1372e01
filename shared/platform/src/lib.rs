//! Adapters at the edge: DynamoDB repositories, SES mailer, outbox delivery, config, auth, HTTP.
//! Nothing outside this crate touches an AWS SDK.

pub mod app;
pub mod auth;
pub mod cases;
pub mod config;
pub mod dynamo;
pub mod http;
pub mod mailer;
pub mod ops;
pub mod outbox;
pub mod repo;
pub mod schedule;
pub mod secrets;
pub mod seed;
pub mod session;
pub mod stripe;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use app::App;
pub use config::Config;
pub use http::ApiError;
pub use repo::accounts::{Change, HistoryEvent};
pub use secrets::{Secret, Secrets};
