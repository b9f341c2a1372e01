//! Copyright notices (§15.1, §15.3), personal data requests (§5.5, §26.5), and the operator's
//! partner route. Each accepted submission is one transaction with its outbox mail.

use crate::ids;
use domain::field::FieldError;
use domain::forms::{
    account_label, copyright_ack_mail, copyright_forward_mail, data_request_ack_mail, data_request_forward_mail,
    data_request_next_due, respond_by, CopyrightNoticeInput, DataRequestInput, DataRequestRecord, PartnerInput,
};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::dynamo::WriteError;
use platform::http::{
    event_time, header, json_response, parse_body, parse_form_or_json, require_key, source_ip, ApiResult,
};
use platform::outbox::deliver;
use platform::repo::forms::CopyrightRecord;
use platform::repo::outbox::OutboxMail;
use platform::{ApiError, App};
use serde::Deserialize;
use serde_json::json;

/// `POST /forms/copyright-notice`: recorded, acknowledged to the sender, forwarded to the
/// administrators of the account the location names (if there is one).
pub(crate) async fn copyright_notice(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let input: CopyrightNoticeInput = parse_form_or_json(req)?;
    if input.is_bot() {
        tracing::info!(honeypot = true, "copyright notice dropped: honeypot filled");
        return json_response(StatusCode::CREATED, &json!({"notice_id": ids::new_id()}));
    }
    let notice = input.parse()?;
    let label = account_label(&notice.location, &app.config.base_domain);
    let account = match &label {
        Some(l) => app.accounts.by_domain(l).await?,
        None => None,
    };
    let id = ids::new_id();
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
        format!("copyright#{id}#ack"),
        None,
        vec![notice.contact_email.clone()],
        copyright_ack_mail(&notice, &id),
        &app.config.mail,
    )];
    if let Some(a) = account.as_ref().filter(|a| !a.mail_recipients().is_empty()) {
        let portal = format!("{}.{}", a.domain, app.config.base_domain);
        let forward = copyright_forward_mail(&notice, &id, &portal);
        mails.push(OutboxMail::leased(
            format!("copyright#{id}#account"),
            Some(a.id.clone()),
            a.mail_recipients(),
            forward,
            &app.config.mail,
        ));
    }
    let limits = &app.config.rate_limits;
    let mut writes = app.forms.new_copyright(&record)?;
    writes.push(app.rates.hit(limits.copyright_ip(), &source_ip(req).unwrap_or_default(), now)?);
    writes.push(app.rates.hit(limits.copyright_recipient(), notice.contact_email.as_str(), now)?);
    for m in &mails {
        writes.push(app.outbox.put(m)?);
    }
    app.forms.transact(writes).await.map_err(|e| write_error(e, now))?;
    deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(notice_id = %id, account = ?record.account_id, "copyright notice received");
    json_response(
        StatusCode::CREATED,
        &json!({"notice_id": id, "account": account.map(|a| a.domain), "location_domain": label}),
    )
}

fn write_error(e: WriteError, now: chrono::DateTime<chrono::Utc>) -> ApiError {
    match e {
        e if e.lost(platform::dynamo::Tag::RateLimit) => ApiError::over_limit(now),
        WriteError::Conflict(tags) => ApiError::Unexpected(anyhow::anyhow!("a fresh id collided ({tags:?})")),
        other => other.into(),
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
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let now = event_time(req)?;
    let body: OutcomeBody = parse_body(req)?;
    let removal =
        body.permanent_removal.ok_or_else(|| ApiError::Invalid(FieldError::required("permanent_removal").into()))?;
    if !ids::is_id(id) {
        return Err(ApiError::not_found());
    }
    let Some(rec) = app.forms.copyright(id).await? else {
        return Err(ApiError::not_found());
    };
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
        (Some(aid), true) => app.accounts.get(aid).await?,
        _ => None,
    };
    if rec.permanent_removal.is_none() {
        let mut writes = vec![app.forms.record_outcome(id, removal, now)];
        if let Some(a) = &account {
            writes.push(app.forms.count_removal(&a.id));
        }
        match app.forms.transact(writes).await {
            Ok(()) => {}
            Err(WriteError::Conflict(_)) => return Err(recorded(None)),
            Err(e) => return Err(e.into()),
        }
    }
    let mut repeat_infringer = false;
    if let Some(a) = &account {
        repeat_infringer = app.forms.mark_repeat_infringer(&a.id).await?;
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

/// `POST /forms/data-request`: forwarded to the account's administrators with a respond-by date;
/// the item waits in the due-time index for the sweep's reminders.
pub(crate) async fn data_request(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let input: DataRequestInput = parse_form_or_json(req)?;
    let policy = &app.config.policy;
    if input.is_bot() {
        tracing::info!(honeypot = true, "data request dropped: honeypot filled");
        let by = respond_by(now, policy).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let account = input.domain.clone().unwrap_or_default();
        return json_response(
            StatusCode::CREATED,
            &json!({"request_id": ids::new_id(), "respond_by": by, "account": account}),
        );
    }
    let r = input.parse(&app.config.base_domain)?;
    let Some(account) = app.accounts.by_domain(&r.domain).await? else {
        return Err(ApiError::with(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no account has this domain",
            json!({"errors": [{"field": "domain", "message": "no account has this domain"}]}),
        ));
    };
    let id = ids::new_id();
    let by = respond_by(now, policy);
    let record = DataRequestRecord {
        id: id.clone(),
        account_id: account.id.clone(),
        domain: account.domain.clone(),
        name: r.name,
        email: r.email,
        kind: r.kind,
        details: r.details,
        received_at: now,
        respond_by: by,
        reminded: vec![],
        overdue: false,
        answered_at: None,
    };
    let limits = &app.config.rate_limits;
    let mut writes = app.forms.new_data_request(&record, data_request_next_due(by, &[], false, policy))?;
    writes.push(app.rates.hit(limits.data_request_ip(), &source_ip(req).unwrap_or_default(), now)?);
    writes.push(app.rates.hit(limits.data_request_recipient(), record.email.as_str(), now)?);
    let mut mails = vec![];
    if !account.mail_recipients().is_empty() {
        let forward = data_request_forward_mail(&record);
        mails.push(OutboxMail::leased(
            format!("datareq#{id}#account"),
            Some(account.id.clone()),
            account.mail_recipients(),
            forward,
            &app.config.mail,
        ));
    }
    mails.push(OutboxMail::leased(
        format!("datareq#{id}#ack"),
        None,
        vec![record.email.clone()],
        data_request_ack_mail(&record),
        &app.config.mail,
    ));
    for m in &mails {
        writes.push(app.outbox.put(m)?);
    }
    app.forms.transact(writes).await.map_err(|e| write_error(e, now))?;
    deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(request_id = %id, account_id = %account.id, kind = record.kind.as_str(), "data request received");
    json_response(
        StatusCode::CREATED,
        &json!({"request_id": id, "respond_by": by.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "account": account.domain}),
    )
}

/// `POST /forms/data-request/{id}/answer` (bearer of that account, or operator): the request is
/// answered, so its reminders and the overdue mail stop. Answering again gives the first answer.
pub(crate) async fn answer_data_request(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let operator = header(req, "x-operator-key").is_some();
    if operator {
        require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    }
    let found = if ids::is_id(id) { app.forms.data_request(id).await? } else { None };
    let Some(r) = found else {
        // Without the operator key, say nothing more than a bearer could learn.
        return Err(if operator { ApiError::not_found() } else { ApiError::unauthorized() });
    };
    if !operator {
        platform::session::account(app, req, &r.account_id).await?;
    }
    let answered_at = match r.answered_at {
        Some(at) => at,
        None if app.forms.answer_data_request(id, now).await? => now,
        None => app.forms.data_request(id).await?.and_then(|r| r.answered_at).unwrap_or(now),
    };
    tracing::info!(request_id = %id, operator, "data request answered");
    json_response(
        StatusCode::OK,
        &json!({"request_id": id, "answered_at": answered_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
    )
}

/// `POST /partners` (operator): a new implementation partner, never sent a lead yet.
pub(crate) async fn add_partner(app: &App, req: &Request) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let input: PartnerInput = parse_body(req)?;
    let p = input.parse()?;
    if !app.forms.add_partner(&p).await? {
        return Err(ApiError::problem(StatusCode::CONFLICT, "partner_exists", "a partner with this id exists"));
    }
    tracing::info!(partner = %p.id, "partner added");
    json_response(StatusCode::CREATED, &p)
}
