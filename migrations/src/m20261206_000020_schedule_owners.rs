//! Who made a digest schedule (`schedules.owner_user_id`, null when a token made it) and whether
//! they were told that a delivery of it failed for good (`deliveries.owner_told`), as alerts
//! already record: a digest delivery that finally fails tells the owner by e-mail, once.
//! Existing schedules have no owner: their failures go to the team's admins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, integer_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedules {
    Table,
    OwnerUserId,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    OwnerTold,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Schedules::Table)
                    .add_column(integer_null(Schedules::OwnerUserId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(boolean(Deliveries::OwnerTold).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .drop_column(Deliveries::OwnerTold)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Schedules::Table)
                    .drop_column(Schedules::OwnerUserId)
                    .to_owned(),
            )
            .await
    }
}
