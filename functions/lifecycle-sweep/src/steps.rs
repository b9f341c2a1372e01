//! What the sweep does to one due item: an account advanced to the event time, a data request's
//! reminder, a deleted account's purge, a Terms notice. Each commits conditionally (on the version
//! or the due time read), so items run side by side and beside other sweeps; the mail a commit
//! writes is handed to the mail lane, never sent here (a transition never waits on SES).

use crate::charges;
use crate::summary::Run;
use chrono::{DateTime, Utc};
use domain::account::ChargeStatus;
use domain::forms::{
    data_request_next_due, data_request_overdue_mail, data_request_reminder_mail, data_request_step, DataRequestRecord,
    DataRequestStep,
};
use domain::lifecycle::{advance, notify_terms_update, Effect};
use domain::Account;
use platform::dynamo::WriteError;
use platform::repo::accounts::Tombstone;
use platform::repo::outbox::OutboxMail;
use platform::repo::sweep::DueItem;
use platform::{App, Change};

/// One due item, whatever it is.
pub(crate) async fn due(app: &App, item: DueItem, now: DateTime<Utc>, run: &Run) -> anyhow::Result<()> {
    match item {
        DueItem::Account(a) => account(app, *a, now, run).await,
        DueItem::Tombstone(t) => purge(app, t, run).await,
        DueItem::DataRequest { record, due_at } => data_request(app, record, due_at, now, run).await,
    }
}

/// What a due item is, for a log line: its kind and id, never a name or an address.
pub(crate) fn key_of(item: &DueItem) -> String {
    match item {
        DueItem::Account(a) => format!("account {}", a.id),
        DueItem::Tombstone(t) => format!("tombstone {}", t.id),
        DueItem::DataRequest { record, .. } => format!("data request {}", record.id),
    }
}

async fn account(app: &App, mut a: Account, now: DateTime<Utc>, run: &Run) -> anyhow::Result<()> {
    let read_version = a.version;
    let pending_before = a.renewal.as_ref().is_some_and(|r| r.status == ChargeStatus::Pending);
    let effects = advance(&mut a, &app.config.policy, app.catalog, now);
    // A pending charge is made by whoever commits its lease; a live lease is someone else's.
    let wall = Utc::now();
    let charge = match a.renewal.as_mut() {
        Some(r) if r.status == ChargeStatus::Pending && r.lease_until.is_none_or(|l| l <= wall) => {
            r.lease_until = Some(wall + chrono::Duration::seconds(app.config.charge_lease_seconds));
            true
        }
        _ => false,
    };
    let deleted = effects.iter().any(|e| matches!(e, Effect::Delete { .. }));
    let change = Change {
        account: &mut a,
        expected_version: Some(read_version),
        effects: &effects,
        history: vec![],
        extra: vec![],
        now,
    };
    match app.accounts.commit(change, &app.config.policy).await {
        Ok(mails) => {
            run.tally(|s| {
                s.transitions += effects.iter().filter(|e| matches!(e, Effect::Transition { .. })).count();
                s.charges_requested += effects.iter().filter(|e| matches!(e, Effect::ChargeRequest { .. })).count();
            });
            run.queue(mails);
            if deleted {
                app.accounts.purge(&a.id).await?;
                run.tally(|s| s.purged_accounts += 1);
            }
            if charge {
                let made = charges::make(app, &a, pending_before, now).await?;
                run.tally(|s| match made {
                    Some(charges::Made::Created) => s.charges_made += 1,
                    Some(charges::Made::Found) => s.charges_found += 1,
                    Some(charges::Made::Declined) => s.charges_declined += 1,
                    None => {}
                });
            }
            Ok(())
        }
        // Someone else (another sweep, a payment, a sign-in) changed it first: theirs stands.
        Err(WriteError::Conflict(_) | WriteError::Contended) => {
            run.tally(|s| s.lost_races += 1);
            Ok(())
        }
        Err(WriteError::Unexpected(e)) => Err(e),
    }
}

/// §5.5, §26.5: reminders before a data request's respond-by date, then the overdue flag.
/// The write is conditional on the due time read, so of two racing sweeps one acts.
async fn data_request(
    app: &App,
    mut r: DataRequestRecord,
    read_due: i64,
    now: DateTime<Utc>,
    run: &Run,
) -> anyhow::Result<()> {
    let p = &app.config.policy;
    let step = data_request_step(r.respond_by, &r.reminded, now, p);
    let admins = match app.accounts.get(&r.account_id).await? {
        Some(a) => a.mail_recipients(),
        None => Vec::new(), // the account is gone, and its data with it: nothing left to answer
    };
    let mail = match step {
        Some(DataRequestStep::Reminder { days_before }) => {
            r.reminded.push(days_before);
            Some((format!("datareq#{}#reminder#{days_before}", r.id), data_request_reminder_mail(&r, days_before)))
        }
        Some(DataRequestStep::Overdue) => {
            r.overdue = true;
            Some((format!("datareq#{}#overdue", r.id), data_request_overdue_mail(&r)))
        }
        None => None,
    };
    let next = if admins.is_empty() { None } else { data_request_next_due(r.respond_by, &r.reminded, r.overdue, p) };
    let mut writes = vec![app.sweep.data_request_step(&r, read_due, next)?];
    let mut mails = Vec::new();
    if let (Some((key, mail)), false) = (mail, admins.is_empty()) {
        let m = OutboxMail::leased(key, Some(r.account_id.clone()), admins, mail, &app.config.mail);
        writes.push(app.outbox.put(&m)?);
        mails.push(m);
    }
    match app.sweep.transact(writes).await {
        Ok(()) => {
            run.queue(mails);
            Ok(())
        }
        Err(WriteError::Conflict(_) | WriteError::Contended) => {
            run.tally(|s| s.lost_races += 1);
            Ok(())
        }
        Err(WriteError::Unexpected(e)) => Err(e),
    }
}

async fn purge(app: &App, t: Tombstone, run: &Run) -> anyhow::Result<()> {
    app.accounts.purge(&t.id).await?;
    run.tally(|s| s.purged_accounts += 1);
    Ok(())
}

/// One account told of a Terms version; a lost race re-reads it, so the notice is not skipped.
pub(crate) async fn tell_of_terms(
    app: &App,
    a: Account,
    version: &str,
    now: DateTime<Utc>,
    run: &Run,
) -> anyhow::Result<()> {
    let id = a.id.clone();
    let mut current = Some(a);
    for _ in 0..3 {
        let Some(mut a) = current.take() else { break };
        let effects = notify_terms_update(&mut a, version);
        if effects.is_empty() {
            break;
        }
        let v = a.version;
        let change = Change {
            account: &mut a,
            expected_version: Some(v),
            effects: &effects,
            history: vec![],
            extra: vec![],
            now,
        };
        match app.accounts.commit(change, &app.config.policy).await {
            Ok(mails) => {
                run.tally(|s| s.terms_notices += 1);
                run.queue(mails);
            }
            Err(WriteError::Conflict(_) | WriteError::Contended) => current = app.accounts.get(&id).await?,
            Err(WriteError::Unexpected(e)) => return Err(e),
        }
    }
    Ok(())
}
