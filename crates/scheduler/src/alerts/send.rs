//! Sending an alert's notification to its channels: each delivery claimed in the log first, then
//! sent with retries and backoff on transient failures (5xx, timeouts), the lease renewed before
//! every attempt; a delivery that finally fails tells the alert's owners by e-mail, once.

use lodestar_mail::{Channel, HookClient, HookPost, OutgoingMail, SendError};
use lodestar_store::alerts::Alert;
use lodestar_store::alerts::deliveries::{self, AlertDelivery};
use lodestar_store::alerts::events::Event;
use lodestar_store::deliveries::Status;
use serde::Serialize;

use super::message::Notice;
use crate::error::SchedulerError;
use crate::service::{DeliveryCounters, FailedDelivery, Scheduler, delta};

/// One channel's result of a test send.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelOutcome {
    pub channel: String,
    pub ok: bool,
    pub response: String,
}

/// A short stable hash (FNV-1a) of a channel's key, for delivery ids.
fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Scheduler {
    fn hooks(&self) -> Result<&HookClient, SendError> {
        self.inner.hooks.as_ref().map_err(|e| SendError::Permanent {
            code: None,
            message: e.clone(),
        })
    }

    /// One attempt to one channel.
    async fn send_once(
        &self,
        channel: &Channel,
        notice: &Notice,
        delivery_key: &str,
    ) -> Result<String, SendError> {
        match channel {
            Channel::Email(to) => {
                let mail = OutgoingMail {
                    from: None,
                    to: to.clone(),
                    subject: notice.subject.clone(),
                    html: notice.html.clone(),
                    text: notice.text.clone(),
                    message_id: format!("<{delivery_key}@{}>", self.inner.domain),
                    headers: Vec::new(),
                };
                self.inner.mailer.send(&mail).await.map(|r| r.to_string())
            }
            Channel::Slack(url) => {
                let body = notice.slack.to_string();
                self.hooks()?
                    .post(&HookPost {
                        url,
                        body: body.as_bytes(),
                        secret: None,
                        delivery_id: delivery_key,
                    })
                    .await
            }
            Channel::Webhook { url, secret } => {
                let mut payload = notice.webhook.clone();
                if let Some(obj) = payload.as_object_mut() {
                    obj.insert("delivery".to_owned(), delivery_key.into());
                }
                let body = payload.to_string();
                self.hooks()?
                    .post(&HookPost {
                        url,
                        body: body.as_bytes(),
                        secret: Some(secret),
                        delivery_id: delivery_key,
                    })
                    .await
            }
        }
    }

    pub(super) async fn send_test(
        &self,
        channel: &Channel,
        notice: &Notice,
        key: &str,
    ) -> ChannelOutcome {
        let result = self.send_once(channel, notice, key).await;
        ChannelOutcome {
            channel: channel.key(),
            ok: result.is_ok(),
            response: match result {
                Ok(r) => r,
                Err(e) => e.to_string(),
            },
        }
    }

    /// Claims the event's deliveries: the rows this call won, pending and leased to it.
    pub(super) async fn claim_event(
        &self,
        alert: &Alert,
        event: &Event,
        channels: &[Channel],
    ) -> Result<Vec<AlertDelivery>, SchedulerError> {
        let claims: Vec<(String, String)> = channels
            .iter()
            .map(|c| {
                let key = c.key();
                let id = format!("alert-{}-{}-{}", alert.id, event.id, short_hash(&key));
                (key, id)
            })
            .collect();
        let now = self.now();
        let lease = delta(self.inner.config.lease_timeout);
        Ok(deliveries::claim(
            &self.inner.db,
            (alert.team_id, alert.id, event.id),
            &claims,
            now,
            now + lease,
        )
        .await?)
    }

    /// Sends rows this caller claimed.
    pub(super) async fn send_claimed(
        &self,
        alert: &Alert,
        rows: &[AlertDelivery],
        channels: &[Channel],
        notice: &Notice,
    ) -> Result<(), SchedulerError> {
        for row in rows {
            let Some(channel) = channels.iter().find(|c| c.key() == row.channel) else {
                continue;
            };
            self.send_alert_with_retries(alert, row, channel, notice)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn send_alert_with_retries(
        &self,
        alert: &Alert,
        row: &AlertDelivery,
        channel: &Channel,
        notice: &Notice,
    ) -> Result<(), SchedulerError> {
        let db = &self.inner.db;
        let lease = delta(self.inner.config.lease_timeout);
        let max = i32::try_from(self.inner.config.retry_max_attempts.max(1)).unwrap_or(i32::MAX);
        let mut wait = self.inner.config.retry_initial;
        let mut attempts = row.attempts;
        let mut last_error: Option<String> = None;
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
                return Ok(());
            }
            match self.send_once(channel, notice, &row.delivery_key).await {
                Ok(response) => {
                    deliveries::finish(db, row.id, Status::Sent, attempts, &response, self.now())
                        .await?;
                    DeliveryCounters::bump(&self.inner.counters.sent);
                    return Ok(());
                }
                Err(e) if e.is_transient() && attempts < max => {
                    tracing::warn!(alert_delivery = row.id, attempt = attempts, error = %e, "transient alert delivery failure; retrying");
                    DeliveryCounters::bump(&self.inner.counters.retried);
                    last_error = Some(e.to_string());
                    let now = self.now();
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
                    let error = e.to_string();
                    tracing::warn!(alert_delivery = row.id, attempts, %error, "alert delivery failed");
                    deliveries::finish(db, row.id, Status::Failed, attempts, &error, self.now())
                        .await?;
                    DeliveryCounters::bump(&self.inner.counters.failed);
                    self.tell_owners(alert, row, &error).await?;
                    return Ok(());
                }
            }
        }
    }

    /// Tells the alert's owner (the person who made it, while still a member; else the team's
    /// admins) that a delivery failed for good, once.
    async fn tell_owners(
        &self,
        alert: &Alert,
        row: &AlertDelivery,
        error: &str,
    ) -> Result<(), SchedulerError> {
        if !deliveries::take_owner_notice(&self.inner.db, row.id).await? {
            return Ok(());
        }
        self.tell_owner(&FailedDelivery {
            team_id: alert.team_id,
            owner_user_id: alert.owner_user_id,
            what: format!(
                "a notification of the alert \"{}\" (id {})",
                alert.name, alert.id
            ),
            short: format!("the alert \"{}\"", alert.name),
            target: &row.channel,
            error,
            recorded_at: format!("GET /api/v1/alerts/{}/events", alert.id),
            key: format!("alert-failure-{}", row.id),
        })
        .await
    }
}
