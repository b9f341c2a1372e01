//! Sign-in, sign-out, password change and reset (SPEC: Sign-in and account): the routes. The
//! rules (throttling, revocation by credential version, one-time links) live in
//! `platform::cases::identity`, shared with the portal's pages.

use domain::types::{Email, Password};
use domain::FieldErrors;
use lambda_http::http::StatusCode;
use lambda_http::Request;
use platform::auth::{hash_password, verify_password};
use platform::cases::identity::{token_for, typed_password, ResetBody, ResetConfirmBody, SignInBody};
use platform::cases::{self, Ctx};
use platform::http::{empty, event_time, json_response, parse_body, ApiResult};
use platform::ops::Decision;
use platform::{session, ApiError, App, HistoryEvent};
use serde::Deserialize;
use serde_json::json;

/// `POST /sign-in`: the attempt is counted first; a success clears its pair and takes its count
/// back from the address's.
pub(crate) async fn sign_in(app: &App, req: &Request) -> ApiResult {
    let ctx = Ctx::of(req)?;
    let b: SignInBody = parse_body(req)?;
    let s = cases::identity::sign_in(app, &ctx, b).await?;
    json_response(
        StatusCode::OK,
        &json!({ "token": s.token, "token_type": "Bearer", "expires_in": s.expires_in,
                 "account_id": s.account_id, "state": s.state }),
    )
}

/// `POST /sign-out`: revokes every token of the administrator the token is for.
pub(crate) async fn sign_out(app: &App, req: &Request) -> ApiResult {
    let now = event_time(req)?;
    let claims = platform::http::bearer(req, app.secrets.get(platform::Secret::Token)?, now)?;
    cases::identity::sign_out(app, now, &claims).await?;
    empty(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `PUT /accounts/{id}/password`: with the current password; answers a new token and revokes the older ones.
pub(crate) async fn change_password(app: &App, req: &Request, id: &str) -> ApiResult {
    let now = event_time(req)?;
    let claims = platform::http::bearer_for(req, app.secrets.get(platform::Secret::Token)?, now, id)?;
    let b: PasswordBody = parse_body(req)?;
    let mut errs = FieldErrors::default();
    let current = errs.take(typed_password("current_password", b.current_password.as_deref()));
    let new = errs.take(Password::parse("new_password", b.new_password.as_deref()));
    errs.clone().into_result()?;
    let (Some(current), Some(new)) = (current, new) else { return Err(errs.into()) };
    let admin = Email::try_from(claims.email.clone()).map_err(|_| ApiError::token_revoked())?;
    let login = app.accounts.login(&admin).await?.ok_or_else(ApiError::token_revoked)?;
    if !verify_password(&current, &login.password_hash) {
        return Err(ApiError::problem(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the current password is not right",
        ));
    }
    let hash = hash_password(new.expose())?;
    let (_, version) = session::update(app, id, now, &claims, |a| -> Result<_, ApiError> {
        let version = a.revoke(&admin);
        let mut d = Decision::new(version, vec![]);
        d.extra.push(app.identity.login_update(&admin, Some(hash.clone()), version));
        d.history.push(HistoryEvent::new(now, "password_changed", json!({})));
        Ok(d)
    })
    .await?;
    json_response(StatusCode::OK, &json!({ "token": token_for(app, id, &admin, version, now)? }))
}

/// `POST /sign-in/password-reset`: always 202, whether or not the address belongs to the domain.
pub(crate) async fn request_reset(app: &App, req: &Request) -> ApiResult {
    let ctx = Ctx::of(req)?;
    let b: ResetBody = parse_body(req)?;
    cases::identity::request_reset(app, &ctx, b).await?;
    empty(StatusCode::ACCEPTED)
}

/// `POST /sign-in/password-reset/confirm`: sets the new password once and revokes older tokens.
pub(crate) async fn confirm_reset(app: &App, req: &Request) -> ApiResult {
    let ctx = Ctx::of(req)?;
    let b: ResetConfirmBody = parse_body(req)?;
    cases::identity::confirm_reset(app, &ctx, b).await?;
    empty(StatusCode::NO_CONTENT)
}
