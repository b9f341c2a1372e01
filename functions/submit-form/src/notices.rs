//! Copyright notices (§15.1, §15.3), personal data requests (§5.5, §26.5), and the operator's
//! partner route. Each accepted submission is one transaction with its outbox mail.

use crate::db::{self, copyright_pk, data_request_pk, partner_sk, PARTNERS_PK};
use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use domain::field::FieldError;
use domain::forms::{
    account_label, copyright_ack_mail, copyright_forward_mail, data_request_ack_mail, data_request_forward_mail,
    data_request_next_due, respond_by, CopyrightNotice, CopyrightNoticeInput, DataRequestInput, DataRequestRecord,
    PartnerInput,
};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{event_time, json_response, parse_body, require_key, source_ip, ApiResult};
use platform::items::{account_pk, from_item, key, s, set_due, to_item, OutboxMail, META};
use platform::outbox::deliver;
use platform::store::{put, WriteError};
use platform::{ApiError, App};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `COPYRIGHT#<id>/META`: the notice, the account its location names, and the operator's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CopyrightRecord {
    id: String,
    received_at: DateTime<Utc>,
    #[serde(flatten)]
    notice: CopyrightNotice,
    /// The domain label the location names, whether or not an account holds it.
    domain: Option<String>,
    account_id: Option<String>,
    #[serde(default)]
    source_ip: Option<String>,
    /// Absent (not NULL) until the operator decides: the outcome's write is conditional on that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    permanent_removal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decided_at: Option<DateTime<Utc>>,
}

/// `POST /forms/copyright-notice`: recorded, acknowledged to the sender, forwarded to the
/// administrators of the account the location names (if there is one).
pub(crate) async fn copyright_notice(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let input: CopyrightNoticeInput = parse_body(req)?;
    let notice = input.parse()?;
    let label = account_label(&notice.location, &app.config.base_domain);
    let account = match &label {
        Some(l) => db::account_by_label(&app.store, l).await?,
        None => None,
    };
    let id = db::new_id();
    let record = CopyrightRecord {
        id: id.clone(),
        received_at: now,
        notice: notice.clone(),
        domain: label.clone(),
        account_id: account.as_ref().map(|a| a.id.clone()),
        source_ip: source_ip(req),
        permanent_removal: None,
        decided_at: None,
    };
    let mut mails = vec![OutboxMail::leased(
        format!("copyright#{id}#ack"), None,
        vec![notice.contact_email.as_str().to_string()],
        copyright_ack_mail(&notice, &id),
        now,
    )];
    if let Some(a) = account.as_ref().filter(|a| !a.admins.is_empty()) {
        let portal = format!("{}.{}", a.domain, app.config.base_domain);
        let mut m = OutboxMail::leased(format!("copyright#{id}#account"), None, a.admins.clone(), copyright_forward_mail(&notice, &id, &portal), now);
        m.account_id = Some(a.id.clone());
        mails.push(m);
    }
    let mut items = vec![put(
        app.store.table(),
        to_item(copyright_pk(&id), META, "copyright_notice", &record)?,
        Some("attribute_not_exists(PK)"),
    )?];
    for m in &mails {
            items.push(app.store.outbox_put(m)?);
        }
    app.store.transact(items).await.map_err(write_error)?;
    deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(notice_id = %id, account = ?record.account_id, "copyright notice received");
    json_response(
        StatusCode::CREATED,
        &json!({"notice_id": id, "account": account.map(|a| a.domain), "location_domain": label}),
    )
}

fn write_error(e: WriteError) -> ApiError {
    match e {
        WriteError::Conflict { failed } => ApiError::Unexpected(anyhow::anyhow!("a fresh id collided (items {failed:?})")),
        WriteError::Other(e) => ApiError::Unexpected(e),
    }
}

#[derive(Deserialize)]
struct OutcomeBody {
    permanent_removal: Option<bool>,
}

/// `POST /forms/copyright-notice/{id}/outcome` (operator): whether the notice led to permanent
/// removal. The outcome is recorded once; in the same transaction a removal adds one to the
/// account's `copyright_removals`, so a repeated call never counts twice. With more than one,
/// the account is marked `repeat_infringer` (§15.3). Both updates bump the account's version, so
/// a writer holding an older read loses its condition and re-reads instead of dropping them.
pub(crate) async fn copyright_outcome(app: &App, req: &Request, id: &str) -> ApiResult {
    require_key(req, "x-operator-key", &app.config.operator_key)?;
    let now = event_time(req)?;
    let body: OutcomeBody = parse_body(req)?;
    let removal = body.permanent_removal.ok_or_else(|| ApiError::Invalid(FieldError::required("permanent_removal").into()))?;
    if !db::is_id(id) {
        return Err(ApiError::not_found());
    }
    let Some(item) = app.store.get(&copyright_pk(id), META).await? else {
        return Err(ApiError::not_found());
    };
    let rec: CopyrightRecord = from_item(item)?;
    let recorded = |r: Option<bool>| {
        ApiError::with(
            StatusCode::CONFLICT,
            "outcome_recorded",
            "a different outcome is already recorded for this notice",
            json!({"permanent_removal": r}),
        )
    };
    if rec.permanent_removal.is_some_and(|r| r != removal) {
        return Err(recorded(rec.permanent_removal));
    }
    let account = match (&rec.account_id, removal) {
        (Some(aid), true) => app.store.account(aid).await?,
        _ => None,
    };
    if rec.permanent_removal.is_none() {
        let table = app.store.table();
        let record_outcome = Update::builder()
            .table_name(table)
            .set_key(Some(key(copyright_pk(id), META)))
            .update_expression("SET permanent_removal = :r, decided_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(permanent_removal)")
            .expression_attribute_values(":r", AttributeValue::Bool(removal))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .build()
            .context("outcome update")?;
        let mut items = vec![TransactWriteItem::builder().update(record_outcome).build()];
        if let Some(a) = &account {
            let count = Update::builder()
                .table_name(table)
                .set_key(Some(key(account_pk(&a.id), META)))
                .update_expression("ADD copyright_removals :one, version :one")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .context("account update")?;
            items.push(TransactWriteItem::builder().update(count).build());
        }
        match app.store.transact(items).await {
            Ok(()) => {}
            Err(WriteError::Conflict { .. }) => return Err(recorded(None)),
            Err(WriteError::Other(e)) => return Err(e.into()),
        }
    }
    let mut repeat_infringer = false;
    if let Some(a) = &account {
        repeat_infringer = mark_repeat_infringer(app, &a.id).await?;
    }
    tracing::info!(notice_id = %id, removal, repeat_infringer, "copyright notice outcome recorded");
    json_response(
        StatusCode::OK,
        &json!({
            "notice_id": id, "permanent_removal": removal,
            "account": account.as_ref().map(|a| a.domain.clone()).or(rec.domain),
            "repeat_infringer": repeat_infringer,
        }),
    )
}

/// Sets `repeat_infringer` once the account has more than one removal (safe to repeat); its answer.
async fn mark_repeat_infringer(app: &App, account_id: &str) -> Result<bool, ApiError> {
    let r = app
        .store
        .client()
        .update_item()
        .table_name(app.store.table())
        .set_key(Some(key(account_pk(account_id), META)))
        .update_expression("SET repeat_infringer = :t ADD version :one")
        .condition_expression("attribute_exists(PK) AND copyright_removals > :one")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(anyhow::anyhow!(e).context("UpdateItem repeat infringer").into()),
    }
}

/// `POST /forms/data-request`: forwarded to the account's administrators with a respond-by date;
/// the item waits in the due-time index for the sweep's reminders.
pub(crate) async fn data_request(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let input: DataRequestInput = parse_body(req)?;
    let r = input.parse(&app.config.base_domain)?;
    let Some(account) = db::account_by_label(&app.store, &r.domain).await? else {
        return Err(ApiError::with(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no account has this domain",
            json!({"errors": [{"field": "domain", "message": "no account has this domain"}]}),
        ));
    };
    let policy = &app.config.policy;
    let id = db::new_id();
    let by = respond_by(now, policy);
    let record = DataRequestRecord {
        id: id.clone(),
        account_id: account.id.clone(),
        domain: account.domain.clone(),
        name: r.name,
        email: r.email.as_str().to_string(),
        kind: r.kind,
        details: r.details,
        received_at: now,
        respond_by: by,
        reminded: vec![],
        overdue: false,
    };
    let mut item = to_item(data_request_pk(&id), META, "data_request", &record)?;
    set_due(&mut item, &id, app.store.shards(), data_request_next_due(by, &[], false, policy));
    let mut forward = OutboxMail::leased(format!("datareq#{id}#account"), None, account.admins.clone(), data_request_forward_mail(&record), now);
    forward.account_id = Some(account.id.clone());
    let mut mails = vec![];
    if !account.admins.is_empty() {
        mails.push(forward);
    }
    mails.push(OutboxMail::leased(format!("datareq#{id}#ack"), None, vec![record.email.clone()], data_request_ack_mail(&record), now));
    let mut items = vec![put(app.store.table(), item, Some("attribute_not_exists(PK)"))?];
    for m in &mails {
            items.push(app.store.outbox_put(m)?);
        }
    app.store.transact(items).await.map_err(write_error)?;
    deliver(&app.store, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(request_id = %id, account_id = %account.id, kind = record.kind.as_str(), "data request received");
    json_response(
        StatusCode::CREATED,
        &json!({"request_id": id, "respond_by": by.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "account": account.domain}),
    )
}

/// `POST /partners` (operator): a new implementation partner, never sent a lead yet.
pub(crate) async fn add_partner(app: &App, req: &Request) -> ApiResult {
    require_key(req, "x-operator-key", &app.config.operator_key)?;
    let input: PartnerInput = parse_body(req)?;
    let p = input.parse()?;
    let mut item = to_item(PARTNERS_PK, partner_sk(&p.id), "partner", &p)?;
    item.insert("last_sent_at".into(), AttributeValue::N("0".into()));
    if !app.store.put_new(item).await? {
        return Err(ApiError::problem(StatusCode::CONFLICT, "partner_exists", "a partner with this id exists"));
    }
    tracing::info!(partner = %p.id, "partner added");
    json_response(StatusCode::CREATED, &p)
}
