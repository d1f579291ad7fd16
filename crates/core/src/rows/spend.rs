//! Spend: one row per (day, channel, campaign, category), upserted on that key.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::parse::{self, Cell, Draft, fields, required};
use super::{FieldError, InputRow};
use crate::money::Micros;

/// What money was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpendCategory {
    Advertising,
    Content,
    Events,
    Tools,
    Sales,
    Other,
}

impl SpendCategory {
    pub const ALL: [SpendCategory; 6] = [
        SpendCategory::Advertising,
        SpendCategory::Content,
        SpendCategory::Events,
        SpendCategory::Tools,
        SpendCategory::Sales,
        SpendCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpendCategory::Advertising => "advertising",
            SpendCategory::Content => "content",
            SpendCategory::Events => "events",
            SpendCategory::Tools => "tools",
            SpendCategory::Sales => "sales",
            SpendCategory::Other => "other",
        }
    }

    /// The category with exactly this (lowercase) name.
    pub fn parse(s: &str) -> Option<SpendCategory> {
        SpendCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

const EXPECTED_CATEGORY: &str = "expected one of advertising, content, events, tools, sales, other";

impl fmt::Display for SpendCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpendCategory {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpendCategory::parse(s).ok_or_else(|| EXPECTED_CATEGORY.to_owned())
    }
}

/// Money spent on one local calendar day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub day: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    pub category: SpendCategory,
    pub amount: Micros,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impressions: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clicks: Option<i64>,
}

fields!(SpendField {
    Day = "day",
    Channel = "channel",
    Campaign = "campaign",
    Category = "category",
    Amount = "amount",
    Impressions = "impressions",
    Clicks = "clicks",
});

#[derive(Default)]
struct SpendDraft {
    day: Option<NaiveDate>,
    channel: Option<String>,
    campaign: Option<String>,
    category: Option<SpendCategory>,
    amount: Option<Micros>,
    impressions: Option<i64>,
    clicks: Option<i64>,
}

impl Draft for SpendDraft {
    type Row = SpendRow;
    type Field = SpendField;

    fn set(&mut self, field: SpendField, cell: Cell<'_>) -> Result<(), String> {
        match field {
            SpendField::Day => self.day = parse::date(cell)?,
            SpendField::Channel => self.channel = parse::short_text(cell)?,
            SpendField::Campaign => self.campaign = parse::short_text(cell)?,
            SpendField::Category => {
                self.category = match parse::short_text(cell)? {
                    None => None,
                    Some(name) => Some(SpendCategory::from_str(&name)?),
                }
            }
            SpendField::Amount => {
                self.amount = parse::amount(cell)?;
                if self.amount.is_some_and(Micros::is_negative) {
                    return Err("must be at least 0".to_owned());
                }
            }
            SpendField::Impressions => self.impressions = parse::count(cell)?,
            SpendField::Clicks => self.clicks = parse::count(cell)?,
        }
        Ok(())
    }

    fn attrs_mut(&mut self) -> Option<&mut std::collections::BTreeMap<String, String>> {
        None
    }

    fn finish(self, errors: &mut Vec<FieldError>) -> Option<SpendRow> {
        let day = required(self.day, "day", errors);
        let category = required(self.category, "category", errors);
        let amount = required(self.amount, "amount", errors);
        Some(SpendRow {
            day: day?,
            channel: self.channel,
            campaign: self.campaign,
            category: category?,
            amount: amount?,
            impressions: self.impressions,
            clicks: self.clicks,
        })
    }
}

impl InputRow for SpendRow {
    const TABLE_NAME: &'static str = "spend";

    fn field_names() -> &'static [&'static str] {
        SpendField::NAMES
    }

    fn from_json(value: &serde_json::Value) -> Result<Self, Vec<FieldError>> {
        parse::from_json::<SpendDraft>(value)
    }

    fn from_csv(headers: &[String], values: &[&str]) -> Result<Self, Vec<FieldError>> {
        parse::from_csv::<SpendDraft>(headers, values)
    }

    /// `day|channel|campaign|category`, a missing dimension as empty text. `|` and `\` inside a
    /// value are escaped with `\`, so different rows never share a key.
    fn key(&self) -> String {
        let mut key = String::with_capacity(48);
        key.push_str(&self.day.format("%Y-%m-%d").to_string());
        for part in [&self.channel, &self.campaign] {
            key.push('|');
            for c in part.as_deref().unwrap_or("").chars() {
                if c == '|' || c == '\\' {
                    key.push('\\');
                }
                key.push(c);
            }
        }
        key.push('|');
        key.push_str(self.category.as_str());
        key
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::rows::parse::Field;

    fn spend(value: serde_json::Value) -> Result<SpendRow, Vec<FieldError>> {
        SpendRow::from_json(&value)
    }

    fn messages(value: serde_json::Value) -> Vec<(String, String)> {
        spend(value)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn pair(field: &str, message: &str) -> (String, String) {
        (field.to_owned(), message.to_owned())
    }

    #[test]
    fn a_spend_row_reads_every_field() {
        let row = spend(json!({
            "day": "2026-10-01", "channel": "paid_search", "campaign": "brand",
            "category": "advertising", "amount": 125.02, "impressions": 18612, "clicks": 860
        }))
        .unwrap();
        assert_eq!(row.day, NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert_eq!(row.category, SpendCategory::Advertising);
        assert_eq!(row.amount, Micros(125_020_000));
        assert_eq!((row.impressions, row.clicks), (Some(18612), Some(860)));
        assert_eq!(row.key(), "2026-10-01|paid_search|brand|advertising");
    }

    #[test]
    fn day_category_and_amount_are_required() {
        assert_eq!(
            messages(json!({"channel": "email"})),
            [
                pair("day", "required"),
                pair("category", "required"),
                pair("amount", "required")
            ]
        );
    }

    #[test]
    fn the_day_is_a_local_date_not_a_timestamp() {
        assert_eq!(
            messages(json!({"day": "2026-10-01T00:00:00Z", "category": "tools", "amount": 1})),
            [pair(
                "day",
                "expected a date YYYY-MM-DD such as 2026-11-03, got `2026-10-01T00:00:00Z`"
            )]
        );
    }

    #[test]
    fn category_must_be_one_of_the_six_lowercase_names() {
        for name in ["Advertising", "ads", "marketing"] {
            assert_eq!(
                messages(json!({"day": "2026-10-01", "category": name, "amount": 1})),
                [pair("category", EXPECTED_CATEGORY)]
            );
        }
        for category in SpendCategory::ALL {
            assert_eq!(SpendCategory::parse(category.as_str()), Some(category));
            assert_eq!(
                serde_json::to_value(category).unwrap(),
                json!(category.as_str())
            );
        }
    }

    #[test]
    fn a_negative_amount_is_rejected_and_zero_is_fine() {
        assert_eq!(
            messages(json!({"day": "2026-10-01", "category": "tools", "amount": -0.01})),
            [pair("amount", "must be at least 0")]
        );
        let free = spend(json!({"day": "2026-10-01", "category": "tools", "amount": 0})).unwrap();
        assert_eq!(free.amount, Micros(0));
    }

    #[test]
    fn impressions_and_clicks_are_integers_of_at_least_zero() {
        let mut found = messages(json!({
            "day": "2026-10-01", "category": "advertising", "amount": 1,
            "impressions": -5, "clicks": 1.5
        }));
        found.sort();
        assert_eq!(
            found,
            [
                pair("clicks", "expected an integer"),
                pair("impressions", "must be an integer of at least 0")
            ]
        );
    }

    #[test]
    fn spend_has_no_attrs() {
        assert_eq!(
            messages(json!({"day": "2026-10-01", "category": "tools", "amount": 1, "attrs": {}})),
            [pair("attrs", "unknown field `attrs`")]
        );
        let headers = ["day", "category", "amount", "attrs.region"].map(String::from);
        let errors =
            SpendRow::from_csv(&headers, &["2026-10-01", "tools", "1", "EMEA"]).unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new(
                "attrs.region",
                "unknown field `attrs.region`"
            )]
        );
    }

    #[test]
    fn the_key_keeps_rows_with_pipes_in_their_names_apart() {
        let row = |channel: &str, campaign: &str| SpendRow {
            day: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            channel: Some(channel.to_owned()),
            campaign: Some(campaign.to_owned()),
            category: SpendCategory::Other,
            amount: Micros(0),
            impressions: None,
            clicks: None,
        };
        assert_ne!(row("a|b", "c").key(), row("a", "b|c").key());
        assert_ne!(row("a\\", "|c").key(), row("a\\|", "c").key());
        let bare = SpendRow {
            channel: None,
            campaign: None,
            ..row("", "")
        };
        assert_eq!(bare.key(), "2026-10-01|||other");
    }

    #[test]
    fn every_field_name_reads_back_as_itself() {
        for (i, field) in SpendField::ALL.iter().enumerate() {
            assert_eq!(SpendField::from_name(field.name()), Some(*field));
            assert_eq!(field.index() as usize, i);
        }
    }
}
