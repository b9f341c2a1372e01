//! Plans and checkout, the card (Stripe.js's card element) and termination.

use super::{alert, page, status, summary, Frame};
use domain::account::SavedCard;
use domain::field::FieldErrors;
use domain::Plan;
use maud::{html, Markup};

/// The terms one can buy, in months.
pub const MONTHS: &[(&str, &str)] =
    &[("1", "1 month"), ("3", "3 months"), ("6", "6 months"), ("12", "12 months"), ("24", "24 months")];

pub struct PlansView<'a> {
    pub plans: Vec<&'a Plan>,
    pub current: &'a str,
    pub card: Option<&'a SavedCard>,
    pub csrf: &'a str,
    pub plan: &'a str,
    pub months: &'a str,
    pub errors: &'a FieldErrors,
    pub message: Option<&'a str>,
}

pub fn plans(f: &Frame, v: &PlansView) -> Markup {
    let choices: Vec<web::Choice> =
        v.plans.iter().map(|p| web::Choice { id: p.id.as_str(), value: p.id.as_str(), label: p.id.as_str() }).collect();
    let body = html! {
        @if let Some(m) = v.message { (alert(m)) }
        (summary(v.errors, &[("plan", "Plan"), ("months", "Months")]))
        p { "Your plan now: " strong { (v.current) } "." } "\n"
        table {
            caption { "Plans (prices exclude tax)" }
            thead { tr { th scope="col" { "Plan" } th scope="col" { "Per month" } th scope="col" { "Users" } th scope="col" { "Storage" } } }
            tbody {
                @for p in &v.plans {
                    tr {
                        th scope="row" { (p.id.as_str()) }
                        td { (web::money(p.price_per_month, &p.currency)) }
                        td { (p.limits.max_users) }
                        td { (p.limits.storage_gb) " GB" }
                    }
                }
            }
        }
        "\n"
        @match v.card {
            None => p { "To buy a plan, first " a href="card" { "save a card" } "." },
            Some(c) => {
                form method="post" action="checkout" novalidate {
                    "\n"
                    (web::csrf_field(v.csrf))
                    (web::radio_group("plan", "Plan", &choices, v.plan, v.errors.message_for("plan")))
                    (web::select_field("months", "Months", "Choose a term", MONTHS, v.months, v.errors.message_for("months")))
                    p { "The card " (c.brand) " ending in " (c.last4) " is charged now." } "\n"
                    button type="submit" { "Buy" } "\n"
                }
            }
        }
        "\n"
    };
    page(f, "Plans", v.errors.0.len(), body)
}

pub struct CardView<'a> {
    pub card: Option<&'a SavedCard>,
    pub csrf: &'a str,
    pub stripe_js: &'a str,
    pub publishable_key: &'a str,
    /// `None` when the card cannot be saved now (the message says why).
    pub client_secret: Option<&'a str>,
    pub error: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// The card form: Stripe.js's card element in `#card-element`, its errors in the `role=alert`
/// beside it. `card.js` confirms the SetupIntent (3-D Secure happens there), then posts its id.
pub fn card(f: &Frame, v: &CardView) -> Markup {
    let body = html! {
        @if let Some(m) = v.message { (alert(m)) }
        p {
            @match v.card {
                Some(c) => { "Your renewal card: " (c.brand) " ending in " (c.last4) "." }
                None => "No card is saved yet.",
            }
        } "\n"
        @if let Some(secret) = v.client_secret {
            form #card-form method="post" data-client-secret=(secret) data-publishable-key=(v.publishable_key) {
                "\n"
                (web::csrf_field(v.csrf))
                input #setup-intent type="hidden" name="setup_intent" value=""; "\n"
                div.field {
                    "\n"
                    span #card-label .label { "Card" } "\n"
                    div #card-element role="group" aria-labelledby="card-label" aria-describedby="card-errors" {} "\n"
                    div #card-errors .error role="alert" { @if let Some(e) = v.error { (e) } } "\n"
                }
                "\n"
                button #card-submit type="submit" { "Save the card" } "\n"
            }
            "\n"
            script src=(v.stripe_js) {}
            script src={ (f.app) "/static/card.js" } {}
        }
    };
    page(f, "Your card", 0, body)
}

/// A checkout whose payment the bank wants confirmed (3-D Secure): `card.js` runs Stripe.js's
/// `confirmCardPayment` on the button, then goes to the account page.
pub fn confirm_payment(f: &Frame, stripe_js: &str, publishable_key: &str, client_secret: &str, amount: &str) -> Markup {
    let body = html! {
        p { "Your bank asks you to confirm the payment of " strong { (amount) } "." } "\n"
        div #payment-confirm data-client-secret=(client_secret) data-publishable-key=(publishable_key)
            data-done={ (f.app) "/account?done=paid" } {
            "\n"
            button #payment-submit type="button" { "Confirm the payment" } "\n"
            div #payment-errors .error role="alert" {} "\n"
        }
        "\n"
        script src=(stripe_js) {}
        script src={ (f.app) "/static/card.js" } {}
    };
    page(f, "Confirm the payment", 0, body)
}

pub fn terminate(f: &Frame, csrf: &str, domain: &str, errors: &FieldErrors, message: Option<&str>) -> Markup {
    let body = html! {
        @if let Some(m) = message { (alert(m)) }
        (summary(errors, &[("confirm_domain", "Domain")]))
        p { "Terminating ends the service for " strong { (domain) } ": the account is closed now and its data is deleted later. This cannot be undone." } "\n"
        form method="post" novalidate {
            "\n"
            (web::csrf_field(csrf))
            (web::text_field("confirm_domain", "Type the domain to confirm", "text", "off", "", errors.message_for("confirm_domain")))
            button.danger type="submit" { "Terminate the account" } "\n"
        }
        "\n"
    };
    page(f, "Terminate the account", errors.0.len(), body)
}

pub fn terminated(f: &Frame, deletion: &str) -> Markup {
    let body = html! {
        (status(&format!("The account is terminated. Its data will be deleted on {deletion}.")))
        p { a href={ (f.app) "/sign-in" } { "Sign in page" } } "\n"
    };
    page(f, "Account terminated", 0, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Frame = Frame { app: "/base/app", signed_in: Some("tok") };

    #[test]
    fn the_card_page_loads_stripe_js_and_the_portals_script_with_no_inline_script() {
        let v = CardView {
            card: None,
            csrf: "tok",
            stripe_js: "http://127.0.0.1:8420/js.stripe.com/v3/",
            publishable_key: "pk_test_1",
            client_secret: Some("seti_1_secret_\"x"),
            error: Some("Your card was declined."),
            message: None,
        };
        let html = card(&F, &v).into_string();
        assert!(html.contains("<script src=\"http://127.0.0.1:8420/js.stripe.com/v3/\"></script>"));
        assert!(html.contains("<script src=\"/base/app/static/card.js\"></script>"));
        assert_eq!(html.matches("<script").count(), 2, "no inline script");
        assert!(html.contains("data-client-secret=\"seti_1_secret_&quot;x\""));
        let errors = html.split("id=\"card-element\"").nth(1).unwrap_or_default();
        assert!(
            errors.contains(
                "></div>\n<div class=\"error\" id=\"card-errors\" role=\"alert\">Your card was declined.</div>"
            ),
            "{errors}"
        );
    }

    #[test]
    fn the_termination_form_asks_for_the_domain() {
        let html = terminate(&F, "tok", "acme", &FieldErrors::default(), None).into_string();
        assert!(html.contains("name=\"confirm_domain\"") && html.contains("<strong>acme</strong>"));
    }
}
