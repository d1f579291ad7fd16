//! The digest e-mail: a view model that `report` fills in, rendered by askama into an HTML part
//! (inline styles, table layout, HTML bars: it survives every mail client) and a text part.

use askama::Template;

use crate::error::MailError;

/// Everything the digest shows, already formatted for people.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestView {
    pub team_name: String,
    pub report_title: String,
    /// e.g. "Week 45, 2026 (Nov 2 – Nov 8)".
    pub period_label: String,
    /// e.g. "2026-W45".
    pub period_key: String,
    pub sections: Vec<DigestSection>,
    /// The "View in browser" link (a signed share link); shown only when it is http(s).
    pub share_url: String,
    /// e.g. "Newest data: 2026-11-22 20:48 UTC".
    pub freshness: Option<String>,
    /// No data at all for the period: the digest says so instead of showing empty sections.
    pub empty: bool,
    /// Notes such as why a KPI could not be computed.
    pub explanations: Vec<String>,
    /// Why KPIs changed, split by their drivers ("Why it changed").
    pub drivers: Vec<DigestDriver>,
}

/// A KPI's change explained by its drivers.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestDriver {
    /// e.g. "Won revenue −12.0%: leads −5.1%, conversion −9.2%, deal size +2.3%".
    pub sentence: String,
    /// The change, then each driver's part of it; empty when it cannot be attributed.
    pub bars: Vec<DigestBar>,
}

/// One signed bar of a driver picture, drawn left (a fall) or right (a rise) of a middle axis.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestBar {
    pub label: String,
    /// e.g. "−5.1%".
    pub text: String,
    /// Good or bad news for the KPI, by its direction.
    pub trend: Trend,
    /// Length against the largest bar of the explanation, 0..=100 (clamped; NaN counts as 0).
    pub length_pct: f64,
    /// Drawn to the left of the axis.
    pub negative: bool,
    /// The KPI's own change (shown bold), not a driver's part.
    pub total: bool,
}

/// One MECE branch.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestSection {
    pub title: String,
    pub kpis: Vec<DigestKpi>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DigestKpi {
    pub name: String,
    /// Already formatted, e.g. "$1,204.50".
    pub value: String,
    /// e.g. "+5.6%".
    pub change: Option<String>,
    /// Whether the change is good news, judged by the KPI's direction.
    pub trend: Trend,
    /// e.g. "Target 400 — met".
    pub target: Option<String>,
    /// Width of the HTML bar, 0..=100 (clamped; NaN counts as 0).
    pub bar_pct: f64,
}

/// How the change reads given the KPI's direction (a falling cost per lead is `Good`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Good,
    Bad,
    /// Moved, neither good nor bad (spend).
    Neutral,
    Flat,
    /// No comparison (no previous value, or the KPI has no direction).
    None,
}

impl Trend {
    fn text_colour(self) -> &'static str {
        match self {
            Self::Good => "#1a7f37",
            Self::Bad => "#cf222e",
            Self::Neutral | Self::Flat | Self::None => "#57606a",
        }
    }

    fn bar_colour(self) -> &'static str {
        match self {
            Self::Good => "#2da44e",
            Self::Bad => "#cf222e",
            Self::Neutral | Self::Flat => "#8c959f",
            Self::None => "#54aeff",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Good => "better",
            Self::Bad => "worse",
            Self::Flat => "flat",
            Self::Neutral | Self::None => "",
        }
    }
}

impl DigestKpi {
    fn bar(&self) -> f64 {
        if self.bar_pct.is_nan() {
            0.0
        } else {
            self.bar_pct.clamp(0.0, 100.0)
        }
    }

    /// The filled cell's width, rounded so the markup stays short.
    fn bar_width(&self) -> String {
        format!("{:.0}", self.bar())
    }

    fn has_fill(&self) -> bool {
        self.bar() >= 0.5
    }

    fn has_rest(&self) -> bool {
        self.bar() < 99.5
    }

    fn text_colour(&self) -> &'static str {
        self.trend.text_colour()
    }

    fn bar_colour(&self) -> &'static str {
        self.trend.bar_colour()
    }

    /// " (+5.6%, better)" for the text part.
    fn text_change(&self) -> String {
        match (&self.change, self.trend.word()) {
            (Some(change), "") => format!(" ({change})"),
            (Some(change), word) => format!(" ({change}, {word})"),
            (None, _) => String::new(),
        }
    }
}

impl DigestBar {
    fn length(&self) -> f64 {
        if self.length_pct.is_nan() {
            0.0
        } else {
            self.length_pct.clamp(0.0, 100.0)
        }
    }

    /// The filled cell's width within its half, when there is one worth drawing.
    fn fill(&self, left: bool) -> Option<String> {
        (self.negative == left && self.length() >= 0.5).then(|| format!("{:.0}", self.length()))
    }

    fn left_fill(&self) -> Option<String> {
        self.fill(true)
    }

    fn right_fill(&self) -> Option<String> {
        self.fill(false)
    }

    /// Whether the half has room beside its fill.
    fn rest(&self, left: bool) -> bool {
        self.negative != left || self.length() < 99.5
    }

    fn left_rest(&self) -> bool {
        self.rest(true)
    }

    fn right_rest(&self) -> bool {
        self.rest(false)
    }

    fn text_colour(&self) -> &'static str {
        self.trend.text_colour()
    }

    fn bar_colour(&self) -> &'static str {
        self.trend.bar_colour()
    }
}

impl DigestView {
    /// Only http(s) links: a `javascript:` or `data:` URL must not become a clickable link.
    fn share_link(&self) -> Option<&str> {
        let url = self.share_url.trim();
        let lower = url.to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
    }

    fn has_kpis(&self) -> bool {
        self.sections.iter().any(|section| !section.kpis.is_empty())
    }
}

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct DigestHtml<'a> {
    v: &'a DigestView,
    subject: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.txt")]
struct DigestText<'a> {
    v: &'a DigestView,
}

/// "{team} · {report} · {period_label}", on one line whatever the inputs hold.
pub fn digest_subject(team: &str, report: &str, period_label: &str) -> String {
    let one_line = |s: &str| {
        s.split(|c: char| c.is_control() || c.is_whitespace())
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    [team, report, period_label]
        .iter()
        .map(|part| one_line(part))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Renders the digest: `(html, text, subject)`.
pub fn render_digest(view: &DigestView) -> Result<(String, String, String), MailError> {
    let subject = digest_subject(&view.team_name, &view.report_title, &view.period_label);
    let html = DigestHtml {
        v: view,
        subject: &subject,
    }
    .render()?;
    let text = DigestText { v: view }.render()?;
    Ok((html, text, subject))
}

#[cfg(test)]
mod tests;
