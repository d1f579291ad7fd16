//! Named segment sets: segments defined by filters over a table's dimensions, usable wherever a
//! dimension is (`segment_by=set:<name>`). A row belongs to every segment whose filter it
//! matches, so a set need not be a partition; the partition check says whether it is one.
//!
//! The filter language is small on purpose: per segment, an object of field → test, all of which
//! must hold. Tests: `eq`, `ne`, `in`, `not_in`, `is_missing` (a string is short for `eq`). A
//! missing or empty value is "missing": it equals nothing, so `ne` and `not_in` match it.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::dimension::{Dimension, Table};

/// Most segments in one set.
pub const MAX_SEGMENTS: usize = 50;
/// Most tests in one segment's filter.
pub const MAX_CONDITIONS: usize = 20;
/// Most values in one `in` / `not_in` list.
pub const MAX_VALUES: usize = 200;
/// Longest value compared with (the dimension columns hold at most 200 characters).
pub const MAX_VALUE_LEN: usize = 200;
/// Longest segment name.
pub const MAX_SEGMENT_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSet {
    pub name: String,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    /// All must hold; none: every row.
    pub conditions: Vec<Condition>,
}

impl Segment {
    /// The filter in words: `channel is email and attrs.region is one of EU, NA`.
    pub fn describe(&self) -> String {
        if self.conditions.is_empty() {
            return "every row".to_owned();
        }
        let tests: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let field = &c.field;
                match &c.test {
                    Test::Eq(v) => format!("{field} is {v}"),
                    Test::Ne(v) => format!("{field} is not {v}"),
                    Test::In(vs) => format!("{field} is one of {}", vs.join(", ")),
                    Test::NotIn(vs) => format!("{field} is none of {}", vs.join(", ")),
                    Test::IsMissing(true) => format!("{field} is missing"),
                    Test::IsMissing(false) => format!("{field} is present"),
                }
            })
            .collect();
        tests.join(" and ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// A plain dimension (never a set).
    pub field: Dimension,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Eq(String),
    Ne(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    /// `true`: the value is missing or empty; `false`: it is present.
    IsMissing(bool),
}

impl Test {
    fn op(&self) -> &'static str {
        match self {
            Test::Eq(_) => "eq",
            Test::Ne(_) => "ne",
            Test::In(_) => "in",
            Test::NotIn(_) => "not_in",
            Test::IsMissing(_) => "is_missing",
        }
    }

    fn value(&self) -> Value {
        match self {
            Test::Eq(v) | Test::Ne(v) => json!(v),
            Test::In(v) | Test::NotIn(v) => json!(v),
            Test::IsMissing(b) => json!(b),
        }
    }

    /// Whether a row's value (`None` when missing or empty) passes, as SQL must decide it too.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.filter(|v| !v.is_empty());
        match self {
            Test::Eq(x) => value == Some(x.as_str()),
            Test::Ne(x) => value != Some(x.as_str()),
            Test::In(xs) => value.is_some_and(|v| xs.iter().any(|x| x == v)),
            Test::NotIn(xs) => !value.is_some_and(|v| xs.iter().any(|x| x == v)),
            Test::IsMissing(missing) => value.is_none() == *missing,
        }
    }
}

/// Set names appear in `set:<name>` and in URLs: 1 to 64 of lowercase letters, digits, `_`, `-`.
pub fn is_set_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What is wrong with a set definition, with where (`segments[1].filter.channel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: impl Into<String>, message: impl Into<String>) -> SetError {
    SetError {
        field: field.into(),
        message: message.into(),
    }
}

fn string_value(v: &Value, at: &str) -> Result<String, SetError> {
    match v.as_str() {
        Some("") => Err(err(
            at,
            "an empty value never matches (a missing value is empty): use is_missing",
        )),
        Some(s) if s.chars().count() > MAX_VALUE_LEN => Err(err(
            at,
            format!("values are at most {MAX_VALUE_LEN} characters long"),
        )),
        Some(s) => Ok(s.to_owned()),
        None => Err(err(at, "expected a string")),
    }
}

fn string_list(v: &Value, at: &str) -> Result<Vec<String>, SetError> {
    let items = v
        .as_array()
        .ok_or_else(|| err(at, "expected an array of strings"))?;
    if items.is_empty() || items.len() > MAX_VALUES {
        return Err(err(at, format!("expected 1 to {MAX_VALUES} values")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string_value(item, &format!("{at}[{i}]")))
        .collect()
}

impl SegmentSet {
    /// Parses and validates `{"segments":[{"name":"EU","filter":{"attrs.region":{"in":[…]}}}]}`.
    pub fn from_json(name: &str, body: &Value) -> Result<SegmentSet, SetError> {
        if !is_set_name(name) {
            return Err(err(
                "name",
                format!("set name `{name}`: use 1 to 64 lowercase letters, digits, _ and -"),
            ));
        }
        let obj = body
            .as_object()
            .ok_or_else(|| err("", "expected a JSON object with `segments`"))?;
        if let Some(unknown) = obj.keys().find(|k| k.as_str() != "segments") {
            return Err(err(unknown, "unknown field: expected only `segments`"));
        }
        let list = obj
            .get("segments")
            .and_then(Value::as_array)
            .ok_or_else(|| err("segments", "expected an array of segments"))?;
        if list.is_empty() || list.len() > MAX_SEGMENTS {
            return Err(err(
                "segments",
                format!("expected 1 to {MAX_SEGMENTS} segments"),
            ));
        }
        let mut names = BTreeSet::new();
        let mut segments = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let at = format!("segments[{i}]");
            let seg = item
                .as_object()
                .ok_or_else(|| err(&at, "expected an object with name and filter"))?;
            if let Some(unknown) = seg
                .keys()
                .find(|k| !matches!(k.as_str(), "name" | "filter"))
            {
                return Err(err(
                    format!("{at}.{unknown}"),
                    "unknown field: expected name and filter",
                ));
            }
            let seg_name = seg
                .get("name")
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or_default();
            if seg_name.is_empty() || seg_name.chars().count() > MAX_SEGMENT_NAME {
                return Err(err(
                    format!("{at}.name"),
                    format!("a segment needs a name of 1 to {MAX_SEGMENT_NAME} characters"),
                ));
            }
            if !names.insert(seg_name.to_owned()) {
                return Err(err(
                    format!("{at}.name"),
                    format!("segment name `{seg_name}` is used twice"),
                ));
            }
            let filter = match seg.get("filter") {
                None => Map::new(),
                Some(Value::Object(f)) => f.clone(),
                Some(_) => return Err(err(format!("{at}.filter"), "expected an object")),
            };
            segments.push(Segment {
                name: seg_name.to_owned(),
                conditions: parse_filter(&filter, &format!("{at}.filter"))?,
            });
        }
        Ok(SegmentSet {
            name: name.to_owned(),
            segments,
        })
    }

    /// Each segment's filter in words, as pages list a set.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.segments
            .iter()
            .map(|s| (s.name.clone(), s.describe()))
            .collect()
    }

    /// The definition in the shape `from_json` reads.
    pub fn to_json(&self) -> Value {
        let segments: Vec<Value> = self
            .segments
            .iter()
            .map(|s| {
                let mut filter = Map::new();
                for c in &s.conditions {
                    let entry = filter
                        .entry(c.field.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(tests) = entry {
                        tests.insert(c.test.op().to_owned(), c.test.value());
                    }
                }
                json!({"name": s.name, "filter": filter})
            })
            .collect();
        json!({ "segments": segments })
    }

    /// Every dimension a filter of the set reads, each once, in the order written.
    pub fn fields(&self) -> Vec<&Dimension> {
        let mut out: Vec<&Dimension> = Vec::new();
        for c in self.segments.iter().flat_map(|s| &s.conditions) {
            if !out.contains(&&c.field) {
                out.push(&c.field);
            }
        }
        out
    }

    /// The first dimension the set reads that `table` lacks.
    pub fn missing_on(&self, table: Table) -> Option<&Dimension> {
        self.fields().into_iter().find(|d| !d.supported_by(table))
    }

    /// Rows of `table` can be put into segments only when the table has every field read.
    pub fn supported_by(&self, table: Table) -> bool {
        self.missing_on(table).is_none()
    }

    pub fn names(&self) -> Vec<String> {
        self.segments.iter().map(|s| s.name.clone()).collect()
    }
}

fn parse_filter(filter: &Map<String, Value>, at: &str) -> Result<Vec<Condition>, SetError> {
    let mut out = Vec::new();
    for (key, spec) in filter {
        let here = format!("{at}.{key}");
        let field = Dimension::parse(key).map_err(|e| err(&here, e.to_string()))?;
        if matches!(field, Dimension::Set(_)) {
            return Err(err(&here, "a filter reads dimensions, not other sets"));
        }
        let tests: Vec<Test> = match spec {
            Value::String(_) => vec![Test::Eq(string_value(spec, &here)?)],
            Value::Object(ops) if !ops.is_empty() => ops
                .iter()
                .map(|(op, v)| {
                    let at = format!("{here}.{op}");
                    Ok(match op.as_str() {
                        "eq" => Test::Eq(string_value(v, &at)?),
                        "ne" => Test::Ne(string_value(v, &at)?),
                        "in" => Test::In(string_list(v, &at)?),
                        "not_in" => Test::NotIn(string_list(v, &at)?),
                        "is_missing" => Test::IsMissing(
                            v.as_bool()
                                .ok_or_else(|| err(&at, "expected true or false"))?,
                        ),
                        _ => {
                            return Err(err(
                                &at,
                                format!(
                                    "unknown test `{op}`: expected eq, ne, in, not_in or is_missing"
                                ),
                            ));
                        }
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(err(
                    &here,
                    "expected a string or an object such as {\"in\": [\"a\", \"b\"]}",
                ));
            }
        };
        for test in tests {
            out.push(Condition {
                field: field.clone(),
                test,
            });
        }
    }
    if out.len() > MAX_CONDITIONS {
        return Err(err(
            at,
            format!("at most {MAX_CONDITIONS} tests per segment"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> SegmentSet {
        SegmentSet::from_json(
            "regions",
            &json!({"segments": [
                {"name": "EU", "filter": {"attrs.region": {"in": ["EMEA", "EU"]}}},
                {"name": "Paid", "filter": {"channel": {"in": ["paid_search", "social"]}, "source": {"ne": "import"}}},
                {"name": "All"}
            ]}),
        )
        .expect("valid")
    }

    #[test]
    fn a_set_round_trips_through_its_json_shape() {
        let set = regions();
        assert_eq!(set.segments.len(), 3);
        assert_eq!(set.segments[1].conditions.len(), 2);
        assert!(set.segments[2].conditions.is_empty());
        let again = SegmentSet::from_json("regions", &set.to_json()).expect("valid");
        assert_eq!(again, set);
    }

    #[test]
    fn each_segment_reads_in_words() {
        let words = regions().describe();
        assert_eq!(
            words,
            vec![
                (
                    "EU".to_owned(),
                    "attrs.region is one of EMEA, EU".to_owned()
                ),
                (
                    "Paid".to_owned(),
                    "channel is one of paid_search, social and source is not import".to_owned()
                ),
                ("All".to_owned(), "every row".to_owned()),
            ]
        );
    }

    #[test]
    fn a_set_is_supported_only_by_tables_with_every_field_it_reads() {
        let set = regions();
        assert!(set.supported_by(Table::Leads));
        assert_eq!(
            set.missing_on(Table::Spend),
            Some(&Dimension::Attr("region".into()))
        );
        assert_eq!(set.missing_on(Table::Events), Some(&Dimension::Source));
    }

    #[test]
    fn a_missing_value_equals_nothing_so_ne_and_not_in_match_it() {
        assert!(!Test::Eq("a".into()).matches(None));
        assert!(Test::Ne("a".into()).matches(None));
        assert!(Test::Ne("a".into()).matches(Some("")));
        assert!(!Test::In(vec!["a".into()]).matches(None));
        assert!(Test::NotIn(vec!["a".into()]).matches(None));
        assert!(!Test::NotIn(vec!["a".into()]).matches(Some("a")));
        assert!(Test::IsMissing(true).matches(Some("")));
        assert!(Test::IsMissing(false).matches(Some("x")));
    }

    #[test]
    fn bad_definitions_say_where_and_why() {
        let cases = [
            (json!({"segments": []}), "segments"),
            (json!({"segments": [{"name": ""}]}), "segments[0].name"),
            (
                json!({"segments": [{"name": "a"}, {"name": "a"}]}),
                "segments[1].name",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"region": "EU"}}]}),
                "segments[0].filter.region",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"attrs.a'b": "EU"}}]}),
                "segments[0].filter.attrs.a'b",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"channel": {"like": "x"}}}]}),
                "segments[0].filter.channel.like",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"channel": {"in": []}}}]}),
                "segments[0].filter.channel.in",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"channel": {"eq": ""}}}]}),
                "segments[0].filter.channel.eq",
            ),
            (
                json!({"segments": [{"name": "a", "filter": {"set:x": "y"}}]}),
                "segments[0].filter.set:x",
            ),
            (json!({"segments": [], "extra": 1}), "extra"),
        ];
        for (body, field) in cases {
            let e = SegmentSet::from_json("s", &body).expect_err("invalid");
            assert_eq!(e.field, field, "{body}: {e}");
        }
        assert!(SegmentSet::from_json("Bad Name", &json!({"segments": [{"name": "a"}]})).is_err());
    }
}
