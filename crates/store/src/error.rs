use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("unsupported database URL `{0}`: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("team `{0}` already exists")]
    TeamExists(String),
    #[error("no team `{0}`")]
    NoSuchTeam(String),
    /// The database cannot be reached or opened; the text says what to do.
    #[error("{0}")]
    Unavailable(String),
    #[error("invalid value: {0}")]
    Invalid(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
