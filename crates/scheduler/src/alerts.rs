//! Alerts: checking a team's alerts (after a data load, or when asked), recording each segment's
//! entries into and out of the alert state, and notifying its channels exactly once.
//!
//! Every step is idempotent, so any number of servers and repeated loads may check at once: an
//! event is unique per (alert, segment, episode, kind), a state change is a compare-and-set, and
//! a delivery is claimed per (event, channel) before anything is sent. A check that stops
//! half-way is completed by the next one.

mod body;
mod cron_checks;
mod message;
mod recovery;
mod run;
mod send;

pub use body::{AlertBody, parse_body};
pub use run::{CheckReport, Fired, TestOutcome};
