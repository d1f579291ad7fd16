use super::*;
use crate::catalog::Builtin;
use crate::formula;
use crate::measure::{Measure, MeasureValues};

fn pair(previous: f64, current: f64) -> Pair {
    Pair {
        previous: Some(previous),
        current: Some(current),
    }
}

fn won_revenue() -> DriverTree {
    builtin_trees()
        .into_iter()
        .find(|t| t.kpi == "won_revenue")
        .expect("declared")
}

#[test]
fn lmdi_parts_of_a_hand_computed_example_add_up_to_the_change() {
    // leads 100 → 95, conversion 10 % → 9 %, deal size 50 → 51:
    // won revenue 500 → 436.05. By hand: L(436.05, 500) = −63.95 / ln(0.8721)
    // = 467.29592…; leads: L·ln(0.95) = −23.969147…, conversion: L·ln(0.9) = −49.234540…,
    // deal size: L·ln(1.02) = +9.253687….
    let parts = won_revenue()
        .attribute(
            pair(500.0, 436.05),
            &[pair(100.0, 95.0), pair(10.0, 9.0), pair(50.0, 51.0)],
        )
        .expect("attributable");
    let expected = [-23.969_147_4, -49.234_539_6, 9.253_687_0];
    for (got, want) in parts.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{parts:?}");
    }
    let total: f64 = parts.iter().sum();
    assert!((total - (436.05 - 500.0)).abs() < 1e-9, "{total}");
}

#[test]
fn the_logarithmic_mean_lies_between_its_arguments_and_is_a_at_a() {
    assert_eq!(log_mean(7.0, 7.0), 7.0);
    let l = log_mean(100.0, 50.0);
    assert!((l - 50.0 / 2f64.ln()).abs() < 1e-12);
    let near = log_mean(1.000_000_000_1, 1.0);
    assert!((near - 1.000_000_000_05).abs() < 1e-12);
}

#[test]
fn a_zero_a_negative_or_an_undefined_driver_is_a_reason_not_a_nan() {
    let tree = won_revenue();
    let err = tree
        .attribute(
            pair(500.0, 0.0),
            &[pair(100.0, 95.0), pair(10.0, 0.0), pair(50.0, 51.0)],
        )
        .expect_err("zero");
    assert_eq!(
        err,
        Blocker::Zero {
            kpi: "won_revenue".into(),
            when: When::Current
        }
    );
    let name = |k: &str| k.replace('_', " ");
    assert_eq!(
        err.describe(&tree, &name),
        "cannot attribute: won revenue is 0 in this period"
    );
    let err = tree
        .attribute(
            pair(500.0, 436.05),
            &[
                pair(100.0, 95.0),
                Pair {
                    previous: None,
                    current: Some(9.0),
                },
                pair(50.0, 51.0),
            ],
        )
        .expect_err("undefined");
    assert_eq!(
        err.describe(&tree, &name),
        "cannot attribute: conversion rate is undefined in the previous period"
    );
    let err = tree
        .attribute(
            pair(-5.0, 436.05),
            &[pair(100.0, 95.0), pair(10.0, 9.0), pair(50.0, 51.0)],
        )
        .expect_err("negative");
    assert!(matches!(err, Blocker::Negative { .. }));
}

#[test]
fn a_declaration_the_values_do_not_satisfy_is_refused() {
    let err = won_revenue()
        .attribute(
            pair(600.0, 436.05),
            &[pair(100.0, 95.0), pair(10.0, 9.0), pair(50.0, 51.0)],
        )
        .expect_err("not an identity");
    assert!(matches!(
        err,
        Blocker::NotIdentity {
            when: When::Previous,
            ..
        }
    ));
}

#[test]
fn sums_are_attributed_by_plain_differences_even_through_zero() {
    let revenue = builtin_trees()
        .into_iter()
        .find(|t| t.kpi == "revenue")
        .expect("declared");
    let parts = revenue
        .attribute(pair(100.0, 130.0), &[pair(100.0, 80.0), pair(0.0, 50.0)])
        .expect("attributable");
    assert_eq!(parts, vec![-20.0, 50.0]);
}

#[test]
fn unchanged_values_get_zero_parts() {
    let parts = won_revenue()
        .attribute(
            pair(500.0, 500.0),
            &[pair(100.0, 100.0), pair(10.0, 10.0), pair(50.0, 50.0)],
        )
        .expect("attributable");
    assert_eq!(parts, vec![0.0, 0.0, 0.0]);
}

#[test]
fn builtin_trees_are_identities_of_the_builtin_formulas() {
    let mut v = MeasureValues::empty();
    for (i, m) in Measure::ALL.iter().enumerate() {
        v.set(*m, Some(11.0 + i as f64 * 3.7));
    }
    let of = |key: &str| {
        let b = Builtin::from_key(key).expect("built-in");
        formula::value(b, &v, &v).expect("defined")
    };
    for tree in builtin_trees() {
        let xs: Vec<f64> = tree.drivers.iter().map(|d| of(&d.kpi)).collect();
        let value = of(&tree.kpi);
        assert!(close(value, tree.combine(&xs)), "{}", tree.kpi);
    }
}

#[test]
fn the_funnel_splits_customers_won_by_step_and_a_step_of_zero_blocks_it_by_name() {
    let funnel = builtin_trees()
        .into_iter()
        .find(|t| t.kpi == "customers_won")
        .expect("customers_won has a tree");
    let keys: Vec<&str> = funnel.drivers.iter().map(|d| d.kpi.as_str()).collect();
    assert_eq!(
        keys,
        [
            "leads",
            "lead_to_mql_rate",
            "mql_to_sal_rate",
            "sal_to_sql_rate",
            "sql_to_opportunity_rate",
            "opportunity_win_rate"
        ]
    );
    // 100 leads → 50 MQL → 40 SAL → 20 SQL → 10 opps → 5 won, then 120 → 60 → 30 → 30 → 15 → 6.
    let rates = |f: [f64; 6]| -> Vec<f64> {
        let mut out = vec![f[0]];
        out.extend(f.windows(2).map(|w| w[1] / w[0] * 100.0));
        out
    };
    let (before, after) = (
        rates([100.0, 50.0, 40.0, 20.0, 10.0, 5.0]),
        rates([120.0, 60.0, 30.0, 30.0, 15.0, 6.0]),
    );
    let pairs: Vec<Pair> = before
        .iter()
        .zip(&after)
        .map(|(&b, &a)| pair(b, a))
        .collect();
    let parts = funnel
        .attribute(pair(5.0, 6.0), &pairs)
        .expect("attributable");
    assert!(close(parts.iter().sum::<f64>(), 1.0), "{parts:?}");
    // MQL→SAL fell (80 % → 50 %): its part is negative; SAL→SQL rose: positive.
    assert!(parts[2] < 0.0 && parts[3] > 0.0, "{parts:?}");

    // A week without SALs: SAL→SQL is undefined and MQL→SAL is 0; no split, and why.
    let mut blocked = pairs.clone();
    blocked[2] = pair(before[2], 0.0);
    blocked[3] = Pair {
        previous: Some(before[3]),
        current: None,
    };
    let why = funnel
        .attribute(pair(5.0, 6.0), &blocked)
        .expect_err("a zero step cannot be split");
    let text = why.describe(&funnel, &|k: &str| k.replace('_', " "));
    assert!(text.starts_with("cannot attribute: "), "{text}");
    assert!(text.contains("this period"), "{text}");
}

#[test]
fn declarations_parse_from_toml_and_bad_ones_say_why() {
    let tree: DriverTree = toml::from_str(
            r#"
            kpi = "cost_per_opportunity"
            factors = [{ kpi = "total_spend" }, { kpi = "opportunities", power = -1, label = "opps" }]
            "#,
        )
        .expect("valid");
    assert_eq!(tree.combine, Combine::Product);
    assert_eq!(tree.drivers[1].power, -1);
    assert_eq!(tree.scale, 1.0);
    for (bad, why) in [
        (r#"kpi = "x""#, "either `factors`"),
        (
            r#"kpi = "x"
                factors = [{ kpi = "x" }]"#,
            "another KPI key",
        ),
        (
            r#"kpi = "x"
                scale = 0
                factors = [{ kpi = "y" }]"#,
            "scale",
        ),
        (
            r#"kpi = "x"
                terms = [{ kpi = "y", power = 2 }]"#,
            "not `power`",
        ),
        (
            r#"kpi = "x"
                factors = [{ kpi = "y", power = 0 }]"#,
            "power",
        ),
    ] {
        let e = toml::from_str::<DriverTree>(bad).expect_err(bad);
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
}
