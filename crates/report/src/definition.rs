//! Report definitions: which KPIs a report shows, over which kind of period, split by which
//! dimension, and the targets they are held to. Every team has the built-in `weekly`; a stored
//! definition of the same slug replaces it for that team.

use std::collections::{BTreeMap, BTreeSet};

use lodestar_core::dimension::Dimension;
use lodestar_core::period::{Compare, PeriodKind};
use lodestar_core::tree::is_tree_slug;
use lodestar_store::StoreError;
use lodestar_store::reports::StoredReport;
use serde::{Deserialize, Serialize, Serializer};

/// The slug of the report every team has.
pub const WEEKLY: &str = "weekly";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDefinition {
    pub slug: String,
    pub title: String,
    pub period_kind: PeriodKind,
    pub kpis: KpiSelection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_by: Option<Dimension>,
    pub targets: BTreeMap<String, Target>,
    /// The KPI tree whose branches the report's sections follow (its slug); the five default
    /// branches when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// What each period is compared with.
    pub compare: Compare,
    /// The built-in definition, not a stored one.
    pub builtin: bool,
    /// 0 for the built-in, else the stored version.
    pub version: i32,
}

/// `"all"` in JSON, or the list of keys.
#[derive(Debug, Clone, PartialEq)]
pub enum KpiSelection {
    /// Every KPI of the team (built-in and custom), grouped by branch.
    All,
    Keys(Vec<String>),
}

impl Serialize for KpiSelection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            KpiSelection::All => s.serialize_str("all"),
            KpiSelection::Keys(keys) => keys.serialize(s),
        }
    }
}

/// A bound a KPI should stay within: `{"min": 20}`, `{"max": 400}` or both.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Met,
    Missed,
    /// The KPI has no value for the period, so it can be neither.
    NoValue,
    /// The period is not over: judged when it ends.
    InProgress,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Met => "met",
            TargetStatus::Missed => "missed",
            TargetStatus::NoValue => "no value",
            TargetStatus::InProgress => "in progress",
        }
    }
}

impl Target {
    pub fn status(&self, value: Option<f64>) -> TargetStatus {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return TargetStatus::NoValue;
        };
        let above_min = self.min.is_none_or(|min| v >= min);
        let below_max = self.max.is_none_or(|max| v <= max);
        if above_min && below_max {
            TargetStatus::Met
        } else {
            TargetStatus::Missed
        }
    }

    /// `≥ 20`, `≤ $400.00`, `20 – 40`, each bound written by `show`.
    pub fn describe(&self, show: impl Fn(f64) -> String) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("{} – {}", show(min), show(max)),
            (Some(min), None) => format!("≥ {}", show(min)),
            (None, Some(max)) => format!("≤ {}", show(max)),
            (None, None) => String::new(),
        }
    }
}

impl ReportDefinition {
    /// All KPIs by MECE branch, week by week, no split, no targets.
    pub fn weekly() -> ReportDefinition {
        ReportDefinition {
            slug: WEEKLY.to_owned(),
            title: "Weekly report".to_owned(),
            period_kind: PeriodKind::Week,
            kpis: KpiSelection::All,
            segment_by: None,
            targets: BTreeMap::new(),
            tree: None,
            compare: Compare::Previous,
            builtin: true,
            version: 0,
        }
    }

    /// The keys the report names, `None` for all.
    pub fn keys(&self) -> Option<&[String]> {
        match &self.kpis {
            KpiSelection::All => None,
            KpiSelection::Keys(keys) => Some(keys),
        }
    }

    pub fn from_stored(s: &StoredReport) -> Result<ReportDefinition, StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Invalid(format!("stored report `{}`: {what}: {e}", s.slug))
        };
        Ok(ReportDefinition {
            slug: s.slug.clone(),
            title: s.title.clone(),
            period_kind: s
                .period_kind
                .parse()
                .map_err(|e| corrupt("period kind", &e))?,
            kpis: match &s.kpis {
                None => KpiSelection::All,
                Some(json) => KpiSelection::Keys(
                    serde_json::from_str(json).map_err(|e| corrupt("KPI keys", &e))?,
                ),
            },
            segment_by: s
                .segment_by
                .as_deref()
                .map(Dimension::parse)
                .transpose()
                .map_err(|e| corrupt("segment_by", &e))?,
            targets: serde_json::from_str(&s.targets).map_err(|e| corrupt("targets", &e))?,
            tree: s.tree.clone(),
            compare: Compare::parse(&s.compare).map_err(|e| corrupt("compare", &e))?,
            builtin: false,
            version: s.version,
        })
    }

    /// The row to store (version and time are set when saving).
    pub fn to_stored(&self) -> StoredReport {
        StoredReport {
            slug: self.slug.clone(),
            title: self.title.clone(),
            period_kind: self.period_kind.as_str().to_owned(),
            kpis: self
                .keys()
                .map(|k| serde_json::to_string(k).unwrap_or_else(|_| "[]".to_owned())),
            segment_by: self.segment_by.as_ref().map(|d| d.to_string()),
            targets: serde_json::to_string(&self.targets).unwrap_or_else(|_| "{}".to_owned()),
            tree: self.tree.clone(),
            compare: self.compare.as_str().to_owned(),
            version: self.version,
            updated_at: 0,
        }
    }
}

/// The body of `PUT /api/v1/reports/{slug}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    pub title: Option<String>,
    #[serde(alias = "period")]
    pub period_kind: Option<String>,
    /// `"all"` or a list of KPI keys.
    pub kpis: Option<serde_json::Value>,
    pub segment_by: Option<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    /// The slug of the KPI tree to organise the report by.
    pub tree: Option<String>,
    /// `previous` (default), `year` or `none`.
    pub compare: Option<String>,
}

/// Why a definition was refused: the field at fault, and a message that names it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DefinitionError {
    pub field: String,
    pub message: String,
}

impl DefinitionError {
    /// `message` starts with the field's name ("kpis: …", "targets.cpl: …").
    pub fn new(message: String) -> DefinitionError {
        let field = message
            .split([':', '.', ' '])
            .next()
            .unwrap_or_default()
            .to_owned();
        DefinitionError { field, message }
    }
}

const MAX_KPIS: usize = 200;

impl ReportInput {
    /// Checks everything that needs no database: which KPI keys exist is the engine's to say.
    pub fn validate(self, slug: &str) -> Result<ReportDefinition, DefinitionError> {
        let err = |m: String| Err(DefinitionError::new(m));
        if !lodestar_store::teams::valid_slug(slug) {
            return err(format!(
                "report slug `{slug}`: use 1 to 64 lowercase letters, digits and -"
            ));
        }
        let title = self
            .title
            .map(|t| t.trim().to_owned())
            .unwrap_or_else(|| slug.to_owned());
        if title.is_empty() || title.chars().count() > 200 {
            return err("title: give 1 to 200 characters".to_owned());
        }
        let period_kind = match self.period_kind.as_deref() {
            None => PeriodKind::Week,
            Some(k) => k
                .parse()
                .map_err(|e| DefinitionError::new(format!("period_kind: {e}")))?,
        };
        let kpis = match self.kpis {
            None => KpiSelection::All,
            Some(serde_json::Value::String(s)) if s == "all" => KpiSelection::All,
            Some(serde_json::Value::Array(items)) => {
                let mut keys = Vec::with_capacity(items.len());
                let mut seen = BTreeSet::new();
                for item in items {
                    let Some(key) = item.as_str().map(str::trim) else {
                        return err(format!("kpis: `{item}` is not a KPI key (a string)"));
                    };
                    if key.is_empty() || key.len() > 64 {
                        return err(format!("kpis: `{key}` is not a KPI key"));
                    }
                    if !seen.insert(key.to_owned()) {
                        return err(format!("kpis: `{key}` is listed twice"));
                    }
                    keys.push(key.to_owned());
                }
                if keys.is_empty() || keys.len() > MAX_KPIS {
                    return err(format!(
                        "kpis: list 1 to {MAX_KPIS} KPI keys, or say \"all\""
                    ));
                }
                KpiSelection::Keys(keys)
            }
            Some(other) => {
                return err(format!(
                    "kpis: expected \"all\" or a list of KPI keys, not {other}"
                ));
            }
        };
        let segment_by = self
            .segment_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Dimension::parse)
            .transpose()
            .map_err(|e| DefinitionError::new(format!("segment_by: {e}")))?;
        let tree = self
            .tree
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(t) = &tree
            && !is_tree_slug(t)
        {
            return err(format!(
                "tree: `{t}` is not a tree slug (1 to 64 lowercase letters, digits and -)"
            ));
        }
        let compare = match self.compare.as_deref().map(str::trim) {
            None | Some("") => Compare::Previous,
            Some(c) => {
                Compare::parse(c).map_err(|e| DefinitionError::new(format!("compare: {e}")))?
            }
        };
        for (key, target) in &self.targets {
            let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
            if target.min.is_none() && target.max.is_none() {
                return err(format!("targets.{key}: give a min, a max or both"));
            }
            if !finite(target.min) || !finite(target.max) {
                return err(format!("targets.{key}: bounds must be finite numbers"));
            }
            if let (Some(min), Some(max)) = (target.min, target.max)
                && min > max
            {
                return err(format!("targets.{key}: min {min} is above max {max}"));
            }
            if let KpiSelection::Keys(keys) = &kpis
                && !keys.contains(key)
            {
                return err(format!(
                    "targets.{key}: `{key}` is not one of the report's KPIs"
                ));
            }
        }
        Ok(ReportDefinition {
            slug: slug.to_owned(),
            title,
            period_kind,
            kpis,
            segment_by,
            targets: self.targets,
            tree,
            compare,
            builtin: false,
            version: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::format_value;
    use lodestar_core::catalog::Unit;
    use serde_json::json;

    fn input(v: serde_json::Value) -> ReportInput {
        serde_json::from_value(v).expect("a well-formed body")
    }

    #[test]
    fn a_full_definition_validates_and_round_trips_through_storage() {
        let def = input(json!({
            "title": "Paid channels", "period_kind": "month", "kpis": ["leads", "cpl"],
            "segment_by": "channel", "targets": {"cpl": {"max": 400}, "leads": {"min": 20}}
        }))
        .validate("paid")
        .expect("valid");
        assert_eq!(def.period_kind, PeriodKind::Month);
        assert_eq!(
            def.keys(),
            Some(&["leads".to_owned(), "cpl".to_owned()][..])
        );
        assert_eq!(def.segment_by, Some(Dimension::Channel));
        let stored = StoredReport {
            version: 3,
            ..def.to_stored()
        };
        let back = ReportDefinition::from_stored(&stored).expect("parses");
        assert_eq!(back, ReportDefinition { version: 3, ..def });
    }

    #[test]
    fn a_tree_is_stored_in_its_own_column_and_absent_by_default() {
        let def = input(json!({"tree": " funnel ", "targets": {"cpl": {"max": 400}}}))
            .validate("by-funnel")
            .expect("valid");
        assert_eq!(def.tree.as_deref(), Some("funnel"));
        let stored = def.to_stored();
        assert_eq!(stored.tree.as_deref(), Some("funnel"));
        assert_eq!(stored.targets, r#"{"cpl":{"max":400.0}}"#);
        let back = ReportDefinition::from_stored(&stored).expect("parses");
        assert_eq!(back, def);
        let plain = input(json!({"tree": ""})).validate("plain").expect("valid");
        assert_eq!(plain.tree, None);
        assert_eq!(plain.to_stored().tree, None);
        assert_eq!(plain.to_stored().targets, "{}");
        assert!(
            serde_json::to_value(&plain)
                .expect("serializes")
                .get("tree")
                .is_none()
        );
        // A row whose tree column is NULL follows the default branches.
        let untreed = StoredReport {
            targets: r#"{"cpl":{"max":400}}"#.to_owned(),
            ..plain.to_stored()
        };
        assert_eq!(
            ReportDefinition::from_stored(&untreed)
                .expect("parses")
                .tree,
            None
        );
    }

    #[test]
    fn defaults_are_every_kpi_weekly_titled_by_the_slug() {
        let def = input(json!({})).validate("mine").expect("valid");
        assert_eq!(def.kpis, KpiSelection::All);
        assert_eq!(def.period_kind, PeriodKind::Week);
        assert_eq!(def.title, "mine");
        assert_eq!(
            serde_json::to_value(&def).expect("serializes")["kpis"],
            json!("all")
        );
    }

    #[test]
    fn bad_definitions_name_the_field_at_fault() {
        let cases = [
            (
                json!({"period_kind": "fortnight"}),
                "period_kind",
                "fortnight",
            ),
            (json!({"kpis": "some"}), "kpis", "kpis"),
            (json!({"kpis": []}), "kpis", "kpis"),
            (json!({"kpis": ["leads", "leads"]}), "kpis", "twice"),
            (json!({"segment_by": "region"}), "segment_by", "segment_by"),
            (json!({"targets": {"cpl": {}}}), "targets", "targets.cpl"),
            (
                json!({"targets": {"cpl": {"min": 5, "max": 1}}}),
                "targets",
                "above max",
            ),
            (
                json!({"kpis": ["leads"], "targets": {"cpl": {"max": 1}}}),
                "targets",
                "not one of",
            ),
            (json!({"title": "  "}), "title", "title"),
            (json!({"tree": "Not A Slug"}), "tree", "Not A Slug"),
        ];
        for (body, field, needle) in cases {
            let e = input(body.clone()).validate("r").expect_err("refused");
            assert!(e.message.contains(needle), "{body}: {e}");
            assert_eq!(e.field, field, "{body}: {e}");
        }
        assert!(input(json!({})).validate("Bad Slug").is_err());
        assert!(serde_json::from_value::<ReportInput>(json!({"titel": "x"})).is_err());
    }

    #[test]
    fn a_target_is_met_within_its_bounds_and_described_in_the_unit() {
        let max = Target {
            min: None,
            max: Some(400.0),
        };
        assert_eq!(max.status(Some(400.0)), TargetStatus::Met);
        assert_eq!(max.status(Some(400.01)), TargetStatus::Missed);
        assert_eq!(max.status(None), TargetStatus::NoValue);
        assert_eq!(
            max.describe(|x| format_value(Unit::Currency, Some(x))),
            "≤ 400.00"
        );
        let range = Target {
            min: Some(20.0),
            max: Some(40.0),
        };
        assert_eq!(range.status(Some(19.0)), TargetStatus::Missed);
        assert_eq!(
            range.describe(|x| format_value(Unit::Count, Some(x))),
            "20 – 40"
        );
    }
}
