//! A report for one team and period: the KPI cards grouped into MECE branches (value, previous
//! period, change judged by direction, target status, trend), the segment table of its dimension,
//! the lead funnel and the stage distribution. HTML, JSON, CSV and e-mail all render this one
//! structure, so they always carry the same numbers.

use std::collections::BTreeMap;

use lodestar_core::catalog::{Branch, Builtin, Kind};
use lodestar_core::currency::Currency;
use lodestar_core::period::{Compare, Comparison, PeriodKey};
use lodestar_store::teams::Team;
use serde::Serialize;

use lodestar_core::drivers::DriverTree;

use crate::definition::{KpiSelection, ReportDefinition, Target, TargetStatus};
use crate::drivers::{self, Explanation};
use crate::engine::{
    KpiEngine, KpiRequest, KpiResult, KpiValue, PeriodView, SegmentValue, TrendPoint,
};
use crate::error::ReportError;
use crate::format::{Style, Tone, period_label, shown_change};
use crate::meta::{KpiMeta, Source};
use crate::number;
use crate::trees::{self, TeamTree};

/// Periods of history behind each card's sparkline, the current one included.
pub const TREND_PERIODS: usize = 12;

/// What a team's home page shows of the last complete week.
pub const HEADLINE: [&str; 6] = ["leads", "mqls", "customers_won", "revenue", "cpl", "cac"];

/// Counts and sums of things that happen in a period: when none of them is above zero, nothing
/// was loaded for it (stock KPIs such as active customers carry over from earlier periods).
const ACTIVITY: [&str; 16] = [
    "leads",
    "mqls",
    "sals",
    "sqls",
    "opportunities",
    "customers_won",
    "deals_lost",
    "churned_customers",
    "total_spend",
    "impressions",
    "clicks",
    "sessions",
    "visits",
    "engagements",
    "recurring_revenue",
    "nps",
];

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub team: TeamView,
    pub definition: ReportDefinition,
    /// e.g. "Week 45, 2026 (Nov 2 – Nov 8)".
    pub label: String,
    pub period: PeriodView,
    /// The comparison actually used; `None` with `compare=none`.
    pub previous_period: Option<PeriodView>,
    /// What the period is compared with: the report's own, or what the request asked.
    pub compare: Compare,
    /// The last day read when the period is read to a date the request gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    pub next_period: String,
    /// Nothing happened in the period (no leads, spend or events in it).
    pub empty: bool,
    /// What to read first: headline KPIs, biggest movers, targets missed (keys of `sections`).
    pub summary: Summary,
    pub sections: Vec<Section>,
    /// The split by the report's dimension, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<SegmentTable>,
    pub funnel: Vec<FunnelStep>,
    /// At the period's end, in funnel order, then lost and churned.
    pub stages: Vec<StageCount>,
    /// Why the KPIs with a driver tree changed against the previous period, attributed to their
    /// drivers: every such KPI of the report that moved, in the order of the driver trees.
    #[serde(serialize_with = "drivers::serialize_with_sentences")]
    pub drivers: Vec<Explanation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamView {
    pub slug: String,
    pub name: String,
    pub timezone: String,
    /// ISO 4217: what the report's money is in.
    pub currency: Currency,
}

/// One branch of the MECE tree (or a custom category). Organised by a KPI tree, a branch at any
/// depth, titled by its path ("Revenue / Won"), and `Other` for the KPIs in no branch.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub kind: Kind,
    pub kpis: Vec<Card>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Card {
    #[serde(flatten)]
    pub meta: KpiMeta,
    /// How a built-in is defined; custom KPIs are scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<&'static str>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    /// `value − previous`, in the KPI's unit.
    #[serde(serialize_with = "number::serialize_opt")]
    pub change: Option<f64>,
    /// The change as every view shows it (the same text as `display.change`).
    pub change_display: Option<String>,
    /// The numbers as the page shows them.
    pub display: CardText,
    pub tone: Tone,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<CardTarget>,
    /// The team's goal for the KPI in this period kind, with its pace (`PUT /api/v1/goals`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<CardGoal>,
    /// The last `TREND_PERIODS` periods, oldest first, ending with this one.
    pub trend: Vec<TrendPoint>,
    /// Present when the report is segmented: `None` (JSON null) when the KPI cannot be split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Option<Vec<SegmentValue>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    /// Why a custom KPI has no value: its script failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A goal as a card shows it: the pace, and its numbers in the KPI's format.
#[derive(Debug, Clone, Serialize)]
pub struct CardGoal {
    #[serde(flatten)]
    pub pace: lodestar_core::goal::Pace,
    /// `Goal 1,500 · expected 820 by now · projected 1,610`.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardText {
    pub value: String,
    pub previous: String,
    pub change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardTarget {
    #[serde(flatten)]
    pub bounds: Target,
    pub status: TargetStatus,
    /// e.g. "≤ 400.00".
    pub text: String,
}

impl Report {
    pub fn cards(&self) -> impl Iterator<Item = &Card> {
        self.sections.iter().flat_map(|s| s.kpis.iter())
    }

    pub fn card(&self, key: &str) -> Option<&Card> {
        self.cards().find(|c| c.meta.key == key)
    }
}

/// The report's own period kind, last complete one in the team's timezone.
pub fn default_period(
    def: &ReportDefinition,
    team: &Team,
    now: chrono::DateTime<chrono::Utc>,
) -> PeriodKey {
    PeriodKey::last_complete(def.period_kind, now, team.timezone.0)
}

/// Whether `key` has started by `now` in the team's timezone (so "next" can lead there).
pub fn has_started(key: &PeriodKey, team: &Team, now: chrono::DateTime<chrono::Utc>) -> bool {
    key.resolve(team.timezone.0).start <= now
}

/// What a report is organised by besides its definition: the KPI tree its sections follow and
/// the driver trees that explain its changes.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// `None`: the five default branches, then custom categories.
    pub tree: Option<TeamTree>,
    /// The team's driver trees (those whose KPIs it all has).
    pub drivers: Vec<DriverTree>,
}

/// Why a report cannot be assembled as defined.
#[derive(Debug, thiserror::Error)]
pub enum OutlineError {
    /// The definition (or the request) names a KPI tree the team does not have.
    #[error("no KPI tree `{0}` for this team (GET /api/v1/trees lists them)")]
    UnknownTree(String),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Outline {
    /// The tree `def.tree` names, and the team's driver trees.
    pub async fn load(
        engine: &KpiEngine,
        team: &Team,
        def: &ReportDefinition,
    ) -> Result<Outline, OutlineError> {
        let customs = engine.custom_kpis(team).await?;
        let tree = match &def.tree {
            None => None,
            Some(slug) => Some(
                trees::resolve_with(engine, team, &customs, slug)
                    .await?
                    .ok_or_else(|| OutlineError::UnknownTree(slug.clone()))?,
            ),
        };
        Ok(Outline {
            tree,
            drivers: drivers::known_trees(engine, &customs),
        })
    }

    /// The driver trees a report of `def` explains: all of them for a report of every KPI, else
    /// those of the KPIs it names.
    fn drivers_for(&self, def: &ReportDefinition) -> Vec<DriverTree> {
        match def.keys() {
            None => self.drivers.clone(),
            Some(keys) => self
                .drivers
                .iter()
                .filter(|t| keys.contains(&t.kpi))
                .cloned()
                .collect(),
        }
    }
}

/// Evaluates and shapes the report: one KPI evaluation (values, previous period, trend, and
/// segments when the report has a dimension; the drivers of its KPIs too) and one stage query.
pub async fn assemble(
    engine: &KpiEngine,
    team: &Team,
    def: &ReportDefinition,
    period: PeriodKey,
    comparison: Comparison,
) -> Result<Report, OutlineError> {
    let outline = Outline::load(engine, team, def).await?;
    Ok(assemble_with(engine, team, def, period, comparison, &outline).await?)
}

/// [`assemble`] with the outline already loaded.
pub async fn assemble_with(
    engine: &KpiEngine,
    team: &Team,
    def: &ReportDefinition,
    period: PeriodKey,
    comparison: Comparison,
    outline: &Outline,
) -> Result<Report, ReportError> {
    let explained = drivers::keys_of(&outline.drivers_for(def));
    let keys = def.keys().map(|keys| {
        let mut all = keys.to_vec();
        let extras = FUNNEL
            .iter()
            .flat_map(|(k, _, rate)| std::iter::once(*k).chain(*rate))
            .chain(ACTIVITY)
            .chain(explained.iter().map(String::as_str));
        for extra in extras {
            if !all.iter().any(|k| k == extra) {
                all.push(extra.to_owned());
            }
        }
        all
    });
    let req = KpiRequest {
        period,
        comparison,
        segment_by: def.segment_by.clone(),
        keys,
        trend: TREND_PERIODS,
    };
    let mut result = engine.evaluate(team, &req).await?;
    // The goals of the report's period kind, with their pace, on the cards.
    crate::goals::attach(engine, team, &mut result).await?;
    let stages = crate::engine::stages(engine.db(), team, &period).await?;
    Ok(shape(team, def, period, result, &stages, outline))
}

/// Everything but the queries, so it can be tested on made-up numbers.
pub fn shape(
    team: &Team,
    def: &ReportDefinition,
    period: PeriodKey,
    result: KpiResult,
    stages: &BTreeMap<&'static str, u64>,
    outline: &Outline,
) -> Report {
    let style = Style {
        currency: team.currency,
        period: period.kind(),
    };
    let in_progress = result.period.in_progress();
    let make_card = |k: &KpiValue| card(k, def.targets.get(&k.meta.key), &style, in_progress);
    let value_of = |key: &str| {
        result
            .kpis
            .iter()
            .find(|k| k.meta.key == key)
            .and_then(|k| k.value)
    };
    let empty = !ACTIVITY
        .iter()
        .any(|k| value_of(k).is_some_and(|v| v != 0.0))
        && result
            .kpis
            .iter()
            .all(|k| k.meta.source == Source::Builtin || k.value.is_none());
    let funnel = funnel(value_of);
    let stages = stage_counts(stages);
    let drivers = if empty {
        Vec::new()
    } else {
        drivers::explain_values(
            &outline.drivers_for(def),
            &result.kpis,
            &period,
            result.previous_period.as_ref().map(|p| p.key),
        )
        .into_iter()
        .filter(Explanation::changed)
        .collect()
    };

    let shown: Vec<&KpiValue> = match &def.kpis {
        KpiSelection::All => result.kpis.iter().collect(),
        KpiSelection::Keys(keys) => keys
            .iter()
            .filter_map(|key| result.kpis.iter().find(|k| &k.meta.key == key))
            .collect(),
    };
    let segments = def
        .segment_by
        .as_ref()
        .map(|dim| segment_table(dim, &def.kpis, &shown, &style));
    let own_list = match &def.kpis {
        KpiSelection::All => None,
        KpiSelection::Keys(keys) => Some(keys.as_slice()),
    };
    let sections = match &outline.tree {
        None => sections(&shown, &make_card),
        Some(tree) => tree_sections(tree, &shown, &make_card),
    };

    Report {
        team: TeamView {
            slug: team.slug.clone(),
            name: team.name.clone(),
            timezone: team.timezone.to_string(),
            currency: team.currency,
        },
        definition: def.clone(),
        label: period_label(&period),
        period: result.period,
        previous_period: result.previous_period,
        compare: result.compare,
        to: result.to,
        next_period: period.next().to_string(),
        empty,
        summary: Summary::of(&sections, own_list),
        sections,
        segments,
        funnel,
        stages,
        drivers,
    }
}

/// A KPI's card; a target of a period `in_progress` is judged only once the period is over.
fn card(k: &KpiValue, target: Option<&Target>, style: &Style, in_progress: bool) -> Card {
    let show = |v: Option<f64>| style.value(&k.meta.key, k.meta.unit, v);
    Card {
        meta: k.meta.clone(),
        formula: Builtin::from_key(&k.meta.key)
            .filter(|_| k.meta.source == Source::Builtin)
            .map(Builtin::formula),
        value: k.value,
        previous: k.previous,
        change_pct: k.change_pct,
        change: k.change,
        change_display: k.change_display.clone(),
        display: CardText {
            value: show(k.value),
            previous: show(k.previous),
            change: k
                .change_display
                .clone()
                .unwrap_or_else(|| crate::format::UNDEFINED.to_owned()),
        },
        tone: Tone::of(
            k.meta.direction,
            shown_change(k.meta.unit, k.value, k.previous),
        ),
        target: target.map(|t| CardTarget {
            bounds: *t,
            status: if in_progress {
                TargetStatus::InProgress
            } else {
                t.status(k.value)
            },
            text: t.describe(|x| show(Some(x))),
        }),
        goal: k.goal.map(|pace| CardGoal {
            pace,
            text: goal_text(&pace, in_progress, |x| show(Some(x))),
        }),
        trend: k.trend.clone(),
        segments: k.segments.clone(),
        unsupported: k.unsupported.clone(),
        error: k.error.as_ref().map(|e| e.to_string()),
    }
}

/// `Goal 1,500 · expected 820 by now · projected 1,610` while the period runs, `Goal 1,500`
/// once it ended.
fn goal_text(
    pace: &lodestar_core::goal::Pace,
    in_progress: bool,
    show: impl Fn(f64) -> String,
) -> String {
    let mut text = format!("Goal {}", show(pace.target));
    if in_progress {
        text.push_str(&format!(
            " · expected {} by now",
            show(pace.expected_to_date)
        ));
        if let Some(p) = pace.projected {
            text.push_str(&format!(" · projected {}", show(p)));
        }
    }
    text
}

/// The five branches in tree order, then any other (custom) category in order of appearance.
fn sections(shown: &[&KpiValue], make_card: &impl Fn(&KpiValue) -> Card) -> Vec<Section> {
    let mut order: Vec<String> = Branch::ALL.iter().map(|b| b.title().to_owned()).collect();
    for k in shown {
        if !order.contains(&k.meta.category) {
            order.push(k.meta.category.clone());
        }
    }
    order
        .into_iter()
        .filter_map(|title| {
            let kpis: Vec<Card> = shown
                .iter()
                .filter(|k| k.meta.category == title)
                .map(|k| make_card(k))
                .collect();
            let kind = Branch::ALL
                .iter()
                .find(|b| b.title() == title)
                .map(|b| b.kind())
                .or_else(|| kpis.first().map(|c| c.meta.kind))?;
            (!kpis.is_empty()).then_some(Section { title, kind, kpis })
        })
        .collect()
}

/// The title of the section of the KPIs a tree leaves out.
pub const OTHER: &str = "Other";

/// The tree's branches in tree order, each titled by its path, with the shown KPIs it holds
/// directly (a KPI the tree puts in two branches shows in both); then `Other` with the shown
/// KPIs in no branch, so a tree never hides one. Branches left with no KPI are dropped.
fn tree_sections(
    tree: &TeamTree,
    shown: &[&KpiValue],
    make_card: &impl Fn(&KpiValue) -> Card,
) -> Vec<Section> {
    let by_key: BTreeMap<&str, &KpiValue> =
        shown.iter().map(|k| (k.meta.key.as_str(), *k)).collect();
    let mut placed: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for branch in tree.sections() {
        let kpis: Vec<Card> = branch
            .kpis
            .iter()
            .filter_map(|key| by_key.get(key.as_str()))
            .map(|k| {
                placed.insert(k.meta.key.as_str());
                make_card(k)
            })
            .collect();
        let Some(first) = kpis.first() else {
            continue;
        };
        out.push(Section {
            title: branch.path,
            kind: branch.kind.unwrap_or(first.meta.kind),
            kpis,
        });
    }
    let rest: Vec<Card> = shown
        .iter()
        .filter(|k| !placed.contains(k.meta.key.as_str()))
        .map(|k| make_card(k))
        .collect();
    if let Some(first) = rest.first() {
        out.push(Section {
            title: OTHER.to_owned(),
            kind: first.meta.kind,
            kpis: rest,
        });
    }
    out
}

mod funnel;
mod segment_table;
mod summary;

pub use funnel::{FUNNEL, FunnelStep, StageCount, StepRate};
use funnel::{funnel, stage_counts};
use segment_table::segment_table;
pub use segment_table::{SegmentCell, SegmentColumn, SegmentRow, SegmentTable};
pub use summary::Summary;

#[cfg(test)]
mod tests;
