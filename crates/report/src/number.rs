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

/// A difference without the float noise of its subtraction (`1.0 - 0.9` is `0.1`, not
/// `0.09999999999999998`): rounded to nine decimals below a billion, as it is above.
pub fn tidy(x: f64) -> f64 {
    if x.abs() < 1e9 {
        (x * 1e9).round() / 1e9
    } else {
        x
    }
}

/// A number as JSON and CSV write it: whole values without `.0`, nothing for no value.
pub fn raw(v: Option<f64>) -> String {
    match v {
        // 2^53, as in `serialize`.
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 => {
            format!("{}", x as i64)
        }
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_loses_its_float_noise_only() {
        assert_eq!(tidy(1.0 - 0.9), 0.1);
        assert_eq!(tidy(-1.0), -1.0);
        assert_eq!(tidy(123.456789), 123.456789);
        assert_eq!(tidy(3.0e12 + 0.5), 3.0e12 + 0.5);
    }

    #[test]
    fn raw_numbers_read_like_json() {
        assert_eq!(raw(Some(17.0)), "17");
        assert_eq!(raw(Some(400.9258823529412)), "400.9258823529412");
        assert_eq!(raw(None), "");
        assert_eq!(raw(Some(f64::NAN)), "");
    }
}
