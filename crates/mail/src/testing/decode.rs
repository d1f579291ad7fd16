//! Just enough MIME reading for tests to look inside what the server received: headers,
//! RFC 2047 encoded words, multipart bodies, quoted-printable and base64.

/// One leaf part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePart {
    /// The media type alone, lower-cased, e.g. `text/plain`.
    pub content_type: String,
    /// The body, transfer-decoded and read as UTF-8 (lossily).
    pub body: String,
}

/// `(head, body)` of an entity.
pub(super) fn split_head(entity: &str) -> (&str, &str) {
    if let Some(at) = entity.find("\r\n\r\n") {
        (&entity[..at], &entity[at + 4..])
    } else if let Some(rest) = entity.strip_prefix("\r\n") {
        ("", rest)
    } else {
        (entity, "")
    }
}

pub(super) fn header(head: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = &mut found {
                value.push_str(line);
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((field, value)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            found = Some(value.trim_start().to_owned());
        }
    }
    found.map(|value| value.trim().to_owned())
}

/// Decodes `=?utf-8?b?...?=` and `=?utf-8?q?...?=` words; whitespace between two encoded words
/// is dropped, as RFC 2047 says.
pub(super) fn encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_encoded = false;
    for token in value.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        match decode_word(word) {
            Some(decoded) => {
                if !last_was_encoded {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                last_was_encoded = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_encoded = word.is_empty() && last_was_encoded;
            }
        }
        pending_space = space.to_owned();
    }
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut fields = inner.splitn(3, '?');
    let _charset = fields.next()?;
    let encoding = fields.next()?;
    let text = fields.next()?;
    let bytes = if encoding.eq_ignore_ascii_case("b") {
        base64(text)?
    } else if encoding.eq_ignore_ascii_case("q") {
        quoted_printable(&text.replace('_', " "))
    } else {
        return None;
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub(super) fn parts(entity: &str) -> Vec<MimePart> {
    let (head, body) = split_head(entity);
    let content_type = header(head, "Content-Type").unwrap_or_else(|| "text/plain".to_owned());
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type.starts_with("multipart/") {
        let Some(boundary) = parameter(&content_type, "boundary") else {
            return Vec::new();
        };
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        // The first piece is the preamble; the piece after the closing delimiter starts "--".
        for piece in body.split(delimiter.as_str()).skip(1) {
            if piece.starts_with("--") {
                break;
            }
            let piece = piece.strip_prefix("\r\n").unwrap_or(piece);
            let piece = piece.strip_suffix("\r\n").unwrap_or(piece);
            parts.extend(self::parts(piece));
        }
        return parts;
    }
    let encoding = header(head, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => base64(body).unwrap_or_default(),
        _ => body.as_bytes().to_vec(),
    };
    vec![MimePart {
        content_type: media_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }]
}

fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_owned())
    })
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Standard-alphabet base64, whitespace ignored; `None` on anything else.
pub(super) fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("aGVsbG8h").as_deref(), Some(&b"hello!"[..]));
        assert_eq!(
            base64("AHVzZXIAcGFzcw==").as_deref(),
            Some(&b"\0user\0pass"[..])
        );
        assert_eq!(base64("a*b"), None);
    }

    #[test]
    fn quoted_printable_drops_soft_breaks_and_decodes_escapes() {
        assert_eq!(quoted_printable("a=3Db=\r\nc =C2=B7"), "a=bc ·".as_bytes());
    }

    #[test]
    fn encoded_words_decode_and_join_across_whitespace() {
        assert_eq!(
            encoded_words("=?utf-8?b?QWNtZSDCtw==?= =?utf-8?q?_Weekly?="),
            "Acme · Weekly"
        );
        assert_eq!(encoded_words("plain words here"), "plain words here");
        assert_eq!(encoded_words("Hi =?utf-8?q?=C2=B7?= there"), "Hi · there");
    }

    #[test]
    fn headers_are_unfolded_and_matched_case_insensitively() {
        let head = "Subject: a\r\n  b\r\ncontent-type: text/html;\r\n charset=utf-8";
        assert_eq!(header(head, "subject"), Some("a  b".to_owned()));
        assert_eq!(
            header(head, "Content-Type"),
            Some("text/html; charset=utf-8".to_owned())
        );
        assert_eq!(header(head, "To"), None);
    }

    #[test]
    fn a_multipart_message_yields_its_decoded_leaves_in_order() {
        let raw = "Content-Type: multipart/alternative;\r\n boundary=\"XX\"\r\n\r\n\
                   --XX\r\nContent-Type: text/plain; charset=utf-8\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\r\nhi =C2=B7\r\n\
                   --XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                   PGI+aGk8L2I+\r\n--XX--\r\n";
        assert_eq!(
            parts(raw),
            vec![
                MimePart {
                    content_type: "text/plain".to_owned(),
                    body: "hi ·".to_owned()
                },
                MimePart {
                    content_type: "text/html".to_owned(),
                    body: "<b>hi</b>".to_owned()
                },
            ]
        );
    }
}
