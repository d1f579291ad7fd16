//! The summary a report leads with, as its cards, for views that show them (the digest). Which
//! KPIs it names is decided once, when the report is shaped (`report::Summary::of`), so the page,
//! the JSON and the digest never pick different ones.

use crate::report::{Card, Report};

/// The report's summary as references into its cards.
#[derive(Debug, Clone, Default)]
pub struct Summary<'a> {
    /// The report's chosen KPIs in its own order, or the first KPI of each section.
    pub headline: Vec<&'a Card>,
    /// The largest good or bad moves, headline KPIs left out.
    pub movers: Vec<&'a Card>,
    /// Every KPI whose target the period missed, in report order.
    pub missed: Vec<&'a Card>,
}

/// The report's summary; empty for a period without data.
pub fn summary(report: &Report) -> Summary<'_> {
    if report.empty {
        return Summary::default();
    }
    let cards = |keys: &[String]| keys.iter().filter_map(|k| report.card(k)).collect();
    Summary {
        headline: cards(&report.summary.headline),
        movers: cards(&report.summary.movers),
        missed: cards(&report.summary.targets_missed),
    }
}
