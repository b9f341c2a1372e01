//! Each recipient outcome to the account whose administrator it is: the history line always,
//! the undeliverable mark for a hard bounce or a complaint. An address that is no
//! administrator's (a form's sender, a partner) has no account to mark: it is logged only.

use crate::feedback::{from_sns, Feedback};
use chrono::{DateTime, Utc};
use domain::types::Email;
use lambda_runtime::{Error, LambdaEvent};
use platform::ops::{update_account, Decision, UpdateError};
use platform::{App, HistoryEvent};
use serde_json::{json, Value};

pub(crate) async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (mut marked, mut recorded, mut unknown) = (0, 0, 0);
    for f in from_sns(&event.payload) {
        // Locally the tests replay time: the event's own time is the time (SPEC: Time).
        let now = f.at.filter(|_| app.config.local_replay).unwrap_or_else(Utc::now);
        match apply(app, &f, now).await? {
            Applied::Marked => marked += 1,
            Applied::Recorded => recorded += 1,
            Applied::NoAccount => unknown += 1,
        }
    }
    tracing::info!(marked, recorded, unknown, "mail feedback applied");
    platform::telemetry::metrics(
        "mail-feedback",
        &[("MailUndeliverable", platform::telemetry::Value::Count(u64::try_from(marked).unwrap_or(0)))],
    );
    Ok(json!({"marked": marked, "recorded": recorded, "unknown": unknown}))
}

enum Applied {
    Marked,
    Recorded,
    NoAccount,
}

async fn apply(app: &App, f: &Feedback, now: DateTime<Utc>) -> anyhow::Result<Applied> {
    let Ok(email) = Email::parse("address", Some(&f.address)) else {
        return Ok(Applied::NoAccount);
    };
    let Some(login) = app.accounts.login(&email).await? else {
        tracing::info!(message_id = %f.message_id, outcome = f.outcome.label(), "feedback for an address with no account");
        return Ok(Applied::NoAccount);
    };
    let stops = f.outcome.stops_mail();
    let r = update_account(app, &login.account_id, now, |a| -> Result<_, anyhow::Error> {
        let mut d = Decision::new((), vec![]);
        if !a.admins.contains(&email) {
            return Ok(d);
        }
        if stops {
            a.undeliverable.insert(email.clone());
        }
        let detail = json!({"message_id": f.message_id, "type": f.outcome.kind(), "stops_mail": stops});
        d.history.push(HistoryEvent::new(now, f.outcome.label(), detail));
        Ok(d)
    })
    .await;
    match r {
        Ok(_) if stops => Ok(Applied::Marked),
        Ok(_) => Ok(Applied::Recorded),
        // Deleted meanwhile: nothing left to mark, nothing to retry.
        Err(UpdateError::Deleted | UpdateError::NotFound) => Ok(Applied::NoAccount),
        Err(e) => Err(anyhow::anyhow!("account {}: {e}", login.account_id)),
    }
}
