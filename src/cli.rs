//! The command line of spec/API.md.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lodestar_core::currency::Currency;
use lodestar_core::period::{Timezone, rfc3339};
use lodestar_store::tokens::{Role, TokenInfo};
use lodestar_store::{Db, people, teams, tokens};

use crate::settings::Settings;

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 the command failed (database, input, server); 2 bad command line or
configuration (unknown key or variable, invalid value).

Configuration: built-in defaults, then the file (--config, else LODESTAR_CONFIG, else ./config.toml
when present), then LODESTAR_<SECTION>__<KEY> variables, e.g. LODESTAR_SERVER__BIND=0.0.0.0:8080.";

#[derive(Parser)]
#[command(
    name = "lodestar",
    version,
    about = "Self-hosted KPI reporting for sales and marketing teams",
    after_help = EXIT_CODES,
)]
pub struct Cli {
    /// Configuration file, e.g. `--config /etc/lodestar/config.toml` (default: LODESTAR_CONFIG,
    /// else ./config.toml when present, else the built-in defaults).
    #[arg(long, global = true, value_name = "FILE", env = "LODESTAR_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP and run the scheduler.
    #[command(after_help = "Example: lodestar serve --bind 0.0.0.0:8080 --wait-for-db 60")]
    Serve(ServeArgs),
    /// Create (or reuse) team `demo` with generated data, print its token and URL, then serve.
    #[command(after_help = "Example: lodestar demo --bind 127.0.0.1:3000")]
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    #[command(
        after_help = "Example: LODESTAR_DATABASE__URL=postgres://lodestar@db/lodestar lodestar migrate"
    )]
    Migrate,
    /// Teams: create, list, update.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Copy the whole database into a new FILE: SQLite's `VACUUM INTO` (consistent while servers
    /// run), or `pg_dump --format=custom` for PostgreSQL when installed.
    #[command(after_help = "Example: lodestar backup /var/backups/lodestar-2026-12-06.db")]
    Backup {
        /// The backup to write; must not exist yet.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace the database with a backup made by `lodestar backup`, then migrate it. Stop the
    /// servers first.
    #[command(after_help = "Example: lodestar restore /var/backups/lodestar-2026-12-06.db --force")]
    Restore {
        /// The backup to read.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Replace an existing database (without it, restore refuses to overwrite one).
        #[arg(long)]
        force: bool,
    },
    /// People who sign in with an e-mail and password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Generate a large deterministic team and time the KPI engine on it (see BENCHMARKS.md).
    #[command(after_help = "Example: lodestar bench --scale 0.05")]
    Bench(crate::bench::BenchArgs),
    /// Digests of many teams due in the same minute, sent to a local SMTP sink (BENCHMARKS.md).
    #[command(after_help = "Example: lodestar bench-digests --teams 200")]
    BenchDigests(crate::bench_digests::BenchDigestsArgs),
    /// Custom KPI scripts.
    Kpi {
        #[command(subcommand)]
        command: KpiCommand,
    },
    /// Bulk-load a CSV or JSON file into a team, with a progress bar, all or nothing; prints a
    /// summary (the JSON report with --json). A pack's mapping reads other tools' exports.
    #[command(
        after_help = "Example: lodestar import leads contacts.csv --team acme --mapping hubspot-contacts\n\nAlso: lodestar import spend ads.csv --team acme --mapping google-ads-campaigns --skip-invalid rejects.csv"
    )]
    Import {
        /// Which table the rows go to.
        #[arg(value_name = "TABLE")]
        table: Table,
        /// The rows: a .csv file with a header line (comma, semicolon or tab; UTF-8 or Excel's
        /// UTF-16), or a .json array of objects.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Slug of the team that receives the rows, e.g. `acme`.
        #[arg(long, value_name = "SLUG")]
        team: String,
        /// Read the file through this mapping of a pack (`GET /api/v1/mappings` lists them).
        #[arg(long, value_name = "NAME")]
        mapping: Option<String>,
        /// Load the good rows and write the bad ones, with their line numbers, to this file.
        #[arg(long, value_name = "REJECTS.csv")]
        skip_invalid: Option<PathBuf>,
        /// Read and check the whole file, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the JSON report instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// `serve` and `demo` log at the configured level; one-shot commands only warnings.
    pub fn is_server(&self) -> bool {
        matches!(self, Command::Serve(_) | Command::Demo(_))
    }
}

/// How `serve` and `demo` listen.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, host:port, e.g. `0.0.0.0:8080` (default: server.bind).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::SocketAddr>,
    /// Retry the first database connection for up to this many seconds, backing off between
    /// tries, e.g. `--wait-for-db 60` while PostgreSQL starts (default: fail at once).
    #[arg(long, value_name = "SECONDS")]
    pub wait_for_db: Option<u64>,
}

/// What a token may do.
#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything, tokens and schedules included.
    Admin,
    /// Read, and change data and KPIs.
    Editor,
    /// Read only.
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Editor => Role::Editor,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Create a team and print `{"team":"SLUG","token":"…"}` (the token is shown once).
    #[command(
        after_help = "Example: lodestar team create acme --name \"Acme Inc\" --timezone Europe/Berlin --currency EUR"
    )]
    Create {
        /// Short name used in URLs: lowercase letters, digits and `-`, e.g. `acme`.
        #[arg(value_name = "SLUG")]
        slug: String,
        /// Display name (default: the slug).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// IANA timezone that periods are counted in, e.g. `Europe/Berlin`.
        #[arg(long, default_value = "UTC", value_name = "IANA")]
        timezone: String,
        /// ISO 4217 code of the team's money (reports print its symbol), e.g. `EUR`.
        #[arg(long, default_value = "USD", value_name = "CODE")]
        currency: String,
        /// Role of the first token.
        #[arg(long, value_enum, default_value = "admin")]
        role: RoleArg,
    },
    /// List teams: a table, or JSON with `--json`.
    #[command(after_help = "Example: lodestar team list --json")]
    List {
        /// One JSON document: `{"teams":[{"slug":…,"name":…,"timezone":…,"currency":…}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Change a team's settings; prints `{"team":"SLUG","currency":"EUR"}`.
    #[command(after_help = "Example: lodestar team update acme --currency EUR")]
    Update {
        /// Slug of the team to change.
        #[arg(value_name = "SLUG")]
        slug: String,
        /// ISO 4217 code of the team's money, e.g. `EUR`.
        #[arg(long, value_name = "CODE")]
        currency: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create another token for a team, same output as `team create`.
    #[command(after_help = "Example: lodestar token create acme --role viewer --label grafana")]
    Create {
        /// Slug of the team the token is for.
        #[arg(value_name = "SLUG")]
        slug: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// What the token is for, shown by `token list`, e.g. `grafana`.
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// List a team's tokens (never their secrets): a table, or JSON with `--json`.
    #[command(after_help = "Example: lodestar token list acme --json")]
    List {
        /// Slug of the team.
        #[arg(value_name = "SLUG")]
        slug: String,
        /// One JSON document: `{"team":"SLUG","tokens":[…]}`.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a team's token: it, and every session opened with it, stop working at once.
    #[command(after_help = "Example: lodestar token revoke acme 3")]
    Revoke {
        /// Slug of the team.
        #[arg(value_name = "SLUG")]
        slug: String,
        /// The token's id, as `token list` shows it.
        #[arg(value_name = "ID")]
        id: i32,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a person to a team (creating their account) and print a one-time link to set their
    /// password; it works once, for 24 hours.
    #[command(
        after_help = "Example: lodestar user create ada@example.com --team acme --role admin"
    )]
    Create {
        /// The person's e-mail address (their sign-in name).
        #[arg(value_name = "EMAIL")]
        email: String,
        /// The team's slug.
        #[arg(long, value_name = "SLUG")]
        team: String,
        /// What they may do in the team.
        #[arg(long, value_enum, default_value = "viewer")]
        role: RoleArg,
    },
    /// List everyone with their teams and roles.
    #[command(after_help = "Example: lodestar user list --json")]
    List {
        /// One JSON document: `{"users":[…]}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum KpiCommand {
    /// Compile a KPI script and report errors as `file:line:column: message`.
    #[command(after_help = "Example: lodestar kpi check scripts/lead-gen-extras/gross_roi.rhai")]
    Check {
        /// The .rhai script to compile.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Table {
    /// Leads and their lifecycle dates.
    Leads,
    /// Marketing spend per day and channel.
    Spend,
    /// Events (calls, meetings, page views…) of leads.
    Events,
}

impl From<Table> for lodestar_import::Table {
    fn from(table: Table) -> Self {
        match table {
            Table::Leads => lodestar_import::Table::Leads,
            Table::Spend => lodestar_import::Table::Spend,
            Table::Events => lodestar_import::Table::Events,
        }
    }
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
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
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
    table(
        &["ID", "ROLE", "CREATED", "LAST USED", "STATUS", "LABEL"],
        &rows,
        "(no tokens)",
    )
}

/// Rows under a header, columns padded to their widest cell; `empty` when there are no rows.
fn table(header: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str(empty);
        out.push('\n');
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
        Command::Serve(args) => crate::serve::serve(&settings, &args).await,
        Command::Demo(args) => crate::serve::demo(&settings, &args).await,
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
            let tz = Timezone::parse(&timezone)?;
            let currency = Currency::parse(&currency)?;
            let db = open_db(&settings).await?;
            let team = teams::create(&db, &slug, name.as_deref().unwrap_or(&slug), &tz).await?;
            if currency != team.currency {
                teams::set_currency(&db, team.id, currency).await?;
            }
            let token = tokens::create(&db, team.id, role.into()).await?;
            println!("{}", serde_json::json!({"team": team.slug, "token": token}));
            Ok(())
        }
        Command::Team {
            command: TeamCommand::List { json },
        } => {
            let db = open_db(&settings).await?;
            let mut list = teams::list(&db).await?;
            list.sort_by(|a, b| a.slug.cmp(&b.slug));
            if json {
                let list: Vec<_> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "slug": t.slug,
                            "name": t.name,
                            "timezone": t.timezone.name(),
                            "currency": t.currency,
                        })
                    })
                    .collect();
                println!("{}", serde_json::json!({ "teams": list }));
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.slug.clone(),
                            t.timezone.name().to_owned(),
                            t.currency.to_string(),
                            t.name.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &["SLUG", "TIMEZONE", "CURRENCY", "NAME"],
                        &rows,
                        "(no teams)"
                    )
                );
            }
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
            let role = Role::from(role);
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
            let db = open_db(&settings).await?;
            let team = find_team(&db, &slug).await?;
            let token =
                tokens::create_labelled(&db, team.id, role.into(), label.as_deref()).await?;
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
        Command::Backup { file } => crate::backup::backup(&settings, &file).await,
        Command::Restore { file, force } => crate::backup::restore(&settings, &file, force).await,
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
        Command::Import {
            table,
            file,
            team,
            mapping,
            skip_invalid,
            dry_run,
            json,
        } => {
            let db = open_db(&settings).await?;
            let Some(team) = teams::find_by_slug(&db, &team).await? else {
                bail!("no team `{team}`: create it with `lodestar team create {team}`");
            };
            let engine = std::sync::Arc::new(lodestar_script::ScriptEngine::new(
                lodestar_script::Limits {
                    deadline: std::time::Duration::from_millis(settings.scripts.deadline_ms),
                    ..Default::default()
                },
            ));
            let packs = match settings.packs_dir() {
                Some(dir) => lodestar_script::load_packs(&dir, &engine),
                None => lodestar_script::PackSet::default(),
            };
            let rejects = skip_invalid.clone();
            let options = crate::import::ImportOptions {
                mapping,
                skip_invalid,
                dry_run,
                progress: !json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let report = crate::import::import_file(
                &db,
                team.id,
                table.into(),
                &file,
                &packs,
                engine,
                options,
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!(
                    "{}",
                    crate::import::summary(&report, &file, rejects.as_deref())
                );
            }
            if report.refused() || !report.header_errors.is_empty() {
                bail!(
                    "{}: nothing was imported ({} invalid record(s){})",
                    file.display(),
                    report.invalid,
                    if report.header_errors.is_empty() {
                        ""
                    } else {
                        ", header not usable"
                    }
                );
            }
            Ok(())
        }
    }
}

/// An error and its causes on one line, each cause once: wrappers that repeat their source's
/// text (sqlx, sea-orm) would otherwise print the same words three times.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            // A wrapper's text often ends with its source's: keep only the part before it.
            if let Some(last) = parts.last_mut()
                && let Some(head) = last.strip_suffix(&text)
            {
                *last = head.trim_end_matches([':', ' ']).to_owned();
            }
            parts.push(text);
        }
        next = err.source();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(": ")
}
