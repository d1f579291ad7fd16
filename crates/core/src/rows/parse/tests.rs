#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

#[test]
fn text_is_trimmed_and_empty_text_is_missing_in_both_formats() {
    assert_eq!(
        short_text(Cell::Text("  email ")),
        Ok(Some("email".to_owned()))
    );
    assert_eq!(short_text(Cell::Text("")), Ok(None));
    assert_eq!(short_text(Cell::Text("   ")), Ok(None));
    assert_eq!(
        short_text(Cell::Json(&json!(" email"))),
        Ok(Some("email".to_owned()))
    );
    assert_eq!(short_text(Cell::Json(&json!(""))), Ok(None));
    assert_eq!(short_text(Cell::Json(&Value::Null)), Ok(None));
}

#[test]
fn a_non_string_where_text_belongs_is_a_type_error() {
    for value in [json!(5), json!(true), json!(["a"]), json!({"a": 1})] {
        assert_eq!(
            short_text(Cell::Json(&value)),
            Err("expected a string".to_owned())
        );
        assert_eq!(
            timestamp(Cell::Json(&value)),
            Err("expected a string".to_owned())
        );
    }
}

#[test]
fn text_longer_than_200_characters_is_rejected_counting_characters_not_bytes() {
    let long = "a".repeat(201);
    assert_eq!(
        short_text(Cell::Text(&long)),
        Err("at most 200 characters".to_owned())
    );
    let wide = "é".repeat(200);
    assert_eq!(short_text(Cell::Text(&wide)), Ok(Some(wide.clone())));
}

#[test]
fn timestamps_with_any_offset_are_normalised_to_utc() {
    let at = timestamp(Cell::Text("2026-11-03T09:30:00-05:00"))
        .unwrap()
        .unwrap();
    assert_eq!(at.to_rfc3339(), "2026-11-03T14:30:00+00:00");
    let at = timestamp(Cell::Json(&json!("2026-11-03T20:00:00.5+05:30")))
        .unwrap()
        .unwrap();
    assert_eq!(crate::period::rfc3339(at), "2026-11-03T14:30:00Z");
}

#[test]
fn timestamps_without_an_offset_or_malformed_are_rejected_with_an_example() {
    for bad in [
        "2026-11-03",
        "2026-11-03T14:30:00",
        "yesterday",
        "2026-13-03T14:30:00Z",
    ] {
        let message = timestamp(Cell::Text(bad)).unwrap_err();
        assert!(message.contains("2026-11-03T14:30:00Z"), "{message}");
        assert!(message.contains(bad), "{message}");
    }
}

#[test]
fn dates_must_be_exactly_year_month_day() {
    assert_eq!(
        date(Cell::Text("2026-10-01")).unwrap(),
        NaiveDate::from_ymd_opt(2026, 10, 1)
    );
    for bad in [
        "2026-1-01",
        "2026/10/01",
        "2026-02-30",
        "01-10-2026",
        "2026-10-01T00:00:00Z",
        "２０２６-10-01",
    ] {
        let message = date(Cell::Text(bad)).unwrap_err();
        assert!(
            message.starts_with("expected a date YYYY-MM-DD"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn amounts_are_json_numbers_or_decimal_text() {
    assert_eq!(
        amount(Cell::Json(&json!(237.92))),
        Ok(Some(Micros(237_920_000)))
    );
    assert_eq!(amount(Cell::Json(&json!(12))), Ok(Some(Micros(12_000_000))));
    assert_eq!(amount(Cell::Text("237.92")), Ok(Some(Micros(237_920_000))));
    assert_eq!(amount(Cell::Text(" ")), Ok(None));
    assert_eq!(amount(Cell::Json(&Value::Null)), Ok(None));
    assert_eq!(
        amount(Cell::Json(&json!("237.92"))),
        Err("expected a number".to_owned())
    );
    assert_eq!(
        amount(Cell::Json(&json!(true))),
        Err("expected a number".to_owned())
    );
    assert!(
        amount(Cell::Text("12,50"))
            .unwrap_err()
            .starts_with("expected a number")
    );
    assert!(
        amount(Cell::Json(&json!(1e15)))
            .unwrap_err()
            .contains("out of range")
    );
    assert!(
        amount(Cell::Json(&json!(u64::MAX)))
            .unwrap_err()
            .contains("out of range")
    );
}

#[test]
fn integers_accept_whole_decimals_but_not_fractions() {
    assert_eq!(integer(Cell::Json(&json!(860))), Ok(Some(860)));
    assert_eq!(integer(Cell::Json(&json!(860.0))), Ok(Some(860)));
    assert_eq!(integer(Cell::Text("860")), Ok(Some(860)));
    assert_eq!(integer(Cell::Text("860.0")), Ok(Some(860)));
    assert_eq!(integer(Cell::Text("1e3")), Ok(Some(1000)));
    assert_eq!(
        integer(Cell::Json(&json!(860.5))),
        Err("expected an integer".to_owned())
    );
    assert_eq!(
        integer(Cell::Text("860.5")),
        Err("expected an integer".to_owned())
    );
    assert_eq!(
        integer(Cell::Text("many")),
        Err("expected an integer".to_owned())
    );
    assert_eq!(
        integer(Cell::Json(&json!("860"))),
        Err("expected an integer".to_owned())
    );
    assert_eq!(
        integer(Cell::Json(&json!(u64::MAX))),
        Err("too large".to_owned())
    );
    assert_eq!(integer(Cell::Text("1e30")), Err("too large".to_owned()));
}

#[test]
fn counts_are_integers_of_at_least_zero() {
    assert_eq!(count(Cell::Text("0")), Ok(Some(0)));
    assert_eq!(
        count(Cell::Text("-1")),
        Err("must be an integer of at least 0".to_owned())
    );
}

#[test]
fn scores_are_integers_from_0_to_100() {
    assert_eq!(score(Cell::Json(&json!(0))), Ok(Some(0)));
    assert_eq!(score(Cell::Text("100")), Ok(Some(100)));
    for bad in [json!(101), json!(-1), json!(1e12)] {
        assert_eq!(
            score(Cell::Json(&bad)),
            Err("must be an integer from 0 to 100".to_owned())
        );
    }
    assert_eq!(
        score(Cell::Json(&json!(46.5))),
        Err("expected an integer".to_owned())
    );
}

#[test]
fn attribute_keys_are_short_ascii_words() {
    for good in ["region", "a", "utm_source", "ab-test-2", &"k".repeat(64)] {
        assert!(is_valid_attr_key(good), "{good}");
    }
    for bad in ["", "re gion", "région", "a.b", "a/b", &"k".repeat(65)] {
        assert!(!is_valid_attr_key(bad), "{bad}");
    }
}

#[test]
fn json_attributes_are_flattened_to_strings() {
    let mut attrs = BTreeMap::new();
    let mut errors = Vec::new();
    let object = json!({
        "region": " EMEA ", "seats": 12, "ratio": 2.5, "trial": true,
        "gone": null, "blank": "", "nested": {"a": 1}, "list": [1], "bad key": "x"
    });
    for (key, value) in object.as_object().unwrap() {
        json_attr(&mut attrs, key, value, &mut errors);
    }
    let expected: BTreeMap<String, String> = [
        ("region", "EMEA"),
        ("seats", "12"),
        ("ratio", "2.5"),
        ("trial", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(attrs, expected);
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["attrs.bad key", "attrs.list", "attrs.nested"]);
}
