//! For tests only (feature `testkit`, a dev-dependency): an `App` on a fresh table of the
//! running local stack, and API Gateway v2 fixture events.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test support: a failure here is the test's failure")]

use crate::app::App;
use crate::config::Config;
use crate::dynamo::Store;
use crate::mailer::SesMailer;
use lambda_http::Request;
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The settings of `infra/local.env`, which `make test` exports; tests do not parse the file.
fn require_env() {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() || std::env::var_os("TABLE_NAME").is_none() {
        panic!(
            "these tests need the local stack and infra/local.env in the environment: run `make test`, \
             or `make stack-up` and `eval \"$(python3 infra/localenv.py sh)\"` first"
        );
    }
}

/// The table's definition, read from template.yaml (the one source, as infra/bootstrap.py does).
fn table_definition() -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml parses");
    doc["Resources"]["Table"]["Properties"].clone()
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::*;
    let props = table_definition();
    let attr = |v: &serde_yaml::Value| {
        let t = match v["AttributeType"].as_str() {
            Some("N") => ScalarAttributeType::N,
            _ => ScalarAttributeType::S,
        };
        AttributeDefinition::builder()
            .attribute_name(v["AttributeName"].as_str().unwrap_or_default())
            .attribute_type(t)
            .build()
    };
    let keys = |v: &serde_yaml::Value| -> Vec<KeySchemaElement> {
        v.as_sequence()
            .into_iter()
            .flatten()
            .map(|k| {
                let kt = if k["KeyType"].as_str() == Some("RANGE") { KeyType::Range } else { KeyType::Hash };
                KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                    .key_type(kt)
                    .build()
            })
            .collect::<Result<_, _>>()
            .expect("key schema")
    };
    let mut req = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for a in props["AttributeDefinitions"].as_sequence().into_iter().flatten() {
        req = req.attribute_definitions(attr(a).expect("attribute"));
    }
    req = req.set_key_schema(Some(keys(&props["KeySchema"])));
    for g in props["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(g["IndexName"].as_str().unwrap_or_default())
            .set_key_schema(Some(keys(&g["KeySchema"])))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("index");
        req = req.global_secondary_indexes(gsi);
    }
    req.send().await.expect("the local stack answers (make stack-up) and the table is created");
}

/// The app as `main` builds it, on a new table created from template.yaml and seeded.
pub async fn app() -> App {
    app_configured(|_| {}).await
}

/// The same, with settings changed from those of `infra/local.env` (short mail leases, a mode off).
pub async fn app_configured(change: impl FnOnce(&mut Config)) -> App {
    require_env();
    let table = format!("h-{}", uuid::Uuid::new_v4().simple());
    let mut config = Config::from_env().expect("config from infra/local.env");
    config.table = table.clone();
    change(&mut config);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&client, &table).await;
    let ses = aws_sdk_ses::Client::new(&sdk);
    ses.verify_email_identity().email_address(&config.mail_from).send().await.expect("SES emulator answers");
    let store = Store::new(client, &table);
    let mailer = Arc::new(SesMailer::new(ses, &config.mail_from));
    // Every key, with local.env's values (what `bootstrap.py seed-secrets` puts in the emulator).
    let secrets = crate::secrets::Secret::ALL
        .iter()
        .map(|s| {
            let var = s.env().trim_end_matches("_ARN");
            (*s, std::env::var(var).unwrap_or_else(|_| panic!("{var} in infra/local.env")))
        })
        .collect();
    let app = App::new(config, store, mailer, Arc::new(crate::secrets::Secrets::fixed(secrets)));
    let partners = std::fs::read_to_string(root().join("infra/seed/partners.json")).expect("partners seed");
    crate::seed::write_partners(&app.forms, &crate::seed::parse_partners(&partners).expect("seed parses"))
        .await
        .expect("partners written");
    app.sweep.rollout_done_if_empty(&app.config.terms_version).await.expect("rollout marker");
    app
}

/// An API Gateway v2 event from a fixture file, with `{{placeholders}}` replaced.
pub fn event(fixture_json: &str, vars: &[(&str, &str)]) -> Request {
    let mut json = fixture_json.to_string();
    for (k, v) in vars {
        json = json.replace(&format!("{{{{{k}}}}}"), v);
    }
    lambda_http::request::from_str(&json).expect("a valid API Gateway v2 fixture")
}

/// A response's status and JSON body (`null` when it has none), for assertions.
pub fn status_and_json(res: &lambda_http::Response<lambda_http::Body>) -> (u16, serde_json::Value) {
    let body = match res.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    (res.status().as_u16(), body)
}

/// A value of a newtype from text (tests' shorthand), panicking on an invalid one.
pub fn v<T: TryFrom<String>>(s: &str) -> T
where
    T::Error: std::fmt::Debug,
{
    T::try_from(s.to_string()).expect("a valid test value")
}

/// Puts the account in an old (pre-logical-shard) due partition, `DUE#<n>`, as the release before
/// logical shards wrote it.
pub async fn move_to_legacy_partition(app: &App, account_id: &str) {
    use crate::dynamo::expr::{s, Update};
    use crate::dynamo::keys::{legacy_due_pk, shard_of, Key, DUE_PK};
    let old = legacy_due_pk(shard_of(account_id, app.config.legacy_due_shards));
    let w = crate::dynamo::Write::update(
        crate::dynamo::Tag::Setting,
        Key::account(account_id),
        Update::new().set(DUE_PK, s(old)),
        None,
    );
    app.store.write(w).await.expect("moved to an old partition");
}

/// The due-index partition an item is in, if any.
pub async fn due_partition_of(app: &App, key: &crate::dynamo::keys::Key) -> Option<String> {
    let item = app.store.get(key).await.expect("read")?;
    item.get(crate::dynamo::keys::DUE_PK).and_then(|v| v.as_s().ok()).cloned()
}
