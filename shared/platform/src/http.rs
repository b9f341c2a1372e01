//! HTTP plumbing: the event's time, routes, bodies (JSON or form), problem+json errors, auth.

use crate::auth::{keys_match, verify_token, Claims};
use chrono::{DateTime, Utc};
use domain::field::{FieldError, FieldErrors};
use lambda_http::http::{header::CONTENT_TYPE, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("{detail}")]
    Problem { status: StatusCode, code: &'static str, detail: String, extra: Option<Value> },
    /// 500, opaque to the caller; the whole cause chain goes to the log.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn problem(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::Problem { status, code, detail: detail.into(), extra: None }
    }
    pub fn with(status: StatusCode, code: &'static str, detail: impl Into<String>, extra: Value) -> ApiError {
        ApiError::Problem { status, code, detail: detail.into(), extra: Some(extra) }
    }
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(FieldError::new(field, message).into())
    }
    pub fn unauthorized() -> ApiError {
        ApiError::problem(StatusCode::UNAUTHORIZED, "unauthorized", "missing, invalid or expired credentials")
    }
    pub fn forbidden() -> ApiError {
        ApiError::problem(StatusCode::FORBIDDEN, "forbidden", "these credentials do not give access to this resource")
    }
    pub fn not_found() -> ApiError {
        ApiError::problem(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }
    /// No route of this function matches the path (unlike `not_found`: no such resource).
    pub fn no_route() -> ApiError {
        ApiError::problem(StatusCode::NOT_FOUND, "route_not_found", "no route matches this path")
    }
    /// A token that was good and is no more: signed out, password changed or reset, or the
    /// account terminated or deleted.
    pub fn token_revoked() -> ApiError {
        ApiError::problem(StatusCode::UNAUTHORIZED, "token_revoked", "this token has been revoked; sign in again")
    }
    /// 429 `rate_limited` with `Retry-After` (seconds).
    pub fn rate_limited(retry_after: i64, detail: &str) -> ApiError {
        ApiError::with(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail, json!({ "retry_after": retry_after }))
    }
    pub fn conflict_retry() -> ApiError {
        ApiError::problem(StatusCode::CONFLICT, "concurrent_update", "the account changed meanwhile; retry the request")
    }

    /// The problem's code, as answered and logged.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "invalid_input",
            ApiError::Problem { code, .. } => code,
            ApiError::Unexpected(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Problem { status, .. } => *status,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// RFC 9457 problem details with a `code`, and `errors: [{field, message}]` for bad input.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let mut body = match &self {
            ApiError::Invalid(errs) => json!({
                "type": "about:blank", "title": "Invalid input", "status": 400, "code": "invalid_input",
                "detail": errs.to_string(), "errors": errs.0,
            }),
            ApiError::Problem { code, detail, .. } => json!({
                "type": "about:blank", "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(), "code": code, "detail": detail,
            }),
            ApiError::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                json!({"type": "about:blank", "title": "Internal Server Error", "status": 500, "code": "internal",
                       "detail": "an unexpected error occurred; it has been logged"})
            }
        };
        if let ApiError::Problem { extra: Some(Value::Object(m)), .. } = &self {
            for (k, v) in m {
                body[k] = v.clone();
            }
        }
        let mut res = Response::builder().status(status).header(CONTENT_TYPE, "application/problem+json");
        if let Some(secs) = body.get("retry_after").and_then(Value::as_i64) {
            res = res.header("retry-after", secs.to_string());
        }
        res.body(Body::Text(body.to_string())).unwrap_or_default()
    }
}

impl ApiError {
    /// A public route's rate limit refused the write: 429 until the window that holds `now` ends.
    pub fn over_limit(now: chrono::DateTime<chrono::Utc>) -> ApiError {
        let retry = domain::limits::retry_after(now.timestamp());
        ApiError::rate_limited(retry, "too many requests from this source or for this address; try again later")
    }
}

/// Where no event time is at hand, the window is the wall clock's.
fn over_limit() -> ApiError {
    ApiError::over_limit(chrono::Utc::now())
}

/// The write path's errors, as HTTP: the one place they are mapped.
impl<E: Into<ApiError>> From<crate::ops::UpdateError<E>> for ApiError {
    fn from(e: crate::ops::UpdateError<E>) -> ApiError {
        use crate::ops::UpdateError;
        match e {
            UpdateError::NotFound | UpdateError::Deleted => ApiError::not_found(),
            UpdateError::Refused(e) => e.into(),
            UpdateError::Lost(tags) if tags.contains(&crate::dynamo::Tag::RateLimit) => over_limit(),
            UpdateError::Lost(tags) => {
                tracing::warn!(?tags, "a condition of the action lost");
                ApiError::conflict_retry()
            }
            UpdateError::Busy => ApiError::conflict_retry(),
            UpdateError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<crate::dynamo::WriteError> for ApiError {
    fn from(e: crate::dynamo::WriteError) -> ApiError {
        match e {
            e if e.lost(crate::dynamo::Tag::RateLimit) => over_limit(),
            crate::dynamo::WriteError::Conflict(_) | crate::dynamo::WriteError::Contended => ApiError::conflict_retry(),
            crate::dynamo::WriteError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e.into())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::Invalid(e)
    }
}

pub type ApiResult = Result<Response<Body>, ApiError>;

/// Runs a function's router: errors become problem responses, and each request logs its status
/// and the DynamoDB and Stripe requests it made (what the bench reads).
pub async fn answer(
    app: &crate::App,
    function: &str,
    req: &Request,
    route: impl std::future::Future<Output = ApiResult>,
) -> Response<Body> {
    let started = std::time::Instant::now();
    let (ddb, stripe) = (app.store.requests(), app.stripe.requests());
    // An oversized body is refused before the route runs (its future is dropped unpolled).
    let result = match check_size(req) {
        // The function's keys, from Secrets Manager on the sandbox's first request.
        Ok(()) => match app.secrets.load().await {
            Ok(()) => route.await,
            Err(e) => Err(ApiError::Unexpected(e)),
        },
        Err(e) => Err(e),
    };
    let problem = result.as_ref().err().map(ApiError::code);
    let res = result.unwrap_or_else(ApiError::into_response);
    let (route, account_id) = route_of(req);
    let request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    tracing::info!(
        function,
        method = %req.method(),
        route,
        status = res.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = request_id.as_deref().unwrap_or(""),
        account_id = account_id.as_deref().unwrap_or(""),
        problem = problem.unwrap_or(""),
        ddb_requests = app.store.requests() - ddb,
        stripe_requests = app.stripe.requests() - stripe,
        "request"
    );
    res
}

/// The route template of a request (ids and labels replaced, so no personal data is logged)
/// and the account id it names, if any.
pub fn route_of(req: &Request) -> (String, Option<String>) {
    let segs = segments(req);
    let mut account = None;
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1].as_str() } else { "" };
        let templ = match prev {
            "accounts" if s != "by-domain" => {
                account = Some(s.clone());
                "{id}"
            }
            "domains" | "by-domain" => "{label}",
            "implementation-request" | "copyright-notice" | "data-request" if s.len() >= 32 => "{id}",
            _ => s.as_str(),
        };
        out.push(templ.to_string());
    }
    (format!("/{}", out.join("/")), account)
}

/// Refuses an oversized body before a route reads it.
pub fn check_size(req: &Request) -> Result<(), ApiError> {
    if body_bytes(req).len() > MAX_BODY_BYTES {
        return Err(ApiError::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("bodies are limited to {} KiB", MAX_BODY_BYTES / 1024),
        ));
    }
    Ok(())
}

pub fn json_response<T: Serialize>(status: StatusCode, v: &T) -> ApiResult {
    let body = serde_json::to_string(v).map_err(anyhow::Error::from)?;
    Ok(Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .map_err(anyhow::Error::from)?)
}

pub fn empty(status: StatusCode) -> ApiResult {
    Ok(Response::builder().status(status).body(Body::Empty).map_err(anyhow::Error::from)?)
}

/// The content security policy of HTML pages: only our own resources, inline styles, no
/// framing; `extra_script` and `extra_connect` allow Stripe.js where a page takes a card.
pub fn content_security_policy(extra_script: &str, extra_connect: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self' {extra_script}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self' {extra_connect}; frame-src {extra_script}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// An HTML page, with the security headers every page sends (SPEC: Public surface).
pub fn html(status: StatusCode, page: String) -> ApiResult {
    html_with_policy(status, page, &content_security_policy("", ""))
}

pub fn html_with_policy(status: StatusCode, page: String, csp: &str) -> ApiResult {
    Ok(Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header("content-security-policy", csp)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "same-origin")
        .header("x-frame-options", "DENY")
        .body(Body::Text(page))
        .map_err(anyhow::Error::from)?)
}

/// "Now" of an HTTP request: `requestContext.timeEpoch` (ms from API Gateway, s from cargo lambda).
pub fn event_time(req: &Request) -> Result<DateTime<Utc>, ApiError> {
    let epoch = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => Some(c.time_epoch),
        Some(RequestContext::ApiGatewayV1(c)) => Some(c.request_time_epoch),
        _ => None,
    };
    epoch.and_then(domain::time::from_epoch).ok_or_else(|| {
        ApiError::problem(StatusCode::BAD_REQUEST, "no_event_time", "the event carries no requestContext.timeEpoch")
    })
}

/// The route's path segments; a `lambda-url/<function>` prefix (cargo lambda watch) is dropped.
pub fn segments(req: &Request) -> Vec<String> {
    let path = req.uri().path();
    let mut segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    if segs.first().map(String::as_str) == Some("lambda-url") && segs.len() >= 2 {
        segs.drain(..2);
    }
    segs
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

pub fn is_form(req: &Request) -> bool {
    header(req, "content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

/// The largest body any route reads (SPEC: Public surface); larger ones are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON route's body: `application/json` (any parameters) or no body at all, else 415.
pub fn parse_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let empty = body_bytes(req).iter().all(u8::is_ascii_whitespace);
    let json = header(req, "content-type")
        .map(|c| c.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false);
    if !empty && !json {
        return Err(ApiError::problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "this route accepts only application/json",
        ));
    }
    read_body(req)
}

/// A public form's body: JSON or `application/x-www-form-urlencoded` (what a browser posts).
pub fn parse_form_or_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let empty = body_bytes(req).iter().all(u8::is_ascii_whitespace);
    let media = header(req, "content-type").map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        _ if empty => read_body(req),
        Some("application/json") | Some("application/x-www-form-urlencoded") => read_body(req),
        _ => Err(ApiError::problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "this form accepts application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// Parses a JSON object or form-urlencoded body into `T`; a wrongly typed field is named.
fn read_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    let value: Value = if is_form(req) {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| ApiError::field("body", "must be application/x-www-form-urlencoded"))?;
        Value::Object(pairs.into_iter().map(|(k, v)| (k, form_value(v))).collect())
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(|_| ApiError::field("body", "must be a JSON object"))?
    };
    if !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_string() } else { path };
        ApiError::field(&field, format!("has the wrong type: {}", e.inner()))
    })
}

/// Form fields are text; checkboxes and numbers are read as the JSON values they stand for.
fn form_value(v: String) -> Value {
    match v.as_str() {
        "true" | "on" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(v),
    }
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|q| q.first(name).map(String::from)).or_else(|| {
        req.uri().query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        })
    })
}

pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
        _ => None,
    }
    .or_else(|| header(req, "x-forwarded-for").map(|s| s.split(',').next().unwrap_or("").trim().to_string()))
}

/// The bearer token's claims, checked against the signing secret and the event time.
pub fn bearer(req: &Request, secret: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
    let token = header(req, "authorization")
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .ok_or_else(ApiError::unauthorized)?;
    verify_token(secret, token.trim(), now).ok_or_else(ApiError::unauthorized)
}

/// A bearer token for exactly this account: a token for one account never reads another.
pub fn bearer_for(req: &Request, secret: &str, now: DateTime<Utc>, account_id: &str) -> Result<Claims, ApiError> {
    let c = bearer(req, secret, now)?;
    if c.sub == account_id {
        Ok(c)
    } else {
        Err(ApiError::forbidden())
    }
}

/// Routes called by the product (`x-service-key`) or an operator (`x-operator-key`).
pub fn require_key(req: &Request, header_name: &str, expected: &str) -> Result<(), ApiError> {
    match header(req, header_name) {
        Some(k) if keys_match(k, expected) => Ok(()),
        _ => Err(ApiError::unauthorized()),
    }
}

pub fn method_not_allowed() -> ApiError {
    ApiError::problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not answer that method")
}
