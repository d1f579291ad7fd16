use chrono::TimeDelta;
use lodestar_core::period::Timezone;

use super::*;
use crate::schedules::{self, ScheduleFields};
use crate::teams;

async fn db_with_schedule() -> (tempfile::TempDir, Db, i32, i32) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url).await.expect("sqlite");
    db.migrate().await.expect("migrations");
    let team = teams::create(&db, "acme", "Acme", &Timezone::default())
        .await
        .expect("a team");
    let fields = ScheduleFields {
        report: "weekly".into(),
        cron: "0 8 * * MON".into(),
        timezone: "UTC".into(),
        recipients: vec!["a@example.com".into(), "b@example.com".into()],
        channels: "[]".to_owned(),
        skip_empty: false,
        paused: false,
    };
    let schedule = schedules::create(&db, team.id, &fields, None, Utc::now())
        .await
        .expect("a schedule");
    (dir, db, team.id, schedule.id)
}

fn claims(recipients: &[&str]) -> Vec<NewDelivery> {
    recipients
        .iter()
        .map(|r| NewDelivery {
            recipient: (*r).to_owned(),
            message_id: format!("<{r}>"),
        })
        .collect()
}

#[tokio::test]
async fn a_period_and_recipient_is_claimed_once_however_often_it_is_tried() {
    let (_dir, db, team, schedule) = db_with_schedule().await;
    let now = Utc::now();
    let lease = now + TimeDelta::seconds(60);
    let won = claim(
        &db,
        (team, schedule),
        "2026-W45",
        &claims(&["a@example.com"]),
        now,
        lease,
    )
    .await
    .expect("claim");
    assert_eq!(won.len(), 1);
    assert_eq!(won[0].status, Status::Pending);
    let again = claim(
        &db,
        (team, schedule),
        "2026-W45",
        &claims(&["a@example.com", "b@example.com"]),
        now,
        lease,
    )
    .await
    .expect("claim");
    assert_eq!(
        again
            .iter()
            .map(|d| d.recipient.as_str())
            .collect::<Vec<_>>(),
        ["b@example.com"]
    );
    let other_period = claim(
        &db,
        (team, schedule),
        "2026-W46",
        &claims(&["a@example.com"]),
        now,
        lease,
    )
    .await
    .expect("claim");
    assert_eq!(other_period.len(), 1);
    // Send-now is logged beside the claim, never blocked by it.
    let manual = insert_manual(
        &db,
        (team, schedule),
        "2026-W45",
        &claims(&["a@example.com"]),
        now,
        lease,
    )
    .await
    .expect("manual");
    assert_eq!(manual.len(), 1);
    let seen = claimed(&db, &[schedule], &["2026-W45".to_owned()])
        .await
        .expect("claimed");
    assert_eq!(seen.len(), 2, "manual rows are not claims: {seen:?}");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_once_then_abandoned() {
    let (_dir, db, team, schedule) = db_with_schedule().await;
    let t0 = Utc::now();
    let row = claim(
        &db,
        (team, schedule),
        "2026-W45",
        &claims(&["a@example.com"]),
        t0,
        t0 + TimeDelta::seconds(10),
    )
    .await
    .expect("claim")
    .remove(0);
    assert!(expired_leases(&db, t0).await.expect("leases").is_empty());
    let t1 = t0 + TimeDelta::seconds(11);
    assert_eq!(expired_leases(&db, t1).await.expect("leases").len(), 1);
    assert!(
        !abandon(&db, row.id, "gone", t1).await.expect("abandon"),
        "not before a take-over"
    );
    let taken = take_over(&db, row.id, t1, t1 + TimeDelta::seconds(10))
        .await
        .expect("take over");
    assert_eq!(taken.map(|d| d.recoveries), Some(1));
    assert!(
        take_over(&db, row.id, t1, t1 + TimeDelta::seconds(10))
            .await
            .expect("take over")
            .is_none(),
        "a live lease is not taken"
    );
    let t2 = t1 + TimeDelta::seconds(11);
    assert!(
        take_over(&db, row.id, t2, t2)
            .await
            .expect("take over")
            .is_none(),
        "only once"
    );
    assert!(
        abandon(&db, row.id, "gone twice", t2)
            .await
            .expect("abandon")
    );
    let row = get(&db, team, row.id).await.expect("get").expect("the row");
    assert_eq!(row.status, Status::Failed);
    assert_eq!(row.error.as_deref(), Some("gone twice"));
    let reopened = reopen_failed(&db, team, row.id, t2, t2 + TimeDelta::seconds(10))
        .await
        .expect("reopen");
    assert_eq!(reopened.map(|d| d.status), Some(Status::Pending));
    assert!(
        reopen_failed(&db, team, row.id, t2, t2)
            .await
            .expect("reopen")
            .is_none()
    );
    assert!(
        reopen_failed(&db, team + 1, row.id, t2, t2)
            .await
            .expect("reopen")
            .is_none()
    );
}

#[tokio::test]
async fn deleting_a_schedule_of_another_team_does_nothing() {
    let (_dir, db, team, schedule) = db_with_schedule().await;
    assert!(
        !schedules::delete(&db, team + 1, schedule)
            .await
            .expect("delete")
    );
    assert!(
        schedules::get(&db, team, schedule)
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        schedules::delete(&db, team, schedule)
            .await
            .expect("delete")
    );
    assert!(
        schedules::find(&db, schedule)
            .await
            .expect("find")
            .is_none()
    );
}
