use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Input(#[from] lodestar_core::CoreError),
    #[error(transparent)]
    Store(#[from] lodestar_store::StoreError),
    #[error("{0}")]
    Internal(String),
}
