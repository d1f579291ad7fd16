//! Telling whoever made an alert or a digest schedule, by e-mail, that one of its deliveries
//! failed for good (a bounce, a 4xx, retries exhausted): the person who made it while still a
//! member of the team, else the team's admins. Each caller first takes its delivery row's
//! one-time notice flag, so the owner hears of a failure once, whatever the replicas.

use lodestar_mail::OutgoingMail;
use lodestar_store::people;
use lodestar_store::tokens::Role;

use super::Scheduler;
use crate::error::SchedulerError;

/// A delivery that failed for good, as its owner's notice tells it.
pub(crate) struct FailedDelivery<'a> {
    pub team_id: i32,
    /// The person who made the alert or schedule; `None` when a token made it.
    pub owner_user_id: Option<i32>,
    /// What could not be delivered, for the text: `a notification of the alert "Leads" (id 3)`.
    pub what: String,
    /// The same, short, for the subject: `the alert "Leads"`.
    pub short: String,
    /// Where it was going: an address or a channel's key.
    pub target: &'a str,
    /// The last answer: the SMTP server's, the receiver's, or why it stopped.
    pub error: &'a str,
    /// Where the failure is recorded: `GET /api/v1/alerts/3/events`.
    pub recorded_at: String,
    /// Unique per failed delivery: names the notice's Message-ID.
    pub key: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Scheduler {
    /// Sends the notice of `failed` to its owner (see the module). Mail errors are logged: the
    /// delivery's own failure is already recorded.
    pub(crate) async fn tell_owner(
        &self,
        failed: &FailedDelivery<'_>,
    ) -> Result<(), SchedulerError> {
        let members = people::members(&self.inner.db, failed.team_id).await?;
        let to: Vec<String> = match members
            .iter()
            .find(|m| Some(m.user_id) == failed.owner_user_id)
        {
            Some(owner) => vec![owner.email.clone()],
            None => members
                .into_iter()
                .filter(|m| m.role == Role::Admin)
                .map(|m| m.email)
                .collect(),
        };
        if to.is_empty() {
            tracing::warn!(
                team = failed.team_id,
                what = %failed.what,
                "a delivery failed and the team has no admin to tell"
            );
        }
        let text = format!(
            "Lodestar could not deliver {} to {}.\n\nThe last answer was: {}\n\nThe delivery is \
             recorded as failed; see {}.\n",
            failed.what, failed.target, failed.error, failed.recorded_at
        );
        for (i, address) in to.iter().enumerate() {
            let mail = OutgoingMail {
                from: None,
                to: address.clone(),
                subject: format!("Lodestar could not deliver {}", failed.short),
                html: format!("<html><body><pre>{}</pre></body></html>", escape(&text)),
                text: text.clone(),
                message_id: format!("<{}-{i}@{}>", failed.key, self.inner.domain),
                headers: Vec::new(),
            };
            if let Err(e) = self.inner.mailer.send(&mail).await {
                tracing::error!(to = %address, what = %failed.what, error = %e, "telling the owner of a failed delivery failed");
            }
        }
        Ok(())
    }
}
