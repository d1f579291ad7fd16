//! What a reader should see first: the headline KPIs, the biggest movers and the targets missed.
//! The report page and the digest both lead with it.

use serde::Serialize;

use super::{Card, Section};
use crate::definition::TargetStatus;
use crate::format::Tone;

/// How many headline KPIs a report with its own list shows before the rest.
const HEADLINES: usize = 6;
/// How many movers.
const MOVERS: usize = 3;

/// KPIs by key, each also among the report's cards.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// The report's own KPIs in its order (the first six), or the first KPI of each section.
    pub headline: Vec<String>,
    /// The largest relative changes that are good or bad news (spend is neither), largest
    /// first, not already headlines.
    pub movers: Vec<String>,
    /// KPIs whose target the period missed, in report order.
    pub targets_missed: Vec<String>,
}

impl Summary {
    /// `own_list`: the report names its KPIs (so `sections` keep its order within them).
    pub fn of(sections: &[Section], own_list: Option<&[String]>) -> Summary {
        // A KPI a tree puts in two branches counts once.
        let mut cards: Vec<&Card> = Vec::new();
        for card in sections.iter().flat_map(|s| s.kpis.iter()) {
            if !cards.iter().any(|c| c.meta.key == card.meta.key) {
                cards.push(card);
            }
        }
        let headline: Vec<String> = match own_list {
            Some(keys) => keys
                .iter()
                .filter(|k| cards.iter().any(|c| &c.meta.key == *k))
                .take(HEADLINES)
                .cloned()
                .collect(),
            None => {
                let mut firsts: Vec<String> = Vec::new();
                for c in sections.iter().filter_map(|s| s.kpis.first()) {
                    if !firsts.contains(&c.meta.key) && firsts.len() < HEADLINES {
                        firsts.push(c.meta.key.clone());
                    }
                }
                firsts
            }
        };
        let mut moved: Vec<(&Card, f64)> = cards
            .iter()
            .filter(|c| matches!(c.tone, Tone::Good | Tone::Bad))
            .filter(|c| !headline.contains(&c.meta.key))
            .filter_map(|c| Some((*c, c.change_pct.filter(|p| p.is_finite())?.abs())))
            .collect();
        // Largest first; equal moves keep report order (the sort is stable).
        moved.sort_by(|a, b| b.1.total_cmp(&a.1));
        Summary {
            movers: moved
                .into_iter()
                .take(MOVERS)
                .map(|(c, _)| c.meta.key.clone())
                .collect(),
            targets_missed: cards
                .iter()
                .filter(|c| {
                    c.target
                        .as_ref()
                        .is_some_and(|t| t.status == TargetStatus::Missed)
                })
                .map(|c| c.meta.key.clone())
                .collect(),
            headline,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.headline.is_empty() && self.movers.is_empty() && self.targets_missed.is_empty()
    }
}
