//! A schedule as the API receives it, checked field by field before anything is stored.

use lodestar_core::period::Timezone;
use lodestar_mail::parse_address;
use lodestar_store::schedules::ScheduleFields;

use crate::cron::CronSpec;

/// Most recipients one schedule may have: a digest is for a team, not a mailing list.
pub const MAX_RECIPIENTS: usize = 50;

/// One field that does not validate; the API answers 422 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The team's report `slug` (stored, else the built-in `weekly`), as reports resolve it.
pub use lodestar_report::team_reports::find as find_report;

/// Checks every field and returns the schedule in its stored form: the cron normalised, the
/// timezone canonical, recipients trimmed and without duplicates (compared by address, ignoring
/// case). The report is checked separately against the team's reports ([`find_report`]).
pub fn validate(
    report: &str,
    cron: &str,
    timezone: &str,
    recipients: &[String],
    skip_empty: bool,
    paused: bool,
) -> Result<ScheduleFields, FieldError> {
    let report = report.trim();
    if report.is_empty() || report.len() > 64 {
        return Err(invalid("report", "name a report, e.g. \"weekly\""));
    }
    let cron = CronSpec::parse(cron).map_err(|why| invalid("cron", format!("the cron {why}")))?;
    let timezone = Timezone::parse(timezone.trim()).map_err(|_| {
        invalid(
            "timezone",
            format!("{timezone:?} is not an IANA timezone such as \"Europe/Berlin\""),
        )
    })?;
    if recipients.is_empty() {
        return Err(invalid("recipients", "name at least one address"));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(invalid(
            "recipients",
            format!("at most {MAX_RECIPIENTS} addresses per schedule"),
        ));
    }
    let mut seen = Vec::with_capacity(recipients.len());
    let mut clean = Vec::with_capacity(recipients.len());
    for (i, r) in recipients.iter().enumerate() {
        let mailbox = parse_address(r)
            .map_err(|why| invalid("recipients", format!("recipient {i} ({r:?}) {why}")))?;
        let key = mailbox.email.to_string().to_lowercase();
        if !seen.contains(&key) {
            seen.push(key);
            clean.push(r.trim().to_owned());
        }
    }
    Ok(ScheduleFields {
        report: report.to_owned(),
        cron: cron.as_str().to_owned(),
        timezone: timezone.name().to_owned(),
        recipients: clean,
        channels: "[]".to_owned(),
        skip_empty,
        paused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(cron: &str, tz: &str, recipients: &[&str]) -> Result<ScheduleFields, FieldError> {
        let recipients: Vec<String> = recipients.iter().map(|r| (*r).to_owned()).collect();
        validate("weekly", cron, tz, &recipients, false, false)
    }

    #[test]
    fn each_invalid_field_is_named() {
        assert_eq!(
            ok("0 8 * *", "UTC", &["a@example.com"]).map_err(|e| e.field),
            Err("cron")
        );
        assert_eq!(
            ok("0 8 * * MON", "Mars/Olympus", &["a@example.com"]).map_err(|e| e.field),
            Err("timezone")
        );
        assert_eq!(
            ok("0 8 * * MON", "UTC", &[]).map_err(|e| e.field),
            Err("recipients")
        );
        let err = ok(
            "0 8 * * MON",
            "UTC",
            &["a@example.com\r\nBcc: eve@evil.example"],
        )
        .expect_err("header injection");
        assert_eq!(err.field, "recipients");
        assert!(err.message.contains("line break"), "{}", err.message);
    }

    #[test]
    fn recipients_are_trimmed_and_deduplicated_by_address() {
        let fields = ok(
            " 0  8 * * MON ",
            "Europe/Berlin",
            &[" a@example.com", "Ada <A@example.com>", "b@example.com"],
        )
        .expect("valid");
        assert_eq!(fields.cron, "0 8 * * MON");
        assert_eq!(fields.recipients, ["a@example.com", "b@example.com"]);
    }
}
