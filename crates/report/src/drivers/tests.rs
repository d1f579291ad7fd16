use super::*;
use crate::meta::KpiMeta;

fn part(label: &str, pct: Option<f64>, contribution: Option<f64>) -> Part {
    Part {
        kpi: label.into(),
        name: label.into(),
        label: label.into(),
        unit: Unit::Count,
        power: 1,
        weight: 1.0,
        value: None,
        previous: None,
        change_pct: None,
        contribution,
        contribution_pct: pct,
        change_display: "—".into(),
        effect_display: match (pct, contribution) {
            (Some(pct), _) => signed_pct(pct),
            (None, Some(c)) => signed_value(Unit::Currency, c),
            (None, None) => "—".into(),
        },
        note: None,
    }
}

fn explanation(change_pct: Option<f64>, parts: Vec<Part>, error: Option<&str>) -> Explanation {
    Explanation {
        kpi: "won_revenue".into(),
        name: "Won revenue".into(),
        unit: Unit::Currency,
        direction: Direction::HigherIsBetter,
        combine: Combine::Product,
        scale: 0.01,
        period: "2026-W45".into(),
        previous_period: "2026-W44".into(),
        value: Some(88.0),
        previous: Some(100.0),
        change: Some(-12.0),
        change_pct,
        parts,
        error: error.map(str::to_owned),
    }
}

#[test]
fn the_sentence_names_each_drivers_own_change_and_its_effect_on_the_kpi() {
    let mut parts = vec![
        part("leads", Some(-5.04), Some(-5.04)),
        part("conversion", Some(-9.2), Some(-9.2)),
        part("deal size", Some(2.24), Some(2.24)),
    ];
    for (p, own) in parts.iter_mut().zip(["-5.0%", "-1.0 pp", "+2.3%"]) {
        p.change_display = own.into();
    }
    let e = explanation(Some(-12.0), parts, None);
    assert_eq!(
        e.sentence(),
        "Won revenue -12.0%: leads -5.0% (→\u{a0}-5.0%), conversion -1.0 pp (→\u{a0}-9.2%), \
         deal size +2.3% (→\u{a0}+2.2%)"
    );
}

#[test]
fn a_blocked_attribution_says_why_instead_of_showing_numbers() {
    let e = explanation(
        Some(-12.0),
        vec![part("leads", None, None)],
        Some("cannot attribute: conversion is 0 in this period"),
    );
    assert_eq!(
        e.sentence(),
        "Won revenue -12.0%: cannot attribute: conversion is 0 in this period"
    );
}

#[test]
fn from_zero_the_parts_are_amounts_in_the_kpis_unit() {
    let mut e = explanation(
        None,
        vec![
            part("won revenue", None, Some(1000.0)),
            part("recurring revenue", None, Some(-234.5)),
        ],
        None,
    );
    e.change = Some(765.5);
    assert_eq!(
        e.sentence(),
        "Won revenue +765.50: won revenue — (→\u{a0}+1,000.00), recurring revenue — (→\u{a0}-234.50)"
    );
}

#[test]
fn the_bars_put_the_change_and_its_parts_on_one_scale_judged_by_direction() {
    let e = explanation(
        Some(-12.0),
        vec![
            part("leads", Some(-5.0), Some(-5.0)),
            part("conversion", Some(-9.0), Some(-9.0)),
            part("deal size", Some(2.0), Some(2.0)),
        ],
        None,
    );
    let bars = e.bars();
    let rows: Vec<(&str, &str, f64, Tone)> = bars
        .iter()
        .map(|b| (b.label.as_str(), b.text.as_str(), b.length_pct, b.tone))
        .collect();
    assert_eq!(
        rows,
        [
            ("Won revenue", "-12.0%", 100.0, Tone::Bad),
            ("leads", "-5.0%", 5.0 / 12.0 * 100.0, Tone::Bad),
            ("conversion", "-9.0%", 75.0, Tone::Bad),
            ("deal size", "+2.0%", 2.0 / 12.0 * 100.0, Tone::Good),
        ]
    );
    // For a cost, growth is the bad way.
    let cost = Explanation {
        direction: Direction::LowerIsBetter,
        ..e
    };
    assert_eq!(cost.bars()[3].tone, Tone::Bad);
    assert_eq!(cost.bars()[1].tone, Tone::Good);
}

#[test]
fn a_blocked_explanation_has_no_bars_and_amounts_from_zero_are_scaled_alike() {
    let blocked = explanation(Some(-12.0), vec![part("leads", None, None)], Some("no"));
    assert!(blocked.bars().is_empty());
    let mut e = explanation(
        None,
        vec![
            part("won revenue", None, Some(1000.0)),
            part("recurring revenue", None, Some(-250.0)),
        ],
        None,
    );
    e.change = Some(750.0);
    let bars = e.bars();
    assert_eq!(bars[0].text, "+750.00");
    assert_eq!(bars[1].length_pct, 100.0);
    assert_eq!(bars[2].length_pct, 25.0);
    assert_eq!((bars[1].tone, bars[2].tone), (Tone::Good, Tone::Bad));
}

#[test]
fn only_a_kpi_that_moved_is_worth_explaining() {
    let mut e = explanation(Some(0.0), Vec::new(), None);
    (e.value, e.previous) = (Some(5.0), Some(5.0));
    assert!(!e.changed());
    (e.value, e.previous) = (None, None);
    assert!(!e.changed());
    (e.value, e.previous) = (Some(5.0), None);
    assert!(e.changed());
    (e.value, e.previous) = (Some(5.0), Some(4.0));
    assert!(e.changed());
}

fn builtin(key: &str, value: Option<f64>, previous: Option<f64>) -> KpiValue {
    let b = Builtin::from_key(key).expect("a built-in");
    KpiValue::new(KpiMeta::builtin(b), value, previous)
}

/// The built-in explanation of `kpi` from these values.
fn explained(kpi: &str, values: &[KpiValue]) -> Explanation {
    let period = PeriodKey::parse("2026-W45").expect("a key");
    let trees: Vec<DriverTree> = builtin_trees()
        .into_iter()
        .filter(|t| t.kpi == kpi)
        .collect();
    explain_values(&trees, values, &period, Some(period.previous()))
        .pop()
        .expect("an explanation")
}

/// CAC from spend 1,000 → 1,039 and customers won 20 → 21.9: the cards' numbers.
fn cac_values() -> Vec<KpiValue> {
    vec![
        builtin("cac", Some(1039.0 / 21.9), Some(50.0)),
        builtin("total_spend", Some(1039.0), Some(1000.0)),
        builtin("customers_won", Some(21.9), Some(20.0)),
    ]
}

#[test]
fn each_drivers_own_change_is_the_text_of_its_card_and_its_effect_is_signed_the_kpis_way() {
    let values = cac_values();
    let e = explained("cac", &values);
    for p in &e.parts {
        let card = values.iter().find(|v| v.meta.key == p.kpi).expect("a card");
        assert_eq!(
            Some(&p.change_display),
            card.change_display.as_ref(),
            "{}",
            p.kpi
        );
        assert_eq!(
            p.change_display,
            change_display(card.meta.unit, card.value, card.previous)
        );
    }
    let won = e
        .parts
        .iter()
        .find(|p| p.kpi == "customers_won")
        .expect("a part");
    // More customers make each one cheaper: the card says +9.5%, the effect on CAC is −.
    assert_eq!(won.change_display, "+9.5%");
    assert!(
        won.effect_display.starts_with('-'),
        "{}",
        won.effect_display
    );
    assert_eq!(
        e.sentence(),
        format!(
            "Customer acquisition cost {}: customers won +9.5% (→\u{a0}{}), spend +3.9% (→\u{a0}{})",
            signed_pct(e.change_pct.expect("a change")),
            won.effect_display,
            e.parts[1].effect_display,
        )
    );
    // A percent driver's own change is in points, as on its card.
    let values = [
        builtin(
            "won_revenue",
            Some(0.01 * 12.0 * 10.0 * 500.0),
            Some(0.01 * 10.0 * 12.5 * 500.0),
        ),
        builtin("leads", Some(12.0), Some(10.0)),
        builtin("conversion_rate", Some(10.0), Some(12.5)),
        builtin("avg_deal_size", Some(500.0), Some(500.0)),
    ];
    let e = explained("won_revenue", &values);
    let conversion = e
        .parts
        .iter()
        .find(|p| p.kpi == "conversion_rate")
        .expect("a part");
    assert_eq!(conversion.change_display, "-2.5 pp");
}

#[test]
fn drivers_come_largest_effect_first() {
    let e = explained("cac", &cac_values());
    let order: Vec<&str> = e.parts.iter().map(|p| p.kpi.as_str()).collect();
    assert_eq!(order, ["customers_won", "total_spend"]);
    let sizes: Vec<f64> = e
        .parts
        .iter()
        .map(|p| p.contribution.expect("a share").abs())
        .collect();
    assert!(sizes[0] >= sizes[1], "{sizes:?}");
    // The bars follow the same order, after the KPI's own change.
    let labels: Vec<String> = e.bars().into_iter().map(|b| b.label).collect();
    assert_eq!(
        labels,
        ["Customer acquisition cost", "customers won", "spend"]
    );
}

#[test]
fn the_top_three_drivers_show_and_the_rest_fold_away() {
    let parts: Vec<Part> = [-9.0, 5.0, -3.0, 1.0, 0.5, 0.1]
        .iter()
        .enumerate()
        .map(|(i, x)| part(&format!("d{i}"), Some(*x), Some(*x)))
        .collect();
    let e = explanation(Some(-5.4), parts, None);
    let (shown, folded) = e.folded();
    let names = |ps: &[Part]| ps.iter().map(|p| p.label.clone()).collect::<Vec<_>>();
    assert_eq!(names(shown), ["d0", "d1", "d2"]);
    assert_eq!(names(folded), ["d3", "d4", "d5"]);
    let two = explanation(Some(-4.0), e.parts[..2].to_vec(), None);
    assert_eq!((two.folded().0.len(), two.folded().1.len()), (2, 0));
}

#[test]
fn a_driver_missing_or_zero_in_a_period_is_said_in_words_not_as_a_number() {
    // An empty current week: no visits, so leads cannot be split.
    let values = [
        builtin("leads", Some(0.0), Some(31.0)),
        builtin("visits", Some(0.0), Some(1000.0)),
        builtin("visitor_conversion_rate", None, Some(3.1)),
    ];
    let e = explained("leads", &values);
    assert!(e.error.is_some());
    let visits = e.parts.iter().find(|p| p.kpi == "visits").expect("a part");
    assert_eq!(
        visits.note.as_deref(),
        Some("0 in this period, so its share cannot be computed")
    );
    assert_eq!(visits.effect_display, "—");
    let rate = e
        .parts
        .iter()
        .find(|p| p.kpi == "visitor_conversion_rate")
        .expect("a part");
    assert_eq!(rate.note.as_deref(), Some("no data in this period"));
    assert_eq!(rate.change_display, "—");
    for p in &e.parts {
        assert!(
            p.contribution.is_none() && p.contribution_pct.is_none(),
            "{p:?}"
        );
    }
    assert!(e.bars().is_empty());
    assert!(
        e.sentence()
            .starts_with("Leads -100.0%: cannot attribute: "),
        "{}",
        e.sentence()
    );
    // Missing in the previous period, for a sum too.
    assert_eq!(
        cannot_compute(Combine::Sum, Some(5.0), None).as_deref(),
        Some("no data in the previous period")
    );
    assert_eq!(cannot_compute(Combine::Sum, Some(5.0), Some(0.0)), None);
    assert_eq!(
        cannot_compute(Combine::Product, Some(5.0), Some(0.0)).as_deref(),
        Some("0 in the previous period, so its share cannot be computed")
    );
}
