#![allow(clippy::unwrap_used)]

use super::*;

fn m(s: &str) -> Micros {
    Micros::parse_str(s).unwrap()
}

#[test]
fn a_tenth_plus_two_tenths_is_exactly_three_tenths() {
    let sum: Micros = [0.1, 0.2]
        .into_iter()
        .map(|x| Micros::from_f64(x).unwrap())
        .sum();
    assert_eq!(sum, Micros::from_f64(0.3).unwrap());
    assert_eq!(sum, Micros(300_000));
    assert_eq!(sum.to_f64(), 0.3);
}

#[test]
fn a_float_is_read_as_the_decimal_it_prints_as() {
    assert_eq!(Micros::from_f64(237.92).unwrap(), Micros(237_920_000));
    assert_eq!(Micros::from_f64(1467.53).unwrap(), Micros(1_467_530_000));
    assert_eq!(Micros::from_f64(-0.000001).unwrap(), Micros(-1));
    assert_eq!(Micros::from_f64(-0.0).unwrap(), Micros(0));
    assert_eq!(
        Micros::from_f64(9e12).unwrap(),
        Micros(9_000_000_000_000_000_000)
    );
}

#[test]
fn floats_round_to_the_nearest_millionth_half_away_from_zero() {
    assert_eq!(Micros::from_f64(0.0000005).unwrap(), Micros(1));
    assert_eq!(Micros::from_f64(-0.0000005).unwrap(), Micros(-1));
    assert_eq!(Micros::from_f64(0.00000049).unwrap(), Micros(0));
    assert_eq!(Micros::from_f64(1.23456789).unwrap(), Micros(1_234_568));
    assert_eq!(Micros::from_f64(1e-300).unwrap(), Micros(0));
}

#[test]
fn non_finite_and_huge_floats_are_rejected() {
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(Micros::from_f64(x).unwrap_err().contains("finite"), "{x}");
    }
    for x in [9.000_000_000_001e12, -1e13, 1e300] {
        assert!(
            Micros::from_f64(x).unwrap_err().contains("out of range"),
            "{x}"
        );
    }
}

#[test]
fn decimal_text_parses_exactly_with_sign_and_fraction() {
    assert_eq!(m("237.92"), Micros(237_920_000));
    assert_eq!(m("-12.5"), Micros(-12_500_000));
    assert_eq!(m("+7"), Micros(7_000_000));
    assert_eq!(m(".5"), Micros(500_000));
    assert_eq!(m("5."), Micros(5_000_000));
    assert_eq!(m("0.000001"), Micros(1));
    assert_eq!(m(" 42 "), Micros(42_000_000));
    assert_eq!(m("-0"), Micros(0));
    assert_eq!(m("000000000000000000000000001"), Micros(1_000_000));
    assert_eq!(m("9000000000000"), Micros(9_000_000_000_000_000_000));
    // Too many digits for a float to hold, kept exactly.
    assert_eq!(m("1234567890.123456"), Micros(1_234_567_890_123_456));
}

#[test]
fn text_beyond_six_decimals_rounds_half_away_from_zero() {
    assert_eq!(m("0.0000005"), Micros(1));
    assert_eq!(m("-0.0000005"), Micros(-1));
    assert_eq!(m("0.00000049999"), Micros(0));
    assert_eq!(m("2.0000014999"), Micros(2_000_001));
    assert_eq!(m("0.9999995"), Micros(1_000_000));
}

#[test]
fn simple_exponents_are_accepted_in_text_as_in_json() {
    assert_eq!(m("1e3"), Micros(1_000_000_000));
    assert_eq!(m("2.5E-2"), Micros(25_000));
    assert_eq!(m("-1.5e+1"), Micros(-15_000_000));
    assert_eq!(m("1e-7"), Micros(0));
    assert_eq!(m("0e99999999999"), Micros(0));
    let json: Micros = serde_json::from_str("1e3").unwrap();
    assert_eq!(json, m("1e3"));
}

#[test]
fn malformed_text_is_rejected_with_a_clear_message() {
    for bad in [
        "abc", "", " ", "1,5", "1.2.3", "e3", "1e", "1e+", "--1", "0x10", "NaN", "inf", "1_000",
        "$5", "5 EUR", ".",
    ] {
        let message = Micros::parse_str(bad).unwrap_err();
        assert!(
            message.starts_with("expected a number such as 1234.56"),
            "{bad}: {message}"
        );
    }
    assert_eq!(
        Micros::parse_str("abc").unwrap_err(),
        "expected a number such as 1234.56, got `abc`"
    );
}

#[test]
fn text_out_of_range_is_rejected() {
    for bad in [
        "9000000000000.000001",
        "1e13",
        "-99999999999999999999999",
        "1e999999999",
    ] {
        assert!(
            Micros::parse_str(bad).unwrap_err().contains("out of range"),
            "{bad}"
        );
    }
}

#[test]
fn every_float_with_six_decimals_matches_its_text() {
    // The JSON path (a float) and the CSV path (its text) must agree for every amount whose
    // digits a float can hold (15 significant digits).
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let micros = (x % 200_000_000_000_000) as i64 - 100_000_000_000_000;
        let text = Micros(micros).to_string();
        let float: f64 = text.parse().unwrap();
        assert_eq!(Micros::from_f64(float).unwrap(), Micros(micros), "{text}");
        assert_eq!(m(&text), Micros(micros), "{text}");
    }
}

#[test]
fn the_fast_path_for_floats_agrees_with_reading_their_printed_decimal() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Amounts with 0 to 9 decimals, up to 10^12 units: both sides of the fast path.
        let decimals = i % 10;
        let float = (x % 1_000_000_000_000) as f64 / 10f64.powi(decimals);
        for scale in [0, 6] {
            let slow = parse_scaled(&format!("{float}"), scale).unwrap();
            assert_eq!(
                scaled_from_f64(float, scale).unwrap().value,
                slow.value,
                "{float}"
            );
        }
        let whole = scaled_from_f64(float, 0).unwrap();
        assert_eq!(whole.exact, float.fract() == 0.0, "{float}");
    }
}

#[test]
fn display_prints_the_shortest_exact_decimal() {
    assert_eq!(Micros(237_920_000).to_string(), "237.92");
    assert_eq!(Micros(-500_000).to_string(), "-0.5");
    assert_eq!(Micros(1_000_000_000).to_string(), "1000");
    assert_eq!(Micros(1).to_string(), "0.000001");
    assert_eq!(Micros(0).to_string(), "0");
}

#[test]
fn to_f64_is_the_nearest_float_even_beyond_2_pow_53() {
    assert_eq!(Micros(237_920_000).to_f64(), 237.92);
    assert_eq!(
        Micros(8_999_999_999_999_999_999).to_f64(),
        8_999_999_999_999.999_999
    );
    assert_eq!(
        Micros(-8_999_999_999_999_999_999).to_f64(),
        -8_999_999_999_999.999_999
    );
}

#[test]
fn serde_writes_a_number_and_reads_numbers_only() {
    assert_eq!(
        serde_json::to_string(&Micros(237_920_000)).unwrap(),
        "237.92"
    );
    assert_eq!(
        serde_json::from_str::<Micros>("237.92").unwrap(),
        Micros(237_920_000)
    );
    assert_eq!(
        serde_json::from_str::<Micros>("12").unwrap(),
        Micros(12_000_000)
    );
    assert_eq!(
        serde_json::from_str::<Micros>("-3").unwrap(),
        Micros(-3_000_000)
    );
    assert!(serde_json::from_str::<Micros>("\"12\"").is_err());
    assert!(serde_json::from_str::<Micros>("10000000000000").is_err());
    assert!(serde_json::from_str::<Micros>("18446744073709551615").is_err());
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let big = Micros(i64::MAX - 1);
    assert_eq!(big + Micros(10), Micros(i64::MAX));
    assert_eq!(big.checked_add(Micros(10)), None);
    let refs = [Micros(1), Micros(2)];
    assert_eq!(refs.iter().sum::<Micros>(), Micros(3));
}

#[test]
fn whole_units_convert_exactly_within_range() {
    assert_eq!(Micros::from_units(-4).unwrap(), Micros(-4_000_000));
    assert!(Micros::from_units(9_000_000_000_001).is_err());
}

#[test]
fn scaled_integers_report_whether_digits_were_dropped() {
    assert_eq!(
        parse_scaled("860.0", 0),
        Ok(Scaled {
            value: 860,
            exact: true
        })
    );
    assert_eq!(
        parse_scaled("860.5", 0),
        Ok(Scaled {
            value: 861,
            exact: false
        })
    );
    assert_eq!(
        parse_scaled("1e3", 0),
        Ok(Scaled {
            value: 1000,
            exact: true
        })
    );
    assert_eq!(
        scaled_from_f64(860.0, 0),
        Ok(Scaled {
            value: 860,
            exact: true
        })
    );
    assert_eq!(
        scaled_from_f64(0.01, 0),
        Ok(Scaled {
            value: 0,
            exact: false
        })
    );
}
