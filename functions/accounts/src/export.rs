//! §26: the administrator's download of all the account's data (SPEC: Personal data). What goes
//! in it is `platform::cases::account::export`, shared with the portal's download.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::http::{json_response, ApiResult};
use platform::{session, App};

/// `GET /accounts/{id}/export` (bearer).
pub(crate) async fn export(app: &App, req: &Request, id: &str) -> ApiResult {
    let (_, _, account) = session::account(app, req, id).await?;
    json_response(StatusCode::OK, &platform::cases::account::export(app, &account).await?)
}
