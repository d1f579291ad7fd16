//! Delivery: a pooled lettre SMTP transport, or an outbox folder of `.eml` files.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::AsyncWriteExt;

use crate::config::{MailSettings, MailerConfig, SmtpConfig, SmtpSecurity};
use crate::error::{MailError, SendError};
use crate::message::{OutgoingMail, parse_address, with_display_name};

/// What a successful delivery looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendReport {
    /// The SMTP server's final reply to the message, e.g. `250 2.0.0 Ok: queued as 4F2`.
    Smtp { response: String },
    /// The `.eml` file the message was written to (for the operator: it is never shown, a
    /// response to an API caller must not reveal the server's file system).
    Outbox { path: PathBuf },
}

impl fmt::Display for SendReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp { response } => f.write_str(response),
            Self::Outbox { .. } => f.write_str("written to the outbox"),
        }
    }
}

/// Sends [`OutgoingMail`]. Cheap to share behind an `Arc`; one per application, so the SMTP
/// connection pool is reused across digests.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp {
        config: SmtpConfig,
        // Built on first use: lettre's pool spawns its cleanup task at build time, which needs
        // a running tokio runtime, and a Mailer should be constructible before one exists.
        transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    },
    Outbox {
        dir: PathBuf,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Mailer");
        s.field("from", &self.from.to_string());
        match &self.transport {
            Transport::Smtp { config, .. } => s.field("smtp", config),
            Transport::Outbox { dir } => s.field("outbox", dir),
        };
        s.finish()
    }
}

impl Mailer {
    /// From the application's settings; errors name the environment variable to fix.
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let config =
            MailerConfig::from_settings(settings.smtp_url.as_deref(), &settings.outbox_dir)?;
        Self::from_config(config, &settings.from)
    }

    /// From an already parsed configuration (tests use this to shorten timeouts).
    /// Creates the outbox folder when mail goes there.
    pub fn from_config(config: MailerConfig, from: &str) -> Result<Self, MailError> {
        let from = parse_address(from)
            .map(with_display_name)
            .map_err(|reason| {
                MailError::Config(format!(
                    "LODESTAR_MAIL__FROM {from:?} is not a usable sender address: it {reason}"
                ))
            })?;
        let transport = match config {
            MailerConfig::Smtp(config) => Transport::Smtp {
                config,
                transport: OnceLock::new(),
            },
            MailerConfig::Outbox { dir } => {
                std::fs::create_dir_all(&dir).map_err(|err| {
                    MailError::Config(format!(
                        "LODESTAR_MAIL__OUTBOX_DIR {}: cannot create it: {err}",
                        dir.display()
                    ))
                })?;
                Transport::Outbox { dir }
            }
        };
        Ok(Self { from, transport })
    }

    /// The configured sender (`LODESTAR_MAIL__FROM`).
    pub fn from_mailbox(&self) -> &Mailbox {
        &self.from
    }

    /// The outbox folder, when there is no SMTP server.
    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Outbox { dir } => Some(dir),
            Transport::Smtp { .. } => None,
        }
    }

    /// Delivers one message. A pooled SMTP connection that turns out to be dead is retried once
    /// on a fresh connection; every other failure is returned, classified, for the caller to
    /// retry or give up on.
    pub async fn send(&self, mail: &OutgoingMail) -> Result<SendReport, SendError> {
        let message = mail.build_message(&self.from)?;
        match &self.transport {
            Transport::Outbox { dir } => write_outbox(dir, &mail.message_id, &message).await,
            Transport::Smtp { config, transport } => {
                let transport = match transport.get() {
                    Some(transport) => transport,
                    None => {
                        let built = build_transport(config)?;
                        transport.get_or_init(|| built)
                    }
                };
                // lettre's async transport bounds only the TCP connect with its timeout; a
                // server that accepts and never greets (or stalls mid-command) would hold the
                // send for ever. Dropping the exchange closes its connection.
                tokio::time::timeout(config.timeout, send_smtp(transport, &message))
                    .await
                    .unwrap_or_else(|_| Err(timed_out(config.timeout)))
            }
        }
    }

    /// Closes pooled SMTP connections politely (QUIT). Sending afterwards fails.
    pub async fn shutdown(&self) {
        if let Transport::Smtp { transport, .. } = &self.transport
            && let Some(transport) = transport.get()
        {
            transport.shutdown().await;
        }
    }
}

fn build_transport(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let tls_parameters = || {
        TlsParameters::new(config.host.clone()).map_err(|err| SendError::Permanent {
            code: None,
            message: format!("TLS setup for {} failed: {err}", config.host),
        })
    };
    let tls = match config.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
        SmtpSecurity::Opportunistic => Tls::Opportunistic(tls_parameters()?),
        SmtpSecurity::Implicit => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .tls(tls)
        .timeout(Some(config.timeout))
        .pool_config(
            PoolConfig::new()
                .max_size(config.pool_max_size)
                .idle_timeout(config.pool_idle_timeout),
        );
    if let Some((user, password)) = &config.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    if let Some(name) = &config.hello_name {
        builder = builder.hello_name(ClientId::Domain(name.clone()));
    }
    Ok(builder.build())
}

async fn send_smtp(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: &Message,
) -> Result<SendReport, SendError> {
    let first = transport.send(message.clone()).await;
    let result = match first {
        Err(err) if is_dead_connection(&err) => {
            tracing::info!(error = %err, "SMTP connection died under us; retrying once on a new one");
            transport.send(message.clone()).await
        }
        other => other,
    };
    match result {
        Ok(response) => Ok(SendReport::Smtp {
            response: response_text(
                u16::from(response.code()),
                &response.message().collect::<Vec<_>>().join(" "),
            ),
        }),
        Err(err) => Err(classify(&err)),
    }
}

fn timed_out(timeout: std::time::Duration) -> SendError {
    let secs = timeout.as_secs_f64();
    SendError::TimedOut {
        message: format!("SMTP server did not answer within {secs} s"),
    }
}

/// lettre #743: a pooled connection that the server closed (idle timeout, restart) fails the next
/// command with "incomplete response" (EOF) or a reset. lettre's NOOP check before reuse narrows
/// the window but cannot close it, so such a failure earns exactly one more try.
fn is_dead_connection(err: &smtp::Error) -> bool {
    if err.is_response() && err.to_string().contains("incomplete response") {
        return true;
    }
    io_error_kind(err).is_some_and(|kind| {
        matches!(
            kind,
            ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof
                | ErrorKind::NotConnected
        )
    })
}

fn io_error_kind(err: &smtp::Error) -> Option<ErrorKind> {
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = inner.source();
    }
    None
}

fn classify(err: &smtp::Error) -> SendError {
    if let Some(code) = err.status() {
        // For a reply error lettre keeps the server's text as the error's source.
        let text = std::error::Error::source(err)
            .map(ToString::to_string)
            .unwrap_or_default();
        let code = u16::from(code);
        let message = response_text(code, &text);
        return if err.is_permanent() {
            SendError::Permanent {
                code: Some(code),
                message,
            }
        } else {
            SendError::Transient { message }
        };
    }
    if err.is_client() {
        // The client refused on its own (no common AUTH mechanism, a server without 8BITMIME):
        // the same message to the same server will be refused again.
        return SendError::Permanent {
            code: None,
            message: err.to_string(),
        };
    }
    // Connection refused/reset, timeouts, TLS handshakes, a garbled reply: the network's or the
    // server's passing trouble.
    SendError::Transient {
        message: err.to_string(),
    }
}

fn response_text(code: u16, text: &str) -> String {
    if text.is_empty() {
        code.to_string()
    } else {
        format!("{code} {text}")
    }
}

/// One `.eml` per message, named by its Message-ID so a re-send replaces rather than duplicates,
/// written to a temporary name and renamed so a reader never sees half a message.
async fn write_outbox(
    dir: &Path,
    message_id: &str,
    message: &Message,
) -> Result<SendReport, SendError> {
    // The path goes to the log only: the error reaches the delivery log and API callers.
    let transient = |what: &str, path: &Path, err: std::io::Error| {
        tracing::warn!(path = %path.display(), error = %err, "outbox: cannot {what}");
        SendError::Transient {
            message: format!("outbox: cannot {what}: {err}"),
        }
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|err| transient("create the outbox folder", dir, err))?;

    let name = outbox_file_name(message_id);
    let path = dir.join(&name);
    let temp = dir.join(format!(".{name}.{}.tmp", unique_suffix()));

    let write = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await?;
        file.write_all(&message.formatted()).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, &path).await
    };
    if let Err(err) = write.await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(transient("write the message file", &path, err));
    }
    Ok(SendReport::Outbox { path })
}

fn outbox_file_name(message_id: &str) -> String {
    let id = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading dot would hide the file and `..` must not climb out of the folder.
    format!("{}.eml", safe.trim_start_matches('.'))
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_file_name_cannot_escape_the_folder_or_hide() {
        assert_eq!(
            outbox_file_name("<digest.1.2026-W45.ab12@lodestar>"),
            "digest.1.2026-W45.ab12@lodestar.eml"
        );
        assert_eq!(
            outbox_file_name("<../../etc/passwd@x>"),
            "_.._etc_passwd@x.eml"
        );
        assert!(!outbox_file_name("<..@x>").starts_with('.'));
    }

    #[test]
    fn a_bad_sender_is_a_config_error_naming_the_variable() {
        let err = Mailer::from_config(
            MailerConfig::Outbox {
                dir: std::env::temp_dir(),
            },
            "not an address",
        )
        .expect_err("an invalid sender");
        assert!(err.to_string().contains("LODESTAR_MAIL__FROM"), "{err}");
    }

    #[test]
    fn an_invalid_smtp_url_fails_mailer_construction_naming_the_variable() {
        let err = Mailer::new(&MailSettings {
            smtp_url: Some("smtp://host?tls=sometimes".to_owned()),
            from: "lodestar@example.com".to_owned(),
            outbox_dir: std::env::temp_dir(),
        })
        .expect_err("an invalid URL");
        assert!(err.to_string().contains("LODESTAR_SMTP__URL"), "{err}");
    }

    #[test]
    fn an_outbox_report_does_not_show_the_servers_file_path() {
        let report = SendReport::Outbox {
            path: PathBuf::from("/srv/lodestar/outbox/digest.1@x.eml"),
        };
        assert_eq!(report.to_string(), "written to the outbox");
    }
}
