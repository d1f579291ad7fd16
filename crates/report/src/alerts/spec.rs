//! An alert's definition as stored (JSON) and as read from a request, with the field at fault
//! when it is wrong. Channels are not part of it: the scheduler reads and sends them.

use chrono::NaiveDate;
use lodestar_core::dimension::Dimension;
use lodestar_core::period::{PeriodKey, PeriodKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::condition::Condition;

/// Another KPI that must reach a volume before the alert judges a segment (`leads ≥ 30`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinVolume {
    pub kpi: String,
    pub at_least: f64,
}

/// When an alert is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// After every data load that touches the team.
    #[serde(default = "yes")]
    pub on_data: bool,
    /// Also on this cron (`sec min hour day month weekday`, or five fields), checked by the
    /// scheduler (the scheduler crate validates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The cron's timezone (default: the team's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for Check {
    fn default() -> Self {
        Check {
            on_data: true,
            cron: None,
            timezone: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSpec {
    /// The period containing now, read to today (or the last complete one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_kind: Option<PeriodKind>,
    /// A fixed period instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<String>,
    pub condition: Condition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_volume: Option<MinVolume>,
    #[serde(default)]
    pub check: Check,
    #[serde(default)]
    pub last_complete: bool,
    #[serde(default)]
    pub notify_recovery: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_until: Option<NaiveDate>,
}

/// A request field that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The parts of an alert's request body besides its channels.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAlert {
    pub name: String,
    pub kpi: String,
    pub spec: AlertSpec,
}

const FIELDS: [&str; 12] = [
    "name",
    "kpi",
    "period_kind",
    "period",
    "segment_by",
    "condition",
    "min_volume",
    "check",
    "channels",
    "last_complete",
    "notify_recovery",
    "snooze_until",
];

fn field<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<T>, SpecError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| err(name, format!("`{name}` must be {what}: {e}"))),
    }
}

impl AlertSpec {
    /// Reads a request body (every field but `channels`), checking what can be checked without
    /// the team: the KPI keys are checked by the caller.
    pub fn parse_body(body: &Value) -> Result<ParsedAlert, SpecError> {
        let Some(obj) = body.as_object() else {
            return Err(err("body", "an alert is a JSON object"));
        };
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(err(k, format!("unknown field `{k}`")));
        }
        let name: String = field(obj, "name", "a string")?.unwrap_or_default();
        let kpi: String =
            field(obj, "kpi", "a KPI key")?.ok_or_else(|| err("kpi", "`kpi` is required"))?;
        let period_kind: Option<String> =
            field(obj, "period_kind", "day, week, month, quarter or year")?;
        let period: Option<String> = field(obj, "period", "a period key")?;
        let period_kind = match (period_kind, &period) {
            (Some(_), Some(_)) => {
                return Err(err("period", "give `period_kind` or `period`, not both"));
            }
            (None, None) => {
                return Err(err(
                    "period_kind",
                    "`period_kind` (or a fixed `period`) is required",
                ));
            }
            (Some(k), None) => Some(
                serde_json::from_value::<PeriodKind>(Value::String(k.clone())).map_err(|_| {
                    err(
                        "period_kind",
                        format!("unknown period kind `{k}`: day, week, month, quarter or year"),
                    )
                })?,
            ),
            (None, Some(p)) => {
                PeriodKey::parse(p).map_err(|e| err("period", e.to_string()))?;
                None
            }
        };
        let segment_by: Option<String> = field(obj, "segment_by", "a dimension")?;
        if let Some(s) = &segment_by {
            Dimension::parse(s).map_err(|e| err("segment_by", e.to_string()))?;
        }
        let condition: Condition = field(
            obj,
            "condition",
            "{\"type\":\"above\"|\"below\"|\"change\"|\"goal\"|\"anomaly\", …}",
        )?
        .ok_or_else(|| err("condition", "`condition` is required"))?;
        match &condition {
            Condition::Above { value } | Condition::Below { value } if !value.is_finite() => {
                return Err(err("condition", "`value` must be a number"));
            }
            Condition::Change { by, .. } if !(by.is_finite() && *by >= 0.0) => {
                return Err(err("condition", "`by` must be a number ≥ 0"));
            }
            Condition::Anomaly { sensitivity }
                if !(sensitivity.is_finite() && *sensitivity > 0.0) =>
            {
                return Err(err("condition", "`sensitivity` must be a number > 0"));
            }
            _ => {}
        }
        let min_volume: Option<MinVolume> = field(obj, "min_volume", "{\"kpi\":…,\"at_least\":N}")?;
        let check: Check = field(
            obj,
            "check",
            "{\"on_data\":true|false, \"cron\"?, \"timezone\"?}",
        )?
        .unwrap_or_default();
        let last_complete: bool = field(obj, "last_complete", "true or false")?.unwrap_or(false);
        if last_complete && period.is_some() {
            return Err(err(
                "last_complete",
                "`last_complete` goes with `period_kind`",
            ));
        }
        let notify_recovery: bool =
            field(obj, "notify_recovery", "true or false")?.unwrap_or(false);
        let snooze_until: Option<NaiveDate> = field(obj, "snooze_until", "a date YYYY-MM-DD")?;
        Ok(ParsedAlert {
            name: if name.trim().is_empty() {
                kpi.clone()
            } else {
                name.trim().to_owned()
            },
            kpi,
            spec: AlertSpec {
                period_kind,
                period,
                segment_by,
                condition,
                min_volume,
                check,
                last_complete,
                notify_recovery,
                snooze_until,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_names_its_bad_field() {
        let bad = [
            (
                json!({"kpi": "leads", "condition": {"type": "above", "value": 1}}),
                "period_kind",
            ),
            (
                json!({"kpi": "leads", "period_kind": "fortnight", "condition": {"type": "above", "value": 1}}),
                "period_kind",
            ),
            (
                json!({"kpi": "leads", "period_kind": "week", "condition": {"type": "sideways"}}),
                "condition",
            ),
            (
                json!({"kpi": "leads", "period_kind": "week", "segment_by": "planet", "condition": {"type": "above", "value": 1}}),
                "segment_by",
            ),
            (
                json!({"kpi": "leads", "period_kind": "week", "condition": {"type": "above", "value": 1}, "check": {"every": "0 * * * *"}}),
                "check",
            ),
            (
                json!({"kpi": "leads", "period_kind": "week", "condition": {"type": "above", "value": 1}, "colour": 1}),
                "colour",
            ),
        ];
        for (body, f) in bad {
            let e = AlertSpec::parse_body(&body).expect_err("invalid");
            assert_eq!(e.field, f, "{body}: {e:?}");
        }
    }

    #[test]
    fn a_stored_spec_reads_back_the_same() {
        let parsed = AlertSpec::parse_body(&json!({
            "kpi": "leads", "period_kind": "month", "segment_by": "channel",
            "condition": {"type": "change", "compare": "year", "by": 10, "direction": "any"},
            "min_volume": {"kpi": "leads", "at_least": 30}, "notify_recovery": true,
            "snooze_until": "2026-12-24"
        }))
        .expect("valid");
        let stored = serde_json::to_string(&parsed.spec).expect("json");
        let back: AlertSpec = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back, parsed.spec);
    }
}
