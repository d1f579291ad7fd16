//! Mail settings as the application reads them (`LODESTAR_SMTP__URL`, `LODESTAR_MAIL__FROM`,
//! `LODESTAR_MAIL__OUTBOX_DIR`) and their parsed form.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::error::MailError;

/// The raw settings, as they come from config.toml and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `LODESTAR_SMTP__URL`; `None` (or blank) writes `.eml` files to `outbox_dir` instead.
    pub smtp_url: Option<String>,
    /// `LODESTAR_MAIL__FROM`: the sender of every message that does not name its own.
    pub from: String,
    /// `LODESTAR_MAIL__OUTBOX_DIR`.
    pub outbox_dir: PathBuf,
}

/// Where mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerConfig {
    Smtp(SmtpConfig),
    /// One `.eml` file per message in this folder, for a first run with nothing set up.
    Outbox {
        dir: PathBuf,
    },
}

impl MailerConfig {
    /// SMTP when a URL is given, the outbox otherwise.
    pub fn from_settings(smtp_url: Option<&str>, outbox_dir: &Path) -> Result<Self, MailError> {
        match smtp_url.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => SmtpConfig::parse_url(url).map(Self::Smtp),
            None => Ok(Self::Outbox {
                dir: outbox_dir.to_path_buf(),
            }),
        }
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://host` — plain text, for a relay on localhost or a test server.
    None,
    /// `smtp://host?tls=starttls` (or `tls=required`) — STARTTLS, refusing to go on without it.
    StartTls,
    /// `smtp://host?tls=opportunistic` — STARTTLS when the server offers it.
    Opportunistic,
    /// `smtps://host` — TLS from the first byte.
    Implicit,
}

/// A parsed `LODESTAR_SMTP__URL` plus the connection tuning that has no URL form.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// `(user, password)`, percent-decoded from the URL.
    pub credentials: Option<(String, String)>,
    /// Name sent with EHLO (the URL's path); the machine's hostname when `None`.
    pub hello_name: Option<String>,
    /// Bound of one message's whole SMTP exchange: connecting, the greeting and every command,
    /// up to the server's answer to the message (`[smtp] timeout_secs`).
    pub timeout: Duration,
    /// Pooled connections idle longer than this are closed by us before the server does it
    /// (lettre #743: a connection the server closed while idle fails the next send).
    pub pool_idle_timeout: Duration,
    pub pool_max_size: u32,
}

impl fmt::Debug for SmtpConfig {
    // The password must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| (user, "***")),
            )
            .field("hello_name", &self.hello_name)
            .field("timeout", &self.timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_size", &self.pool_max_size)
            .finish()
    }
}

const SMTP_PORT: u16 = 25;
const SUBMISSION_PORT: u16 = 587;
const SUBMISSIONS_PORT: u16 = 465;

impl SmtpConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_POOL_MAX_SIZE: u32 = 4;

    /// Parses `smtp://host[:port]`, `smtp://host?tls=starttls`, `smtps://user:pass@host[:port]`.
    /// Errors name `LODESTAR_SMTP__URL` and never echo the password.
    pub fn parse_url(raw: &str) -> Result<Self, MailError> {
        let url = Url::parse(raw.trim()).map_err(|err| {
            config_error(&redact_unparsed(raw), &format!("it does not parse ({err})"))
        })?;
        let shown = redact(&url);
        let fail = |why: &str| config_error(&shown, why);

        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.to_ascii_lowercase()),
                "tls" => return Err(fail("`tls` is given twice")),
                other => return Err(fail(&format!("unknown parameter `{other}`"))),
            }
        }

        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => (SmtpSecurity::None, SMTP_PORT),
            ("smtp", Some("starttls" | "required")) => (SmtpSecurity::StartTls, SUBMISSION_PORT),
            ("smtp", Some("opportunistic")) => (SmtpSecurity::Opportunistic, SUBMISSION_PORT),
            ("smtp", Some(other)) => {
                return Err(fail(&format!(
                    "unknown tls={other}; use tls=starttls, tls=opportunistic or smtps://"
                )));
            }
            ("smtps", None) => (SmtpSecurity::Implicit, SUBMISSIONS_PORT),
            ("smtps", Some(_)) => {
                return Err(fail(
                    "smtps:// is TLS from the start and takes no tls parameter",
                ));
            }
            (scheme, _) => {
                return Err(fail(&format!(
                    "unknown scheme `{scheme}`; use smtp:// or smtps://"
                )));
            }
        };

        let host = match url.host() {
            Some(Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            // lettre resolves (host, port) pairs, where an IPv6 address goes without brackets.
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(fail("it names no host")),
        };

        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| fail(&format!("the {what} is not valid UTF-8 once decoded")))
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) => {
                Some((decode(user, "user name")?, decode(password, "password")?))
            }
            (_, None) => return Err(fail("it has a user name but no password")),
        };

        let path = url.path().trim_matches('/');
        let hello_name = (!path.is_empty()).then(|| path.to_owned());

        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello_name,
            timeout: Self::DEFAULT_TIMEOUT,
            pool_idle_timeout: Self::DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_size: Self::DEFAULT_POOL_MAX_SIZE,
        })
    }
}

fn config_error(shown_url: &str, why: &str) -> MailError {
    MailError::Config(format!(
        "LODESTAR_SMTP__URL `{shown_url}` is not a usable SMTP URL: {why} \
         (examples: smtp://127.0.0.1:2525, smtp://host?tls=starttls, smtps://user:pass@host)"
    ))
}

fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if url.password().is_some() {
        // Cannot fail: a URL that has a password can have it replaced.
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// For a URL that does not even parse: whatever precedes the last `@` may hold a password.
fn redact_unparsed(raw: &str) -> String {
    let raw = raw.trim();
    let Some(at) = raw.rfind('@') else {
        return raw.to_owned();
    };
    let scheme_end = raw
        .find("://")
        .filter(|&end| end < at)
        .map_or(0, |end| end + 3);
    format!("{}***{}", &raw[..scheme_end], &raw[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SmtpConfig {
        SmtpConfig::parse_url(url).expect("a valid SMTP URL")
    }

    fn parse_error(url: &str) -> String {
        SmtpConfig::parse_url(url)
            .expect_err("an invalid SMTP URL")
            .to_string()
    }

    #[test]
    fn a_plain_smtp_url_keeps_its_port_and_uses_no_tls() {
        let config = parse("smtp://127.0.0.1:2525");
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 2525);
        assert_eq!(config.security, SmtpSecurity::None);
        assert_eq!(config.credentials, None);
        assert_eq!(config.hello_name, None);
    }

    #[test]
    fn tls_starttls_requires_starttls_on_the_submission_port() {
        let config = parse("smtp://mail.example.com?tls=starttls");
        assert_eq!(config.security, SmtpSecurity::StartTls);
        assert_eq!(config.port, 587);
        assert_eq!(
            parse("smtp://h?tls=required").security,
            SmtpSecurity::StartTls
        );
        assert_eq!(
            parse("smtp://h?tls=opportunistic").security,
            SmtpSecurity::Opportunistic
        );
    }

    #[test]
    fn smtps_is_implicit_tls_with_percent_decoded_credentials() {
        let config = parse("smtps://me%40example.com:p%3Ass%2Fw@mail.example.com");
        assert_eq!(config.security, SmtpSecurity::Implicit);
        assert_eq!(config.port, 465);
        assert_eq!(
            config.credentials,
            Some(("me@example.com".to_owned(), "p:ss/w".to_owned()))
        );
        assert_eq!(parse("smtps://u:p@h:2465").port, 2465);
    }

    #[test]
    fn an_ipv6_host_loses_its_brackets() {
        assert_eq!(parse("smtp://[::1]:2525").host, "::1");
    }

    #[test]
    fn the_url_path_becomes_the_ehlo_name() {
        assert_eq!(
            parse("smtp://127.0.0.1:25/lodestar.example.com").hello_name,
            Some("lodestar.example.com".to_owned())
        );
    }

    #[test]
    fn an_invalid_url_names_the_environment_variable_and_hides_the_password() {
        for url in [
            "http://u:secret@host",
            "smtp://u:secret@host?tls=maybe",
            "smtps://u:secret@host?tls=starttls",
            "smtp://u:secret@host?port=25",
            "smtp://u:secret@:25",
            "not a url secret@x",
        ] {
            let message = parse_error(url);
            assert!(message.contains("LODESTAR_SMTP__URL"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        assert!(parse_error("http://host").contains("unknown scheme `http`"));
        assert!(parse_error("smtp://host?tls=maybe").contains("tls=maybe"));
    }

    #[test]
    fn the_debug_form_of_a_config_hides_the_password() {
        let shown = format!("{:?}", parse("smtps://user:hunter2@host"));
        assert!(shown.contains("user"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn no_or_a_blank_smtp_url_means_the_outbox() {
        let dir = Path::new("/tmp/outbox");
        for url in [None, Some(""), Some("  ")] {
            assert_eq!(
                MailerConfig::from_settings(url, dir).expect("outbox config"),
                MailerConfig::Outbox {
                    dir: dir.to_path_buf()
                }
            );
        }
        assert!(matches!(
            MailerConfig::from_settings(Some("smtp://localhost:2525"), dir),
            Ok(MailerConfig::Smtp(_))
        ));
    }
}
