//! The portal's two cookies and its CSRF tokens, as pure functions (no I/O).
//!
//! - `session`: the signed bearer token itself (the same token the JSON API takes), `HttpOnly`
//!   so no script reads it, `SameSite=Lax` so a cross-site form post does not carry it, `Secure`
//!   except on a loopback host (a local browser on http://127.0.0.1).
//! - `csrf`: a random value for the pages used before signing in (sign-up, sign-in, reset…).
//!
//! A form's CSRF token is a keyed hash of the cookie it is bound to (the session token when
//! signed in, else the `csrf` cookie) under the token secret: another site can neither read
//! the cookie nor compute the hash, and a cookie planted by a sibling host is useless without
//! the key. Being derived, it needs no storage.

use platform::auth::{keyed_hash, keys_match};

pub const SESSION: &str = "session";
pub const ANON: &str = "csrf";

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
pub fn read<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A loopback host (`127.0.0.1:9000`, `localhost`, `[::1]`): the only place `Secure` is dropped,
/// because a local browser reaches the portal over plain http.
pub fn is_loopback(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('['))
    } else {
        host.split(':').next()
    };
    matches!(name, Some("127.0.0.1" | "localhost" | "::1"))
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax` always, `Secure` unless on loopback;
/// `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly{secure}; SameSite=Lax; Path={path}; Max-Age={max_age}")
}

/// The CSRF token of forms shown to the holder of cookie value `binding`.
pub fn csrf_token(secret: &str, binding: &str) -> String {
    keyed_hash(secret, "portal-csrf", binding)
}

/// A posted token is good when it is the token of one of the cookies the post came with.
pub fn csrf_ok(secret: &str, posted: Option<&str>, bindings: &[Option<&str>]) -> bool {
    let Some(posted) = posted.filter(|p| !p.is_empty()) else { return false };
    bindings.iter().flatten().any(|b| keys_match(posted, &csrf_token(secret, b)))
}

/// A fresh random value for the `csrf` cookie.
pub fn fresh_anon() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_read_by_exact_name_from_the_header() {
        let h = Some("csrf=abc; session=tok.en.sig;x=1");
        assert_eq!(read(h, "session"), Some("tok.en.sig"));
        assert_eq!(read(h, "csrf"), Some("abc"));
        assert_eq!(read(h, "sess"), None);
        assert_eq!(read(Some("session="), "session"), None);
        assert_eq!(read(None, "session"), None);
    }

    #[test]
    fn secure_is_dropped_only_on_a_loopback_host() {
        assert!(is_loopback(Some("127.0.0.1:9000")) && is_loopback(Some("localhost")) && is_loopback(Some("[::1]:80")));
        assert!(!is_loopback(Some("portal.example.com")) && !is_loopback(Some("127.0.0.1.evil.com")));
        assert!(!is_loopback(None));
        let c = set(SESSION, "t", "/app", 3600, true);
        assert_eq!(c, "session=t; HttpOnly; Secure; SameSite=Lax; Path=/app; Max-Age=3600");
        assert_eq!(set(SESSION, "", "/x/app", 0, false), "session=; HttpOnly; SameSite=Lax; Path=/x/app; Max-Age=0");
    }

    #[test]
    fn a_csrf_token_is_good_only_for_its_own_cookie_and_key() {
        let t = csrf_token("key", "cookie-a");
        assert!(csrf_ok("key", Some(&t), &[None, Some("cookie-a")]));
        assert!(!csrf_ok("key", Some(&t), &[Some("cookie-b")]));
        assert!(!csrf_ok("other-key", Some(&t), &[Some("cookie-a")]));
        assert!(!csrf_ok("key", None, &[Some("cookie-a")]));
        assert!(!csrf_ok("key", Some(""), &[Some("")]));
        assert!(!csrf_ok("key", Some(&t), &[]));
        assert_ne!(fresh_anon(), fresh_anon());
    }
}
