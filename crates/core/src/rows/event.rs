//! Events: anything that happens (sessions, visits, engagements, NPS answers, revenue...),
//! upserted by `id`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::parse::{self, Cell, Draft, fields, required};
use super::{FieldError, InputRow};
use crate::money::Micros;

/// One event. `kind` is free text; the built-in KPIs read `session`, `visit`, `engagement`, `nps`
/// and `revenue`, and custom scripts may read any other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Micros>,
    pub attrs: BTreeMap<String, String>,
}

fields!(EventField {
    Id = "id",
    Kind = "kind",
    OccurredAt = "occurred_at",
    Channel = "channel",
    Campaign = "campaign",
    LeadId = "lead_id",
    Value = "value",
});

#[derive(Default)]
struct EventDraft {
    id: Option<String>,
    kind: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    campaign: Option<String>,
    lead_id: Option<String>,
    value: Option<Micros>,
    attrs: BTreeMap<String, String>,
}

impl Draft for EventDraft {
    type Row = EventRow;
    type Field = EventField;

    fn set(&mut self, field: EventField, cell: Cell<'_>) -> Result<(), String> {
        match field {
            EventField::Id => self.id = parse::short_text(cell)?,
            EventField::Kind => self.kind = parse::short_text(cell)?,
            EventField::OccurredAt => self.occurred_at = parse::timestamp(cell)?,
            EventField::Channel => self.channel = parse::short_text(cell)?,
            EventField::Campaign => self.campaign = parse::short_text(cell)?,
            EventField::LeadId => self.lead_id = parse::short_text(cell)?,
            EventField::Value => self.value = parse::amount(cell)?,
        }
        Ok(())
    }

    fn attrs_mut(&mut self) -> Option<&mut BTreeMap<String, String>> {
        Some(&mut self.attrs)
    }

    fn finish(self, errors: &mut Vec<FieldError>) -> Option<EventRow> {
        let id = required(self.id, "id", errors);
        let kind = required(self.kind, "kind", errors);
        let occurred_at = required(self.occurred_at, "occurred_at", errors);
        Some(EventRow {
            id: id?,
            kind: kind?,
            occurred_at: occurred_at?,
            channel: self.channel,
            campaign: self.campaign,
            lead_id: self.lead_id,
            value: self.value,
            attrs: self.attrs,
        })
    }
}

impl InputRow for EventRow {
    const TABLE_NAME: &'static str = "events";

    fn from_json(value: &serde_json::Value) -> Result<Self, Vec<FieldError>> {
        parse::from_json::<EventDraft>(value)
    }

    fn from_csv(headers: &[String], values: &[&str]) -> Result<Self, Vec<FieldError>> {
        parse::from_csv::<EventDraft>(headers, values)
    }

    fn key(&self) -> String {
        self.id.clone()
    }

    fn field_names() -> &'static [&'static str] {
        EventField::NAMES
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::rows::parse::Field;

    fn event(value: serde_json::Value) -> Result<EventRow, Vec<FieldError>> {
        EventRow::from_json(&value)
    }

    #[test]
    fn an_event_reads_every_field() {
        let row = event(json!({
            "id": "E-1", "kind": "nps", "occurred_at": "2026-11-30T21:24:57Z",
            "channel": "social", "campaign": "meta", "lead_id": "L-7", "value": 10,
            "attrs": {"device": "mobile"}
        }))
        .unwrap();
        assert_eq!((row.id.as_str(), row.kind.as_str()), ("E-1", "nps"));
        assert_eq!(row.lead_id.as_deref(), Some("L-7"));
        assert_eq!(row.value, Some(Micros(10_000_000)));
        assert_eq!(row.attrs["device"], "mobile");
        assert_eq!(row.key(), "E-1");
    }

    #[test]
    fn id_kind_and_occurred_at_are_required() {
        let errors = event(json!({"kind": "", "value": 3})).unwrap_err();
        assert_eq!(
            errors,
            [
                FieldError::new("id", "required"),
                FieldError::new("kind", "required"),
                FieldError::new("occurred_at", "required"),
            ]
        );
    }

    #[test]
    fn ids_and_kinds_longer_than_200_characters_are_rejected() {
        let long = "x".repeat(201);
        let errors = event(json!({
            "id": long, "kind": long, "occurred_at": "2026-11-30T21:24:57Z"
        }))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                FieldError::new("id", "at most 200 characters"),
                FieldError::new("kind", "at most 200 characters"),
            ]
        );
    }

    #[test]
    fn event_values_may_be_negative_refunds() {
        let row = event(json!({
            "id": "E-1", "kind": "revenue", "occurred_at": "2026-11-30T21:24:57Z", "value": -20.5
        }))
        .unwrap();
        assert_eq!(row.value, Some(Micros(-20_500_000)));
    }

    #[test]
    fn every_field_name_reads_back_as_itself() {
        for (i, field) in EventField::ALL.iter().enumerate() {
            assert_eq!(EventField::from_name(field.name()), Some(*field));
            assert_eq!(field.index() as usize, i);
        }
    }
}
