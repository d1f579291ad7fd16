use thiserror::Error;

/// Errors raised while parsing user input into domain types.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    #[error(
        "invalid period `{0}`: expected a day (2026-11-03), an ISO week (2026-W45), a month (2026-11), a quarter (2026-Q4), a year (2026), a range of days (2026-11-03..2026-11-16), wtd, mtd, qtd, ytd or a rolling window (last-28d, last-4w, last-3m)"
    )]
    InvalidPeriod(String),
    #[error("range `{0}` ends before it starts: give the first day, then the last")]
    RangeBackwards(String),
    #[error("range `{0}` is longer than three years: ask for a shorter one")]
    RangeTooLong(String),
    #[error(
        "range `{0}` is longer than a year, so the same days a year earlier overlap it: use compare=previous or a shorter range"
    )]
    YearCompareOverlaps(String),
    #[error(
        "period `{0}` is too early: its comparison and trend would reach before the year 0000; ask for a later period"
    )]
    PeriodTooEarly(String),
    #[error("invalid compare `{0}`: expected previous, year or none")]
    InvalidCompare(String),
    #[error("invalid date `{0}` for `to`: expected YYYY-MM-DD")]
    InvalidTo(String),
    #[error("`to` {to} is outside the period {period}: give a day of the period")]
    ToOutsidePeriod { to: String, period: String },
    #[error("invalid period kind `{0}`: expected day, week, month, quarter or year")]
    InvalidPeriodKind(String),
    #[error(
        "unknown timezone `{0}`: expected an IANA name such as Europe/Berlin or America/New_York"
    )]
    InvalidTimezone(String),
    #[error("unknown currency `{0}`: use an ISO 4217 code such as USD, EUR or GBP")]
    InvalidCurrency(String),
    #[error(
        "unknown dimension `{0}`: expected channel, campaign, source, category, attrs.<key> (key of letters, digits, _ or -) or set:<name> (a segment set)"
    )]
    InvalidDimension(String),
    #[error("unknown KPI `{0}`")]
    UnknownKpi(String),
    #[error("no segment set `{0}`: define it with PUT /api/v1/segments/{0}")]
    UnknownSegmentSet(String),
}

impl CoreError {
    /// The request parameter at fault, where one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CoreError::InvalidPeriod(_)
            | CoreError::PeriodTooEarly(_)
            | CoreError::RangeBackwards(_)
            | CoreError::RangeTooLong(_) => Some("period"),
            CoreError::InvalidCompare(_) | CoreError::YearCompareOverlaps(_) => Some("compare"),
            CoreError::InvalidTo(_) | CoreError::ToOutsidePeriod { .. } => Some("to"),
            CoreError::InvalidDimension(_) | CoreError::UnknownSegmentSet(_) => Some("segment_by"),
            _ => None,
        }
    }
}
