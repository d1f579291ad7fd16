//! Checking alerts: evaluate (batched), then record each segment's entry into or out of the
//! alert state and notify, every step idempotent.

use std::collections::HashMap;
use std::sync::Arc;

use lodestar_report::alerts::check::AlertInput;
use lodestar_report::alerts::{Finding, Verdict, evaluate};
use lodestar_store::alerts::events::{self, NewEvent};
use lodestar_store::alerts::{self, Alert, State};
use lodestar_store::teams::Team;
use serde::Serialize;
use serde_json::Value;

use super::body::stored;
use super::message::notice;
use super::send::ChannelOutcome;
use crate::error::SchedulerError;
use crate::service::{Scheduler, lock};

/// A change of state recorded by a check.
#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    pub alert: i32,
    pub segment: String,
    /// `fired` or `recovered`.
    pub kind: &'static str,
    pub episode: i32,
    pub period: String,
    /// Deliveries this check claimed and made (0 when another check had claimed them).
    pub deliveries: usize,
}

/// What one check did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub alerts: usize,
    pub findings: usize,
    pub events: Vec<Fired>,
}

/// What `POST /api/v1/alerts/{id}/test` answers.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub segment: String,
    /// `holds`, `clear` or `unknown`.
    pub verdict: &'static str,
    pub period: String,
    pub detail: Value,
    /// With `send`: each channel's result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<ChannelOutcome>,
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::Clear => "clear",
        Verdict::Unknown => "unknown",
    }
}

impl Scheduler {
    /// One check at a time per team in this process (other servers are kept apart by the
    /// database): later ones wait rather than race.
    fn alert_lock(&self, team_id: i32) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            lock(&self.inner.alert_locks)
                .entry(team_id)
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))),
        )
    }

    /// After a data load of `team`: checks its `on_data` alerts in the background.
    pub fn check_alerts_later(&self, team: Team) {
        let me = self.clone();
        self.inner.runs.spawn(async move {
            if let Err(e) = me.check_alerts(&team, true).await {
                tracing::error!(team = %team.slug, error = %e, "checking alerts failed");
            }
        });
    }

    /// Checks the team's alerts now (with `after_load`, those checked on data loads only) and
    /// notifies what entered or left the alert state.
    pub async fn check_alerts(
        &self,
        team: &Team,
        after_load: bool,
    ) -> Result<CheckReport, SchedulerError> {
        self.check_some(team, |_, spec| !after_load || spec.check.on_data)
            .await
    }

    /// Checks the team's alerts that `wanted` picks.
    pub(super) async fn check_some(
        &self,
        team: &Team,
        wanted: impl Fn(i32, &lodestar_report::alerts::AlertSpec) -> bool,
    ) -> Result<CheckReport, SchedulerError> {
        let team_lock = self.alert_lock(team.id);
        let _held = team_lock.lock().await;
        let db = &self.inner.db;
        let mut inputs = Vec::new();
        let mut by_id: HashMap<i32, (Alert, Vec<lodestar_mail::Channel>, bool)> = HashMap::new();
        for alert in alerts::list(db, team.id).await? {
            let (spec, channels) = match stored(&alert) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "skipping an alert");
                    continue;
                }
            };
            if !wanted(alert.id, &spec) {
                continue;
            }
            inputs.push(AlertInput {
                id: alert.id,
                kpi: alert.kpi.clone(),
                spec: spec.clone(),
            });
            by_id.insert(alert.id, (alert, channels, spec.notify_recovery));
        }
        let mut report = CheckReport {
            alerts: inputs.len(),
            ..CheckReport::default()
        };
        if inputs.is_empty() {
            return Ok(report);
        }
        let findings = evaluate(&self.inner.engine, team, &inputs, self.now()).await?;
        self.inner
            .counters
            .alert_evaluations
            .fetch_add(inputs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        report.findings = findings.len();
        let mut states: HashMap<i32, HashMap<String, State>> = HashMap::new();
        for f in findings {
            let Some((alert, channels, notify_recovery)) = by_id.get(&f.alert_id) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = states.entry(f.alert_id) {
                slot.insert(alerts::states(db, f.alert_id).await?.into_iter().collect());
            }
            let state = states
                .get(&f.alert_id)
                .and_then(|s| s.get(&f.segment))
                .copied()
                .unwrap_or(State {
                    firing: false,
                    episode: 0,
                });
            let (kind, episode, notify) = match (f.verdict, state.firing) {
                (Verdict::Holds, false) => ("fired", state.episode + 1, true),
                (Verdict::Clear, true) => ("recovered", state.episode, *notify_recovery),
                _ => continue,
            };
            if let Some(fired) = self
                .record(alert, channels, &f, state, (kind, episode, notify))
                .await?
            {
                report.events.push(fired);
            }
        }
        Ok(report)
    }

    /// Records one change of state and notifies it: event, state, claims, sends.
    async fn record(
        &self,
        alert: &Alert,
        channels: &[lodestar_mail::Channel],
        f: &Finding,
        from: State,
        (kind, episode, notify): (&'static str, i32, bool),
    ) -> Result<Option<Fired>, SchedulerError> {
        let db = &self.inner.db;
        let now = self.now();
        let event = events::record(
            db,
            &NewEvent {
                alert_id: alert.id,
                team_id: alert.team_id,
                segment: f.segment.clone(),
                episode,
                kind,
                period: f.period.clone(),
                detail: f.detail.to_string(),
            },
            now,
        )
        .await?;
        // Claimed before the state changes: a check that stops after its claim leaves pending
        // rows that a lease take-over sends; one that stops before it leaves the state as it
        // was, so the next check finds the same event and claims then.
        let rows = if notify {
            self.claim_event(alert, &event, channels).await?
        } else {
            Vec::new()
        };
        alerts::transition(db, alert.id, &f.segment, from, now).await?;
        let deliveries = rows.len();
        if !rows.is_empty() {
            let n = notice(alert, &event, &self.inner.config.public_url);
            self.send_claimed(alert, &rows, channels, &n).await?;
        }
        Ok(Some(Fired {
            alert: alert.id,
            segment: f.segment.clone(),
            kind,
            episode,
            period: f.period.clone(),
            deliveries,
        }))
    }

    /// Evaluates one alert now without recording anything; with `send`, notifies each segment
    /// where it holds through every channel (outside the delivery log: a test may repeat).
    pub async fn test_alert(
        &self,
        team: &Team,
        alert: &Alert,
        send: bool,
    ) -> Result<Vec<TestOutcome>, SchedulerError> {
        let (spec, channels) = stored(alert)?;
        let input = AlertInput {
            id: alert.id,
            kpi: alert.kpi.clone(),
            spec,
        };
        let findings = evaluate(&self.inner.engine, team, &[input], self.now()).await?;
        let mut out = Vec::with_capacity(findings.len());
        for f in findings {
            let mut sent = Vec::new();
            if send && f.verdict == Verdict::Holds {
                let event = events::Event {
                    id: 0,
                    alert_id: alert.id,
                    team_id: team.id,
                    segment: f.segment.clone(),
                    episode: 0,
                    kind: "fired".to_owned(),
                    period: f.period.clone(),
                    detail: f.detail.to_string(),
                    created_at: self.now(),
                };
                let n = notice(alert, &event, &self.inner.config.public_url);
                for (i, channel) in channels.iter().enumerate() {
                    let key = format!("test-{}-{}-{i}", alert.id, self.now().timestamp_millis());
                    sent.push(self.send_test(channel, &n, &key).await);
                }
            }
            out.push(TestOutcome {
                segment: f.segment,
                verdict: verdict_name(f.verdict),
                period: f.period,
                detail: f.detail,
                sent,
            });
        }
        Ok(out)
    }
}
