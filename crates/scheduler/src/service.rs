//! The running scheduler: cron jobs as triggers, sweeps as the safety net, claims, leases,
//! retries, send-now and re-sends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use lodestar_core::period::PeriodKey;
use lodestar_mail::{Mailer, OutgoingMail, SendError, digest_message_id};
use lodestar_report::KpiEngine;
use lodestar_report::definition::ReportDefinition;
use lodestar_store::deliveries::{self, Delivery, NewDelivery, Status};
use lodestar_store::schedules::{self, Schedule};
use lodestar_store::teams::{self, Team};
use lodestar_store::{Db, secrets};
use tokio::sync::{Notify, OnceCell, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid as JobId;

use crate::cron::CronSpec;
use crate::digest::{self, Digest, Links};
use crate::error::SchedulerError;
use crate::spec::find_report;

/// What "now" is. Tests inject a fixed instant; everything else uses [`system_clock`].
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// How the scheduler behaves; `serve` fills it from the `[scheduler]` settings.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Base URL of the "view in browser" links.
    pub public_url: String,
    /// A due occurrence missed (the server was down) is still sent when at most this old.
    pub grace: Duration,
    /// How long a claim stays with its sender without news before another may take it over.
    /// Longer than one SMTP attempt (lettre's timeout is 30 s).
    pub lease_timeout: Duration,
    /// The first wait after a transient failure; each next wait doubles.
    pub retry_initial: Duration,
    /// Attempts in all for one delivery, the first included.
    pub retry_max_attempts: u32,
    /// How often schedules are re-read (changes on other replicas), missed due times swept up and
    /// expired leases taken over.
    pub resync_interval: Duration,
    /// How long a digest's share link works.
    pub share_link_ttl: Duration,
    /// Digests made and sent at once.
    pub concurrency: usize,
    /// Test-only (`LODESTAR_TEST_CRASH_AFTER_CLAIM=1`): the process kills itself with SIGKILL
    /// right after a claim commits, before sending, to prove a lease is taken over.
    pub test_crash_after_claim: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            public_url: "http://127.0.0.1:8080".to_owned(),
            grace: Duration::from_secs(24 * 3600),
            lease_timeout: Duration::from_secs(300),
            retry_initial: Duration::from_secs(30),
            retry_max_attempts: 6,
            resync_interval: Duration::from_secs(30),
            share_link_ttl: Duration::from_secs(30 * 24 * 3600),
            concurrency: 8,
            test_crash_after_claim: false,
        }
    }
}

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

/// The next occurrence of a schedule strictly after `now`; `None` when paused (or invalid).
pub fn next_run(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if schedule.paused {
        return None;
    }
    let cron = CronSpec::parse(&schedule.cron).ok()?;
    let tz: Tz = schedule.timezone.parse().ok()?;
    cron.next_after(tz, now)
}

/// The occurrence a schedule owes a digest for at `now`: the latest at or before `now`, if it
/// came after the schedule became active and at most `grace` ago.
fn due_at(
    schedule: &Schedule,
    cron: &CronSpec,
    tz: Tz,
    now: DateTime<Utc>,
    grace: Duration,
) -> Option<DateTime<Utc>> {
    due_since(cron, tz, now, grace, schedule.active_since)
}

fn due_since(
    cron: &CronSpec,
    tz: Tz,
    now: DateTime<Utc>,
    grace: Duration,
    active_since: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let due = cron.latest_at_or_before(tz, now)?;
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    (due >= active_since && now.signed_duration_since(due) <= grace).then_some(due)
}

/// Which occurrences a run may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Firing {
    /// A job's trigger or a sweep: only occurrences since the schedule became active.
    Scheduled,
    /// [`Scheduler::fire_at`]: the caller says the schedule fired at that instant.
    Explicit,
}

fn parse_schedule(schedule: &Schedule) -> Result<(CronSpec, Tz), SchedulerError> {
    let bad = |message: String| SchedulerError::Schedule {
        id: schedule.id,
        message,
    };
    let cron = CronSpec::parse(&schedule.cron).map_err(|e| bad(format!("the cron {e}")))?;
    let tz = schedule
        .timezone
        .parse::<Tz>()
        .map_err(|_| bad(format!("unknown timezone {:?}", schedule.timezone)))?;
    Ok((cron, tz))
}

/// The jobs registered for the schedules, by schedule id, with what they were built from.
struct Jobs {
    scheduler: JobScheduler,
    by_schedule: HashMap<i32, (String, JobId)>,
}

struct Inner {
    db: Db,
    engine: KpiEngine,
    mailer: Arc<Mailer>,
    config: SchedulerConfig,
    clock: Clock,
    /// `@domain` of Message-IDs: the host of the public URL.
    domain: String,
    share_secret: OnceCell<Vec<u8>>,
    /// Schedules being processed in this process: a trigger for one of them is dropped, the
    /// claim would refuse it anyway.
    in_flight: Mutex<HashSet<i32>>,
    /// The due occurrence last served per schedule, so sweeps only touch schedules with news.
    served: Mutex<HashMap<i32, DateTime<Utc>>>,
    permits: Semaphore,
    resync_now: Notify,
    triggers: mpsc::UnboundedSender<i32>,
    trigger_rx: Mutex<Option<mpsc::UnboundedReceiver<i32>>>,
    jobs: tokio::sync::Mutex<Option<Jobs>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// See the crate documentation. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The host of an http(s) URL, for Message-IDs.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.to_owned()
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Scheduler {
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
        Scheduler {
            inner: Arc::new(Inner {
                domain: host_of(&config.public_url),
                permits: Semaphore::new(config.concurrency.max(1)),
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
            }),
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.inner.config
    }

    fn now(&self) -> DateTime<Utc> {
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

    /// Stops the jobs and background tasks and closes pooled SMTP connections.
    pub async fn shutdown(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        if let Some(mut jobs) = self.inner.jobs.lock().await.take()
            && let Err(e) = jobs.scheduler.shutdown().await
        {
            tracing::warn!(error = %e, "stopping cron jobs");
        }
        self.inner.mailer.shutdown().await;
    }

    /// One resync: jobs to match the stored schedules, due occurrences nobody served yet, and
    /// expired leases.
    pub async fn resync(&self) -> Result<(), SchedulerError> {
        self.sync_jobs().await?;
        self.sweep().await?;
        self.recover_leases().await?;
        Ok(())
    }

    async fn sync_jobs(&self) -> Result<(), SchedulerError> {
        let all = schedules::list_all(&self.inner.db).await?;
        let mut guard = self.inner.jobs.lock().await;
        let Some(jobs) = guard.as_mut() else {
            return Ok(());
        };
        let jobs_err =
            |e: tokio_cron_scheduler::JobSchedulerError| SchedulerError::Jobs(e.to_string());
        let mut wanted: HashMap<i32, (String, CronSpec, Tz)> = HashMap::new();
        for s in all.iter().filter(|s| !s.paused) {
            match parse_schedule(s) {
                Ok((cron, tz)) => {
                    let key = format!("{}|{}", cron.six_fields(), tz.name());
                    wanted.insert(s.id, (key, cron, tz));
                }
                Err(e) => tracing::warn!(error = %e, "schedule skipped"),
            }
        }
        let stale: Vec<i32> = jobs
            .by_schedule
            .iter()
            .filter(|(id, (key, _))| wanted.get(id).is_none_or(|(k, _, _)| k != key))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some((_, job)) = jobs.by_schedule.remove(&id) {
                jobs.scheduler.remove(&job).await.map_err(jobs_err)?;
            }
        }
        for (id, (key, cron, tz)) in wanted {
            if jobs.by_schedule.contains_key(&id) {
                continue;
            }
            let triggers = self.inner.triggers.clone();
            let job = Job::new_async_tz(cron.six_fields(), tz, move |_, _| {
                // Only a trigger: what is due, and whether anything is, is decided on receipt.
                let _ = triggers.send(id);
                Box::pin(async {})
            })
            .map_err(jobs_err)?;
            let job_id = jobs.scheduler.add(job).await.map_err(jobs_err)?;
            jobs.by_schedule.insert(id, (key, job_id));
        }
        Ok(())
    }

    /// Serves every schedule whose due occurrence this process has not served yet.
    pub async fn sweep(&self) -> Result<(), SchedulerError> {
        let now = self.now();
        let all = schedules::list_all(&self.inner.db).await?;
        let mut alive = HashSet::with_capacity(all.len());
        for s in all.iter().filter(|s| !s.paused) {
            alive.insert(s.id);
            let Ok((cron, tz)) = parse_schedule(s) else {
                continue;
            };
            let Some(due) = due_at(s, &cron, tz, now, self.inner.config.grace) else {
                continue;
            };
            if lock(&self.inner.served).get(&s.id) != Some(&due) {
                self.spawn_process(s.id);
            }
        }
        lock(&self.inner.served).retain(|id, _| alive.contains(id));
        Ok(())
    }

    fn spawn_process(&self, schedule_id: i32) {
        if !lock(&self.inner.in_flight).insert(schedule_id) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let result = async {
                let _permit = me.inner.permits.acquire().await;
                let Some(schedule) = schedules::find(&me.inner.db, schedule_id).await? else {
                    return Ok(FireReport::default());
                };
                me.process(&schedule, me.now(), Firing::Scheduled).await
            }
            .await;
            lock(&me.inner.in_flight).remove(&schedule_id);
            if let Err(e) = result {
                tracing::error!(schedule = schedule_id, error = %e, "digest run failed");
            }
        });
    }

    /// Fires one schedule as if the time were `at`: serves its latest occurrence at or before
    /// `at` (within the grace window, whenever the schedule was created) and waits for the sends,
    /// retries included. What a cron job triggers, callable directly; the claim still holds, so
    /// a period already delivered is not delivered again.
    pub async fn fire_at(
        &self,
        schedule_id: i32,
        at: DateTime<Utc>,
    ) -> Result<FireReport, SchedulerError> {
        let Some(schedule) = schedules::find(&self.inner.db, schedule_id).await? else {
            return Ok(FireReport::default());
        };
        self.process(&schedule, at, Firing::Explicit).await
    }

    async fn process(
        &self,
        schedule: &Schedule,
        at: DateTime<Utc>,
        firing: Firing,
    ) -> Result<FireReport, SchedulerError> {
        let mut report = FireReport::default();
        if schedule.paused {
            return Ok(report);
        }
        let (cron, tz) = parse_schedule(schedule)?;
        let active_since = match firing {
            Firing::Scheduled => schedule.active_since,
            Firing::Explicit => DateTime::<Utc>::MIN_UTC,
        };
        let Some(due) = due_since(&cron, tz, at, self.inner.config.grace, active_since) else {
            return Ok(report);
        };
        report.due = Some(due);
        let db = &self.inner.db;
        let def = find_report(db, schedule.team_id, &schedule.report).await?;
        // Without its report the schedule still owes the digest; the claim below records why
        // it could not be made.
        let kind = def
            .as_ref()
            .map_or(lodestar_core::period::PeriodKind::Week, |d| d.period_kind);
        let period = PeriodKey::last_complete(kind, due, tz);
        report.period = Some(period.to_string());

        let claimed = deliveries::claimed(db, &[schedule.id], &[period.to_string()]).await?;
        let missing: Vec<NewDelivery> = schedule
            .recipients
            .iter()
            .filter(|r| !claimed.iter().any(|(_, _, c)| c == *r))
            .map(|r| NewDelivery {
                recipient: r.clone(),
                message_id: self.message_id(schedule.id, &period.to_string(), r),
            })
            .collect();
        if !missing.is_empty() {
            let now = self.now();
            let won = deliveries::claim(
                db,
                (schedule.team_id, schedule.id),
                &period.to_string(),
                &missing,
                now,
                now + delta(self.inner.config.lease_timeout),
            )
            .await?;
            report.claimed = won.len();
            if !won.is_empty() {
                if self.inner.config.test_crash_after_claim {
                    crash_after_claim();
                }
                let outcomes = self
                    .deliver(
                        schedule,
                        def.as_ref(),
                        period,
                        won,
                        self.inner.config.retry_max_attempts,
                    )
                    .await?;
                for o in outcomes {
                    match o.status {
                        Status::Sent => report.sent += 1,
                        Status::Skipped => report.skipped += 1,
                        Status::Failed | Status::Pending => report.failed += 1,
                    }
                }
            }
        }
        lock(&self.inner.served).insert(schedule.id, due);
        Ok(report)
    }

    fn message_id(&self, schedule_id: i32, period: &str, recipient: &str) -> String {
        digest_message_id(
            i64::from(schedule_id),
            period,
            recipient,
            &self.inner.domain,
        )
    }

    async fn share_secret(&self) -> Result<&[u8], SchedulerError> {
        let secret = self
            .inner
            .share_secret
            .get_or_try_init(|| secrets::get_or_create(&self.inner.db, "share"))
            .await?;
        Ok(secret)
    }

    async fn digest(
        &self,
        team: &Team,
        def: &ReportDefinition,
        period: PeriodKey,
    ) -> Result<Digest, SchedulerError> {
        let secret = self.share_secret().await?;
        let links = Links {
            public_url: &self.inner.config.public_url,
            secret,
            expires_at: self.now() + delta(self.inner.config.share_link_ttl),
        };
        digest::build(&self.inner.engine, team, def, period, &links).await
    }

    /// Makes the digest once and sends it to each claimed row (which this caller holds).
    async fn deliver(
        &self,
        schedule: &Schedule,
        def: Option<&ReportDefinition>,
        period: PeriodKey,
        rows: Vec<Delivery>,
        max_attempts: u32,
    ) -> Result<Vec<RecipientOutcome>, SchedulerError> {
        let db = &self.inner.db;
        let made = match (teams::find_by_id(db, schedule.team_id).await?, def) {
            (Some(team), Some(def)) => self.digest(&team, def, period).await,
            (None, _) => Err(SchedulerError::Schedule {
                id: schedule.id,
                message: "its team no longer exists".to_owned(),
            }),
            (_, None) => Err(SchedulerError::Schedule {
                id: schedule.id,
                message: format!("unknown report {:?}", schedule.report),
            }),
        };
        let digest = match made {
            Ok(d) => d,
            Err(e) => {
                // Never send a digest that could not be computed: record why, for each recipient.
                let error = format!("the digest could not be made: {e}");
                tracing::error!(schedule = schedule.id, %period, %error);
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    deliveries::finish(
                        db,
                        row.id,
                        Status::Failed,
                        row.attempts,
                        &error,
                        self.now(),
                    )
                    .await?;
                    out.push(outcome(&row, Status::Failed, None, Some(error.clone())));
                }
                return Ok(out);
            }
        };
        if schedule.skip_empty
            && digest.empty
            && rows
                .iter()
                .all(|r| r.origin == deliveries::Origin::Schedule)
        {
            let reason = "skipped: no data for the period";
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                deliveries::finish(
                    db,
                    row.id,
                    Status::Skipped,
                    row.attempts,
                    reason,
                    self.now(),
                )
                .await?;
                out.push(outcome(
                    &row,
                    Status::Skipped,
                    None,
                    Some(reason.to_owned()),
                ));
            }
            return Ok(out);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.send_with_retries(&row, &digest, max_attempts).await?);
        }
        Ok(out)
    }

    /// Sends one claimed row: transient failures wait and try again, doubling the wait, up to
    /// `max_attempts` in all; the lease is extended before every attempt and every wait.
    async fn send_with_retries(
        &self,
        row: &Delivery,
        digest: &Digest,
        max_attempts: u32,
    ) -> Result<RecipientOutcome, SchedulerError> {
        let db = &self.inner.db;
        let lease = delta(self.inner.config.lease_timeout);
        let mail = OutgoingMail {
            from: None,
            to: row.recipient.clone(),
            subject: digest.subject.clone(),
            html: digest.html.clone(),
            text: digest.text.clone(),
            message_id: row.message_id.clone(),
            headers: Vec::new(),
        };
        let max_attempts = i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX);
        let mut attempts = row.attempts;
        let mut last_error = row.error.clone();
        let mut wait = self.inner.config.retry_initial;
        let stop_at = attempts.saturating_add(max_attempts);
        loop {
            attempts += 1;
            let now = self.now();
            if !deliveries::renew(
                db,
                row.id,
                attempts,
                last_error.as_deref(),
                now,
                now + lease,
            )
            .await?
            {
                // Someone else finished it (a re-send, or a take-over after our lease ran out).
                return Ok(outcome(
                    row,
                    Status::Pending,
                    None,
                    Some("no longer held by this sender".to_owned()),
                ));
            }
            match self.inner.mailer.send(&mail).await {
                Ok(report) => {
                    let response = report.to_string();
                    deliveries::mark_sent(db, row.id, attempts, &response, self.now()).await?;
                    return Ok(outcome(row, Status::Sent, Some(response), None));
                }
                Err(e @ SendError::Transient { .. }) if attempts < stop_at => {
                    tracing::warn!(delivery = row.id, attempt = attempts, error = %e, wait_ms = wait.as_millis() as u64, "transient delivery failure; retrying");
                    let now = self.now();
                    last_error = Some(e.message().to_owned());
                    deliveries::renew(
                        db,
                        row.id,
                        attempts,
                        last_error.as_deref(),
                        now,
                        now + delta(wait) + lease,
                    )
                    .await?;
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => {
                    let error = e.message().to_owned();
                    tracing::warn!(delivery = row.id, attempts, %error, "delivery failed");
                    deliveries::finish(db, row.id, Status::Failed, attempts, &error, self.now())
                        .await?;
                    return Ok(outcome(row, Status::Failed, None, Some(error)));
                }
            }
        }
    }

    /// Takes over pending rows whose sender's lease ran out (once each), and gives up on those
    /// already taken over once.
    pub async fn recover_leases(&self) -> Result<(), SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        for row in deliveries::expired_leases(db, now).await? {
            if row.recoveries > 0 {
                let reason = format!(
                    "abandoned: the process sending it stopped twice (after {} attempt(s)); \
                     re-send it by hand",
                    row.attempts
                );
                if deliveries::abandon(db, row.id, &reason, now).await? {
                    tracing::error!(delivery = row.id, "{reason}");
                }
                continue;
            }
            let lease_until = now + delta(self.inner.config.lease_timeout);
            let Some(row) = deliveries::take_over(db, row.id, now, lease_until).await? else {
                continue;
            };
            tracing::warn!(delivery = row.id, recipient = %row.recipient, period = %row.period, "taking over a delivery whose sender stopped");
            let me = self.clone();
            tokio::spawn(async move {
                let _permit = me.inner.permits.acquire().await;
                if let Err(e) = me.redeliver(row, me.inner.config.retry_max_attempts).await {
                    tracing::error!(error = %e, "taking over a delivery failed");
                }
            });
        }
        Ok(())
    }

    /// Sends a row this caller holds again, remaking its digest.
    async fn redeliver(
        &self,
        row: Delivery,
        max_attempts: u32,
    ) -> Result<RecipientOutcome, SchedulerError> {
        let db = &self.inner.db;
        let schedule = schedules::find(db, row.schedule_id).await?;
        let period = PeriodKey::parse(&row.period);
        let (schedule, period) = match (schedule, period) {
            (Some(schedule), Ok(period)) => (schedule, period),
            (None, _) => return self.fail(&row, "its schedule no longer exists").await,
            (_, Err(_)) => {
                let message = format!("stored period {:?} is not a period key", row.period);
                return self.fail(&row, &message).await;
            }
        };
        let def = find_report(db, schedule.team_id, &schedule.report).await?;
        let mut out = self
            .deliver(
                &schedule,
                def.as_ref(),
                period,
                vec![row.clone()],
                max_attempts,
            )
            .await?;
        Ok(out
            .pop()
            .unwrap_or_else(|| outcome(&row, Status::Pending, None, None)))
    }

    async fn fail(
        &self,
        row: &Delivery,
        message: &str,
    ) -> Result<RecipientOutcome, SchedulerError> {
        deliveries::finish(
            &self.inner.db,
            row.id,
            Status::Failed,
            row.attempts,
            message,
            self.now(),
        )
        .await?;
        Ok(outcome(row, Status::Failed, None, Some(message.to_owned())))
    }

    /// Sends the schedule's digest of the last complete period right away to every recipient,
    /// one attempt each, and reports each SMTP result. It is an explicit request: it is logged
    /// (origin `manual`, its own Message-ID) but neither blocked by nor counted as the claim of
    /// the scheduled delivery, so it may repeat a period already sent. `None`: no such schedule.
    pub async fn send_now(
        &self,
        team_id: i32,
        schedule_id: i32,
    ) -> Result<Option<SendNow>, SchedulerError> {
        let db = &self.inner.db;
        let Some(schedule) = schedules::get(db, team_id, schedule_id).await? else {
            return Ok(None);
        };
        let (_, tz) = parse_schedule(&schedule)?;
        let def = find_report(db, team_id, &schedule.report).await?;
        let kind = def
            .as_ref()
            .map_or(lodestar_core::period::PeriodKind::Week, |d| d.period_kind);
        let now = self.now();
        let period = PeriodKey::last_complete(kind, now, tz);
        let tag = format!("{period}-now-{}", now.timestamp_millis());
        let rows: Vec<NewDelivery> = schedule
            .recipients
            .iter()
            .map(|r| NewDelivery {
                recipient: r.clone(),
                message_id: self.message_id(schedule.id, &tag, r),
            })
            .collect();
        let rows = deliveries::insert_manual(
            db,
            (team_id, schedule.id),
            &period.to_string(),
            &rows,
            now,
            now + delta(self.inner.config.lease_timeout),
        )
        .await?;
        let results = self
            .deliver(&schedule, def.as_ref(), period, rows, 1)
            .await?;
        Ok(Some(SendNow {
            schedule: schedule.id,
            period: period.to_string(),
            results,
        }))
    }

    /// Re-sends a failed delivery of the team once, with its original Message-ID.
    pub async fn resend(&self, team_id: i32, delivery_id: i32) -> Result<Resend, SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        let lease_until = now + delta(self.inner.config.lease_timeout);
        match deliveries::reopen_failed(db, team_id, delivery_id, now, lease_until).await? {
            Some(row) => Ok(Resend::Done(self.redeliver(row, 1).await?)),
            None => match deliveries::get(db, team_id, delivery_id).await? {
                Some(row) => Ok(Resend::NotFailed(row.status)),
                None => Ok(Resend::NotFound),
            },
        }
    }
}

fn outcome(
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

/// The test hook: die right after the claim committed, the way `kill -9` would, so the lease
/// and its take-over are exercised on a real process.
fn crash_after_claim() -> ! {
    tracing::error!("LODESTAR_TEST_CRASH_AFTER_CLAIM is set: killing this process after the claim");
    // Through the shell's builtin: a `kill` binary is not on every machine.
    let _ = std::process::Command::new("sh")
        .args(["-c", &format!("kill -9 {}", std::process::id())])
        .status();
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("an RFC 3339 instant")
            .with_timezone(&Utc)
    }

    fn schedule(cron: &str, tz: &str, active_since: &str) -> Schedule {
        Schedule {
            id: 1,
            team_id: 1,
            report: "weekly".into(),
            cron: cron.into(),
            timezone: tz.into(),
            recipients: vec!["a@example.com".into()],
            skip_empty: false,
            paused: false,
            active_since: at(active_since),
            created_at: at(active_since),
            updated_at: at(active_since),
        }
    }

    #[test]
    fn next_run_follows_berlin_across_the_october_change() {
        let s = schedule("0 8 * * SUN", "Europe/Berlin", "2026-10-24T00:00:00Z");
        let first = next_run(&s, at("2026-10-24T12:00:00Z")).expect("a next run");
        assert_eq!(first, at("2026-10-25T07:00:00Z"));
        assert_eq!(next_run(&s, first), Some(at("2026-11-01T07:00:00Z")));
        let paused = Schedule { paused: true, ..s };
        assert_eq!(next_run(&paused, first), None);
    }

    #[test]
    fn an_occurrence_is_due_within_the_grace_window_after_activation_only() {
        let s = schedule("0 8 * * MON", "America/New_York", "2026-11-01T00:00:00Z");
        let (cron, tz) = parse_schedule(&s).expect("valid");
        let grace = Duration::from_secs(24 * 3600);
        let monday = at("2026-11-09T13:00:00Z");
        assert_eq!(due_at(&s, &cron, tz, monday, grace), Some(monday));
        assert_eq!(
            due_at(&s, &cron, tz, monday + TimeDelta::hours(23), grace),
            Some(monday)
        );
        assert_eq!(
            due_at(&s, &cron, tz, monday + TimeDelta::hours(25), grace),
            None
        );
        let late_start = schedule("0 8 * * MON", "America/New_York", "2026-11-09T14:00:00Z");
        assert_eq!(
            due_at(&late_start, &cron, tz, monday + TimeDelta::hours(2), grace),
            None,
            "a schedule created after 08:00 does not send that Monday's digest"
        );
    }

    #[test]
    fn the_message_id_domain_is_the_public_host() {
        assert_eq!(
            host_of("https://lodestar.example.com/base"),
            "lodestar.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("http://[::1]:8080/"), "::1");
        assert_eq!(host_of("http://u:p@host:1"), "host");
    }
}
