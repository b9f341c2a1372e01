//! The portal's own settings: where Stripe.js comes from, and the content security policy that
//! follows from it.

/// Stripe's own address for Stripe.js (the default on AWS).
pub const STRIPE_JS: &str = "https://js.stripe.com/v3/";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `STRIPE_JS_URL`: Stripe.js (locally localstripe's `http://127.0.0.1:8420/js.stripe.com/v3/`).
    pub stripe_js: String,
    /// The content security policy of every page, derived from `stripe_js`.
    pub csp: String,
    /// The path part of `PUBLIC_BASE_URL`: where browsers reach the portal (see `Web::base`).
    pub base_path: String,
}

impl Settings {
    pub fn from_env(public_base_url: &str) -> Settings {
        let js = std::env::var("STRIPE_JS_URL").ok().filter(|s| !s.trim().is_empty());
        Settings::new(js.as_deref().unwrap_or(STRIPE_JS), public_base_url)
    }

    pub fn new(stripe_js: &str, public_base_url: &str) -> Settings {
        let base_path = public_base_url[origin(public_base_url).len()..].trim_end_matches('/').to_string();
        Settings { stripe_js: stripe_js.to_string(), csp: policy(stripe_js), base_path }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// Only our own resources, plus Stripe's script and frame origins (and the API Stripe.js
/// calls). No inline script: the card page's script is `/app/static/card.js`. Real Stripe.js
/// runs its card field and 3-D Secure in frames from `js.stripe.com` / `hooks.stripe.com` and
/// calls `api.stripe.com`; localstripe's emulation is plain inputs calling its own origin.
pub fn policy(stripe_js: &str) -> String {
    let js = origin(stripe_js);
    let (frames, connect) = if js == "https://js.stripe.com" {
        ("https://js.stripe.com https://hooks.stripe.com", "https://api.stripe.com")
    } else {
        (js, js)
    };
    format!(
        "default-src 'none'; script-src 'self' {js}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self' {connect}; frame-src {frames}; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_stripes_origins_and_no_inline_script() {
        let aws = policy(STRIPE_JS);
        assert!(aws.contains("script-src 'self' https://js.stripe.com;"));
        assert!(aws.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"));
        assert!(aws.contains("connect-src 'self' https://api.stripe.com;"));
        let script = aws.split(';').find(|d| d.trim().starts_with("script-src")).unwrap_or_default();
        assert!(!script.contains("unsafe-inline") && !script.contains("unsafe-eval"));
        let local = policy("http://127.0.0.1:8420/js.stripe.com/v3/");
        assert!(local.contains("script-src 'self' http://127.0.0.1:8420;"));
        assert!(local.contains("connect-src 'self' http://127.0.0.1:8420;"));
        assert!(local.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn the_base_path_is_the_path_of_the_public_address() {
        assert_eq!(
            Settings::new(STRIPE_JS, "http://127.0.0.1:9000/lambda-url/portal/").base_path,
            "/lambda-url/portal"
        );
        assert_eq!(Settings::new(STRIPE_JS, "https://portal.example.com").base_path, "");
    }

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        assert_eq!(origin("http://127.0.0.1:8420/js.stripe.com/v3/"), "http://127.0.0.1:8420");
        assert_eq!(origin("https://js.stripe.com"), "https://js.stripe.com");
    }
}
