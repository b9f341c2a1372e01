//! The account page (SPEC: The portal): plan, state and its reason, term end, the auto-renewal
//! switch, the next plan with its compatibility chart, the saved card, the forecast as a
//! timeline, and the history.

use super::{page, status, Frame};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::catalog::Chart;
use domain::{Account, State};
use maud::{html, Markup};
use platform::HistoryEvent;
use web::TimelineItem;

pub struct AccountView<'a> {
    pub account: &'a Account,
    pub csrf: &'a str,
    pub now: DateTime<Utc>,
    pub portal: String,
    pub grace_end: Option<DateTime<Utc>>,
    /// The plan after this term (the chosen next plan, else the plan renewed) and its chart.
    pub next: Option<Chart>,
    /// The plans that may follow the term, as (value, label) options; empty without a paid term.
    pub choices: Vec<(&'a str, &'a str)>,
    /// A refused choice of next plan, shown beside the field.
    pub next_error: Option<&'a str>,
    pub forecast: Vec<TimelineItem>,
    pub history: &'a [HistoryEvent],
    /// A message after a post (Post/Redirect/Get brings it as `?done=`).
    pub done: Option<&'a str>,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y").to_string()
}

fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339_opts(SecondsFormat::Secs, true)) { (day(t)) } }
}

/// A state reason as words (`not_renewed` → "not renewed").
fn words(v: impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default()
}

fn summary(v: &AccountView) -> Markup {
    let a = v.account;
    html! {
        dl.facts {
            "\n"
            dt { "Portal" } dd { (v.portal) } "\n"
            dt { "Plan" } dd #plan { (a.plan.as_str()) } "\n"
            dt { "State" } dd #state {
                (a.state.as_str())
                @if let Some(r) = a.state_reason { " (" (words(r)) ")" }
                @if let (State::Grace, Some(g)) = (a.state, v.grace_end) { ", grace until " (when(g)) }
            } "\n"
            dt { "Term ends" } dd { @match a.term_end { Some(t) => (when(t)), None => "No paid term" } } "\n"
            dt { "E-mail address" } dd {
                @if a.email_verified { "Verified" } @else { "Not verified yet: open the link we sent you" }
            } "\n"
            dt { "Card" } dd #card {
                @match &a.payment_method {
                    Some(c) => { (c.brand) " ending in " (c.last4) " (expires " (c.exp_month) "/" (c.exp_year) ") " }
                    None => "No card saved ",
                }
                a href="card" { @if a.payment_method.is_some() { "Change the card" } @else { "Save a card" } }
            } "\n"
        }
        "\n"
    }
}

/// The switch: a form whose one button sets the other value; its state is said in words.
fn auto_renew(v: &AccountView) -> Markup {
    let on = v.account.auto_renew;
    html! {
        section aria-labelledby="renewal-heading" {
            h2 #renewal-heading { "Automatic renewal" } "\n"
            p #auto-renew-state { "Automatic renewal is " strong { @if on { "on" } @else { "off" } } "." } "\n"
            form method="post" action="auto-renew" {
                (web::csrf_field(v.csrf))
                input type="hidden" name="enabled" value=(if on { "false" } else { "true" });
                button type="submit" { @if on { "Turn automatic renewal off" } @else { "Turn automatic renewal on" } }
            }
            "\n"
        }
        "\n"
    }
}

/// What follows the term: the chosen next plan, or the plan renewed, with its chart; without
/// either, the grace period the forecast shows. A paid account can choose Free or a cheaper plan.
fn next_plan(v: &AccountView) -> Markup {
    let a = v.account;
    if !a.is_paid() {
        return html! {};
    }
    html! {
        section aria-labelledby="next-heading" {
            @match &v.next {
                Some(chart) => {
                    h2 #next-heading { "Next plan: " (chart.plan.as_str()) } "\n"
                    p #next-why {
                        @if a.next_plan.is_some() { "You chose this plan to follow the current term." }
                        @else { "Automatic renewal renews the current plan." }
                    } "\n"
                    (chart_of(chart))
                }
                None => {
                    h2 #next-heading { "Next plan: none" } "\n"
                    p #next-why { "No plan follows this term: at its end the account enters its grace period." } "\n"
                }
            }
            @if !v.choices.is_empty() {
                form method="post" action="next-plan" {
                    (web::csrf_field(v.csrf))
                    (web::select_field("plan", "Plan after this term", "Choose a plan", &v.choices, "", v.next_error))
                    button type="submit" { "Choose this next plan" }
                }
                "\n"
            }
        }
        "\n"
    }
}

fn chart_of(chart: &Chart) -> Markup {
    html! {
        @if chart.fits {
            p { "Your current usage fits the " (chart.plan.as_str()) " plan." } "\n"
        } @else {
            table {
                caption { "Usage over the " (chart.plan.as_str()) " plan's limits" }
                thead { tr { th scope="col" { "Limit" } th scope="col" { "Used" } th scope="col" { "Allowed" } } }
                tbody {
                    @for o in &chart.over {
                        tr { th scope="row" { (o.limit.replace('_', " ")) } td { (o.used) } td { (o.allowed) } }
                    }
                }
            }
            "\n"
        }
    }
}

fn history(v: &AccountView) -> Markup {
    html! {
        section aria-labelledby="history-heading" {
            h2 #history-heading { "History" } "\n"
            @if v.history.is_empty() { p { "Nothing yet." } }
            ol.history {
                @for h in v.history.iter().rev().take(50) {
                    li { (when(h.at)) ": " (web::event_label(&h.kind)) } "\n"
                }
            }
        }
        "\n"
    }
}

pub fn account(f: &Frame, v: &AccountView) -> Markup {
    let body = html! {
        @if let Some(d) = v.done { (status(d)) }
        (summary(v))
        section aria-labelledby="forecast-heading" {
            h2 #forecast-heading { "What happens next" } "\n"
            p.hint { "If nobody acts, these are the coming steps, with today marked." } "\n"
            (web::timeline(&v.forecast, v.now))
        }
        "\n"
        (auto_renew(v))
        (next_plan(v))
        (history(v))
    };
    page(f, &format!("Account {}", v.account.domain.as_str()), 0, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::countries::ContractingParty;
    use platform::testkit::v;
    use serde_json::json;

    fn an_account(company: &str) -> Account {
        let at = domain::time::from_epoch(1_798_761_600).unwrap();
        let party = ContractingParty { name: "Bitrix, Inc.".into(), notices_email: "privacy@bitrix24.com".into() };
        let mut a = Account::new_free(
            "id1".into(),
            v("acme"),
            company.into(),
            v("US"),
            None,
            party,
            v("ann@example.org"),
            "2021-11-01".into(),
            at,
        );
        a.payment_method = Some(domain::account::SavedCard {
            id: "pm_1".into(),
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
        });
        a
    }

    #[test]
    fn the_account_page_has_the_timeline_the_switch_the_card_and_escaped_history() {
        let mut a = an_account("Acme");
        a.auto_renew = true;
        let now = a.state_since;
        let history = vec![HistoryEvent::new(now, "<b>odd</b>", json!({}))];
        let forecast = vec![TimelineItem {
            at: now + chrono::Duration::days(30),
            event: "archived".into(),
            amount: None,
            currency: None,
        }];
        let view = AccountView {
            account: &a,
            csrf: "tok",
            now,
            portal: "acme.saas.local".into(),
            grace_end: None,
            next: None,
            choices: vec![],
            next_error: None,
            forecast,
            history: &history,
            done: Some("Automatic renewal is off."),
        };
        let f = Frame { app: "/app", signed_in: Some("tok") };
        let html = account(&f, &view).into_string();
        assert!(html.contains("role=\"img\"") && html.contains("<ol id=\"forecast-steps\">"));
        assert!(html.contains("Archived"));
        assert!(html.contains("visa ending in 4242"));
        assert!(html.contains("name=\"enabled\" value=\"false\"") && html.contains("Turn automatic renewal off"));
        assert!(html.contains("&lt;b&gt;odd&lt;/b&gt;") && !html.contains("<b>odd"));
        assert!(html.contains("role=\"status\"") && html.contains("<title>Account acme</title>"));
    }

    #[test]
    fn a_paid_term_without_renewal_says_none_follows_and_offers_the_plans_that_may() {
        let mut a = an_account("Acme");
        a.plan = v("standard");
        a.term_end = Some(a.state_since + chrono::Duration::days(30));
        a.auto_renew = false;
        let history = vec![];
        let view = AccountView {
            account: &a,
            csrf: "tok",
            now: a.state_since,
            portal: "acme.saas.local".into(),
            grace_end: None,
            next: None,
            choices: vec![("free", "free"), ("basic", "basic")],
            next_error: Some("must be Free or a plan cheaper than the current one"),
            forecast: vec![],
            history: &history,
            done: None,
        };
        let html = account(&Frame { app: "/app", signed_in: Some("tok") }, &view).into_string();
        assert!(html.contains("Next plan: none") && html.contains("enters its grace period"));
        assert!(html.contains("action=\"next-plan\"") && html.contains("<option value=\"basic\""));
        assert!(html.contains("id=\"f-plan-error\">must be Free or a plan cheaper"), "{html}");

        // A free account has no term to follow: no section at all.
        let free = an_account("Acme");
        let view = AccountView { account: &free, choices: vec![], next_error: None, ..view };
        let html = account(&Frame { app: "/app", signed_in: Some("tok") }, &view).into_string();
        assert!(!html.contains("next-heading"));
    }
}
