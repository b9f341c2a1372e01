//! One request as the portal sees it (its path prefix, cookies, posted form) and the responses
//! it gives: a page with the security headers, a redirect (Post/Redirect/Get), a download.

use crate::cookies;
use lambda_http::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use maud::Markup;
use platform::http::{body_bytes, header, is_form, query_param};
use platform::ApiError;

/// What a handler reads of the request, and the cookies it sets on the way out.
pub struct Web<'a> {
    pub req: &'a Request,
    /// The path the portal is served under, as browsers see it: the path of `PUBLIC_BASE_URL`
    /// (`""` behind the HTTP API, `/lambda-url/portal` under `cargo lambda watch`, which strips it
    /// before the function sees the request). Links, redirects and the cookies' `Path` start with it.
    pub base: String,
    pub secure: bool,
    pub session: Option<String>,
    pub anon: Option<String>,
    pub csp: &'a str,
    /// `Set-Cookie` values for the response.
    pub set_cookies: Vec<String>,
}

impl<'a> Web<'a> {
    pub fn new(req: &'a Request, csp: &'a str, base: &str) -> Web<'a> {
        let base = base.trim_end_matches('/').to_string();
        let jar = header(req, "cookie");
        Web {
            req,
            base,
            secure: !cookies::is_loopback(header(req, "host")),
            session: cookies::read(jar, cookies::SESSION).map(String::from),
            anon: cookies::read(jar, cookies::ANON).map(String::from),
            csp,
            set_cookies: Vec::new(),
        }
    }

    /// `<base>/app/<rest>`.
    pub fn link(&self, rest: &str) -> String {
        format!("{}/app/{rest}", self.base)
    }

    fn cookie_path(&self) -> String {
        format!("{}/app", self.base)
    }

    pub fn set_session(&mut self, token: &str, max_age: i64) {
        let c = cookies::set(cookies::SESSION, token, &self.cookie_path(), max_age, self.secure);
        self.set_cookies.push(c);
        self.session = Some(token.to_string());
    }

    pub fn clear_session(&mut self) {
        let c = cookies::set(cookies::SESSION, "", &self.cookie_path(), 0, self.secure);
        self.set_cookies.push(c);
        self.session = None;
    }

    /// The value anonymous forms are bound to: the `csrf` cookie, set now if the browser has none.
    pub fn anon_binding(&mut self) -> String {
        if let Some(v) = &self.anon {
            return v.clone();
        }
        let v = cookies::fresh_anon();
        // A day is plenty for a form to be filled in; the browser drops it afterwards.
        let c = cookies::set(cookies::ANON, &v, &self.cookie_path(), 86_400, self.secure);
        self.set_cookies.push(c);
        self.anon = Some(v.clone());
        v
    }

    pub fn query(&self, name: &str) -> Option<String> {
        query_param(self.req, name)
    }

    fn with_cookies(&self, mut res: lambda_http::http::response::Builder) -> lambda_http::http::response::Builder {
        for c in &self.set_cookies {
            res = res.header(SET_COOKIE, c);
        }
        res
    }

    /// A page, with the security headers every page sends and no caching (pages show account data).
    pub fn page(&self, status: StatusCode, markup: Markup) -> Result<Response<Body>, ApiError> {
        let res = self
            .with_cookies(Response::builder().status(status))
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .header("content-security-policy", self.csp)
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "same-origin")
            .header("x-frame-options", "DENY")
            .header("cache-control", "no-store");
        Ok(res.body(Body::Text(markup.into_string())).map_err(anyhow::Error::from)?)
    }

    /// 303 See Other to `<base>/app/<rest>`: after a post, and to the sign-in page.
    pub fn redirect(&self, rest: &str) -> Result<Response<Body>, ApiError> {
        let res = self
            .with_cookies(Response::builder().status(StatusCode::SEE_OTHER))
            .header(LOCATION, self.link(rest))
            .header("cache-control", "no-store");
        Ok(res.body(Body::Empty).map_err(anyhow::Error::from)?)
    }

    /// A file to save, not to show.
    pub fn download(&self, name: &str, content_type: &str, body: String) -> Result<Response<Body>, ApiError> {
        let res = self
            .with_cookies(Response::builder().status(StatusCode::OK))
            .header(CONTENT_TYPE, content_type)
            .header("content-disposition", format!("attachment; filename=\"{name}\""))
            .header("x-content-type-options", "nosniff")
            .header("cache-control", "no-store");
        Ok(res.body(Body::Text(body)).map_err(anyhow::Error::from)?)
    }
}

/// A posted form: `application/x-www-form-urlencoded` only (415 otherwise); a field given twice
/// keeps its first value.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(req: &Request) -> Result<Form, ApiError> {
        if !is_form(req) {
            return Err(ApiError::problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the portal's forms post application/x-www-form-urlencoded",
            ));
        }
        serde_urlencoded::from_bytes(body_bytes(req))
            .map(Form)
            .map_err(|_| ApiError::field("body", "must be application/x-www-form-urlencoded"))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field, or `None` when absent or empty (what the use cases read as "missing").
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(String::from)
    }

    /// A checkbox: present with any value but "false".
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "false")
    }
}
