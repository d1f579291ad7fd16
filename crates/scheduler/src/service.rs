//! The running scheduler: its state, start, resync and shutdown. What it does lives beside it,
//! one concern a file: `jobs` (the cron registry), `due` (due-time arithmetic), `claim`
//! (sweeps, triggers and claims), `send` (digests, sends and retries), `recovery` (lease
//! take-over), `manual` (send-now and re-send), `owner_notice` (a failure told to whoever made
//! the alert or schedule), `message_host` (the Message-ID domain) and `crash_hook` (the one test
//! hook).

mod channels;
mod claim;
mod config;
mod crash_hook;
mod due;
mod jobs;
mod manual;
mod message_host;
mod outcome;
mod owner_notice;
mod recovery;
mod runs;
mod send;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lodestar_mail::Mailer;
use lodestar_report::KpiEngine;
use lodestar_store::Db;
use tokio::sync::{Notify, OnceCell, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::JobScheduler;

pub use config::{Clock, SchedulerConfig, system_clock};
pub use due::{next_run, next_runs};
pub use outcome::{FireReport, RecipientOutcome, Resend, SendNow};
pub(crate) use owner_notice::FailedDelivery;

use crate::error::SchedulerError;
use jobs::Jobs;
use message_host::host_of;

/// What this process's scheduler has done since it started, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Messages the SMTP server (or the outbox) accepted.
    pub sent: std::sync::atomic::AtomicU64,
    /// Deliveries recorded as failed.
    pub failed: std::sync::atomic::AtomicU64,
    /// Transient failures followed by another attempt.
    pub retried: std::sync::atomic::AtomicU64,
    /// Deliveries whose sender stopped, taken over by this process.
    pub takeovers: std::sync::atomic::AtomicU64,
    /// Alerts evaluated (one per alert per check).
    pub alert_evaluations: std::sync::atomic::AtomicU64,
}

impl DeliveryCounters {
    pub(crate) fn bump(counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) struct Inner {
    pub(crate) counters: DeliveryCounters,
    pub(crate) db: Db,
    pub(crate) engine: KpiEngine,
    pub(crate) mailer: Arc<Mailer>,
    pub(crate) config: SchedulerConfig,
    pub(crate) clock: Clock,
    /// `@domain` of Message-IDs: the host of the public URL.
    pub(crate) domain: String,
    share_secret: OnceCell<Vec<u8>>,
    /// Schedules being processed in this process: a trigger for one of them is dropped, the
    /// claim would refuse it anyway.
    in_flight: Mutex<HashSet<i32>>,
    /// The due occurrence last served per schedule, so sweeps only touch schedules with news.
    served: Mutex<HashMap<i32, DateTime<Utc>>>,
    permits: Semaphore,
    /// Each team's share of `permits` (`team_concurrency`), taken first.
    team_permits: Mutex<HashMap<i32, Arc<Semaphore>>>,
    resync_now: Notify,
    triggers: mpsc::UnboundedSender<i32>,
    trigger_rx: Mutex<Option<mpsc::UnboundedReceiver<i32>>>,
    jobs: tokio::sync::Mutex<Option<Jobs>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Digest runs, take-overs and alert checks in progress.
    pub(crate) runs: Arc<runs::Runs>,
    /// Slack and webhook channels' client (or why it could not be made).
    pub(crate) hooks: Result<lodestar_mail::HookClient, String>,
    /// One alert check at a time per team in this process.
    pub(crate) alert_locks: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>,
    /// The cron occurrence of each alert this process last checked.
    pub(crate) alert_cron_served: Mutex<HashMap<i32, DateTime<Utc>>>,
}

/// See the crate documentation. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Scheduler {
    /// Deliveries sent, failed, retried and taken over by this process.
    pub fn counters(&self) -> &DeliveryCounters {
        &self.inner.counters
    }

    pub fn new(
        db: Db,
        engine: KpiEngine,
        mailer: Arc<Mailer>,
        config: SchedulerConfig,
    ) -> Scheduler {
        Scheduler::with_clock(db, engine, mailer, config, system_clock())
    }

    pub fn with_clock(
        db: Db,
        engine: KpiEngine,
        mailer: Arc<Mailer>,
        config: SchedulerConfig,
        clock: Clock,
    ) -> Scheduler {
        let (triggers, trigger_rx) = mpsc::unbounded_channel();
        let hooks = lodestar_mail::HookClient::new(config.hooks.clone()).map_err(|e| e.to_string());
        Scheduler {
            inner: Arc::new(Inner {
                counters: DeliveryCounters::default(),
                domain: host_of(&config.public_url),
                permits: Semaphore::new(config.concurrency.max(1)),
                team_permits: Mutex::new(HashMap::new()),
                db,
                engine,
                mailer,
                config,
                clock,
                share_secret: OnceCell::new(),
                in_flight: Mutex::new(HashSet::new()),
                served: Mutex::new(HashMap::new()),
                resync_now: Notify::new(),
                triggers,
                trigger_rx: Mutex::new(Some(trigger_rx)),
                jobs: tokio::sync::Mutex::new(None),
                tasks: Mutex::new(Vec::new()),
                runs: Arc::default(),
                hooks,
                alert_locks: Mutex::new(HashMap::new()),
                alert_cron_served: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The mailer digests go through: other messages (invitations, password resets) use it
    /// too, so they work with SMTP and with the outbox alike.
    pub fn mailer(&self) -> &Arc<Mailer> {
        &self.inner.mailer
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// Registers a job per schedule and starts them, then keeps resyncing in the background: the
    /// first resync (right away) catches up on occurrences missed while no server ran.
    pub async fn start(&self) -> Result<(), SchedulerError> {
        let jobs_err =
            |e: tokio_cron_scheduler::JobSchedulerError| SchedulerError::Jobs(e.to_string());
        let scheduler = JobScheduler::new_with_channel_size(4096)
            .await
            .map_err(jobs_err)?;
        scheduler.start().await.map_err(jobs_err)?;
        *self.inner.jobs.lock().await = Some(Jobs {
            scheduler,
            by_schedule: HashMap::new(),
        });
        self.sync_jobs().await?;

        let receiver = lock(&self.inner.trigger_rx).take();
        let mut tasks = Vec::new();
        if let Some(mut receiver) = receiver {
            let me = self.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(id) = receiver.recv().await {
                    me.spawn_process(id);
                }
            }));
        }
        let me = self.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = me.resync().await {
                    tracing::warn!(error = %e, "scheduler resync failed; retrying next interval");
                }
                tokio::select! {
                    _ = tokio::time::sleep(me.inner.config.resync_interval) => {}
                    _ = me.inner.resync_now.notified() => {}
                }
            }
        }));
        lock(&self.inner.tasks).extend(tasks);
        Ok(())
    }

    /// Schedules changed: re-read them now rather than at the next interval.
    pub fn notify_changed(&self) {
        self.inner.resync_now.notify_one();
    }

    /// Stops the jobs and background tasks and closes pooled SMTP connections. Runs in progress
    /// go on (see [`Scheduler::stop`]).
    pub async fn shutdown(&self) {
        self.stop_starting().await;
        self.inner.mailer.shutdown().await;
    }

    /// What a stopping server does: no more cron jobs, resyncs, sweeps or take-overs; the digest
    /// runs in progress get up to `grace` to finish, then the rest are cut off, their claims left
    /// to be taken over by another process when their lease runs out. Returns how many were cut
    /// off. Pooled SMTP connections stay open ([`Scheduler::shutdown`] closes them).
    pub async fn stop(&self, grace: Duration) -> usize {
        self.stop_starting().await;
        let cut = self.inner.runs.finish(grace).await;
        if cut > 0 {
            tracing::warn!(
                runs = cut,
                "digest runs cut off at shutdown; their claims are taken over when the lease ends"
            );
        }
        cut
    }

    async fn stop_starting(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        if let Some(mut jobs) = self.inner.jobs.lock().await.take()
            && let Err(e) = jobs.scheduler.shutdown().await
        {
            tracing::warn!(error = %e, "stopping cron jobs");
        }
    }

    /// One resync: jobs to match the stored schedules, due occurrences nobody served yet, and
    /// expired leases.
    pub async fn resync(&self) -> Result<(), SchedulerError> {
        self.sync_jobs().await?;
        self.sweep().await?;
        self.recover_leases().await?;
        self.recover_alert_leases().await?;
        self.check_due_alerts().await?;
        Ok(())
    }
}
