//! Signup (SPEC: Signup; §1.3, §4, §13, §28), the verification link and domain availability.

use super::Ctx;
use crate::auth::{hash_password, token_hash};
use crate::dynamo::{Tag, WriteError};
use crate::ops::{update_account, Decision, UpdateError};
use crate::outbox::deliver;
use crate::repo::accounts::User;
use crate::repo::identity::LinkKind;
use crate::{ApiError, App, Change, HistoryEvent};
use domain::field::FieldError;
use domain::lifecycle;
use domain::lifecycle::Effect;
use domain::notice::{Notice, NoticeKind};
use domain::signup::{Signup, SignupRefusal, SignupRequest};
use domain::types::DomainLabel;
use domain::Account;
use lambda_http::http::StatusCode;
use serde_json::json;

pub fn refusal(e: SignupRefusal) -> ApiError {
    match e {
        SignupRefusal::Invalid(errs) => ApiError::Invalid(errs),
        SignupRefusal::Embargoed => ApiError::problem(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "embargoed",
            "signups from this country or region are not permitted under U.S. and EU export controls (§13.3)",
        ),
        SignupRefusal::CountryNotServed => ApiError::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "country_not_served",
            "these Terms of Service do not cover customers in this country (§28)",
        ),
    }
}

/// A new Free account with its administrator, the Terms acceptance and the verification mail.
pub async fn create(app: &App, ctx: &Ctx, body: SignupRequest) -> Result<Account, ApiError> {
    let now = ctx.now;
    let s: Signup = body.parse(&app.config.terms_version).map_err(refusal)?;
    let limits = &app.config.rate_limits;
    let password_hash = hash_password(s.password.expose())?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut account = Account::new_free(
        id.clone(),
        s.domain.clone(),
        s.company.clone(),
        s.country,
        s.region.clone(),
        s.party.clone(),
        s.email.clone(),
        s.terms_version.clone(),
        now,
    );
    let user = User {
        account_id: id.clone(),
        email: s.email.clone(),
        first_name: s.first_name.clone(),
        last_name: s.last_name.clone(),
        role: "administrator".into(),
        created_at: now,
    };
    let mut extra = app.accounts.signup_writes(&account, &user, password_hash)?;
    // Accepted signups per source IP and per address mailed, in the same transaction.
    extra.push(app.rates.hit(limits.signup_ip(), &ctx.source_ip, now)?);
    extra.push(app.rates.hit(limits.signup_recipient(), s.email.as_str(), now)?);
    // §23: the acceptance, with the version, time, source IP and user agent.
    let accepted = HistoryEvent::new(
        now,
        "terms_accepted",
        json!({
            "terms_version": s.terms_version,
            "source_ip": (!ctx.source_ip.is_empty()).then_some(&ctx.source_ip),
            "user_agent": ctx.user_agent,
            "legal_age_confirmed": true,
            "contracting_party": s.party,
        }),
    );
    // §4.1: until the address is verified, its link is the only mail it gets (the welcome follows).
    let effects = [Effect::Notice(Notice::new(NoticeKind::VerifyEmail, now, None))];
    let change = Change {
        account: &mut account,
        expected_version: None,
        effects: &effects,
        history: vec![accepted],
        extra,
        now,
    };
    let mails = app.accounts.commit(change, &app.config.policy).await.map_err(|e| signup_conflict(e, now))?;
    deliver(&app.outbox, app.mailer.as_ref(), &mails, now).await;
    tracing::info!(account_id = %id, country = %account.country, "account created");
    Ok(account)
}

/// Which claim a lost signup transaction lost, by its tag: the label first, then the address.
pub fn signup_conflict(e: WriteError, now: chrono::DateTime<chrono::Utc>) -> ApiError {
    if let Some(l) = crate::repo::rates::Rates::refused(&e, now) {
        ApiError::rate_limited(l.retry_after, "too many signups from this source or for this address; try again later")
    } else if e.lost(Tag::DomainClaim) {
        ApiError::with(
            StatusCode::CONFLICT,
            "domain_taken",
            "this domain is already taken",
            json!({"errors": [FieldError::new("domain", "is already taken")]}),
        )
    } else if e.lost(Tag::EmailClaim) {
        ApiError::with(
            StatusCode::CONFLICT,
            "email_taken",
            "this e-mail address already administers an account",
            json!({"errors": [FieldError::new("email", "already administers an account")]}),
        )
    } else {
        e.into()
    }
}

/// The link's token verifies the administrator's address, once; the welcome follows
/// (SPEC: E-mail verification).
pub async fn verify(app: &App, ctx: &Ctx, token: Option<&str>) -> Result<Account, ApiError> {
    let now = ctx.now;
    let token = domain::types::required_text("token", token, 200)?;
    let bad = || ApiError::field("token", "is not a valid, unused and unexpired verification link");
    let hash = token_hash(&token);
    let link = app.identity.link(LinkKind::Verify, &hash).await?.ok_or_else(bad)?;
    if link.used || now >= link.valid_until {
        return Err(bad());
    }
    let r = update_account(app, &link.account_id, now, |a| -> Result<_, ApiError> {
        let effects = lifecycle::verify_email(a, now).map_err(|_| bad())?;
        let mut d = Decision::new((), effects);
        d.extra.push(app.identity.use_link(LinkKind::Verify, &hash));
        d.extra.push(app.rates.hit(app.config.rate_limits.verify_ip(), &ctx.source_ip, now)?);
        d.history.push(HistoryEvent::new(now, "email_verified", json!({})));
        Ok(d)
    })
    .await;
    match r {
        Ok((a, ())) => Ok(a),
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::Decision) => Err(bad()),
        Err(UpdateError::Lost(tags)) if tags.contains(&Tag::RateLimit) => Err(ApiError::over_limit(now)),
        Err(UpdateError::NotFound | UpdateError::Deleted) => Err(bad()),
        Err(e) => Err(e.into()),
    }
}

/// Whether a label is free: `Err` names `field` when the label can never be valid.
pub async fn available(app: &App, field: &str, label: &str) -> Result<(DomainLabel, bool), ApiError> {
    let label = DomainLabel::parse(field, Some(label))?;
    let taken = app.accounts.domain_taken(&label).await?;
    Ok((label, !taken))
}
