//! An outgoing message as the application describes it, address validation, and its translation
//! into a lettre `multipart/alternative` message.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use crate::error::MailError;

/// One message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The sender; `None` uses the mailer's `LODESTAR_MAIL__FROM`.
    pub from: Option<String>,
    /// Exactly one mailbox (`a@example.com` or `Name <a@example.com>`).
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// `<left@right>`, chosen by the caller so a re-send carries the same id
    /// (see [`digest_message_id`]).
    pub message_id: String,
    /// Extra headers such as `List-Id`; names that the message sets itself are refused.
    pub headers: Vec<(String, String)>,
}

/// Headers this crate sets from the other fields; an extra header must not shadow them.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
    "auto-submitted",
];

impl OutgoingMail {
    /// The lettre message: `multipart/alternative` with the text part first (clients show the
    /// last part they understand, so HTML wins where it can).
    pub fn build_message(&self, default_from: &Mailbox) -> Result<Message, MailError> {
        let from = match &self.from {
            Some(from) => parse_address(from).map_err(|reason| MailError::InvalidAddress {
                address: from.clone(),
                reason,
            })?,
            None => default_from.clone(),
        };
        let from = with_display_name(from);
        let to = parse_address(&self.to).map_err(|reason| MailError::InvalidAddress {
            address: self.to.clone(),
            reason,
        })?;
        check_message_id(&self.message_id)?;
        if self.subject.chars().any(char::is_control) {
            return Err(MailError::Message(
                "the subject contains a line break or control character".to_owned(),
            ));
        }

        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject.clone())
            .message_id(Some(self.message_id.clone()))
            // A digest is machine-made: this keeps out-of-office replies from answering it.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        for (name, value) in &self.headers {
            builder = builder.raw_header(extra_header(name, value)?);
        }

        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(self.text.clone()))
                    .singlepart(SinglePart::html(self.html.clone())),
            )
            .map_err(|err| MailError::Message(err.to_string()))
    }
}

/// The name a sender without one is shown under: inbox lists show the name, and a bare
/// `lodestar@host` reads like a machine nobody answers for.
pub const SENDER_NAME: &str = "Lodestar";

/// `mailbox`, named [`SENDER_NAME`] when it has no display name of its own.
pub fn with_display_name(mailbox: Mailbox) -> Mailbox {
    match mailbox.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => mailbox,
        _ => Mailbox::new(Some(SENDER_NAME.to_owned()), mailbox.email),
    }
}

/// Parses one mailbox (`a@example.com` or `Name <a@example.com>`), refusing anything that could
/// smuggle a header (CR, LF or other control characters) and anything after the address (lettre's
/// parser stops at the first mailbox and would silently drop the rest).
pub fn parse_address(s: &str) -> Result<Mailbox, String> {
    if s.chars().any(char::is_control) {
        return Err("contains a line break or control character".to_owned());
    }
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err("is empty".to_owned());
    }
    let mailbox: Mailbox = trimmed
        .parse()
        .map_err(|_| "is not a valid e-mail address".to_owned())?;
    let email = mailbox.email.to_string();
    let whole = trimmed == email || trimmed.ends_with(&format!("<{email}>"));
    if !whole {
        return Err("holds more than one e-mail address".to_owned());
    }
    Ok(mailbox)
}

/// The Message-ID of one digest: the same for every attempt at the same (schedule, period,
/// recipient), so a receiver can drop the duplicate that an SMTP timeout after DATA may cause.
/// The recipient is hashed to keep the address out of the id.
pub fn digest_message_id(
    schedule_id: i64,
    period_key: &str,
    recipient: &str,
    domain: &str,
) -> String {
    let normalised = match parse_address(recipient) {
        Ok(mailbox) => mailbox.email.to_string().to_lowercase(),
        Err(_) => recipient.trim().to_lowercase(),
    };
    let digest = Sha256::digest(normalised.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let period: String = period_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    let domain = domain.trim_matches('.');
    let domain = if domain.is_empty() {
        "lodestar"
    } else {
        domain
    };
    format!("<digest.{schedule_id}.{period}.{hash}@{domain}>")
}

fn check_message_id(id: &str) -> Result<(), MailError> {
    let inner = id.strip_prefix('<').and_then(|rest| rest.strip_suffix('>'));
    let valid = inner.is_some_and(|inner| {
        let mut halves = inner.splitn(2, '@');
        let left = halves.next().unwrap_or_default();
        let right = halves.next().unwrap_or_default();
        !left.is_empty()
            && !right.is_empty()
            && !right.contains('@')
            && inner
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\'))
    });
    if valid {
        Ok(())
    } else {
        Err(MailError::Message(format!(
            "Message-ID {id:?} is not of the form <left@right>"
        )))
    }
}

fn extra_header(name: &str, value: &str) -> Result<HeaderValue, MailError> {
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(MailError::Message(format!(
            "header {name:?} is set by the mailer itself"
        )));
    }
    let valid_name = name.chars().all(|c| c.is_ascii_graphic() && c != ':');
    let header_name = HeaderName::new_from_ascii(name.to_owned())
        .ok()
        .filter(|_| valid_name)
        .ok_or_else(|| MailError::Message(format!("{name:?} is not a valid header name")))?;
    if value.chars().any(char::is_control) {
        return Err(MailError::Message(format!(
            "header {name:?} contains a line break or control character"
        )));
    }
    Ok(HeaderValue::new(header_name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> OutgoingMail {
        OutgoingMail {
            from: None,
            to: "Ada <ada@example.com>".to_owned(),
            subject: "Acme · Weekly · Week 45".to_owned(),
            html: "<p>Hello</p>".to_owned(),
            text: "Hello".to_owned(),
            message_id: "<digest.1.2026-W45.abc@example.com>".to_owned(),
            headers: vec![(
                "List-Id".to_owned(),
                "Lodestar digests <digests.example.com>".to_owned(),
            )],
        }
    }

    fn sender() -> Mailbox {
        parse_address("Lodestar <lodestar@example.com>").expect("a valid sender")
    }

    fn formatted(mail: &OutgoingMail) -> String {
        let message = mail.build_message(&sender()).expect("a valid message");
        String::from_utf8(message.formatted()).expect("an ASCII message")
    }

    #[test]
    fn an_address_with_an_injected_bcc_header_is_rejected() {
        for evil in [
            "ada@example.com\r\nBcc: eve@evil.example",
            "ada@example.com\nBcc: eve@evil.example",
            "Ada\r\n <ada@example.com>",
        ] {
            let reason = parse_address(evil).expect_err("an injection attempt");
            assert!(reason.contains("line break"), "{reason}");
        }
    }

    #[test]
    fn an_address_followed_by_another_is_rejected_not_truncated() {
        assert!(parse_address("ada@example.com, eve@evil.example").is_err());
        assert!(parse_address("ada@example.com eve@evil.example").is_err());
    }

    #[test]
    fn invalid_addresses_are_rejected_and_valid_ones_parse() {
        for bad in ["", "   ", "ada", "ada@", "@example.com", "a b@example.com"] {
            assert!(parse_address(bad).is_err(), "{bad:?} should be invalid");
        }
        let mailbox = parse_address(" Ada Lovelace <ada@example.com> ").expect("a valid address");
        assert_eq!(mailbox.email.to_string(), "ada@example.com");
        assert_eq!(mailbox.name.as_deref(), Some("Ada Lovelace"));
        assert!(parse_address("ada@example.com").is_ok());
    }

    #[test]
    fn the_digest_message_id_is_deterministic_and_case_insensitive_in_the_recipient() {
        let id = digest_message_id(7, "2026-W45", "Ada@Example.com", "lodestar.example.com");
        assert_eq!(
            id,
            digest_message_id(7, "2026-W45", "ada@example.com", "lodestar.example.com")
        );
        assert_eq!(
            id,
            digest_message_id(
                7,
                "2026-W45",
                "Ada <ada@example.com>",
                "lodestar.example.com"
            )
        );
        assert!(id.starts_with("<digest.7.2026-W45."), "{id}");
        assert!(id.ends_with("@lodestar.example.com>"), "{id}");
        assert!(!id.contains("ada"), "the address must not leak into {id}");
        assert_ne!(
            id,
            digest_message_id(7, "2026-W45", "bob@example.com", "lodestar.example.com")
        );
        assert_ne!(
            id,
            digest_message_id(7, "2026-W46", "ada@example.com", "lodestar.example.com")
        );
        assert_ne!(
            id,
            digest_message_id(8, "2026-W45", "ada@example.com", "lodestar.example.com")
        );
    }

    #[test]
    fn a_digest_message_id_from_odd_input_is_still_a_valid_message_id() {
        let id = digest_message_id(-1, "2026 W45/x", "x", "");
        assert_eq!(check_message_id(&id).ok(), Some(()), "{id}");
        assert!(id.ends_with("@lodestar>"), "{id}");
    }

    #[test]
    fn the_message_is_multipart_alternative_with_text_before_html() {
        let raw = formatted(&mail());
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        let text_at = raw.find("Content-Type: text/plain").expect("a text part");
        let html_at = raw.find("Content-Type: text/html").expect("an html part");
        assert!(text_at < html_at, "{raw}");
        assert!(
            raw.contains("Message-ID: <digest.1.2026-W45.abc@example.com>"),
            "{raw}"
        );
        assert!(
            raw.contains("From: Lodestar <lodestar@example.com>"),
            "{raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
        assert!(raw.contains("List-Id: Lodestar digests"), "{raw}");
    }

    #[test]
    fn the_message_uses_its_own_sender_when_it_names_one() {
        let raw = formatted(&OutgoingMail {
            from: Some("reports@example.org".to_owned()),
            ..mail()
        });
        assert!(
            raw.contains("From: Lodestar <reports@example.org>"),
            "{raw}"
        );
        let raw = formatted(&OutgoingMail {
            from: Some("Acme <reports@example.org>".to_owned()),
            ..mail()
        });
        assert!(raw.contains("From: Acme <reports@example.org>"), "{raw}");
    }

    #[test]
    fn a_sender_without_a_name_is_sent_as_lodestar() {
        let bare = parse_address("digests@example.com").expect("a valid address");
        let message = mail().build_message(&bare).expect("a valid message");
        let raw = String::from_utf8(message.formatted()).expect("an ASCII message");
        assert!(
            raw.contains("From: Lodestar <digests@example.com>"),
            "{raw}"
        );
    }

    #[test]
    fn a_malformed_message_id_subject_or_header_is_refused() {
        for id in [
            "",
            "digest@x",
            "<digest>",
            "<a b@x>",
            "<a@b@c>",
            "<a@x>\r\nBcc: e@x",
        ] {
            let result = OutgoingMail {
                message_id: id.to_owned(),
                ..mail()
            }
            .build_message(&sender());
            assert!(matches!(result, Err(MailError::Message(_))), "{id:?}");
        }
        let result = OutgoingMail {
            subject: "Hi\r\nBcc: eve@evil.example".to_owned(),
            ..mail()
        }
        .build_message(&sender());
        assert!(matches!(result, Err(MailError::Message(_))));
        for (name, value) in [
            ("Bcc", "eve@evil.example"),
            ("X-Note", "a\r\nBcc: eve@evil.example"),
            ("X Note", "a"),
            ("X:Note", "a"),
        ] {
            let result = OutgoingMail {
                headers: vec![(name.to_owned(), value.to_owned())],
                ..mail()
            }
            .build_message(&sender());
            assert!(matches!(result, Err(MailError::Message(_))), "{name:?}");
        }
    }

    #[test]
    fn an_invalid_recipient_is_an_invalid_address_error() {
        let result = OutgoingMail {
            to: "nobody".to_owned(),
            ..mail()
        }
        .build_message(&sender());
        assert!(matches!(result, Err(MailError::InvalidAddress { .. })));
    }
}
