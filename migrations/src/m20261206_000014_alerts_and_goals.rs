//! Schedules get channels (Slack, webhooks) beside their recipients.
//!
//! Goals: a target per (team, KPI, period kind, segment), with its phasing.
//!
//! Alerts: their definitions, each segment's state (in alert or not, and which episode), the
//! events (firings and recoveries) and their deliveries. The unique (event, channel) index on
//! alert deliveries is the claim that keeps a notification exactly-once, as the digests' claim
//! index does: an event itself is unique per (alert, segment, episode, kind).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    TeamId,
    Name,
    Kpi,
    /// The definition as JSON (period, segment by, condition, minimum volume, checks, …).
    Spec,
    /// A JSON array of channels (webhook secrets included).
    Channels,
    /// The person who made it (told when a delivery fails); null when a token made it.
    OwnerUserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertStates {
    Table,
    AlertId,
    /// `""` for an alert without segments.
    Segment,
    Firing,
    /// How many times this segment entered the alert state.
    Episode,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertEvents {
    Table,
    Id,
    AlertId,
    TeamId,
    Segment,
    Episode,
    /// `fired` or `recovered`.
    Kind,
    Period,
    /// The notification's content as JSON: values, threshold, comparison, text.
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AlertDeliveries {
    Table,
    Id,
    EventId,
    AlertId,
    TeamId,
    /// The channel's key (`email:…`, `slack:…`, `webhook:…`).
    Channel,
    Status,
    Attempts,
    Error,
    Response,
    /// `X-Lodestar-Delivery`: the same on every retry.
    DeliveryKey,
    ClaimedAt,
    LeaseUntil,
    Recoveries,
    /// Whether the owner was told of this delivery's final failure.
    OwnerTold,
    SentAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    /// Slack and webhook channels beside the recipients, a JSON array.
    Channels,
}

#[derive(DeriveIden)]
enum Goals {
    Table,
    Id,
    TeamId,
    Kpi,
    PeriodKind,
    /// `""` for a goal of the whole team.
    SegmentBy,
    Segment,
    Target,
    /// `even`, `weekday` or `last_year`.
    Phasing,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Schedules::Table)
                    .add_column(
                        ColumnDef::new(Schedules::Channels)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Goals::Table)
                    .col(pk_auto(Goals::Id))
                    .col(integer(Goals::TeamId))
                    .col(string_len(Goals::Kpi, 64))
                    .col(string_len(Goals::PeriodKind, 16))
                    .col(string_len(Goals::SegmentBy, 200))
                    .col(string_len(Goals::Segment, 200))
                    .col(double(Goals::Target))
                    .col(string_len(Goals::Phasing, 16))
                    .col(big_integer(Goals::CreatedAt))
                    .col(big_integer(Goals::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Goals::Table, Goals::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX goals_identity ON goals \
                 (team_id, kpi, period_kind, segment_by, segment)",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(pk_auto(Alerts::Id))
                    .col(integer(Alerts::TeamId))
                    .col(string_len(Alerts::Name, 200))
                    .col(string_len(Alerts::Kpi, 64))
                    .col(text(Alerts::Spec))
                    .col(text(Alerts::Channels))
                    .col(integer_null(Alerts::OwnerUserId))
                    .col(big_integer(Alerts::CreatedAt))
                    .col(big_integer(Alerts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alerts::Table, Alerts::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alerts_team")
                    .table(Alerts::Table)
                    .col(Alerts::TeamId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertStates::Table)
                    .col(integer(AlertStates::AlertId))
                    .col(string_len(AlertStates::Segment, 200))
                    .col(boolean(AlertStates::Firing).default(false))
                    .col(integer(AlertStates::Episode).default(0))
                    .col(big_integer(AlertStates::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(AlertStates::AlertId)
                            .col(AlertStates::Segment),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertStates::Table, AlertStates::AlertId)
                            .to(Alerts::Table, Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertEvents::Table)
                    .col(pk_auto(AlertEvents::Id))
                    .col(integer(AlertEvents::AlertId))
                    .col(integer(AlertEvents::TeamId))
                    .col(string_len(AlertEvents::Segment, 200))
                    .col(integer(AlertEvents::Episode))
                    .col(string_len(AlertEvents::Kind, 16))
                    .col(string_len(AlertEvents::Period, 32))
                    .col(text(AlertEvents::Detail))
                    .col(big_integer(AlertEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertEvents::Table, AlertEvents::AlertId)
                            .to(Alerts::Table, Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX alert_events_once ON alert_events \
                 (alert_id, segment, episode, kind)",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AlertDeliveries::Table)
                    .col(pk_auto(AlertDeliveries::Id))
                    .col(integer(AlertDeliveries::EventId))
                    .col(integer(AlertDeliveries::AlertId))
                    .col(integer(AlertDeliveries::TeamId))
                    .col(string_len(AlertDeliveries::Channel, 600))
                    .col(string_len(AlertDeliveries::Status, 16))
                    .col(integer(AlertDeliveries::Attempts).default(0))
                    .col(text_null(AlertDeliveries::Error))
                    .col(text_null(AlertDeliveries::Response))
                    .col(string_len(AlertDeliveries::DeliveryKey, 100))
                    .col(big_integer(AlertDeliveries::ClaimedAt))
                    .col(big_integer(AlertDeliveries::LeaseUntil))
                    .col(integer(AlertDeliveries::Recoveries).default(0))
                    .col(boolean(AlertDeliveries::OwnerTold).default(false))
                    .col(big_integer_null(AlertDeliveries::SentAt))
                    .col(big_integer(AlertDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AlertDeliveries::Table, AlertDeliveries::EventId)
                            .to(AlertEvents::Table, AlertEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX alert_deliveries_claim ON alert_deliveries (event_id, channel)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_deliveries_status_lease")
                    .table(AlertDeliveries::Table)
                    .col(AlertDeliveries::Status)
                    .col(AlertDeliveries::LeaseUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "alert_deliveries",
            "alert_events",
            "alert_states",
            "alerts",
            "goals",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Schedules::Table)
                    .drop_column(Schedules::Channels)
                    .to_owned(),
            )
            .await
    }
}
