//! The default MECE tree: the five branches of spec/KPIS.md, each holding its built-ins.

use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tree_holds_every_builtin_exactly_once() {
        let tree = default_tree();
        let mut all: Vec<_> = tree.iter().flat_map(|b| b.kpis.iter().copied()).collect();
        assert_eq!(all.len(), Builtin::ALL.len());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), Builtin::ALL.len());
    }
}
