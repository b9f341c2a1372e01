//! Adapters at the edge: DynamoDB store, SES mailer, outbox delivery, config, auth, HTTP plumbing.

pub mod app;
pub mod auth;
pub mod config;
pub mod http;
pub mod items;
pub mod mailer;
pub mod ops;
pub mod outbox;
pub mod store;
pub mod telemetry;
pub mod testkit;

pub use app::App;
pub use config::Config;
pub use http::ApiError;
pub use store::Store;
