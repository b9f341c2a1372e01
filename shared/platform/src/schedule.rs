//! The schedule's event: its time, and whether a time that far from the clock may be acted on.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Outside local mode, how far an event's time may be from the wall clock: a schedule is late by
/// minutes at most, and a time far off would run days of the lifecycle at once.
pub const MAX_SKEW_MINUTES: i64 = 15;

/// "Now" of a schedule: the classic rule's `time`, or the Scheduler's `<aws.scheduler.scheduled-time>`.
pub fn schedule_time(v: &Value) -> Option<DateTime<Utc>> {
    ["time", "scheduled_time", "scheduledTime"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .and_then(domain::time::parse_rfc3339)
}

/// The event's time, refused (with why) when it is missing, or far from the clock outside local
/// mode (`LOCAL_REPLAY=1`, which lets the tests replay months).
pub fn event_now(v: &Value, local_replay: bool) -> Result<DateTime<Utc>, String> {
    let now = schedule_time(v).ok_or("the event has no `time` or `scheduled_time` (RFC 3339)")?;
    if !local_replay && (now - Utc::now()).num_minutes().abs() > MAX_SKEW_MINUTES {
        tracing::error!(event_time = %now, "refused: the event's time is too far from the clock");
        return Err(format!(
            "the event's time {now} is more than {MAX_SKEW_MINUTES} minutes from the clock (LOCAL_REPLAY is off)"
        ));
    }
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classic_rule_and_a_scheduler_target_both_give_the_time() {
        let classic = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "2027-03-01T00:05:00Z"});
        let scheduler = serde_json::json!({"scheduled_time": "2027-03-01T00:05:00Z"});
        assert_eq!(schedule_time(&classic), schedule_time(&scheduler));
        assert!(schedule_time(&classic).is_some());
        assert!(schedule_time(&serde_json::json!({})).is_none());
    }

    #[test]
    fn outside_local_mode_only_a_time_near_the_clock_is_taken() {
        let at = |t: DateTime<Utc>| serde_json::json!({"time": t.to_rfc3339()});
        assert!(event_now(&at(Utc::now() + chrono::Duration::days(30)), false).is_err());
        assert!(event_now(&at(Utc::now() - chrono::Duration::minutes(5)), false).is_ok());
        assert!(event_now(&at(Utc::now() + chrono::Duration::days(30)), true).is_ok());
    }
}
