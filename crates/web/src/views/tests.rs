use super::*;

fn point(period: &str, value: Option<f64>) -> TrendPoint {
    TrendPoint {
        period: period.to_owned(),
        value,
    }
}

#[test]
fn a_sparkline_breaks_at_undefined_values_and_marks_the_latest_one() {
    let trend = [
        point("2026-W42", Some(10.0)),
        point("2026-W43", Some(20.0)),
        point("2026-W44", None),
        point("2026-W45", Some(15.0)),
    ];
    let s = Spark::new("Leads", &trend);
    assert_eq!(s.lines, ["3.0,27.0 41.0,3.0", "117.0,15.0"]);
    assert_eq!(s.areas, ["3.0,30.0 3.0,27.0 41.0,3.0 41.0,30.0"]);
    assert_eq!(s.dot, Some(("117.0".to_owned(), "15.0".to_owned())));
    assert_eq!(s.label, "Leads from 2026-W42 to 2026-W45");
}

#[test]
fn a_flat_or_empty_sparkline_stays_inside_its_box() {
    let flat = Spark::new("x", &[point("a", Some(5.0)), point("b", Some(5.0))]);
    assert_eq!(flat.lines, ["3.0,15.0 117.0,15.0"]);
    let none = Spark::new("x", &[point("a", None)]);
    assert!(none.lines.is_empty() && none.dot.is_none());
}
