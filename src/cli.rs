//! The command line of spec/API.md.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lodestar_core::currency::Currency;
use lodestar_core::period::{Timezone, rfc3339};
use lodestar_store::tokens::{Role, TokenInfo};
use lodestar_store::{Db, people, teams, tokens};

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
    /// People who sign in with an e-mail and password.
    User {
        #[command(subcommand)]
        command: UserCommand,
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
        /// What the token is for, shown by `token list`.
        #[arg(long)]
        label: Option<String>,
    },
    /// List a team's tokens (never their secrets): a table, or JSON with `--json`.
    List {
        slug: String,
        /// One JSON document: `{"team":"SLUG","tokens":[…]}`.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a team's token: it, and every session opened with it, stop working at once.
    Revoke { slug: String, id: i32 },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a person to a team (creating their account) and print a one-time link to set their
    /// password; it works once, for 24 hours.
    Create {
        email: String,
        #[arg(long)]
        team: String,
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List everyone with their teams and roles.
    List {
        /// One JSON document: `{"users":[…]}`.
        #[arg(long)]
        json: bool,
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

async fn find_team(db: &Db, slug: &str) -> anyhow::Result<teams::Team> {
    match teams::find_by_slug(db, slug).await? {
        Some(team) => Ok(team),
        None => bail!("no team `{slug}`: create it with `lodestar team create {slug}`"),
    }
}

/// A token as `token list --json` and `token revoke` print it: the API's fields.
fn token_json(t: &TokenInfo) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "role": t.role,
        "label": t.label,
        "created_at": rfc3339(t.created_at),
        "last_used_at": t.last_used_at.map(rfc3339),
        "revoked": t.revoked_at.is_some(),
        "revoked_at": t.revoked_at.map(rfc3339),
    })
}

/// Tokens as a table for people, oldest first.
fn token_table(list: &[TokenInfo]) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        })
    };
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.role.to_string(),
                when(Some(t.created_at)),
                when(t.last_used_at),
                t.revoked_at.map_or("active".to_owned(), |at| {
                    format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC"))
                }),
                t.label.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["ID", "ROLE", "CREATED", "LAST USED", "STATUS", "LABEL"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no tokens)\n");
    }
    out
}

/// The link of a one-time password secret on this server.
pub fn password_url(settings: &Settings, secret: &str) -> String {
    format!(
        "{}/login/password/{secret}",
        settings.server.public_url.trim_end_matches('/')
    )
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
        Command::User {
            command: UserCommand::Create { email, team, role },
        } => {
            let role = parse_role(&role)?;
            let db = open_db(&settings).await?;
            let team = find_team(&db, &team).await?;
            let (_, secret) =
                people::create_member(&db, &email, team.id, role, chrono::Utc::now()).await?;
            println!(
                "{} is {role} of {}. To set a password and sign in, open (once, within 24 hours):",
                people::normalize_email(&email).unwrap_or(email),
                team.slug
            );
            println!("{}", password_url(&settings, &secret));
            Ok(())
        }
        Command::User {
            command: UserCommand::List { json },
        } => {
            let db = open_db(&settings).await?;
            let list = people::list_users(&db).await?;
            if json {
                let users: Vec<_> = list
                    .iter()
                    .map(|u| {
                        let teams: Vec<_> = u
                            .teams
                            .iter()
                            .map(|(slug, role)| serde_json::json!({"team": slug, "role": role}))
                            .collect();
                        serde_json::json!({
                            "id": u.id,
                            "email": u.email,
                            "password_set": u.has_password,
                            "teams": teams,
                        })
                    })
                    .collect();
                println!("{}", serde_json::json!({ "users": users }));
            } else if list.is_empty() {
                println!("(no users)");
            } else {
                for u in &list {
                    let teams: Vec<String> = u
                        .teams
                        .iter()
                        .map(|(slug, role)| format!("{slug}:{role}"))
                        .collect();
                    let status = if u.has_password { "active" } else { "invited" };
                    println!("{}  {}  {status}  {}", u.id, u.email, teams.join(","));
                }
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { slug, role, label },
        } => {
            let role = parse_role(&role)?;
            let db = open_db(&settings).await?;
            let team = find_team(&db, &slug).await?;
            let token = tokens::create_labelled(&db, team.id, role, label.as_deref()).await?;
            println!("{}", serde_json::json!({"team": team.slug, "token": token}));
            Ok(())
        }
        Command::Token {
            command: TokenCommand::List { slug, json },
        } => {
            let db = open_db(&settings).await?;
            let team = find_team(&db, &slug).await?;
            let list = tokens::list(&db, team.id).await?;
            if json {
                let list: Vec<_> = list.iter().map(token_json).collect();
                println!("{}", serde_json::json!({"team": team.slug, "tokens": list}));
            } else {
                print!("{}", token_table(&list));
            }
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { slug, id },
        } => {
            let db = open_db(&settings).await?;
            let team = find_team(&db, &slug).await?;
            let Some(token) = tokens::revoke(&db, team.id, id, chrono::Utc::now()).await? else {
                bail!("team `{slug}` has no token {id}: `lodestar token list {slug}` lists them");
            };
            println!(
                "{}",
                serde_json::json!({"team": team.slug, "token": token_json(&token)})
            );
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
