//! Server secrets, created once and shared by every replica through the database.

use chrono::Utc;
use rand::RngCore;
use sea_orm::ConnectionTrait;

use crate::Db;
use crate::error::Result;
use crate::sql::Sql;

/// The named secret (32 random bytes), created on first use. Two replicas racing to create it
/// both end up with the one that was stored first.
pub async fn get_or_create(db: &Db, name: &str) -> Result<Vec<u8>> {
    if let Some(v) = read(db, name).await? {
        return Ok(v);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut sql = Sql::new(db.backend());
    sql.push("INSERT INTO server_secrets (name, value, created_at) VALUES (")
        .param(name)
        .push(", ")
        .param(hex)
        .push(", ")
        .param(Utc::now().timestamp_millis())
        .push(") ON CONFLICT (name) DO NOTHING");
    db.conn().execute_raw(sql.build()).await?;
    read(db, name)
        .await?
        .ok_or_else(|| crate::StoreError::Invalid(format!("secret `{name}` vanished")))
}

async fn read(db: &Db, name: &str) -> Result<Option<Vec<u8>>> {
    let mut sql = Sql::new(db.backend());
    sql.push("SELECT value FROM server_secrets WHERE name = ")
        .param(name);
    let Some(row) = db.conn().query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let hex: String = row.try_get_by_index(0)?;
    let bytes = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    Ok(Some(bytes))
}
