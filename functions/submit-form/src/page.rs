//! The implementation-request page (the seed's form): plain HTML that works without JavaScript,
//! with labels tied to inputs, errors beside their fields and a summary announced on load. Drawn
//! with maud on top of `web`'s layout and field helpers, so every text is escaped.

use domain::field::FieldErrors;
use domain::forms::{
    ImplementationRequestInput, FORM_DISABLED, I_ACCEPT, I_DONT_ACCEPT, MAX_PARTNERS, PRIVACY_STATEMENT, PRODUCTS,
    REQUEST_SENT, RESEND,
};
use maud::{html, Markup};
use web::{Choice, SummaryItem, COUNTRY_NAMES};

pub(crate) enum View<'a> {
    /// The form, blank or re-shown with the sender's values and the errors beside their fields.
    Form { input: &'a ImplementationRequestInput, errors: &'a FieldErrors },
    /// After a successful post: "Request has been sent!" with a "Resend" button.
    Sent { resend_action: String, partners: usize, note: Option<&'a str>, can_resend: bool },
    /// "The form is disabled" (an operator turned it off, or the sender is over the rate limit).
    Disabled { detail: &'a str },
    /// Any other refusal (export control, an unknown request).
    Message { title: &'a str, text: &'a str },
}

/// The page's heading, whatever the view.
const HEADING: &str = "Bitrix24 Implementation Request";

const LABELS: &[(&str, &str)] = &[
    ("first_name", "First Name"),
    ("last_name", "Last Name"),
    ("email", "Your Email"),
    ("phone", "Your Phone Number"),
    ("country", "Your Country"),
    ("region", "City / State / Region"),
    ("product", "Product version or services required"),
    ("request", "Implementation Request"),
    ("privacy", "Privacy Policy acknowledgement"),
];

const PRIVACY_CHOICES: &[Choice] = &[
    Choice { id: "accept", value: I_ACCEPT, label: I_ACCEPT },
    Choice { id: "decline", value: I_DONT_ACCEPT, label: I_DONT_ACCEPT },
];

fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn form(input: &ImplementationRequestInput, errors: &FieldErrors) -> Markup {
    let error = |name: &str| errors.message_for(name);
    let text = |name: &str, label: &str, kind: &str, autocomplete: &str, v: &Option<String>| {
        web::text_field(name, label, kind, autocomplete, value(v), error(name))
    };
    let summary: Vec<SummaryItem> = errors
        .0
        .iter()
        .map(|e| {
            let label = LABELS.iter().find(|(f, _)| *f == e.field).map_or(e.field.as_str(), |(_, l)| *l);
            // The radio pair has no control named after the field: the link goes to its first choice.
            let target = if e.field == "privacy" { "f-privacy-accept".to_string() } else { web::field_id(&e.field) };
            SummaryItem { target, label, message: &e.message }
        })
        .collect();
    html! {
        p {
            "Submit your Bitrix24 implementation request, and receive up to " (MAX_PARTNERS) " offers from our \
             certified Partners! No worries, all personal information is treated as strictly confidential by \
             Bitrix24 and our Partners. No spam, no hassle."
        } "\n"
        p.hint { "Fields marked * are required." } "\n"
        (web::error_summary(&summary))
        // No `action`: the form posts to the address it was served from, under any path prefix.
        form method="post" novalidate {
            "\n"
            (text("first_name", "First Name", "text", "given-name", &input.first_name))
            (text("last_name", "Last Name", "text", "family-name", &input.last_name))
            (text("email", "Your Email", "email", "email", &input.email))
            (text("phone", "Your Phone Number", "tel", "tel", &input.phone))
            (web::select_field(
                "country",
                "Your Country",
                "Choose your country",
                COUNTRY_NAMES,
                value(&input.country),
                error("country"),
            ))
            (text("region", "City / State / Region", "text", "address-level1", &input.region))
            (web::select_field(
                "product",
                "Product version or services required",
                "Choose a product or service",
                PRODUCTS,
                value(&input.product),
                error("product"),
            ))
            (web::textarea_field("request", "Implementation Request", 6, value(&input.request), error("request")))
            (web::radio_group("privacy", PRIVACY_STATEMENT, PRIVACY_CHOICES, value(&input.privacy), error("privacy")))
            (web::honeypot("website", "Website (leave this empty)", value(&input.website)))
            button type="submit" { "Submit" } "\n"
        }
        "\n"
    }
}

fn sent(resend_action: &str, partners: usize, note: Option<&str>, can_resend: bool) -> Markup {
    let routed = match partners {
        0 => {
            "No certified partner serves your country and product at the moment; your request is on record.".to_string()
        }
        1 => "Your request went to 1 certified partner.".to_string(),
        n => format!("Your request went to {n} certified partners."),
    };
    html! {
        div.panel.ok role="status" {
            "\n"
            h2 { (REQUEST_SENT) } "\n"
            p { (routed) } "\n"
            p { "We e-mailed you a confirmation." } "\n"
            @if let Some(n) = note { p { (n) } "\n" }
        }
        "\n"
        @if can_resend {
            form method="post" action=(resend_action) {
                "\n"
                p { "Did not get the confirmation?" } "\n"
                button type="submit" { (RESEND) } "\n"
            }
            "\n"
        }
    }
}

/// A refusal: its title as a heading and the reason, announced on load.
fn refusal(title: &str, text: &str) -> Markup {
    html! {
        div.panel.warn role="alert" {
            "\n"
            h2 { (title) } "\n"
            p { (text) } "\n"
        }
        "\n"
    }
}

pub(crate) fn render(view: &View) -> String {
    let page = match view {
        View::Form { input, errors } => {
            web::page(&web::error_title(HEADING, errors.0.len()), HEADING, form(input, errors))
        }
        View::Sent { resend_action, partners, note, can_resend } => {
            web::page(REQUEST_SENT, HEADING, sent(resend_action, *partners, *note, *can_resend))
        }
        View::Disabled { detail } => web::page(FORM_DISABLED, HEADING, refusal(FORM_DISABLED, detail)),
        View::Message { title, text } => web::page(title, HEADING, refusal(title, text)),
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::field::FieldError;

    #[test]
    fn every_assigned_country_has_a_name_in_the_list() {
        for (code, _) in COUNTRY_NAMES {
            assert!(domain::countries::is_assigned(code), "{code}");
        }
        assert_eq!(COUNTRY_NAMES.len(), 249);
    }

    #[test]
    fn the_blank_form_has_every_field_with_a_label_and_the_radio_pair_in_a_fieldset() {
        let html = render(&View::Form { input: &Default::default(), errors: &Default::default() });
        for label in [
            "First Name *",
            "Last Name *",
            "Your Email *",
            "Your Phone Number *",
            "Your Country *",
            "City / State / Region *",
            "Product version or services required *",
            "Implementation Request *",
        ] {
            assert!(html.contains(&format!(">{label}</label>")), "{label}");
        }
        for name in ["first_name", "last_name", "email", "phone", "region"] {
            assert!(
                html.contains(&format!("<label for=\"f-{name}\">"))
                    && html.contains(&format!("id=\"f-{name}\" name=\"{name}\"")),
                "{name}"
            );
        }
        assert!(html.contains("<select id=\"f-country\" name=\"country\""));
        assert!(html.contains("<textarea id=\"f-request\" name=\"request\""));
        assert!(html.contains("<fieldset") && html.contains("<legend>I acknowledge"));
        assert!(html.contains("value=\"I accept\"") && html.contains("value=\"I don&#39;t accept\""));
        assert!(html.contains("<html lang=\"en\">") && html.contains("name=\"website\""));
        assert!(html.contains("<form method=\"post\" novalidate>"), "posts to itself");
        assert!(!html.contains("<script"));
        assert!(!html.contains("Field is required"));
    }

    #[test]
    fn a_failed_post_shows_the_error_beside_its_field_and_keeps_the_values_escaped() {
        let input = ImplementationRequestInput {
            first_name: Some("<b>Ada</b>".into()),
            country: Some("de".into()),
            privacy: Some("I don't accept".into()),
            ..Default::default()
        };
        let errors = FieldErrors(vec![FieldError::required("last_name"), FieldError::required("email")]);
        let html = render(&View::Form { input: &input, errors: &errors });
        assert!(html.contains("value=\"&lt;b&gt;Ada&lt;/b&gt;\""));
        assert!(!html.contains("<b>Ada"));
        assert!(html.contains("id=\"f-last_name\" name=\"last_name\" type=\"text\" value=\"\" autocomplete=\"family-name\" required aria-required=\"true\" aria-invalid=\"true\" aria-describedby=\"f-last_name-error\">\n<p class=\"error\" id=\"f-last_name-error\">Field is required</p>"));
        assert!(html.contains("<option value=\"DE\" selected>Germany</option>"));
        assert!(html.contains("id=\"f-privacy-decline\" name=\"privacy\" value=\"I don&#39;t accept\" checked>"));
        assert!(html.contains("role=\"alert\""));
        assert!(!html.contains("f-first_name-error"));
    }

    #[test]
    fn the_sent_page_offers_resend_and_the_disabled_page_says_so() {
        let html = render(&View::Sent {
            resend_action: "implementation-request/abc/resend".into(),
            partners: 3,
            note: None,
            can_resend: true,
        });
        assert!(
            html.contains("Request has been sent!")
                && html.contains("action=\"implementation-request/abc/resend\"")
                && html.contains(">Resend</button>")
        );
        let html = render(&View::Disabled { detail: "x" });
        assert!(html.contains("The form is disabled") && !html.contains("<form"));
    }
}
