use super::*;
use lodestar_core::period::Timezone;

fn team() -> Team {
    Team {
        id: 1,
        slug: "acme".to_owned(),
        name: "Acme".to_owned(),
        timezone: Timezone::default(),
        data_version: 0,
    }
}

fn period_view(key: &str) -> PeriodView {
    PeriodView {
        key: key.to_owned(),
        start: String::new(),
        end: String::new(),
        timezone: "UTC".to_owned(),
        days: 7,
    }
}

fn builtin(key: &str, value: Option<f64>, previous: Option<f64>) -> KpiValue {
    let b = Builtin::from_key(key).expect("a built-in key");
    KpiValue {
        key: key.to_owned(),
        name: b.name().to_owned(),
        unit: b.unit(),
        direction: b.direction(),
        kind: b.kind(),
        category: b.branch().title().to_owned(),
        source: "builtin",
        value,
        previous,
        change_pct: lodestar_core::formula::change_pct(value, previous),
        segments: None,
        unsupported: None,
        trend: Vec::new(),
        error: None,
    }
}

fn result(kpis: Vec<KpiValue>) -> KpiResult {
    KpiResult {
        period: period_view("2026-W45"),
        previous_period: period_view("2026-W44"),
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
    if let Some(k) = kpis.iter_mut().find(|k| k.key == key) {
        *k = builtin(key, value, previous);
    }
}

#[test]
fn cards_are_grouped_by_branch_in_tree_order_with_custom_categories_last() {
    let mut kpis = every_builtin_at_zero();
    kpis.insert(
        0,
        KpiValue {
            key: "gross_roi".to_owned(),
            name: "Gross ROI".to_owned(),
            category: "Finance".to_owned(),
            source: "script",
            ..builtin("roi", Some(120.0), None)
        },
    );
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &BTreeMap::new(),
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
    assert_eq!(report.card("gross_roi").map(|c| c.source), Some("script"));
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
    let report = shape(&team(), &def, w45(), result(kpis), &BTreeMap::new());
    let cpl = report.card("cpl").expect("a cpl card");
    assert_eq!(cpl.display.value, "400.93");
    assert_eq!(cpl.display.previous, "380.00");
    assert_eq!(cpl.display.change, "+5.5%");
    assert_eq!(cpl.tone, Tone::Bad);
    let target = cpl.target.as_ref().expect("a target");
    assert_eq!(target.status, TargetStatus::Missed);
    assert_eq!(target.text, "≤ 400.00");
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
    );
    assert!(report.empty);
    set(&mut kpis, "visits", Some(1.0), None);
    let report = shape(
        &team(),
        &ReportDefinition::weekly(),
        w45(),
        result(kpis),
        &BTreeMap::new(),
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
            .filter(|k| k.key != "leads" && k.key != "cpl"),
    );
    let def = ReportDefinition {
        kpis: KpiSelection::Keys(vec!["leads".to_owned(), "cpl".to_owned()]),
        segment_by: Some(Dimension::Attr("region".to_owned())),
        ..ReportDefinition::weekly()
    };
    let report = shape(&team(), &def, w45(), result(kpis), &BTreeMap::new());
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
