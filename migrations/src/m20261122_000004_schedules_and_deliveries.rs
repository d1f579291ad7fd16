//! Digest schedules and the delivery log. The log's partial unique index on (schedule, period,
//! recipient) for scheduled deliveries is the claim that keeps a digest exactly-once across
//! firings, restarts and several servers on one database.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    TeamId,
    Report,
    Cron,
    Timezone,
    /// A JSON array of addresses.
    Recipients,
    SkipEmpty,
    Paused,
    /// Occurrences before this instant are never sent (creation, a cron change, a resume).
    ActiveSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    ScheduleId,
    TeamId,
    Period,
    Recipient,
    /// `schedule` (claimed, at most one per period and recipient) or `manual` (send-now).
    Origin,
    Status,
    Attempts,
    Error,
    Response,
    MessageId,
    ClaimedAt,
    LeaseUntil,
    /// How often a pending row was taken over after its sender's lease expired.
    Recoveries,
    SentAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(pk_auto(Schedules::Id))
                    .col(integer(Schedules::TeamId))
                    .col(string_len(Schedules::Report, 64))
                    .col(string_len(Schedules::Cron, 200))
                    .col(string_len(Schedules::Timezone, 64))
                    .col(text(Schedules::Recipients))
                    .col(boolean(Schedules::SkipEmpty).default(false))
                    .col(boolean(Schedules::Paused).default(false))
                    .col(big_integer(Schedules::ActiveSince))
                    .col(big_integer(Schedules::CreatedAt))
                    .col(big_integer(Schedules::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Schedules::Table, Schedules::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("schedules_team")
                    .table(Schedules::Table)
                    .col(Schedules::TeamId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(pk_auto(Deliveries::Id))
                    .col(integer(Deliveries::ScheduleId))
                    .col(integer(Deliveries::TeamId))
                    .col(string_len(Deliveries::Period, 32))
                    .col(string_len(Deliveries::Recipient, 320))
                    .col(string_len(Deliveries::Origin, 16))
                    .col(string_len(Deliveries::Status, 16))
                    .col(integer(Deliveries::Attempts).default(0))
                    .col(text_null(Deliveries::Error))
                    .col(text_null(Deliveries::Response))
                    .col(string_len(Deliveries::MessageId, 255))
                    .col(big_integer(Deliveries::ClaimedAt))
                    .col(big_integer(Deliveries::LeaseUntil))
                    .col(integer(Deliveries::Recoveries).default(0))
                    .col(big_integer_null(Deliveries::SentAt))
                    .col(big_integer(Deliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::ScheduleId)
                            .to(Schedules::Table, Schedules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Partial, so send-now (origin `manual`) can log any number of extra sends; the same text
        // works on SQLite and PostgreSQL, which the index builder cannot say portably.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX deliveries_claim ON deliveries (schedule_id, period, recipient) \
                 WHERE origin = 'schedule'",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("deliveries_status_lease")
                    .table(Deliveries::Table)
                    .col(Deliveries::Status)
                    .col(Deliveries::LeaseUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("deliveries_team")
                    .table(Deliveries::Table)
                    .col(Deliveries::TeamId)
                    .col(Deliveries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["deliveries", "schedules"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
