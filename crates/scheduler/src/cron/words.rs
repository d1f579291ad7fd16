//! A cron pattern in words, for the schedules page: `0 8 * * MON` → "Mondays at 08:00". The
//! common shapes are spelled out; anything else says it is a custom pattern rather than guess.

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ABBREVIATIONS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A weekday field value (`MON`, `1`, `7` for Sunday) as its index in [`DAYS`].
fn weekday(s: &str) -> Option<usize> {
    let upper = s.to_ascii_uppercase();
    ABBREVIATIONS
        .iter()
        .position(|d| *d == upper)
        .or_else(|| s.parse::<usize>().ok().filter(|n| *n <= 7).map(|n| n % 7))
}

fn number(s: &str, max: u32) -> Option<u32> {
    s.parse().ok().filter(|n| *n <= max)
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The weekdays of a field: `MON` → "Mondays", `MON-FRI` → "Monday to Friday",
/// `MON,THU` → "Mondays and Thursdays".
fn weekdays(field: &str) -> Option<String> {
    if let Some((a, b)) = field.split_once('-') {
        return Some(format!("{} to {}", DAYS[weekday(a)?], DAYS[weekday(b)?]));
    }
    let days: Vec<String> = field
        .split(',')
        .map(|d| weekday(d).map(|i| format!("{}s", DAYS[i])))
        .collect::<Option<_>>()?;
    Some(match days.as_slice() {
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        [] => return None,
    })
}

/// The pattern (5 fields, or 6 with seconds first) in words.
pub fn describe(pattern: &str) -> String {
    let custom = || "on a custom pattern".to_owned();
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    let fields = match fields.as_slice() {
        [_, rest @ ..] if fields.len() == 6 && fields[0] == "0" => rest,
        [..] if fields.len() == 5 => &fields[..],
        _ => return custom(),
    };
    let [minute, hour, dom, month, dow] = [fields[0], fields[1], fields[2], fields[3], fields[4]];
    if month != "*" {
        return custom();
    }
    if let Some(step) = minute.strip_prefix("*/")
        && [hour, dom, dow] == ["*", "*", "*"]
        && let Some(n) = number(step, 59)
    {
        return format!("every {n} minutes");
    }
    let (Some(m), Some(h)) = (number(minute, 59), number(hour, 23)) else {
        if let Some(m) = number(minute, 59)
            && [hour, dom, dow] == ["*", "*", "*"]
        {
            return format!("every hour at minute {m}");
        }
        return custom();
    };
    let at = format!("at {h:02}:{m:02}");
    match (dom, dow) {
        ("*", "*") => format!("every day {at}"),
        ("*", days) => weekdays(days).map_or_else(custom, |d| format!("{d} {at}")),
        (day, "*") => match number(day, 31) {
            Some(d) if d >= 1 => format!("the {} of every month {at}", ordinal(d)),
            _ => custom(),
        },
        _ => custom(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_patterns_read_as_words() {
        let cases = [
            ("0 8 * * MON", "Mondays at 08:00"),
            ("0 8 * * 1", "Mondays at 08:00"),
            ("30 7 * * MON-FRI", "Monday to Friday at 07:30"),
            ("0 9 * * MON,THU", "Mondays and Thursdays at 09:00"),
            ("0 9 1 * *", "the 1st of every month at 09:00"),
            ("0 9 22 * *", "the 22nd of every month at 09:00"),
            ("0 9 11 * *", "the 11th of every month at 09:00"),
            ("0 18 * * *", "every day at 18:00"),
            ("0 0 18 * * SUN", "Sundays at 18:00"),
            ("*/15 * * * *", "every 15 minutes"),
            ("5 * * * *", "every hour at minute 5"),
            ("0 8 * 1 *", "on a custom pattern"),
            ("0 8-10 * * *", "on a custom pattern"),
            ("0 8 1 * MON", "on a custom pattern"),
        ];
        for (pattern, words) in cases {
            assert_eq!(describe(pattern), words, "{pattern}");
        }
    }
}
