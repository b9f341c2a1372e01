//! `saasctl`: what scripts need from the Rust rules, so Python never re-implements one.
//!
//!     saasctl seed-partners [--table T] [--file infra/seed/partners.json]
//!     saasctl add-partner   [--table T] [--replace] '<partner JSON>'
//!     saasctl terms-done-if-empty [--table T]   (a table with no accounts has nobody to tell)
//!     saasctl shard-of                          (ids on stdin, one shard per line on stdout)
//!     saasctl keys                              (every key as a `{placeholder}` template, JSON)
//!
//! Settings come from the environment (infra/local.env through `make`).

use anyhow::{bail, Context, Result};
use platform::App;
use std::io::{BufRead, Write};

fn flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.remove(i);
    (i < args.len()).then(|| args.remove(i))
}

fn switch(args: &mut Vec<String>, name: &str) -> bool {
    let found = args.iter().any(|a| a == name);
    args.retain(|a| a != name);
    found
}

async fn app(args: &mut Vec<String>) -> Result<App> {
    let app = App::from_env(&[]).await.context("settings (run through make, or export infra/local.env)")?;
    Ok(match flag(args, "--table") {
        Some(t) => app.with_table(&t),
        None => app,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        bail!("usage: saasctl seed-partners | add-partner | terms-done-if-empty | shard-of (see src/main.rs)");
    }
    let command = args.remove(0);
    match command.as_str() {
        "seed-partners" => {
            let file = flag(&mut args, "--file").unwrap_or_else(|| "infra/seed/partners.json".into());
            let app = app(&mut args).await?;
            let json = std::fs::read_to_string(&file).with_context(|| format!("read {file}"))?;
            let partners = platform::seed::parse_partners(&json)?;
            platform::seed::write_partners(&app.forms, &partners).await?;
            println!("table {}: {} partners written from {file}", app.store.table(), partners.len());
        }
        "add-partner" => {
            let replace = switch(&mut args, "--replace");
            let app = app(&mut args).await?;
            let json = args.pop().context("the partner as JSON")?;
            let p = platform::seed::parse_partners(&format!("[{json}]"))?.remove(0);
            if replace {
                platform::seed::write_partners(&app.forms, std::slice::from_ref(&p)).await?;
            } else if !app.forms.add_partner(&p).await? {
                bail!("partner {} exists (use --replace to overwrite)", p.id);
            }
            println!("table {}: partner {} written", app.store.table(), p.id);
        }
        "terms-done-if-empty" => {
            let app = app(&mut args).await?;
            let version = app.config.terms_version.clone();
            if app.sweep.rollout_done_if_empty(&version).await? {
                println!("table {}: no accounts, Terms {version} rollout recorded as done", app.store.table());
            }
        }
        "shard-of" => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for id in std::io::stdin().lock().lines() {
                writeln!(out, "{}", platform::dynamo::keys::shard(id?.trim()))?;
            }
        }
        "keys" => println!("{}", serde_json::to_string_pretty(&key_templates())?),
        "rate-limits" => println!("{}", serde_json::to_string_pretty(&domain::limits::RateLimits::default())?),
        other => bail!("unknown command {other}"),
    }
    Ok(())
}

/// Every table key as `[PK, SK]` templates with `{placeholders}`, so scripts and tests that read
/// the table directly take keys from here instead of spelling them.
fn key_templates() -> serde_json::Value {
    use platform::dynamo::keys::{due_pk, mail_due_pk, Key};
    let k = |k: Key| serde_json::json!([k.pk, k.sk]);
    let (history_pk, history_prefix) = Key::history_prefix("{id}");
    let (partners_pk, partner_prefix) = Key::partners_prefix();
    let (unapplied_pk, _) = Key::unapplied_prefix();
    serde_json::json!({
        "account": k(Key::account("{id}")),
        "user": k(Key::user("{id}", "{email}")),
        "history": [history_pk, history_prefix],
        "domain_claim": k(Key::domain_claim("{label}")),
        "email_claim": k(Key::email_claim("{email}")),
        "outbox": k(Key::outbox(None, "{key}")),
        "account_outbox": k(Key::outbox(Some("{id}"), "{key}")),
        "webhook": k(Key::webhook("{event_id}")),
        "unapplied": [unapplied_pk, ""],
        "data_request": k(Key::data_request("{id}")),
        "copyright": k(Key::copyright("{id}")),
        "form": k(Key::form("{id}")),
        "partner": k(Key::partner("{id}")),
        "partners": [partners_pk, partner_prefix],
        "form_settings": k(Key::form_settings()),
        "throttle": k(Key::throttle("{name}")),
        "terms_rollout": k(Key::terms_rollout("{version}")),
        "due": [due_pk(0).replace("000", "{shard:03}"), ""],
        "mail_due": [mail_due_pk(0).replace("000", "{shard:03}"), ""],
        "legacy_due": [platform::dynamo::keys::legacy_due_pk(0).replace('0', "{shard}"), ""],
    })
}
