//! Server-side browser sessions, revocable API tokens (with when each was last used) and a
//! per-report cut-off for share links.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_teams_and_tokens::Teams;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Label,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TeamId,
    Role,
    TokenId,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ShareLinkCutoffs {
    Table,
    TeamId,
    Report,
    LinksValidAfter,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            ColumnDef::new(ApiTokens::Label)
                .string_len(200)
                .null()
                .to_owned(),
            ColumnDef::new(ApiTokens::LastUsedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(ApiTokens::RevokedAt)
                .big_integer()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiTokens::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // SHA-256 (hex) of the random secret in the cookie: the secret is not stored.
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(integer(Sessions::TeamId))
                    .col(string_len(Sessions::Role, 16))
                    // The token signed in with; NULL for other ways in (a person's password, to
                    // come with a nullable user id beside it).
                    .col(integer_null(Sessions::TokenId))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer(Sessions::LastSeenAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::TokenId)
                            .to(ApiTokens::Table, ApiTokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_token")
                    .table(Sessions::Table)
                    .col(Sessions::TokenId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_expires")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ShareLinkCutoffs::Table)
                    .col(integer(ShareLinkCutoffs::TeamId))
                    .col(string_len(ShareLinkCutoffs::Report, 64))
                    // Epoch milliseconds: links of the report issued at or before it are void.
                    .col(big_integer(ShareLinkCutoffs::LinksValidAfter))
                    .primary_key(
                        Index::create()
                            .col(ShareLinkCutoffs::TeamId)
                            .col(ShareLinkCutoffs::Report),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ShareLinkCutoffs::Table, ShareLinkCutoffs::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ShareLinkCutoffs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        for column in [
            ApiTokens::RevokedAt,
            ApiTokens::LastUsedAt,
            ApiTokens::Label,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiTokens::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
