//! Daily-summary rebuilds running in the background after a team's timezone changed, and how
//! far each has got, for the team settings page. A rebuild is one write transaction
//! (`lodestar_store::rollup::rebuild_with_progress`): reports keep showing the old summaries
//! until it commits. The progress lives in this process; if it stops first, the next start-up
//! rebuilds the summaries (`rollup::rebuild_stale`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lodestar_store::Db;

/// Where a team's rebuild is.
#[derive(Debug, Clone, PartialEq)]
pub enum Rebuild {
    Running { done: u64, total: u64 },
    Failed(String),
}

impl Rebuild {
    /// `45% · 450,000 of 1,000,000 rows`.
    pub fn progress_text(&self) -> String {
        let count = |n: u64| {
            lodestar_report::format::format_value(
                lodestar_core::catalog::Unit::Count,
                Some(n as f64),
            )
        };
        match self {
            Rebuild::Running { done, total } => {
                format!(
                    "{}% · {} of {} rows",
                    self.percent(),
                    count(*done),
                    count(*total)
                )
            }
            Rebuild::Failed(_) => String::new(),
        }
    }

    /// Whole percent done, 0 to 100.
    pub fn percent(&self) -> u64 {
        match self {
            Rebuild::Running { done, total } if *total > 0 => (done * 100 / total).min(100),
            _ => 0,
        }
    }
}

/// The rebuilds of this process, by team.
#[derive(Clone, Default)]
pub struct Rebuilds(Arc<Mutex<HashMap<i32, Rebuild>>>);

impl Rebuilds {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<i32, Rebuild>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The team's rebuild, while it runs or after it failed.
    pub fn of(&self, team_id: i32) -> Option<Rebuild> {
        self.with(|m| m.get(&team_id).cloned())
    }

    pub fn is_running(&self, team_id: i32) -> bool {
        matches!(self.of(team_id), Some(Rebuild::Running { .. }))
    }

    /// Rebuilds the team's summaries in the background over `total` rows (its leads and
    /// events); forgotten when done, kept with the error when it fails.
    pub fn start(&self, db: Db, team_id: i32, total: u64) {
        self.with(|m| m.insert(team_id, Rebuild::Running { done: 0, total }));
        let me = self.clone();
        tokio::spawn(async move {
            let mut report = |done: u64| {
                me.with(|m| m.insert(team_id, Rebuild::Running { done, total }));
            };
            let result =
                lodestar_store::rollup::rebuild_with_progress(&db, team_id, &mut report).await;
            match result {
                Ok(()) => {
                    tracing::info!(team_id, rows = total, "daily summaries rebuilt");
                    me.with(|m| m.remove(&team_id));
                }
                Err(e) => {
                    tracing::error!(team_id, error = %e, "rebuilding the daily summaries failed");
                    me.with(|m| m.insert(team_id, Rebuild::Failed(e.to_string())));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_whole_and_bounded() {
        let r = |done, total| Rebuild::Running { done, total }.percent();
        assert_eq!(r(0, 0), 0);
        assert_eq!(r(1, 3), 33);
        assert_eq!(r(450_000, 1_000_000), 45);
        assert_eq!(r(5, 4), 100);
        assert_eq!(Rebuild::Failed("x".into()).percent(), 0);
        assert_eq!(
            Rebuild::Running {
                done: 450_000,
                total: 1_000_000
            }
            .progress_text(),
            "45% · 450,000 of 1,000,000 rows"
        );
    }
}
