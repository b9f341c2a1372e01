//! The forecast drawn as a timeline (SPEC: the account page): an inline SVG rendered on the server,
//! each upcoming step at its date on a horizontal time axis, today marked, followed by the same
//! steps as an ordered list.
//!
//! Accessibility: readable without colour (everything is drawn in the text colour; each kind of
//! step has its own marker shape and leader dash pattern, and every drawn step is labelled with its
//! name and date). The `<svg role="img">` is named by its `<title>` and described, through
//! `aria-describedby`, by the `<ol>` that follows it: the list is visible to everyone and is the
//! text equivalent, so nothing is said only by the drawing; the SVG's own `<desc>` is a one-line
//! summary for anyone reading the SVG alone. Notices (`notice:*`) are in the list but not drawn,
//! to keep the drawing legible. The ids are fixed (`forecast-…`): one timeline per page.

use crate::money;
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup};

/// One step of the forecast, as the account view gives it (`forecast: [{at, event, amount?, currency?}]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineItem {
    pub at: DateTime<Utc>,
    pub event: String,
    /// Minor units of `currency` (a renewal charge's price).
    pub amount: Option<u64>,
    pub currency: Option<String>,
}

/// A person's name for a forecast event (`renewal_charge` → "Renewal charged").
pub fn event_label(event: &str) -> String {
    let known = match event {
        "renewal_charge" => "Renewal charged",
        "renewed" => "Renews",
        "payment" => "Payment",
        "active" => "Active",
        "grace" => "Grace period starts",
        "suspended" => "Suspended",
        "archived" => "Archived",
        "terminated" => "Terminated",
        "deleted" => "Deleted",
        "plan_changed" => "Plan changes",
        "notice:renewal_coming" => "Notice: renewal coming",
        "notice:grace_started" => "Notice: grace period started",
        "notice:suspension_coming" => "Notice: suspension coming",
        "notice:deletion_coming" => "Notice: deletion coming",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let (prefix, name) = match event.strip_prefix("notice:") {
        Some(rest) => ("Notice: ", rest),
        None => ("", event),
    };
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    let sentence = match (prefix.is_empty(), chars.next()) {
        (true, Some(first)) => first.to_uppercase().chain(chars).collect(),
        _ => words,
    };
    format!("{prefix}{sentence}")
}

/// The step's name with its amount, if it has one: "Renewal charged, 49.00 USD".
fn item_label(item: &TimelineItem) -> String {
    let name = event_label(&item.event);
    match (item.amount, item.currency.as_deref()) {
        (Some(amount), Some(currency)) => format!("{name}, {}", money(amount, currency)),
        (Some(amount), None) => format!("{name}, {}", money(amount, "").trim_end()),
        _ => name,
    }
}

fn human_date(at: DateTime<Utc>) -> String {
    at.format("%-d %b %Y").to_string()
}

fn machine_date(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How a step is drawn: a marker shape and a leader dash pattern per kind, so no two kinds differ
/// only by colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Money,
    Grace,
    Suspended,
    Archived,
    Gone,
    Change,
}

fn kind(event: &str) -> Option<Kind> {
    if event.starts_with("notice:") {
        return None;
    }
    Some(match event {
        "renewal_charge" | "renewed" | "payment" => Kind::Money,
        "grace" => Kind::Grace,
        "suspended" => Kind::Suspended,
        "archived" => Kind::Archived,
        "deleted" | "terminated" => Kind::Gone,
        _ => Kind::Change,
    })
}

impl Kind {
    fn dash(self) -> Option<&'static str> {
        match self {
            Kind::Money => None,
            Kind::Grace => Some("6 3"),
            Kind::Suspended => Some("2 2"),
            Kind::Archived => Some("8 3 2 3"),
            Kind::Gone => Some("1 3"),
            Kind::Change => Some("4 4"),
        }
    }

    /// The marker centred on (x, y): filled circle, hollow diamond, filled square, hollow
    /// triangle, cross, hollow circle.
    fn marker(self, x: f64, y: f64) -> Markup {
        let (x, y) = (Num(x), Num(y));
        let path = |d: String, fill: &str| html! { path d=(d) fill=(fill) stroke="currentColor" stroke-width="2" {} };
        match self {
            Kind::Money => html! { circle cx=(x) cy=(y) r="6" fill="currentColor" {} },
            Kind::Change => html! { circle cx=(x) cy=(y) r="6" fill="#fff" stroke="currentColor" stroke-width="2" {} },
            Kind::Grace => path(format!("M{x} {}l7 7-7 7-7-7z", Num(y.0 - 7.0)), "#fff"),
            Kind::Suspended => path(format!("M{} {}h12v12h-12z", Num(x.0 - 6.0), Num(y.0 - 6.0)), "currentColor"),
            Kind::Archived => path(format!("M{x} {}l7 12h-14z", Num(y.0 - 7.0)), "#fff"),
            Kind::Gone => html! {
                path d=(format!("M{} {}l12 12m0-12l-12 12", Num(x.0 - 6.0), Num(y.0 - 6.0)))
                    stroke="currentColor" stroke-width="3" {}
            },
        }
    }
}

/// A coordinate with one decimal.
#[derive(Debug, Clone, Copy)]
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

impl maud::Render for Num {
    fn render_to(&self, buffer: &mut String) {
        buffer.push_str(&self.to_string());
    }
}

const WIDTH: f64 = 720.0;
/// The axis runs between these, leaving room for the end markers.
const AXIS_START: f64 = 30.0;
const AXIS_END: f64 = 690.0;
const AXIS_Y: f64 = 44.0;
const FIRST_ROW: f64 = AXIS_Y + 22.0;
const ROW_HEIGHT: f64 = 38.0;
const LINE_HEIGHT: f64 = 15.0;
const FONT_SIZE: f64 = 12.0;
/// A generous average advance of a 12px sans-serif character, so estimated boxes do not touch.
const CHAR_WIDTH: f64 = 7.5;
const LABEL_GAP: f64 = 10.0;
const MARGIN: f64 = 2.0;

/// One drawn step: where its marker is, and where its two-line label goes.
struct Placed<'a> {
    item: &'a TimelineItem,
    kind: Kind,
    x: f64,
    label: String,
    date: String,
    at: Spot,
    row: usize,
}

/// Where a date falls on the axis: between the earliest and the latest of the steps and today.
struct Scale {
    first: DateTime<Utc>,
    span: f64,
}

impl Scale {
    fn new(items: &[&TimelineItem], now: DateTime<Utc>) -> Scale {
        let first = items.iter().map(|i| i.at).min().map_or(now, |t| t.min(now));
        let last = items.iter().map(|i| i.at).max().map_or(now, |t| t.max(now));
        Scale { first, span: (last - first).num_seconds() as f64 }
    }

    fn x(&self, at: DateTime<Utc>) -> f64 {
        if self.span <= 0.0 {
            return (AXIS_START + AXIS_END) / 2.0;
        }
        let share = ((at - self.first).num_seconds() as f64 / self.span).clamp(0.0, 1.0);
        AXIS_START + share * (AXIS_END - AXIS_START)
    }
}

/// Where a label `width` wide goes: centred on `x` as far as the drawing allows, else flush with
/// the edge it would cross (anchored there, so a label wider than estimated still stays inside).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spot {
    /// The estimated left edge, for keeping labels apart.
    left: f64,
    /// Where the text is anchored, and how.
    x: f64,
    anchor: &'static str,
}

/// The estimated width of the widest of these lines.
fn text_width(lines: &[&str]) -> f64 {
    lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * CHAR_WIDTH
}

fn spot(x: f64, width: f64) -> Spot {
    if x - width / 2.0 < MARGIN {
        Spot { left: MARGIN, x: MARGIN, anchor: "start" }
    } else if x + width / 2.0 > WIDTH - MARGIN {
        Spot { left: WIDTH - MARGIN - width, x: WIDTH - MARGIN, anchor: "end" }
    } else {
        Spot { left: x - width / 2.0, x, anchor: "middle" }
    }
}

/// Places each drawn step at its date, then puts its label in the first row where it does not
/// touch the label before it: rows alternate when steps are close, a sparse forecast stays on one.
fn place<'a>(items: &[&'a TimelineItem], scale: &Scale) -> Vec<Placed<'a>> {
    let mut row_ends: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for &item in items {
        let Some(kind) = kind(&item.event) else { continue };
        let x = scale.x(item.at);
        let label = item_label(item);
        let date = human_date(item.at);
        let width = text_width(&[&label, &date]);
        let at = spot(x, width);
        let row = match row_ends.iter().position(|end| *end + LABEL_GAP <= at.left) {
            Some(r) => r,
            None => {
                row_ends.push(0.0);
                row_ends.len() - 1
            }
        };
        if let Some(end) = row_ends.get_mut(row) {
            *end = at.left + width;
        }
        out.push(Placed { item, kind, x, label, date, at, row });
    }
    out
}

/// The forecast as a timeline: the SVG (when there is a step to draw) and the list of every step
/// with its date. An empty forecast is a sentence.
pub fn timeline(items: &[TimelineItem], now: DateTime<Utc>) -> Markup {
    if items.is_empty() {
        return html! { p.timeline-empty { "No upcoming steps: nothing is scheduled." } "\n" };
    }
    let mut sorted: Vec<&TimelineItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.at);
    let scale = Scale::new(&sorted, now);
    let placed = place(&sorted, &scale);
    html! {
        div.timeline {
            "\n"
            @if !placed.is_empty() { (chart(&placed, &scale, now)) "\n" }
            ol #forecast-steps {
                "\n"
                @for item in &sorted {
                    li {
                        time datetime=(machine_date(item.at)) { (human_date(item.at)) }
                        ": " (item_label(item))
                        @if item.at < now { " (before today)" }
                    }
                    "\n"
                }
            }
            "\n"
        }
        "\n"
    }
}

fn chart(placed: &[Placed], scale: &Scale, now: DateTime<Utc>) -> Markup {
    let rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(1);
    let height = FIRST_ROW + rows as f64 * ROW_HEIGHT;
    let today_x = scale.x(now);
    let today = format!("Today, {}", human_date(now));
    let today_at = spot(today_x, text_width(&[&today]));
    let (first, last) = match (placed.first(), placed.last()) {
        (Some(f), Some(l)) => (f.date.as_str(), l.date.as_str()),
        _ => ("", ""),
    };
    let steps = match placed.len() {
        1 => format!("1 step, on {first}"),
        n => format!("{n} steps from {first} to {last}"),
    };
    let summary = format!(
        "{steps}; today, {}, is marked. Every step, with its date, is in the list that follows.",
        human_date(now)
    );
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (Num(WIDTH)) " " (Num(height)) }
            role="img" aria-labelledby="forecast-title" aria-describedby="forecast-steps"
            font-family="system-ui, sans-serif" font-size=(FONT_SIZE) fill="currentColor" {
            title #forecast-title { "Forecast: what happens if nobody acts" }
            desc { (summary) }
            line x1=(Num(AXIS_START)) y1=(Num(AXIS_Y)) x2=(Num(AXIS_END)) y2=(Num(AXIS_Y))
                stroke="currentColor" stroke-width="2" {}
            g stroke="currentColor" stroke-width="1" stroke-opacity="0.6" {
                @for p in placed {
                    @let top = FIRST_ROW + p.row as f64 * ROW_HEIGHT;
                    line x1=(Num(p.x)) y1=(Num(AXIS_Y + 8.0)) x2=(Num(p.x)) y2=(Num(top))
                        stroke-dasharray=[p.kind.dash()] {}
                }
            }
            line x1=(Num(today_x)) y1=(Num(AXIS_Y - 14.0)) x2=(Num(today_x)) y2=(Num(AXIS_Y + 14.0))
                stroke="currentColor" stroke-width="4" class="today" {}
            @for p in placed { (p.kind.marker(p.x, AXIS_Y)) }
            g stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke" {
                text x=(Num(today_at.x)) y=(Num(AXIS_Y - 20.0)) text-anchor=(today_at.anchor) font-weight="700" {
                    (today)
                }
                @for p in placed {
                    @let baseline = FIRST_ROW + p.row as f64 * ROW_HEIGHT + LINE_HEIGHT;
                    text x=(Num(p.at.x)) y=(Num(baseline)) text-anchor=(p.at.anchor)
                        data-event=(p.item.event) {
                        tspan font-weight="600" { (p.label) }
                        tspan x=(Num(p.at.x)) dy=(Num(LINE_HEIGHT)) { (p.date) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
