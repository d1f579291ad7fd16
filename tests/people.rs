//! People end to end over HTTP: an admin made by `lodestar user create`'s store call sets a
//! password through the printed link; invites a person through the real SMTP server; roles,
//! removal (sessions end at once), the last admin, one-time and expiring links, no account
//! enumeration, sign out everywhere and team switching. SQLite and PostgreSQL.

use std::time::Duration;

use awc::http::StatusCode;
use chrono::Utc;
use lodestar_mail::testing::SmtpServer;
use lodestar_store::people;
use lodestar_store::tokens::Role;
use lodestar_web::DigestSettings;
use serde_json::json;

use crate::backend_tests;
use crate::common::{Backend, Browser, FixtureTeam, Page, TestApp, attr_after};
use crate::pages::{W45, assert_fixture_numbers};

backend_tests!(
    an_admin_invites_a_person_who_reads_then_is_made_viewer_then_removed,
    links_work_once_and_expire,
    a_wrong_password_and_an_unknown_address_look_alike,
    a_person_of_two_teams_sees_only_the_chosen_team,
    signing_out_everywhere_ends_every_session_of_the_person,
    the_cli_prints_a_set_password_link_and_lists_people,
    the_csv_export_takes_a_bearer_token_until_it_is_revoked,
    a_one_click_link_signs_in_once,
    the_tokens_page_creates_a_token_for_the_csv_export_and_revokes_it,
    the_members_page_invites_changes_roles_and_removes,
    open_invitations_are_listed_and_can_be_withdrawn,
    the_team_page_renames_and_moves_the_team_with_errors_at_the_field,
);

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "a long enough passphrase";

fn mail_to(smtp: &SmtpServer) -> DigestSettings {
    crate::digests::digests(smtp, crate::digests::fast_config())
}

async fn spawn(b: Backend) -> (TestApp, FixtureTeam, SmtpServer) {
    let smtp = SmtpServer::start().await.unwrap();
    let (app, team) = TestApp::with_fixture_and(b, |s| s.digests = Some(mail_to(&smtp))).await;
    (app, team, smtp)
}

fn form_csrf(page: &Page) -> String {
    attr_after(&page.body, "name=\"csrf\" value=\"")
}

/// The path of the first one-time link (`/login/{kind}/…`) in the text of received message `n`.
fn link_in(smtp: &SmtpServer, n: usize, kind: &str) -> String {
    let mail = &smtp.messages()[n];
    let text: String = mail.parts().iter().map(|p| p.body.clone()).collect();
    let marker = format!("/login/{kind}/");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} link in {text}"));
    let secret: String = text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(secret.len(), 64, "{text}");
    format!("{marker}{secret}")
}

/// Opens a one-time link, fills the password (if asked) and follows the sign-in.
async fn use_link(browser: &mut Browser<'_>, path: &str, password: &str) -> Page {
    let form = browser.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form_csrf(&form);
    browser
        .post_form(path, &[("csrf", &csrf), ("password", password)])
        .await
}

async fn sign_in(browser: &mut Browser<'_>, email: &str, password: &str) -> Page {
    let form = browser.get("/login").await;
    let csrf = form_csrf(&form);
    browser
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", "/"),
                ("email", email),
                ("password", password),
            ],
        )
        .await
}

/// The page's CSRF token for the JSON API.
async fn page_csrf(browser: &mut Browser<'_>) -> String {
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    attr_after(&home.body, "name=\"csrf-token\" content=\"")
}

async fn admin(app: &TestApp, team_id: i32, email: &str) -> String {
    let (_, secret) = people::create_member(app.db(), email, team_id, Role::Admin, Utc::now())
        .await
        .unwrap();
    format!("/login/password/{secret}")
}

async fn an_admin_invites_a_person_who_reads_then_is_made_viewer_then_removed(b: Backend) {
    let (app, team, smtp) = spawn(b).await;
    let link = admin(&app, team.id, "Ada@Acme.test").await;

    let mut ada = Browser::new(&app);
    let short = use_link(&mut ada, &link, "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("At least 10") || short.body.contains("at least 10"));
    assert!(
        short.body.contains("id=\"password-error\""),
        "{}",
        short.body
    );
    let set = use_link(&mut ada, &link, PASSWORD).await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    assert!(ada.cookies.contains_key("lodestar_session"));
    let csrf = page_csrf(&mut ada).await;

    let (status, reply) = ada
        .send_json(
            "POST",
            "/api/v1/members/invitations",
            Some(&csrf),
            &json!({"email": "bob@acme.test", "role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    smtp.wait_for(1, WAIT).await.unwrap();
    assert_eq!(smtp.messages()[0].to, vec!["bob@acme.test".to_owned()]);
    let invitation = link_in(&smtp, 0, "invitation");

    let mut bob = Browser::new(&app);
    let joined = use_link(&mut bob, &invitation, PASSWORD).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    let report = bob.get(W45).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_fixture_numbers(&report.body);
    let bob_csrf = page_csrf(&mut bob).await;
    let (status, _) = bob
        .send_json(
            "DELETE",
            "/api/v1/kpis/custom/none",
            Some(&bob_csrf),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an editor may write");

    let (status, members) = ada
        .send_json("GET", "/api/v1/members", None, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    let list = members["members"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{members}");
    let id_of = |email: &str| {
        list.iter().find(|m| m["email"] == email).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (bob_id, ada_id) = (id_of("bob@acme.test"), id_of("ada@acme.test"));

    let (status, reply) = ada
        .send_json(
            "PUT",
            &format!("/api/v1/members/{bob_id}"),
            Some(&csrf),
            &json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, _) = bob
        .send_json(
            "DELETE",
            "/api/v1/kpis/custom/none",
            Some(&bob_csrf),
            &json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer's writes are refused at once"
    );
    assert_eq!(bob.get(W45).await.status, StatusCode::OK, "a viewer reads");

    // The last admin can neither be demoted nor removed.
    for (method, body) in [("PUT", json!({"role": "editor"})), ("DELETE", json!({}))] {
        let (status, reply) = ada
            .send_json(
                method,
                &format!("/api/v1/members/{ada_id}"),
                Some(&csrf),
                &body,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {reply}");
        assert_eq!(reply["field"], "role", "{reply}");
    }

    let (status, reply) = ada
        .send_json(
            "DELETE",
            &format!("/api/v1/members/{bob_id}"),
            Some(&csrf),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
    let after = bob.get(W45).await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the removed member's session ended"
    );
    assert!(after.location.unwrap().starts_with("/login"));
    let again = sign_in(&mut bob, "bob@acme.test", PASSWORD).await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "no team left to sign in to"
    );
}

async fn links_work_once_and_expire(b: Backend) {
    let (app, team, smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    assert_eq!(
        use_link(&mut ada, &link, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let reused = ada.get(&link).await;
    assert_eq!(
        reused.status,
        StatusCode::FORBIDDEN,
        "a password link works once"
    );

    // A reset by e-mail: the link works once, the old password stops working.
    let mut anon = Browser::new(&app);
    let form = anon.get("/login/forgot").await;
    let csrf = form_csrf(&form);
    let sent = anon
        .post_form(
            "/login/forgot",
            &[("csrf", &csrf), ("email", "ADA@acme.test")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    smtp.wait_for(1, WAIT).await.unwrap();
    let reset = link_in(&smtp, 0, "password");
    let new = "another long passphrase";
    assert_eq!(
        use_link(&mut anon, &reset, new).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(anon.get(&reset).await.status, StatusCode::FORBIDDEN);
    let form = anon.get("/login/forgot").await;
    let csrf = form_csrf(&form);
    let reposted = anon
        .post_form(
            &reset,
            &[("csrf", &csrf), ("password", "yet another passphrase")],
        )
        .await;
    assert_eq!(
        reposted.status,
        StatusCode::FORBIDDEN,
        "a used link refuses a post"
    );
    assert_eq!(
        ada.get("/").await.status,
        StatusCode::SEE_OTHER,
        "a new password ends the old sessions"
    );
    let mut fresh = Browser::new(&app);
    assert_eq!(
        sign_in(&mut fresh, "ada@acme.test", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&mut fresh, "ada@acme.test", new).await.status,
        StatusCode::SEE_OTHER
    );

    // Expired links.
    let long_ago = Utc::now() - chrono::Duration::days(8);
    let (_, old_reset) = people::issue_password_link(app.db(), "ada@acme.test", long_ago)
        .await
        .unwrap()
        .unwrap();
    let expired = anon.get(&format!("/login/password/{old_reset}")).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    let old_invite = people::invite(
        app.db(),
        team.id,
        "cy@acme.test",
        Role::Viewer,
        None,
        long_ago,
    )
    .await
    .unwrap();
    let expired = anon.get(&format!("/login/invitation/{old_invite}")).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);

    // Reset e-mails are limited per address (429 with Retry-After).
    let mut last = StatusCode::OK;
    let mut retry_after = None;
    for _ in 0..5 {
        let form = anon.get("/login/forgot").await;
        let csrf = form_csrf(&form);
        let page = anon
            .post_form(
                "/login/forgot",
                &[("csrf", &csrf), ("email", "nobody@acme.test")],
            )
            .await;
        last = page.status;
        retry_after = page
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some());
}

async fn a_wrong_password_and_an_unknown_address_look_alike(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;

    let mut x = Browser::new(&app);
    let wrong = sign_in(&mut x, "ada@acme.test", "not the password").await;
    let unknown = sign_in(&mut x, "nobody@acme.test", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let error = |p: &Page| attr_after(&p.body, "id=\"password-error\" role=\"alert\">").len();
    let msg = |p: &Page| {
        let at = p.body.find("id=\"password-error\"").unwrap();
        p.body[at..].split("</p>").next().unwrap().to_owned()
    };
    assert_eq!(error(&wrong), error(&unknown));
    assert_eq!(msg(&wrong), msg(&unknown));
    // Past the per-account limit even the right password fails the same way.
    for _ in 0..6 {
        sign_in(&mut x, "ada@acme.test", "still not it").await;
    }
    let limited = sign_in(&mut x, "ada@acme.test", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::UNAUTHORIZED);
    assert_eq!(msg(&limited), msg(&wrong));
}

async fn a_person_of_two_teams_sees_only_the_chosen_team(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let (other_id, _) = app.team("zeta", "UTC", Role::Admin).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    people::create_member(
        app.db(),
        "ada@acme.test",
        other_id,
        Role::Viewer,
        Utc::now(),
    )
    .await
    .unwrap();
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;
    let (_, me) = ada.send_json("GET", "/api/v1/team", None, &json!({})).await;
    let first = me["slug"].as_str().unwrap().to_owned();
    let report = ada.get(W45).await;
    assert!(
        report.body.contains("id=\"team-switch\""),
        "{}",
        report.body
    );
    let csv_first = ada.get("/reports/weekly.csv?period=2026-W45").await.body;

    let target = if first == "zeta" { team.id } else { other_id };
    let csrf = page_csrf(&mut ada).await;
    let switched = ada
        .post_form(
            "/team/switch",
            &[("csrf", &csrf), ("team_id", &target.to_string())],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    let (_, me) = ada.send_json("GET", "/api/v1/team", None, &json!({})).await;
    assert_ne!(me["slug"].as_str().unwrap(), first);
    let csv_second = ada.get("/reports/weekly.csv?period=2026-W45").await.body;
    assert_ne!(csv_first, csv_second, "the export follows the chosen team");

    // Not a member: refused.
    let csrf = page_csrf(&mut ada).await;
    let refused = ada
        .post_form("/team/switch", &[("csrf", &csrf), ("team_id", "99999")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

async fn signing_out_everywhere_ends_every_session_of_the_person(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut laptop = Browser::new(&app);
    use_link(&mut laptop, &link, PASSWORD).await;
    let mut phone = Browser::new(&app);
    assert_eq!(
        sign_in(&mut phone, "ada@acme.test", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(phone.get("/").await.status, StatusCode::OK);
    let csrf = page_csrf(&mut laptop).await;
    let out = laptop
        .post_form("/logout/everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/").await.status, StatusCode::SEE_OTHER);
}

fn lodestar(db_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lodestar"))
        .args(args)
        .env("LODESTAR_DATABASE__URL", db_url)
        .env("LODESTAR_LOG__FILTER", "warn")
        .output()
        .expect("running lodestar")
}

async fn the_cli_prints_a_set_password_link_and_lists_people(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let slug = lodestar_store::teams::find_by_id(app.db(), team.id)
        .await
        .unwrap()
        .unwrap()
        .slug;
    let out = lodestar(
        &app.database_url,
        &[
            "user",
            "create",
            "Ada@acme.test",
            "--team",
            &slug,
            "--role",
            "admin",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let at = printed.find("/login/password/").expect(&printed);
    let path = printed[at..].trim().to_owned();
    let mut ada = Browser::new(&app);
    let set = use_link(&mut ada, &path, PASSWORD).await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    assert_eq!(ada.get(W45).await.status, StatusCode::OK);
    let mut again = Browser::new(&app);
    assert_eq!(
        sign_in(&mut again, "ada@acme.test", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let out = lodestar(&app.database_url, &["user", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        list["users"],
        json!([{"id": list["users"][0]["id"], "email": "ada@acme.test", "password_set": true,
                "teams": [{"team": slug, "role": "admin"}]}])
    );
    let bad = lodestar(
        &app.database_url,
        &["user", "create", "x@acme.test", "--team", "nope"],
    );
    assert!(!bad.status.success());
}

async fn the_csv_export_takes_a_bearer_token_until_it_is_revoked(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let token = app.token(team.id, Role::Viewer).await;
    let csv = |t: String| {
        let client = app.client.clone();
        let url = format!("{}/reports/weekly.csv?period=2026-W45", app.base);
        async move {
            let mut resp = client
                .get(url)
                .insert_header(("Authorization", format!("Bearer {t}")))
                .send()
                .await
                .unwrap();
            let body = resp.body().await.unwrap();
            (resp.status(), String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (status, body) = csv(token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.lines().count() > 10, "{body}");
    let (status, _) = csv("lsk_wrong".to_owned()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let list = lodestar_store::tokens::list(app.db(), team.id)
        .await
        .unwrap();
    let id = list.last().unwrap().id;
    lodestar_store::tokens::revoke(app.db(), team.id, id, Utc::now())
        .await
        .unwrap();
    let (status, _) = csv(token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "refused at once");
}

async fn a_one_click_link_signs_in_once(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let (_, secret) = people::create_member(
        app.db(),
        "demo@example.com",
        team.id,
        Role::Admin,
        Utc::now(),
    )
    .await
    .unwrap();
    let path = format!("/login/link/{secret}");
    let mut demo = Browser::new(&app);
    let page = demo.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        !page.body.contains("name=\"password\""),
        "no password asked"
    );
    let csrf = form_csrf(&page);
    let signed = demo.post_form(&path, &[("csrf", &csrf)]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let report = demo.get(W45).await;
    assert_eq!(report.status, StatusCode::OK);
    assert_fixture_numbers(&report.body);
    let mut other = Browser::new(&app);
    assert_eq!(other.get(&path).await.status, StatusCode::FORBIDDEN, "once");
}

async fn the_tokens_page_creates_a_token_for_the_csv_export_and_revokes_it(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;
    let page = ada.get("/settings/tokens").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = form_csrf(&page);
    let created = ada
        .post_form(
            "/settings/tokens",
            &[
                ("csrf", &csrf),
                ("label", "spreadsheet"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token = attr_after(
        &created.body,
        "id=\"new-token\" class=\"token-once\" type=\"text\" readonly value=\"",
    );
    assert!(token.starts_with("lsk_"), "{token}");
    assert!(created.body.contains("spreadsheet"));
    assert_eq!(
        ada.get("/settings/tokens")
            .await
            .body
            .matches(&token)
            .count(),
        0,
        "shown once"
    );

    let csv = |t: String| {
        let client = app.client.clone();
        let url = format!("{}/reports/weekly.csv?period=2026-W45", app.base);
        async move {
            client
                .get(url)
                .insert_header(("Authorization", format!("Bearer {t}")))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(csv(token.clone()).await, StatusCode::OK);
    let id = lodestar_store::tokens::list(app.db(), team.id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.label.as_deref() == Some("spreadsheet"))
        .unwrap()
        .id;
    let revoked = ada
        .post_form(&format!("/settings/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(
        csv(token).await,
        StatusCode::UNAUTHORIZED,
        "refused at once"
    );
    let forged = ada
        .post_form("/settings/tokens", &[("csrf", "forged"), ("role", "admin")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

async fn the_members_page_invites_changes_roles_and_removes(b: Backend) {
    let (app, team, smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;
    let page = ada.get("/settings/members").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = form_csrf(&page);
    let bad = ada
        .post_form(
            "/settings/members/invite",
            &[
                ("csrf", &csrf),
                ("email", "not an address"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"invite-email-error\""),
        "{}",
        bad.body
    );
    let sent = ada
        .post_form(
            "/settings/members/invite",
            &[
                ("csrf", &csrf),
                ("email", "cy@acme.test"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    smtp.wait_for(1, WAIT).await.unwrap();
    let invitation = link_in(&smtp, 0, "invitation");
    let mut cy = Browser::new(&app);
    assert_eq!(
        use_link(&mut cy, &invitation, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        cy.get("/settings/members").await.status,
        StatusCode::FORBIDDEN,
        "viewers do not manage"
    );

    let members = people::members(app.db(), team.id).await.unwrap();
    let id_of = |e: &str| members.iter().find(|m| m.email == e).unwrap().user_id;
    let last = ada
        .post_form(
            &format!("/settings/members/{}/remove", id_of("ada@acme.test")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        last.location.as_deref(),
        Some("/settings/members?done=last-admin")
    );
    assert!(
        ada.get("/settings/members?done=last-admin")
            .await
            .body
            .contains("last admin stays admin")
    );
    let promoted = ada
        .post_form(
            &format!("/settings/members/{}/role", id_of("cy@acme.test")),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(
        promoted.location.as_deref(),
        Some("/settings/members?done=role")
    );
    assert_eq!(
        cy.get("/settings/members").await.status,
        StatusCode::OK,
        "now an admin"
    );
    let removed = ada
        .post_form(
            &format!("/settings/members/{}/remove", id_of("cy@acme.test")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        removed.location.as_deref(),
        Some("/settings/members?done=removed")
    );
    assert_eq!(
        cy.get("/").await.status,
        StatusCode::SEE_OTHER,
        "session ended at once"
    );
}

async fn the_team_page_renames_and_moves_the_team_with_errors_at_the_field(b: Backend) {
    let (app, team, _smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;
    let page = ada.get("/settings/team").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = form_csrf(&page);
    let bad = ada
        .post_form(
            "/settings/team",
            &[
                ("csrf", &csrf),
                ("name", "Acme EU"),
                ("timezone", "Mars/Base"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"team-timezone-error\""),
        "{}",
        bad.body
    );
    assert!(!bad.body.contains("id=\"team-currency-error\""));
    assert!(
        bad.body.contains("value=\"Mars/Base\""),
        "what was typed stays"
    );
    let before = lodestar_store::teams::find_by_id(app.db(), team.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(before.name, "Acme EU", "nothing written");

    let saved = ada
        .post_form(
            "/settings/team",
            &[
                ("csrf", &csrf),
                ("name", "Acme EU"),
                ("timezone", "Europe/Berlin"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(
        saved.location.as_deref(),
        Some("/settings/team?done=team"),
        "{}",
        saved.body
    );
    let after = lodestar_store::teams::find_by_id(app.db(), team.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.name, "Acme EU");
    assert_eq!(after.timezone.to_string(), "Europe/Berlin");
    assert_eq!(after.currency.to_string(), "EUR");
    let report = ada.get(W45).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains("Acme EU"));
    assert!(report.body.contains('€'), "money in euros");

    // The daily summaries are rebuilt in the background; moving back to New York when that is
    // done gives every fixture value again, so the rebuild followed the timezone both ways.
    settle_rebuild(&mut ada).await;
    let back = ada
        .post_form(
            "/settings/team",
            &[
                ("csrf", &csrf),
                ("name", "Acme EU"),
                ("timezone", "America/New_York"),
                ("currency", "USD"),
            ],
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    settle_rebuild(&mut ada).await;
    let (status, body) = app
        .get(Some(&team.token), "/api/v1/kpis?period=2026-W45")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected = crate::common::expected_kpis("2026-W45");
    for kpi in body["kpis"].as_array().unwrap() {
        let key = kpi["key"].as_str().unwrap();
        let Some(want) = expected.get(key) else {
            continue;
        };
        match (kpi["value"].as_f64(), want.as_f64()) {
            (Some(a), Some(e)) => assert!(crate::common::close(a, e), "{key}: {a} vs {e}"),
            (a, e) => assert_eq!(a, e, "{key}"),
        }
    }
}

/// Waits until the team page no longer shows a summary rebuild in progress (it refreshes itself
/// while one runs).
async fn settle_rebuild(browser: &mut Browser<'_>) {
    for _ in 0..200 {
        let page = browser.get("/settings/team").await;
        assert!(!page.body.contains("failed"), "{}", page.body);
        if !page.body.contains("Rebuilding the daily summaries") {
            return;
        }
        assert!(page.body.contains("<progress"), "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the rebuild did not finish");
}

async fn open_invitations_are_listed_and_can_be_withdrawn(b: Backend) {
    let (app, team, smtp) = spawn(b).await;
    let link = admin(&app, team.id, "ada@acme.test").await;
    let mut ada = Browser::new(&app);
    use_link(&mut ada, &link, PASSWORD).await;
    let csrf = form_csrf(&ada.get("/settings/members").await);
    for (email, role) in [("bo@acme.test", "editor"), ("cy@acme.test", "viewer")] {
        let sent = ada
            .post_form(
                "/settings/members/invite",
                &[("csrf", &csrf), ("email", email), ("role", role)],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    }
    smtp.wait_for(2, WAIT).await.unwrap();
    let page = ada.get("/settings/members").await.body;
    assert!(page.contains("Invitations not yet accepted"), "{page}");
    assert!(page.contains("<td>bo@acme.test</td>") && page.contains("<td>cy@acme.test</td>"));
    let open = people::pending_invitations(app.db(), team.id, Utc::now())
        .await
        .unwrap();
    let bo = open.iter().find(|i| i.email == "bo@acme.test").unwrap();
    assert_eq!(bo.role, Role::Editor);

    // Another team's admin cannot withdraw it, and a post without the form's token is refused.
    let (other, _) = app.team("other", "UTC", Role::Admin).await;
    let mut eve = Browser::new(&app);
    use_link(
        &mut eve,
        &admin(&app, other, "eve@other.test").await,
        PASSWORD,
    )
    .await;
    let eve_csrf = form_csrf(&eve.get("/settings/members").await);
    let path = format!("/settings/invitations/{}/withdraw", bo.id);
    let foreign = eve.post_form(&path, &[("csrf", &eve_csrf)]).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let forged = ada.post_form(&path, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let done = ada.post_form(&path, &[("csrf", &csrf)]).await;
    assert_eq!(
        done.location.as_deref(),
        Some("/settings/members?done=withdrawn")
    );
    let page = ada.get("/settings/members?done=withdrawn").await.body;
    assert!(page.contains("Invitation withdrawn"), "{page}");
    assert!(!page.contains("<td>bo@acme.test</td>") && page.contains("<td>cy@acme.test</td>"));
    // Bo's link (the first message) no longer works; Cy's still does.
    let bo_link = link_in(&smtp, 0, "invitation");
    let mut bo = Browser::new(&app);
    let dead = bo.get(&bo_link).await;
    assert_eq!(dead.status, StatusCode::FORBIDDEN, "{}", dead.body);
    let mut cy = Browser::new(&app);
    let cy_link = link_in(&smtp, 1, "invitation");
    assert_eq!(
        use_link(&mut cy, &cy_link, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = ada.get("/settings/members").await.body;
    assert!(
        !page.contains("Invitations not yet accepted"),
        "accepted: {page}"
    );
}
