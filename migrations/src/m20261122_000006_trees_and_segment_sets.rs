//! KPI trees and named segment sets, per team. Both are stored as their validated JSON
//! definition with a version that counts replacements.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum KpiTrees {
    Table,
    Id,
    TeamId,
    Slug,
    Title,
    Definition,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SegmentSets {
    Table,
    Id,
    TeamId,
    Name,
    Definition,
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
                    .table(KpiTrees::Table)
                    .col(pk_auto(KpiTrees::Id))
                    .col(integer(KpiTrees::TeamId))
                    .col(string_len(KpiTrees::Slug, 64))
                    .col(string_len(KpiTrees::Title, 200))
                    // The tree as JSON: {"slug","title","branches":[{"title","kpis","branches"}]}.
                    .col(text(KpiTrees::Definition))
                    .col(integer(KpiTrees::Version))
                    .col(big_integer(KpiTrees::CreatedAt))
                    .col(big_integer(KpiTrees::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KpiTrees::Table, KpiTrees::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("kpi_trees_team_slug")
                    .table(KpiTrees::Table)
                    .col(KpiTrees::TeamId)
                    .col(KpiTrees::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SegmentSets::Table)
                    .col(pk_auto(SegmentSets::Id))
                    .col(integer(SegmentSets::TeamId))
                    .col(string_len(SegmentSets::Name, 64))
                    // The set as JSON: {"segments":[{"name","filter":{…}}]}.
                    .col(text(SegmentSets::Definition))
                    .col(integer(SegmentSets::Version))
                    .col(big_integer(SegmentSets::CreatedAt))
                    .col(big_integer(SegmentSets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SegmentSets::Table, SegmentSets::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("segment_sets_team_name")
                    .table(SegmentSets::Table)
                    .col(SegmentSets::TeamId)
                    .col(SegmentSets::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["segment_sets", "kpi_trees"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
