//! Each condition fires exactly for the segments a computation here says it should, from the
//! KPI API's answers on the fixture; minimum volume, snooze, re-arm after recovery.

use awc::http::StatusCode;
use serde_json::{Value, json};

use super::receiver::Receiver;
use super::{AlertApp, fired_segments, segments};
use crate::backend_tests;
use crate::common::Backend;

backend_tests!(
    each_condition_fires_exactly_for_the_segments_computed_from_the_kpi_api,
    an_alert_re_arms_after_recovery_and_notifies_the_recovery,
    a_goal_alert_fires_for_the_segments_behind_their_goal,
    the_test_endpoint_answers_without_recording_and_sends_only_when_asked,
    an_alert_on_a_cron_is_checked_when_its_time_comes_and_not_on_loads,
);

/// Thursday 26 November 2026, noon in New York (the fixture team's zone).
const NOW: &str = "2026-11-26T17:00:00Z";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn each_condition_fires_exactly_for_the_segments_computed_from_the_kpi_api(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let hook = Receiver::start().await;
    let channels = json!([{"webhook": hook.url("/hook"), "secret": "s3cret"}]);
    let by_channel = |extra: Value| {
        let mut body = json!({"kpi": "leads", "segment_by": "channel", "channels": channels});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // The thresholds come from the fixture's numbers, so they are known only after loading; the
    // alerts exist before the load that checks them. Load, compute, then make the alerts with
    // thresholds, and load the same rows again: the check after that load decides.
    app.load_fixture(app.token()).await;
    let month = segments(&app.kpis("period=mtd&segment_by=channel&keys=leads").await);
    assert!(month.len() >= 4, "{month:?}");
    let t = median(month.iter().filter_map(|(_, v, _)| *v).collect());

    let above = app
        .create_alert(by_channel(
            json!({"period_kind": "month", "condition": {"type": "above", "value": t}}),
        ))
        .await;
    let below = app
        .create_alert(by_channel(
            json!({"period_kind": "month", "condition": {"type": "below", "value": t}}),
        ))
        .await;
    let change = app
        .create_alert(by_channel(json!({"period_kind": "week",
            "condition": {"type": "change", "compare": "previous", "by": 10, "direction": "any"}})))
        .await;
    let year = app
        .create_alert(by_channel(json!({"period_kind": "month",
            "condition": {"type": "change", "compare": "year", "by": 10, "direction": "up"}})))
        .await;
    let anomaly = app
        .create_alert(by_channel(json!({"period_kind": "day",
            "condition": {"type": "anomaly", "sensitivity": 1.0}})))
        .await;
    let volume = app
        .create_alert(by_channel(json!({"period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "min_volume": {"kpi": "leads", "at_least": t}})))
        .await;
    let snoozed = app
        .create_alert(by_channel(
            json!({"period_kind": "month", "snooze_until": "2026-11-26",
            "condition": {"type": "above", "value": t}}),
        ))
        .await;

    app.load_fixture(app.token()).await;
    let report = app.check().await;
    assert_eq!(report.alerts, 7);

    // above / below the median of the month-to-date values.
    let want_above = sorted(
        month
            .iter()
            .filter(|(_, v, _)| v.unwrap() > t)
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    let want_below = sorted(
        month
            .iter()
            .filter(|(_, v, _)| v.unwrap() < t)
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    assert!(
        !want_above.is_empty() && !want_below.is_empty(),
        "{month:?} around {t}"
    );
    assert_eq!(fired_segments(&app.events(above).await), want_above);
    assert_eq!(fired_segments(&app.events(below).await), want_below);

    // change against the same days of the previous week, in percent for a count.
    let week = segments(
        &app.kpis("period=wtd&compare=previous&segment_by=channel&keys=leads")
            .await,
    );
    let want_change = sorted(
        week.iter()
            .filter(|(_, v, p)| match (v, p) {
                (Some(v), Some(p)) if *p != 0.0 => ((v - p) / p.abs() * 100.0).abs() >= 10.0,
                _ => false,
            })
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    assert!(!want_change.is_empty(), "{week:?}");
    assert_eq!(fired_segments(&app.events(change).await), want_change);

    // against a year earlier (no data then: nothing to compare with, nothing fires).
    let last_year = segments(
        &app.kpis("period=mtd&compare=year&segment_by=channel&keys=leads")
            .await,
    );
    let want_year = sorted(
        last_year
            .iter()
            .filter(|(_, v, p)| match (v, p) {
                (Some(v), Some(p)) if *p != 0.0 => (v - p) / p.abs() * 100.0 >= 10.0,
                _ => false,
            })
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    assert_eq!(fired_segments(&app.events(year).await), want_year);

    // anomaly: today against the same weekday of the 8 weeks before.
    let today = segments(
        &app.kpis("period=2026-11-26&segment_by=channel&keys=leads")
            .await,
    );
    let mut history: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for weeks in 1..=8 {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
            - chrono::TimeDelta::days(7 * weeks);
        for (s, v, _) in segments(
            &app.kpis(&format!("period={day}&segment_by=channel&keys=leads"))
                .await,
        ) {
            if let Some(v) = v {
                history.entry(s).or_default().push(v);
            }
        }
    }
    let mut want_anomaly = Vec::new();
    let mut judged = 0;
    for (s, v, _) in &today {
        let past = history.get(s).cloned().unwrap_or_default();
        if past.len() < 6 {
            continue;
        }
        judged += 1;
        let mid = median(past.clone());
        let mad = median(past.iter().map(|x| (x - mid).abs()).collect());
        let (lo, hi) = (mid - 1.4826 * mad, mid + 1.4826 * mad);
        let v = v.unwrap();
        if v < lo || v > hi {
            want_anomaly.push(s.clone());
        }
    }
    assert!(judged > 0, "no segment has 6 weeks of history: {history:?}");
    assert_eq!(
        fired_segments(&app.events(anomaly).await),
        sorted(want_anomaly)
    );

    // minimum volume: above 0, only where leads ≥ t.
    let want_volume = sorted(
        month
            .iter()
            .filter(|(_, v, _)| v.unwrap() > 0.0 && v.unwrap() >= t)
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    assert_ne!(
        want_volume.len(),
        month.len(),
        "the minimum must leave some segment out"
    );
    assert_eq!(fired_segments(&app.events(volume).await), want_volume);

    // snoozed through today: nothing; once the snooze is lifted, what holds fires.
    assert!(app.events(snoozed).await.is_empty());
    let (status, reply) = app
        .put_json(
            Some(app.token()),
            &format!("/api/v1/alerts/{snoozed}"),
            &by_channel(json!({"period_kind": "month", "snooze_until": "2026-11-25",
                "condition": {"type": "above", "value": t}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    app.check().await;
    assert_eq!(fired_segments(&app.events(snoozed).await), want_above);

    // One webhook delivery per firing, each naming its KPI, segment, value and link.
    let all_fired: usize = [
        &want_above,
        &want_below,
        &want_change,
        &want_year,
        &want_volume,
        &want_above,
    ]
    .iter()
    .map(|v| v.len())
    .sum::<usize>()
        + app.events(anomaly).await.len();
    let got = hook.wait_for(all_fired).await;
    assert_eq!(got.len(), all_fired);
    for r in &got {
        let body = r.json();
        let d = &body["detail"];
        assert_eq!(d["kpi"], "leads");
        assert!(d["segment"].is_string(), "{body}");
        assert!(d["value"].is_number(), "{body}");
        assert!(
            body["link"]
                .as_str()
                .unwrap()
                .contains("segment_by=channel&segment="),
            "{body}"
        );
    }
    // A second check changes nothing.
    let again = app.check().await;
    assert!(again.events.is_empty(), "{:?}", again.events);
}

/// Days of November with their lead counts, in order.
async fn daily(app: &AlertApp) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for d in 1..=28 {
        let day = format!("2026-11-{d:02}");
        let reply = app.kpis(&format!("period={day}&keys=leads")).await;
        out.push((day, reply["kpis"][0]["value"].as_f64().unwrap()));
    }
    out
}

async fn an_alert_re_arms_after_recovery_and_notifies_the_recovery(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let slack = Receiver::start().await;
    app.load_fixture(app.token()).await;
    // Three days high, low, high around a threshold, found in the fixture's numbers.
    let days = daily(&app).await;
    let mut pick = None;
    'search: for i in 0..days.len() {
        for j in i + 1..days.len() {
            for k in j + 1..days.len() {
                let t = days[i].1.min(days[k].1) - 0.5;
                if days[j].1 < t {
                    pick = Some((i, j, k, t));
                    break 'search;
                }
            }
        }
    }
    let (i, j, k, t) = pick.expect("a high, low, high pattern");
    let alert = app
        .create_alert(
            // Checked only when the test says (the check after the fixture's last load may still
            // be running in the background, at another "now").
            json!({"kpi": "leads", "period_kind": "day", "notify_recovery": true,
            "check": {"on_data": false, "cron": "0 0 0 1 1 *"},
            "condition": {"type": "above", "value": t},
            "channels": [{"slack": slack.url("/services/T0/B0/x")}]}),
        )
        .await;
    let noon = |day: &str| format!("{day}T17:00:00Z");
    app.clock.set(&noon(&days[i].0));
    app.check().await;
    app.clock.set(&noon(&days[j].0));
    app.check().await;
    app.check().await;
    app.clock.set(&noon(&days[k].0));
    app.check().await;
    let events = app.events(alert).await;
    let kinds: Vec<(String, i64, String)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["episode"].as_i64().unwrap(),
                e["period"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("fired".to_owned(), 1, days[i].0.clone()),
            ("recovered".to_owned(), 1, days[j].0.clone()),
            ("fired".to_owned(), 2, days[k].0.clone()),
        ]
    );
    // Slack got all three, each with a text fallback and blocks.
    let got = slack.wait_for(3).await;
    assert_eq!(got.len(), 3);
    for r in &got {
        let body = r.json();
        assert!(body["text"].as_str().unwrap().contains("Leads"), "{body}");
        assert!(body["blocks"].as_array().unwrap().len() >= 2, "{body}");
        assert_eq!(r.signature, None);
    }
    assert!(
        got[1].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("Recovered")
    );
    // A changed definition re-arms: what still holds is a new episode, notified anew.
    let (status, reply) = app
        .put_json(
            Some(app.token()),
            &format!("/api/v1/alerts/{alert}"),
            &json!({"kpi": "leads", "period_kind": "day",
                "check": {"on_data": false, "cron": "0 0 0 1 1 *"},
                "condition": {"type": "above", "value": t},
                "channels": [{"slack": slack.url("/services/T0/B0/x")}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    app.check().await;
    let events = app.events(alert).await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[3]["kind"], "fired");
    assert_eq!(events[3]["episode"], 3);
    assert_eq!(events[3]["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(slack.wait_for(4).await.len(), 4);
}

async fn a_goal_alert_fires_for_the_segments_behind_their_goal(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    app.load_fixture(app.token()).await;
    let month = segments(&app.kpis("period=mtd&segment_by=channel&keys=leads").await);
    // Two channels get goals: one far above its pace (behind), one far below (ahead); the
    // others have none and are not judged.
    let (behind, ahead) = (&month[0], &month[1]);
    let share = 26.0 / 30.0;
    for (seg, target) in [
        (&behind.0, behind.1.unwrap() / share * 2.0),
        (
            &ahead.0,
            behind.1.unwrap().min(ahead.1.unwrap()) / share / 2.0,
        ),
    ] {
        let (status, reply) = app
            .put_json(Some(app.token()), "/api/v1/goals/leads",
                &json!({"period_kind": "month", "target": target, "segment_by": "channel", "segment": seg}))
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    let by_segment = app
        .create_alert(
            json!({"kpi": "leads", "period_kind": "month", "segment_by": "channel",
            "condition": {"type": "goal", "status": "behind"}}),
        )
        .await;
    let missed = app
        .create_alert(
            json!({"kpi": "leads", "period_kind": "month", "last_complete": true,
            "segment_by": "channel", "condition": {"type": "goal", "status": "missed"}}),
        )
        .await;
    app.check().await;
    let want: Vec<String> = month
        .iter()
        .filter(|(s, v, _)| {
            let target = if *s == behind.0 {
                behind.1.unwrap() / share * 2.0
            } else if *s == ahead.0 {
                behind.1.unwrap().min(ahead.1.unwrap()) / share / 2.0
            } else {
                return false;
            };
            v.unwrap() < 0.95 * target * share
        })
        .map(|(s, _, _)| s.clone())
        .collect();
    assert_eq!(want, vec![behind.0.clone()]);
    assert_eq!(fired_segments(&app.events(by_segment).await), want);
    // October (the last complete month) against the same targets: missed where it fell short.
    let october = segments(
        &app.kpis("period=2026-10&segment_by=channel&keys=leads")
            .await,
    );
    let want_missed: Vec<String> = sorted(
        october
            .iter()
            .filter(|(s, v, _)| {
                let target = if *s == behind.0 {
                    behind.1.unwrap() / share * 2.0
                } else if *s == ahead.0 {
                    behind.1.unwrap().min(ahead.1.unwrap()) / share / 2.0
                } else {
                    return false;
                };
                v.unwrap_or(0.0) < target
            })
            .map(|(s, _, _)| s.clone())
            .collect(),
    );
    assert_eq!(fired_segments(&app.events(missed).await), want_missed);
}

async fn the_test_endpoint_answers_without_recording_and_sends_only_when_asked(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    app.load_fixture(app.token()).await;
    let hook = Receiver::start().await;
    let alert = app
        .create_alert(
            // Not on data loads: the check after the fixture's last load may still be running
            // in the background, and this test is about what the test endpoint records.
            json!({"name": "Any leads", "kpi": "leads", "period_kind": "month",
            "check": {"on_data": false, "cron": "0 0 0 1 1 *"},
            "condition": {"type": "above", "value": 0},
            "channels": [{"webhook": hook.url("/t"), "secret": "s"}]}),
        )
        .await;
    let path = format!("/api/v1/alerts/{alert}/test");
    let (status, reply) = app.post_json(Some(app.token()), &path, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["segments"][0]["verdict"], "holds", "{reply}");
    assert!(reply["segments"][0].get("sent").is_none());
    assert!(hook.received().is_empty());
    let (status, reply) = app
        .post_json(Some(app.token()), &path, &json!({"send": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["segments"][0]["sent"][0]["ok"], true, "{reply}");
    assert_eq!(hook.wait_for(1).await.len(), 1);
    assert!(app.events(alert).await.is_empty(), "a test records nothing");

    // An anomaly with too little history is not judged, and says so.
    let mut history = 0;
    for m in 2..=9 {
        let reply = app.kpis(&format!("period=2026-{m:02}&keys=ctr")).await;
        if reply["kpis"][0]["value"].is_number() {
            history += 1;
        }
    }
    assert!(history < 6, "{history}");
    let anomaly = app
        .create_alert(json!({"kpi": "ctr", "period": "2026-10",
            "condition": {"type": "anomaly", "sensitivity": 3}}))
        .await;
    let (_, reply) = app
        .post_json(
            Some(app.token()),
            &format!("/api/v1/alerts/{anomaly}/test"),
            &json!({}),
        )
        .await;
    let seg = &reply["segments"][0];
    assert_eq!(seg["verdict"], "unknown", "{reply}");
    let text = seg["detail"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("only {history} comparable period")) && text.contains("needs 6"),
        "{text}"
    );

    // Bad fields are named; other teams see nothing.
    for (body, field) in [
        (
            json!({"kpi": "no_such_kpi", "period_kind": "week", "condition": {"type": "above", "value": 1}}),
            "kpi",
        ),
        (
            json!({"kpi": "leads", "period_kind": "week", "condition": {"type": "above", "value": 1},
                "channels": [{"webhook": "http://x.example/"}]}),
            "channels",
        ),
        (
            json!({"kpi": "leads", "period_kind": "week", "condition": {"type": "above", "value": 1},
                "check": {"on_data": true, "cron": "not a cron"}}),
            "check",
        ),
    ] {
        let (status, reply) = app
            .post_json(Some(app.token()), "/api/v1/alerts", &body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
        assert_eq!(reply["field"], field, "{reply}");
    }
    let (_, other) = app
        .team("elsewhere", "UTC", lodestar_store::tokens::Role::Admin)
        .await;
    let (status, _) = app
        .get(Some(&other), &format!("/api/v1/alerts/{alert}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post_json(Some(&other), &path, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(Some(&other), &format!("/api/v1/alerts/{alert}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(Some(&other), "/api/v1/alerts").await;
    assert_eq!(list, json!([]));
    let (status, reply) = app
        .get(Some(app.token()), &format!("/api/v1/alerts/{alert}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reply["channels"][0],
        json!({"webhook": hook.url("/t"), "secret_set": true})
    );
    let (status, _) = app
        .delete(Some(app.token()), &format!("/api/v1/alerts/{alert}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn an_alert_on_a_cron_is_checked_when_its_time_comes_and_not_on_loads(backend: Backend) {
    let app = AlertApp::spawn(backend, NOW).await;
    let hook = Receiver::start().await;
    let alert = app
        .create_alert(json!({"kpi": "leads", "period_kind": "month",
            "condition": {"type": "above", "value": 0},
            "check": {"on_data": false, "cron": "0 0 9 * * *", "timezone": "Europe/Berlin"},
            "channels": [{"webhook": hook.url("/cron"), "secret": "c"}]}))
        .await;
    app.load_fixture(app.token()).await;
    let team = lodestar_store::teams::find_by_id(app.db(), app.fixture.id)
        .await
        .unwrap()
        .unwrap();
    let after_load = app.scheduler().check_alerts(&team, true).await.unwrap();
    assert_eq!(after_load.alerts, 0, "not checked on loads");
    assert!(app.events(alert).await.is_empty());
    // 09:00 in Berlin today (08:00 UTC) has passed at 17:00 UTC: checked once for it.
    assert_eq!(app.scheduler().check_due_alerts().await.unwrap(), 1);
    assert_eq!(app.events(alert).await.len(), 1);
    assert_eq!(app.scheduler().check_due_alerts().await.unwrap(), 0);
    // Before 09:00 Berlin the next day, nothing is due; after it, the alert is checked again
    // (still in the alert state: nothing new to say).
    app.clock.set("2026-11-27T07:59:00Z");
    assert_eq!(app.scheduler().check_due_alerts().await.unwrap(), 0);
    app.clock.set("2026-11-27T08:00:00Z");
    assert_eq!(app.scheduler().check_due_alerts().await.unwrap(), 1);
    assert_eq!(app.events(alert).await.len(), 1);
    assert_eq!(hook.wait_for(1).await.len(), 1);
    let (_, stored) = app
        .get(Some(app.token()), &format!("/api/v1/alerts/{alert}"))
        .await;
    assert_eq!(stored["check"]["timezone"], "Europe/Berlin", "{stored}");
    assert_eq!(stored["check"]["on_data"], false, "{stored}");
}
