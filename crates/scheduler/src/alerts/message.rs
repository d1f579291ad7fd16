//! What an alert notification says, in each channel's form: an e-mail (text and HTML), a Slack
//! message (a `text` fallback and Block Kit blocks) and a webhook's JSON body.

use lodestar_store::alerts::Alert;
use lodestar_store::alerts::events::Event;
use serde_json::{Value, json};

/// One notification, in every form.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub slack: Value,
    pub webhook: Value,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn str_of<'a>(detail: &'a Value, key: &str) -> &'a str {
    detail.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The notification of `event` of `alert`; links are made absolute with `public_url`.
pub(crate) fn notice(alert: &Alert, event: &Event, public_url: &str) -> Notice {
    let detail: Value = serde_json::from_str(&event.detail).unwrap_or(Value::Null);
    let kpi_name = match str_of(&detail, "kpi_name") {
        "" => alert.kpi.as_str(),
        n => n,
    };
    let segment = match (str_of(&detail, "segment_by"), event.segment.as_str()) {
        (_, "") | ("", _) => String::new(),
        (by, seg) => format!(" ({by} = {seg})"),
    };
    let fired = event.kind == "fired";
    let head = if fired { "Alert" } else { "Recovered" };
    let subject = format!(
        "{head}: {}: {kpi_name}{segment}, {}",
        alert.name, event.period
    );
    let link = format!("{public_url}{}", str_of(&detail, "link"));
    let comparison = detail.get("comparison").cloned().unwrap_or(Value::Null);
    let change = format!(
        "{} against {} {}",
        str_of(&comparison, "change_display"),
        str_of(&comparison, "compare"),
        str_of(&comparison, "period"),
    );
    let mut lines = vec![
        format!("{head}: {} ({kpi_name}{segment})", alert.name),
        format!(
            "{kpi_name} in {}{}: {}",
            event.period,
            detail
                .get("to")
                .and_then(Value::as_str)
                .map(|t| format!(" to {t}"))
                .unwrap_or_default(),
            str_of(&detail, "value_display")
        ),
        format!("{}.", str_of(&detail, "text")),
        format!("Change: {change}"),
    ];
    if let Some(driver) = detail.get("driver").and_then(Value::as_str) {
        lines.push(format!("Why: {driver}"));
    }
    if !fired {
        lines.push("The condition no longer holds.".to_owned());
    }
    let body = lines.join("\n");
    let text = format!("{body}\n\nOpen the report: {link}\n");
    let html = format!(
        "<html><body><p>{}</p><p><a href=\"{}\">Open the report</a></p></body></html>",
        lines
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("<br>"),
        escape(&link)
    );
    let slack = json!({
        "text": format!("{subject}: {}", str_of(&detail, "text")),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject.chars().take(150).collect::<String>()}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines[1..].join("\n")}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open the report"}, "url": link}
            ]}
        ]
    });
    let webhook = json!({
        "type": if fired { "alert.fired" } else { "alert.recovered" },
        "alert": {"id": alert.id, "name": alert.name, "kpi": alert.kpi},
        "event": {
            "id": event.id,
            "segment": if event.segment.is_empty() { Value::Null } else { Value::String(event.segment.clone()) },
            "episode": event.episode,
            "period": event.period,
        },
        "detail": detail,
        "text": body,
        "link": link,
    });
    Notice {
        subject,
        text,
        html,
        slack,
        webhook,
    }
}
