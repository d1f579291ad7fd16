//! Making a digest and sending it to the rows a caller holds: one attempt or several, with
//! exponential backoff on transient failures and the lease renewed before each attempt and wait.

use lodestar_core::period::PeriodKey;
use lodestar_mail::{OutgoingMail, digest_message_id};
use lodestar_report::definition::ReportDefinition;
use lodestar_store::deliveries::{self, Delivery, Status};
use lodestar_store::schedules::Schedule;
use lodestar_store::secrets;
use lodestar_store::teams::{self, Team};

use super::outcome::outcome;
use super::{DeliveryCounters, FailedDelivery, RecipientOutcome, Scheduler, delta};
use crate::digest::{self, Digest, Links};
use crate::error::SchedulerError;

impl Scheduler {
    pub(super) fn message_id(&self, schedule_id: i32, period: &str, recipient: &str) -> String {
        digest_message_id(
            i64::from(schedule_id),
            period,
            recipient,
            &self.inner.domain,
        )
    }

    async fn share_secret(&self) -> Result<&[u8], SchedulerError> {
        let secret = self
            .inner
            .share_secret
            .get_or_try_init(|| secrets::get_or_create(&self.inner.db, "share"))
            .await?;
        Ok(secret)
    }

    async fn digest(
        &self,
        team: &Team,
        def: &ReportDefinition,
        period: PeriodKey,
    ) -> Result<Digest, SchedulerError> {
        let secret = self.share_secret().await?;
        let now = self.now();
        let links = Links {
            public_url: &self.inner.config.public_url,
            secret,
            expires_at: now + delta(self.inner.config.share_link_ttl),
            issued_at: now,
        };
        digest::build(&self.inner.engine, team, def, period, &links).await
    }

    /// Makes the digest once and sends it to each claimed row (which this caller holds).
    pub(super) async fn deliver(
        &self,
        schedule: &Schedule,
        def: Option<&ReportDefinition>,
        period: PeriodKey,
        rows: Vec<Delivery>,
        max_attempts: u32,
    ) -> Result<Vec<RecipientOutcome>, SchedulerError> {
        let db = &self.inner.db;
        let made = match (teams::find_by_id(db, schedule.team_id).await?, def) {
            (Some(team), Some(def)) => self.digest(&team, def, period).await,
            (None, _) => Err(SchedulerError::Schedule {
                id: schedule.id,
                message: "its team no longer exists".to_owned(),
            }),
            (_, None) => Err(SchedulerError::Schedule {
                id: schedule.id,
                message: format!("unknown report {:?}", schedule.report),
            }),
        };
        let digest = match made {
            Ok(d) => d,
            Err(e) => {
                // Never send a digest that could not be computed: record why, for each recipient.
                let error = format!("the digest could not be made: {e}");
                tracing::error!(schedule = schedule.id, %period, %error);
                return self.finish_all(&rows, Status::Failed, &error).await;
            }
        };
        if schedule.skip_empty
            && digest.empty
            && rows
                .iter()
                .all(|r| r.origin == deliveries::Origin::Schedule)
        {
            let reason = "skipped: no data for the period";
            return self.finish_all(&rows, Status::Skipped, reason).await;
        }
        let channels = super::channels::channels(schedule);
        let mut out = Vec::with_capacity(rows.len());
        let mut silent: Option<String> = None;
        for row in rows {
            // A server that did not answer one recipient in time (retries included) would make
            // each next one wait as long: the run ends with what it knows, so a send-now answers
            // within one timeout and a slot is not held for one per recipient. Those rows are
            // not sent, and say so; they can be re-sent.
            if let Some(why) = &silent {
                let reason = format!("not sent: {why} for an earlier recipient");
                out.push(self.finish(&row, Status::Failed, &reason).await?);
                continue;
            }
            let (result, timed_out) = self
                .send_with_retries(schedule, &row, &digest, &channels, max_attempts)
                .await?;
            if timed_out && result.status == Status::Failed {
                silent = result.error.clone();
            }
            out.push(result);
        }
        Ok(out)
    }

    /// Sends one claimed row: transient failures wait and try again, doubling the wait, up to
    /// `max_attempts` in all; the lease is extended before every attempt and every wait. Also
    /// says whether the last attempt timed out.
    async fn send_with_retries(
        &self,
        schedule: &Schedule,
        row: &Delivery,
        digest: &Digest,
        channels: &[lodestar_mail::Channel],
        max_attempts: u32,
    ) -> Result<(RecipientOutcome, bool), SchedulerError> {
        let db = &self.inner.db;
        let lease = delta(self.inner.config.lease_timeout);
        let mail = OutgoingMail {
            from: None,
            to: row.recipient.clone(),
            subject: digest.subject.clone(),
            html: digest.html.clone(),
            text: digest.text.clone(),
            message_id: row.message_id.clone(),
            headers: Vec::new(),
        };
        let max_attempts = i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX);
        let mut attempts = row.attempts;
        let mut last_error = row.error.clone();
        let mut wait = self.inner.config.retry_initial;
        let stop_at = attempts.saturating_add(max_attempts);
        loop {
            attempts += 1;
            let now = self.now();
            if !deliveries::renew(
                db,
                row.id,
                attempts,
                last_error.as_deref(),
                now,
                now + lease,
            )
            .await?
            {
                // Someone else finished it (a re-send, or a take-over after our lease ran out).
                let held_elsewhere = outcome(
                    row,
                    Status::Pending,
                    None,
                    Some("no longer held by this sender".to_owned()),
                );
                return Ok((held_elsewhere, false));
            }
            let sent = match self
                .post_digest(&row.recipient, channels, digest, &row.message_id)
                .await
            {
                Some(posted) => posted,
                None => self.inner.mailer.send(&mail).await.map(|r| r.to_string()),
            };
            match sent {
                Ok(response) => {
                    deliveries::mark_sent(db, row.id, attempts, &response, self.now()).await?;
                    DeliveryCounters::bump(&self.inner.counters.sent);
                    return Ok((outcome(row, Status::Sent, Some(response), None), false));
                }
                Err(e) if e.is_transient() && attempts < stop_at => {
                    tracing::warn!(delivery = row.id, attempt = attempts, error = %e, wait_ms = wait.as_millis() as u64, "transient delivery failure; retrying");
                    DeliveryCounters::bump(&self.inner.counters.retried);
                    let now = self.now();
                    last_error = Some(e.message().to_owned());
                    deliveries::renew(
                        db,
                        row.id,
                        attempts,
                        last_error.as_deref(),
                        now,
                        now + delta(wait) + lease,
                    )
                    .await?;
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => {
                    let error = e.message().to_owned();
                    tracing::warn!(delivery = row.id, attempts, %error, "delivery failed");
                    deliveries::finish(db, row.id, Status::Failed, attempts, &error, self.now())
                        .await?;
                    DeliveryCounters::bump(&self.inner.counters.failed);
                    self.tell_schedule_owner(schedule, row, &error).await?;
                    let failed = outcome(row, Status::Failed, None, Some(error));
                    return Ok((failed, e.is_timeout()));
                }
            }
        }
    }

    /// Tells the schedule's owner that the delivery `row` failed for good, once.
    async fn tell_schedule_owner(
        &self,
        schedule: &Schedule,
        row: &Delivery,
        error: &str,
    ) -> Result<(), SchedulerError> {
        if !deliveries::take_owner_notice(&self.inner.db, row.id).await? {
            return Ok(());
        }
        self.tell_owner(&FailedDelivery {
            team_id: schedule.team_id,
            owner_user_id: schedule.owner_user_id,
            what: format!(
                "the {} digest of the report \"{}\" (schedule {})",
                row.period, schedule.report, schedule.id
            ),
            short: format!("the digest of the report \"{}\"", schedule.report),
            target: &row.recipient,
            error,
            recorded_at: format!("GET /api/v1/deliveries?schedule={}", schedule.id),
            key: format!("digest-failure-{}", row.id),
        })
        .await
    }

    /// Closes rows this caller holds without sending them: each gets `status` and `reason`.
    async fn finish_all(
        &self,
        rows: &[Delivery],
        status: Status,
        reason: &str,
    ) -> Result<Vec<RecipientOutcome>, SchedulerError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.finish(row, status, reason).await?);
        }
        Ok(out)
    }

    /// Closes one row this caller holds without sending it.
    pub(super) async fn finish(
        &self,
        row: &Delivery,
        status: Status,
        reason: &str,
    ) -> Result<RecipientOutcome, SchedulerError> {
        deliveries::finish(
            &self.inner.db,
            row.id,
            status,
            row.attempts,
            reason,
            self.now(),
        )
        .await?;
        Ok(outcome(row, status, None, Some(reason.to_owned())))
    }
}
