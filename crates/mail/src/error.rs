//! The crate's two error types: [`MailError`] for configuration, building and rendering, and
//! [`SendError`] for a delivery attempt, classified so the scheduler knows whether to retry.

/// Failures that are not a delivery attempt: bad settings, a message that cannot be built, a
/// template that fails to render.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A setting is wrong; the message names the environment variable to fix.
    #[error("{0}")]
    Config(String),
    /// An address (From or To) is not a single valid mailbox.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// The message itself is malformed (Message-ID, subject or an extra header).
    #[error("invalid message: {0}")]
    Message(String),
    /// An askama template failed to render.
    #[error("rendering the digest failed: {0}")]
    Render(#[from] askama::Error),
}

/// Why a message was not delivered. `Transient` may succeed later (the scheduler retries);
/// `Permanent` will not succeed without a change (an address, the server's mind, the settings).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Connection refused, reset or timed out, an SMTP 4xx reply, an outbox write failure.
    #[error("transient delivery failure: {message}")]
    Transient { message: String },
    /// An SMTP 5xx reply (with its code), an invalid address or a message the server cannot take.
    #[error("permanent delivery failure: {message}")]
    Permanent { code: Option<u16>, message: String },
    /// The SMTP exchange did not finish within the configured timeout and was abandoned (the
    /// connection is closed, so nothing is sent after it). Transient: a later try may succeed.
    #[error("delivery timed out: {message}")]
    TimedOut { message: String },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::TimedOut { .. })
    }

    /// The server did not answer in time: it is slow or silent, so the same server will likely
    /// not answer the next message of this run either.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::TimedOut { .. })
    }

    /// The server's answer (e.g. `451 4.3.0 Try again later`) or a description of the failure.
    pub fn message(&self) -> &str {
        match self {
            Self::Transient { message }
            | Self::Permanent { message, .. }
            | Self::TimedOut { message } => message,
        }
    }
}

impl From<MailError> for SendError {
    /// A message that cannot be built will not build on a retry either.
    fn from(err: MailError) -> Self {
        Self::Permanent {
            code: None,
            message: err.to_string(),
        }
    }
}
