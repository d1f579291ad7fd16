//! Alert deliveries whose sender stopped (its lease ran out) are taken over once and sent; a
//! second stop gives up on them, as for digests.

use lodestar_store::alerts::deliveries::{self, AlertDelivery};
use lodestar_store::alerts::{self, events};
use lodestar_store::deliveries::Status;

use super::body::stored;
use super::message::notice;
use crate::error::SchedulerError;
use crate::service::{DeliveryCounters, Scheduler, delta};

impl Scheduler {
    /// Takes over expired alert deliveries (once each) and sends them; gives up on those taken
    /// over before. Returns how many this call took over.
    pub async fn recover_alert_leases(&self) -> Result<usize, SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        let mut taken = 0;
        for (row, recoveries) in deliveries::expired_leases(db, now).await? {
            if recoveries > 0 {
                let reason = format!(
                    "abandoned: the process sending it stopped twice (after {} attempt(s))",
                    row.attempts
                );
                if deliveries::abandon(db, row.id, &reason, now).await? {
                    tracing::error!(alert_delivery = row.id, "{reason}");
                }
                continue;
            }
            let lease_until = now + delta(self.inner.config.lease_timeout);
            let Some(row) = deliveries::take_over(db, row.id, now, lease_until).await? else {
                continue;
            };
            taken += 1;
            DeliveryCounters::bump(&self.inner.counters.takeovers);
            tracing::warn!(alert_delivery = row.id, channel = %row.channel, "taking over an alert delivery whose sender stopped");
            self.resend_alert_delivery(&row).await?;
        }
        Ok(taken)
    }

    async fn resend_alert_delivery(&self, row: &AlertDelivery) -> Result<(), SchedulerError> {
        let db = &self.inner.db;
        let fail = |why: &'static str| {
            deliveries::finish(db, row.id, Status::Failed, row.attempts, why, self.now())
        };
        let (Some(alert), Some(event)) = (
            alerts::find(db, row.alert_id).await?,
            events::get(db, row.event_id).await?,
        ) else {
            fail("its alert no longer exists").await?;
            return Ok(());
        };
        let (_, channels) = stored(&alert)?;
        let Some(channel) = channels.iter().find(|c| c.key() == row.channel) else {
            fail("the alert no longer has this channel").await?;
            return Ok(());
        };
        let n = notice(&alert, &event, &self.inner.config.public_url);
        self.send_alert_with_retries(&alert, row, channel, &n).await
    }
}
