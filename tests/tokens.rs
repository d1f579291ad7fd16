//! API tokens and the sessions opened with them: an admin lists the team's tokens (never a
//! secret or a hash) and revokes one; the token and every session it opened stop working at
//! once, on every replica. "Last used" is written at most once a minute.

use awc::http::StatusCode;
use lodestar_store::tokens::{self, Role};
use serde_json::Value;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, TestApp, attr_after};

backend_tests!(
    an_admin_lists_the_teams_tokens_without_their_secrets,
    a_revoked_token_and_its_sessions_stop_working_at_once_on_every_replica,
);

fn listed(body: &Value) -> Vec<Value> {
    body["tokens"].as_array().unwrap().clone()
}

async fn an_admin_lists_the_teams_tokens_without_their_secrets(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let admin = app.token(team_id, Role::Admin).await;
    let (_, other_admin) = app.team("other", "UTC", Role::Admin).await;

    let (status, body) = app.get(Some(&admin), "/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = listed(&body);
    assert_eq!(list.len(), 2, "{body}");
    let text = body.to_string();
    for secret in [&token, &admin] {
        assert!(!text.contains(secret.as_str()), "a secret in {text}");
        assert!(
            !text.contains(&tokens::hash_token(secret)),
            "a hash in {text}"
        );
    }
    assert_eq!(list[0]["role"], "editor");
    assert_eq!(list[1]["role"], "admin");
    assert_eq!(list[1]["current"], true, "the caller's own token is marked");
    for t in &list {
        assert!(t["id"].is_i64() && t["created_at"].is_string(), "{t}");
        assert_eq!(t["revoked"], false);
        assert!(t["revoked_at"].is_null() && t.get("label").is_some());
    }
    // The fixture's editor token loaded the data, so it has been used; the admin's too (now).
    assert!(list[0]["last_used_at"].is_string(), "{body}");

    // Only admins, and only their own team's tokens.
    let (status, _) = app.get(Some(&token), "/api/v1/tokens").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.get(Some(&other_admin), "/api/v1/tokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&body).len(), 1, "another team sees its own: {body}");
    let editor_id = list[0]["id"].as_i64().unwrap();
    let (status, body) = app
        .delete(Some(&other_admin), &format!("/api/v1/tokens/{editor_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    let (status, _) = app
        .delete(Some(&token), &format!("/api/v1/tokens/{editor_id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "editors do not revoke");
    let (status, body) = app.delete(Some(&admin), "/api/v1/tokens/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app.get(Some(&token), "/api/v1/team").await;
    assert_eq!(status, StatusCode::OK, "nothing was revoked");

    // "Last used" moves at most once a minute, however often the token is used.
    let before = tokens::list(app.db(), team_id).await.unwrap();
    for _ in 0..5 {
        let (status, _) = app.get(Some(&token), "/api/v1/team").await;
        assert_eq!(status, StatusCode::OK);
    }
    let after = tokens::list(app.db(), team_id).await.unwrap();
    assert!(before[0].last_used_at.is_some());
    assert_eq!(before[0].last_used_at, after[0].last_used_at);
}

async fn a_revoked_token_and_its_sessions_stop_working_at_once_on_every_replica(b: Backend) {
    let (app, FixtureTeam { id: team_id, token }) = TestApp::with_fixture(b).await;
    let admin = app.token(team_id, Role::Admin).await;
    let replica = app.replica().await;

    // A session opened with the editor's token on one replica works on the other.
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(&token, "/scripts").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = attr_after(&page.body, "<meta name=\"csrf-token\" content=\"");
    let mut elsewhere = Browser::new(&replica);
    elsewhere.cookies = browser.cookies.clone();
    assert_eq!(elsewhere.get("/api/v1/team").await.status, StatusCode::OK);
    assert_eq!(elsewhere.get("/catalog").await.status, StatusCode::OK);
    // A session of another token of the team is not touched by the revocation.
    let mut admin_browser = Browser::new(&app);
    admin_browser.sign_in(&admin, "/").await;

    let (_, body) = app.get(Some(&admin), "/api/v1/tokens").await;
    let editor = listed(&body)
        .into_iter()
        .find(|t| t["role"] == "editor")
        .unwrap();
    let id = editor["id"].as_i64().unwrap();
    let (status, body) = replica
        .delete(Some(&admin), &format!("/api/v1/tokens/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], true);
    assert!(body["revoked_at"].is_string());

    // At once, on both replicas: the bearer token, the session's pages, its API calls.
    for server in [&app, &replica] {
        let (status, _) = server.get(Some(&token), "/api/v1/team").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(browser.get("/catalog").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        elsewhere.get("/api/v1/team").await.status,
        StatusCode::UNAUTHORIZED
    );
    let row = serde_json::json!([{"id": "after-revoke", "created_at": "2026-11-05T12:00:00Z"}]);
    let (status, _) = browser
        .send_json("POST", "/api/v1/leads", Some(&csrf), &row)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signing in with it again is refused too.
    let form = browser.get("/login").await;
    let field = attr_after(&form.body, "name=\"csrf\" value=\"");
    let again = browser
        .post_form(
            "/login",
            &[("token", &token), ("csrf", &field), ("next", "/")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    assert_eq!(admin_browser.get("/").await.status, StatusCode::OK);
    let (_, body) = app.get(Some(&admin), "/api/v1/tokens").await;
    let revoked = listed(&body).into_iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(revoked["revoked"], true, "still listed, as revoked");
    // Revoking again changes nothing and is no error.
    let (status, again) = app
        .delete(Some(&admin), &format!("/api/v1/tokens/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
}
