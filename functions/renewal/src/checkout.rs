//! Checkout (SPEC: "Checkout", "The quoted amount"): the route. The rules (eligibility, the chart,
//! the checkout stored before the charge) live in `platform::cases::billing`, shared with the portal.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{bearer_for, event_time, json_response, parse_body, ApiResult};
use serde::Deserialize;

#[derive(Deserialize)]
struct CheckoutBody {
    plan: Option<String>,
    months: Option<u32>,
}

pub(crate) async fn checkout(app: &platform::App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: CheckoutBody = parse_body(req)?;
    let answer = platform::cases::billing::checkout(app, now, &claims, b.plan.as_deref(), b.months).await?;
    json_response(StatusCode::CREATED, &answer)
}
