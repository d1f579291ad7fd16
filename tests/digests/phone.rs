//! The digest's HTML in a real Chromium at 320 px, as sent and with its `<style>` element
//! stripped (as some mail clients do): no horizontal overflow and no word broken across lines.
//! Screenshots and the HTML are kept as test artifacts (`digest-*`). Skipped without Chromium.

use serde_json::json;

use crate::common::Backend;
use crate::common::cdp::{Cdp, artifacts_dir, chromium_or_skip};

use super::{WAIT, at, fixture_app, part};

/// `html` without its `<style>` element.
fn without_style(html: &str) -> String {
    let start = html.find("<style>").expect("a style element");
    let end = html.find("</style>").expect("a closed style element") + "</style>".len();
    format!("{}{}", &html[..start], &html[end..])
}

#[actix_web::test]
async fn the_digest_fits_320_px_with_and_without_its_style_element() {
    let Some(bin) = chromium_or_skip() else {
        return;
    };
    let (app, token) = fixture_app(Backend::Sqlite).await;
    let id = app
        .create_schedule(
            &token,
            json!({"report": "weekly", "cron": "0 8 * * MON", "timezone": "America/New_York",
                   "recipients": ["ada@example.com"]}),
        )
        .await;
    let fired = app
        .scheduler
        .fire_at(id, at("2026-11-09T13:00:00Z"))
        .await
        .unwrap();
    assert_eq!(fired.sent, 1, "{fired:?}");
    let mails = app.smtp.wait_for(1, WAIT).await.unwrap();
    let html = part(&mails[0], "text/html");
    let bare = without_style(&html);
    assert!(!bare.contains("<style"), "one style element, now gone");

    let mut cdp = Cdp::launch(&bin).await;
    let mut problems = Vec::new();
    for (name, body) in [("digest", &html), ("digest-nostyle", &bare)] {
        let file = artifacts_dir().join(format!("{name}.html"));
        std::fs::write(&file, body).unwrap();
        for width in [320, 390, 600] {
            cdp.set_width(width).await;
            cdp.navigate(&format!("file://{}", file.display())).await;
            let fit = cdp.fit().await;
            cdp.screenshot(&format!("{name}-{width}.png")).await;
            problems.extend(
                fit.problems()
                    .into_iter()
                    .map(|p| format!("{name} at {width} px: {p}")),
            );
            // The card never grows past 600 px, and the numbers are on screen.
            let card = cdp
                .eval("document.querySelector('table[style*=\"max-width:600px\"]').getBoundingClientRect().width")
                .await;
            assert!(card.as_f64().unwrap() <= 600.0, "{name} at {width}: {card}");
            assert!(
                card.as_f64().unwrap() <= f64::from(width),
                "{name} at {width}: {card}"
            );
            let preheader_shown = cdp
                .eval("document.body.firstElementChild.getClientRects().length")
                .await;
            assert_eq!(preheader_shown, 0, "{name}: the preheader stays hidden");
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
