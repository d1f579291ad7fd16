//! The tree and segment-set editors in a real Chromium. A tree edited with an overlap shows the
//! finding (and marks the KPI) before anything is saved; a new tree nests a branch by indenting
//! and saves that shape. A segment set with a gap shows the gap's rows, with the values that
//! leave them out, counted as the fixture files say; it is saved only on "Save". Viewers get no
//! editor and no edit links, and the API refuses their writes.

use awc::http::StatusCode;
use lodestar_store::tokens::Role;
use serde_json::{Value, json};

use crate::common::cdp::{Cdp, chromium_or_skip};
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

use super::{Fixture, field};

/// Browser errors other than the API's expected refusals.
fn unexpected(cdp: &Cdp) -> Vec<Value> {
    cdp.errors()
        .into_iter()
        .filter(|e| {
            let text = e["params"]["entry"]["text"].as_str().unwrap_or_default();
            !text.contains("status of 422") && !text.contains("status of 404")
        })
        .cloned()
        .collect()
}

#[actix_web::test]
async fn a_tree_edited_with_an_overlap_shows_the_finding_before_it_is_saved() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let (_, before) = app.get(Some(&token), "/api/v1/trees/default").await;
    assert_eq!(before["source"]["type"], "builtin", "{before}");
    let (_, first_check) = app.get(Some(&token), "/api/v1/trees/default/check").await;
    assert_eq!(first_check["passes"], true, "{first_check}");

    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(1280).await;
    cdp.sign_in(&app.base, &token).await;
    // The tree page offers the editor to an editor.
    cdp.navigate(&format!("{}/trees/default", app.base)).await;
    cdp.eval("document.querySelector('a[href=\"/trees/default/edit\"]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/trees/default/edit' && document.readyState === 'complete'",
        "the tree editor",
    )
    .await;
    cdp.wait_for(
        "!!document.querySelector('#check .check-ok')",
        "the passing check of the tree as it came",
    )
    .await;

    // `leads` is in one branch; add it to another one with the keyboard.
    let home = cdp
        .eval("[...document.querySelectorAll('#branches > li')].findIndex(li => li.querySelector('.chip[data-kpi=leads]'))")
        .await;
    let home = home.as_i64().unwrap();
    assert!(home >= 0, "leads is in no branch");
    let other = if home == 0 { 1 } else { 0 };
    cdp.eval(&format!("document.querySelectorAll('#branches > li')[{other}].querySelector('.add-kpi input').focus(); true"))
        .await;
    cdp.type_text("leads").await;
    cdp.press("Enter").await;
    cdp.wait_for(
        "[...document.querySelectorAll('#check li[data-rule=overlap]')].some(li => li.textContent.includes('leads'))",
        "the overlap finding",
    )
    .await;
    assert_eq!(
        cdp.eval("document.querySelectorAll('.chip.overlap[data-kpi=leads]').length")
            .await,
        json!(2),
        "both places of leads are marked"
    );
    cdp.screenshot("tree-editor-overlap-1280").await;
    // Nothing was saved.
    let (_, after) = app.get(Some(&token), "/api/v1/trees/default").await;
    assert_eq!(after["source"]["type"], "builtin", "{after}");
    assert_eq!(after["branches"], before["branches"]);

    // Taking it out again passes; renaming and saving keeps the team's own copy.
    cdp.eval(&format!("document.querySelectorAll('#branches > li')[{other}].querySelector('.chip[data-kpi=leads] button').click(); true"))
        .await;
    cdp.wait_for(
        "!!document.querySelector('#check .check-ok')",
        "the check passing again",
    )
    .await;
    cdp.eval(
        "{ const t = document.getElementById('title'); t.value = 'Our funnel'; } \
         document.querySelector('#tree-editor button[type=submit]').click(); true",
    )
    .await;
    cdp.wait_for(
        "location.pathname === '/trees/default' && document.readyState === 'complete'",
        "the saved tree's page",
    )
    .await;
    let (_, saved) = app.get(Some(&token), "/api/v1/trees/default").await;
    assert_eq!(
        saved["source"],
        json!({"type": "team", "version": 1}),
        "{saved}"
    );
    assert_eq!(saved["title"], "Our funnel");
    assert_eq!(saved["branches"], before["branches"]);
    assert!(unexpected(&cdp).is_empty(), "{:#?}", unexpected(&cdp));
}

#[actix_web::test]
async fn a_new_tree_nests_a_branch_by_indenting_it() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(390).await;
    cdp.sign_in(&app.base, &token).await;
    cdp.navigate(&format!("{}/new-tree", app.base)).await;
    cdp.eval(
        "{ document.getElementById('slug').value = 'funnel'; \
         document.getElementById('title').value = 'Funnel'; \
         const t = document.querySelector('#branches .branch-title'); t.value = 'Top'; \
         t.dispatchEvent(new Event('input')); } true",
    )
    .await;
    cdp.eval("document.querySelector('#branches .add-kpi input').focus(); true")
        .await;
    // A KPI may be added by its name as well as its key.
    cdp.type_text("Leads").await;
    cdp.press("Enter").await;
    cdp.eval("document.getElementById('add-branch').click(); true")
        .await;
    cdp.type_text("Paid").await;
    cdp.eval("document.querySelectorAll('#branches > li')[1].querySelector('button[aria-label^=\"Move Paid in\"]').click(); true")
        .await;
    cdp.eval("document.querySelectorAll('#branches > li')[1].querySelector('.add-kpi input').focus(); true")
        .await;
    cdp.type_text("cpl").await;
    cdp.press("Enter").await;
    // Before saving, the check says which KPIs are in no branch.
    cdp.wait_for(
        "[...document.querySelectorAll('#check li[data-rule=gap]')].some(li => li.textContent.includes('roas'))",
        "the gap findings",
    )
    .await;
    assert_eq!(
        cdp.eval("document.querySelectorAll('#check li[data-rule=gap]').length > 10")
            .await,
        json!(true)
    );
    let fit = cdp.fit().await;
    assert!(fit.problems().is_empty(), "at 390 px: {:?}", fit.problems());
    cdp.screenshot("tree-editor-new-390").await;
    let (status, _) = app.get(Some(&token), "/api/v1/trees/funnel").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not saved yet");
    cdp.eval("document.querySelector('#tree-editor button[type=submit]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/trees/funnel' && document.readyState === 'complete'",
        "the new tree's page",
    )
    .await;
    let (_, saved) = app.get(Some(&token), "/api/v1/trees/funnel").await;
    assert_eq!(
        saved["branches"],
        json!([{"title": "Top", "kpis": ["leads"], "branches": [{"title": "Paid", "kpis": ["cpl"]}]}]),
        "{saved}"
    );
    assert!(unexpected(&cdp).is_empty(), "{:#?}", unexpected(&cdp));
}

#[actix_web::test]
async fn a_segment_set_with_a_gap_shows_the_gap_rows() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let fx = Fixture::load();
    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(1280).await;
    cdp.sign_in(&app.base, &token).await;
    cdp.navigate(&format!("{}/segments", app.base)).await;
    cdp.eval("document.querySelector('a[href=\"/new-segment-set\"]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/new-segment-set' && document.readyState === 'complete'",
        "the segment-set editor",
    )
    .await;
    // Two segments: Email (channel is email) and Paid (channel is one of paid_search, social).
    cdp.eval(
        "{ document.getElementById('set-name').value = 'reach'; \
         document.getElementById('check-period').value = '2026-W44'; \
         const n = document.querySelector('#segments .segment-name'); n.value = 'Email'; \
         n.dispatchEvent(new Event('input')); \
         document.querySelector('#segments button[aria-label^=\"Add a test\"]').click(); } true",
    )
    .await;
    cdp.eval("document.querySelector('#segments .test-value').focus(); true")
        .await;
    cdp.type_text("email").await;
    cdp.eval("document.getElementById('add-segment').click(); true")
        .await;
    cdp.type_text("Paid").await;
    cdp.eval(
        "{ const s = document.querySelectorAll('#segments > li')[1]; \
         s.querySelector('button[aria-label^=\"Add a test\"]').click(); } true",
    )
    .await;
    cdp.eval(
        "{ const s = document.querySelectorAll('#segments > li')[1]; \
         const op = s.querySelector('.test-op'); op.value = 'in'; op.dispatchEvent(new Event('change')); \
         s.querySelector('.test-value').focus(); } true",
    )
    .await;
    cdp.type_text("paid_search, social").await;

    // Expected from the fixture files: leads of 2026-W44 in neither segment.
    let in_set = |r: &Value| {
        matches!(
            field(r, "channel"),
            Some("email" | "paid_search" | "social")
        )
    };
    let leads = fx.leads_in();
    let mut gap_ids: Vec<String> = leads
        .iter()
        .filter(|r| !in_set(r))
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    gap_ids.sort();
    assert!(!gap_ids.is_empty(), "the fixture must leave a gap");
    cdp.wait_for(
        &format!(
            "document.querySelector('#check tr[data-table=leads] td.gap')?.textContent === '{}'",
            gap_ids.len()
        ),
        "the leads gap count",
    )
    .await;
    assert_eq!(
        cdp.eval(
            "document.querySelector('#check tr[data-table=leads] td:nth-child(2)').textContent"
        )
        .await,
        json!(leads.len().to_string())
    );
    assert_eq!(
        cdp.eval("document.querySelector('#check .check-bad') !== null")
            .await,
        json!(true)
    );
    // The gap's rows: the first five ids, each with the channel that leaves it out.
    let shown = cdp
        .eval("[...document.querySelectorAll('#check table.gap-rows')[0].querySelectorAll('tbody tr')].map(tr => [tr.dataset.row, tr.children[1].textContent])")
        .await;
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), gap_ids.len().min(5), "{shown:?}");
    for (row, want_id) in shown.iter().zip(&gap_ids) {
        assert_eq!(row[0], json!(want_id));
        let lead = leads.iter().find(|l| l["id"] == row[0]).unwrap();
        let want = match field(lead, "channel") {
            Some(c) => format!("channel = {c}"),
            None => "no value in the fields tested".to_owned(),
        };
        assert_eq!(row[1], json!(want));
    }
    cdp.screenshot("segment-editor-gap-1280").await;
    let (status, _) = app.get(Some(&token), "/api/v1/segments/reach").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not saved before Save");

    cdp.eval("document.querySelector('#segment-editor button[type=submit]').click(); true")
        .await;
    cdp.wait_for(
        "location.pathname === '/segments' && document.readyState === 'complete'",
        "the list of sets",
    )
    .await;
    let (_, saved) = app.get(Some(&token), "/api/v1/segments/reach").await;
    assert_eq!(
        saved["segments"],
        json!([
            {"name": "Email", "filter": {"channel": {"eq": "email"}}},
            {"name": "Paid", "filter": {"channel": {"in": ["paid_search", "social"]}}}
        ]),
        "{saved}"
    );
    let listed = cdp
        .eval("document.querySelector('main, body').innerText")
        .await;
    assert!(
        listed
            .as_str()
            .unwrap()
            .contains("Paid: channel is one of paid_search, social"),
        "{listed}"
    );
    assert!(unexpected(&cdp).is_empty(), "{:#?}", unexpected(&cdp));
}

#[actix_web::test]
async fn viewers_get_no_editor_and_no_edit_links() {
    let (app, FixtureTeam { token, id: team_id }) = TestApp::with_fixture(Backend::Sqlite).await;
    let set = json!({"segments": [{"name": "Email", "filter": {"channel": "email"}}]});
    let (status, _) = app
        .send("PUT", Some(&token), "/api/v1/segments/email", Some(&set))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let viewer = app.token(team_id, Role::Viewer).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&viewer, "/trees/default").await;
    assert_eq!(page.status, StatusCode::OK);
    for link in ["/trees/default/edit", "/new-tree"] {
        assert!(!page.body.contains(link), "a viewer sees {link}");
    }
    let page = browser.get("/segments").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("channel is email"), "{}", page.body);
    for link in ["/new-segment-set", "/segments/email/edit"] {
        assert!(!page.body.contains(link), "a viewer sees {link}");
    }
    for path in [
        "/new-tree",
        "/trees/default/edit",
        "/new-segment-set",
        "/segments/email/edit",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // The checks read; writes are refused.
    let (status, _) = app
        .send("POST", Some(&viewer), "/api/v1/segments/check", Some(&set))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .send("PUT", Some(&viewer), "/api/v1/segments/email", Some(&set))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let tree = json!({"title": "T", "branches": [{"title": "A", "kpis": ["leads"]}]});
    let (status, _) = app
        .send("PUT", Some(&viewer), "/api/v1/trees/mine", Some(&tree))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
