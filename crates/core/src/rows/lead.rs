//! Leads: one row per lead, upserted by the team's own `id`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::parse::{self, Cell, Draft, fields, required};
use super::{FieldError, InputRow};
use crate::money::Micros;

/// A lead and its lifecycle. A lead may skip stages (won without ever being an SQL), so the stage
/// timestamps are independent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadRow {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Micros>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
    pub attrs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mql_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sal_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunity_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub won_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_value: Option<Micros>,
}

fields!(LeadField {
    Id = "id",
    CreatedAt = "created_at",
    Channel = "channel",
    Source = "source",
    Campaign = "campaign",
    Value = "value",
    Score = "score",
    MqlAt = "mql_at",
    SalAt = "sal_at",
    SqlAt = "sql_at",
    OpportunityAt = "opportunity_at",
    WonAt = "won_at",
    LostAt = "lost_at",
    ChurnedAt = "churned_at",
    DealValue = "deal_value",
});

#[derive(Default)]
struct LeadDraft {
    id: Option<String>,
    created_at: Option<DateTime<Utc>>,
    channel: Option<String>,
    source: Option<String>,
    campaign: Option<String>,
    value: Option<Micros>,
    score: Option<i32>,
    attrs: BTreeMap<String, String>,
    mql_at: Option<DateTime<Utc>>,
    sal_at: Option<DateTime<Utc>>,
    sql_at: Option<DateTime<Utc>>,
    opportunity_at: Option<DateTime<Utc>>,
    won_at: Option<DateTime<Utc>>,
    lost_at: Option<DateTime<Utc>>,
    churned_at: Option<DateTime<Utc>>,
    deal_value: Option<Micros>,
}

impl Draft for LeadDraft {
    type Row = LeadRow;
    type Field = LeadField;

    fn set(&mut self, field: LeadField, cell: Cell<'_>) -> Result<(), String> {
        match field {
            LeadField::Id => self.id = parse::short_text(cell)?,
            LeadField::CreatedAt => self.created_at = parse::timestamp(cell)?,
            LeadField::Channel => self.channel = parse::short_text(cell)?,
            LeadField::Source => self.source = parse::short_text(cell)?,
            LeadField::Campaign => self.campaign = parse::short_text(cell)?,
            LeadField::Value => self.value = parse::non_negative_amount(cell)?,
            LeadField::Score => self.score = parse::score(cell)?,
            LeadField::MqlAt => self.mql_at = parse::timestamp(cell)?,
            LeadField::SalAt => self.sal_at = parse::timestamp(cell)?,
            LeadField::SqlAt => self.sql_at = parse::timestamp(cell)?,
            LeadField::OpportunityAt => self.opportunity_at = parse::timestamp(cell)?,
            LeadField::WonAt => self.won_at = parse::timestamp(cell)?,
            LeadField::LostAt => self.lost_at = parse::timestamp(cell)?,
            LeadField::ChurnedAt => self.churned_at = parse::timestamp(cell)?,
            LeadField::DealValue => self.deal_value = parse::non_negative_amount(cell)?,
        }
        Ok(())
    }

    fn attrs_mut(&mut self) -> Option<&mut BTreeMap<String, String>> {
        Some(&mut self.attrs)
    }

    fn finish(self, errors: &mut Vec<FieldError>) -> Option<LeadRow> {
        let id = required(self.id, "id", errors);
        let created_at = required(self.created_at, "created_at", errors);
        Some(LeadRow {
            id: id?,
            created_at: created_at?,
            channel: self.channel,
            source: self.source,
            campaign: self.campaign,
            value: self.value,
            score: self.score,
            attrs: self.attrs,
            mql_at: self.mql_at,
            sal_at: self.sal_at,
            sql_at: self.sql_at,
            opportunity_at: self.opportunity_at,
            won_at: self.won_at,
            lost_at: self.lost_at,
            churned_at: self.churned_at,
            deal_value: self.deal_value,
        })
    }
}

impl InputRow for LeadRow {
    const TABLE_NAME: &'static str = "leads";

    fn from_json(value: &serde_json::Value) -> Result<Self, Vec<FieldError>> {
        parse::from_json::<LeadDraft>(value)
    }

    fn from_csv(headers: &[String], values: &[&str]) -> Result<Self, Vec<FieldError>> {
        parse::from_csv::<LeadDraft>(headers, values)
    }

    fn key(&self) -> String {
        self.id.clone()
    }

    fn field_names() -> &'static [&'static str] {
        LeadField::NAMES
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::rows::parse::Field;

    fn errors(value: serde_json::Value) -> Vec<(String, String)> {
        LeadRow::from_json(&value)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn csv(headers: &[&str], values: &[&str]) -> Result<LeadRow, Vec<FieldError>> {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        LeadRow::from_csv(&headers, values)
    }

    #[test]
    fn a_full_lead_reads_every_field() {
        let row = LeadRow::from_json(&json!({
            "id": "L-1", "created_at": "2026-11-03T10:00:00+01:00", "channel": "email",
            "source": "form", "campaign": "newsletter", "value": 505.5, "score": 46,
            "attrs": {"region": "EMEA"}, "mql_at": "2026-11-04T00:00:00Z",
            "sal_at": "2026-11-05T00:00:00Z", "sql_at": "2026-11-06T00:00:00Z",
            "opportunity_at": "2026-11-07T00:00:00Z", "won_at": "2026-11-08T00:00:00Z",
            "lost_at": null, "churned_at": "2026-12-01T00:00:00Z", "deal_value": 1467.53
        }))
        .unwrap();
        assert_eq!(row.id, "L-1");
        assert_eq!(
            crate::period::rfc3339(row.created_at),
            "2026-11-03T09:00:00Z"
        );
        assert_eq!(row.channel.as_deref(), Some("email"));
        assert_eq!(row.value, Some(Micros(505_500_000)));
        assert_eq!(row.score, Some(46));
        assert_eq!(row.attrs.get("region").map(String::as_str), Some("EMEA"));
        assert!(row.won_at.is_some() && row.lost_at.is_none() && row.churned_at.is_some());
        assert_eq!(row.deal_value, Some(Micros(1_467_530_000)));
        assert_eq!(row.key(), "L-1");
    }

    #[test]
    fn a_lead_without_id_and_created_at_reports_both_as_required() {
        assert_eq!(
            errors(json!({"channel": "email"})),
            [
                ("id".to_owned(), "required".to_owned()),
                ("created_at".to_owned(), "required".to_owned())
            ]
        );
        assert_eq!(
            errors(json!({"id": "  ", "created_at": null})),
            [
                ("id".to_owned(), "required".to_owned()),
                ("created_at".to_owned(), "required".to_owned())
            ]
        );
    }

    #[test]
    fn a_misspelt_field_is_an_error_not_silently_dropped() {
        assert_eq!(
            errors(json!({"id": "L-1", "create_at": "2026-11-03T10:00:00Z"})),
            [
                (
                    "create_at".to_owned(),
                    "unknown field `create_at`".to_owned()
                ),
                ("created_at".to_owned(), "required".to_owned())
            ]
        );
    }

    #[test]
    fn every_wrong_field_of_a_row_is_reported_at_once() {
        let found = errors(json!({
            "id": 7, "created_at": "yesterday", "channel": ["email"], "value": "12",
            "score": 101, "attrs": {"x": {"y": 1}}, "won_at": 5, "deal_value": "NaN"
        }));
        let mut fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "attrs.x",
                "channel",
                "created_at",
                "deal_value",
                "id",
                "score",
                "value",
                "won_at"
            ]
        );
        let message = |field: &str| {
            found
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, m)| m.as_str())
        };
        assert_eq!(message("id"), Some("expected a string"));
        assert_eq!(message("value"), Some("expected a number"));
        assert_eq!(message("score"), Some("must be an integer from 0 to 100"));
    }

    #[test]
    fn a_json_row_that_is_not_an_object_is_one_error_for_the_whole_row() {
        for value in [json!([1, 2]), json!("L-1"), json!(null), json!(3)] {
            let errors = LeadRow::from_json(&value).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "");
        }
    }

    #[test]
    fn attrs_must_be_an_object() {
        assert_eq!(
            errors(json!({"id": "L-1", "created_at": "2026-11-03T10:00:00Z", "attrs": "EMEA"})),
            [(
                "attrs".to_owned(),
                "expected a flat object such as {\"region\":\"EMEA\"}".to_owned()
            )]
        );
        let row = LeadRow::from_json(&json!({
            "id": "L-1", "created_at": "2026-11-03T10:00:00Z", "attrs": null
        }))
        .unwrap();
        assert!(row.attrs.is_empty());
    }

    #[test]
    fn csv_reads_attrs_columns_and_treats_empty_cells_as_missing() {
        let row = csv(
            &[
                "id",
                "created_at",
                "channel",
                "score",
                "attrs.region",
                "attrs.size",
                "won_at",
            ],
            &["L-1", "2026-11-03T10:00:00Z", "", "46", "EMEA", "", ""],
        )
        .unwrap();
        assert_eq!(row.channel, None);
        assert_eq!(row.score, Some(46));
        assert_eq!(row.won_at, None);
        assert_eq!(row.attrs.len(), 1);
        assert_eq!(row.attrs["region"], "EMEA");
    }

    #[test]
    fn csv_accepts_an_attrs_column_holding_a_json_object() {
        let row = csv(
            &["id", "created_at", "attrs"],
            &[
                "L-1",
                "2026-11-03T10:00:00Z",
                r#"{"region":"EMEA","seats":12}"#,
            ],
        )
        .unwrap();
        assert_eq!(row.attrs["region"], "EMEA");
        assert_eq!(row.attrs["seats"], "12");
        let errors = csv(
            &["id", "created_at", "attrs"],
            &["L-1", "2026-11-03T10:00:00Z", "EMEA"],
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "attrs");
    }

    #[test]
    fn csv_rejects_unknown_and_repeated_columns_and_bad_attr_keys() {
        let errors = csv(
            &[
                "id",
                "created_at",
                "create_at",
                "id",
                "attrs.bad key",
                "attrs.region",
                "attrs",
            ],
            &[
                "L-1",
                "2026-11-03T10:00:00Z",
                "x",
                "L-2",
                "x",
                "EMEA",
                r#"{"region":"APAC"}"#,
            ],
        )
        .unwrap_err();
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("create_at", "unknown field `create_at`"),
                ("id", "column given twice"),
                (
                    "attrs.bad key",
                    "attribute keys are 1 to 64 letters, digits, `_` or `-`"
                ),
                ("attrs.region", "given twice"),
            ]
        );
    }

    #[test]
    fn csv_tolerates_a_byte_order_mark_and_spaces_around_headers() {
        let row = csv(
            &["\u{feff}id", " created_at "],
            &["L-1", "2026-11-03T10:00:00Z"],
        )
        .unwrap();
        assert_eq!(row.id, "L-1");
    }

    #[test]
    fn csv_reports_a_row_with_the_wrong_number_of_cells() {
        let errors = csv(&["id", "created_at"], &["L-1"]).unwrap_err();
        assert_eq!(errors[0].field, "");
        assert_eq!(
            errors[0].message,
            "the row has 1 cells but the header has 2 columns"
        );
        assert_eq!(errors[1].field, "created_at");
    }

    #[test]
    fn every_field_name_reads_back_as_itself() {
        for (i, field) in LeadField::ALL.iter().enumerate() {
            assert_eq!(LeadField::from_name(field.name()), Some(*field));
            assert_eq!(field.index() as usize, i);
        }
    }
}
