//! A digest: the report of one period, shaped by `report` exactly as the HTML page shows it,
//! turned into the e-mail's view model and rendered once for all recipients.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lodestar_core::period::{Comparison, PeriodKey};
use lodestar_mail::digest::{DigestBar, DigestDriver, DigestSummary};
use lodestar_mail::{DigestKpi, DigestSection, DigestView, Trend, render_digest};
use lodestar_report::definition::ReportDefinition;
use lodestar_report::drivers::Explanation;
use lodestar_report::format::{Tone, UNDEFINED};
use lodestar_report::report::{Card, OutlineError, Report, assemble};
use lodestar_report::share::{self, ShareClaims};
use lodestar_report::{KpiEngine, ReportError};
use lodestar_store::teams::Team;

use crate::error::SchedulerError;

/// A rendered digest, the same for every recipient but for To and Message-ID.
#[derive(Debug, Clone)]
pub struct Digest {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The period had no data at all.
    pub empty: bool,
    pub view: DigestView,
}

/// Where the digest's links go and how long they work.
#[derive(Debug, Clone)]
pub struct Links<'a> {
    pub public_url: &'a str,
    pub secret: &'a [u8],
    pub expires_at: DateTime<Utc>,
    /// When the links are made: revoking a report's links voids those made before.
    pub issued_at: DateTime<Utc>,
}

/// `{public_url}/reports/{slug}?period=KEY&share=TOKEN`: opens the report without signing in
/// until the token expires.
pub fn share_url(links: &Links<'_>, team_id: i32, report: &str, period: &PeriodKey) -> String {
    let token = share::sign(
        links.secret,
        &ShareClaims {
            team_id,
            report: report.to_owned(),
            period: period.to_string(),
            expires_at: links.expires_at,
            issued_at: links.issued_at,
        },
    );
    format!(
        "{}/reports/{report}?period={period}&share={token}",
        links.public_url.trim_end_matches('/')
    )
}

/// `{public_url}/reports/{slug}`: where a reader goes to change what the e-mail sends. There is
/// no HTML page for schedules yet, so this is the report's page in the browser (sign-in needed,
/// no share token: the link outlives the token); it moves to the schedule's page once one exists.
pub fn manage_url(links: &Links<'_>, report: &str) -> String {
    format!(
        "{}/reports/{report}",
        links.public_url.trim_end_matches('/')
    )
}

/// Evaluates and renders the report `def` of `team` for `period`.
pub async fn build(
    engine: &KpiEngine,
    team: &Team,
    def: &ReportDefinition,
    period: PeriodKey,
    links: &Links<'_>,
) -> Result<Digest, SchedulerError> {
    // A digest reads whole periods, compared as the report says.
    let comparison = Comparison {
        compare: def.compare,
        to: None,
    };
    let report = assemble(engine, team, def, period, comparison)
        .await
        .map_err(|e| match e {
            OutlineError::Report(e) => SchedulerError::Report(e),
            // Recorded as the delivery's error: the team deleted the tree the report follows.
            e @ OutlineError::UnknownTree(_) => SchedulerError::Report(ReportError::Internal(
                format!("report `{}` cannot be organised: {e}", def.slug),
            )),
        })?;
    let newest = lodestar_store::loaded::newest_data(engine.db(), team.id).await?;
    let view = view(
        &report,
        share_url(links, team.id, &def.slug, &period),
        manage_url(links, &def.slug),
        newest.map(|at| freshness(at, team.timezone.0)),
    );
    let (html, text, subject) = render_digest(&view)?;
    Ok(Digest {
        subject,
        html,
        text,
        empty: report.empty,
        view,
    })
}

/// "Newest data: 2026-11-08 18:41 EST", in the team's timezone.
pub fn freshness(at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "Newest data: {}",
        at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
    )
}

/// The e-mail's view of a shaped report.
pub fn view(
    report: &Report,
    share_url: String,
    manage_url: String,
    freshness: Option<String>,
) -> DigestView {
    let sections = report
        .sections
        .iter()
        .map(|s| DigestSection {
            title: s.title.clone(),
            kpis: s.kpis.iter().map(kpi).collect(),
        })
        .collect();
    let mut explanations: Vec<String> = report
        .cards()
        .filter_map(|c| c.error.as_ref().map(|e| format!("{}: {e}", c.meta.name)))
        .collect();
    let undefined: Vec<&str> = report
        .cards()
        .filter(|c| c.value.is_none() && c.error.is_none())
        .map(|c| c.meta.name.as_str())
        .collect();
    if !report.empty && !undefined.is_empty() {
        explanations.push(format!(
            "{UNDEFINED} means there was nothing to divide by this period: {}",
            undefined.join(", ")
        ));
    }
    DigestView {
        team_name: report.team.name.clone(),
        report_title: report.definition.title.clone(),
        period_label: report.label.clone(),
        period_key: report.period.key.to_string(),
        sections,
        share_url,
        freshness,
        empty: report.empty,
        explanations,
        drivers: report.drivers.iter().map(driver).collect(),
        summary: summary(report),
        period_noun: report.period.key.kind().noun().to_owned(),
        manage_url,
    }
}

/// The summary the report's rules pick (`lodestar_report::summary`), as digest rows.
fn summary(report: &Report) -> DigestSummary {
    let s = lodestar_report::summary::summary(report);
    let rows = |cards: Vec<&Card>| cards.into_iter().map(kpi).collect();
    DigestSummary {
        headline: rows(s.headline),
        movers: rows(s.movers),
        missed: rows(s.missed),
    }
}

fn trend(tone: Tone) -> Trend {
    match tone {
        Tone::Good => Trend::Good,
        Tone::Bad => Trend::Bad,
        Tone::Neutral => Trend::Neutral,
        Tone::Flat => Trend::Flat,
        Tone::None => Trend::None,
    }
}

fn driver(e: &Explanation) -> DigestDriver {
    DigestDriver {
        sentence: e.sentence(),
        bars: e
            .bars()
            .into_iter()
            .enumerate()
            .map(|(i, b)| DigestBar {
                label: b.label,
                text: b.text,
                trend: trend(b.tone),
                length_pct: b.length_pct,
                negative: b.value < 0.0,
                total: i == 0,
            })
            .collect(),
    }
}

fn kpi(card: &Card) -> DigestKpi {
    DigestKpi {
        name: card.meta.name.clone(),
        value: card.display.value.clone(),
        // The page's text for the previous value, so both read the same.
        previous: card.previous.map(|_| card.display.previous.clone()),
        change: Some(card.display.change.clone()).filter(|c| c != UNDEFINED),
        trend: trend(card.tone),
        target: {
            // The report's target and the team's goal, each with how it stands.
            let lines: Vec<String> = [
                card.target
                    .as_ref()
                    .map(|t| format!("Target {} — {}", t.text, t.status.as_str())),
                card.goal
                    .as_ref()
                    .map(|g| format!("{} — {}", g.text, g.pace.status.words())),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!lines.is_empty()).then(|| lines.join(" · "))
        },
        bar_pct: bar(card.value, card.previous),
        previous_bar_pct: card.previous.map(|_| bar(card.previous, card.value)),
    }
}

/// The bar's length: this period's value against the larger of it and the previous one, so the
/// bar is full when the KPI grew and shorter by as much as it fell.
pub fn bar(value: Option<f64>, previous: Option<f64>) -> f64 {
    match (value, previous) {
        (Some(v), Some(p)) if v.abs().max(p.abs()) > 0.0 => v.abs() / v.abs().max(p.abs()) * 100.0,
        (Some(v), _) if v != 0.0 => 100.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lodestar_core::catalog::Builtin;
    use lodestar_core::drivers::builtin_trees;
    use lodestar_core::period::PeriodView;
    use lodestar_core::period::Timezone;
    use lodestar_report::meta::KpiMeta;
    use lodestar_report::report::{Outline, shape};
    use lodestar_report::{KpiResult, KpiValue};

    use super::*;

    fn team() -> Team {
        Team {
            id: 3,
            slug: "acme".to_owned(),
            name: "Acme Growth".to_owned(),
            timezone: Timezone::parse("America/New_York").expect("a zone"),
            data_version: 0,
            currency: Default::default(),
        }
    }

    fn kpi_value(key: &str, value: Option<f64>, previous: Option<f64>) -> KpiValue {
        let b = Builtin::from_key(key).expect("a built-in");
        KpiValue::new(KpiMeta::builtin(b), value, previous)
    }

    fn period_view(key: &str) -> PeriodView {
        PeriodView::of(PeriodKey::parse(key).expect("a key"), team().timezone)
    }

    fn report(kpis: Vec<KpiValue>) -> Report {
        let result = KpiResult {
            period: period_view("2026-W45"),
            previous_period: Some(period_view("2026-W44")),
            compare: Default::default(),
            to: None,
            segment_by: None,
            kpis,
        };
        let period = PeriodKey::parse("2026-W45").expect("a key");
        shape(
            &team(),
            &ReportDefinition::weekly(),
            period,
            result,
            &BTreeMap::new(),
            &Outline {
                tree: None,
                drivers: builtin_trees(),
            },
        )
    }

    #[test]
    fn cards_become_digest_kpis_with_text_trend_and_bar() {
        let r = report(vec![
            kpi_value("leads", Some(17.0), Some(18.0)),
            kpi_value("cpl", Some(400.925_882), Some(500.0)),
            kpi_value("clv", None, None),
        ]);
        let v = view(
            &r,
            "https://x.example/r".to_owned(),
            "https://x.example/reports/weekly".to_owned(),
            None,
        );
        assert_eq!(v.team_name, "Acme Growth");
        assert_eq!(v.period_label, "Week 45, 2026 (Nov 2 – Nov 8)");
        assert_eq!(v.period_key, "2026-W45");
        let all: Vec<&DigestKpi> = v.sections.iter().flat_map(|s| &s.kpis).collect();
        let leads = all.iter().find(|k| k.name == "Leads").expect("leads");
        assert_eq!(leads.value, "17");
        assert_eq!(leads.change.as_deref(), Some("-5.6%"));
        assert_eq!(leads.trend, Trend::Bad);
        assert!((leads.bar_pct - 17.0 / 18.0 * 100.0).abs() < 1e-9);
        assert_eq!(leads.previous.as_deref(), Some("18"));
        assert_eq!(leads.previous_bar_pct, Some(100.0));
        let cpl = all.iter().find(|k| k.value == "$400.93").expect("cpl");
        assert_eq!(
            cpl.trend,
            Trend::Good,
            "a falling cost per lead is good news"
        );
        let clv = all.iter().find(|k| k.value == UNDEFINED).expect("clv");
        assert_eq!(clv.change, None);
        assert_eq!((&clv.previous, clv.previous_bar_pct), (&None, None));
        assert!(
            v.explanations.iter().any(|e| e.contains(&clv.name)),
            "{:?}",
            v.explanations
        );
    }

    #[test]
    fn the_summary_quotes_the_report_cards_and_the_links_and_noun_are_the_reports() {
        let r = report(vec![
            kpi_value("leads", Some(31.0), Some(28.0)),
            kpi_value("cac", Some(3731.5), Some(3925.0)),
            kpi_value("mqls", Some(20.0), Some(10.0)),
        ]);
        let v = view(
            &r,
            "https://x.example/s".to_owned(),
            "https://x.example/reports/weekly".to_owned(),
            None,
        );
        let names = |kpis: &[DigestKpi]| kpis.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&v.summary.headline),
            ["Leads", "Customer acquisition cost"]
        );
        assert_eq!(names(&v.summary.movers), ["MQLs"]);
        let cac = &v.summary.headline[1];
        let card = r.card("cac").expect("a card");
        assert_eq!(cac.value, card.display.value);
        assert_eq!(cac.value, "$3,732");
        assert_eq!(cac.previous.as_deref(), Some("$3,925"));
        assert_eq!(cac.change.as_deref(), card.change_display.as_deref());
        assert_eq!(v.period_noun, "week");
        assert_eq!(v.manage_url, "https://x.example/reports/weekly");
        let (_, _, subject) = render_digest(&v).expect("renders");
        // The second headline KPI would make the subject too long for an inbox list.
        assert_eq!(subject, "Weekly report 2026-W45: Leads 31 (+10.7%) …");
        assert!(
            v.preheader()
                .contains("Leads 31 (+10.7%), Customer acquisition cost $3,732 (-4.9%)"),
            "{}",
            v.preheader()
        );
    }

    #[test]
    fn the_manage_link_is_the_reports_page_without_a_token() {
        let links = Links {
            public_url: "https://lodestar.example.com/",
            secret: b"s3cret",
            expires_at: DateTime::from_timestamp(1_900_000_000, 0).expect("an instant"),
            issued_at: DateTime::from_timestamp(1_800_000_000, 0).expect("an instant"),
        };
        assert_eq!(
            manage_url(&links, "weekly"),
            "https://lodestar.example.com/reports/weekly"
        );
    }

    #[test]
    fn a_kpi_that_moved_is_explained_with_a_bar_per_driver() {
        let r = report(vec![
            kpi_value("won_revenue", Some(600.0), Some(500.0)),
            kpi_value("leads", Some(12.0), Some(10.0)),
            kpi_value("conversion_rate", Some(10.0), Some(10.0)),
            kpi_value("avg_deal_size", Some(500.0), Some(500.0)),
        ]);
        let v = view(&r, String::new(), String::new(), None);
        assert_eq!(v.drivers.len(), 1, "{:?}", v.drivers);
        let d = &v.drivers[0];
        assert_eq!(
            d.sentence,
            "Won revenue +20.0%: leads +20.0% (→\u{a0}+20.0%), conversion 0.0 pp (→\u{a0}±0.0%), \
             deal size 0.0% (→\u{a0}±0.0%)"
        );
        let bars: Vec<(&str, Trend, f64, bool, bool)> = d
            .bars
            .iter()
            .map(|b| (b.label.as_str(), b.trend, b.length_pct, b.negative, b.total))
            .collect();
        assert_eq!(
            bars,
            [
                ("Won revenue", Trend::Good, 100.0, false, true),
                ("leads", Trend::Good, 100.0, false, false),
                ("conversion", Trend::Flat, 0.0, false, false),
                ("deal size", Trend::Flat, 0.0, false, false),
            ]
        );
    }

    #[test]
    fn a_period_without_data_is_empty_and_explains_nothing() {
        let zeros = Builtin::ALL
            .iter()
            .map(|b| kpi_value(b.key(), Some(0.0), Some(0.0)))
            .collect();
        let v = view(&report(zeros), String::new(), String::new(), None);
        assert!(v.empty);
        assert!(v.explanations.is_empty(), "{:?}", v.explanations);
        assert!(v.drivers.is_empty(), "{:?}", v.drivers);
    }

    #[test]
    fn the_share_link_verifies_for_its_team_report_and_period() {
        let expires_at = DateTime::from_timestamp(1_900_000_000, 0).expect("an instant");
        let links = Links {
            public_url: "https://lodestar.example.com/",
            secret: b"s3cret",
            expires_at,
            issued_at: expires_at - chrono::TimeDelta::days(30),
        };
        let period = PeriodKey::parse("2026-W45").expect("a key");
        let url = share_url(&links, 3, "weekly", &period);
        let prefix = "https://lodestar.example.com/reports/weekly?period=2026-W45&share=";
        assert!(url.starts_with(prefix), "{url}");
        let claims = share::verify(
            b"s3cret",
            &url[prefix.len()..],
            expires_at - chrono::TimeDelta::days(1),
        )
        .expect("a valid token");
        assert_eq!(
            (
                claims.team_id,
                claims.report.as_str(),
                claims.period.as_str()
            ),
            (3, "weekly", "2026-W45")
        );
    }

    #[test]
    fn freshness_is_told_in_the_team_timezone() {
        let at = DateTime::from_timestamp(1_794_181_260, 0).expect("an instant"); // 2026-11-08T23:41Z
        let ny: Tz = "America/New_York".parse().expect("a zone");
        assert_eq!(freshness(at, ny), "Newest data: 2026-11-08 18:41 EST");
    }

    #[test]
    fn the_bar_is_full_for_growth_and_shorter_for_a_fall() {
        assert_eq!(bar(Some(20.0), Some(10.0)), 100.0);
        assert_eq!(bar(Some(5.0), Some(10.0)), 50.0);
        assert_eq!(bar(Some(0.0), Some(0.0)), 0.0);
        assert_eq!(bar(Some(3.0), None), 100.0);
        assert_eq!(bar(None, Some(3.0)), 0.0);
    }
}
