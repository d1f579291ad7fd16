//! Exact amounts. Money is summed over up to millions of rows; in millionths held as integers the
//! sum of 0.1 and 0.2 is exactly 0.3, and a total never depends on the order rows were added.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount in millionths of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub i64);

const PER_UNIT: i64 = 1_000_000;
/// The largest magnitude accepted, in units: far above any real amount, and its millionths still
/// fit an `i64` with room for sums.
const MAX_UNITS: f64 = 9e12;
/// `MAX_UNITS` as a scaled integer, whatever the scale.
const MAX_SCALED: u64 = 9_000_000_000_000_000_000;

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// The amount closest to `x`, to the millionth. `x` is read as the shortest decimal that
    /// identifies it (what a JSON writer printed), so `237.92` is exactly 237.920000 and halves
    /// round away from zero just as in [`Micros::parse_str`].
    pub fn from_f64(x: f64) -> Result<Micros, String> {
        scaled_from_f64(x, 6)
            .map(|scaled| Micros(scaled.value))
            .map_err(|error| error.message(&float_text(x)))
    }

    /// Exact decimal parsing: optional sign, digits, optional fraction and exponent (`-12.5`,
    /// `1e3`, `2.5E-2`). Digits beyond the millionth round half away from zero.
    pub fn parse_str(s: &str) -> Result<Micros, String> {
        parse_scaled(s, 6)
            .map(|scaled| Micros(scaled.value))
            .map_err(|error| error.message(s))
    }

    /// A whole number of units.
    pub fn from_units(units: i64) -> Result<Micros, String> {
        if units.unsigned_abs() > MAX_SCALED / PER_UNIT as u64 {
            return Err(DecimalError::OutOfRange.message(&units.to_string()));
        }
        Ok(Micros(units * PER_UNIT))
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        // Below 2^53 both operands are exact and IEEE division rounds correctly; above, go through
        // the decimal text, which `str::parse` also rounds correctly.
        if self.0.unsigned_abs() <= 1 << 53 {
            self.0 as f64 / PER_UNIT as f64
        } else {
            self.to_string()
                .parse()
                .unwrap_or(self.0 as f64 / PER_UNIT as f64)
        }
    }

    pub fn checked_add(self, other: Micros) -> Option<Micros> {
        self.0.checked_add(other.0).map(Micros)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

/// A float for a message: plain when short, in exponent form when it would print many digits.
fn float_text(x: f64) -> String {
    if x.abs() < 1e15 {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Saturates rather than wrapping: a total of about 9.2e12 units is beyond any real data, and a
/// clamped number is easier to notice than a sign flip.
impl Add for Micros {
    type Output = Micros;

    fn add(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }
}

impl Sum for Micros {
    fn sum<I: Iterator<Item = Micros>>(iter: I) -> Micros {
        iter.fold(Micros::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Micros> for Micros {
    fn sum<I: Iterator<Item = &'a Micros>>(iter: I) -> Micros {
        iter.copied().sum()
    }
}

/// The shortest exact decimal: `237.92`, `-0.5`, `1000`.
impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let units = magnitude / PER_UNIT as u64;
        let fraction = magnitude % PER_UNIT as u64;
        if fraction == 0 {
            return write!(f, "{sign}{units}");
        }
        let digits = format!("{fraction:06}");
        write!(f, "{sign}{units}.{}", digits.trim_end_matches('0'))
    }
}

impl FromStr for Micros {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Micros::parse_str(s)
    }
}

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_f64())
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MicrosVisitor)
    }
}

struct MicrosVisitor;

impl Visitor<'_> for MicrosVisitor {
    type Value = Micros;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Micros, E> {
        Micros::from_units(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Micros, E> {
        i64::try_from(v)
            .map_err(|_| DecimalError::OutOfRange.message(&v.to_string()))
            .and_then(Micros::from_units)
            .map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Micros, E> {
        Micros::from_f64(v).map_err(E::custom)
    }
}

/// Why a decimal could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalError {
    Syntax,
    NotFinite,
    OutOfRange,
}

impl DecimalError {
    pub(crate) fn message(self, input: &str) -> String {
        match self {
            DecimalError::Syntax if input.trim().is_empty() => {
                "expected a number such as 1234.56, got an empty value".to_owned()
            }
            DecimalError::Syntax => {
                let shown: String = input.chars().take(40).collect();
                format!("expected a number such as 1234.56, got `{shown}`")
            }
            DecimalError::NotFinite => format!("expected a finite number, got {input}"),
            DecimalError::OutOfRange => {
                format!("{input} is out of range: at most 9000000000000 in absolute value")
            }
        }
    }
}

/// A decimal multiplied by `10^scale` and rounded half away from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scaled {
    pub value: i64,
    /// Whether no non-zero digit was rounded away (for a float at scale 0: whether it is whole).
    pub exact: bool,
}

/// Reads the decimal `s` (surrounding ASCII whitespace allowed) scaled by `10^scale`, exactly.
/// Magnitudes above 9e18 after scaling are out of range.
pub(crate) fn parse_scaled(s: &str, scale: u32) -> Result<Scaled, DecimalError> {
    let s = s.trim_ascii().as_bytes();
    let (negative, s) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let int_len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let (int, rest) = s.split_at(int_len);
    let (frac, rest) = match rest {
        [b'.', rest @ ..] => {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            rest.split_at(n)
        }
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(DecimalError::Syntax);
    }
    let exponent = match rest {
        [] => 0,
        [b'e' | b'E', rest @ ..] => parse_exponent(rest).ok_or(DecimalError::Syntax)?,
        _ => return Err(DecimalError::Syntax),
    };

    // Digits at index < `point` land left of the decimal point once scaled; the digit at `point`
    // decides rounding; the rest only decide exactness.
    let point = int_len as i64 + exponent + i64::from(scale);
    let mut magnitude: u64 = 0;
    let mut round_up = false;
    let mut exact = true;
    for (i, digit) in int
        .iter()
        .chain(frac)
        .map(|b| u64::from(b - b'0'))
        .enumerate()
    {
        let i = i as i64;
        if i < point {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .filter(|m| *m <= MAX_SCALED)
                .ok_or(DecimalError::OutOfRange)?;
        } else {
            if i == point {
                round_up = digit >= 5;
            }
            exact &= digit == 0;
        }
    }
    let missing = point - (int.len() + frac.len()) as i64;
    if missing > 0 && magnitude != 0 {
        for _ in 0..missing {
            magnitude = magnitude
                .checked_mul(10)
                .filter(|m| *m <= MAX_SCALED)
                .ok_or(DecimalError::OutOfRange)?;
        }
    }
    if round_up {
        magnitude += 1;
    }
    if magnitude > MAX_SCALED {
        return Err(DecimalError::OutOfRange);
    }
    // MAX_SCALED < i64::MAX, so the cast is lossless.
    let value = magnitude as i64;
    Ok(Scaled {
        value: if negative { -value } else { value },
        exact,
    })
}

/// An exponent's digits with optional sign; huge exponents saturate (the number is then zero or
/// out of range either way).
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().fold(0i64, |acc, b| {
        (acc * 10 + i64::from(b - b'0')).min(1_000_000)
    });
    Some(if negative { -value } else { value })
}

/// Scales a float as if it were the shortest decimal that identifies it, so a JSON number and the
/// same text in a CSV cell always give the same value.
pub(crate) fn scaled_from_f64(x: f64, scale: u32) -> Result<Scaled, DecimalError> {
    if !x.is_finite() {
        return Err(DecimalError::NotFinite);
    }
    let factor = 10f64.powi(scale as i32);
    if x.abs() > MAX_UNITS * 1e6 / factor {
        return Err(DecimalError::OutOfRange);
    }
    // Far below the rounding digit: zero, and no need to print a long run of zeros.
    if x.abs() * factor < 0.1 {
        return Ok(Scaled {
            value: 0,
            exact: x == 0.0,
        });
    }
    // Fast path, exact by the same rule: when the scaled float is within 1e-3 of an integer and far
    // below 2^53, the shortest decimal of `x` scales to within 0.5 of that same integer, so rounding
    // either gives it. Formatting the float is only needed for values with more decimals.
    let product = x * factor;
    let nearest = product.round();
    if product.abs() < (1u64 << 50) as f64 && (product - nearest).abs() < 1e-3 {
        return Ok(Scaled {
            value: nearest as i64,
            exact: product == nearest,
        });
    }
    let mut buffer = StackText::default();
    // `Display` for floats prints the shortest round-trip digits, never in exponent form.
    match fmt::write(&mut buffer, format_args!("{x}")) {
        Ok(()) => parse_scaled(buffer.as_str(), scale),
        // Cannot happen within the magnitudes above; rounding the product is the next best answer.
        Err(_) => Ok(Scaled {
            value: nearest as i64,
            exact: product == nearest,
        }),
    }
}

/// A small text buffer on the stack, so formatting a float for a million rows allocates nothing.
struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
