//! Leads, spend and events. Instants are epoch milliseconds (BIGINT) and spend days are days since
//! 1970-01-01, so period filters are integer range scans on both backends. Money is BIGINT
//! millionths, so SQL sums are exact. Missing dimension values are stored as '' so that upsert keys
//! containing them still conflict (NULLs never do).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    TeamId,
    ExtId,
    CreatedAt,
    Channel,
    Source,
    Campaign,
    Value,
    Score,
    Attrs,
    MqlAt,
    SalAt,
    SqlAt,
    OpportunityAt,
    WonAt,
    LostAt,
    ChurnedAt,
    DealValue,
}

#[derive(DeriveIden)]
enum Spend {
    Table,
    Id,
    TeamId,
    Day,
    Channel,
    Campaign,
    Category,
    Amount,
    Impressions,
    Clicks,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    TeamId,
    ExtId,
    Kind,
    OccurredAt,
    Channel,
    Campaign,
    LeadId,
    Value,
    Attrs,
}

fn team_fk(table: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(Alias::new("team_id"))
        .to(Teams::Table, Teams::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .col(big_pk_auto(Leads::Id))
                    .col(integer(Leads::TeamId))
                    .col(string_len(Leads::ExtId, 200))
                    .col(big_integer(Leads::CreatedAt))
                    .col(string_len(Leads::Channel, 200).default(""))
                    .col(string_len(Leads::Source, 200).default(""))
                    .col(string_len(Leads::Campaign, 200).default(""))
                    .col(big_integer_null(Leads::Value))
                    .col(integer_null(Leads::Score))
                    .col(text(Leads::Attrs).default("{}"))
                    .col(big_integer_null(Leads::MqlAt))
                    .col(big_integer_null(Leads::SalAt))
                    .col(big_integer_null(Leads::SqlAt))
                    .col(big_integer_null(Leads::OpportunityAt))
                    .col(big_integer_null(Leads::WonAt))
                    .col(big_integer_null(Leads::LostAt))
                    .col(big_integer_null(Leads::ChurnedAt))
                    .col(big_integer_null(Leads::DealValue))
                    .foreign_key(&mut team_fk(Leads::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "leads_team_ext_id",
                Leads::Table,
                &["team_id", "ext_id"],
                true,
            ))
            .await?;
        for col in [
            "created_at",
            "mql_at",
            "sal_at",
            "sql_at",
            "opportunity_at",
            "won_at",
            "lost_at",
            "churned_at",
        ] {
            manager
                .create_index(index(
                    &format!("leads_team_{col}"),
                    Leads::Table,
                    &["team_id", col],
                    false,
                ))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Spend::Table)
                    .col(big_pk_auto(Spend::Id))
                    .col(integer(Spend::TeamId))
                    .col(integer(Spend::Day))
                    .col(string_len(Spend::Channel, 200).default(""))
                    .col(string_len(Spend::Campaign, 200).default(""))
                    .col(string_len(Spend::Category, 16))
                    .col(big_integer(Spend::Amount))
                    .col(big_integer_null(Spend::Impressions))
                    .col(big_integer_null(Spend::Clicks))
                    .foreign_key(&mut team_fk(Spend::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "spend_team_key",
                Spend::Table,
                &["team_id", "day", "channel", "campaign", "category"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(integer(Events::TeamId))
                    .col(string_len(Events::ExtId, 200))
                    .col(string_len(Events::Kind, 200))
                    .col(big_integer(Events::OccurredAt))
                    .col(string_len(Events::Channel, 200).default(""))
                    .col(string_len(Events::Campaign, 200).default(""))
                    .col(string_len_null(Events::LeadId, 200))
                    .col(big_integer_null(Events::Value))
                    .col(text(Events::Attrs).default("{}"))
                    .foreign_key(&mut team_fk(Events::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "events_team_ext_id",
                Events::Table,
                &["team_id", "ext_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "events_team_kind_occurred_at",
                Events::Table,
                &["team_id", "kind", "occurred_at"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "events_team_lead_kind_occurred_at",
                Events::Table,
                &["team_id", "lead_id", "kind", "occurred_at"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["events", "spend", "leads"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
