//! What every function builds once per process: config, the store and its repositories, the mailer.

use crate::config::Config;
use crate::dynamo::Store;
use crate::mailer::{Mailer, SesMailer};
use crate::repo::{
    accounts::Accounts, events::Events, forms::Forms, identity::Identity, outbox::Outbox, payments::Payments,
    rates::Rates, sweep::Sweep,
};
use crate::secrets::{Secret, Secrets};
use crate::stripe::Stripe;
use domain::Catalog;
use std::sync::Arc;

#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    /// The counted store under every repository (its count is logged per request).
    pub store: Store,
    pub accounts: Accounts,
    pub forms: Forms,
    pub sweep: Sweep,
    pub outbox: Outbox,
    pub payments: Payments,
    pub identity: Identity,
    pub events: Events,
    pub rates: Rates,
    pub mailer: Arc<dyn Mailer>,
    /// Stripe's client (its HTTP stack is built on first use).
    pub stripe: Stripe,
    pub catalog: &'static Catalog,
    /// The keys this function declared, read from Secrets Manager on first need (`http::answer`
    /// and the sweep's handler call `load`).
    pub secrets: Arc<Secrets>,
}

impl App {
    pub fn new(config: Config, store: Store, mailer: Arc<dyn Mailer>, secrets: Arc<Secrets>) -> App {
        App {
            accounts: Accounts {
                store: store.clone(),
                public_base_url: config.public_base_url.clone(),
                mail: config.mail,
            },
            forms: Forms { store: store.clone(), retention_days: config.policy.form_retention_days },
            sweep: Sweep {
                store: store.clone(),
                retention_days: config.policy.form_retention_days,
                legacy_shards: config.legacy_due_shards,
            },
            outbox: Outbox { store: store.clone(), settings: config.mail },
            payments: Payments { store: store.clone() },
            identity: Identity { store: store.clone() },
            events: Events { store: store.clone() },
            rates: Rates { store: store.clone(), secrets: secrets.clone() },
            store,
            mailer,
            stripe: Stripe::new(&config.stripe.api_base, secrets.clone()),
            config: Arc::new(config),
            catalog: Catalog::builtin(),
            secrets,
        }
    }

    /// Clients come from the standard AWS configuration chain; locally the endpoints come from
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SES`, with no endpoint code of ours.
    /// `secrets`: the keys this function uses, and may read (the template grants exactly these).
    pub async fn from_env(secrets: &[Secret]) -> anyhow::Result<App> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
        let mailer = SesMailer::new(aws_sdk_ses::Client::new(&sdk), &config.mail_from);
        let secrets = Secrets::from_manager(aws_sdk_secretsmanager::Client::new(&sdk), secrets);
        Ok(App::new(config, store, Arc::new(mailer), Arc::new(secrets)))
    }

    /// The same app on another table (tests and tools).
    pub fn with_table(&self, table: &str) -> App {
        let mut config = (*self.config).clone();
        config.table = table.to_string();
        App::new(config, self.store.on_table(table), self.mailer.clone(), self.secrets.clone())
    }
}
