//! A schedule's channels beside its recipients: every target of a digest is one row of the
//! delivery log, named by an address (e-mail) or by a channel's key (`slack:…`, `webhook:…`).

use lodestar_mail::{Channel, HookPost, SendError};
use lodestar_store::schedules::Schedule;
use serde_json::{Value, json};

use super::Scheduler;
use crate::digest::Digest;

/// The schedule's channels; stored ones that do not read are left out (and logged).
pub(super) fn channels(schedule: &Schedule) -> Vec<Channel> {
    serde_json::from_str::<Value>(&schedule.channels)
        .map_err(|e| e.to_string())
        .and_then(|v| Channel::parse_list(&v))
        .unwrap_or_else(|e| {
            tracing::error!(schedule = schedule.id, error = %e, "stored channels do not read");
            Vec::new()
        })
}

/// Every target of the schedule's digests: its recipients, then its channels.
pub(super) fn targets(schedule: &Schedule) -> Vec<String> {
    let mut out = schedule.recipients.clone();
    for c in channels(schedule) {
        let target = match c {
            Channel::Email(a) => a,
            other => other.key(),
        };
        if !out.iter().any(|t| t.eq_ignore_ascii_case(&target)) {
            out.push(target);
        }
    }
    out
}

impl Scheduler {
    /// Posts a digest to a Slack or webhook target: `None` when `target` is an address.
    pub(super) async fn post_digest(
        &self,
        target: &str,
        channels: &[Channel],
        digest: &Digest,
        delivery_id: &str,
    ) -> Option<Result<String, SendError>> {
        let channel = channels.iter().find(|c| c.key() == target)?;
        let hooks = match &self.inner.hooks {
            Ok(h) => h,
            Err(e) => {
                return Some(Err(SendError::Permanent {
                    code: None,
                    message: e.clone(),
                }));
            }
        };
        let (url, secret, body) = match channel {
            Channel::Email(_) => return None,
            Channel::Slack(url) => (
                url,
                None,
                json!({
                    "text": digest.subject,
                    "blocks": [
                        {"type": "header", "text": {"type": "plain_text", "text": digest.subject.chars().take(150).collect::<String>()}},
                        {"type": "section", "text": {"type": "mrkdwn", "text": digest.text.chars().take(2900).collect::<String>()}}
                    ]
                }),
            ),
            Channel::Webhook { url, secret } => (
                url,
                Some(secret.as_str()),
                json!({
                    "type": "digest",
                    "delivery": delivery_id,
                    "subject": digest.subject,
                    "text": digest.text,
                }),
            ),
        };
        let body = body.to_string();
        Some(
            hooks
                .post(&HookPost {
                    url,
                    body: body.as_bytes(),
                    secret,
                    delivery_id,
                })
                .await,
        )
    }
}
