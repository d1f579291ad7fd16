//! Dimensions a KPI can be segmented by, and which table carries which dimension.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::CoreError;

/// The segment that holds rows whose dimension value is missing or empty.
pub const NONE_SEGMENT: &str = "(none)";

/// The three tables a team loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Leads,
    Spend,
    Events,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Leads, Table::Spend, Table::Events];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Leads => "leads",
            Table::Spend => "spend",
            Table::Events => "events",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dimension named in `segment_by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Channel,
    Campaign,
    Source,
    Category,
    /// `attrs.<key>`; the key is validated so it can be used in a JSON path safely.
    Attr(String),
}

impl Dimension {
    pub fn parse(s: &str) -> Result<Dimension, CoreError> {
        match s {
            "channel" => Ok(Dimension::Channel),
            "campaign" => Ok(Dimension::Campaign),
            "source" => Ok(Dimension::Source),
            "category" => Ok(Dimension::Category),
            _ => match s.strip_prefix("attrs.") {
                Some(key) if is_attr_key(key) => Ok(Dimension::Attr(key.to_owned())),
                _ => Err(CoreError::InvalidDimension(s.to_owned())),
            },
        }
    }

    /// Whether rows of `table` carry this dimension.
    pub fn supported_by(&self, table: Table) -> bool {
        match self {
            Dimension::Channel | Dimension::Campaign => true,
            Dimension::Source => table == Table::Leads,
            Dimension::Category => table == Table::Spend,
            Dimension::Attr(_) => table != Table::Spend,
        }
    }
}

/// Attribute keys: 1 to 64 of letters, digits, `_` and `-`.
pub fn is_attr_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Channel => f.write_str("channel"),
            Dimension::Campaign => f.write_str("campaign"),
            Dimension::Source => f.write_str("source"),
            Dimension::Category => f.write_str("category"),
            Dimension::Attr(key) => write!(f, "attrs.{key}"),
        }
    }
}

impl Serialize for Dimension {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_dimension_round_trips() {
        for s in ["channel", "campaign", "source", "category", "attrs.region"] {
            assert_eq!(Dimension::parse(s).map(|d| d.to_string()), Ok(s.to_owned()));
        }
    }

    #[test]
    fn an_unknown_or_unsafe_dimension_is_named_in_the_error() {
        for s in ["region", "attrs.", "attrs.a'b", "attrs.a.b", ""] {
            assert_eq!(
                Dimension::parse(s),
                Err(CoreError::InvalidDimension(s.to_owned()))
            );
        }
    }

    #[test]
    fn source_is_only_on_leads_and_category_only_on_spend() {
        assert!(Dimension::Source.supported_by(Table::Leads));
        assert!(!Dimension::Source.supported_by(Table::Events));
        assert!(Dimension::Category.supported_by(Table::Spend));
        assert!(!Dimension::Category.supported_by(Table::Leads));
        assert!(!Dimension::Attr("region".into()).supported_by(Table::Spend));
        assert!(Dimension::Attr("region".into()).supported_by(Table::Events));
    }
}
