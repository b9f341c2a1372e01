//! What every function builds once per process: config, the store, the mailer.

use crate::config::Config;
use crate::mailer::{Mailer, SesMailer};
use crate::store::Store;
use domain::Catalog;
use std::sync::Arc;

#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub mailer: Arc<dyn Mailer>,
    pub catalog: &'static Catalog,
}

impl App {
    /// Clients come from the standard AWS configuration chain; locally the endpoints come from
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SES`, with no endpoint code of ours.
    pub async fn from_env() -> anyhow::Result<App> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table, config.due_shards);
        let mailer = SesMailer::new(aws_sdk_ses::Client::new(&sdk), &config.mail_from);
        Ok(App { config: Arc::new(config), store, mailer: Arc::new(mailer), catalog: Catalog::builtin() })
    }
}
