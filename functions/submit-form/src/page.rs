//! The implementation-request page (the seed's form): plain HTML that works without JavaScript,
//! with labels tied to inputs, errors beside their fields and a summary announced on load.

use crate::country_names::COUNTRY_NAMES;
use domain::field::FieldErrors;
use domain::forms::{
    ImplementationRequestInput, FORM_DISABLED, I_ACCEPT, I_DONT_ACCEPT, MAX_PARTNERS, PRIVACY_STATEMENT, PRODUCTS,
    REQUEST_SENT, RESEND,
};

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

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1f2328;line-height:1.45}\
main{max-width:40rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.6rem;margin-top:0}\
.field{margin:0 0 1rem;padding:0;border:0}\
label,legend{display:block;font-weight:600;margin-bottom:.25rem}\
input[type=text],input[type=email],input[type=tel],select,textarea{box-sizing:border-box;width:100%;padding:.5rem;border:1px solid #6e7781;border-radius:4px;font:inherit}\
textarea{min-height:7rem}\
input:focus,select:focus,textarea:focus,button:focus{outline:3px solid #0969da;outline-offset:1px}\
[aria-invalid=true]{border-color:#b3261e;border-width:2px}\
.error{color:#b3261e;font-weight:600;margin:.25rem 0 0}\
.choice{display:inline-flex;align-items:center;gap:.35rem;font-weight:400;margin-right:1.5rem}\
.summary{border:2px solid #b3261e;border-radius:4px;padding:.5rem 1rem;margin-bottom:1rem}\
.summary h2{font-size:1rem;margin:.25rem 0}\
.sent{border:2px solid #1a7f37;border-radius:4px;padding:.5rem 1rem;margin-bottom:1rem}\
.disabled{border:2px solid #9a6700;border-radius:4px;padding:.5rem 1rem}\
button{font:inherit;font-weight:600;padding:.6rem 1.4rem;border:0;border-radius:4px;background:#0969da;color:#fff;cursor:pointer}\
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}\
.hint{color:#57606a;font-size:.9rem}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Bitrix24 Implementation Request</h1>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

struct Ctx<'a> {
    input: &'a ImplementationRequestInput,
    errors: &'a FieldErrors,
}

impl Ctx<'_> {
    /// `aria-invalid`/`aria-describedby` on the control, and the message to show after it.
    fn err(&self, name: &str) -> (String, String) {
        match self.errors.message_for(name) {
            Some(m) => (
                format!(" aria-invalid=\"true\" aria-describedby=\"f-{name}-error\""),
                format!("<p class=\"error\" id=\"f-{name}-error\">{}</p>\n", escape(m)),
            ),
            None => (String::new(), String::new()),
        }
    }

    fn input(&self, out: &mut String, name: &str, label: &str, kind: &str, autocomplete: &str, value: Option<&String>) {
        let (attrs, msg) = self.err(name);
        let v = escape(value.map(String::as_str).unwrap_or(""));
        out.push_str(&format!(
            "<div class=\"field\">\n<label for=\"f-{name}\">{} *</label>\n\
             <input id=\"f-{name}\" name=\"{name}\" type=\"{kind}\" value=\"{v}\" autocomplete=\"{autocomplete}\" \
             required aria-required=\"true\"{attrs}>\n{msg}</div>\n",
            escape(label)
        ));
    }

    fn select(&self, out: &mut String, name: &str, label: &str, prompt: &str, options: &[(&str, &str)], value: Option<&String>) {
        let (attrs, msg) = self.err(name);
        let current = value.map(|v| v.trim().to_string()).unwrap_or_default();
        let mut opts = format!("<option value=\"\">{}</option>\n", escape(prompt));
        for (v, text) in options {
            let sel = if !current.is_empty() && (v.eq_ignore_ascii_case(&current) || text.eq_ignore_ascii_case(&current)) {
                " selected"
            } else {
                ""
            };
            opts.push_str(&format!("<option value=\"{}\"{sel}>{}</option>\n", escape(v), escape(text)));
        }
        out.push_str(&format!(
            "<div class=\"field\">\n<label for=\"f-{name}\">{} *</label>\n\
             <select id=\"f-{name}\" name=\"{name}\" required aria-required=\"true\"{attrs}>\n{opts}</select>\n{msg}</div>\n",
            escape(label)
        ));
    }
}

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

fn form(input: &ImplementationRequestInput, errors: &FieldErrors) -> String {
    let c = Ctx { input, errors };
    let mut out = String::new();
    out.push_str(&format!(
        "<p>Submit your Bitrix24 implementation request, and receive up to {MAX_PARTNERS} offers from our certified \
         Partners! No worries, all personal information is treated as strictly confidential by Bitrix24 and our \
         Partners. No spam, no hassle.</p>\n<p class=\"hint\">Fields marked * are required.</p>\n"
    ));
    if !errors.is_empty() {
        out.push_str("<div class=\"summary\" role=\"alert\" tabindex=\"-1\">\n<h2>Please check these fields</h2>\n<ul>\n");
        for e in &errors.0 {
            let label = LABELS.iter().find(|(f, _)| *f == e.field).map(|(_, l)| *l).unwrap_or(e.field.as_str());
            let target = if e.field == "privacy" { "f-privacy-accept".to_string() } else { format!("f-{}", e.field) };
            out.push_str(&format!(
                "<li><a href=\"#{}\">{}: {}</a></li>\n",
                escape(&target),
                escape(label),
                escape(&e.message)
            ));
        }
        out.push_str("</ul>\n</div>\n");
    }
    // No `action`: the form posts to the address it was served from, under any path prefix.
    out.push_str("<form method=\"post\" novalidate>\n");
    c.input(&mut out, "first_name", "First Name", "text", "given-name", c.input.first_name.as_ref());
    c.input(&mut out, "last_name", "Last Name", "text", "family-name", c.input.last_name.as_ref());
    c.input(&mut out, "email", "Your Email", "email", "email", c.input.email.as_ref());
    c.input(&mut out, "phone", "Your Phone Number", "tel", "tel", c.input.phone.as_ref());
    c.select(&mut out, "country", "Your Country", "Choose your country", COUNTRY_NAMES, c.input.country.as_ref());
    c.input(&mut out, "region", "City / State / Region", "text", "address-level1", c.input.region.as_ref());
    c.select(&mut out, "product", "Product version or services required", "Choose a product or service", PRODUCTS, c.input.product.as_ref());
    {
        let (attrs, msg) = c.err("request");
        out.push_str(&format!(
            "<div class=\"field\">\n<label for=\"f-request\">Implementation Request *</label>\n\
             <textarea id=\"f-request\" name=\"request\" rows=\"6\" required aria-required=\"true\"{attrs}>{}</textarea>\n{msg}</div>\n",
            escape(c.input.request.as_deref().unwrap_or(""))
        ));
    }
    {
        let (_, msg) = c.err("privacy");
        let chosen = c.input.privacy.as_deref().map(str::trim).unwrap_or("");
        let check = |v: &str| if chosen.eq_ignore_ascii_case(v) { " checked" } else { "" };
        let described = if msg.is_empty() { String::new() } else { " aria-describedby=\"f-privacy-error\"".into() };
        let invalid = if msg.is_empty() { "" } else { " aria-invalid=\"true\"" };
        out.push_str(&format!(
            "<fieldset class=\"field\" id=\"f-privacy\"{described}>\n<legend>{} *</legend>\n\
             <label class=\"choice\" for=\"f-privacy-accept\"><input type=\"radio\" id=\"f-privacy-accept\" name=\"privacy\" \
             value=\"{a}\" required{}{invalid}> {a}</label>\n\
             <label class=\"choice\" for=\"f-privacy-decline\"><input type=\"radio\" id=\"f-privacy-decline\" name=\"privacy\" \
             value=\"{d}\"{}{invalid}> {d}</label>\n{msg}</fieldset>\n",
            escape(PRIVACY_STATEMENT),
            check(I_ACCEPT),
            check(I_DONT_ACCEPT),
            a = escape(I_ACCEPT),
            d = escape(I_DONT_ACCEPT),
        ));
    }
    // The honeypot: off-screen and out of the tab order; people leave it empty, bots fill it.
    out.push_str(&format!(
        "<div class=\"hp\" aria-hidden=\"true\">\n<label for=\"f-website\">Website (leave this empty)</label>\n\
         <input id=\"f-website\" name=\"website\" type=\"text\" tabindex=\"-1\" autocomplete=\"off\" value=\"{}\">\n</div>\n",
        escape(c.input.website.as_deref().unwrap_or(""))
    ));
    out.push_str("<button type=\"submit\">Submit</button>\n</form>\n");
    out
}

pub(crate) fn render(view: &View) -> String {
    match view {
        View::Form { input, errors } => {
            let title = if errors.is_empty() {
                "Bitrix24 Implementation Request".to_string()
            } else {
                format!("Error: {} field{} to check - Bitrix24 Implementation Request", errors.0.len(), if errors.0.len() == 1 { "" } else { "s" })
            };
            layout(&title, &form(input, errors))
        }
        View::Sent { resend_action, partners, note, can_resend } => {
            let routed = match partners {
                0 => "No certified partner serves your country and product at the moment; your request is on record.".to_string(),
                1 => "Your request went to 1 certified partner.".to_string(),
                n => format!("Your request went to {n} certified partners."),
            };
            let mut body = format!(
                "<div class=\"sent\" role=\"status\">\n<h2>{}</h2>\n<p>{}</p>\n<p>We e-mailed you a confirmation.</p>\n",
                escape(REQUEST_SENT),
                escape(&routed)
            );
            if let Some(n) = note {
                body.push_str(&format!("<p>{}</p>\n", escape(n)));
            }
            body.push_str("</div>\n");
            if *can_resend {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"{}\">\n<p>Did not get the confirmation?</p>\n<button type=\"submit\">{}</button>\n</form>\n",
                    escape(resend_action),
                    escape(RESEND)
                ));
            }
            layout(REQUEST_SENT, &body)
        }
        View::Disabled { detail } => layout(
            FORM_DISABLED,
            &format!(
                "<div class=\"disabled\" role=\"alert\">\n<h2>{}</h2>\n<p>{}</p>\n</div>\n",
                escape(FORM_DISABLED),
                escape(detail)
            ),
        ),
        View::Message { title, text } => layout(
            title,
            &format!("<div class=\"disabled\" role=\"alert\">\n<h2>{}</h2>\n<p>{}</p>\n</div>\n", escape(title), escape(text)),
        ),
    }
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
        for label in ["First Name *", "Last Name *", "Your Email *", "Your Phone Number *", "Your Country *",
                      "City / State / Region *", "Product version or services required *", "Implementation Request *"] {
            assert!(html.contains(&format!(">{label}</label>")), "{label}");
        }
        for name in ["first_name", "last_name", "email", "phone", "region"] {
            assert!(html.contains(&format!("<label for=\"f-{name}\">")) && html.contains(&format!("id=\"f-{name}\" name=\"{name}\"")), "{name}");
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
        let html = render(&View::Sent { resend_action: "implementation-request/abc/resend".into(), partners: 3, note: None, can_resend: true });
        assert!(html.contains("Request has been sent!") && html.contains("action=\"implementation-request/abc/resend\"") && html.contains(">Resend</button>"));
        let html = render(&View::Disabled { detail: "x" });
        assert!(html.contains("The form is disabled") && !html.contains("<form"));
    }
}
