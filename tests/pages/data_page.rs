//! The data page in a real Chromium: an editor checks a CSV with a bad row (nothing stored, the
//! row shown with its line and column), then checks and loads the fixture's three files; the
//! KPIs then equal the fixture's expected values. A viewer gets no upload.

use lodestar_store::tokens::Role;
use serde_json::Value;

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, Browser, TestApp, close, expected_kpis, shared_fixture};

/// Puts a file with `content` into the page's file input, as picking it would.
pub(super) async fn choose(cdp: &mut Cdp, name: &str, content: &str, mime: &str) {
    let js = format!(
        "(() => {{ const dt = new DataTransfer(); \
           dt.items.add(new File([{}], {}, {{type: {}}})); \
           const input = document.getElementById('file'); input.files = dt.files; \
           input.dispatchEvent(new Event('change')); return true; }})()",
        serde_json::to_string(content).unwrap(),
        serde_json::to_string(name).unwrap(),
        serde_json::to_string(mime).unwrap(),
    );
    assert_eq!(cdp.eval(&js).await, Value::Bool(true));
}

/// Picks `table` on the page and puts the fixture's file of that table into the file input.
pub(super) async fn choose_fixture(cdp: &mut Cdp, table: &str) {
    let content = std::fs::read_to_string(shared_fixture(&format!("{table}.json"))).unwrap();
    cdp.eval(&format!(
        "document.getElementById('table').value = '{table}'; \
         document.getElementById('table').dispatchEvent(new Event('change')); true"
    ))
    .await;
    choose(cdp, &format!("{table}.json"), &content, "application/json").await;
}

/// Clicks `button` and waits for the status line to settle; returns it.
pub(super) async fn press(cdp: &mut Cdp, button: &str) -> String {
    cdp.eval(&format!(
        "document.getElementById('{button}').click(); true"
    ))
    .await;
    cdp.wait_for(
        "(() => { const s = document.getElementById('status').textContent; \
           return s !== '' && !s.endsWith('…'); })()",
        button,
    )
    .await;
    cdp.eval("document.getElementById('status').textContent")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn an_editor_checks_then_loads_files_on_the_data_page() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (team_id, token) = app.team("acme", "America/New_York", Role::Editor).await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(390).await;
    cdp.sign_in(&app.base, &token).await;
    cdp.navigate(&format!("{}/data", app.base)).await;
    let width = cdp.eval("document.documentElement.scrollWidth").await;
    assert!(width.as_i64().unwrap() <= 390, "scrolls sideways: {width}");

    // A bad row: nothing stored, the row shown with its line (the header is line 1).
    choose(
        &mut cdp,
        "bad.csv",
        "id,created_at,channel\nL-1,2026-11-02T10:00:00Z,email\nL-2,yesterday,email\n",
        "text/csv",
    )
    .await;
    let status = press(&mut cdp, "check").await;
    assert!(status.starts_with("Nothing stored"), "{status}");
    let problems = cdp
        .eval("[...document.querySelectorAll('#problems-body tr')].map(r => [...r.cells].map(c => c.textContent))")
        .await;
    let first = &problems[0];
    assert_eq!(first[0], "3", "{problems}");
    assert_eq!(first[1], "created_at", "{problems}");
    assert_eq!(
        cdp.eval("document.getElementById('load').disabled").await,
        Value::Bool(true),
        "a file with a bad row cannot be loaded"
    );
    assert!(app.counts(team_id).await.iter().all(|(_, n)| *n == 0));

    // The fixture's three files: checked (a preview), then loaded.
    for table in ["leads", "spend", "events"] {
        choose_fixture(&mut cdp, table).await;
        let status = press(&mut cdp, "check").await;
        assert!(status.contains("rows ready to load"), "{table}: {status}");
        let previewed = cdp
            .eval("document.querySelectorAll('#preview-body tr').length")
            .await;
        assert!(previewed.as_i64().unwrap() > 0, "{table}: no preview");
        assert!(
            app.counts(team_id)
                .await
                .iter()
                .all(|(t, n)| t != table || *n == 0),
            "a check stores nothing"
        );
        cdp.eval("document.getElementById('status').textContent = ''; true")
            .await;
        let status = press(&mut cdp, "load").await;
        assert!(status.starts_with("Loaded:"), "{table}: {status}");
        let shown = cdp
            .eval(&format!(
                "document.getElementById('rows-{table}').textContent"
            ))
            .await;
        let stored = app
            .counts(team_id)
            .await
            .into_iter()
            .find(|(t, _)| t == table)
            .unwrap()
            .1;
        assert_eq!(shown.as_str().unwrap().replace(',', ""), stored.to_string());
    }
    let (status, body) = app.get(Some(&token), "/api/v1/kpis?period=2026-W45").await;
    assert!(status.is_success(), "{body}");
    let expected = expected_kpis("2026-W45");
    let mut checked = 0;
    for kpi in body["kpis"].as_array().unwrap() {
        let key = kpi["key"].as_str().unwrap();
        let Some(want) = expected.get(key) else {
            continue;
        };
        match (kpi["value"].as_f64(), want.as_f64()) {
            (Some(a), Some(e)) => assert!(close(a, e), "{key}: {a} vs {e}"),
            (a, e) => assert_eq!(a, e, "{key}"),
        }
        checked += 1;
    }
    assert!(checked > 40, "{checked}");
    let errors = cdp.errors();
    // A refused check is a 200; only the JS console would complain.
    assert!(errors.is_empty(), "browser errors: {errors:#?}");

    // A viewer sees the tables but no upload.
    let viewer = app.token(team_id, Role::Viewer).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&viewer, "/data").await;
    assert!(page.body.contains("Sample file"));
    assert!(!page.body.contains("id=\"upload\""));

    // Each sample file downloads as CSV and passes the import's check without a problem.
    for table in ["leads", "spend", "events"] {
        let sample = browser.get(&format!("/data/sample/{table}.csv")).await;
        assert_eq!(sample.status.as_u16(), 200);
        assert!(
            sample.content_type.starts_with("text/csv"),
            "{}",
            sample.content_type
        );
        let (status, report) = app
            .post_raw(
                Some(&token),
                &format!("/api/v1/imports?table={table}&dry_run=true"),
                "text/csv",
                sample.body.into_bytes(),
            )
            .await;
        assert!(status.is_success(), "{report}");
        assert_eq!(report["invalid"], 0, "{table}: {report}");
        assert!(report["rows"].as_u64().unwrap() >= 2, "{table}: {report}");
    }
}
