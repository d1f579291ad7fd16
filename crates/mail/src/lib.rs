//! Lodestar's digest e-mail: rendering a digest (HTML + plain text) with askama, building a
//! `multipart/alternative` message with a deterministic Message-ID, and delivering it over SMTP
//! (lettre, pooled) or, when no SMTP server is configured, into an outbox folder of `.eml` files.
//!
//! This crate knows nothing of the store, reports or HTTP: callers hand it a [`DigestView`] and
//! an [`OutgoingMail`].

pub mod channel;
pub mod config;
pub mod digest;
pub mod error;
pub mod mailer;
pub mod message;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use channel::{Channel, HookClient, HookConfig, HookPost};
pub use config::{MailSettings, MailerConfig, SmtpConfig, SmtpSecurity};
pub use digest::{
    DigestKpi, DigestSection, DigestSummary, DigestView, Trend, digest_subject, render_digest,
};
pub use error::{MailError, SendError};
pub use lettre::message::Mailbox;
pub use mailer::{Mailer, SendReport};
pub use message::{OutgoingMail, digest_message_id, parse_address};
