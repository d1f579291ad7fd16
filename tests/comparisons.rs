//! Comparisons other than the previous period: the same period a year earlier, none, and a
//! period read to a date (`to`, `mtd`). Expected numbers are counted here from the rows loaded,
//! not through the server.

use awc::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use lodestar_core::clock::fixed_clock;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::common::{Backend, Browser, TestApp};

backend_tests!(
    a_week_compares_with_the_same_iso_week_a_year_earlier,
    without_a_comparison_previous_values_and_changes_are_null,
    a_month_to_date_compares_the_same_first_days,
    bad_comparisons_are_400_naming_the_parameter,
    the_report_page_and_its_downloads_follow_the_comparison,
    the_report_page_reads_ranges_and_rolling_windows,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Leads created at `first + i * step` for `i < n`, with ids from `prefix`.
fn leads(prefix: &str, first: &str, step: Duration, n: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let created = at(first) + step * i32::try_from(i).unwrap();
            json!({"id": format!("{prefix}-{i}"), "created_at": created.to_rfc3339(),
                   "channel": if i % 2 == 0 { "email" } else { "paid_search" }})
        })
        .collect()
}

fn count_in(rows: &[Value], from: &str, to: &str) -> f64 {
    let (from, to) = (at(from), at(to));
    rows.iter()
        .map(|r| at(r["created_at"].as_str().unwrap()))
        .filter(|t| *t >= from && *t < to)
        .count() as f64
}

fn kpi<'a>(body: &'a Value, key: &str) -> &'a Value {
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// A team in New York with leads every 5 hours from mid-October 2024 to the end of 2026.
async fn team_with_two_years(app: &TestApp) -> (String, Vec<Value>) {
    let (_, token) = app.team("yoy", "America/New_York", Role::Editor).await;
    let rows = leads("L", "2024-10-01T03:00:00Z", Duration::hours(5), 3_800);
    for chunk in rows.chunks(1000) {
        let (status, body) = app
            .post_json(Some(&token), "/api/v1/leads", &json!(chunk))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (token, rows)
}

async fn a_week_compares_with_the_same_iso_week_a_year_earlier(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (token, rows) = team_with_two_years(&app).await;
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&compare=year&keys=leads,lead_velocity_rate&segment_by=channel",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["compare"], "year");
    // 2025-W45 is Monday Nov 3 to Sunday Nov 9, 2025; New York is on EST from Nov 2.
    let previous = &body["previous_period"];
    assert_eq!(previous["key"], "2025-W45");
    assert_eq!(previous["start"], "2025-11-03T05:00:00Z");
    assert_eq!(previous["end"], "2025-11-10T05:00:00Z");
    let now = count_in(&rows, "2026-11-02T05:00:00Z", "2026-11-09T05:00:00Z");
    let year_before = count_in(&rows, "2025-11-03T05:00:00Z", "2025-11-10T05:00:00Z");
    let two_years_before = count_in(&rows, "2024-11-04T05:00:00Z", "2024-11-11T05:00:00Z");
    let leads = kpi(&body, "leads");
    assert_eq!(leads["value"], now);
    assert_eq!(leads["previous"], year_before);
    // Lead velocity compares with the comparison in use, and its previous value with the year
    // before that.
    let lvr = kpi(&body, "lead_velocity_rate");
    let pct = |a: f64, b: f64| (a - b) / b * 100.0;
    assert!(
        (lvr["value"].as_f64().unwrap() - pct(now, year_before)).abs() < 0.01,
        "{lvr}"
    );
    assert!(
        (lvr["previous"].as_f64().unwrap() - pct(year_before, two_years_before)).abs() < 0.01,
        "{lvr}"
    );
    // Segments add up to the totals on both sides.
    let segments = leads["segments"].as_array().unwrap();
    let sum = |f: &str| -> f64 { segments.iter().map(|s| s[f].as_f64().unwrap_or(0.0)).sum() };
    assert_eq!((sum("value"), sum("previous")), (now, year_before));

    // A week 53 compares with week 52 of a year that has none: 2026-W53 → 2025-W52.
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W53&compare=year&keys=leads",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["previous_period"]["key"], "2025-W52");
    assert_eq!(
        kpi(&body, "leads")["previous"],
        count_in(&rows, "2025-12-22T05:00:00Z", "2025-12-29T05:00:00Z")
    );
}

async fn without_a_comparison_previous_values_and_changes_are_null(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (token, rows) = team_with_two_years(&app).await;
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-W45&compare=none&keys=leads,lead_velocity_rate&segment_by=channel&trend=3",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["previous_period"].is_null(), "{body}");
    let leads = kpi(&body, "leads");
    assert_eq!(
        leads["value"],
        count_in(&rows, "2026-11-02T05:00:00Z", "2026-11-09T05:00:00Z")
    );
    for field in ["previous", "change", "change_pct", "change_display"] {
        assert!(leads[field].is_null(), "{field}: {leads}");
    }
    assert!(kpi(&body, "lead_velocity_rate")["value"].is_null());
    assert!(
        leads["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["previous"].is_null())
    );
    // The trend still steps week by week.
    assert_eq!(leads["trend"].as_array().unwrap().len(), 3);
}

async fn a_month_to_date_compares_the_same_first_days(b: Backend) {
    // Today is Wednesday 2026-11-18 in New York: month to date is Nov 1–18.
    let app = TestApp::spawn_with(b, |s| {
        s.clock = fixed_clock(at("2026-11-18T20:00:00Z"));
    })
    .await;
    let (token, rows) = team_with_two_years(&app).await;
    let (status, mtd) = app
        .get(Some(&token), "/api/v1/kpis?period=mtd&keys=leads")
        .await;
    assert_eq!(status, StatusCode::OK, "{mtd}");
    assert_eq!(mtd["period"]["key"], "2026-11");
    assert_eq!(mtd["period"]["complete"], false);
    assert_eq!(mtd["period"]["elapsed_days"], 18);
    assert_eq!(mtd["period"]["end"], "2026-11-19T05:00:00Z");
    // October 1–18 (EDT).
    assert_eq!(mtd["previous_period"]["key"], "2026-10");
    assert_eq!(mtd["previous_period"]["end"], "2026-10-19T04:00:00Z");
    let leads = kpi(&mtd, "leads");
    assert_eq!(
        leads["value"],
        count_in(&rows, "2026-11-01T04:00:00Z", "2026-11-19T05:00:00Z")
    );
    assert_eq!(
        leads["previous"],
        count_in(&rows, "2026-10-01T04:00:00Z", "2026-10-19T04:00:00Z")
    );

    // An explicit period read to a date, compared with the same days a year earlier.
    let (status, body) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-03&to=2026-03-31&compare=year&keys=leads",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["period"]["complete"], true);
    assert!(
        body["period"].get("elapsed").is_none(),
        "all of March is read"
    );
    // Day 30 of a 31-day month against a shorter February: clamped to all of February.
    let (_, feb) = app
        .get(
            Some(&token),
            "/api/v1/kpis?period=2026-03&to=2026-03-30&keys=leads",
        )
        .await;
    assert_eq!(feb["period"]["elapsed_days"], 30);
    assert_eq!(feb["previous_period"]["key"], "2026-02");
    assert_eq!(
        kpi(&feb, "leads")["previous"],
        count_in(&rows, "2026-02-01T05:00:00Z", "2026-03-01T05:00:00Z")
    );
    let _ = NaiveDate::from_ymd_opt(2026, 2, 28);
}

async fn bad_comparisons_are_400_naming_the_parameter(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, token) = app.team("bad", "UTC", Role::Viewer).await;
    for (query, field) in [
        ("period=2026-11&compare=yoy", "compare"),
        ("period=2026-11&to=2026-12-01", "to"),
        ("period=2026-11&to=18-11-2026", "to"),
        ("period=2026-13", "period"),
        ("period=0000-W10&compare=year", "period"),
    ] {
        let (status, body) = app
            .get(Some(&token), &format!("/api/v1/kpis?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    // A report definition keeps its comparison, and refuses an unknown one.
    let (_, admin) = app.team("defs", "UTC", Role::Admin).await;
    let (status, body) = app
        .put_json(
            Some(&admin),
            "/api/v1/reports/yearly",
            &json!({"title": "Against last year", "compare": "last year"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "compare");
    let (status, body) = app
        .put_json(
            Some(&admin),
            "/api/v1/reports/yearly",
            &json!({"title": "Against last year", "compare": "year"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, report) = app
        .get(Some(&admin), "/api/v1/reports/yearly?period=2026-W45")
        .await;
    assert_eq!(report["compare"], "year");
    assert_eq!(report["previous_period"]["key"], "2025-W45");
}

async fn the_report_page_and_its_downloads_follow_the_comparison(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (token, rows) = team_with_two_years(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&token, "/").await;
    let page = browser
        .get("/reports/weekly?period=2026-W45&compare=year")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body;
    assert!(
        html.contains("compared with 2025-W45 (a year earlier)"),
        "{html}"
    );
    assert!(html.contains(r#"<option value="year" selected>"#));
    // Links and downloads keep the comparison.
    let csv_link = html
        .split("href=\"")
        .find(|h| h.starts_with("/reports/weekly.csv"))
        .and_then(|h| h.split('"').next())
        .unwrap_or_default();
    assert!(csv_link.contains("compare=year"), "{csv_link}");
    let prev_link = html
        .split("<a class=\"btn\" href=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap_or_default();
    assert!(
        prev_link.contains("period=2026-W44") && prev_link.contains("compare=year"),
        "{prev_link}"
    );
    let csv = browser
        .get("/reports/weekly.csv?period=2026-W45&compare=year")
        .await
        .body;
    let year_before = count_in(&rows, "2025-11-03T05:00:00Z", "2025-11-10T05:00:00Z");
    let leads_line: Vec<&str> = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cols| cols.get(2) == Some(&"leads") && cols.get(7) == Some(&""))
        .unwrap_or_else(|| panic!("{csv}"));
    // Columns: period, section, key, name, unit, direction, source, segment, value, previous.
    assert_eq!(
        leads_line[9].parse::<f64>().ok(),
        Some(year_before),
        "{leads_line:?}"
    );
    let none = browser
        .get("/reports/weekly?period=2026-W45&compare=none")
        .await
        .body;
    assert!(none.contains("not compared"));
    assert!(
        !none.contains("id=\"drivers\""),
        "nothing to explain without a comparison"
    );
}

async fn the_report_page_reads_ranges_and_rolling_windows(b: Backend) {
    // Wednesday 2026-11-18 in New York: the last 28 days are Oct 21 – Nov 17.
    let app = TestApp::spawn_with(b, |s| {
        s.clock = fixed_clock(at("2026-11-18T20:00:00Z"));
    })
    .await;
    let (token, rows) = team_with_two_years(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&token, "/").await;
    let page = browser.get("/reports/weekly?period=last-28d").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let html = page.body;
    assert!(html.contains("Oct 21 – Nov 17, 2026 (28 days)"), "{html}");
    // The previous window is a link of its own: the 28 days before.
    assert!(html.contains("period=2026-09-23..2026-10-20"), "{html}");
    let csv = browser
        .get("/reports/weekly.csv?period=2026-10-21..2026-11-17&compare=year")
        .await
        .body;
    let leads_line: Vec<&str> = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|cols| cols.get(2) == Some(&"leads") && cols.get(7) == Some(&""))
        .unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(leads_line[0], "2026-10-21..2026-11-17");
    assert_eq!(
        leads_line[8].parse::<f64>().ok(),
        Some(count_in(
            &rows,
            "2026-10-21T04:00:00Z",
            "2026-11-18T05:00:00Z"
        )),
        "{leads_line:?}"
    );
    assert_eq!(
        leads_line[9].parse::<f64>().ok(),
        Some(count_in(
            &rows,
            "2025-10-21T04:00:00Z",
            "2025-11-18T05:00:00Z"
        )),
        "{leads_line:?}"
    );
    // A backwards range is refused on the page with the reason, not a blank report.
    let bad = browser
        .get("/reports/weekly?period=2026-11-17..2026-10-21")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("ends before it starts"), "{}", bad.body);
}
