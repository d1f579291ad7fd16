//! The script editor page by role: editors get a Save button, viewers run scripts but see no
//! Save (and the API refuses their saves anyway).

use awc::http::StatusCode;
use lodestar_store::tokens::Role;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

backend_tests!(viewers_get_no_save_button);

async fn viewers_get_no_save_button(b: Backend) {
    let (app, FixtureTeam { id, token }) = TestApp::with_fixture(b).await;
    let mut editor = Browser::new(&app);
    let page = editor.sign_in(&token, "/scripts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"save\""), "{}", page.body);
    let viewer_token = app.token(id, Role::Viewer).await;
    let mut viewer = Browser::new(&app);
    let page = viewer.sign_in(&viewer_token, "/scripts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"save\""), "{}", page.body);
    assert!(
        page.body.contains("id=\"run\""),
        "viewers still run scripts"
    );
}
