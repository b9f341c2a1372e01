//! The portal's pages, as pure functions from what they show to markup (no I/O here). Every text
//! goes through maud's escaping; the layout and fields are `web`'s, shared with the public form.

pub mod account;
pub mod anon;
pub mod billing;

use domain::field::{FieldError, FieldErrors};
use lambda_http::http::StatusCode;
use maud::{html, Markup};
use platform::ApiError;
use serde_json::Value;
use web::SummaryItem;

/// What every page needs beyond its own content: where links go and, when signed in, the CSRF
/// token of the sign-out form.
pub struct Frame<'a> {
    /// `<base>/app`, without a trailing slash.
    pub app: &'a str,
    /// `Some(csrf)` when signed in.
    pub signed_in: Option<&'a str>,
}

/// A full page: the navigation, then `body`. The document title counts the errors, if any.
pub fn page(f: &Frame, title: &str, errors: usize, body: Markup) -> Markup {
    let app = f.app;
    let nav = html! {
        nav aria-label="Portal" {
            "\n"
            ul.nav {
                @if let Some(csrf) = f.signed_in {
                    li { a href={ (app) "/account" } { "Account" } }
                    li { a href={ (app) "/plans" } { "Plans" } }
                    li { a href={ (app) "/card" } { "Card" } }
                    li { a href={ (app) "/export" } { "Export data" } }
                    li { a href={ (app) "/terminate" } { "Terminate" } }
                    li {
                        form.inline method="post" action={ (app) "/sign-out" } {
                            (web::csrf_field(csrf))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                } @else {
                    li { a href={ (app) "/sign-in" } { "Sign in" } }
                    li { a href={ (app) "/signup" } { "Sign up" } }
                }
            }
            "\n"
        }
        "\n"
        (body)
    };
    web::page(&web::error_title(title, errors), title, nav)
}

/// A message announced on load: a refusal (`warn`) or a success (`ok`).
pub fn alert(text: &str) -> Markup {
    html! { div.panel.warn role="alert" { p { (text) } } "\n" }
}

pub fn status(text: &str) -> Markup {
    html! { div.panel.ok role="status" { p { (text) } } "\n" }
}

/// The error summary of a form whose fields are labelled by `labels` (`name` → label).
pub fn summary(errors: &FieldErrors, labels: &[(&str, &str)]) -> Markup {
    let items: Vec<SummaryItem> = errors
        .0
        .iter()
        .map(|e| {
            let label = labels.iter().find(|(f, _)| *f == e.field).map_or(e.field.as_str(), |(_, l)| *l);
            SummaryItem::for_field(&e.field, label, &e.message)
        })
        .collect();
    web::error_summary(&items)
}

/// How a refused action reads on a page: the errors to show beside fields, or one message.
pub enum Shown {
    Fields(FieldErrors),
    Message(String),
}

/// Turns a use case's refusal into what the page shows: field errors (also those a 409 carries,
/// such as `domain_taken`) beside their fields, anything else as one message. Unexpected errors
/// are not shown: the caller answers 500.
pub fn shown(e: &ApiError) -> Option<Shown> {
    match e {
        ApiError::Invalid(errs) => Some(Shown::Fields(errs.clone())),
        ApiError::Problem { detail, extra, .. } => {
            let listed: Vec<FieldError> = extra
                .as_ref()
                .and_then(|x| x.get("errors"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| Some(FieldError::new(e.get("field")?.as_str()?, e.get("message")?.as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            if listed.is_empty() {
                Some(Shown::Message(sentence(detail)))
            } else {
                Some(Shown::Fields(FieldErrors(listed)))
            }
        }
        ApiError::Unexpected(_) => None,
    }
}

/// A refused post: field errors re-show the form (400, or the refusal's own status), anything
/// else is a message on it; unexpected errors go up (500).
pub fn refused(e: ApiError) -> Result<(StatusCode, FieldErrors, Option<String>), ApiError> {
    let status = e.status();
    match shown(&e) {
        Some(Shown::Fields(f)) => Ok((status, f, None)),
        Some(Shown::Message(m)) => Ok((status, FieldErrors::default(), Some(m))),
        None => Err(e),
    }
}

/// A detail as a sentence: capitalised, ending with a full stop.
pub fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    let mut s = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;
    use serde_json::json;

    #[test]
    fn a_conflict_that_names_a_field_is_shown_beside_it_and_others_as_a_sentence() {
        let taken = ApiError::with(
            StatusCode::CONFLICT,
            "domain_taken",
            "this domain is already taken",
            json!({"errors": [{"field": "domain", "message": "is already taken"}]}),
        );
        let Some(Shown::Fields(f)) = shown(&taken) else { panic!("fields") };
        assert_eq!(f.message_for("domain"), Some("is already taken"));
        let other = ApiError::problem(StatusCode::CONFLICT, "x", "save a card first");
        let Some(Shown::Message(m)) = shown(&other) else { panic!("message") };
        assert_eq!(m, "Save a card first.");
        assert!(shown(&ApiError::Unexpected(anyhow::anyhow!("boom"))).is_none());
    }

    #[test]
    fn the_frame_shows_sign_out_with_its_token_only_when_signed_in() {
        let f = Frame { app: "/base/app", signed_in: Some("tok\"<") };
        let html = page(&f, "Account", 0, html! {}).into_string();
        assert!(html.contains("action=\"/base/app/sign-out\"") && html.contains("value=\"tok&quot;&lt;\""));
        let f = Frame { app: "/app", signed_in: None };
        let html = page(&f, "Sign in", 2, html! {}).into_string();
        assert!(!html.contains("sign-out") && html.contains("<title>Error: 2 fields to check - Sign in</title>"));
    }
}
