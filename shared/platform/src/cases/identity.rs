//! Sign-in, sign-out and password reset, shared by the JSON routes and the portal (SPEC: Sign-in and account). Failed sign-ins are
//! counted per (address, source) and per address, each attempt counted before its password is
//! checked; counters are keyed by keyed hashes, never the address or IP. Every change of
//! password, and a sign-out, raises the administrator's credential version: tokens issued before
//! it are refused everywhere (401 `token_revoked`).

use super::Ctx;
use crate::auth::Claims;
use crate::auth::{
    hash_password, issue_token, keyed_hash, one_time_token, token_hash, verify_against_dummy, verify_password,
};
use crate::dynamo::{Tag, WriteError};
use crate::ops::{update_account, Decision, UpdateError};
use crate::outbox::deliver;
use crate::repo::identity::{LinkKind, OneTimeLink};
use crate::repo::outbox::OutboxMail;
use crate::{session, ApiError, App, HistoryEvent};
use chrono::{DateTime, Duration, Utc};
use domain::identity::{reset_link_valid, reset_mail, Throttled};
use domain::lifecycle::{self, Refusal};
use domain::types::{required_text, DomainLabel, Email, Password};
use domain::{FieldError, FieldErrors};
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
pub struct SignInBody {
    pub domain: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

/// A successful sign-in: the token and what the caller learns with it.
pub struct SignedIn {
    pub token: String,
    pub account_id: String,
    pub state: &'static str,
    pub expires_in: i64,
}

pub fn bad_credentials() -> ApiError {
    ApiError::problem(StatusCode::UNAUTHORIZED, "invalid_credentials", "the domain, e-mail or password is not right")
}

/// The password as typed: required, never trimmed (it is compared exactly as it was set).
pub fn typed_password(field: &str, raw: Option<&str>) -> Result<String, FieldError> {
    match raw {
        None | Some("") => Err(FieldError::required(field)),
        Some(p) if p.chars().count() > 256 => Err(FieldError::new(field, "must be at most 256 characters")),
        Some(p) => Ok(p.to_string()),
    }
}

fn hashes(app: &App, email: &Email, ip: &str) -> anyhow::Result<(String, String)> {
    let secret = app.secrets.get(crate::Secret::RateKey)?;
    Ok((keyed_hash(secret, "sign-in-address", email.as_str()), keyed_hash(secret, "sign-in-source", ip)))
}

pub fn token_for(
    app: &App,
    account_id: &str,
    email: &Email,
    version: u32,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let ttl = Duration::minutes(app.config.policy.token_ttl_minutes);
    Ok(issue_token(app.secrets.get(crate::Secret::Token)?, account_id, email.as_str(), version, now, ttl)?)
}

/// `POST /sign-in`: the attempt is counted first; a success clears its pair and takes its count
/// back from the address's. Three DynamoDB requests: the count, the login, the success.
pub async fn sign_in(app: &App, ctx: &Ctx, b: SignInBody) -> Result<SignedIn, ApiError> {
    let now = ctx.now;
    let mut errs = FieldErrors::default();
    let domain = errs.take(DomainLabel::parse("domain", b.domain.as_deref()));
    let email = errs.take(Email::parse("email", b.email.as_deref()));
    let password = errs.take(typed_password("password", b.password.as_deref()));
    errs.clone().into_result()?;
    let (Some(domain), Some(email), Some(password)) = (domain, email, password) else { return Err(errs.into()) };
    let p = &app.config.policy;
    let (email_h, ip_h) = hashes(app, &email, &ctx.source_ip)?;
    let per_source = app.rates.hit(app.config.rate_limits.sign_in_ip(), &ctx.source_ip, now)?;
    if let Err(t) = app.identity.reserve_sign_in(&email_h, &ip_h, now, p, per_source).await? {
        let retry = match t {
            Throttled::Pair { retry_after }
            | Throttled::Address { retry_after }
            | Throttled::Source { retry_after } => retry_after,
        };
        return Err(ApiError::rate_limited(retry, "too many failed sign-ins; try again later"));
    }
    let login = app.accounts.login(&email).await?;
    // What the race test counts: every password check, under the limits.
    tracing::info!(password_checked = true, "sign-in attempt");
    let ok = match &login {
        Some(l) => verify_password(&password, &l.password_hash) && l.domain == domain,
        None => {
            verify_against_dummy(&password);
            false
        }
    };
    let Some(login) = login.filter(|_| ok) else { return Err(bad_credentials()) };
    let cleared = app.identity.sign_in_succeeded(&email_h, &ip_h);
    // Usually one write: the activity, the pair cleared and the count taken back, together.
    let mut writes = vec![app.accounts.touch_sign_in(&login.account_id, now)];
    writes.extend(cleared.clone());
    let state = match app.identity.transact(writes).await {
        Ok(()) => None,
        // Archived (to restore), closed, or not where the shortcut applies: the full path.
        Err(WriteError::Conflict(tags)) if tags.contains(&Tag::Account) => {
            let (a, ()) = update_account(app, &login.account_id, now, |a| -> Result<_, ApiError> {
                let effects = lifecycle::sign_in(a, now).map_err(|r| match r {
                    Refusal::Terminated | Refusal::Deleted => bad_credentials(),
                    Refusal::Suspended => ApiError::problem(StatusCode::CONFLICT, "account_suspended", "suspended"),
                })?;
                Ok(Decision::new((), effects))
            })
            .await
            .map_err(|e| match e {
                UpdateError::NotFound | UpdateError::Deleted => bad_credentials(),
                other => other.into(),
            })?;
            app.identity.transact(cleared).await.or_else(|e| if e.lost(Tag::Throttle) { Ok(()) } else { Err(e) })?;
            Some(a.state)
        }
        Err(e) => return Err(e.into()),
    };
    let token = token_for(app, &login.account_id, &email, login.credential_version, now)?;
    Ok(SignedIn {
        token,
        account_id: login.account_id,
        state: state.map(|s| s.as_str()).unwrap_or("active"),
        expires_in: p.token_ttl_minutes * 60,
    })
}

/// Sign-out: revokes every token of the administrator the token is for.
pub async fn sign_out(app: &App, now: DateTime<Utc>, claims: &Claims) -> Result<(), ApiError> {
    let admin = Email::try_from(claims.email.clone()).map_err(|_| ApiError::token_revoked())?;
    session::update(app, &claims.sub.clone(), now, claims, |a| -> Result<_, ApiError> {
        let version = a.revoke(&admin);
        let mut d = Decision::new((), vec![]);
        d.extra.push(app.identity.login_update(&admin, None, version));
        d.history.push(HistoryEvent::new(now, "signed_out", json!({})));
        Ok(d)
    })
    .await?;
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct ResetBody {
    pub domain: Option<String>,
    pub email: Option<String>,
}

/// `POST /sign-in/password-reset`: always 202, whether or not the address belongs to the domain;
/// a real administrator gets a one-time link, good for `reset_token_minutes` of event time.
pub async fn request_reset(app: &App, ctx: &Ctx, b: ResetBody) -> Result<(), ApiError> {
    let now = ctx.now;
    let mut errs = FieldErrors::default();
    let domain = errs.take(DomainLabel::parse("domain", b.domain.as_deref()));
    let email = errs.take(Email::parse("email", b.email.as_deref()));
    errs.clone().into_result()?;
    let (Some(domain), Some(email)) = (domain, email) else { return Err(errs.into()) };
    // Counted before the look-up, whatever the address, so a 429 tells nothing about it.
    let hit = app.rates.hit(app.config.rate_limits.reset_ip(), &ctx.source_ip, now)?;
    if let Err(l) = app.rates.check(vec![hit], now).await? {
        return Err(ApiError::rate_limited(
            l.retry_after,
            "too many password resets from this source; try again later",
        ));
    }
    let login = app.accounts.login(&email).await?.filter(|l| l.domain == domain);
    if let Some(login) = login {
        let p = &app.config.policy;
        let (token, hash) = one_time_token();
        let link = OneTimeLink {
            kind: LinkKind::Reset,
            account_id: login.account_id.clone(),
            email: email.clone(),
            issued_at: now,
            valid_until: now + Duration::minutes(p.reset_token_minutes),
            used: false,
        };
        let url = format!("{}/app/reset?token={token}", app.config.public_base_url.trim_end_matches('/'));
        let mail = OutboxMail::leased(
            format!("reset#{hash}"),
            Some(login.account_id.clone()),
            vec![email],
            reset_mail(&domain, &url, p),
            &app.config.mail,
        );
        let mut writes = app.identity.new_link(&hash, &link)?.to_vec();
        writes.push(app.outbox.put(&mail)?);
        app.identity.transact(writes).await?;
        deliver(&app.outbox, app.mailer.as_ref(), &[mail], now).await;
    }
    Ok(())
}

#[derive(Deserialize, Default)]
pub struct ResetConfirmBody {
    pub token: Option<String>,
    pub password: Option<String>,
}

/// `POST /sign-in/password-reset/confirm`: sets the new password once, revokes every token issued
/// before, and clears the address's sign-in failures.
pub async fn confirm_reset(app: &App, ctx: &Ctx, b: ResetConfirmBody) -> Result<(), ApiError> {
    let now = ctx.now;
    let mut errs = FieldErrors::default();
    let token = errs.take(required_text("token", b.token.as_deref(), 200));
    let password = errs.take(Password::parse("password", b.password.as_deref()));
    errs.clone().into_result()?;
    let (Some(token), Some(password)) = (token, password) else { return Err(errs.into()) };
    let bad = || ApiError::field("token", "is not a valid, unused and unexpired reset link");
    let hash = token_hash(&token);
    let link = app.identity.link(LinkKind::Reset, &hash).await?.ok_or_else(bad)?;
    if link.used || !reset_link_valid(link.issued_at, now, &app.config.policy) {
        return Err(bad());
    }
    let password_hash = hash_password(password.expose())?;
    let r = update_account(app, &link.account_id, now, |a| -> Result<_, ApiError> {
        if !a.admins.contains(&link.email) {
            return Err(bad());
        }
        let version = a.revoke(&link.email);
        // The reset link arrived, so the address takes mail again.
        a.undeliverable.remove(&link.email);
        let mut d = Decision::new((), vec![]);
        d.extra.push(app.identity.use_link(LinkKind::Reset, &hash));
        d.extra.push(app.rates.hit(app.config.rate_limits.reset_confirm_ip(), &ctx.source_ip, now)?);
        d.extra.push(app.identity.login_update(&link.email, Some(password_hash.clone()), version));
        d.history.push(HistoryEvent::new(now, "password_reset", json!({})));
        Ok(d)
    })
    .await;
    match r {
        Ok(_) => {}
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::Decision) => return Err(bad()),
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::RateLimit) => return Err(ApiError::over_limit(now)),
        Err(UpdateError::NotFound | UpdateError::Deleted) => return Err(bad()),
        Err(e) => return Err(e.into()),
    }
    app.identity
        .clear_sign_in(&keyed_hash(app.secrets.get(crate::Secret::RateKey)?, "sign-in-address", link.email.as_str()))
        .await?;
    Ok(())
}
