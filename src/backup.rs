//! `lodestar backup FILE` and `lodestar restore FILE`: SQLite by itself (`VACUUM INTO`, a
//! consistent copy while servers run), PostgreSQL through `pg_dump`/`pg_restore` when installed.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use lodestar_store::Db;

use crate::settings::Settings;

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// pg_dump and pg_restore do not take sqlx's extra parameters; they take the rest of the URL.
fn libpq_url(url: &str) -> String {
    url.replacen("postgresql:", "postgres:", 1)
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        bail!("{} already exists: name a new file", file.display());
    }
    let url = &settings.database.url;
    if is_postgres(url) {
        if !have("pg_dump") {
            bail!(
                "PostgreSQL is backed up with pg_dump, which is not installed here: run \
                 `pg_dump --format=custom --file {} \"$LODESTAR_DATABASE__URL\"` where it is \
                 (it is consistent while servers run); `lodestar restore` reads that file",
                file.display()
            );
        }
        let status = Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(file)
            .arg(format!("--dbname={}", libpq_url(url)))
            .status()
            .context("running pg_dump")?;
        if !status.success() {
            bail!("pg_dump failed ({status}); its message is above");
        }
    } else {
        let db = crate::cli::open_db(settings).await?;
        db.sqlite_backup_into(file)
            .await
            .with_context(|| format!("writing the backup {}", file.display()))?;
    }
    eprintln!("backup written to {}", file.display());
    Ok(())
}

pub async fn restore(settings: &Settings, file: &Path, force: bool) -> anyhow::Result<()> {
    if !file.is_file() {
        bail!("no backup file {}", file.display());
    }
    let url = &settings.database.url;
    if is_postgres(url) {
        if !force {
            bail!(
                "restoring replaces every table of {}: stop the servers, then run again with --force",
                lodestar_store::db::redact(url)
            );
        }
        if !have("pg_restore") {
            bail!(
                "PostgreSQL is restored with pg_restore, which is not installed here: run \
                 `pg_restore --clean --if-exists --no-owner --dbname \"$LODESTAR_DATABASE__URL\" {}`",
                file.display()
            );
        }
        let status = Command::new("pg_restore")
            .args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
            ])
            .arg(format!("--dbname={}", libpq_url(url)))
            .arg(file)
            .status()
            .context("running pg_restore")?;
        if !status.success() {
            bail!("pg_restore failed ({status}); its message is above");
        }
    } else {
        let header = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        if !header.starts_with(b"SQLite format 3\0") {
            bail!("{} is not an SQLite backup", file.display());
        }
        let Some(target) = sqlite_target(url) else {
            bail!("database.url names no SQLite file to restore into");
        };
        if target.exists() && !force {
            bail!(
                "{} exists: restoring replaces it; stop the servers, then run again with --force",
                target.display()
            );
        }
        // Copied beside the target, then renamed over it, so a failure leaves the old one whole;
        // the old write-ahead log would be replayed onto the new file, so it goes too.
        let partial = target.with_extension("restoring");
        std::fs::copy(file, &partial)
            .with_context(|| format!("copying {} to {}", file.display(), partial.display()))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = target.clone().into_os_string();
            side.push(suffix);
            let _ = std::fs::remove_file(side);
        }
        std::fs::rename(&partial, &target)
            .with_context(|| format!("replacing {}", target.display()))?;
    }
    // A backup from an older release is brought up to this one's schema.
    let db: Db = crate::cli::open_db(settings).await?;
    drop(db);
    eprintln!("restored from {}", file.display());
    Ok(())
}

fn sqlite_target(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite:")?
        .trim_start_matches("//")
        .split('?')
        .next()?;
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}
