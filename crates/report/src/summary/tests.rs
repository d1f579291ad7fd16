use std::collections::BTreeMap;

use lodestar_core::catalog::Builtin;
use lodestar_core::period::{PeriodKey, PeriodView, Timezone};
use lodestar_store::teams::Team;

use super::*;
use crate::definition::{ReportDefinition, Target};
use crate::engine::{KpiResult, KpiValue};
use crate::meta::KpiMeta;
use crate::report::{Outline, shape};

fn team() -> Team {
    Team {
        id: 1,
        slug: "acme".to_owned(),
        name: "Acme".to_owned(),
        timezone: Timezone::default(),
        data_version: 0,
        currency: Default::default(),
    }
}

fn period_view(key: &str) -> PeriodView {
    PeriodView::of(PeriodKey::parse(key).expect("a key"), Timezone::default())
}

/// Every built-in at 10 in both periods but those given.
fn report(def: &ReportDefinition, moved: &[(&str, Option<f64>, Option<f64>)]) -> Report {
    let kpis = Builtin::ALL
        .iter()
        .map(|b| {
            let (value, previous) = moved
                .iter()
                .find(|(k, _, _)| *k == b.key())
                .map_or((Some(10.0), Some(10.0)), |(_, v, p)| (*v, *p));
            KpiValue::new(KpiMeta::builtin(*b), value, previous)
        })
        .collect();
    let result = KpiResult {
        period: period_view("2026-W45"),
        previous_period: period_view("2026-W44"),
        segment_by: None,
        kpis,
    };
    shape(
        &team(),
        def,
        PeriodKey::parse("2026-W45").expect("a key"),
        result,
        &BTreeMap::new(),
        &Outline::default(),
    )
}

fn keys(cards: &[&Card]) -> Vec<String> {
    cards.iter().map(|c| c.meta.key.clone()).collect()
}

#[test]
fn a_report_of_every_kpi_leads_with_the_first_kpi_of_each_branch() {
    let r = report(&ReportDefinition::weekly(), &[]);
    let s = summary(&r);
    let firsts: Vec<String> = r
        .sections
        .iter()
        .map(|s| s.kpis[0].meta.key.clone())
        .collect();
    assert_eq!(keys(&s.headline), firsts);
    assert!(s.movers.is_empty(), "nothing moved");
    assert!(s.missed.is_empty());
}

#[test]
fn a_report_of_chosen_kpis_leads_with_them_in_its_own_order() {
    let mut def = ReportDefinition::weekly();
    def.kpis = KpiSelection::Keys(vec!["cac".to_owned(), "leads".to_owned()]);
    let r = report(&def, &[]);
    let s = summary(&r);
    assert_eq!(keys(&s.headline), ["cac", "leads"]);
}

#[test]
fn movers_are_the_largest_shown_changes_outside_the_headline() {
    let r = report(
        &ReportDefinition::weekly(),
        &[
            // +50%: the largest relative change.
            ("mqls", Some(15.0), Some(10.0)),
            // +30.0 pp: a rate moves in points, not as +300% of itself.
            ("lead_to_mql_rate", Some(40.0), Some(10.0)),
            // −20%: size counts, not sign.
            ("cpl", Some(8.0), Some(10.0)),
            // +10%.
            ("sqls", Some(11.0), Some(10.0)),
            // No previous value: nothing to compare with.
            ("opportunities", Some(99.0), None),
        ],
    );
    let s = summary(&r);
    assert_eq!(keys(&s.movers), ["mqls", "lead_to_mql_rate", "cpl"]);
    for m in &s.movers {
        assert!(!s.headline.iter().any(|h| h.meta.key == m.meta.key));
    }
}

#[test]
fn missed_targets_are_listed_and_met_ones_are_not() {
    let mut def = ReportDefinition::weekly();
    def.targets.insert(
        "cpl".to_owned(),
        Target {
            min: None,
            max: Some(5.0),
        },
    );
    def.targets.insert(
        "leads".to_owned(),
        Target {
            min: Some(5.0),
            max: None,
        },
    );
    let r = report(&def, &[]);
    let s = summary(&r);
    assert_eq!(keys(&s.missed), ["cpl"]);
}

#[test]
fn a_period_without_data_has_no_summary() {
    let zeros: Vec<(&str, Option<f64>, Option<f64>)> = Builtin::ALL
        .iter()
        .map(|b| (b.key(), Some(0.0), Some(0.0)))
        .collect();
    let r = report(&ReportDefinition::weekly(), &zeros);
    assert!(r.empty);
    let s = summary(&r);
    assert!(s.headline.is_empty() && s.movers.is_empty() && s.missed.is_empty());
}
