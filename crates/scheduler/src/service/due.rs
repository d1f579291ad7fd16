//! Due-time arithmetic: which occurrence of a schedule's cron is owed a digest, in the
//! schedule's timezone (computed here, never taken from the cron job's firing).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use lodestar_store::schedules::Schedule;

use crate::cron::CronSpec;
use crate::error::SchedulerError;

/// The next `n` occurrences of a schedule after `now` (none when paused or invalid).
pub fn next_runs(schedule: &Schedule, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut runs = Vec::with_capacity(n);
    let mut after = now;
    while runs.len() < n {
        let Some(next) = next_run(schedule, after) else {
            break;
        };
        runs.push(next);
        after = next;
    }
    runs
}

/// The next occurrence of a schedule strictly after `now`; `None` when paused (or invalid).
pub fn next_run(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if schedule.paused {
        return None;
    }
    let cron = CronSpec::parse(&schedule.cron).ok()?;
    let tz: Tz = schedule.timezone.parse().ok()?;
    cron.next_after(tz, now)
}

/// The occurrence a schedule owes a digest for at `now`: the latest at or before `now`, if it
/// came after the schedule became active and at most `grace` ago.
pub(super) fn due_at(
    schedule: &Schedule,
    cron: &CronSpec,
    tz: Tz,
    now: DateTime<Utc>,
    grace: Duration,
) -> Option<DateTime<Utc>> {
    due_since(cron, tz, now, grace, schedule.active_since)
}

pub(super) fn due_since(
    cron: &CronSpec,
    tz: Tz,
    now: DateTime<Utc>,
    grace: Duration,
    active_since: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let due = cron.latest_at_or_before(tz, now)?;
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    (due >= active_since && now.signed_duration_since(due) <= grace).then_some(due)
}

/// Which occurrences a run may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Firing {
    /// A job's trigger or a sweep: only occurrences since the schedule became active.
    Scheduled,
    /// [`Scheduler::fire_at`]: the caller says the schedule fired at that instant.
    Explicit,
}

pub(super) fn parse_schedule(schedule: &Schedule) -> Result<(CronSpec, Tz), SchedulerError> {
    let bad = |message: String| SchedulerError::Schedule {
        id: schedule.id,
        message,
    };
    let cron = CronSpec::parse(&schedule.cron).map_err(|e| bad(format!("the cron {e}")))?;
    let tz = schedule
        .timezone
        .parse::<Tz>()
        .map_err(|_| bad(format!("unknown timezone {:?}", schedule.timezone)))?;
    Ok((cron, tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("an RFC 3339 instant")
            .with_timezone(&Utc)
    }

    fn schedule(cron: &str, tz: &str, active_since: &str) -> Schedule {
        Schedule {
            id: 1,
            team_id: 1,
            report: "weekly".into(),
            cron: cron.into(),
            timezone: tz.into(),
            recipients: vec!["a@example.com".into()],
            channels: "[]".to_owned(),
            skip_empty: false,
            paused: false,
            active_since: at(active_since),
            created_at: at(active_since),
            updated_at: at(active_since),
            owner_user_id: None,
        }
    }

    #[test]
    fn next_run_follows_berlin_across_the_october_change() {
        let s = schedule("0 8 * * SUN", "Europe/Berlin", "2026-10-24T00:00:00Z");
        let first = next_run(&s, at("2026-10-24T12:00:00Z")).expect("a next run");
        assert_eq!(first, at("2026-10-25T07:00:00Z"));
        assert_eq!(next_run(&s, first), Some(at("2026-11-01T07:00:00Z")));
        let paused = Schedule { paused: true, ..s };
        assert_eq!(next_run(&paused, first), None);
    }

    #[test]
    fn a_fixed_time_in_a_skipped_hour_is_due_at_the_change_and_a_repeated_one_only_once() {
        let s = schedule("30 2 * * *", "Europe/Berlin", "2027-03-01T00:00:00Z");
        let (cron, tz) = parse_schedule(&s).expect("valid");
        let grace = Duration::from_secs(24 * 3600);
        // 2027-03-28: 02:30 is skipped; due at the change (03:00 CEST = 01:00Z), not before.
        assert_eq!(
            due_at(&s, &cron, tz, at("2027-03-28T00:59:59Z"), grace),
            Some(at("2027-03-27T01:30:00Z"))
        );
        assert_eq!(
            due_at(&s, &cron, tz, at("2027-03-28T01:00:00Z"), grace),
            Some(at("2027-03-28T01:00:00Z"))
        );
        // 2027-10-31: 02:30 comes twice; in the second pass the first one is still the due one.
        assert_eq!(
            due_at(&s, &cron, tz, at("2027-10-31T01:45:00Z"), grace),
            Some(at("2027-10-31T00:30:00Z"))
        );
        assert_eq!(
            next_run(&s, at("2027-10-31T00:30:00Z")),
            Some(at("2027-11-01T01:30:00Z"))
        );
    }

    #[test]
    fn an_occurrence_is_due_within_the_grace_window_after_activation_only() {
        let s = schedule("0 8 * * MON", "America/New_York", "2026-11-01T00:00:00Z");
        let (cron, tz) = parse_schedule(&s).expect("valid");
        let grace = Duration::from_secs(24 * 3600);
        let monday = at("2026-11-09T13:00:00Z");
        assert_eq!(due_at(&s, &cron, tz, monday, grace), Some(monday));
        assert_eq!(
            due_at(&s, &cron, tz, monday + TimeDelta::hours(23), grace),
            Some(monday)
        );
        assert_eq!(
            due_at(&s, &cron, tz, monday + TimeDelta::hours(25), grace),
            None
        );
        let late_start = schedule("0 8 * * MON", "America/New_York", "2026-11-09T14:00:00Z");
        assert_eq!(
            due_at(&late_start, &cron, tz, monday + TimeDelta::hours(2), grace),
            None,
            "a schedule created after 08:00 does not send that Monday's digest"
        );
    }
}
