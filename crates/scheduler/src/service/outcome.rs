//! What the scheduler reports back: a firing's counts, and each recipient's result of a
//! send-now or re-send.

use chrono::{DateTime, Utc};
use lodestar_store::deliveries::{Delivery, Status};

/// What one firing of one schedule did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FireReport {
    /// The occurrence being served, if one was due.
    pub due: Option<DateTime<Utc>>,
    pub period: Option<String>,
    /// Deliveries this call claimed (and then sent, failed or skipped).
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// One recipient's result of a send-now or re-send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipientOutcome {
    pub delivery: i32,
    pub recipient: String,
    pub status: Status,
    /// The SMTP server's reply (or the outbox file) when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendNow {
    pub schedule: i32,
    pub period: String,
    pub results: Vec<RecipientOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    /// No delivery of that id for the team.
    NotFound,
    /// Only failed deliveries are re-sent; this one is not.
    NotFailed(Status),
    Done(RecipientOutcome),
}

pub(super) fn outcome(
    row: &Delivery,
    status: Status,
    response: Option<String>,
    error: Option<String>,
) -> RecipientOutcome {
    RecipientOutcome {
        delivery: row.id,
        recipient: row.recipient.clone(),
        status,
        response,
        error,
    }
}
