use thiserror::Error;

#[derive(Debug, Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] lodestar_store::StoreError),
    #[error(transparent)]
    Report(#[from] lodestar_report::ReportError),
    #[error(transparent)]
    Mail(#[from] lodestar_mail::MailError),
    /// tokio-cron-scheduler refused to start, add or remove a job.
    #[error("cron jobs: {0}")]
    Jobs(String),
    /// A stored schedule no longer makes sense (its cron, timezone or report).
    #[error("schedule {id}: {message}")]
    Schedule { id: i32, message: String },
    /// A stored alert no longer reads.
    #[error("alert {id}: {message}")]
    Alert { id: i32, message: String },
}
