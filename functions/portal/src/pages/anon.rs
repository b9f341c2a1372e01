//! The pages used before signing in: sign-up (with the domain check), verification, sign-in,
//! the forgotten password and the new one. They work without JavaScript.

use super::{alert, page, status, summary, Frame};
use domain::field::FieldErrors;
use maud::{html, Markup};

pub const SIGNUP_LABELS: &[(&str, &str)] = &[
    ("company", "Company"),
    ("domain", "Domain"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "E-mail"),
    ("password", "Password"),
    ("country", "Country"),
    ("region", "Region"),
    ("accept_terms", "Terms of Service"),
    ("legal_age", "Legal age"),
];

/// What the sign-up form shows again after a post (never the password).
#[derive(Default)]
pub struct SignupValues {
    pub company: String,
    pub domain: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub country: String,
    pub region: String,
    pub accept_terms: bool,
    pub legal_age: bool,
}

/// The result of "Check availability" for the domain field.
pub enum DomainCheck {
    None,
    Available(String),
    Taken(String),
}

pub fn signup(
    f: &Frame,
    csrf: &str,
    v: &SignupValues,
    errors: &FieldErrors,
    check: &DomainCheck,
    base_domain: &str,
    message: Option<&str>,
) -> Markup {
    let e = |name: &str| errors.message_for(name);
    let body = html! {
        p { "Create your account: it starts on the Free plan." } "\n"
        p.hint { "Fields marked * are required." } "\n"
        @if let Some(m) = message { (alert(m)) }
        (summary(errors, SIGNUP_LABELS))
        form method="post" novalidate {
            "\n"
            (web::csrf_field(csrf))
            (web::text_field("company", "Company", "text", "organization", &v.company, e("company")))
            (web::text_field("domain", "Domain", "text", "off", &v.domain, e("domain")))
            p.hint id="f-domain-hint" { "Your portal's address: <domain>." (base_domain) } "\n"
            div role="status" id="f-domain-status" {
                @match check {
                    DomainCheck::None => {},
                    DomainCheck::Available(d) => p { strong { (d) } " is available." },
                    DomainCheck::Taken(d) => p.error { (d) " is taken: choose another." },
                }
            }
            "\n"
            button.secondary type="submit" name="action" value="check" { "Check availability" } "\n"
            (web::text_field("first_name", "First name", "text", "given-name", &v.first_name, e("first_name")))
            (web::text_field("last_name", "Last name", "text", "family-name", &v.last_name, e("last_name")))
            (web::text_field("email", "E-mail", "email", "email", &v.email, e("email")))
            (web::text_field("password", "Password", "password", "new-password", "", e("password")))
            p.hint { "At least " (domain::types::Password::MIN_CHARS) " characters." } "\n"
            (web::select_field("country", "Country", "Choose your country", web::COUNTRY_NAMES, &v.country, e("country")))
            (web::optional_text_field("region", "Region (US state or Canadian province code)", "text", "off", &v.region, e("region")))
            (web::checkbox("accept_terms", "I accept the Terms of Service", v.accept_terms, e("accept_terms")))
            (web::checkbox("legal_age", "I am of legal age to enter this agreement", v.legal_age, e("legal_age")))
            button type="submit" name="action" value="create" { "Create account" } "\n"
        }
        "\n"
    };
    page(f, "Sign up", errors.0.len(), body)
}

/// The message the sign-in page shows after a redirect (`?done=`): which step just succeeded.
pub fn done(what: &str) -> Option<&'static str> {
    match what {
        "signed-up" => {
            Some("Account created. We sent you a link: open it to verify your e-mail address, then sign in.")
        }
        "verified" => Some("Your e-mail address is verified. Sign in to continue."),
        "reset" => Some("Your password is set and every earlier session is signed out. Sign in with the new one."),
        "signed-out" => Some("You are signed out."),
        _ => None,
    }
}

/// The verification link's page: a button, so that a mail scanner fetching the link verifies nothing.
pub fn verify(f: &Frame, csrf: &str, token: &str, errors: &FieldErrors) -> Markup {
    let body = html! {
        @if let Some(m) = errors.message_for("token") { (alert(&format!("This link {m}."))) }
        form method="post" {
            "\n"
            (web::csrf_field(csrf))
            input type="hidden" name="token" value=(token); "\n"
            p { "Confirm that this e-mail address is yours." } "\n"
            button type="submit" { "Verify my address" } "\n"
        }
        "\n"
    };
    page(f, "Verify your e-mail address", errors.0.len(), body)
}

const SIGN_IN_LABELS: &[(&str, &str)] = &[("domain", "Domain"), ("email", "E-mail"), ("password", "Password")];

/// The sign-in form; `message` is a refusal (`Err`) or what just succeeded (`Ok`).
pub fn sign_in(
    f: &Frame,
    csrf: &str,
    domain: &str,
    email: &str,
    errors: &FieldErrors,
    message: Option<Result<&str, &str>>,
) -> Markup {
    let e = |name: &str| errors.message_for(name);
    let body = html! {
        @match message { Some(Ok(m)) => (status(m)), Some(Err(m)) => (alert(m)), None => {} }
        (summary(errors, SIGN_IN_LABELS))
        form method="post" novalidate {
            "\n"
            (web::csrf_field(csrf))
            (web::text_field("domain", "Domain", "text", "username", domain, e("domain")))
            (web::text_field("email", "E-mail", "email", "email", email, e("email")))
            (web::text_field("password", "Password", "password", "current-password", "", e("password")))
            button type="submit" { "Sign in" } "\n"
        }
        "\n"
        p { a href={ (f.app) "/forgot" } { "Forgot your password?" } } "\n"
        p { "No account yet? " a href={ (f.app) "/signup" } { "Sign up" } } "\n"
    };
    page(f, "Sign in", errors.0.len(), body)
}

/// The reset request; after a post, always the same answer whether or not the address exists.
pub fn forgot(f: &Frame, csrf: &str, domain: &str, email: &str, errors: &FieldErrors, sent: bool) -> Markup {
    let e = |name: &str| errors.message_for(name);
    let body = html! {
        @if sent {
            (status("If this address administers that domain, we sent it a link to set a new password."))
        }
        (summary(errors, &[("domain", "Domain"), ("email", "E-mail")]))
        form method="post" novalidate {
            "\n"
            (web::csrf_field(csrf))
            (web::text_field("domain", "Domain", "text", "username", domain, e("domain")))
            (web::text_field("email", "E-mail", "email", "email", email, e("email")))
            button type="submit" { "Send me a link" } "\n"
        }
        "\n"
    };
    page(f, "Forgotten password", errors.0.len(), body)
}

pub fn reset(f: &Frame, csrf: &str, token: &str, errors: &FieldErrors) -> Markup {
    let body = html! {
        @if let Some(m) = errors.message_for("token") { (alert(&format!("This link {m}."))) }
        (summary(&FieldErrors(errors.0.iter().filter(|e| e.field != "token").cloned().collect()),
                 &[("password", "New password")]))
        form method="post" novalidate {
            "\n"
            (web::csrf_field(csrf))
            input type="hidden" name="token" value=(token); "\n"
            (web::text_field("password", "New password", "password", "new-password", "", errors.message_for("password")))
            p.hint { "At least " (domain::types::Password::MIN_CHARS) " characters." } "\n"
            button type="submit" { "Set the new password" } "\n"
        }
        "\n"
    };
    page(f, "Set a new password", errors.0.len(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::field::FieldError;

    const F: Frame = Frame { app: "/app", signed_in: None };

    #[test]
    fn the_signup_form_escapes_what_was_typed_and_shows_errors_beside_their_fields() {
        let v =
            SignupValues { company: "<script>alert(1)</script>".into(), domain: "acme".into(), ..Default::default() };
        let errors = FieldErrors(vec![FieldError::new("email", "must be an e-mail address")]);
        let html = signup(&F, "tok", &v, &errors, &DomainCheck::Taken("acme".into()), "saas.local", None).into_string();
        assert!(html.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\"") && !html.contains("<script>alert"));
        assert!(html.contains("aria-describedby=\"f-email-error\">\n<p class=\"error\" id=\"f-email-error\">must be an e-mail address</p>"));
        assert!(html.contains("acme is taken") && html.contains("name=\"csrf\" value=\"tok\""));
        assert!(html.contains("<title>Error: 1 field to check - Sign up</title>"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn the_verify_page_posts_the_token_back_with_a_button() {
        let html = verify(&F, "c", "ab\"cd", &FieldErrors::default()).into_string();
        assert!(html.contains("name=\"token\" value=\"ab&quot;cd\"") && html.contains("Verify my address"));
    }
}
