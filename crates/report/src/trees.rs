//! A team's KPI trees (the default one, those of the packs and those saved over HTTP), their
//! MECE structure check, and a tree filled with one period's values for the tree page.
//!
//! Report pages organise cards by a tree with [`resolve`]: it gives the tree whose branches
//! (in order, nested) hold KPI keys; [`TeamTree::sections`] flattens it to (path, depth, keys).

use std::collections::BTreeMap;

use lodestar_core::catalog::{Builtin, Direction, Kind, Unit};
use lodestar_core::expr::{Expr, normal_form};
use lodestar_core::formula;
use lodestar_core::period::PeriodKey;
use lodestar_core::tree::{DEFAULT_SLUG, Finding, KpiSignature, KpiTree, TreeNode, check};
use lodestar_script::{ScriptShape, script_shape};
use lodestar_store::teams::Team;
use lodestar_store::trees as stored_trees;
use serde::Serialize;

use crate::custom::CustomSet;
use crate::drivers::{self, Explanation};
use crate::engine::{KpiEngine, KpiRequest, KpiValue, PeriodView};
use crate::error::ReportError;
use crate::format::{Style, Tone, format_change, format_value, shown_change};
use crate::number;

/// Where a tree comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TreeSource {
    /// The default tree of spec/KPIS.md (with the team's custom KPIs by category).
    Builtin,
    Pack {
        pack: String,
    },
    /// Saved over HTTP; replaces a built-in or pack tree of the same slug for this team.
    Team {
        version: i32,
    },
    /// Not saved: a tree being edited, checked before it is saved.
    Draft,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamTree {
    #[serde(flatten)]
    pub tree: KpiTree,
    pub source: TreeSource,
}

/// One branch of a flattened tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `Revenue & retention / Won`.
    pub path: String,
    pub title: String,
    /// 0 for a top-level branch.
    pub depth: usize,
    pub kind: Option<Kind>,
    /// The KPIs directly in this branch.
    pub kpis: Vec<String>,
}

impl TeamTree {
    /// Every branch in tree order (a branch before its sub-branches).
    pub fn sections(&self) -> Vec<Section> {
        fn walk(node: &TreeNode, path: &str, depth: usize, out: &mut Vec<Section>) {
            let here = if path.is_empty() {
                node.title.clone()
            } else {
                format!("{path} / {}", node.title)
            };
            out.push(Section {
                path: here.clone(),
                title: node.title.clone(),
                depth,
                kind: node.kind,
                kpis: node.kpis.clone(),
            });
            for child in &node.branches {
                walk(child, &here, depth + 1, out);
            }
        }
        let mut out = Vec::new();
        for b in &self.tree.branches {
            walk(b, "", 0, &mut out);
        }
        out
    }
}

/// The default tree for a team: the five branches with their built-ins, each custom KPI in the
/// branch named by its category, and a branch per other category after them.
pub fn default_for(customs: &CustomSet) -> KpiTree {
    let mut tree = KpiTree::builtin_default();
    for kpi in customs.kpis.values() {
        match tree.branches.iter_mut().find(|b| b.title == kpi.category) {
            Some(branch) => branch.kpis.push(kpi.key.clone()),
            None => tree.branches.push(TreeNode {
                title: kpi.category.clone(),
                kind: Some(kpi.kind),
                kpis: vec![kpi.key.clone()],
                branches: Vec::new(),
            }),
        }
    }
    tree
}

async fn all(
    engine: &KpiEngine,
    team: &Team,
    customs: &CustomSet,
) -> Result<Vec<TeamTree>, ReportError> {
    let mut by_slug: BTreeMap<String, TeamTree> = BTreeMap::new();
    by_slug.insert(
        DEFAULT_SLUG.to_owned(),
        TeamTree {
            tree: default_for(customs),
            source: TreeSource::Builtin,
        },
    );
    if let Some(packs) = engine.packs() {
        for pack in &packs.packs {
            for tree in &pack.trees {
                by_slug.insert(
                    tree.slug.clone(),
                    TeamTree {
                        tree: tree.clone(),
                        source: TreeSource::Pack {
                            pack: pack.name.clone(),
                        },
                    },
                );
            }
        }
    }
    for stored in stored_trees::list(engine.db(), team.id).await? {
        by_slug.insert(
            stored.tree.slug.clone(),
            TeamTree {
                tree: stored.tree,
                source: TreeSource::Team {
                    version: stored.version,
                },
            },
        );
    }
    // The default first, then by slug.
    let default = by_slug.remove(DEFAULT_SLUG);
    Ok(default.into_iter().chain(by_slug.into_values()).collect())
}

/// Every tree the team can organise reports by: `default` first, then by slug.
pub async fn list(engine: &KpiEngine, team: &Team) -> Result<Vec<TeamTree>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    all(engine, team, &customs).await
}

/// The team's tree `slug` (a saved one first, then a pack's, then the built-in default).
pub async fn resolve(
    engine: &KpiEngine,
    team: &Team,
    slug: &str,
) -> Result<Option<TeamTree>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    resolve_with(engine, team, &customs, slug).await
}

/// [`resolve`] with the team's custom KPIs already at hand.
pub async fn resolve_with(
    engine: &KpiEngine,
    team: &Team,
    customs: &CustomSet,
    slug: &str,
) -> Result<Option<TeamTree>, ReportError> {
    Ok(all(engine, team, customs)
        .await?
        .into_iter()
        .find(|t| t.tree.slug == slug))
}

/// The normal form of every KPI of the team: built-ins from their formula, custom KPIs from
/// their script (see `lodestar_script::script_shape`), references to other KPIs expanded.
pub fn signatures(customs: &CustomSet) -> Vec<KpiSignature> {
    let shapes: BTreeMap<&str, Option<ScriptShape>> = customs
        .kpis
        .iter()
        .map(|(k, c)| (k.as_str(), script_shape(&c.source)))
        .collect();
    let expand = |key: &str| -> Option<Expr> {
        formula::expansion(key).or_else(|| match shapes.get(key) {
            Some(Some(ScriptShape::Formula(e))) => Some(e.clone()),
            _ => None,
        })
    };
    let mut out: Vec<KpiSignature> = Builtin::ALL
        .iter()
        .map(|b| KpiSignature {
            key: b.key().to_owned(),
            signature: Some(formula::signature(*b)),
        })
        .collect();
    for (key, shape) in &shapes {
        out.push(KpiSignature {
            key: (*key).to_owned(),
            signature: shape.as_ref().map(|shape| match shape {
                ScriptShape::Formula(e) => normal_form(e, &expand),
                ScriptShape::Tokens(t) => format!("script tokens:\n{t}"),
            }),
        });
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    #[serde(flatten)]
    pub finding: Finding,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeCheck {
    pub slug: String,
    pub title: String,
    pub source: TreeSource,
    /// No findings: mutually exclusive, collectively exhaustive, no unknown KPI, no empty
    /// branch and no two KPIs of the team with one formula.
    pub passes: bool,
    pub findings: Vec<FindingView>,
}

fn findings(tree: &KpiTree, customs: &CustomSet) -> Vec<FindingView> {
    check(tree, &signatures(customs))
        .into_iter()
        .map(|finding| FindingView {
            message: finding.message(),
            finding,
        })
        .collect()
}

/// The structure check of the team's tree `slug`; `None` when there is no such tree.
pub async fn check_tree(
    engine: &KpiEngine,
    team: &Team,
    slug: &str,
) -> Result<Option<TreeCheck>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    let Some(t) = all(engine, team, &customs)
        .await?
        .into_iter()
        .find(|t| t.tree.slug == slug)
    else {
        return Ok(None);
    };
    let findings = findings(&t.tree, &customs);
    Ok(Some(TreeCheck {
        slug: t.tree.slug.clone(),
        title: t.tree.title.clone(),
        source: t.source,
        passes: findings.is_empty(),
        findings,
    }))
}

/// The structure check of a tree that is not saved (the tree editor checks each edit with it).
pub async fn check_draft(
    engine: &KpiEngine,
    team: &Team,
    tree: &KpiTree,
) -> Result<TreeCheck, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    let findings = findings(tree, &customs);
    Ok(TreeCheck {
        slug: tree.slug.clone(),
        title: tree.title.clone(),
        source: TreeSource::Draft,
        passes: findings.is_empty(),
        findings,
    })
}

/// A KPI leaf with its numbers, as the tree page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Leaf {
    pub key: String,
    pub name: String,
    pub unit: Unit,
    pub direction: Direction,
    #[serde(serialize_with = "number::serialize_opt")]
    pub value: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub previous: Option<f64>,
    #[serde(serialize_with = "number::serialize_opt")]
    pub change_pct: Option<f64>,
    pub value_text: String,
    pub previous_text: String,
    pub change_text: String,
    pub tone: Tone,
    /// Not a KPI of the team (the structure check reports it too).
    pub unknown: bool,
    /// Why a custom KPI has no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub path: String,
    pub title: String,
    pub depth: usize,
    pub kind: Option<Kind>,
    pub kpis: Vec<Leaf>,
    /// KPIs under this branch (sub-branches included) that moved the good or the bad way.
    pub better: usize,
    pub worse: usize,
}

/// A tree filled with one period's values, its findings and the driver explanations of the
/// KPIs in it.
#[derive(Debug, Clone, Serialize)]
pub struct TreeReport {
    pub tree: TeamTree,
    pub period: PeriodView,
    pub previous_period: Option<PeriodView>,
    /// Branches in tree order, each with its depth.
    pub nodes: Vec<NodeView>,
    pub findings: Vec<FindingView>,
    pub explanations: Vec<Explanation>,
}

fn leaf(key: &str, values: &BTreeMap<&str, &KpiValue>, style: &Style) -> Leaf {
    match values.get(key) {
        Some(v) => Leaf {
            key: key.to_owned(),
            name: v.meta.name.clone(),
            unit: v.meta.unit,
            direction: v.meta.direction,
            value: v.value,
            previous: v.previous,
            change_pct: v.change_pct,
            value_text: style.value(&v.meta.key, v.meta.unit, v.value),
            previous_text: style.value(&v.meta.key, v.meta.unit, v.previous),
            change_text: v.change_display.clone().unwrap_or_default(),
            tone: Tone::of(
                v.meta.direction,
                shown_change(v.meta.unit, v.value, v.previous),
            ),
            unknown: false,
            error: v.error.as_ref().map(|e| e.to_string()),
        },
        None => Leaf {
            key: key.to_owned(),
            name: key.to_owned(),
            unit: Unit::Count,
            direction: Direction::HigherIsBetter,
            value: None,
            previous: None,
            change_pct: None,
            value_text: format_value(Unit::Count, None),
            previous_text: format_value(Unit::Count, None),
            change_text: format_change(None),
            tone: Tone::of(Direction::HigherIsBetter, None),
            unknown: true,
            error: None,
        },
    }
}

/// The team's tree `slug` with the values of `period`; `None` when there is no such tree.
pub async fn tree_report(
    engine: &KpiEngine,
    team: &Team,
    slug: &str,
    period: PeriodKey,
) -> Result<Option<TreeReport>, ReportError> {
    let customs = engine.custom_kpis(team).await?;
    let Some(tree) = resolve_with(engine, team, &customs, slug).await? else {
        return Ok(None);
    };
    let result = engine
        .evaluate(
            team,
            &KpiRequest {
                period,
                comparison: Default::default(),
                segment_by: None,
                keys: None,
                trend: 0,
            },
        )
        .await?;
    let values: BTreeMap<&str, &KpiValue> = result
        .kpis
        .iter()
        .map(|k| (k.meta.key.as_str(), k))
        .collect();
    let style = Style {
        currency: team.currency,
        period: period.kind(),
    };
    let sections = tree.sections();
    let mut nodes: Vec<NodeView> = sections
        .iter()
        .map(|s| NodeView {
            path: s.path.clone(),
            title: s.title.clone(),
            depth: s.depth,
            kind: s.kind,
            kpis: s.kpis.iter().map(|k| leaf(k, &values, &style)).collect(),
            better: 0,
            worse: 0,
        })
        .collect();
    // A branch counts its own KPIs and those of every branch after it that is deeper, up to the
    // next branch at its depth or above (sections are in tree order).
    for i in 0..nodes.len() {
        let depth = nodes[i].depth;
        let (mut better, mut worse) = (0, 0);
        for node in nodes[i..]
            .iter()
            .enumerate()
            .take_while(|(j, n)| *j == 0 || n.depth > depth)
            .map(|(_, n)| n)
        {
            for leaf in &node.kpis {
                match leaf.tone {
                    Tone::Good => better += 1,
                    Tone::Bad => worse += 1,
                    _ => {}
                }
            }
        }
        nodes[i].better = better;
        nodes[i].worse = worse;
    }
    let in_tree: std::collections::BTreeSet<&str> = sections
        .iter()
        .flat_map(|s| s.kpis.iter().map(String::as_str))
        .collect();
    // Every KPI of the team was just evaluated, drivers included: explain from those values
    // rather than evaluating again.
    let explanations = drivers::explain_values(
        &drivers::known_trees(engine, &customs),
        &result.kpis,
        &period,
        result.previous_period.as_ref().map(|p| p.key),
    )
    .into_iter()
    .filter(|e| in_tree.contains(e.kpi.as_str()))
    .collect();
    let findings = findings(&tree.tree, &customs);
    Ok(Some(TreeReport {
        tree,
        period: result.period,
        previous_period: result.previous_period,
        nodes,
        findings,
        explanations,
    }))
}
