//! For handler tests: an `App` on a fresh table of the local stack, and fixture events.

use crate::app::App;
use crate::config::Config;
use crate::mailer::SesMailer;
use crate::store::Store;
use domain::Catalog;
use lambda_http::Request;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python(args: &[&str]) {
    let ok = Command::new(root().join(".tools/venv/bin/python"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{args:?} failed: handler tests need the local stack (`make test` sets it up)");
}

/// Loads `infra/local.env` (variables already set win) and starts the local stack if needed.
pub fn local_stack() {
    static UP: OnceLock<()> = OnceLock::new();
    UP.get_or_init(|| {
        let env = std::fs::read_to_string(root().join("infra/local.env")).expect("infra/local.env");
        for line in env.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some((k, v)) = line.split_once('=') {
                if std::env::var_os(k).is_none() {
                    std::env::set_var(k, v);
                }
            }
        }
        let infra = root().join("infra");
        python(&[infra.join("stack.py").to_str().unwrap_or_default(), "up"]);
        python(&[infra.join("bootstrap.py").to_str().unwrap_or_default(), "verify-sender"]);
    });
}

/// The app as `main` builds it, on a new table created from template.yaml and seeded.
pub async fn app() -> App {
    local_stack();
    let table = format!("h-{}", uuid::Uuid::new_v4().simple());
    let bootstrap = root().join("infra/bootstrap.py");
    let bootstrap = bootstrap.to_str().unwrap_or_default();
    python(&[bootstrap, "create-table", "--table", &table]);
    python(&[bootstrap, "seed", "--table", &table]);
    let mut config = Config::from_env().expect("config from infra/local.env");
    config.table = table.clone();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    App {
        store: Store::new(aws_sdk_dynamodb::Client::new(&sdk), &table, config.due_shards),
        mailer: Arc::new(SesMailer::new(aws_sdk_ses::Client::new(&sdk), &config.mail_from)),
        config: Arc::new(config),
        catalog: Catalog::builtin(),
    }
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
