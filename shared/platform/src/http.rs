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
    pub fn conflict_retry() -> ApiError {
        ApiError::problem(StatusCode::CONFLICT, "concurrent_update", "the account changed meanwhile; retry the request")
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
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/problem+json")
            .body(Body::Text(body.to_string()))
            .unwrap_or_default()
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
/// and the DynamoDB requests it made (what the bench reads).
pub async fn answer(store: &crate::Store, function: &str, route: impl std::future::Future<Output = ApiResult>) -> Response<Body> {
    let before = store.requests();
    let res = route.await.unwrap_or_else(ApiError::into_response);
    tracing::info!(function, status = res.status().as_u16(), ddb_requests = store.requests() - before, "request");
    res
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

pub fn html(status: StatusCode, page: String) -> ApiResult {
    Ok(Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
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
    epoch
        .and_then(domain::time::from_epoch)
        .ok_or_else(|| ApiError::problem(StatusCode::BAD_REQUEST, "no_event_time", "the event carries no requestContext.timeEpoch"))
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

/// Parses a JSON object or form-urlencoded body into `T`; a wrongly typed field is named.
pub fn parse_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
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
            serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok()?.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
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
    if c.sub == account_id { Ok(c) } else { Err(ApiError::forbidden()) }
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
