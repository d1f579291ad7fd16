//! One request's allowance for all of its script runs. A request may run a script once per
//! trend period, segment and KPI; each run stops at its own limits, but without a total a long
//! trend split by many campaigns over a looping script holds a core for tens of seconds. Every
//! run of a request charges one [`Budget`]: wall time since the request began and operations
//! across runs. Once it is spent, or the request is cancelled (its client went away), the run in
//! progress stops within a few hundred operations and later runs do not start; each KPI reports
//! why, and the reply still comes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a budget stops runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Time,
    Operations,
    Cancelled,
}

#[derive(Debug)]
pub struct Budget {
    time: Duration,
    deadline: Instant,
    /// 0: no limit on operations.
    operations: u64,
    used: AtomicU64,
    cancelled: AtomicBool,
}

impl Budget {
    /// A budget of `time` from now and `operations` in all (0: unlimited).
    pub fn new(time: Duration, operations: u64) -> Arc<Budget> {
        let now = Instant::now();
        Arc::new(Budget {
            time,
            deadline: now
                .checked_add(time)
                .unwrap_or(now + Duration::from_secs(86_400)),
            operations,
            used: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
        })
    }

    /// No limit but cancellation (tools and tests).
    pub fn unlimited() -> Arc<Budget> {
        Budget::new(Duration::from_secs(86_400 * 365), 0)
    }

    /// Stops every run charged to it from now on.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels the budget when dropped: held by the future that waits for the
    /// runs, so a request dropped mid-way (its client closed the connection) stops them.
    pub fn cancel_on_drop(self: &Arc<Self>) -> CancelOnDrop {
        CancelOnDrop(Arc::clone(self))
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Operations used so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Charges `ops` operations.
    pub(crate) fn charge(&self, ops: u64) {
        self.used.fetch_add(ops, Ordering::Relaxed);
    }

    /// Whether the budget is spent at `now`, and why.
    pub fn spent(&self, now: Instant) -> Option<Spent> {
        if self.cancelled.load(Ordering::Relaxed) {
            Some(Spent::Cancelled)
        } else if now >= self.deadline {
            Some(Spent::Time)
        } else if self.operations > 0 && self.used() >= self.operations {
            Some(Spent::Operations)
        } else {
            None
        }
    }

    /// What a KPI says when the budget stopped its run.
    pub fn message(&self, why: Spent) -> String {
        match why {
            Spent::Cancelled => {
                "stopped: the request was cancelled (its client went away)".to_owned()
            }
            Spent::Time | Spent::Operations => format!(
                "stopped: this request's scripts used up its budget ({} ms and {} operations in \
                 all runs); ask for fewer trend periods or segments",
                self.time.as_millis(),
                self.operations
            ),
        }
    }
}

/// Cancels its budget when dropped (see [`Budget::cancel_on_drop`]).
#[derive(Debug)]
pub struct CancelOnDrop(Arc<Budget>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_by_time_operations_or_cancellation() {
        let b = Budget::new(Duration::from_secs(60), 1000);
        assert_eq!(b.spent(Instant::now()), None);
        b.charge(999);
        assert_eq!(b.spent(Instant::now()), None);
        b.charge(1);
        assert_eq!(b.spent(Instant::now()), Some(Spent::Operations));
        assert_eq!(
            b.spent(b.deadline()),
            Some(Spent::Time),
            "time is checked before operations"
        );
        let c = Budget::unlimited();
        c.charge(u64::MAX / 2);
        assert_eq!(c.spent(Instant::now()), None);
        drop(c.cancel_on_drop());
        assert_eq!(c.spent(Instant::now()), Some(Spent::Cancelled));
    }
}
