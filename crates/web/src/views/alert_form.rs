//! The alert form: what a stored alert fills in, and the `POST /api/v1/alerts` body a posted
//! form becomes (checked by the scheduler's `parse_body`, as the API's bodies are), with any
//! error put next to its field.

use lodestar_mail::Channel;
use lodestar_report::alerts::spec::AlertSpec;
use lodestar_report::alerts::{Condition, condition::Against, condition::GoalWanted};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlertInput {
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kpi: String,
    #[serde(default)]
    pub period_kind: String,
    pub last_complete: Option<String>,
    #[serde(default)]
    pub segment_by: String,
    #[serde(default)]
    pub condition: String,
    /// The threshold (above, below), the change (change) or the sensitivity (anomaly).
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub compare: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub goal_status: String,
    #[serde(default)]
    pub min_volume_kpi: String,
    #[serde(default)]
    pub min_volume: String,
    #[serde(default)]
    pub emails: String,
    #[serde(default)]
    pub slack: String,
    pub on_data: Option<String>,
    #[serde(default)]
    pub cron: String,
    #[serde(default)]
    pub timezone: String,
    pub notify_recovery: Option<String>,
    #[serde(default)]
    pub snooze_until: String,
}

/// What the form holds, and what is wrong with it, field by field.
#[derive(Debug, Clone, Default)]
pub struct AlertForm {
    pub name: String,
    pub kpi: String,
    pub period_kind: String,
    pub last_complete: bool,
    pub segment_by: String,
    pub condition: String,
    pub value: String,
    pub compare: String,
    pub direction: String,
    pub goal_status: String,
    pub min_volume_kpi: String,
    pub min_volume: String,
    pub emails: String,
    pub slack: String,
    /// Webhooks set through the API: the page keeps them as they are.
    pub webhooks: usize,
    pub on_data: bool,
    pub cron: String,
    pub timezone: String,
    pub notify_recovery: bool,
    pub snooze_until: String,
    pub kpi_error: Option<String>,
    pub period_kind_error: Option<String>,
    pub segment_by_error: Option<String>,
    pub value_error: Option<String>,
    pub min_volume_error: Option<String>,
    pub channels_error: Option<String>,
    pub check_error: Option<String>,
    pub snooze_error: Option<String>,
    /// An error of no field of the form.
    pub error: Option<String>,
}

fn shown(v: f64) -> String {
    lodestar_report::number::raw(Some(v))
}

impl AlertForm {
    /// A new alert's form: this month's leads, checked after every data load.
    pub fn new_alert() -> AlertForm {
        AlertForm {
            kpi: "leads".to_owned(),
            period_kind: "month".to_owned(),
            condition: "below".to_owned(),
            compare: "previous".to_owned(),
            direction: "any".to_owned(),
            goal_status: "behind".to_owned(),
            on_data: true,
            ..AlertForm::default()
        }
    }

    /// The form of a stored alert.
    pub fn of(name: &str, kpi: &str, spec: &AlertSpec, channels: &[Channel]) -> AlertForm {
        let mut f = AlertForm {
            name: name.to_owned(),
            kpi: kpi.to_owned(),
            period_kind: spec
                .period_kind
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            last_complete: spec.last_complete,
            segment_by: spec.segment_by.clone().unwrap_or_default(),
            on_data: spec.check.on_data,
            cron: spec.check.cron.clone().unwrap_or_default(),
            timezone: spec.check.timezone.clone().unwrap_or_default(),
            notify_recovery: spec.notify_recovery,
            snooze_until: spec.snooze_until.map(|d| d.to_string()).unwrap_or_default(),
            ..AlertForm::new_alert()
        };
        match &spec.condition {
            Condition::Above { value } | Condition::Below { value } => {
                f.value = shown(*value);
            }
            Condition::Change {
                compare,
                by,
                direction,
            } => {
                f.value = shown(*by);
                f.compare = match compare {
                    Against::Previous => "previous",
                    Against::Year => "year",
                }
                .to_owned();
                f.direction = serde_json::to_value(direction)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
            }
            Condition::Anomaly { sensitivity } => f.value = shown(*sensitivity),
            Condition::Goal { status } => {
                f.goal_status = match status {
                    GoalWanted::Behind => "behind",
                    GoalWanted::Missed => "missed",
                }
                .to_owned();
            }
        }
        f.condition = serde_json::to_value(&spec.condition)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        if let Some(m) = &spec.min_volume {
            f.min_volume_kpi = m.kpi.clone();
            f.min_volume = shown(m.at_least);
        }
        let mut emails = Vec::new();
        for c in channels {
            match c {
                Channel::Email(a) => emails.push(a.clone()),
                Channel::Slack(url) if f.slack.is_empty() => f.slack = url.clone(),
                Channel::Slack(_) | Channel::Webhook { .. } => f.webhooks += 1,
            }
        }
        f.emails = emails.join("\n");
        f
    }

    /// The channels of a stored alert the page does not edit: all but its e-mails and its first
    /// Slack channel.
    pub fn kept(channels: &[Channel]) -> Vec<Channel> {
        let mut slack_seen = false;
        channels
            .iter()
            .filter(|c| match c {
                Channel::Email(_) => false,
                Channel::Slack(_) if !slack_seen => {
                    slack_seen = true;
                    false
                }
                _ => true,
            })
            .cloned()
            .collect()
    }

    /// The form as posted, no errors yet.
    pub fn posted(i: &AlertInput) -> AlertForm {
        AlertForm {
            name: i.name.clone(),
            kpi: i.kpi.clone(),
            period_kind: i.period_kind.clone(),
            last_complete: i.last_complete.is_some(),
            segment_by: i.segment_by.clone(),
            condition: i.condition.clone(),
            value: i.value.clone(),
            compare: i.compare.clone(),
            direction: i.direction.clone(),
            goal_status: i.goal_status.clone(),
            min_volume_kpi: i.min_volume_kpi.clone(),
            min_volume: i.min_volume.clone(),
            emails: i.emails.clone(),
            slack: i.slack.clone(),
            on_data: i.on_data.is_some(),
            cron: i.cron.clone(),
            timezone: i.timezone.clone(),
            notify_recovery: i.notify_recovery.is_some(),
            snooze_until: i.snooze_until.clone(),
            ..AlertForm::default()
        }
    }

    /// Puts an error of the API's `field` next to the form's field.
    pub fn set_error(&mut self, field: &str, message: String) {
        let slot = match field {
            "kpi" => &mut self.kpi_error,
            "period_kind" | "period" | "last_complete" => &mut self.period_kind_error,
            "segment_by" => &mut self.segment_by_error,
            "condition" => &mut self.value_error,
            "min_volume" => &mut self.min_volume_error,
            "channels" => &mut self.channels_error,
            "check" => &mut self.check_error,
            "snooze_until" => &mut self.snooze_error,
            _ => &mut self.error,
        };
        *slot = Some(message);
    }

    /// The API body this form says, keeping `kept` (the webhooks the page does not edit); the
    /// form with its errors when a number does not read.
    pub fn body(mut self, kept: &[Channel]) -> Result<Value, Box<AlertForm>> {
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let value = number(&self.value);
        let condition = match self.condition.as_str() {
            "above" | "below" => value.map(|v| json!({"type": self.condition, "value": v})),
            "change" => value.map(|v| {
                json!({"type": "change", "by": v, "compare": self.compare, "direction": self.direction})
            }),
            "anomaly" => value.map(|v| json!({"type": "anomaly", "sensitivity": v})),
            "goal" => Some(json!({"type": "goal", "status": self.goal_status})),
            other => Some(json!({ "type": other })),
        };
        let Some(condition) = condition else {
            let what = match self.condition.as_str() {
                "change" => "the change (a number, 20 for 20%)",
                "anomaly" => "the sensitivity (a number, 3 is usual)",
                _ => "the threshold (a number)",
            };
            self.value_error = Some(format!("Give {what}."));
            return Err(Box::new(self));
        };
        let mut body = Map::new();
        body.insert("name".to_owned(), json!(self.name.trim()));
        body.insert("kpi".to_owned(), json!(self.kpi));
        body.insert("period_kind".to_owned(), json!(self.period_kind));
        body.insert("last_complete".to_owned(), json!(self.last_complete));
        if !self.segment_by.trim().is_empty() {
            body.insert("segment_by".to_owned(), json!(self.segment_by.trim()));
        }
        body.insert("condition".to_owned(), condition);
        if !self.min_volume_kpi.is_empty() {
            let Some(at_least) = number(&self.min_volume) else {
                self.min_volume_error = Some("Give the minimum volume (a number).".to_owned());
                return Err(Box::new(self));
            };
            body.insert(
                "min_volume".to_owned(),
                json!({"kpi": self.min_volume_kpi, "at_least": at_least}),
            );
        }
        let mut channels: Vec<Value> = self
            .emails
            .split(['\n', ','])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| json!({ "email": a }))
            .collect();
        if !self.slack.trim().is_empty() {
            channels.push(json!({"slack": self.slack.trim()}));
        }
        channels.extend(kept.iter().map(Channel::to_json));
        body.insert("channels".to_owned(), Value::Array(channels));
        let mut check = json!({ "on_data": self.on_data });
        if !self.cron.trim().is_empty() {
            check["cron"] = json!(self.cron.trim());
        }
        if !self.timezone.trim().is_empty() {
            check["timezone"] = json!(self.timezone.trim());
        }
        body.insert("check".to_owned(), check);
        body.insert("notify_recovery".to_owned(), json!(self.notify_recovery));
        if !self.snooze_until.trim().is_empty() {
            body.insert("snooze_until".to_owned(), json!(self.snooze_until.trim()));
        }
        Ok(Value::Object(body))
    }
}
