//! A real headless Chromium: it renders the weekly report without console errors, and drives
//! the script editor over the DevTools protocol (`common::cdp`). Skipped when no Chromium is
//! installed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use lodestar_core::catalog::Unit;
use lodestar_report::format::format_value;
use serde_json::Value;

use crate::common::cdp::{Cdp, HEADLESS_FLAGS, artifacts_dir, chromium_or_skip};
use crate::common::shown as shown_value;
use crate::common::{Backend, Browser, FixtureTeam, TestApp};

use super::{W45, card, expected_case, share_token};

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with a fresh profile, killing it if it hangs.
fn run_chromium(bin: &PathBuf, args: &[String]) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(HEADLESS_FLAGS)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Run {
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Console errors, failed loads and CSP refusals Chromium logged.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Failed to load")
                || l.contains(":ERROR:CONSOLE")
        })
        .collect()
}

#[actix_web::test]
async fn a_real_browser_renders_the_weekly_report() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { id: team_id, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let token = share_token(&app, team_id, "weekly", "2026-W45", Days::hours(1)).await;
    let url = format!("{}{W45}&share={token}", app.base);
    let dir = artifacts_dir();

    let dom = {
        let bin = bin.clone();
        let url = url.clone();
        actix_web::rt::task::spawn_blocking(move || run_chromium(&bin, &["--dump-dom".into(), url]))
            .await
            .unwrap()
    };
    let expected = expected_case("2026-W45");
    for key in ["leads", "cpl", "roi", "nps", "time_to_conversion_days"] {
        let shown = shown_value(key, expected[key].as_f64());
        assert!(
            card(&dom.stdout, key).contains(&format!(">{shown}</div>")),
            "{key}: {shown} not rendered; stderr: {}",
            dom.stderr
        );
    }
    assert!(dom.stdout.contains("Week 45, 2026 (Nov 2 – Nov 8)"));
    assert!(dom.stdout.contains("<polyline"), "sparklines render");
    let errors = page_errors(&dom.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    for (name, size) in [
        ("report-1280.png", "1280,4800"),
        ("report-390.png", "390,11000"),
    ] {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let bin = bin.clone();
        let url = url.clone();
        let arg = format!("--screenshot={}", path.display());
        let run = actix_web::rt::task::spawn_blocking(move || {
            run_chromium(&bin, &[arg, format!("--window-size={size}"), url])
        })
        .await
        .unwrap();
        let png = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}; {}", path.display(), run.stderr));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{name}: {} bytes",
            png.len()
        );
        let errors = page_errors(&run.stderr);
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }
}

/// Drives a real Chromium over its DevTools protocol (`common::cdp`): signs in with a session
/// cookie, runs the script editor's default script, shows a script error at its line, saves the
/// KPI and lists its history, all through the page's own JavaScript.
#[actix_web::test]
async fn a_real_browser_runs_and_saves_a_script_in_the_editor() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { token, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let mut me = Browser::new(&app);
    me.sign_in(&token, "/").await;
    let session = me.cookies["lodestar_session"].clone();
    let mut cdp = Cdp::launch(&bin).await;

    macro_rules! eval {
        ($js:expr) => {
            cdp.eval($js).await
        };
    }
    macro_rules! wait_status {
        ($what:expr) => {{
            let started = Instant::now();
            loop {
                let s = eval!("document.getElementById('status').textContent");
                let s = s.as_str().unwrap_or_default().to_owned();
                if !s.is_empty() && !s.ends_with('…') {
                    break s;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "{} timed out",
                    $what
                );
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        }};
    }

    cdp.set_cookie("lodestar_session", &session, &app.base)
        .await;
    cdp.navigate(&format!("{}/scripts", app.base)).await;
    cdp.wait_for(
        "typeof document.getElementById('run') === 'object'",
        "the editor loading",
    )
    .await;
    assert_eq!(eval!("document.title"), "Scripts · Lodestar");
    // The example is a percentage, trailing; periods and splits are offered as lists.
    assert_eq!(eval!("document.getElementById('unit').value"), "percent");
    assert_eq!(eval!("document.getElementById('kind').value"), "trailing");
    assert_eq!(
        eval!("[...document.getElementById('segment_by').options].map(o => o.value).join(',')"),
        ",channel,campaign,source,category"
    );
    let offered = eval!("[...document.querySelectorAll('#periods option')].map(o => o.value)");
    for p in ["wtd", "mtd", "last-28d"] {
        assert!(
            offered.as_array().unwrap().iter().any(|v| v == p),
            "{offered}"
        );
    }

    // Run the default script (gross ROI) on the fixture's week 45, shown as a percentage.
    let _ = eval!(
        "document.getElementById('period').value = '2026-W45'; document.getElementById('unit').value = 'percent'; document.getElementById('run').click()"
    );
    let status = wait_status!("run");
    assert_eq!(status, "Done");
    let w45 = expected_case("2026-W45");
    let gross_roi = w45["revenue"].as_f64().unwrap() / w45["total_spend"].as_f64().unwrap() * 100.0;
    assert_eq!(
        eval!("document.getElementById('result-value').textContent"),
        format_value(Unit::Percent, Some(gross_roi)).as_str()
    );

    // A script error is shown with its line, and the gutter marks it.
    let _ = eval!(
        "document.getElementById('script').value = 'let x = 1;\\nlet y = ;\\nx'; document.getElementById('run').click()"
    );
    let status = wait_status!("failing run");
    assert_ne!(status, "Done");
    let error = eval!("document.getElementById('result-error').textContent");
    assert!(error.as_str().unwrap().starts_with("Line 2"), "{error}");
    assert_eq!(
        eval!("document.querySelector('#gutter .err').textContent"),
        "2\n"
    );

    // Save a KPI through the page (session cookie + CSRF header), then see its history.
    let _ = eval!(
        "document.getElementById('script').value = 'metric(\"leads\") * 2'; document.getElementById('key').value = 'double_leads'; document.getElementById('name').value = 'Double leads'; document.getElementById('unit').value = 'count'; document.getElementById('save').click()"
    );
    let status = wait_status!("save");
    assert_eq!(status, "Saved as version 1");
    let started = Instant::now();
    while !eval!("document.getElementById('history').textContent")
        .as_str()
        .unwrap_or_default()
        .contains("Version 1")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no history shown"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, catalog) = app.get(Some(&token), "/api/v1/catalog").await;
    assert!(catalog.to_string().contains("double_leads"), "{catalog}");
    // The "Open" list has it without a reload.
    assert_eq!(
        eval!("document.getElementById('open').value"),
        "double_leads"
    );
    assert!(
        eval!(
            "[...document.getElementById('open').options].some(o => o.textContent === 'Double leads (double_leads)')"
        ) == serde_json::Value::Bool(true)
    );
    // A rolling window runs too, split by channel.
    let _ = eval!(
        "document.getElementById('period').value = 'last-28d'; document.getElementById('segment_by').value = 'channel'; document.getElementById('run').click()"
    );
    assert_eq!(wait_status!("rolling run"), "Done");

    let errors = cdp.errors();
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
}

/// A phone-sized real Chromium (390 px wide) over the DevTools protocol: a new admin sets a
/// password through their one-time link, an invited person accepts with a too-short password
/// (the error shows at the field), then a good one, and signs in again through the form. No page
/// scrolls sideways and the browser reports no errors.
/// Waits for a page whose title is `title` to have loaded, and checks it fits 390 px.
async fn wait_page(cdp: &mut Cdp, title: &str) {
    let wanted = serde_json::to_string(&format!("{title} · Lodestar")).unwrap();
    cdp.wait_for(
        &format!("document.readyState === 'complete' && document.title === {wanted}"),
        &format!("the page `{title}`"),
    )
    .await;
    let width = cdp
        .eval("document.documentElement.scrollWidth")
        .await
        .as_i64()
        .unwrap();
    assert!(width <= 390, "{title} scrolls sideways: {width} px");
}

#[actix_web::test]
async fn a_real_phone_sized_browser_sets_a_password_accepts_an_invitation_and_signs_in() {
    use lodestar_store::people;
    use lodestar_store::tokens::Role;

    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, FixtureTeam { id: team_id, .. }) = TestApp::with_fixture(Backend::Sqlite).await;
    let now = chrono::Utc::now();
    let (_, admin_secret) =
        people::create_member(app.db(), "ada@acme.test", team_id, Role::Admin, now)
            .await
            .unwrap();
    let (zeta, _) = app.team("zeta", "UTC", Role::Admin).await;
    people::create_member(app.db(), "ada@acme.test", zeta, Role::Viewer, now)
        .await
        .unwrap();
    let invitation = people::invite(app.db(), team_id, "bob@acme.test", Role::Viewer, None, now)
        .await
        .unwrap();

    let mut cdp = Cdp::launch(&bin).await;
    cdp.set_width(390).await;
    let base = app.base.clone();

    // The admin's link from `lodestar user create`: set a password, land on the team's home.
    cdp.navigate(&format!("{base}/login/password/{admin_secret}"))
        .await;
    wait_page(&mut cdp, "Set your password").await;
    assert_eq!(
        cdp.eval("document.activeElement.id").await,
        "password",
        "focus starts at the field"
    );
    assert_eq!(
        cdp.eval("document.querySelector('label[for=password]').textContent")
            .await,
        "New password"
    );
    cdp.eval("document.getElementById('password').value = 'a long enough passphrase'; document.querySelector('form').submit(); true").await;
    wait_page(&mut cdp, "Home").await;
    assert_eq!(
        cdp.eval("document.querySelectorAll('#team-switch option').length")
            .await,
        2,
        "a person of two teams has the switcher"
    );
    for (path, title) in [
        ("/settings/members", "Members"),
        ("/settings/team", "Team"),
        ("/settings/tokens", "API tokens"),
    ] {
        cdp.navigate(&format!("{base}{path}")).await;
        wait_page(&mut cdp, title).await;
    }
    cdp.eval("document.getElementById('token-label').value = 'phone'; document.querySelector('form[action=\"/settings/tokens\"]').submit(); true").await;
    cdp.wait_for(
        "!!document.getElementById('new-token') && document.getElementById('new-token').value !== ''",
        "the new token shown once",
    )
    .await;
    wait_page(&mut cdp, "API tokens").await;

    // Signed out, the invited person opens their link in the same browser.
    cdp.eval("document.querySelector('form[action=\"/logout\"]').submit(); true")
        .await;
    wait_page(&mut cdp, "Sign in").await;
    cdp.navigate(&format!("{base}/login/invitation/{invitation}"))
        .await;
    wait_page(&mut cdp, "Accept the invitation").await;
    cdp.eval("document.getElementById('password').value = 'short'; document.querySelector('form').submit(); true").await;
    cdp.wait_for(
        "!!document.getElementById('password-error') && document.getElementById('password-error').textContent !== ''",
        "the error at the field",
    )
    .await;
    assert_eq!(
        cdp.eval("document.getElementById('password').getAttribute('aria-invalid')")
            .await,
        "true"
    );
    wait_page(&mut cdp, "Accept the invitation").await;
    cdp.eval("document.getElementById('password').value = 'bob has a long passphrase'; document.querySelector('form').submit(); true").await;
    wait_page(&mut cdp, "Home").await;

    // Sign out and in again with the keyboard alone: type the address, Tab to the password,
    // Enter to sign in.
    cdp.eval("document.querySelector('form[action=\"/logout\"]').submit(); true")
        .await;
    wait_page(&mut cdp, "Sign in").await;
    cdp.eval("document.getElementById('email').focus(); true")
        .await;
    cdp.type_text("bob@acme.test").await;
    cdp.press("Tab").await;
    assert_eq!(
        cdp.eval("document.activeElement.id").await,
        "password",
        "Tab goes from the address to the password"
    );
    cdp.type_text("bob has a long passphrase").await;
    cdp.press_and_load("Enter").await;
    wait_page(&mut cdp, "Home").await;
    // The team switcher and sign-out are reachable by Tab from the top of the page.
    let mut reached = Vec::new();
    for _ in 0..30 {
        cdp.press("Tab").await;
        reached.push(
            cdp.eval(
                "(document.activeElement.textContent || document.activeElement.id || '').trim()",
            )
            .await,
        );
    }
    assert!(
        reached.iter().any(|r| r == "Sign out"),
        "Tab reaches Sign out: {reached:?}"
    );
    cdp.navigate(&format!("{base}{W45}")).await;
    cdp.wait_for(
        "document.body.innerText.includes('Week 45, 2026')",
        "the report",
    )
    .await;

    // The refused short password is a 422 on purpose.
    let errors: Vec<&Value> = cdp
        .errors()
        .into_iter()
        .filter(|e| {
            !e["params"]["entry"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("status of 422")
        })
        .collect();
    assert!(errors.is_empty(), "browser errors: {errors:#?}");
}
