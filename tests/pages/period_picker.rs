//! The report's calendar in a real Chromium: it opens on the page's own period, picking a month
//! (or a range of days) on the browser's calendar fields shows that period with the split and
//! comparison kept in the address, and the numbers are the fixture's for that period.

use serde_json::json;

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, FixtureTeam, TestApp, expected_kpis, shown};

#[actix_web::test]
async fn the_calendar_picks_a_period_and_keeps_the_other_options() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(390).await;
    cdp.sign_in(&app.base, &token).await;
    cdp.navigate(&format!(
        "{}/reports/weekly?period=2026-W45&compare=year&segment_by=channel",
        app.base
    ))
    .await;
    // Closed until asked for; then every field starts at the week on the page.
    assert_eq!(
        cdp.eval("document.getElementById('calendar').hidden").await,
        json!(true)
    );
    cdp.eval("document.getElementById('calendar-toggle').click(); true")
        .await;
    let start = cdp
        .eval(
            "['cal-kind', 'cal-day', 'cal-week', 'cal-month', 'cal-q', 'cal-qyear', 'cal-from', 'cal-to']\
             .map(id => document.getElementById(id).value)",
        )
        .await;
    assert_eq!(
        start,
        json!([
            "week",
            "2026-11-02",
            "2026-W45",
            "2026-11",
            "4",
            "2026",
            "2026-11-02",
            "2026-11-08"
        ])
    );
    cdp.screenshot("report-calendar-390").await;
    let fit = cdp.fit().await;
    assert!(fit.problems().is_empty(), "at 390 px: {:?}", fit.problems());

    // A month.
    cdp.eval(
        "{ const k = document.getElementById('cal-kind'); k.value = 'month'; \
         k.dispatchEvent(new Event('change')); \
         document.getElementById('cal-month').value = '2026-10'; \
         document.getElementById('cal-go').click(); } true",
    )
    .await;
    cdp.wait_for(
        "location.search.includes('period=2026-10') && document.readyState === 'complete'",
        "the month's page",
    )
    .await;
    let search = cdp.eval("location.search").await;
    let search = search.as_str().unwrap();
    assert!(search.contains("compare=year"), "{search}");
    assert!(search.contains("segment_by=channel"), "{search}");
    assert_eq!(
        cdp.eval("document.getElementById('period').value").await,
        json!("2026-10")
    );

    // A range of days, unsplit: the leads card shows the fixture's number for that range.
    cdp.navigate(&format!("{}/reports/weekly?period=2026-W45", app.base))
        .await;
    cdp.eval(
        "{ document.getElementById('calendar-toggle').click(); \
         const k = document.getElementById('cal-kind'); k.value = 'range'; \
         k.dispatchEvent(new Event('change')); \
         document.getElementById('cal-from').value = '2026-11-08'; \
         document.getElementById('cal-to').value = '2026-11-02'; \
         document.getElementById('cal-go').click(); } true",
    )
    .await;
    // The last day before the first is refused at the calendar.
    assert_eq!(
        cdp.eval("document.getElementById('cal-error').hidden")
            .await,
        json!(false)
    );
    cdp.eval(
        "document.getElementById('cal-from').value = '2026-11-02'; \
         document.getElementById('cal-to').value = '2026-11-08'; \
         document.getElementById('cal-go').click(); true",
    )
    .await;
    cdp.wait_for(
        "location.search.includes('period=2026-11-02..2026-11-08') && document.readyState === 'complete'",
        "the range's page",
    )
    .await;
    // The range is the week's seven days: the same leads as the week.
    let want = shown("leads", expected_kpis("2026-W45")["leads"].as_f64());
    let value = cdp
        .eval("document.querySelector('[data-kpi=leads] .kpi-value').textContent.trim()")
        .await;
    assert_eq!(value, json!(want));
    assert!(cdp.errors().is_empty(), "{:#?}", cdp.errors());
}
