//! §1.4: when a new Terms version is published, the administrators of every account are told
//! once. Every live account is in the due-time index, so each worker pages through its own
//! partitions (a Query, never a Scan), saving its place per partition so the next run continues.

use crate::lanes::PAGE;
use crate::steps::tell_of_terms;
use crate::summary::Run;
use chrono::{DateTime, Utc};
use platform::repo::sweep::Rollout;
use platform::App;
use std::time::Instant;

/// Whether the rollout is done in every one of `parts`.
pub(crate) async fn rollout(
    app: &App,
    parts: &[String],
    now: DateTime<Utc>,
    deadline: Instant,
    run: &Run,
) -> anyhow::Result<bool> {
    let version = app.config.terms_version.clone();
    let mut places = app.sweep.rollouts(&version, parts).await?;
    for pk in parts {
        let mut r = places.remove(pk).unwrap_or_default();
        // The place is saved at the partition's end and when time runs out, not per page:
        // walking a page again is harmless, as an account already told is skipped.
        while !r.done {
            if Instant::now() >= deadline {
                app.sweep.save_rollout(&version, pk, &r).await?;
                return Ok(false);
            }
            let (accounts, next) = app.sweep.accounts_page(pk, PAGE, r.start.take()).await?;
            run.tally(|s| s.items_read += accounts.len());
            for a in accounts {
                tell_of_terms(app, a?, &version, now, run).await?;
            }
            match next {
                Some(k) => r.start = Some(k),
                None => {
                    r = Rollout { done: true, start: None };
                    app.sweep.save_rollout(&version, pk, &r).await?;
                }
            }
        }
    }
    Ok(true)
}
