//! "Now" comes from the event, never from the machine clock.

use chrono::{DateTime, TimeZone, Utc};

/// API Gateway sends `timeEpoch` in milliseconds, `cargo lambda watch` in seconds: accept both.
pub fn from_epoch(v: i64) -> Option<DateTime<Utc>> {
    // Any value below 10^11 read as seconds is before the year 5138; as milliseconds, before 1973.
    if v.abs() < 100_000_000_000 {
        Utc.timestamp_opt(v, 0).single()
    } else {
        Utc.timestamp_millis_opt(v).single()
    }
}

pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// A moment as mail text shows it: `2025-03-31 12:00 UTC`.
pub fn mail_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_and_milliseconds_give_the_same_moment() {
        let s = from_epoch(1_764_000_000).unwrap();
        let ms = from_epoch(1_764_000_000_000).unwrap();
        assert_eq!(s, ms);
        assert_eq!(s.to_rfc3339(), "2025-11-24T16:00:00+00:00");
    }

    #[test]
    fn mail_shows_a_moment_to_the_minute_in_utc() {
        assert_eq!(mail_time(from_epoch(1_764_000_045).unwrap()), "2025-11-24 16:00 UTC");
    }
}
