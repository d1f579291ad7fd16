//! Scheduled e-mail digests.
//!
//! Every schedule gets a tokio-cron-scheduler job in its own timezone, rebuilt from the database
//! at start and whenever schedules change (here or on another replica, through a periodic
//! resync). A firing is only a trigger: the due occurrence and the period are computed here with
//! croner and chrono-tz, and a periodic sweep runs the same code, so a job that fires late, early
//! or never (tokio-cron-scheduler #105, #107, #113) costs at most one resync interval.
//!
//! Exactly-once: before sending, each (schedule, period, recipient) is claimed in the delivery log
//! by an `INSERT … ON CONFLICT DO NOTHING` under a unique index, and only the winner sends. Every
//! replica fires its own jobs; all but one lose the claim. A claim carries a lease: a sender that
//! dies mid-send leaves a `pending` row whose lease expires, and one other sender takes it over,
//! once. Transient SMTP failures are retried with exponential backoff; permanent ones are
//! recorded with the server's answer. SMTP itself cannot be exactly-once (a timeout after DATA may
//! hide a delivery), so every digest has a deterministic Message-ID receivers can de-duplicate on.

pub mod alerts;
pub mod cron;
pub mod digest;
mod error;
mod service;
pub mod spec;

pub use error::SchedulerError;
pub use service::{
    Clock, DeliveryCounters, FireReport, RecipientOutcome, Resend, Scheduler, SchedulerConfig,
    SendNow, next_run, next_runs, system_clock,
};
