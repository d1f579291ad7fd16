//! The cron registry: one tokio-cron-scheduler job per active schedule, in its timezone, kept in
//! step with the stored schedules. A job's firing is only a trigger (see the crate docs).

use std::collections::HashMap;

use chrono_tz::Tz;
use lodestar_store::schedules;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid as JobId;

use super::Scheduler;
use super::due::parse_schedule;
use crate::cron::CronSpec;
use crate::error::SchedulerError;

/// The jobs registered for the schedules, by schedule id, with what they were built from.
pub(super) struct Jobs {
    pub(super) scheduler: JobScheduler,
    pub(super) by_schedule: HashMap<i32, (String, JobId)>,
}

impl Scheduler {
    pub(super) async fn sync_jobs(&self) -> Result<(), SchedulerError> {
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
}
