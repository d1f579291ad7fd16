//! What a reader should see before the full list of KPIs: the headline KPIs, the KPIs that moved
//! most, and the targets missed. One set of rules for every view that leads with a summary (the
//! digest today), so they never pick different KPIs.

use crate::definition::{KpiSelection, TargetStatus};
use crate::format::{Tone, shown_change};
use crate::report::{Card, Report};

/// At most this many headline KPIs: a summary of twenty KPIs summarises nothing.
pub const MAX_HEADLINE: usize = 6;

/// At most this many top movers.
pub const MAX_MOVERS: usize = 3;

/// The summary of a report, as references into its cards.
#[derive(Debug, Clone, Default)]
pub struct Summary<'a> {
    /// The report's chosen KPIs in its own order, or the first KPI of each section.
    pub headline: Vec<&'a Card>,
    /// The largest shown changes (see [`movers`]), headline KPIs left out.
    pub movers: Vec<&'a Card>,
    /// Every KPI whose target the period missed, in report order.
    pub missed: Vec<&'a Card>,
}

/// The report's summary; empty for a period without data.
pub fn summary(report: &Report) -> Summary<'_> {
    if report.empty {
        return Summary::default();
    }
    let headline: Vec<&Card> = match &report.definition.kpis {
        KpiSelection::Keys(keys) => keys
            .iter()
            .filter_map(|key| report.card(key))
            .take(MAX_HEADLINE)
            .collect(),
        KpiSelection::All => report
            .sections
            .iter()
            .filter_map(|s| s.kpis.first())
            .take(MAX_HEADLINE)
            .collect(),
    };
    let rest: Vec<&Card> = report
        .cards()
        .filter(|c| !headline.iter().any(|h| h.meta.key == c.meta.key))
        .collect();
    let movers = movers(rest, MAX_MOVERS);
    let mut missed: Vec<&Card> = Vec::new();
    for card in report.cards() {
        let is_missed = card
            .target
            .as_ref()
            .is_some_and(|t| t.status == TargetStatus::Missed);
        // A KPI a tree puts in two branches is one miss.
        if is_missed && !missed.iter().any(|m| m.meta.key == card.meta.key) {
            missed.push(card);
        }
    }
    Summary {
        headline,
        movers,
        missed,
    }
}

/// The `n` cards whose change as shown (points for rates and scores, percent for the rest) is
/// largest in size; a card with nothing to compare with or a flat change never moves. Ties keep
/// report order, and a KPI listed twice counts once.
pub fn movers<'a>(cards: impl IntoIterator<Item = &'a Card>, n: usize) -> Vec<&'a Card> {
    let mut moved: Vec<(f64, &Card)> = Vec::new();
    for card in cards {
        if matches!(card.tone, Tone::None | Tone::Flat)
            || moved.iter().any(|(_, c)| c.meta.key == card.meta.key)
        {
            continue;
        }
        if let Some(c) = shown_change(card.meta.unit, card.value, card.previous) {
            moved.push((c.abs(), card));
        }
    }
    moved.sort_by(|a, b| b.0.total_cmp(&a.0));
    moved.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests;
