//! KPI trees: named trees of branches (any depth) whose leaves are KPI keys, and the MECE
//! structure check. The default tree is the five branches of spec/KPIS.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::{Branch, Builtin, Kind};

#[derive(Debug, Clone, Serialize)]
pub struct BranchView {
    pub title: &'static str,
    pub kind: Kind,
    pub kpis: Vec<&'static str>,
}

pub fn default_tree() -> Vec<BranchView> {
    Branch::ALL
        .iter()
        .map(|&branch| BranchView {
            title: branch.title(),
            kind: branch.kind(),
            kpis: Builtin::ALL
                .iter()
                .filter(|b| b.branch() == branch)
                .map(|b| b.key())
                .collect(),
        })
        .collect()
}

/// The slug of the default tree.
pub const DEFAULT_SLUG: &str = "default";
/// How deep branches may nest.
pub const MAX_DEPTH: usize = 8;
/// Most branches in one tree.
pub const MAX_NODES: usize = 500;
/// Most KPI leaves in one tree.
pub const MAX_LEAVES: usize = 2_000;

/// A tree as declared (in plugin.toml as `[[tree]]` with `[[tree.branch]]`, or as JSON with
/// `branches`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiTree {
    #[serde(default)]
    pub slug: String,
    pub title: String,
    #[serde(default, alias = "branch")]
    pub branches: Vec<TreeNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeNode {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The KPIs directly in this branch.
    #[serde(default)]
    pub kpis: Vec<String>,
    #[serde(default, alias = "branch", skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<TreeNode>,
}

/// Tree slugs appear in URLs: 1 to 64 of lowercase letters, digits and `-`.
pub fn is_tree_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl KpiTree {
    /// The default tree of the built-in catalog.
    pub fn builtin_default() -> KpiTree {
        KpiTree {
            slug: DEFAULT_SLUG.to_owned(),
            title: "MECE tree".to_owned(),
            branches: Branch::ALL
                .iter()
                .map(|&branch| TreeNode {
                    title: branch.title().to_owned(),
                    kind: Some(branch.kind()),
                    kpis: Builtin::ALL
                        .iter()
                        .filter(|b| b.branch() == branch)
                        .map(|b| b.key().to_owned())
                        .collect(),
                    branches: Vec::new(),
                })
                .collect(),
        }
    }

    /// The title's part of `validate`, for callers that name the field at fault.
    pub fn validate_title(&self) -> Result<(), String> {
        if self.title.trim().is_empty() || self.title.chars().count() > 200 {
            return Err("the tree needs a title of 1 to 200 characters".to_owned());
        }
        Ok(())
    }

    /// Checks the shape (not the MECE rules, which are findings of `check`): slug, titles,
    /// depth and size. The message names the branch at fault.
    pub fn validate(&self) -> Result<(), String> {
        if !is_tree_slug(&self.slug) {
            return Err(format!(
                "tree slug `{}`: use 1 to 64 lowercase letters, digits and -",
                self.slug
            ));
        }
        self.validate_title()?;
        let (mut nodes, mut leaves) = (0, 0);
        fn walk(
            node: &TreeNode,
            path: &str,
            depth: usize,
            nodes: &mut usize,
            leaves: &mut usize,
        ) -> Result<(), String> {
            if node.title.trim().is_empty() || node.title.chars().count() > 200 {
                return Err(format!(
                    "a branch under `{path}` needs a title of 1 to 200 characters"
                ));
            }
            let here = join(path, &node.title);
            if depth > MAX_DEPTH {
                return Err(format!("`{here}` is nested deeper than {MAX_DEPTH} levels"));
            }
            *nodes += 1;
            *leaves += node.kpis.len();
            if *nodes > MAX_NODES || *leaves > MAX_LEAVES {
                return Err(format!(
                    "a tree holds at most {MAX_NODES} branches and {MAX_LEAVES} KPIs"
                ));
            }
            node.branches
                .iter()
                .try_for_each(|child| walk(child, &here, depth + 1, nodes, leaves))
        }
        self.branches
            .iter()
            .try_for_each(|b| walk(b, "", 1, &mut nodes, &mut leaves))
    }

    /// Every KPI leaf with the path of the branch holding it (`Revenue / Won`), in tree order.
    pub fn leaves(&self) -> Vec<(String, &str)> {
        fn walk<'a>(node: &'a TreeNode, path: &str, out: &mut Vec<(String, &'a str)>) {
            let here = join(path, &node.title);
            for k in &node.kpis {
                out.push((here.clone(), k.as_str()));
            }
            for child in &node.branches {
                walk(child, &here, out);
            }
        }
        let mut out = Vec::new();
        for b in &self.branches {
            walk(b, "", &mut out);
        }
        out
    }
}

fn join(path: &str, title: &str) -> String {
    if path.is_empty() {
        title.to_owned()
    } else {
        format!("{path} / {title}")
    }
}

/// A KPI of the team as the check sees it.
#[derive(Debug, Clone)]
pub struct KpiSignature {
    pub key: String,
    /// The normal form of its formula or script; `None` when it cannot be compared.
    pub signature: Option<String>,
}

/// One broken MECE rule, with the names involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Finding {
    /// A KPI in more than one branch (or twice in one): not mutually exclusive.
    Overlap { kpi: String, branches: Vec<String> },
    /// A KPI of the team in no branch: not collectively exhaustive.
    Gap { kpi: String },
    /// KPIs that compute the same thing.
    Duplicate { kpis: Vec<String>, formula: String },
    /// A leaf that names no KPI of the team.
    UnknownKpi { kpi: String, branch: String },
    /// A branch with no KPI anywhere under it.
    EmptyBranch { branch: String },
}

impl Finding {
    pub fn message(&self) -> String {
        match self {
            Finding::Overlap { kpi, branches } => format!(
                "{kpi} is in {} branches ({}): branches must be mutually exclusive",
                branches.len(),
                branches.join("; ")
            ),
            Finding::Gap { kpi } => {
                format!("{kpi} is in no branch: the tree must be collectively exhaustive")
            }
            Finding::Duplicate { kpis, .. } => {
                format!("{} compute the same formula: keep one", kpis.join(" and "))
            }
            Finding::UnknownKpi { kpi, branch } => {
                format!("{kpi} in {branch} is not a KPI of this team")
            }
            Finding::EmptyBranch { branch } => format!("{branch} holds no KPI"),
        }
    }
}

/// The MECE findings of `tree` against the team's KPIs (every built-in and custom one). An
/// empty list means the tree is mutually exclusive and collectively exhaustive, names only real
/// KPIs, has no empty branch, and no two of the team's KPIs compute the same thing.
pub fn check(tree: &KpiTree, kpis: &[KpiSignature]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let known: BTreeMap<&str, &KpiSignature> = kpis.iter().map(|k| (k.key.as_str(), k)).collect();

    let mut places: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let leaves = tree.leaves();
    for (branch, kpi) in &leaves {
        places.entry(kpi).or_default().push(branch.clone());
    }
    // In tree order, so findings read like the tree.
    let mut reported = std::collections::BTreeSet::new();
    for (branch, kpi) in &leaves {
        if !known.contains_key(kpi) {
            findings.push(Finding::UnknownKpi {
                kpi: (*kpi).to_owned(),
                branch: branch.clone(),
            });
        }
        let at = &places[kpi];
        if at.len() > 1 && reported.insert(*kpi) {
            findings.push(Finding::Overlap {
                kpi: (*kpi).to_owned(),
                branches: at.clone(),
            });
        }
    }
    for k in kpis {
        if !places.contains_key(k.key.as_str()) {
            findings.push(Finding::Gap { kpi: k.key.clone() });
        }
    }
    let mut by_formula: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for k in kpis {
        if let Some(sig) = &k.signature {
            by_formula.entry(sig).or_default().push(k.key.clone());
        }
    }
    for (formula, keys) in by_formula {
        if keys.len() > 1 {
            findings.push(Finding::Duplicate {
                kpis: keys,
                formula: formula.to_owned(),
            });
        }
    }
    fn empty(node: &TreeNode, path: &str, out: &mut Vec<Finding>) -> bool {
        let here = join(path, &node.title);
        let mut any = !node.kpis.is_empty();
        let mut children = Vec::new();
        for child in &node.branches {
            any |= !empty(child, &here, &mut children);
        }
        if any {
            out.extend(children);
        } else {
            // Report the top-most empty branch only, not each empty branch under it.
            out.push(Finding::EmptyBranch { branch: here });
        }
        !any
    }
    for b in &tree.branches {
        empty(b, "", &mut findings);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula;

    fn builtins() -> Vec<KpiSignature> {
        Builtin::ALL
            .iter()
            .map(|b| KpiSignature {
                key: b.key().to_owned(),
                signature: Some(formula::signature(*b)),
            })
            .collect()
    }

    fn node(title: &str, kpis: &[&str], branches: Vec<TreeNode>) -> TreeNode {
        TreeNode {
            title: title.to_owned(),
            kind: None,
            kpis: kpis.iter().map(|k| (*k).to_owned()).collect(),
            branches,
        }
    }

    #[test]
    fn the_default_tree_holds_every_builtin_exactly_once() {
        let tree = default_tree();
        let mut all: Vec<_> = tree.iter().flat_map(|b| b.kpis.iter().copied()).collect();
        assert_eq!(all.len(), Builtin::ALL.len());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Builtin::ALL.len());
    }

    #[test]
    fn the_default_tree_passes_the_check() {
        let tree = KpiTree::builtin_default();
        assert_eq!(tree.validate(), Ok(()));
        assert_eq!(check(&tree, &builtins()), Vec::new());
    }

    #[test]
    fn each_broken_rule_is_found_with_the_names_involved() {
        let mut tree = KpiTree::builtin_default();
        // Overlap: leads also under a nested branch of Conversion.
        tree.branches[2]
            .branches
            .push(node("Top", &["leads", "nonsense"], vec![]));
        // Gap: nps removed.
        tree.branches[4].kpis.retain(|k| k != "nps");
        // Empty: a branch with only an empty child.
        tree.branches
            .push(node("Later", &[], vec![node("Someday", &[], vec![])]));
        let mut kpis = builtins();
        kpis.push(KpiSignature {
            key: "cpa".into(),
            signature: Some(formula::signature(Builtin::Cac)),
        });
        tree.branches[3].kpis.push("cpa".into());
        let findings = check(&tree, &kpis);
        assert_eq!(
            findings,
            vec![
                Finding::Overlap {
                    kpi: "leads".into(),
                    branches: vec!["Lead volume & quality".into(), "Conversion / Top".into()]
                },
                Finding::UnknownKpi {
                    kpi: "nonsense".into(),
                    branch: "Conversion / Top".into()
                },
                Finding::Gap { kpi: "nps".into() },
                Finding::Duplicate {
                    kpis: vec!["cac".into(), "cpa".into()],
                    formula: formula::signature(Builtin::Cac),
                },
                Finding::EmptyBranch {
                    branch: "Later".into()
                },
            ]
        );
        assert_eq!(
            findings[0].message(),
            "leads is in 2 branches (Lead volume & quality; Conversion / Top): branches must be mutually exclusive"
        );
    }

    #[test]
    fn a_tree_parses_from_toml_sections_and_from_json() {
        let toml_tree: KpiTree = toml::from_str(
            r#"
            slug = "funnel"
            title = "Funnel"
            [[branch]]
            title = "Top"
            kpis = ["leads"]
            [[branch.branch]]
            title = "Quality"
            kpis = ["mqls"]
            "#,
        )
        .expect("valid toml");
        let json_tree: KpiTree = serde_json::from_value(serde_json::json!({
            "slug": "funnel", "title": "Funnel",
            "branches": [{"title": "Top", "kpis": ["leads"],
                          "branches": [{"title": "Quality", "kpis": ["mqls"]}]}]
        }))
        .expect("valid json");
        assert_eq!(toml_tree, json_tree);
        assert_eq!(
            json_tree.leaves(),
            vec![
                ("Top".to_owned(), "leads"),
                ("Top / Quality".to_owned(), "mqls")
            ]
        );
    }

    #[test]
    fn shape_errors_name_the_branch() {
        let mut tree = KpiTree::builtin_default();
        tree.slug = "Bad slug".into();
        assert!(tree.validate().is_err());
        let mut deep = node("L9", &["leads"], vec![]);
        for i in (1..9).rev() {
            deep = node(&format!("L{i}"), &[], vec![deep]);
        }
        let tree = KpiTree {
            slug: "deep".into(),
            title: "Deep".into(),
            branches: vec![deep],
        };
        let e = tree.validate().expect_err("too deep");
        assert!(e.contains("L1 / L2"), "{e}");
    }
}
