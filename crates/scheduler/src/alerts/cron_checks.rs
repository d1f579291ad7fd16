//! Alerts checked on a cron: on every resync, each alert whose latest cron occurrence (in its
//! timezone, else its team's) was not yet served by this process is checked, batched per team.
//! Several servers may check the same occurrence: a check is idempotent, so none notifies twice.

use std::collections::{BTreeMap, BTreeSet};

use lodestar_core::period::Timezone;
use lodestar_store::{alerts, teams};

use super::body::stored;
use crate::cron::CronSpec;
use crate::error::SchedulerError;
use crate::service::{Scheduler, lock};

impl Scheduler {
    /// Checks the alerts whose cron came due since this process last looked; how many.
    pub async fn check_due_alerts(&self) -> Result<usize, SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        let mut due: BTreeMap<i32, BTreeSet<i32>> = BTreeMap::new();
        let mut occurrences = Vec::new();
        for alert in alerts::list_with_cron(db).await? {
            let Ok((spec, _)) = stored(&alert) else {
                continue;
            };
            let Some(cron) = spec
                .check
                .cron
                .as_deref()
                .and_then(|c| CronSpec::parse(c).ok())
            else {
                continue;
            };
            let tz = match spec.check.timezone.as_deref().map(Timezone::parse) {
                Some(Ok(tz)) => tz.0,
                _ => match teams::find_by_id(db, alert.team_id).await? {
                    Some(team) => team.timezone.0,
                    None => continue,
                },
            };
            let Some(at) = cron.latest_at_or_before(tz, now) else {
                continue;
            };
            if lock(&self.inner.alert_cron_served).get(&alert.id) == Some(&at) {
                continue;
            }
            due.entry(alert.team_id).or_default().insert(alert.id);
            occurrences.push((alert.id, at));
        }
        let mut checked = 0;
        for (team_id, ids) in due {
            let Some(team) = teams::find_by_id(db, team_id).await? else {
                continue;
            };
            let report = self.check_some(&team, |id, _| ids.contains(&id)).await?;
            checked += report.alerts;
        }
        let mut served = lock(&self.inner.alert_cron_served);
        for (id, at) in occurrences {
            served.insert(id, at);
        }
        Ok(checked)
    }
}
