//! Numbers and periods as people read them: one formatting for the HTML report, the e-mail digest
//! and anything else shown to a person. Machines get the raw numbers (JSON, CSV).

use chrono::{Datelike, NaiveDate};
use lodestar_core::catalog::{Direction, Unit};
use lodestar_core::currency::Currency;
use lodestar_core::formula;
use lodestar_core::period::{PeriodKey, PeriodKind};
use serde::Serialize;

/// What an undefined value (a zero denominator, no data) shows.
pub const UNDEFINED: &str = "—";

/// A value in its unit: counts `1,234`, currency `1,234.50` (without a symbol: [`Style`] adds
/// the team's), percent `17.6%`, ratio `3.40×`, days `12.5 days`, score `-42.9`. `None` and
/// non-finite values show as `—`.
pub fn format_value(unit: Unit, value: Option<f64>) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return UNDEFINED.to_owned();
    };
    match unit {
        Unit::Count => {
            if (v - v.round()).abs() < 1e-9 {
                grouped(&format!("{:.0}", v.round()))
            } else {
                trim_zeros(grouped(&format!("{v:.2}")))
            }
        }
        Unit::Currency => grouped(&format!("{v:.2}")),
        Unit::Percent => format!("{}%", grouped(&format!("{v:.1}"))),
        Unit::Ratio => format!("{}×", grouped(&format!("{v:.2}"))),
        Unit::Days => {
            let text = grouped(&format!("{v:.1}"));
            if text == "1.0" {
                "1.0 day".to_owned()
            } else {
                format!("{text} days")
            }
        }
        Unit::Score => grouped(&format!("{v:.1}")),
    }
}

/// How one team's report writes values: money in the team's currency, with its symbol and
/// without cents from 1,000 up (`$1,204`, `€400.93`); CAC payback in the report's periods
/// (`2.6 weeks`); anything else as [`format_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub currency: Currency,
    pub period: PeriodKind,
}

impl Style {
    /// The value of KPI `key`, whose unit is `unit`.
    pub fn value(&self, key: &str, unit: Unit, value: Option<f64>) -> String {
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return UNDEFINED.to_owned();
        };
        match unit {
            _ if key == PAYBACK => periods(v, self.period),
            Unit::Currency => money(v, self.currency),
            _ => format_value(unit, Some(v)),
        }
    }
}

/// The KPI whose unit is the report's period.
const PAYBACK: &str = "cac_payback_periods";

/// `$1,204` from 1,000 up, `$400.93` below (`¥1,204` and `¥400`: yen have no minor unit).
/// Amounts are in cents (the currency's minor unit): the value is settled to cents first, then
/// whole amounts round half away from zero, so `12,575.50` shows as `12,576` whatever float noise
/// its sum carries.
pub fn money(v: f64, currency: Currency) -> String {
    let minor = currency.minor_units();
    let scale = 10_f64.powi(i32::try_from(minor).unwrap_or(2));
    let settled = (v * scale).round() / scale;
    let (shown, decimals) = if settled.abs() >= 1000.0 {
        (settled.round(), 0)
    } else {
        (settled, minor)
    };
    let digits = grouped(&format!("{:.*}", decimals, shown.abs()));
    let sign = if shown < 0.0 { "-" } else { "" };
    format!("{sign}{}{digits}", currency.prefix())
}

/// `2.6 weeks`, `1.0 month`: a number of the report's periods.
fn periods(v: f64, kind: PeriodKind) -> String {
    let text = grouped(&format!("{v:.1}"));
    let name = kind.noun();
    if text == "1.0" {
        format!("{text} {name}")
    } else {
        format!("{text} {name}s")
    }
}

/// The change of a KPI as people read it: percentage points for a percent KPI (a churn rate
/// from 0.9% to 1.0% is "+0.1 pp", not "+11%"), points for a score, and a relative change in
/// percent for counts, money, ratios and days. `None` when there is nothing to compare with (no
/// value, no previous value, or a relative change from zero).
pub fn shown_change(unit: Unit, value: Option<f64>, previous: Option<f64>) -> Option<f64> {
    match unit {
        Unit::Percent | Unit::Score => value.zip(previous).map(|(v, p)| v - p),
        _ => formula::change_pct(value, previous),
    }
    .filter(|c| c.is_finite())
}

/// [`shown_change`] as text, signed, to one decimal, rounded once from the exact values:
/// `+4.0 pp`, `-17.4 pts`, `+5.6%`, `0.0%`; `—` when there is nothing to compare with. Every
/// view (page, CSV, JSON `change_display`, e-mail, alerts) shows this text.
pub fn change_display(unit: Unit, value: Option<f64>, previous: Option<f64>) -> String {
    let Some(c) = shown_change(unit, value, previous) else {
        return UNDEFINED.to_owned();
    };
    let suffix = match unit {
        Unit::Percent => " pp",
        Unit::Score => " pts",
        _ => "%",
    };
    signed(c, suffix)
}

/// `+x.y` or `-x.y` with `suffix`, grouped; `0.0` unsigned.
fn signed(c: f64, suffix: &str) -> String {
    let text = grouped(&format!("{c:.1}"));
    match text.as_str() {
        "0.0" | "-0.0" => format!("0.0{suffix}"),
        t if t.starts_with('-') => format!("{t}{suffix}"),
        t => format!("+{t}{suffix}"),
    }
}

/// A relative change in percent, signed and to one decimal: `+5.6%`, `-12.0%`, `0.0%`; `—` when
/// there is nothing to compare with. For a driver's own change, whatever its unit.
pub fn format_change(change_pct: Option<f64>) -> String {
    match change_pct.filter(|c| c.is_finite()) {
        Some(c) => signed(c, "%"),
        None => UNDEFINED.to_owned(),
    }
}

/// How a change reads for a KPI: a falling cost per lead is good news, more spend is neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Good,
    Bad,
    /// Moved, but the KPI is neither better nor worse for it (spend).
    Neutral,
    /// Changed by less than what one decimal shows.
    Flat,
    /// Nothing to compare with.
    None,
}

impl Tone {
    /// `shown` is the change as shown ([`shown_change`]): flat when it rounds to zero.
    pub fn of(direction: Direction, shown: Option<f64>) -> Tone {
        match shown.filter(|c| c.is_finite()) {
            None => Tone::None,
            Some(c) if c.abs() < 0.05 => Tone::Flat,
            Some(c) => match direction {
                Direction::Neutral => Tone::Neutral,
                Direction::HigherIsBetter if c > 0.0 => Tone::Good,
                Direction::LowerIsBetter if c < 0.0 => Tone::Good,
                _ => Tone::Bad,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Neutral => "neutral",
            Tone::Flat => "flat",
            Tone::None => "none",
        }
    }
}

/// A period for headings: `Week 45, 2026 (Nov 2 – Nov 8)`, `November 2026`,
/// `Q4 2026 (Oct 1 – Dec 31)`, `2026`, `Tue, Nov 3, 2026`, `Nov 3 – Nov 16, 2026 (14 days)`.
pub fn period_label(key: &PeriodKey) -> String {
    let first = key.first_day();
    let last = key.last_day();
    match key.kind() {
        PeriodKind::Range if first.year() == last.year() => format!(
            "{}, {} ({})",
            day_range(first, last),
            first.year(),
            days(key.days())
        ),
        PeriodKind::Range => format!(
            "{} – {} ({})",
            first.format("%b %-d, %Y"),
            last.format("%b %-d, %Y"),
            days(key.days())
        ),
        PeriodKind::Day => first.format("%a, %b %-d, %Y").to_string(),
        PeriodKind::Week => {
            let week = first.iso_week();
            format!(
                "Week {}, {} ({})",
                week.week(),
                week.year(),
                day_range(first, last)
            )
        }
        PeriodKind::Month => first.format("%B %Y").to_string(),
        PeriodKind::Quarter => format!(
            "Q{} {} ({})",
            first.month0() / 3 + 1,
            first.year(),
            day_range(first, last)
        ),
        PeriodKind::Year => first.year().to_string(),
    }
}

/// A period as a navigation button names it: its key (`2026-W44`), or for a range its days
/// (`Oct 11 – Nov 7`), which a phone has room for.
pub fn nav_label(key: &PeriodKey) -> String {
    match key.kind() {
        PeriodKind::Range => day_range(key.first_day(), key.last_day()),
        _ => key.to_string(),
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

fn day_range(first: NaiveDate, last: NaiveDate) -> String {
    format!("{} – {}", first.format("%b %-d"), last.format("%b %-d"))
}

/// Thousands separators in the integer part of a plain decimal (`-1234.5` → `-1,234.5`); a
/// rounded negative zero loses its sign.
fn grouped(plain: &str) -> String {
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let is_zero = digits.bytes().all(|b| b == b'0' || b == b'.');
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    if !is_zero {
        out.push_str(sign);
    }
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_has_its_own_shape() {
        assert_eq!(format_value(Unit::Count, Some(1234567.0)), "1,234,567");
        assert_eq!(format_value(Unit::Count, Some(2.5)), "2.5");
        assert_eq!(format_value(Unit::Currency, Some(6815.74)), "6,815.74");
        assert_eq!(
            format_value(Unit::Currency, Some(400.9258823529412)),
            "400.93"
        );
        assert_eq!(
            format_value(Unit::Percent, Some(17.647058823529413)),
            "17.6%"
        );
        assert_eq!(format_value(Unit::Ratio, Some(3.4000079927578666)), "3.40×");
        assert_eq!(
            format_value(Unit::Days, Some(12.473730709876543)),
            "12.5 days"
        );
        assert_eq!(format_value(Unit::Days, Some(1.0)), "1.0 day");
        assert_eq!(
            format_value(Unit::Score, Some(-42.857142857142854)),
            "-42.9"
        );
    }

    #[test]
    fn undefined_and_non_finite_values_show_a_dash() {
        assert_eq!(format_value(Unit::Currency, None), "—");
        assert_eq!(format_value(Unit::Percent, Some(f64::NAN)), "—");
        assert_eq!(format_value(Unit::Count, Some(f64::INFINITY)), "—");
        assert_eq!(format_change(None), "—");
    }

    #[test]
    fn negative_values_keep_their_sign_and_grouping() {
        assert_eq!(format_value(Unit::Currency, Some(-1234.5)), "-1,234.50");
        assert_eq!(format_value(Unit::Percent, Some(-0.04)), "0.0%");
        assert_eq!(format_value(Unit::Count, Some(-0.0)), "0");
    }

    #[test]
    fn a_change_is_signed_with_one_decimal() {
        assert_eq!(format_change(Some(5.56)), "+5.6%");
        assert_eq!(format_change(Some(-5.555555)), "-5.6%");
        assert_eq!(format_change(Some(0.01)), "0.0%");
        assert_eq!(format_change(Some(-0.01)), "0.0%");
        assert_eq!(format_change(Some(1234.0)), "+1,234.0%");
    }

    #[test]
    fn rates_change_in_points_scores_in_pts_and_the_rest_in_percent() {
        // Lead velocity −8.5% → −4.5%: up four points, not "+47.1%".
        assert_eq!(
            change_display(Unit::Percent, Some(-4.5), Some(-8.5)),
            "+4.0 pp"
        );
        assert_eq!(
            change_display(Unit::Percent, Some(1.0), Some(0.9)),
            "+0.1 pp"
        );
        assert_eq!(
            change_display(Unit::Score, Some(38.2), Some(55.6)),
            "-17.4 pts"
        );
        assert_eq!(change_display(Unit::Count, Some(17.0), Some(18.0)), "-5.6%");
        assert_eq!(
            change_display(Unit::Currency, Some(150.0), Some(100.0)),
            "+50.0%"
        );
        assert_eq!(change_display(Unit::Ratio, Some(4.5), Some(3.0)), "+50.0%");
        assert_eq!(change_display(Unit::Days, Some(9.0), Some(12.0)), "-25.0%");
        // A rate from zero has a change in points; a count from zero has no relative change.
        assert_eq!(
            change_display(Unit::Percent, Some(2.0), Some(0.0)),
            "+2.0 pp"
        );
        assert_eq!(change_display(Unit::Count, Some(2.0), Some(0.0)), "—");
        assert_eq!(change_display(Unit::Percent, None, Some(3.0)), "—");
        assert_eq!(change_display(Unit::Score, Some(3.0), Some(3.0)), "0.0 pts");
        assert_eq!(
            change_display(Unit::Percent, Some(3.0), Some(3.04)),
            "0.0 pp"
        );
    }

    #[test]
    fn money_has_the_teams_symbol_and_no_cents_from_a_thousand_up() {
        let style = |code: &str| Style {
            currency: Currency::parse(code).expect("a code"),
            period: PeriodKind::Week,
        };
        let usd = style("USD");
        assert_eq!(
            usd.value("cpl", Unit::Currency, Some(400.9258823529412)),
            "$400.93"
        );
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(7463.34)),
            "$7,463"
        );
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(999.999)),
            "$1,000",
            "settled to $1,000.00 first: a thousand"
        );
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(-1234.5)),
            "-$1,235"
        );
        assert_eq!(usd.value("revenue", Unit::Currency, Some(-0.001)), "$0.00");
        // Cents first, then half away from zero: a sum's float noise does not decide.
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(12575.5)),
            "$12,576"
        );
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(12575.499999999998)),
            "$12,576"
        );
        assert_eq!(
            usd.value("revenue", Unit::Currency, Some(-2500.5)),
            "-$2,501"
        );
        assert_eq!(
            style("EUR").value("cac", Unit::Currency, Some(12.5)),
            "€12.50"
        );
        assert_eq!(
            style("GBP").value("cac", Unit::Currency, Some(1500.0)),
            "£1,500"
        );
        assert_eq!(
            style("JPY").value("cac", Unit::Currency, Some(412.6)),
            "¥413"
        );
        assert_eq!(
            style("CHF").value("cac", Unit::Currency, Some(12.5)),
            "CHF 12.50"
        );
        assert_eq!(
            style("ZAR").value("cac", Unit::Currency, Some(12.5)),
            "ZAR 12.50"
        );
        assert_eq!(usd.value("cac", Unit::Currency, None), "—");
        // Not money: as format_value.
        assert_eq!(usd.value("roas", Unit::Ratio, Some(4.5)), "4.50×");
        assert_eq!(usd.value("leads", Unit::Count, Some(1234.0)), "1,234");
    }

    #[test]
    fn cac_payback_is_counted_in_the_reports_periods() {
        let week = Style {
            currency: Currency::USD,
            period: PeriodKind::Week,
        };
        assert_eq!(
            week.value("cac_payback_periods", Unit::Ratio, Some(2.64)),
            "2.6 weeks"
        );
        assert_eq!(
            week.value("cac_payback_periods", Unit::Ratio, Some(1.0)),
            "1.0 week"
        );
        let month = Style {
            period: PeriodKind::Month,
            ..week
        };
        assert_eq!(
            month.value("cac_payback_periods", Unit::Ratio, Some(0.5)),
            "0.5 months"
        );
        assert_eq!(month.value("cac_payback_periods", Unit::Ratio, None), "—");
    }

    #[test]
    fn a_change_is_rounded_once_from_the_exact_values() {
        // 31 / 17 − 1 = +82.3529…%: its two-decimal form 82.35 would round again to either side.
        assert_eq!(
            change_display(Unit::Count, Some(31.0), Some(17.0)),
            "+82.4%"
        );
        assert_eq!(
            format_change(formula::change_pct(Some(31.0), Some(17.0))),
            "+82.4%"
        );
    }

    #[test]
    fn the_tone_follows_the_kpis_direction() {
        assert_eq!(Tone::of(Direction::Neutral, Some(12.0)), Tone::Neutral);
        assert_eq!(Tone::of(Direction::Neutral, Some(-12.0)), Tone::Neutral);
        assert_eq!(Tone::of(Direction::Neutral, Some(0.0)), Tone::Flat);
        assert_eq!(Tone::of(Direction::HigherIsBetter, Some(3.0)), Tone::Good);
        assert_eq!(Tone::of(Direction::HigherIsBetter, Some(-3.0)), Tone::Bad);
        assert_eq!(Tone::of(Direction::LowerIsBetter, Some(-3.0)), Tone::Good);
        assert_eq!(Tone::of(Direction::LowerIsBetter, Some(3.0)), Tone::Bad);
        assert_eq!(Tone::of(Direction::LowerIsBetter, Some(0.01)), Tone::Flat);
        assert_eq!(Tone::of(Direction::HigherIsBetter, None), Tone::None);
    }

    #[test]
    fn periods_read_as_people_name_them() {
        let label = |k: &str| period_label(&PeriodKey::parse(k).expect("a valid key"));
        assert_eq!(label("2026-W45"), "Week 45, 2026 (Nov 2 – Nov 8)");
        assert_eq!(label("2026-W53"), "Week 53, 2026 (Dec 28 – Jan 3)");
        assert_eq!(label("2026-11"), "November 2026");
        assert_eq!(label("2026-Q4"), "Q4 2026 (Oct 1 – Dec 31)");
        assert_eq!(label("2026"), "2026");
        assert_eq!(label("2026-11-03"), "Tue, Nov 3, 2026");
    }
}
