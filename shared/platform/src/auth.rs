//! Credentials: Argon2id password hashes, signed bearer tokens, webhook signatures, shared keys.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Spends the same work as a real check, so an unknown e-mail answers as slowly as a wrong password.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("dummy-password-for-timing").unwrap_or_default());
    let _ = verify_password(password, phc);
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    pub email: String,
    /// The administrator's credential version when the token was issued: raising it revokes it.
    #[serde(default)]
    pub ver: u32,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_token(
    secret: &str,
    account_id: &str,
    email: &str,
    version: u32,
    now: DateTime<Utc>,
    ttl: Duration,
) -> anyhow::Result<String> {
    let claims = Claims {
        sub: account_id.into(),
        email: email.into(),
        ver: version,
        iat: now.timestamp(),
        exp: (now + ttl).timestamp(),
    };
    let key = EncodingKey::from_secret(secret.as_bytes())?;
    Ok(encode(&Header::new(Algorithm::HS256), &claims, &key)?)
}

/// Checks the signature, then expiry against the request's event time (not the machine clock).
pub fn verify_token(secret: &str, token: &str, now: DateTime<Utc>) -> Option<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let key = DecodingKey::from_secret(secret.as_bytes()).ok()?;
    let data = decode::<Claims>(token, &key, &v).ok()?;
    (data.claims.exp > now.timestamp()).then_some(data.claims)
}

/// Compares shared keys without leaking where they differ.
pub fn keys_match(given: &str, expected: &str) -> bool {
    let digest = |v: &str| hmac_sha256(b"key-compare", &[v.as_bytes()]);
    let (Some(want), Some(mut mac)) = (digest(expected), Hmac::<Sha256>::new_from_slice(b"key-compare").ok()) else {
        return false;
    };
    mac.update(given.as_bytes());
    mac.verify_slice(&want).is_ok() && !expected.is_empty()
}

/// A keyed hash (hex) of a personal value, for keys that must not hold the value itself
/// (throttle counters are keyed by address and source IP, never the address or IP).
pub fn keyed_hash(secret: &str, purpose: &str, value: &str) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[purpose.as_bytes(), b":", value.as_bytes()]).unwrap_or_default())
}

/// A one-time token for a link (verification, password reset), and the hash it is stored under:
/// the token itself is never stored.
pub fn one_time_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// HMAC-SHA256 of the parts, in order (HMAC takes a key of any length, so `None` never happens).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for p in parts {
        mac.update(p);
    }
    Some(mac.finalize().into_bytes().to_vec())
}

pub const WEBHOOK_TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("signature timestamp is more than 5 minutes from the request time")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// `Stripe-Signature: t=<unix>,v1=<hex>`, an HMAC-SHA256 of `t.body` with the webhook secret.
pub fn verify_webhook(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // abs_diff: a hostile `t` (i64::MIN) must not overflow.
    if now.timestamp().abs_diff(t) > WEBHOOK_TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for sig in sigs {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The header a processor would send (used by tests and the bench).
pub fn sign_webhook(secret: &str, t: i64, body: &[u8]) -> String {
    let sig = hmac_sha256(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]).unwrap_or_default();
    format!("t={t},v1={}", hex::encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_password_verifies_against_its_argon2id_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
    }

    #[test]
    fn a_token_expires_by_the_event_time() {
        let tok = issue_token("s3cret", "a1", "ann@x.io", 3, now(), Duration::minutes(60)).unwrap();
        assert_eq!(verify_token("s3cret", &tok, now()).map(|c| c.ver), Some(3));
        assert!(verify_token("s3cret", &tok, now() + Duration::minutes(59)).is_some());
        assert!(verify_token("s3cret", &tok, now() + Duration::minutes(60)).is_none());
        assert!(verify_token("other", &tok, now()).is_none());
    }

    #[test]
    fn a_webhook_signature_is_checked_for_freshness_and_tampering() {
        let body = br#"{"id":"evt_1"}"#;
        let t = now().timestamp();
        let h = sign_webhook("whsec", t, body);
        assert_eq!(verify_webhook("whsec", Some(&h), body, now()), Ok(()));
        assert_eq!(verify_webhook("whsec", Some(&h), body, now() + Duration::seconds(300)), Ok(()));
        assert_eq!(verify_webhook("whsec", Some(&h), body, now() + Duration::seconds(301)), Err(SignatureError::Stale));
        assert_eq!(verify_webhook("whsec", Some(&h), br#"{"id":"evt_2"}"#, now()), Err(SignatureError::Mismatch));
        assert_eq!(verify_webhook("whsec", None, body, now()), Err(SignatureError::Malformed));
        assert_eq!(verify_webhook("whsec", Some("t=1"), body, now()), Err(SignatureError::Malformed));
        assert_eq!(
            verify_webhook("whsec", Some("t=-9223372036854775808,v1=00"), body, now()),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn keys_match_only_when_equal_and_set() {
        assert!(keys_match("abc", "abc"));
        assert!(!keys_match("abd", "abc"));
        assert!(!keys_match("", ""));
    }
}
