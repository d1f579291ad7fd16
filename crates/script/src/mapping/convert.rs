//! The conversions a mapping applies to every cell it produces, by the target field's type:
//! timestamps and dates in the export's formats and time zone, numbers with thousands
//! separators or decimal commas. Text passes through.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// How numbers are written in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Decimal {
    /// `1,234.56`: a point before the decimals.
    #[serde(rename = ".")]
    Point,
    /// `1.234,56` or `1 234,56`: a comma before the decimals.
    #[serde(rename = ",")]
    Comma,
    /// Decided per value: the last of `.` and `,` when both appear; a lone comma followed by
    /// other than exactly three digits is a decimal comma.
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

/// What a target field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Timestamp,
    Date,
    Number,
    Text,
}

pub(crate) fn field_type(field: &str) -> FieldType {
    match field {
        "created_at" | "mql_at" | "sal_at" | "sql_at" | "opportunity_at" | "won_at" | "lost_at"
        | "churned_at" | "occurred_at" => FieldType::Timestamp,
        "day" => FieldType::Date,
        "value" | "deal_value" | "amount" | "score" | "impressions" | "clicks" => FieldType::Number,
        _ => FieldType::Text,
    }
}

/// The conversion settings of one mapping.
#[derive(Debug, Clone)]
pub struct Formats {
    pub timezone: Tz,
    /// `strftime` formats tried in order for timestamps and dates (RFC 3339 and `YYYY-MM-DD`
    /// are always accepted).
    pub formats: Vec<String>,
    pub decimal: Decimal,
}

impl Formats {
    /// `text` as the field's canonical text (RFC 3339, `YYYY-MM-DD`, `1234.56`); empty stays
    /// empty (a missing value).
    pub(crate) fn convert(&self, field: &str, text: &str) -> Result<String, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(String::new());
        }
        match field_type(field) {
            FieldType::Text => Ok(text.to_owned()),
            FieldType::Number => {
                let whole = matches!(field, "score" | "impressions" | "clicks");
                number_as(text, self.decimal, whole)
            }
            FieldType::Timestamp => self
                .timestamp(text)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            FieldType::Date => self.date(text).map(|d| d.format("%Y-%m-%d").to_string()),
        }
    }

    fn timestamp(&self, text: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        let naive = self.naive(text)?;
        self.timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("`{text}` does not exist in {}", self.timezone))
    }

    fn date(&self, text: &str) -> Result<NaiveDate, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&self.timezone).date_naive());
        }
        self.naive(text).map(|t| t.date())
    }

    /// A local date and time in one of the formats (a date alone is its midnight).
    fn naive(&self, text: &str) -> Result<NaiveDateTime, String> {
        let builtin = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"];
        for format in self.formats.iter().map(String::as_str).chain(builtin) {
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(t);
            }
            if let Ok(d) = NaiveDate::parse_from_str(text, format) {
                return Ok(d.and_time(chrono::NaiveTime::MIN));
            }
        }
        let expected = self
            .formats
            .first()
            .map_or("YYYY-MM-DD".to_owned(), |f| format!("`{f}`"));
        Err(format!(
            "expected a date or time as {expected}, got `{text}`"
        ))
    }
}

/// A number as plain `-1234.56`: currency signs, spaces and thousands separators removed, a
/// decimal comma made a point. Spreadsheets' `--` (no value) is a missing value.
pub fn number(text: &str, decimal: Decimal) -> Result<String, String> {
    number_as(text, decimal, false)
}

/// [`number`], for a field that holds whole numbers when `whole`: then a lone separator before
/// exactly three digits groups thousands (`18.230` impressions), whichever the separator.
fn number_as(text: &str, decimal: Decimal, whole: bool) -> Result<String, String> {
    let bad = || format!("expected a number, got `{text}`");
    let text = text.trim();
    if text == "--" || text == "-" {
        return Ok(String::new());
    }
    let negative = text.starts_with('-') || (text.starts_with('(') && text.ends_with(')'));
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    // Anything but digits, separators, a sign, spaces and currency signs is not a number.
    let stray = text.chars().any(|c| {
        c.is_alphabetic() && !matches!(c, 'e' | 'E') || matches!(c, '/' | ':' | '+' | '*')
    });
    if kept.is_empty() || stray && !currency_letters(text) {
        return Err(bad());
    }
    let decimal_sep = match decimal {
        Decimal::Point => Some('.'),
        Decimal::Comma => Some(','),
        Decimal::Auto => auto_decimal(&kept, whole),
    };
    let mut out = String::with_capacity(kept.len() + 1);
    if negative {
        out.push('-');
    }
    let mut seen_decimal = false;
    for c in kept.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if Some(c) == decimal_sep {
            if seen_decimal {
                return Err(bad());
            }
            seen_decimal = true;
            out.push('.');
        }
    }
    if out.trim_start_matches('-').is_empty() || out.ends_with('.') && out.len() == 1 {
        return Err(bad());
    }
    Ok(out)
}

/// A three-letter currency code before or after the number (`EUR 12,50`, `12.50 USD`).
fn currency_letters(text: &str) -> bool {
    let letters: String = text.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() == 3 && letters.chars().all(|c| c.is_ascii_uppercase())
}

fn auto_decimal(kept: &str, whole: bool) -> Option<char> {
    let last_point = kept.rfind('.');
    let last_comma = kept.rfind(',');
    if let Some(last) = last_point.max(last_comma)
        && whole
        && kept.len() - last - 1 == 3
    {
        return None;
    }
    match (last_point, last_comma) {
        (Some(p), Some(c)) => Some(if p > c { '.' } else { ',' }),
        (Some(p), None) => {
            // `1.234.567` groups thousands; a single point is a decimal point.
            (kept.matches('.').count() == 1 || kept.len() - p - 1 != 3).then_some('.')
        }
        (None, Some(c)) => {
            let single = kept.matches(',').count() == 1;
            (single && kept.len() - c - 1 != 3).then_some(',')
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn numbers_lose_their_thousands_separators_and_keep_their_decimals() {
        for (text, decimal, expected) in [
            ("1,234.56", Decimal::Auto, "1234.56"),
            ("1.234,56", Decimal::Auto, "1234.56"),
            ("1 234,5", Decimal::Auto, "1234.5"),
            ("12,5", Decimal::Auto, "12.5"),
            ("1,234", Decimal::Auto, "1234"),
            ("1,234", Decimal::Comma, "1.234"),
            ("€ 1.234,00", Decimal::Comma, "1234.00"),
            ("$12,500.00", Decimal::Point, "12500.00"),
            ("-3,5", Decimal::Auto, "-3.5"),
            ("12.50 USD", Decimal::Auto, "12.50"),
            ("--", Decimal::Auto, ""),
        ] {
            assert_eq!(number(text, decimal).unwrap(), expected, "{text}");
        }
        assert!(number("12/11/2026", Decimal::Auto).is_err());
        assert_eq!(number_as("18.230", Decimal::Auto, true).unwrap(), "18230");
        assert_eq!(number_as("18,230", Decimal::Auto, true).unwrap(), "18230");
        assert!(number("lots", Decimal::Auto).is_err());
    }

    #[test]
    fn naive_times_are_read_in_the_mappings_time_zone() {
        let formats = Formats {
            timezone: "America/New_York".parse().unwrap(),
            formats: vec!["%m/%d/%Y %I:%M %p".into(), "%m/%d/%Y".into()],
            decimal: Decimal::Auto,
        };
        assert_eq!(
            formats.convert("created_at", "11/3/2026 9:30 AM").unwrap(),
            "2026-11-03T14:30:00Z"
        );
        assert_eq!(
            formats.convert("won_at", "11/3/2026").unwrap(),
            "2026-11-03T05:00:00Z"
        );
        assert_eq!(formats.convert("day", "11/3/2026").unwrap(), "2026-11-03");
        assert_eq!(
            formats
                .convert("created_at", "2026-11-03T09:30:00+01:00")
                .unwrap(),
            "2026-11-03T08:30:00Z"
        );
        assert!(formats.convert("created_at", "yesterday").is_err());
        assert_eq!(formats.convert("channel", " email ").unwrap(), "email");
    }
}
