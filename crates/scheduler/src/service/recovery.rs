//! Lease recovery: a pending row whose sender stopped is taken over once, then given up.

use lodestar_core::period::PeriodKey;
use lodestar_store::deliveries::{self, Delivery, Status};
use lodestar_store::schedules;

use super::outcome::outcome;
use super::{RecipientOutcome, Scheduler, delta};
use crate::error::SchedulerError;
use crate::spec::find_report;

impl Scheduler {
    /// Takes over pending rows whose sender's lease ran out (once each), and gives up on those
    /// already taken over once.
    pub async fn recover_leases(&self) -> Result<(), SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        for row in deliveries::expired_leases(db, now).await? {
            if self.inner.runs.stopping() {
                break;
            }
            if row.recoveries > 0 {
                let reason = format!(
                    "abandoned: the process sending it stopped twice (after {} attempt(s)); \
                     re-send it by hand",
                    row.attempts
                );
                if deliveries::abandon(db, row.id, &reason, now).await? {
                    tracing::error!(delivery = row.id, "{reason}");
                }
                continue;
            }
            let lease_until = now + delta(self.inner.config.lease_timeout);
            let Some(row) = deliveries::take_over(db, row.id, now, lease_until).await? else {
                continue;
            };
            super::DeliveryCounters::bump(&self.inner.counters.takeovers);
            tracing::warn!(delivery = row.id, recipient = %row.recipient, period = %row.period, "taking over a delivery whose sender stopped");
            let me = self.clone();
            self.inner.runs.spawn(async move {
                let _permit = me.inner.permits.acquire().await;
                if let Err(e) = me.redeliver(row, me.inner.config.retry_max_attempts).await {
                    tracing::error!(error = %e, "taking over a delivery failed");
                }
            });
        }
        Ok(())
    }

    /// Sends a row this caller holds again, remaking its digest.
    pub(super) async fn redeliver(
        &self,
        row: Delivery,
        max_attempts: u32,
    ) -> Result<RecipientOutcome, SchedulerError> {
        let db = &self.inner.db;
        let schedule = schedules::find(db, row.schedule_id).await?;
        let period = PeriodKey::parse(&row.period);
        let (schedule, period) = match (schedule, period) {
            (Some(schedule), Ok(period)) => (schedule, period),
            (None, _) => {
                return self
                    .finish(&row, Status::Failed, "its schedule no longer exists")
                    .await;
            }
            (_, Err(_)) => {
                let message = format!("stored period {:?} is not a period key", row.period);
                return self.finish(&row, Status::Failed, &message).await;
            }
        };
        let def = find_report(db, schedule.team_id, &schedule.report).await?;
        let mut out = self
            .deliver(
                &schedule,
                def.as_ref(),
                period,
                vec![row.clone()],
                max_attempts,
            )
            .await?;
        Ok(out
            .pop()
            .unwrap_or_else(|| outcome(&row, Status::Pending, None, None)))
    }
}
