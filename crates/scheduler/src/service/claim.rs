//! Serving a schedule's due occurrence: sweeps and triggers start a run, a run claims the
//! recipients nobody claimed yet and sends to those it won.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lodestar_core::period::PeriodKey;
use lodestar_store::deliveries::{self, NewDelivery, Status};
use lodestar_store::schedules::{self, Schedule};
use tokio::sync::Semaphore;

use super::due::{Firing, due_at, due_since, parse_schedule};
use super::{FireReport, Scheduler, crash_hook, delta, lock};
use crate::error::SchedulerError;
use crate::spec::find_report;

impl Scheduler {
    /// Serves every schedule whose due occurrence this process has not served yet.
    pub async fn sweep(&self) -> Result<(), SchedulerError> {
        let now = self.now();
        let all = schedules::list_all(&self.inner.db).await?;
        let mut alive = HashSet::with_capacity(all.len());
        for s in all.iter().filter(|s| !s.paused) {
            alive.insert(s.id);
            let Ok((cron, tz)) = parse_schedule(s) else {
                continue;
            };
            let Some(due) = due_at(s, &cron, tz, now, self.inner.config.grace) else {
                continue;
            };
            if lock(&self.inner.served).get(&s.id) != Some(&due) {
                self.spawn_process(s.id);
            }
        }
        lock(&self.inner.served).retain(|id, _| alive.contains(id));
        Ok(())
    }

    pub(super) fn spawn_process(&self, schedule_id: i32) {
        if self.inner.runs.stopping() || !lock(&self.inner.in_flight).insert(schedule_id) {
            return;
        }
        let me = self.clone();
        self.inner.runs.spawn(async move {
            let result = async {
                let Some(schedule) = schedules::find(&me.inner.db, schedule_id).await? else {
                    return Ok(FireReport::default());
                };
                let team = me.team_permits(schedule.team_id);
                let _team_permit = team.acquire().await;
                let _permit = me.inner.permits.acquire().await;
                // Read again: the wait for a slot may have been long.
                let Some(schedule) = schedules::find(&me.inner.db, schedule_id).await? else {
                    return Ok(FireReport::default());
                };
                me.process(&schedule, me.now(), Firing::Scheduled).await
            }
            .await;
            lock(&me.inner.in_flight).remove(&schedule_id);
            if let Err(e) = result {
                tracing::error!(schedule = schedule_id, error = %e, "digest run failed");
            }
        });
    }

    fn team_permits(&self, team_id: i32) -> Arc<Semaphore> {
        let per_team = self.inner.config.team_concurrency.max(1);
        Arc::clone(
            lock(&self.inner.team_permits)
                .entry(team_id)
                .or_insert_with(|| Arc::new(Semaphore::new(per_team))),
        )
    }

    /// Fires one schedule as if the time were `at`: serves its latest occurrence at or before
    /// `at` (within the grace window, whenever the schedule was created) and waits for the sends,
    /// retries included. What a cron job triggers, callable directly; the claim still holds, so
    /// a period already delivered is not delivered again.
    pub async fn fire_at(
        &self,
        schedule_id: i32,
        at: DateTime<Utc>,
    ) -> Result<FireReport, SchedulerError> {
        let Some(schedule) = schedules::find(&self.inner.db, schedule_id).await? else {
            return Ok(FireReport::default());
        };
        self.process(&schedule, at, Firing::Explicit).await
    }

    async fn process(
        &self,
        schedule: &Schedule,
        at: DateTime<Utc>,
        firing: Firing,
    ) -> Result<FireReport, SchedulerError> {
        let mut report = FireReport::default();
        if schedule.paused {
            return Ok(report);
        }
        let (cron, tz) = parse_schedule(schedule)?;
        let active_since = match firing {
            Firing::Scheduled => schedule.active_since,
            Firing::Explicit => DateTime::<Utc>::MIN_UTC,
        };
        let Some(due) = due_since(&cron, tz, at, self.inner.config.grace, active_since) else {
            return Ok(report);
        };
        report.due = Some(due);
        let db = &self.inner.db;
        let def = find_report(db, schedule.team_id, &schedule.report).await?;
        // Without its report the schedule still owes the digest; the claim below records why
        // it could not be made.
        let kind = def
            .as_ref()
            .map_or(lodestar_core::period::PeriodKind::Week, |d| d.period_kind);
        let period = PeriodKey::last_complete(kind, due, tz);
        report.period = Some(period.to_string());

        let claimed = deliveries::claimed(db, &[schedule.id], &[period.to_string()]).await?;
        let missing: Vec<NewDelivery> = super::channels::targets(schedule)
            .iter()
            .filter(|r| !claimed.iter().any(|(_, _, c)| c == *r))
            .map(|r| NewDelivery {
                recipient: r.clone(),
                message_id: self.message_id(schedule.id, &period.to_string(), r),
            })
            .collect();
        if !missing.is_empty() {
            let now = self.now();
            let won = deliveries::claim(
                db,
                (schedule.team_id, schedule.id),
                &period.to_string(),
                &missing,
                now,
                now + delta(self.inner.config.lease_timeout),
            )
            .await?;
            report.claimed = won.len();
            if !won.is_empty() {
                crash_hook::after_claim(&self.inner.config);
                let outcomes = self
                    .deliver(
                        schedule,
                        def.as_ref(),
                        period,
                        won,
                        self.inner.config.retry_max_attempts,
                    )
                    .await?;
                for o in outcomes {
                    match o.status {
                        Status::Sent => report.sent += 1,
                        Status::Skipped => report.skipped += 1,
                        Status::Failed | Status::Pending => report.failed += 1,
                    }
                }
            }
        }
        lock(&self.inner.served).insert(schedule.id, due);
        Ok(report)
    }
}
