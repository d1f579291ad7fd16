//! How each kind of validated row maps onto its table: columns, upsert key, bound values, and
//! what it adds to the daily rollups.

use chrono::{DateTime, Utc};
use lodestar_core::money::Micros;
use lodestar_core::rows::{EventRow, InputRow, LeadRow, SpendRow};
use sea_orm::Value;

use crate::rollup::{EventFacts, Facts, LeadFacts};

/// How a row type maps onto its table.
pub trait StoredRow: InputRow {
    const TABLE: &'static str;
    /// Every column written, `team_id` first.
    const COLUMNS: &'static [&'static str];
    /// The upsert key, `team_id` first.
    const KEY: &'static [&'static str];
    fn push_values(&self, team_id: i32, out: &mut Vec<Value>);
    fn push_key(&self, out: &mut Vec<Value>);
    /// What the row adds to the daily rollups: `Some` for every row of a table with rollups
    /// (`rollup::stored_columns`), `None` for every row of one without (`Prepared` pairs them
    /// with keys by position).
    fn facts(&self) -> Option<Facts> {
        None
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn opt_millis(t: Option<DateTime<Utc>>) -> Value {
    t.map(millis).into()
}

fn micros(m: Option<Micros>) -> Value {
    m.map(|m| m.0).into()
}

fn dim(s: &Option<String>) -> Value {
    s.clone().unwrap_or_default().into()
}

fn attrs_json(attrs: &std::collections::BTreeMap<String, String>) -> Value {
    serde_json::to_string(attrs)
        .unwrap_or_else(|_| "{}".to_owned())
        .into()
}

/// Spend days are stored as days since 1970-01-01 so period filters are integer ranges.
pub use lodestar_core::period::day_number;

impl StoredRow for LeadRow {
    const TABLE: &'static str = "leads";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "ext_id",
        "created_at",
        "channel",
        "source",
        "campaign",
        "value",
        "score",
        "attrs",
        "mql_at",
        "sal_at",
        "sql_at",
        "opportunity_at",
        "won_at",
        "lost_at",
        "churned_at",
        "deal_value",
    ];
    const KEY: &'static [&'static str] = &["team_id", "ext_id"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            self.id.clone().into(),
            millis(self.created_at).into(),
            dim(&self.channel),
            dim(&self.source),
            dim(&self.campaign),
            micros(self.value),
            self.score.into(),
            attrs_json(&self.attrs),
            opt_millis(self.mql_at),
            opt_millis(self.sal_at),
            opt_millis(self.sql_at),
            opt_millis(self.opportunity_at),
            opt_millis(self.won_at),
            opt_millis(self.lost_at),
            opt_millis(self.churned_at),
            micros(self.deal_value),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.push(self.id.clone().into());
    }

    fn facts(&self) -> Option<Facts> {
        Some(Facts::Lead(LeadFacts {
            created: millis(self.created_at),
            mql: self.mql_at.map(millis),
            sal: self.sal_at.map(millis),
            sql: self.sql_at.map(millis),
            opportunity: self.opportunity_at.map(millis),
            won: self.won_at.map(millis),
            lost: self.lost_at.map(millis),
            churned: self.churned_at.map(millis),
            value: self.value.map_or(0, |m| m.0),
            deal_value: self.deal_value.map_or(0, |m| m.0),
            score: self.score.map(i64::from),
            channel: self.channel.clone().unwrap_or_default(),
            campaign: self.campaign.clone().unwrap_or_default(),
            source: self.source.clone().unwrap_or_default(),
        }))
    }
}

impl StoredRow for SpendRow {
    const TABLE: &'static str = "spend";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "day",
        "channel",
        "campaign",
        "category",
        "amount",
        "impressions",
        "clicks",
    ];
    const KEY: &'static [&'static str] = &["team_id", "day", "channel", "campaign", "category"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            day_number(self.day).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.category.as_str().into(),
            self.amount.0.into(),
            self.impressions.into(),
            self.clicks.into(),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.extend([
            day_number(self.day).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.category.as_str().into(),
        ]);
    }
}

impl StoredRow for EventRow {
    const TABLE: &'static str = "events";
    const COLUMNS: &'static [&'static str] = &[
        "team_id",
        "ext_id",
        "kind",
        "occurred_at",
        "channel",
        "campaign",
        "lead_id",
        "value",
        "attrs",
    ];
    const KEY: &'static [&'static str] = &["team_id", "ext_id"];

    fn push_values(&self, team_id: i32, out: &mut Vec<Value>) {
        out.extend([
            team_id.into(),
            self.id.clone().into(),
            self.kind.clone().into(),
            millis(self.occurred_at).into(),
            dim(&self.channel),
            dim(&self.campaign),
            self.lead_id.clone().into(),
            micros(self.value),
            attrs_json(&self.attrs),
        ]);
    }

    fn push_key(&self, out: &mut Vec<Value>) {
        out.push(self.id.clone().into());
    }

    fn facts(&self) -> Option<Facts> {
        Some(Facts::Event(EventFacts {
            kind: self.kind.clone(),
            occurred: millis(self.occurred_at),
            value: self.value.map(|m| m.0),
            channel: self.channel.clone().unwrap_or_default(),
            campaign: self.campaign.clone().unwrap_or_default(),
            lead_id: self.lead_id.clone(),
        }))
    }
}
