//! The digest runs, take-overs and alert checks this process has started in the background, so
//! a stopping server can let them finish (or cut them off after a bound, leaving their claims to
//! be taken over when the lease runs out) instead of losing them half-way when the process exits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::lock;

/// How often a stopping process looks whether its runs have finished.
const POLL: Duration = Duration::from_millis(50);

#[derive(Default)]
pub(crate) struct Runs {
    tasks: std::sync::Mutex<HashMap<u64, AbortHandle>>,
    next: AtomicU64,
    stopping: AtomicBool,
}

impl Runs {
    /// No new scheduled work once the process is stopping (another replica, or the next
    /// process, serves what is due).
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Runs `work` in the background, tracked until it ends.
    pub(crate) fn spawn(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let me = Arc::clone(self);
        // Held while spawning, so the task's own removal comes after its insertion.
        let mut tasks = lock(&self.tasks);
        let task = tokio::spawn(async move {
            work.await;
            lock(&me.tasks).remove(&id);
        });
        tasks.insert(id, task.abort_handle());
    }

    /// Stops new scheduled work, waits up to `grace` for the runs in progress, then cuts off the
    /// rest. Returns how many were cut off.
    pub(crate) async fn finish(&self, grace: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + grace;
        while !lock(&self.tasks).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        let left: Vec<AbortHandle> = lock(&self.tasks).drain().map(|(_, t)| t).collect();
        for task in &left {
            task.abort();
        }
        left.len()
    }
}
