//! What people ask for by hand: send a schedule's digest now, re-send a failed delivery.

use lodestar_core::period::PeriodKey;
use lodestar_store::deliveries::{self, NewDelivery};
use lodestar_store::schedules;

use super::due::parse_schedule;
use super::{Resend, Scheduler, SendNow, delta};
use crate::error::SchedulerError;
use crate::spec::find_report;

impl Scheduler {
    /// Sends the schedule's digest of the last complete period right away to every recipient,
    /// one attempt each, and reports each SMTP result. It is an explicit request: it is logged
    /// (origin `manual`, its own Message-ID) but neither blocked by nor counted as the claim of
    /// the scheduled delivery, so it may repeat a period already sent. `None`: no such schedule.
    pub async fn send_now(
        &self,
        team_id: i32,
        schedule_id: i32,
    ) -> Result<Option<SendNow>, SchedulerError> {
        self.send_by_hand(team_id, schedule_id, None).await
    }

    /// The same, to `to` only (a person trying a schedule out sends it to themself first).
    pub async fn send_digest_test(
        &self,
        team_id: i32,
        schedule_id: i32,
        to: &str,
    ) -> Result<Option<SendNow>, SchedulerError> {
        self.send_by_hand(team_id, schedule_id, Some(to)).await
    }

    async fn send_by_hand(
        &self,
        team_id: i32,
        schedule_id: i32,
        only: Option<&str>,
    ) -> Result<Option<SendNow>, SchedulerError> {
        let db = &self.inner.db;
        let Some(mut schedule) = schedules::get(db, team_id, schedule_id).await? else {
            return Ok(None);
        };
        if let Some(to) = only {
            schedule.recipients = vec![to.to_owned()];
        }
        let (_, tz) = parse_schedule(&schedule)?;
        let def = find_report(db, team_id, &schedule.report).await?;
        let kind = def
            .as_ref()
            .map_or(lodestar_core::period::PeriodKind::Week, |d| d.period_kind);
        let now = self.now();
        let period = PeriodKey::last_complete(kind, now, tz);
        let tag = format!("{period}-now-{}", now.timestamp_millis());
        let rows: Vec<NewDelivery> = super::channels::targets(&schedule)
            .iter()
            .map(|r| NewDelivery {
                recipient: r.clone(),
                message_id: self.message_id(schedule.id, &tag, r),
            })
            .collect();
        let rows = deliveries::insert_manual(
            db,
            (team_id, schedule.id),
            &period.to_string(),
            &rows,
            now,
            now + delta(self.inner.config.lease_timeout),
        )
        .await?;
        let results = self
            .deliver(&schedule, def.as_ref(), period, rows, 1)
            .await?;
        Ok(Some(SendNow {
            schedule: schedule.id,
            period: period.to_string(),
            results,
        }))
    }

    /// Re-sends a failed delivery of the team once, with its original Message-ID.
    pub async fn resend(&self, team_id: i32, delivery_id: i32) -> Result<Resend, SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        let lease_until = now + delta(self.inner.config.lease_timeout);
        match deliveries::reopen_failed(db, team_id, delivery_id, now, lease_until).await? {
            Some(row) => Ok(Resend::Done(self.redeliver(row, 1).await?)),
            None => match deliveries::get(db, team_id, delivery_id).await? {
                Some(row) => Ok(Resend::NotFailed(row.status)),
                None => Ok(Resend::NotFound),
            },
        }
    }
}
