//! The catalog, the compatibility chart (§7.4), automatic renewal (§7.7) and the next plan.

use crate::handler::plan_of;
use domain::FieldError;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{bearer_for, event_time, json_response, parse_body, query_param, ApiResult};
use platform::{session, ApiError, App};
use serde::Deserialize;
use serde_json::json;

pub(crate) fn plans(app: &App) -> ApiResult {
    json_response(StatusCode::OK, &json!({ "plans": app.catalog.plans }))
}

pub(crate) async fn compatibility(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let plan = plan_of(app, "plan", query_param(req, "plan").as_deref())?;
    let (_, _, a) = session::account(app, req, id).await?;
    json_response(StatusCode::OK, &app.catalog.chart(plan, &a.usage))
}

#[derive(Deserialize)]
struct AutoRenewBody {
    enabled: Option<bool>,
}

/// §7.7: the administrator can turn automatic renewal off (or on) at any time; off withdraws
/// every renewal charge attempt not yet made.
pub(crate) async fn auto_renew(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: AutoRenewBody = parse_body(req)?;
    let enabled = b.enabled.ok_or_else(|| ApiError::Invalid(FieldError::required("enabled").into()))?;
    let a = platform::cases::billing::auto_renew(app, now, &claims, enabled).await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "auto_renew": a.auto_renew, "term_end": a.term_end }))
}

#[derive(Deserialize)]
struct NextPlanBody {
    plan: Option<String>,
}

/// The plan for after the current term: Free or a cheaper paid plan, answered with its chart (§7.4).
pub(crate) async fn next_plan(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: NextPlanBody = parse_body(req)?;
    let (a, chart) = platform::cases::billing::next_plan(app, now, &claims, b.plan.as_deref()).await?;
    json_response(StatusCode::OK, &json!({ "account_id": a.id, "next_plan": a.next_plan, "chart": chart }))
}
