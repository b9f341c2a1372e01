use super::*;
use chrono::{Duration, TimeZone};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap_or_default()
}

fn item(when: DateTime<Utc>, event: &str) -> TimelineItem {
    TimelineItem { at: when, event: event.into(), amount: None, currency: None }
}

fn charge(when: DateTime<Utc>, amount: u64, currency: &str) -> TimelineItem {
    TimelineItem { amount: Some(amount), currency: Some(currency.into()), ..item(when, "renewal_charge") }
}

fn now() -> DateTime<Utc> {
    at(2026, 12, 5)
}

/// The `<li>`s of the text list.
fn list_items(html: &str) -> Vec<&str> {
    let list = html.split("<ol id=\"forecast-steps\">").nth(1).and_then(|rest| rest.split("</ol>").next());
    list.map(|l| l.split("<li>").skip(1).collect()).unwrap_or_default()
}

#[test]
fn an_empty_forecast_is_a_sentence_not_an_empty_drawing() {
    let html = timeline(&[], now()).into_string();
    assert!(html.contains("No upcoming steps") && !html.contains("<svg") && !html.contains("<ol"));
}

#[test]
fn each_step_is_drawn_at_its_date_and_listed_with_its_date() {
    let items = vec![
        item(at(2026, 12, 24), "notice:renewal_coming"),
        charge(at(2026, 12, 31), 4900, "usd"),
        TimelineItem { amount: Some(4900), currency: Some("USD".into()), ..item(at(2027, 1, 31), "renewed") },
    ];
    let html = timeline(&items, now()).into_string();
    assert!(html.contains("<svg") && html.contains("role=\"img\""), "{html}");
    assert!(html.contains("<title id=\"forecast-title\">") && html.contains("<desc>"));
    assert!(html.contains("aria-labelledby=\"forecast-title\" aria-describedby=\"forecast-steps\""));
    assert!(html.contains("Today, 5 Dec 2026") && html.contains("class=\"today\""), "today is marked");
    let list = list_items(&html);
    assert_eq!(list.len(), 3, "one list item per step, notices included: {list:?}");
    assert!(list[0].starts_with("<time datetime=\"2026-12-24T00:00:00Z\">24 Dec 2026</time>: Notice: renewal coming"));
    assert!(list[1].contains("31 Dec 2026</time>: Renewal charged, 49.00 USD"), "{}", list[1]);
    assert!(list[2].contains("31 Jan 2027</time>: Renews, 49.00 USD"));
    // Drawn with their names and dates; the notice only in the list.
    assert!(html.contains(">Renewal charged, 49.00 USD</tspan>") && html.contains(">31 Dec 2026</tspan>"));
    assert!(!html.contains("data-event=\"notice:renewal_coming\""));
    assert!(html.contains("data-event=\"renewal_charge\"") && html.contains("data-event=\"renewed\""));
    assert!(html.contains("2 steps from 31 Dec 2026 to 31 Jan 2027; today, 5 Dec 2026, is marked."));
}

#[test]
fn the_steps_are_in_date_order_and_today_is_left_of_the_future() {
    let items = vec![item(at(2027, 3, 1), "deleted"), item(at(2027, 1, 1), "grace")];
    let html = timeline(&items, now()).into_string();
    let list = list_items(&html);
    assert!(list[0].contains("Grace period starts") && list[1].contains("Deleted"), "{list:?}");
    let sorted = [&items[1], &items[0]];
    let scale = Scale::new(&sorted, now());
    assert_eq!(scale.x(now()), AXIS_START);
    assert_eq!(scale.x(at(2027, 3, 1)), AXIS_END);
    assert!(scale.x(at(2027, 1, 1)) > AXIS_START && scale.x(at(2027, 1, 1)) < AXIS_END);
}

#[test]
fn every_kind_of_step_has_its_own_shape_and_dash_pattern() {
    let kinds = [Kind::Money, Kind::Grace, Kind::Suspended, Kind::Archived, Kind::Gone, Kind::Change];
    let drawn: Vec<String> = kinds.iter().map(|k| k.marker(10.0, 10.0).into_string()).collect();
    let dashes: Vec<Option<&str>> = kinds.iter().map(|k| k.dash()).collect();
    for i in 0..kinds.len() {
        for j in i + 1..kinds.len() {
            assert_ne!(drawn[i], drawn[j], "{:?} and {:?} look alike", kinds[i], kinds[j]);
            assert_ne!(dashes[i], dashes[j], "{:?} and {:?} dash alike", kinds[i], kinds[j]);
        }
    }
    for event in ["renewal_charge", "grace", "suspended", "archived", "deleted", "active", "plan_changed"] {
        assert!(kind(event).is_some(), "{event} is drawn");
    }
    assert_eq!(kind("notice:deletion_coming"), None);
}

#[test]
fn events_have_names_for_people() {
    assert_eq!(event_label("renewal_charge"), "Renewal charged");
    assert_eq!(event_label("grace"), "Grace period starts");
    assert_eq!(event_label("notice:deletion_coming"), "Notice: deletion coming");
    assert_eq!(event_label("notice:inactivity_warning"), "Notice: inactivity warning");
    assert_eq!(event_label("something_new"), "Something new");
    assert_eq!(event_label(""), "");
}

#[test]
fn hostile_event_names_are_escaped() {
    let html = timeline(&[item(now() + Duration::days(1), "<script>x</script>")], now()).into_string();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"));
}

#[test]
fn a_single_step_at_now_sits_in_the_middle() {
    let html = timeline(&[item(now(), "suspended")], now()).into_string();
    assert_eq!(list_items(&html).len(), 1);
    assert!(html.contains("1 step, on 5 Dec 2026"));
    assert!(html.contains(&format!("x1=\"{}\"", Num((AXIS_START + AXIS_END) / 2.0))));
}

#[test]
fn twenty_steps_close_together_and_years_apart_render_without_overlapping_labels() {
    let events = ["renewal_charge", "grace", "suspended", "archived", "deleted", "notice:deletion_coming", "active"];
    let mut items: Vec<TimelineItem> =
        (0..10).map(|i| item(now() - Duration::days(3) + Duration::hours(i * 5), events[i as usize % 7])).collect();
    items.extend((0..10).map(|i| charge(at(2027 + i, 12, 5), 4900 + i as u64, "EUR")));
    let html = timeline(&items, now()).into_string();
    let list = list_items(&html);
    assert_eq!(list.len(), 20);
    assert!(list.iter().filter(|li| li.contains("(before today)")).count() >= 3);
    assert!(list[19].contains("5 Dec 2036</time>: Renewal charged, 49.09 EUR"), "{}", list[19]);
    let mut sorted: Vec<&TimelineItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.at);
    let placed = place(&sorted, &Scale::new(&sorted, now()));
    assert_eq!(placed.len(), 19, "the one notice is listed, not drawn");
    let width = |p: &Placed| text_width(&[&p.label, &p.date]);
    for (i, a) in placed.iter().enumerate() {
        assert!(a.at.left >= 0.0 && a.at.left + width(a) <= WIDTH && a.x >= AXIS_START && a.x <= AXIS_END);
        for b in placed.iter().skip(i + 1).filter(|b| b.row == a.row) {
            let apart = a.at.left + width(a) <= b.at.left || b.at.left + width(b) <= a.at.left;
            assert!(apart, "{} and {} overlap on row {}", a.label, b.label, a.row);
        }
    }
    assert!(placed.iter().any(|p| p.row > 0), "close steps alternate rows");
}

#[test]
fn only_notices_are_listed_without_a_drawing() {
    let html = timeline(&[item(now() + Duration::days(2), "notice:renewal_coming")], now()).into_string();
    assert!(!html.contains("<svg") && list_items(&html).len() == 1);
}

#[test]
fn labels_at_the_edges_are_anchored_inside_the_drawing() {
    assert_eq!(spot(AXIS_START, 100.0), Spot { left: MARGIN, x: MARGIN, anchor: "start" });
    assert_eq!(spot(AXIS_END, 100.0), Spot { left: WIDTH - MARGIN - 100.0, x: WIDTH - MARGIN, anchor: "end" });
    assert_eq!(spot(360.0, 100.0), Spot { left: 310.0, x: 360.0, anchor: "middle" });
}

#[test]
fn svg_shapes_are_closed_so_an_html_parser_keeps_them_siblings() {
    let items: Vec<TimelineItem> = ["renewal_charge", "grace", "suspended", "archived", "deleted", "active"]
        .iter()
        .enumerate()
        .map(|(i, e)| item(now() + Duration::days(i as i64 * 9), e))
        .collect();
    let html = timeline(&items, now()).into_string();
    for tag in ["line", "circle", "path"] {
        let opened = html.matches(&format!("<{tag} ")).count();
        assert!(opened > 0, "{tag}");
        assert_eq!(opened, html.matches(&format!("</{tag}>")).count(), "{tag} is closed");
    }
}
