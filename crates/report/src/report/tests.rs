use super::*;
use lodestar_core::dimension::Dimension;
use lodestar_core::drivers::builtin_trees;
use lodestar_core::period::Timezone;
use lodestar_core::tree::{KpiTree, TreeNode};

use crate::trees::TreeSource;

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

fn builtin(key: &str, value: Option<f64>, previous: Option<f64>) -> KpiValue {
    let b = Builtin::from_key(key).expect("a built-in key");
    KpiValue::new(KpiMeta::builtin(b), value, previous)
}

fn result(kpis: Vec<KpiValue>) -> KpiResult {
    KpiResult {
        period: period_view("2026-W45"),
        previous_period: Some(period_view("2026-W44")),
        compare: Default::default(),
        to: None,
        segment_by: None,
        kpis,
    }
}

fn every_builtin_at_zero() -> Vec<KpiValue> {
    Builtin::ALL
        .iter()
        .map(|b| builtin(b.key(), Some(0.0), Some(0.0)))
        .collect()
}

fn w45() -> PeriodKey {
    PeriodKey::parse("2026-W45").expect("a valid key")
}

fn set(kpis: &mut [KpiValue], key: &str, value: Option<f64>, previous: Option<f64>) {
    if let Some(k) = kpis.iter_mut().find(|k| k.meta.key == key) {
        *k = builtin(key, value, previous);
    }
}

#[test]
fn cards_are_grouped_by_branch_in_tree_order_with_custom_categories_last() {
    let mut kpis = every_builtin_at_zero();
    kpis.insert(
        0,
        KpiValue {
            meta: KpiMeta {
                key: "gross_roi".to_owned(),
                name: "Gross ROI".to_owned(),
                category: "Finance".to_owned(),
                source: Source::Script,
                ..KpiMeta::builtin(Builtin::Roi)
            },
            ..builtin("roi", Some(120.0), None)
        },
    );
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &Outline::default(),
    );
    let titles: Vec<&str> = report.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Reach & activity",
            "Lead volume & quality",
            "Conversion",
            "Cost efficiency",
            "Revenue & retention",
            "Finance"
        ]
    );
    assert_eq!(report.cards().count(), Builtin::ALL.len() + 1);
    assert_eq!(report.sections[3].kind, Kind::Trailing);
    assert_eq!(
        report.card("gross_roi").map(|c| c.meta.source),
        Some(Source::Script)
    );
    assert_eq!(report.card("gross_roi").and_then(|c| c.formula), None);
    assert!(report.card("cpl").and_then(|c| c.formula).is_some());
}

#[test]
fn a_card_formats_its_numbers_and_judges_the_change_by_direction() {
    let mut kpis = every_builtin_at_zero();
    set(&mut kpis, "cpl", Some(400.9258823529412), Some(380.0));
    set(&mut kpis, "leads", Some(17.0), Some(18.0));
    let mut def = ReportDefinition::weekly();
    def.targets.insert(
        "cpl".to_owned(),
        Target {
            min: None,
            max: Some(400.0),
        },
    );
    let report = shape(
        &team(),
        &def,
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &Outline::default(),
    );
    let cpl = report.card("cpl").expect("a cpl card");
    assert_eq!(cpl.display.value, "$400.93");
    assert_eq!(cpl.display.previous, "$380.00");
    assert_eq!(cpl.display.change, "+5.5%");
    assert_eq!(cpl.tone, Tone::Bad);
    let target = cpl.target.as_ref().expect("a target");
    assert_eq!(target.status, TargetStatus::Missed);
    assert_eq!(target.text, "≤ $400.00");
    let leads = report.card("leads").expect("a leads card");
    assert_eq!(leads.display.change, "-5.6%");
    assert_eq!(leads.tone, Tone::Bad);
    assert!(leads.target.is_none());
}

#[test]
fn a_period_with_only_carried_over_customers_is_empty() {
    let mut kpis = every_builtin_at_zero();
    set(&mut kpis, "active_customers", Some(12.0), Some(12.0));
    set(&mut kpis, "retention_rate", Some(100.0), Some(100.0));
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis.clone()),
        &BTreeMap::new(),
        &Outline::default(),
    );
    assert!(report.empty);
    set(&mut kpis, "visits", Some(1.0), None);
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &Outline::default(),
    );
    assert!(!report.empty);
}

#[test]
fn the_funnel_scales_to_its_largest_step_and_stages_add_up_to_100() {
    let mut kpis = every_builtin_at_zero();
    set(&mut kpis, "leads", Some(20.0), None);
    set(&mut kpis, "mqls", Some(10.0), None);
    set(&mut kpis, "customers_won", Some(2.0), None);
    let stages: BTreeMap<&'static str, u64> =
        [("lead", 6), ("mql", 2), ("customer", 1), ("churned", 1)]
            .into_iter()
            .collect();
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &stages,
        &Outline::default(),
    );
    let widths: Vec<f64> = report.funnel.iter().map(|s| s.width_pct).collect();
    assert_eq!(widths, [100.0, 50.0, 0.0, 0.0, 0.0, 10.0]);
    assert_eq!(report.funnel[5].label, "Won");
    let order: Vec<&str> = report.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        order,
        [
            "lead",
            "mql",
            "sal",
            "sql",
            "opportunity",
            "customer",
            "lost",
            "churned"
        ]
    );
    assert_eq!(report.stages[0].share_pct, 60.0);
    let total: f64 = report.stages.iter().map(|s| s.share_pct).sum();
    assert!((total - 100.0).abs() < 1e-9);
    assert_eq!(report.label, "Week 45, 2026 (Nov 2 – Nov 8)");
    assert_eq!(report.next_period, "2026-W46");
}

fn seg(segment: &str, value: f64) -> SegmentValue {
    SegmentValue {
        segment: segment.to_owned(),
        value: Some(value),
        previous: None,
        goal: None,
    }
}

#[test]
fn a_segment_table_sorts_by_its_first_column_and_names_what_cannot_be_split() {
    let mut leads = builtin("leads", Some(10.0), None);
    leads.segments = Some(Some(vec![
        seg("(none)", 5.0),
        seg("email", 1.0),
        seg("paid", 4.0),
    ]));
    let mut cpl = builtin("cpl", None, None);
    cpl.segments = Some(None);
    cpl.unsupported = Some("cpl needs spend, which has no dimension attrs.region".to_owned());
    let mut kpis = vec![leads, cpl];
    kpis.extend(
        every_builtin_at_zero()
            .into_iter()
            .filter(|k| k.meta.key != "leads" && k.meta.key != "cpl"),
    );
    let def = ReportDefinition {
        kpis: KpiSelection::Keys(vec!["leads".to_owned(), "cpl".to_owned()]),
        segment_by: Some(Dimension::Attr("region".to_owned())),
        ..ReportDefinition::weekly()
    };
    let report = shape(
        &team(),
        &def,
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &Outline::default(),
    );
    assert_eq!(
        report.cards().count(),
        2,
        "only the report's KPIs are cards"
    );
    let table = report.segments.expect("a segment table");
    let columns: Vec<&str> = table.columns.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(columns, ["leads"]);
    let rows: Vec<&str> = table.rows.iter().map(|r| r.segment.as_str()).collect();
    assert_eq!(rows, ["paid", "email", "(none)"]);
    assert_eq!(table.rows[0].cells[0].text, "4");
    assert_eq!(table.unsupported.len(), 1);
}

fn branch(title: &str, kpis: &[&str], branches: Vec<TreeNode>) -> TreeNode {
    TreeNode {
        title: title.to_owned(),
        kind: None,
        kpis: kpis.iter().map(|k| (*k).to_owned()).collect(),
        branches,
    }
}

#[test]
fn organised_by_a_tree_the_sections_follow_its_branches_at_any_depth_and_other_holds_the_rest() {
    let mut kpis = every_builtin_at_zero();
    set(&mut kpis, "leads", Some(20.0), Some(10.0));
    let tree = TeamTree {
        tree: KpiTree {
            slug: "money".to_owned(),
            title: "Money".to_owned(),
            branches: vec![
                branch(
                    "Revenue",
                    &["revenue"],
                    vec![branch("Won", &["won_revenue", "not_a_kpi"], Vec::new())],
                ),
                branch(
                    "Empty",
                    &[],
                    vec![branch("Cost", &["cac", "cpl"], Vec::new())],
                ),
            ],
        },
        source: TreeSource::Team { version: 1 },
    };
    let outline = Outline {
        tree: Some(tree),
        drivers: Vec::new(),
    };
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &outline,
    );
    let sections: Vec<(&str, Vec<&str>)> = report
        .sections
        .iter()
        .map(|s| {
            (
                s.title.as_str(),
                s.kpis.iter().map(|c| c.meta.key.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(sections[0], ("Revenue", vec!["revenue"]));
    assert_eq!(sections[1], ("Revenue / Won", vec!["won_revenue"]));
    assert_eq!(sections[2], ("Empty / Cost", vec!["cac", "cpl"]));
    assert_eq!(sections[3].0, OTHER);
    assert_eq!(sections.len(), 4);
    assert_eq!(
        report.cards().count(),
        Builtin::ALL.len(),
        "every KPI once, none hidden"
    );
    assert!(sections[3].1.contains(&"leads"));
    assert!(!sections[3].1.contains(&"cac"));
    assert_eq!(report.sections[2].kind, Kind::Trailing, "cac's own kind");
}

#[test]
fn the_report_explains_the_kpis_with_driver_trees_that_moved() {
    let mut kpis = every_builtin_at_zero();
    // 10 leads at 10% and 500 each: 500 won; then 12 leads at 10% and 500: 600 won.
    set(&mut kpis, "leads", Some(12.0), Some(10.0));
    set(&mut kpis, "conversion_rate", Some(10.0), Some(10.0));
    set(&mut kpis, "avg_deal_size", Some(500.0), Some(500.0));
    set(&mut kpis, "won_revenue", Some(600.0), Some(500.0));
    set(&mut kpis, "customers_won", Some(1.2), Some(1.0));
    let outline = Outline {
        tree: None,
        drivers: builtin_trees(),
    };
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis.clone()),
        &BTreeMap::new(),
        &outline,
    );
    let explained: Vec<&str> = report.drivers.iter().map(|e| e.kpi.as_str()).collect();
    // cac, roas and revenue did not move or are undefined in both periods; leads moved, but
    // with no visits it cannot be attributed, and says so.
    assert_eq!(explained, ["won_revenue", "customers_won", "leads"]);
    assert_eq!(
        report.drivers[2].error.as_deref(),
        Some("cannot attribute: visits is 0 in the previous period")
    );
    assert_eq!(
        report.drivers[0].sentence(),
        "Won revenue +20.0%: leads +20.0% (→\u{a0}+20.0%), conversion 0.0 pp (→\u{a0}±0.0%), \
         deal size 0.0% (→\u{a0}±0.0%)"
    );
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["drivers"][0]["sentence"], report.drivers[0].sentence());
    assert_eq!(json["drivers"][0]["bars"][0]["label"], "Won revenue");

    // A report of named KPIs explains only those.
    let def = ReportDefinition {
        kpis: KpiSelection::Keys(vec!["customers_won".to_owned()]),
        ..ReportDefinition::weekly()
    };
    let report = shape(
        &team(),
        &def,
        w45(),
        result(kpis),
        &BTreeMap::new(),
        &outline,
    );
    let explained: Vec<&str> = report.drivers.iter().map(|e| e.kpi.as_str()).collect();
    assert_eq!(explained, ["customers_won"]);
}

#[test]
fn the_summary_leads_with_headlines_then_the_biggest_good_or_bad_moves_and_missed_targets() {
    let mut kpis = every_builtin_at_zero();
    set(&mut kpis, "sessions", Some(1000.0), Some(1000.0));
    set(&mut kpis, "leads", Some(150.0), Some(100.0)); // +50%, a headline
    set(&mut kpis, "mqls", Some(40.0), Some(100.0)); // -60%
    set(&mut kpis, "sqls", Some(30.0), Some(20.0)); // +50%
    set(&mut kpis, "customers_won", Some(11.0), Some(10.0)); // +10%
    set(&mut kpis, "ad_spend", Some(9000.0), Some(1000.0)); // +800%, but spend is not news
    set(&mut kpis, "cpl", Some(500.0), Some(400.0)); // +25%, bad
    let mut def = ReportDefinition::weekly();
    def.targets.insert(
        "cpl".to_owned(),
        Target {
            min: None,
            max: Some(450.0),
        },
    );
    def.targets.insert(
        "leads".to_owned(),
        Target {
            min: Some(120.0),
            max: None,
        },
    );
    let report = shape(
        &team(),
        &def,
        w45(),
        result(kpis.clone()),
        &BTreeMap::new(),
        &Outline::default(),
    );
    let first_of_each: Vec<String> = report
        .sections
        .iter()
        .map(|s| s.kpis[0].meta.key.clone())
        .collect();
    assert_eq!(report.summary.headline, first_of_each);
    assert!(report.summary.headline.contains(&"sessions".to_owned()));
    // Largest relative moves first; spend moved most but is neither good nor bad news.
    assert_eq!(report.summary.movers[0], "mqls");
    assert!(!report.summary.movers.contains(&"ad_spend".to_owned()));
    assert_eq!(report.summary.movers.len(), 3);
    assert_eq!(report.summary.targets_missed, ["cpl"]);

    // A report with its own list leads with it, in its order.
    def.kpis = KpiSelection::Keys(vec!["cpl".to_owned(), "leads".to_owned()]);
    let own = shape(
        &team(),
        &def,
        w45(),
        result(kpis.clone()),
        &BTreeMap::new(),
        &Outline::default(),
    );
    assert_eq!(own.summary.headline, ["cpl", "leads"]);
    assert!(own.summary.movers.is_empty(), "every KPI is a headline");

    // While the week is in progress, no target is missed yet.
    let mut running = result(kpis);
    running.period.complete = false;
    let report = shape(
        &team(),
        &def,
        w45(),
        running,
        &BTreeMap::new(),
        &Outline::default(),
    );
    assert!(report.summary.targets_missed.is_empty());
    assert_eq!(
        report
            .card("cpl")
            .and_then(|c| c.target.as_ref())
            .map(|t| t.status),
        Some(TargetStatus::InProgress)
    );
}
