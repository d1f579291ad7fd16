//! The command line of spec/API.md.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lodestar_core::currency::Currency;
use lodestar_core::period::Timezone;
use lodestar_store::tokens::Role;
use lodestar_store::{Db, teams, tokens};

use crate::settings::Settings;

#[derive(Parser)]
#[command(
    name = "lodestar",
    version,
    about = "Self-hosted KPI reporting for sales and marketing teams"
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP and run the scheduler.
    Serve,
    /// Create (or reuse) team `demo` with generated data, print its token and URL, then serve.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Teams.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Generate a large deterministic team and time the KPI engine on it (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Digests of many teams due in the same minute, sent to a local SMTP sink (BENCHMARKS.md).
    BenchDigests(crate::bench_digests::BenchDigestsArgs),
    /// Custom KPI scripts.
    Kpi {
        #[command(subcommand)]
        command: KpiCommand,
    },
    /// Bulk-load a CSV or JSON file into a team, with a progress bar.
    Import {
        table: Table,
        file: PathBuf,
        #[arg(long)]
        team: String,
    },
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Create a team and print `{"team":"SLUG","token":"…"}` (the token is shown once).
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// ISO 4217 code of the team's money (reports print its symbol).
        #[arg(long, default_value = "USD")]
        currency: String,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Change a team's settings: `--currency EUR`.
    Update {
        slug: String,
        /// ISO 4217 code of the team's money.
        #[arg(long)]
        currency: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create another token for a team, same output as `team create`.
    Create {
        slug: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand)]
pub enum KpiCommand {
    /// Compile a KPI script and report errors as `file:line:column: message`.
    Check { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Table {
    Leads,
    Spend,
    Events,
}

fn parse_role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).with_context(|| format!("unknown role `{s}`: use admin, editor or viewer"))
}

pub async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database.url).await.with_context(|| {
        format!(
            "connecting to {}",
            lodestar_store::db::redact(&settings.database.url)
        )
    })?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => crate::serve::serve(&settings).await,
        Command::Demo => crate::serve::demo(&settings).await,
        Command::Migrate => {
            open_db(&settings).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Team {
            command:
                TeamCommand::Create {
                    slug,
                    name,
                    timezone,
                    currency,
                    role,
                },
        } => {
            let role = parse_role(&role)?;
            let tz = Timezone::parse(&timezone)?;
            let currency = Currency::parse(&currency)?;
            let db = open_db(&settings).await?;
            let team = teams::create(&db, &slug, name.as_deref().unwrap_or(&slug), &tz).await?;
            if currency != team.currency {
                teams::set_currency(&db, team.id, currency).await?;
            }
            let token = tokens::create(&db, team.id, role).await?;
            println!("{}", serde_json::json!({"team": team.slug, "token": token}));
            Ok(())
        }
        Command::Team {
            command: TeamCommand::Update { slug, currency },
        } => {
            let db = open_db(&settings).await?;
            let Some(team) = teams::find_by_slug(&db, &slug).await? else {
                bail!("no team `{slug}`: create it with `lodestar team create {slug}`");
            };
            let Some(currency) = currency else {
                bail!("nothing to change: say what, e.g. `--currency EUR`");
            };
            let currency = Currency::parse(&currency)?;
            teams::set_currency(&db, team.id, currency).await?;
            println!(
                "{}",
                serde_json::json!({"team": team.slug, "currency": currency})
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { slug, role },
        } => {
            let role = parse_role(&role)?;
            let db = open_db(&settings).await?;
            let Some(team) = teams::find_by_slug(&db, &slug).await? else {
                bail!("no team `{slug}`: create it with `lodestar team create {slug}`");
            };
            let token = tokens::create(&db, team.id, role).await?;
            println!("{}", serde_json::json!({"team": team.slug, "token": token}));
            Ok(())
        }
        Command::Bench(args) => crate::bench::run(args, &settings).await,
        Command::BenchDigests(args) => crate::bench_digests::run(args, &settings).await,
        Command::Kpi {
            command: KpiCommand::Check { file },
        } => {
            let engine = lodestar_script::ScriptEngine::new(lodestar_script::Limits {
                deadline: std::time::Duration::from_millis(settings.scripts.deadline_ms),
                ..Default::default()
            });
            match lodestar_script::check_file(&engine, &file) {
                Ok(()) => {
                    println!("{}: ok", file.display());
                    Ok(())
                }
                Err(e) => bail!("{}", e.located(&file)),
            }
        }
        Command::Import { table, file, team } => {
            let db = open_db(&settings).await?;
            let Some(team) = teams::find_by_slug(&db, &team).await? else {
                bail!("no team `{team}`: create it with `lodestar team create {team}`");
            };
            let summary = crate::import::import_file(&db, team.id, table, &file).await?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
    }
}
