//! The building blocks of every server-rendered page: the layout, form fields with their errors
//! beside them, the forecast timeline and money, as maud templates (compile-time, escaped by default).
//!
//! A crate that writes its own templates depends on maud as well (`maud.workspace = true`): the
//! `html!` macro expands to `extern crate maud`, which a re-export from here cannot satisfy.
//!
//! Content security policy: the pages carry one inline `<style>` (the constant [`STYLESHEET`]) and
//! no script of their own, so the HTTP layer's policy is `style-src 'self' 'unsafe-inline'`. No
//! nonce is needed: the stylesheet is a constant written here, every caller-supplied text goes
//! through maud's escaping, and the policy allows no inline script, so even an injected style could
//! not run code. A hash (`'sha256-…'` of [`STYLESHEET`]) would be tighter and is the way to go if that ever matters.

mod country_names;
mod form;
mod timeline;

pub use country_names::COUNTRY_NAMES;

pub use form::{
    checkbox, csrf_field, error_summary, error_title, field_id, honeypot, optional_text_field, radio_group,
    select_field, text_field, textarea_field, Choice, SummaryItem,
};
pub use maud::Markup;
pub use timeline::{event_label, timeline, TimelineItem};

use maud::{html, PreEscaped, Render, DOCTYPE};

/// The one stylesheet of every page: system fonts, dark text on white (contrast above 7:1 for body
/// text), a visible focus ring, and errors shown by text and a thicker border, never by colour alone.
pub const STYLESHEET: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1f2328;line-height:1.45}\
main{max-width:48rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.6rem;margin-top:0}\
a{color:#0550ae}\
.field{margin:0 0 1rem;padding:0;border:0}\
label,legend{display:block;font-weight:600;margin-bottom:.25rem}\
input[type=text],input[type=email],input[type=tel],input[type=password],input[type=url],select,textarea{box-sizing:border-box;width:100%;padding:.5rem;border:1px solid #6e7781;border-radius:4px;font:inherit}\
textarea{min-height:7rem}\
input:focus,select:focus,textarea:focus,button:focus,a:focus{outline:3px solid #0969da;outline-offset:1px}\
[aria-invalid=true]{border-color:#b3261e;border-width:2px}\
.error{color:#b3261e;font-weight:600;margin:.25rem 0 0}\
.choice{display:inline-flex;align-items:center;gap:.35rem;font-weight:400;margin-right:1.5rem}\
.summary{border:2px solid #b3261e;border-radius:4px;padding:.5rem 1rem;margin-bottom:1rem}\
.summary h2{font-size:1rem;margin:.25rem 0}\
.panel{border:2px solid #6e7781;border-radius:4px;padding:.5rem 1rem;margin-bottom:1rem}\
.panel.ok{border-color:#1a7f37}\
.panel.warn{border-color:#9a6700;border-style:dashed}\
button{font:inherit;font-weight:600;padding:.6rem 1.4rem;border:0;border-radius:4px;background:#0969da;color:#fff;cursor:pointer}\
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}\
.hint{color:#57606a;font-size:.9rem}\
.timeline svg{width:100%;height:auto;display:block;color:#1f2328}\
.timeline ol{padding-left:1.5rem}\
nav ul.nav{list-style:none;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;padding:0;margin:0 0 1.5rem}\
form.inline{display:inline;margin:0}\
button.link{background:none;color:#0550ae;padding:0;text-decoration:underline;font-weight:400}\
button.secondary{background:#fff;color:#0550ae;border:2px solid #0550ae;padding:.4rem 1rem;margin:0 0 1rem}\
button.danger{background:#b3261e}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0}\
table{border-collapse:collapse;margin:0 0 1rem}th,td{border:1px solid #6e7781;padding:.3rem .6rem;text-align:left}\
.label{display:block;font-weight:600;margin-bottom:.25rem}\
#card-element{padding:.5rem;border:1px solid #6e7781;border-radius:4px}";

/// A full page whose `<h1>` is its title.
pub fn layout(title: &str, body: Markup) -> Markup {
    page(title, title, body)
}

/// A full page: the document `title` (what a tab and a screen reader announce first, e.g. with an
/// error count) and the visible `<h1>` may differ.
pub fn page(title: &str, heading: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLESHEET)) }
            }
            body {
                main {
                    h1 { (heading) } "\n"
                    (body)
                }
            }
        }
        "\n"
    }
}

/// `49.00 USD` from minor units: two decimals, or the ISO 4217 exponent of the few currencies that
/// have none (`JPY`) or three (`KWD`). The code is shown upper-case, however it is stored.
pub fn money(amount: u64, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    match minor_digits(&code) {
        0 => format!("{amount} {code}"),
        3 => format!("{}.{:03} {code}", amount / 1000, amount % 1000),
        _ => format!("{}.{:02} {code}", amount / 100, amount % 100),
    }
}

fn minor_digits(code: &str) -> u32 {
    const NONE: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if NONE.contains(&code) {
        0
    } else if THREE.contains(&code) {
        3
    } else {
        2
    }
}

/// Escapes like maud (`& < > "`) and also `'` as `&#39;`, so a value is safe in any attribute
/// quoting and comes out byte for byte as the pages served before maud (tests compare it).
pub struct Strict<'a>(pub &'a str);

impl Render for Strict<'_> {
    fn render_to(&self, buffer: &mut String) {
        let mut parts = self.0.split('\'');
        if let Some(first) = parts.next() {
            first.render_to(buffer);
        }
        for part in parts {
            buffer.push_str("&#39;");
            part.render_to(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_an_english_page_with_a_main_landmark_and_an_escaped_title() {
        let html = layout("<script>alert(1)</script>", html! { p { "hi" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<meta charset=\"utf-8\">") && html.contains("name=\"viewport\""));
        assert!(html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        assert!(html.contains("<main><h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>\n<p>hi</p></main>"));
        assert!(!html.contains("<script"));
        assert!(html.contains(&format!("<style>{STYLESHEET}</style>")));
    }

    #[test]
    fn a_page_may_have_a_title_other_than_its_heading() {
        let html = page("Error: 1 field to check - Sign in", "Sign in", html! {}).into_string();
        assert!(html.contains("<title>Error: 1 field to check - Sign in</title>") && html.contains("<h1>Sign in</h1>"));
    }

    #[test]
    fn money_shows_the_minor_units_of_its_currency() {
        assert_eq!(money(4900, "usd"), "49.00 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(0, "GBP"), "0.00 GBP");
        assert_eq!(money(1200, "JPY"), "1200 JPY");
        assert_eq!(money(1500, "kwd"), "1.500 KWD");
        assert_eq!(money(u64::MAX, "USD"), "184467440737095516.15 USD");
    }

    #[test]
    fn strict_escaping_also_escapes_the_single_quote() {
        let html = html! { input value=(Strict("I don't <b>\"&'")); }.into_string();
        assert_eq!(html, "<input value=\"I don&#39;t &lt;b&gt;&quot;&amp;&#39;\">");
        assert_eq!(html! { (Strict("")) }.into_string(), "");
    }
}
