use super::*;

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
fn the_sentence_names_each_driver_with_its_share_of_the_change() {
    let e = explanation(
        Some(-12.0),
        vec![
            part("leads", Some(-5.04), Some(-5.04)),
            part("conversion", Some(-9.2), Some(-9.2)),
            part("deal size", Some(2.24), Some(2.24)),
        ],
        None,
    );
    assert_eq!(
        e.sentence(),
        "Won revenue −12.0%: leads −5.0%, conversion −9.2%, deal size +2.2%"
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
        "Won revenue −12.0%: cannot attribute: conversion is 0 in this period"
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
        "Won revenue +765.50: won revenue +1,000.00, recurring revenue −234.50"
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
            ("Won revenue", "−12.0%", 100.0, Tone::Bad),
            ("leads", "−5.0%", 5.0 / 12.0 * 100.0, Tone::Bad),
            ("conversion", "−9.0%", 75.0, Tone::Bad),
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
