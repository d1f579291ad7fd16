//! What "now" is. Tests inject a fixed instant; everything else uses [`system_clock`]. Which
//! period is in progress, which is the last complete one and when a digest is due all ask it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A clock stopped at `at`.
pub fn fixed_clock(at: DateTime<Utc>) -> Clock {
    Arc::new(move || at)
}
