//! JSON numbers as people expect them: whole values without a trailing `.0`.

use serde::Serializer;

pub fn serialize_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => serialize(x, s),
        None => s.serialize_none(),
    }
}

pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    // 2^53: beyond it an f64 no longer holds every integer exactly.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}

/// Rounded to two decimals, for percentages shown as changes.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
