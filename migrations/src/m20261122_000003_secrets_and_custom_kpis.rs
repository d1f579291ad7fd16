//! Server secrets (shared by every replica through the database) and per-team custom KPIs with
//! their version history.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CustomKpis {
    Table,
    Id,
    TeamId,
    Key,
    Name,
    Unit,
    Direction,
    Category,
    Kind,
    Script,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomKpiVersions {
    Table,
    Id,
    TeamId,
    Key,
    Version,
    Name,
    Unit,
    Direction,
    Category,
    Kind,
    Script,
    CreatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .col(string_len(ServerSecrets::Name, 64).primary_key())
                    .col(string_len(ServerSecrets::Value, 128))
                    .col(big_integer(ServerSecrets::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomKpis::Table)
                    .col(pk_auto(CustomKpis::Id))
                    .col(integer(CustomKpis::TeamId))
                    .col(string_len(CustomKpis::Key, 64))
                    .col(string_len(CustomKpis::Name, 200))
                    .col(string_len(CustomKpis::Unit, 16))
                    .col(string_len(CustomKpis::Direction, 32))
                    .col(string_len(CustomKpis::Category, 200))
                    .col(string_len(CustomKpis::Kind, 16))
                    .col(text(CustomKpis::Script))
                    .col(integer(CustomKpis::Version))
                    .col(big_integer(CustomKpis::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomKpis::Table, CustomKpis::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("custom_kpis_team_key")
                    .table(CustomKpis::Table)
                    .col(CustomKpis::TeamId)
                    .col(CustomKpis::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomKpiVersions::Table)
                    .col(pk_auto(CustomKpiVersions::Id))
                    .col(integer(CustomKpiVersions::TeamId))
                    .col(string_len(CustomKpiVersions::Key, 64))
                    .col(integer(CustomKpiVersions::Version))
                    .col(string_len(CustomKpiVersions::Name, 200))
                    .col(string_len(CustomKpiVersions::Unit, 16))
                    .col(string_len(CustomKpiVersions::Direction, 32))
                    .col(string_len(CustomKpiVersions::Category, 200))
                    .col(string_len(CustomKpiVersions::Kind, 16))
                    .col(text(CustomKpiVersions::Script))
                    .col(big_integer(CustomKpiVersions::CreatedAt))
                    // Set on the version that a DELETE retired.
                    .col(big_integer_null(CustomKpiVersions::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CustomKpiVersions::Table, CustomKpiVersions::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("custom_kpi_versions_team_key_version")
                    .table(CustomKpiVersions::Table)
                    .col(CustomKpiVersions::TeamId)
                    .col(CustomKpiVersions::Key)
                    .col(CustomKpiVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["custom_kpi_versions", "custom_kpis", "server_secrets"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
