//! Dimensions a KPI can be segmented by, and which table carries which dimension.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::CoreError;
use crate::segment_set::{SegmentSet, is_set_name};

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
    /// `set:<name>`: a team's named segment set. Parsing gives the name; the report engine
    /// resolves it to the team's stored definition before anything is computed.
    Set(SetRef),
}

/// A segment set by name, with its definition once resolved. Two refs are the same dimension
/// when their names are equal.
#[derive(Debug, Clone)]
pub struct SetRef {
    pub name: String,
    pub definition: Option<Arc<SegmentSet>>,
}

impl SetRef {
    pub fn resolved(set: SegmentSet) -> SetRef {
        SetRef {
            name: set.name.clone(),
            definition: Some(Arc::new(set)),
        }
    }
}

impl PartialEq for SetRef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for SetRef {}

impl Hash for SetRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for SetRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SetRef {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name.cmp(&other.name)
    }
}

impl Dimension {
    pub fn parse(s: &str) -> Result<Dimension, CoreError> {
        match s {
            "channel" => Ok(Dimension::Channel),
            "campaign" => Ok(Dimension::Campaign),
            "source" => Ok(Dimension::Source),
            "category" => Ok(Dimension::Category),
            _ => {
                if let Some(key) = s.strip_prefix("attrs.")
                    && is_attr_key(key)
                {
                    return Ok(Dimension::Attr(key.to_owned()));
                }
                match s.strip_prefix("set:") {
                    Some(name) if is_set_name(name) => Ok(Dimension::Set(SetRef {
                        name: name.to_owned(),
                        definition: None,
                    })),
                    _ => Err(CoreError::InvalidDimension(s.to_owned())),
                }
            }
        }
    }

    /// Whether rows of `table` carry this dimension. A set is carried when the table has every
    /// field its filters read; an unresolved set by nothing (so it can never pass as a silent 0).
    pub fn supported_by(&self, table: Table) -> bool {
        match self {
            Dimension::Channel | Dimension::Campaign => true,
            Dimension::Source => table == Table::Leads,
            Dimension::Category => table == Table::Spend,
            Dimension::Attr(_) => table != Table::Spend,
            Dimension::Set(set) => set
                .definition
                .as_ref()
                .is_some_and(|d| d.supported_by(table)),
        }
    }

    /// What `table` lacks to be split by this dimension, for messages: the dimension itself, or
    /// for a set the field of its filters that the table does not have.
    pub fn missing_on(&self, table: Table) -> String {
        match self {
            Dimension::Set(set) => match set.definition.as_ref() {
                Some(def) => match def.missing_on(table) {
                    Some(field) => format!("{field} (read by segment set {})", set.name),
                    None => self.to_string(),
                },
                None => format!("{self} (segment set not resolved)"),
            },
            _ => self.to_string(),
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
            Dimension::Set(set) => write!(f, "set:{}", set.name),
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
        for s in [
            "channel",
            "campaign",
            "source",
            "category",
            "attrs.region",
            "set:regions",
        ] {
            assert_eq!(Dimension::parse(s).map(|d| d.to_string()), Ok(s.to_owned()));
        }
    }

    #[test]
    fn an_unknown_or_unsafe_dimension_is_named_in_the_error() {
        for s in [
            "region",
            "attrs.",
            "attrs.a'b",
            "attrs.a.b",
            "",
            "set:",
            "set:Bad",
            "set:a b",
        ] {
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

    #[test]
    fn a_set_is_split_by_what_its_filters_read_and_names_what_a_table_lacks() {
        let unresolved = Dimension::parse("set:regions").expect("valid name");
        assert!(!unresolved.supported_by(Table::Leads));
        let def = SegmentSet::from_json(
            "regions",
            &serde_json::json!({"segments": [{"name": "EU", "filter": {"attrs.region": "EU"}}]}),
        )
        .expect("valid set");
        let set = Dimension::Set(SetRef::resolved(def));
        assert_eq!(set, unresolved);
        assert!(set.supported_by(Table::Leads));
        assert!(!set.supported_by(Table::Spend));
        assert_eq!(
            set.missing_on(Table::Spend),
            "attrs.region (read by segment set regions)"
        );
        assert_eq!(Dimension::Source.missing_on(Table::Spend), "source");
    }
}
