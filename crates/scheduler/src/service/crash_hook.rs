//! The scheduler's one test hook in production code, kept here alone. With
//! `LODESTAR_TEST_CRASH_AFTER_CLAIM=1` (read by `serve` into
//! [`SchedulerConfig::test_crash_after_claim`]) the process dies right after a claim commits,
//! before sending, the way `kill -9` would, so that `tests/digests.rs` can prove on a real process
//! that another sender takes the lease over. Off by default and in every other use.

use super::SchedulerConfig;

/// Called right after a claim committed: dies there if the hook is armed.
pub(super) fn after_claim(config: &SchedulerConfig) {
    if config.test_crash_after_claim {
        crash();
    }
}

fn crash() -> ! {
    tracing::error!("LODESTAR_TEST_CRASH_AFTER_CLAIM is set: killing this process after the claim");
    // Through the shell's builtin: a `kill` binary is not on every machine.
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -9 {}", std::process::id())])
        .status();
    std::process::abort()
}
