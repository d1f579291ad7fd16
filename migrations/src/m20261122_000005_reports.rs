//! Report definitions: per team, by slug. The built-in `weekly` needs no row; a stored `weekly`
//! replaces it for that team.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    TeamId,
    Slug,
    Title,
    PeriodKind,
    Kpis,
    SegmentBy,
    Targets,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .col(pk_auto(Reports::Id))
                    .col(integer(Reports::TeamId))
                    .col(string_len(Reports::Slug, 64))
                    .col(string_len(Reports::Title, 200))
                    .col(string_len(Reports::PeriodKind, 16))
                    // A JSON array of KPI keys; NULL means every KPI of the team.
                    .col(text_null(Reports::Kpis))
                    .col(string_len_null(Reports::SegmentBy, 128))
                    // A JSON object: KPI key → {"min": x, "max": y}.
                    .col(text(Reports::Targets))
                    .col(integer(Reports::Version))
                    .col(big_integer(Reports::CreatedAt))
                    .col(big_integer(Reports::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reports::Table, Reports::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("reports_team_slug")
                    .table(Reports::Table)
                    .col(Reports::TeamId)
                    .col(Reports::Slug)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reports::Table).to_owned())
            .await
    }
}
