//! The report editor in a real Chromium: an editor searches the catalog, picks three KPIs,
//! moves one up with the keyboard, gives one a target and saves; the stored definition has that
//! order and target, and the page opens on the new report. An empty pick is refused with the
//! error at the list. Viewers cannot open the editor.

use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, Browser, TestApp};

#[actix_web::test]
async fn an_editor_makes_a_report_in_the_browser() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, team) = TestApp::with_fixture(Backend::Sqlite).await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(1280).await;
    cdp.sign_in(&app.base, &team.token).await;
    cdp.navigate(&format!("{}/new-report", app.base)).await;
    assert_eq!(cdp.eval("document.title").await, "Report editor · Lodestar");

    // Nothing picked: the API's refusal shows at the list.
    cdp.eval(
        "document.getElementById('slug').value = 'paid'; \
         document.getElementById('title').value = 'Paid channels'; \
         document.querySelector('#editor button[type=submit]').click(); true",
    )
    .await;
    cdp.wait_for(
        "!document.getElementById('kpis-error').hidden",
        "the error at the list",
    )
    .await;

    // Search narrows the catalog; pick three KPIs.
    cdp.eval(
        "const s = document.getElementById('search'); s.value = 'cost per'; \
         s.dispatchEvent(new Event('input')); true",
    )
    .await;
    let visible = cdp
        .eval("[...document.querySelectorAll('#catalog li')].filter(li => !li.hidden).map(li => li.dataset.key)")
        .await;
    assert!(
        visible.as_array().unwrap().iter().any(|k| k == "cpl"),
        "{visible}"
    );
    assert!(
        !visible.as_array().unwrap().iter().any(|k| k == "leads"),
        "{visible}"
    );
    for key in ["cpl", "roas", "leads"] {
        cdp.eval(&format!(
            "document.querySelector('#catalog input[value={key}]').click(); true"
        ))
        .await;
    }
    // Leads up to the top with the keyboard: focus its ↑ button, press Enter twice.
    cdp.eval("document.querySelector('#picked li[data-key=leads] button[aria-label^=\"Move Leads up\"]').focus(); true")
        .await;
    cdp.press("Enter").await;
    cdp.press("Enter").await;
    let order = cdp
        .eval("[...document.querySelectorAll('#picked li')].map(li => li.dataset.key)")
        .await;
    assert_eq!(order, json!(["leads", "cpl", "roas"]));
    cdp.eval("document.querySelector('#picked li[data-key=cpl] .bound-max').value = '100'; true")
        .await;
    cdp.eval("document.querySelector('#editor button[type=submit]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/reports/paid' && document.readyState === 'complete'",
        "the new report's page",
    )
    .await;
    let (_, list) = app.get(Some(&team.token), "/api/v1/reports").await;
    let def: Value = list["reports"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .find(|d| d["slug"] == "paid")
        .cloned()
        .unwrap_or_else(|| panic!("no report paid in {list}"));
    assert_eq!(def["kpis"], json!(["leads", "cpl", "roas"]), "{def}");
    assert_eq!(def["targets"]["cpl"], json!({"max": 100.0}), "{def}");
    assert_eq!(def["title"], "Paid channels");
    let errors = cdp.errors();
    let errors: Vec<_> = errors
        .into_iter()
        .filter(|e| {
            !e["params"]["entry"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("status of 422")
        })
        .collect();
    assert!(errors.is_empty(), "browser errors: {errors:#?}");

    // Viewers cannot open the editor.
    let viewer = app.token(team.id, Role::Viewer).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&viewer, "/new-report").await;
    assert_eq!(page.status.as_u16(), 403);
    let page = browser.get("/reports/weekly?period=2026-W45").await;
    assert!(!page.body.contains("Edit the report"));
}
