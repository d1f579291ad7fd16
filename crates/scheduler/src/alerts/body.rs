//! An alert's request body: its definition (read by the report crate) and its channels.

use lodestar_core::catalog::Builtin;
use lodestar_core::period::Timezone;
use lodestar_mail::Channel;
use lodestar_report::KpiEngine;
use lodestar_report::alerts::spec::ParsedAlert;
use lodestar_report::alerts::{AlertSpec, SpecError};
use lodestar_store::alerts::{Alert, AlertFields};
use lodestar_store::teams::Team;
use serde_json::Value;

use crate::cron::CronSpec;
use crate::error::SchedulerError;

/// A valid alert body, ready to store.
#[derive(Debug, Clone)]
pub struct AlertBody {
    pub fields: AlertFields,
    pub spec: AlertSpec,
    pub channels: Vec<Channel>,
}

fn invalid(field: &str, message: String) -> SpecError {
    SpecError {
        field: field.to_owned(),
        message,
    }
}

/// Reads and checks a body against the team's KPIs; the inner `Err` names the field at fault.
pub async fn parse_body(
    engine: &KpiEngine,
    team: &Team,
    body: &Value,
) -> Result<Result<AlertBody, SpecError>, SchedulerError> {
    let ParsedAlert {
        name,
        kpi,
        mut spec,
    } = match AlertSpec::parse_body(body) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let channels = match body.get("channels") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match Channel::parse_list(v) {
            Ok(c) => c,
            Err(message) => {
                return Ok(Err(invalid("channels", message)));
            }
        },
    };
    if let Some(cron) = &spec.check.cron {
        match CronSpec::parse(cron) {
            Ok(c) => spec.check.cron = Some(c.as_str().to_owned()),
            Err(e) => return Ok(Err(invalid("check", format!("check.cron: {e}")))),
        }
    }
    if let Some(tz) = &spec.check.timezone {
        match Timezone::parse(tz) {
            Ok(t) => spec.check.timezone = Some(t.name().to_owned()),
            Err(e) => return Ok(Err(invalid("check", format!("check.timezone: {e}")))),
        }
    }
    if !spec.check.on_data && spec.check.cron.is_none() {
        return Ok(Err(invalid(
            "check",
            "an alert checked neither on data loads nor on a cron is never checked".to_owned(),
        )));
    }
    let customs = engine.custom_kpis(team).await?;
    let known = |k: &str| Builtin::from_key(k).is_some() || customs.kpis.contains_key(k);
    if !known(&kpi) {
        return Ok(Err(invalid(
            "kpi",
            format!("unknown KPI `{kpi}`: see GET /api/v1/catalog"),
        )));
    }
    if let Some(m) = &spec.min_volume
        && !known(&m.kpi)
    {
        return Ok(Err(invalid(
            "min_volume",
            format!("unknown KPI `{}`", m.kpi),
        )));
    }
    let fields = AlertFields {
        name,
        kpi,
        spec: serde_json::to_string(&spec).unwrap_or_default(),
        channels: serde_json::to_string(&channels.iter().map(Channel::to_json).collect::<Vec<_>>())
            .unwrap_or_default(),
    };
    Ok(Ok(AlertBody {
        fields,
        spec,
        channels,
    }))
}

/// A stored alert's definition and channels.
pub(crate) fn stored(alert: &Alert) -> Result<(AlertSpec, Vec<Channel>), SchedulerError> {
    let bad = |what: &str, e: String| SchedulerError::Alert {
        id: alert.id,
        message: format!("stored {what} do not read: {e}"),
    };
    let spec: AlertSpec =
        serde_json::from_str(&alert.spec).map_err(|e| bad("definition", e.to_string()))?;
    let value: Value =
        serde_json::from_str(&alert.channels).map_err(|e| bad("channels", e.to_string()))?;
    let channels = Channel::parse_list(&value).map_err(|e| bad("channels", e))?;
    Ok((spec, channels))
}
