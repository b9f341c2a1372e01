//! The implementation request (SPEC: Forms): the page, the submission routed to up to five
//! partners through the outbox, the "Resend" of the confirmation, and the operator's switch.

use crate::ids;
use crate::page::{render, View};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use domain::field::FieldErrors;
use domain::forms::{
    choose_partners, confirmation_mail, lead_mail, FormRefusal, ImplementationRequestInput, FORM_DISABLED,
};
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::dynamo::{Tag, WriteError};
use platform::http::{
    event_time, header, html, is_form, json_response, parse_body, parse_form_or_json, require_key, source_ip, ApiResult,
};
use platform::outbox::deliver;
use platform::repo::forms::{FormRecord, IdempotencyRecord, Routed};
use platform::repo::outbox::OutboxMail;
use platform::{ApiError, App};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Attempts at the submission's transaction when another request took a partner's slot first.
/// Enough for every partner of a country to be taken once by other requests while this one retries.
const ATTEMPTS: usize = 10;
/// How long an `Idempotency-Key` is remembered.
const IDEMPOTENCY_HOURS: i64 = 24;

struct Accepted {
    request_id: String,
    partners: Vec<String>,
    replayed: bool,
}

/// Why a submission was not accepted, answered as JSON or as the page.
enum Failure {
    Invalid(ImplementationRequestInput, FieldErrors),
    Embargoed,
    Disabled,
    Throttled,
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}
impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Api(ApiError::Unexpected(e))
    }
}

fn disabled_detail() -> &'static str {
    "The implementation request form has been turned off for now. Please try again later."
}
fn throttled_detail() -> &'static str {
    "Too many requests from this sender for now. Please try again in an hour."
}
const EMBARGO_DETAIL: &str =
    "We cannot accept requests from this country or region: it is subject to export restrictions (§13.3).";

pub(crate) async fn page(app: &App, _req: &Request) -> ApiResult {
    if app.forms.form_disabled().await? {
        return html(StatusCode::SERVICE_UNAVAILABLE, render(&View::Disabled { detail: disabled_detail() }));
    }
    html(StatusCode::OK, render(&View::Form { input: &Default::default(), errors: &Default::default() }))
}

/// The page answers the browser's own posts (a form body, or a request that accepts HTML); JSON otherwise.
fn wants_html(req: &Request) -> bool {
    is_form(req) || header(req, "accept").is_some_and(|a| a.contains("text/html"))
}

pub(crate) async fn submit(app: &App, req: &Request) -> ApiResult {
    let form = wants_html(req);
    match accept(app, req).await {
        Ok(a) if form => html(
            StatusCode::CREATED,
            render(&View::Sent {
                resend_action: format!("implementation-request/{}/resend", a.request_id),
                partners: a.partners.len(),
                note: None,
                can_resend: true,
            }),
        ),
        Ok(a) => {
            let mut resp =
                json_response(StatusCode::CREATED, &json!({"request_id": a.request_id, "partners": a.partners}))?;
            if a.replayed {
                resp.headers_mut().insert("idempotent-replayed", lambda_http::http::HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
        Err(f) if form => failure_page(f),
        Err(f) => Err(failure_problem(f)),
    }
}

fn failure_problem(f: Failure) -> ApiError {
    match f {
        Failure::Invalid(_, e) => ApiError::Invalid(e),
        Failure::Embargoed => ApiError::problem(StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS, "embargoed", EMBARGO_DETAIL),
        Failure::Disabled => ApiError::with(
            StatusCode::SERVICE_UNAVAILABLE,
            "form_disabled",
            FORM_DISABLED,
            json!({"reason": "disabled_by_operator", "message": disabled_detail()}),
        ),
        Failure::Throttled => ApiError::with(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            FORM_DISABLED,
            json!({"reason": "rate_limited", "message": throttled_detail()}),
        ),
        Failure::Api(e) => e,
    }
}

fn failure_page(f: Failure) -> ApiResult {
    match f {
        Failure::Invalid(input, errors) => {
            html(StatusCode::BAD_REQUEST, render(&View::Form { input: &input, errors: &errors }))
        }
        Failure::Embargoed => html(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            render(&View::Message { title: "Request not accepted", text: EMBARGO_DETAIL }),
        ),
        Failure::Disabled => {
            html(StatusCode::SERVICE_UNAVAILABLE, render(&View::Disabled { detail: disabled_detail() }))
        }
        Failure::Throttled => {
            html(StatusCode::TOO_MANY_REQUESTS, render(&View::Disabled { detail: throttled_detail() }))
        }
        Failure::Api(ApiError::Invalid(errors)) => {
            html(StatusCode::BAD_REQUEST, render(&View::Form { input: &Default::default(), errors: &errors }))
        }
        Failure::Api(e) => Err(e),
    }
}

/// `Idempotency-Key`, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    match header(req, "idempotency-key").map(str::trim) {
        None | Some("") => Ok(None),
        Some(k) if k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_string())),
        Some(_) => Err(ApiError::field("Idempotency-Key", "must be 1 to 255 visible ASCII characters")),
    }
}

/// The answer stored under an idempotency key, if any; a different payload under the same key is refused.
async fn replay(app: &App, key: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Accepted>, ApiError> {
    let Some(rec) = app.forms.idempotency(key).await? else {
        return Ok(None);
    };
    if rec.expires_at <= now.timestamp() {
        return Ok(None);
    }
    if rec.payload_sha256 != hash {
        return Err(ApiError::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        ));
    }
    Ok(Some(Accepted { request_id: rec.request_id, partners: rec.partners, replayed: true }))
}

async fn accept(app: &App, req: &Request) -> Result<Accepted, Failure> {
    let now = event_time(req)?;
    let input: ImplementationRequestInput = parse_form_or_json(req)?;
    if app.forms.form_disabled().await? {
        return Err(Failure::Disabled);
    }
    if input.is_bot() {
        tracing::info!(honeypot = true, "implementation request dropped: honeypot filled");
        return Ok(Accepted { request_id: ids::new_id(), partners: vec![], replayed: false });
    }
    let request = match input.parse() {
        Ok(r) => r,
        Err(FormRefusal::Invalid(e)) => return Err(Failure::Invalid(input, e)),
        Err(FormRefusal::Embargoed) => return Err(Failure::Embargoed),
    };
    let idem = idempotency_key(req)?;
    let hash = hex::encode(Sha256::digest(serde_json::to_vec(&request).context("hash request")?));
    if let Some(k) = &idem {
        if let Some(prev) = replay(app, k, &hash, now).await? {
            return Ok(prev);
        }
    }
    let limits = &app.config.form_limits;
    let ip = source_ip(req).filter(|ip| !ip.is_empty());
    let user_agent = header(req, "user-agent").map(|s| s.chars().take(300).collect());
    let id = ids::new_id();

    for attempt in 1..=ATTEMPTS {
        let partners = app.forms.partners_for(&request.country).await?;
        let chosen = choose_partners(&partners, request.country.as_str(), &request.product, now.timestamp());
        let routed: Vec<Routed> =
            chosen.iter().map(|c| Routed { id: c.partner.id.clone(), name: c.partner.name.clone() }).collect();
        let record = FormRecord {
            id: id.clone(),
            received_at: now,
            request: request.clone(),
            partners: routed.clone(),
            resends: 0,
            source_ip: ip.clone(),
            user_agent: user_agent.clone(),
        };
        let mut writes = vec![app.forms.new_form(&record)?];
        for c in &chosen {
            writes.push(app.forms.take_partner_slot(&c.partner.id, c.previous, c.sent_at));
        }
        writes.push(app.rates.hit(limits.per_recipient(), request.email.as_str(), now)?);
        if let Some(ip) = &ip {
            writes.push(app.rates.hit(limits.per_ip(), ip, now)?);
        }
        if let Some(k) = &idem {
            let rec = IdempotencyRecord {
                payload_sha256: hash.clone(),
                request_id: id.clone(),
                partners: routed.iter().map(|r| r.id.clone()).collect(),
                expires_at: (now + Duration::hours(IDEMPOTENCY_HOURS)).timestamp(),
            };
            writes.push(app.forms.idempotency_put(k, &rec, now)?);
        }
        let mut mails = Vec::with_capacity(chosen.len() + 1);
        for c in &chosen {
            let lead = lead_mail(&request, &c.partner.name, &id);
            mails.push(OutboxMail::leased(
                format!("form#{id}#lead#{}", c.partner.id),
                None,
                vec![c.partner.email.clone()],
                lead,
                &app.config.mail,
            ));
        }
        let names: Vec<String> = routed.iter().map(|r| r.name.clone()).collect();
        let confirmation = confirmation_mail(&request, &names, &id, false);
        mails.push(OutboxMail::leased(
            format!("form#{id}#confirmation"),
            None,
            vec![request.email.clone()],
            confirmation,
            &app.config.mail,
        ));
        for m in &mails {
            writes.push(app.outbox.put(m)?);
        }

        match app.forms.transact(writes).await {
            Ok(()) => {
                let d = deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
                tracing::info!(request_id = %id, partners = routed.len(), sent = d.sent, failed = d.failed, "implementation request accepted");
                platform::telemetry::metrics(
                    "submit-form",
                    &[
                        ("ImplementationRequests", platform::telemetry::Value::Count(1)),
                        ("LeadsRouted", platform::telemetry::Value::Count(routed.len() as u64)),
                    ],
                );
                return Ok(Accepted {
                    request_id: id,
                    partners: routed.into_iter().map(|r| r.id).collect(),
                    replayed: false,
                });
            }
            Err(e) if e.lost(Tag::RateLimit) => {
                tracing::info!("implementation request refused: sender over the rate limit");
                return Err(Failure::Throttled);
            }
            Err(e) if e.lost(Tag::Idempotency) => {
                if let Some(prev) = replay(app, idem.as_deref().unwrap_or_default(), &hash, now).await? {
                    return Ok(prev);
                }
                continue;
            }
            Err(e) if e.lost(Tag::PartnerSlot) => {
                tracing::info!(attempt, "a partner's slot was taken meanwhile; choosing again");
                backoff(attempt).await;
                continue;
            }
            Err(WriteError::Contended) => continue,
            Err(e) => return Err(anyhow::Error::from(e).context("implementation request").into()),
        }
    }
    Err(ApiError::problem(StatusCode::CONFLICT, "busy", "many requests are being routed right now; please retry")
        .into())
}

/// A short random pause before choosing again, so racing requests stop colliding in lockstep.
async fn backoff(attempt: usize) {
    let ms = 5 * attempt as u64 + u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// `POST /forms/implementation-request/{id}/resend`: the confirmation again, a few times at most.
pub(crate) async fn resend(app: &App, req: &Request, id: &str) -> ApiResult {
    let form = wants_html(req);
    match resend_inner(app, req, id).await {
        Ok((rec, n)) if form => html(
            StatusCode::ACCEPTED,
            render(&View::Sent {
                resend_action: "resend".into(),
                partners: rec.partners.len(),
                note: Some("We sent the confirmation again."),
                can_resend: n < app.config.form_limits.resends_per_request,
            }),
        ),
        Ok((_, n)) => json_response(
            StatusCode::ACCEPTED,
            &json!({"request_id": id, "resends": n, "resends_left": app.config.form_limits.resends_per_request.saturating_sub(n)}),
        ),
        Err(e) if form => match e.status() {
            StatusCode::TOO_MANY_REQUESTS => html(
                StatusCode::TOO_MANY_REQUESTS,
                render(&View::Message {
                    title: "Resend limit reached",
                    text: "The confirmation has been sent again as often as we allow. Please check your spam folder.",
                }),
            ),
            StatusCode::NOT_FOUND => html(
                StatusCode::NOT_FOUND,
                render(&View::Message {
                    title: "Request not found",
                    text: "We have no implementation request with this id.",
                }),
            ),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

async fn resend_inner(app: &App, req: &Request, id: &str) -> Result<(FormRecord, u32), ApiError> {
    let now = event_time(req)?;
    if !ids::is_id(id) {
        return Err(ApiError::not_found());
    }
    let max = app.config.form_limits.resends_per_request;
    for _ in 0..ATTEMPTS {
        let Some(rec) = app.forms.form(id).await? else {
            return Err(ApiError::not_found());
        };
        if rec.resends >= max {
            return Err(ApiError::with(
                StatusCode::TOO_MANY_REQUESTS,
                "resend_limit",
                format!("the confirmation can be re-sent at most {max} times"),
                // Every 429 says when to come back; this one never lifts, so a day is as good as any.
                json!({"resends": rec.resends, "retry_after": 86400}),
            ));
        }
        let next = rec.resends + 1;
        let names: Vec<String> = rec.partners.iter().map(|p| p.name.clone()).collect();
        let mail = OutboxMail::leased(
            format!("form#{id}#resend#{next}"),
            None,
            vec![rec.request.email.clone()],
            confirmation_mail(&rec.request, &names, id, true),
            &app.config.mail,
        );
        let ip = source_ip(req).unwrap_or_default();
        let writes = vec![
            app.forms.bump_resends(id, rec.resends),
            app.outbox.put(&mail)?,
            app.rates.hit(app.config.rate_limits.resend_ip(), &ip, now)?,
        ];
        match app.forms.transact(writes).await {
            Ok(()) => {
                deliver(&app.outbox, app.mailer.as_ref(), std::slice::from_ref(&mail), now).await;
                return Ok((rec, next));
            }
            Err(e) if e.lost(Tag::RateLimit) => return Err(ApiError::over_limit(now)),
            Err(WriteError::Conflict(_) | WriteError::Contended) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::problem(StatusCode::CONFLICT, "busy", "the request is being re-sent meanwhile; please retry"))
}

#[derive(Deserialize)]
struct SettingsBody {
    disabled: Option<bool>,
}

/// `PUT /forms/implementation-request/settings` (operator): `{disabled}`.
pub(crate) async fn settings(app: &App, req: &Request) -> ApiResult {
    require_key(req, "x-operator-key", app.secrets.get(platform::Secret::OperatorKey)?)?;
    let now = event_time(req)?;
    let body: SettingsBody = parse_body(req)?;
    let disabled = body.disabled.ok_or_else(|| ApiError::Invalid(domain::FieldError::required("disabled").into()))?;
    app.forms.set_form_disabled(disabled, now).await?;
    tracing::info!(disabled, "implementation request form switched");
    json_response(StatusCode::OK, &json!({"disabled": disabled}))
}
