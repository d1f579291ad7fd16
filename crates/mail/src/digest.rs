//! The digest e-mail: a view model that `report` fills in, rendered by askama into an HTML part
//! (inline styles, table layout, HTML bars: it survives every mail client) and a text part.

use askama::Template;

use crate::error::MailError;

/// Everything the digest shows, already formatted for people.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// What to read first: headline KPIs, top movers, targets missed.
    pub summary: DigestSummary,
    /// The report's period kind as a noun ("week", "month"), for "This week" and "previous week".
    pub period_noun: String,
    /// Where a reader changes what this e-mail sends; shown only when it is http(s).
    pub manage_url: String,
}

/// The block before the full list, picked by `lodestar_report::summary`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DigestSummary {
    /// The report's chosen KPIs, or the first of each branch; the subject and preheader quote them.
    pub headline: Vec<DigestKpi>,
    /// The largest changes outside the headline.
    pub movers: Vec<DigestKpi>,
    /// KPIs whose target the period missed.
    pub missed: Vec<DigestKpi>,
}

impl DigestSummary {
    fn is_empty(&self) -> bool {
        self.headline.is_empty() && self.movers.is_empty() && self.missed.is_empty()
    }
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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DigestKpi {
    pub name: String,
    /// Already formatted, e.g. "$1,204.50".
    pub value: String,
    /// The previous period's value, formatted as `value`; `None` when there is none.
    pub previous: Option<String>,
    /// e.g. "+5.6%".
    pub change: Option<String>,
    /// Whether the change is good news, judged by the KPI's direction.
    pub trend: Trend,
    /// e.g. "Target 400 — met".
    pub target: Option<String>,
    /// Width of this period's bar, 0..=100 (clamped; NaN counts as 0).
    pub bar_pct: f64,
    /// Width of the previous period's bar on the same scale; `None` without a previous value.
    pub previous_bar_pct: Option<f64>,
}

/// How the change reads given the KPI's direction (a falling cost per lead is `Good`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trend {
    Good,
    Bad,
    /// Moved, neither good nor bad (spend).
    Neutral,
    Flat,
    /// No comparison (no previous value, or the KPI has no direction).
    #[default]
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

/// A 0..=100 width, clamped; NaN counts as 0.
fn clamp_pct(pct: f64) -> f64 {
    if pct.is_nan() {
        0.0
    } else {
        pct.clamp(0.0, 100.0)
    }
}

/// One labelled bar of a KPI: what it shows ("This week"), its filled width and colour.
struct LabelledBar {
    label: String,
    /// The filled cell's width in percent, when there is one worth drawing.
    fill: Option<String>,
    /// Whether the track has room beside the fill.
    rest: bool,
    colour: &'static str,
}

impl LabelledBar {
    fn new(label: String, pct: f64, colour: &'static str) -> LabelledBar {
        let pct = clamp_pct(pct);
        LabelledBar {
            label,
            fill: (pct >= 0.5).then(|| format!("{pct:.0}")),
            rest: pct < 99.5,
            colour,
        }
    }
}

impl DigestKpi {
    fn text_colour(&self) -> &'static str {
        self.trend.text_colour()
    }

    fn word(&self) -> &'static str {
        self.trend.word()
    }

    /// This period's bar and, when there is a previous value, the previous period's, labelled
    /// with the periods they stand for; none when neither has anything to draw.
    fn bars(&self, v: &DigestView) -> Vec<LabelledBar> {
        let mut bars = vec![LabelledBar::new(
            format!("This {}", v.noun()),
            self.bar_pct,
            self.trend.bar_colour(),
        )];
        if let Some(previous) = self.previous_bar_pct {
            bars.push(LabelledBar::new(
                format!("Previous {}", v.noun()),
                previous,
                PREVIOUS_BAR,
            ));
        }
        if bars.iter().all(|b| b.fill.is_none()) {
            bars.clear();
        }
        bars
    }

    /// " (+5.6%, better; previous week 412)" for the text part.
    fn text_change(&self, v: &DigestView) -> String {
        let mut parts: Vec<String> = Vec::new();
        match (&self.change, self.trend.word()) {
            (Some(change), "") => parts.push(change.clone()),
            (Some(change), word) => parts.push(format!("{change}, {word}")),
            (None, _) => {}
        }
        if let Some(previous) = &self.previous {
            parts.push(format!("previous {} {previous}", v.noun()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }

    /// "Leads 31 (+9.5%)": how the subject and the preheader quote a KPI.
    fn quote(&self) -> String {
        match &self.change {
            Some(change) => format!("{} {} ({change})", self.name, self.value),
            None => format!("{} {}", self.name, self.value),
        }
    }
}

/// The previous period's bar: grey, so colour always means this period's news.
const PREVIOUS_BAR: &str = "#afb8c1";

impl DigestBar {
    fn length(&self) -> f64 {
        clamp_pct(self.length_pct)
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

    /// The "manage this e-mail" link, only when it is http(s).
    fn manage_link(&self) -> Option<&str> {
        let url = self.manage_url.trim();
        let lower = url.to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
    }

    fn has_kpis(&self) -> bool {
        self.sections.iter().any(|section| !section.kpis.is_empty())
    }

    fn has_summary(&self) -> bool {
        !self.empty && self.has_kpis() && !self.summary.is_empty()
    }

    /// The summary's blocks with their headings, in reading order.
    fn summary_parts(&self) -> [(&'static str, &[DigestKpi]); 3] {
        [
            ("Headline KPIs", &self.summary.headline),
            ("Biggest moves", &self.summary.movers),
            ("Targets missed", &self.summary.missed),
        ]
    }

    fn noun(&self) -> &str {
        match self.period_noun.trim() {
            "" => "period",
            noun => noun,
        }
    }

    /// The hidden line inbox lists show after the subject: the team, the period, every headline
    /// number, the top movers and how many targets were missed.
    pub fn preheader(&self) -> String {
        let mut parts = vec![one_line(&format!(
            "{} · {}",
            self.team_name, self.period_label
        ))];
        if self.empty || !self.has_kpis() {
            parts.push("No data for this period".to_owned());
            return parts.join(": ");
        }
        let s = &self.summary;
        if !s.headline.is_empty() {
            parts.push(one_line(&quotes(&s.headline)));
        }
        if !s.movers.is_empty() {
            parts.push(one_line(&format!("Biggest moves: {}", quotes(&s.movers))));
        }
        match s.missed.len() {
            0 => {}
            1 => parts.push(one_line(&format!("Target missed: {}", s.missed[0].name))),
            n => parts.push(format!("{n} targets missed")),
        }
        parts.join(" · ")
    }
}

fn quotes(kpis: &[DigestKpi]) -> String {
    kpis.iter()
        .map(DigestKpi::quote)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `s` on one line: control characters and runs of white space become one space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct DigestHtml<'a> {
    v: &'a DigestView,
    subject: &'a str,
    preheader: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.txt")]
struct DigestText<'a> {
    v: &'a DigestView,
}

/// Subjects longer than this lose their last headline KPIs (inbox lists cut them anyway).
pub const SUBJECT_BUDGET: usize = 80;

/// "Weekly report 2026-W45: Leads 31 (+9.5%), CAC $3,732 (-4.9%) …": the report, the period
/// and as many headline numbers as fit [`SUBJECT_BUDGET`] (at least one), on one line whatever
/// the inputs hold. An ellipsis says some were left out.
pub fn digest_subject(view: &DigestView) -> String {
    let title = [view.report_title.as_str(), view.period_key.as_str()]
        .iter()
        .map(|part| one_line(part))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if view.empty || !view.has_kpis() {
        return format!("{title}: no data");
    }
    let headline = &view.summary.headline;
    let mut subject = title;
    for (i, kpi) in headline.iter().enumerate() {
        let quote = one_line(&kpi.quote());
        let sep = if i == 0 { ": " } else { ", " };
        let fits = subject.chars().count() + sep.len() + quote.chars().count() <= SUBJECT_BUDGET;
        if i > 0 && !fits {
            subject.push_str(" …");
            break;
        }
        subject.push_str(sep);
        subject.push_str(&quote);
    }
    subject
}

/// Renders the digest: `(html, text, subject)`.
pub fn render_digest(view: &DigestView) -> Result<(String, String, String), MailError> {
    let subject = digest_subject(view);
    let html = DigestHtml {
        v: view,
        subject: &subject,
        preheader: &view.preheader(),
    }
    .render()?;
    let text = DigestText { v: view }.render()?;
    Ok((html, text, subject))
}

#[cfg(test)]
mod tests;
