//! Form fields with their errors beside them (SPEC: "errors appear next to their fields"): each
//! control is `f-<name>`, labelled by a `<label for>`; an error is `<p class="error" id="f-<name>-error">`
//! right after the control, which points to it with `aria-describedby` and says `aria-invalid="true"`.
//! An error summary at the top of the form links to each field. Every control ends its line, so the
//! served source stays readable (and reads `…>\n<p class="error"…` where an error follows).

use crate::Strict;
use maud::{html, Markup};

/// The id of a field's control: `f-<name>`.
pub fn field_id(name: &str) -> String {
    format!("f-{name}")
}

fn error_id(name: &str) -> String {
    format!("f-{name}-error")
}

/// The message beside a field, if it has one.
fn error_message(name: &str, error: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = error {
            p.error id=(error_id(name)) { (message) } "\n"
        }
    }
}

/// A text-like `<input>` (`kind`: text, email, tel, password, url…) the sender must fill in:
/// its label ends with " *" and it carries `required aria-required="true"`. An empty
/// `autocomplete` leaves the attribute out.
pub fn text_field(name: &str, label: &str, kind: &str, autocomplete: &str, value: &str, error: Option<&str>) -> Markup {
    input_field(name, label, kind, autocomplete, value, error, true)
}

/// As [`text_field`], for a field that may stay empty (no " *", not `required`).
pub fn optional_text_field(
    name: &str,
    label: &str,
    kind: &str,
    autocomplete: &str,
    value: &str,
    error: Option<&str>,
) -> Markup {
    input_field(name, label, kind, autocomplete, value, error, false)
}

fn input_field(
    name: &str,
    label: &str,
    kind: &str,
    autocomplete: &str,
    value: &str,
    error: Option<&str>,
    required: bool,
) -> Markup {
    let id = field_id(name);
    html! {
        div.field {
            "\n"
            label for=(id) { (label) @if required { " *" } } "\n"
            input id=(id) name=(name) type=(kind) value=(Strict(value))
                autocomplete=[(!autocomplete.is_empty()).then_some(autocomplete)]
                required[required] aria-required=[required.then_some("true")]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(name))];
            "\n"
            (error_message(name, error))
        }
        "\n"
    }
}

/// A required multi-line text field.
pub fn textarea_field(name: &str, label: &str, rows: u32, value: &str, error: Option<&str>) -> Markup {
    let id = field_id(name);
    html! {
        div.field {
            "\n"
            label for=(id) { (label) " *" } "\n"
            textarea id=(id) name=(name) rows=(rows) required aria-required="true"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(name))] { (value) }
            "\n"
            (error_message(name, error))
        }
        "\n"
    }
}

/// A required `<select>` with a first, empty option (`prompt`) and `options` as `(value, text)`.
/// The first option whose value or text equals `value` (trimmed, ignoring ASCII case) is selected,
/// so a form re-shows what was sent whether it named the code (`de`) or the text (`Germany`).
pub fn select_field(
    name: &str,
    label: &str,
    prompt: &str,
    options: &[(&str, &str)],
    value: &str,
    error: Option<&str>,
) -> Markup {
    let id = field_id(name);
    let current = value.trim();
    let selected = if current.is_empty() {
        None
    } else {
        options.iter().position(|(v, text)| v.eq_ignore_ascii_case(current) || text.eq_ignore_ascii_case(current))
    };
    html! {
        div.field {
            "\n"
            label for=(id) { (label) " *" } "\n"
            select id=(id) name=(name) required aria-required="true"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(name))] {
                "\n"
                option value="" { (prompt) } "\n"
                @for (i, (v, text)) in options.iter().enumerate() {
                    option value=(Strict(v)) selected[selected == Some(i)] { (text) } "\n"
                }
            }
            "\n"
            (error_message(name, error))
        }
        "\n"
    }
}

/// One option of a [`radio_group`]: its control is `f-<name>-<id>`.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    pub id: &'a str,
    pub value: &'a str,
    pub label: &'a str,
}

/// A required choice of one among a few, as radio buttons in a `<fieldset>` (`f-<name>`) whose
/// `<legend>` names the question. The choice equal to `chosen` (trimmed, ignoring ASCII case) is
/// checked. An error is described on the fieldset and marks every radio invalid.
pub fn radio_group(name: &str, legend: &str, choices: &[Choice], chosen: &str, error: Option<&str>) -> Markup {
    let chosen = chosen.trim();
    html! {
        fieldset.field id=(field_id(name)) aria-describedby=[error.map(|_| error_id(name))] {
            "\n"
            legend { (legend) " *" } "\n"
            @for (i, c) in choices.iter().enumerate() {
                @let id = format!("f-{name}-{}", c.id);
                label.choice for=(id) {
                    input type="radio" id=(id) name=(name) value=(Strict(c.value)) required[i == 0]
                        checked[!chosen.is_empty() && chosen.eq_ignore_ascii_case(c.value)]
                        aria-invalid=[error.map(|_| "true")];
                    " " (c.label)
                }
                "\n"
            }
            (error_message(name, error))
        }
        "\n"
    }
}

/// A checkbox (`value="true"`, so a form post reads as a boolean) with its label beside it.
pub fn checkbox(name: &str, label: &str, checked: bool, error: Option<&str>) -> Markup {
    let id = field_id(name);
    html! {
        div.field {
            "\n"
            label.choice for=(id) {
                input type="checkbox" id=(id) name=(name) value="true" checked[checked]
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id(name))];
                " " (label)
            }
            "\n"
            (error_message(name, error))
        }
        "\n"
    }
}

/// The CSRF token every portal form posts back, as the hidden field `csrf`.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(Strict(token)); "\n" }
}

/// The honeypot (SPEC: Public surface): off-screen, out of the tab order and hidden from assistive
/// technology; people leave it empty, bots fill it.
pub fn honeypot(name: &str, label: &str, value: &str) -> Markup {
    let id = field_id(name);
    html! {
        div.hp aria-hidden="true" {
            "\n"
            label for=(id) { (label) } "\n"
            input id=(id) name=(name) type="text" tabindex="-1" autocomplete="off" value=(Strict(value)); "\n"
        }
        "\n"
    }
}

/// One line of the [`error_summary`]: a link to the control `target` (an element id).
#[derive(Debug, Clone)]
pub struct SummaryItem<'a> {
    pub target: String,
    pub label: &'a str,
    pub message: &'a str,
}

impl<'a> SummaryItem<'a> {
    /// The item for a field drawn by this module (its control is `f-<name>`).
    pub fn for_field(name: &str, label: &'a str, message: &'a str) -> Self {
        SummaryItem { target: field_id(name), label, message }
    }
}

/// The summary above a form that failed: announced on load (`role="alert"`), one link per error
/// to its field. Nothing when there is no error.
pub fn error_summary(items: &[SummaryItem]) -> Markup {
    html! {
        @if !items.is_empty() {
            div.summary role="alert" tabindex="-1" {
                "\n"
                h2 { "Please check these fields" } "\n"
                ul {
                    "\n"
                    @for item in items {
                        li { a href={ "#" (item.target) } { (item.label) ": " (item.message) } } "\n"
                    }
                }
                "\n"
            }
            "\n"
        }
    }
}

/// The document title of a page re-shown with errors, so a screen reader announces them first:
/// `Error: 2 fields to check - <title>`.
pub fn error_title(title: &str, errors: usize) -> String {
    match errors {
        0 => title.to_string(),
        1 => format!("Error: 1 field to check - {title}"),
        n => format!("Error: {n} fields to check - {title}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert('x')</script>";

    #[test]
    fn a_hostile_value_and_a_hostile_error_come_out_escaped() {
        let html = text_field("name", "Name", "text", "name", HOSTILE, Some(HOSTILE)).into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("value=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\""), "{html}");
        assert!(html.contains(">&lt;script&gt;alert('x')&lt;/script&gt;</p>"), "{html}");
        for html in [
            textarea_field("t", HOSTILE, 3, HOSTILE, Some(HOSTILE)).into_string(),
            select_field("s", HOSTILE, HOSTILE, &[(HOSTILE, HOSTILE)], "", Some(HOSTILE)).into_string(),
            radio_group("r", HOSTILE, &[Choice { id: "a", value: HOSTILE, label: HOSTILE }], "", Some(HOSTILE))
                .into_string(),
            checkbox("c", HOSTILE, false, Some(HOSTILE)).into_string(),
            csrf_field(HOSTILE).into_string(),
            honeypot("website", HOSTILE, HOSTILE).into_string(),
            error_summary(&[SummaryItem::for_field("x", HOSTILE, HOSTILE)]).into_string(),
        ] {
            assert!(!html.contains("<script"), "{html}");
        }
    }

    #[test]
    fn an_error_is_wired_to_its_control_and_follows_it() {
        let html =
            text_field("last_name", "Last Name", "text", "family-name", "", Some("Field is required")).into_string();
        assert!(html.contains("<label for=\"f-last_name\">Last Name *</label>"), "{html}");
        assert!(
            html.contains(
                "<input id=\"f-last_name\" name=\"last_name\" type=\"text\" value=\"\" autocomplete=\"family-name\" \
                 required aria-required=\"true\" aria-invalid=\"true\" aria-describedby=\"f-last_name-error\">\n\
                 <p class=\"error\" id=\"f-last_name-error\">Field is required</p>"
            ),
            "{html}"
        );
        for html in [
            textarea_field("t", "T", 3, "", Some("bad")).into_string(),
            select_field("t", "T", "Pick", &[("a", "A")], "", Some("bad")).into_string(),
            checkbox("t", "T", false, Some("bad")).into_string(),
        ] {
            assert!(html.contains("id=\"f-t\"") && html.contains("aria-invalid=\"true\""), "{html}");
            assert!(html.contains("aria-describedby=\"f-t-error\"") && html.contains("id=\"f-t-error\">bad</p>"));
        }
        let radios =
            radio_group("t", "T", &[Choice { id: "a", value: "A", label: "A" }], "", Some("bad")).into_string();
        assert!(radios.contains("<fieldset class=\"field\" id=\"f-t\" aria-describedby=\"f-t-error\">"), "{radios}");
        assert!(radios.contains("id=\"f-t-error\">bad</p>"));
    }

    #[test]
    fn a_field_without_an_error_has_no_error_attributes() {
        let html = text_field("email", "Email", "email", "email", "a@b.example", None).into_string();
        assert!(!html.contains("aria-invalid") && !html.contains("aria-describedby") && !html.contains("error"));
        let html = optional_text_field("region", "Region", "text", "", "", None).into_string();
        assert!(html.contains(">Region</label>") && !html.contains("required") && !html.contains("autocomplete"));
    }

    #[test]
    fn select_and_radios_reshow_what_was_sent() {
        let options = [("DE", "Germany"), ("FR", "France")];
        let by_code = select_field("country", "Country", "Choose", &options, " de ", None).into_string();
        let by_name = select_field("country", "Country", "Choose", &options, "germany", None).into_string();
        for html in [by_code, by_name] {
            assert!(html.contains("<option value=\"DE\" selected>Germany</option>"), "{html}");
            assert!(html.contains("<option value=\"FR\">France</option>") && html.contains("<option value=\"\">"));
        }
        let choices = [
            Choice { id: "yes", value: "I accept", label: "I accept" },
            Choice { id: "no", value: "I don't", label: "I don't" },
        ];
        let html = radio_group("p", "Agree?", &choices, "i don't", None).into_string();
        assert!(html.contains("<legend>Agree? *</legend>"));
        assert!(html.contains("id=\"f-p-yes\" name=\"p\" value=\"I accept\" required>"), "{html}");
        assert!(html.contains("id=\"f-p-no\" name=\"p\" value=\"I don&#39;t\" checked>"), "{html}");
        assert!(checkbox("c", "C", true, None).into_string().contains("value=\"true\" checked>"));
    }

    #[test]
    fn the_summary_links_each_error_to_its_field_and_is_empty_without_errors() {
        assert_eq!(error_summary(&[]).into_string(), "");
        let html = error_summary(&[
            SummaryItem::for_field("email", "Your Email", "must be an e-mail address"),
            SummaryItem { target: "f-privacy-accept".into(), label: "Privacy", message: "Field is required" },
        ])
        .into_string();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<a href=\"#f-email\">Your Email: must be an e-mail address</a>"), "{html}");
        assert!(html.contains("<a href=\"#f-privacy-accept\">Privacy: Field is required</a>"));
    }

    #[test]
    fn csrf_honeypot_and_error_titles() {
        assert_eq!(csrf_field("t0k").into_string(), "<input type=\"hidden\" name=\"csrf\" value=\"t0k\">\n");
        let hp = honeypot("website", "Website (leave this empty)", "").into_string();
        assert!(
            hp.contains("aria-hidden=\"true\"") && hp.contains("tabindex=\"-1\"") && hp.contains("name=\"website\"")
        );
        assert_eq!(error_title("Sign in", 0), "Sign in");
        assert_eq!(error_title("Sign in", 1), "Error: 1 field to check - Sign in");
        assert_eq!(error_title("Sign in", 3), "Error: 3 fields to check - Sign in");
    }
}
