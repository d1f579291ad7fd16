//! What spreadsheets and exporting tools write: a UTF-8 byte order mark, Excel's UTF-16 "Unicode
//! text" (with its byte order mark), and comma, semicolon or tab separated values.

use std::io::{self, BufRead, BufReader, Cursor, Read};

/// Bytes looked at to guess the delimiter.
const SNIFF: usize = 64 * 1024;

/// A text stream in UTF-8 and its delimiter.
pub struct Decoded {
    pub reader: Box<dyn BufRead + Send>,
    pub delimiter: u8,
    /// `utf-8`, `utf-8 with BOM`, `utf-16le` or `utf-16be`.
    pub encoding: &'static str,
}

/// Opens `input` as UTF-8 text, decoding UTF-16 and dropping a byte order mark.
pub fn decode(input: Box<dyn Read + Send>) -> io::Result<Decoded> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let head = fill_at_least(&mut reader, 4)?;
    let (reader, encoding): (Box<dyn BufRead + Send>, _) =
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            let little = head.starts_with(&[0xFF, 0xFE]);
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            let units: Vec<u16> = bytes[2..]
                .chunks_exact(2)
                .map(|p| {
                    if little {
                        u16::from_le_bytes([p[0], p[1]])
                    } else {
                        u16::from_be_bytes([p[0], p[1]])
                    }
                })
                .collect();
            let text = String::from_utf16(&units)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "malformed UTF-16 text"))?;
            let name = if little { "utf-16le" } else { "utf-16be" };
            (Box::new(Cursor::new(text.into_bytes())), name)
        } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            reader.consume(3);
            (Box::new(reader), "utf-8 with BOM")
        } else {
            (Box::new(reader), "utf-8")
        };
    let mut reader = reader;
    let sample = reader.fill_buf()?;
    let sample = &sample[..sample.len().min(SNIFF)];
    let delimiter = guess_delimiter(sample);
    Ok(Decoded {
        reader,
        delimiter,
        encoding,
    })
}

/// Fills the buffer until it holds `n` bytes or the input ends; returns the buffered bytes.
fn fill_at_least<R: Read>(reader: &mut BufReader<R>, n: usize) -> io::Result<Vec<u8>> {
    // A `BufReader` fills from one read; inputs that return fewer bytes are rare and short.
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

/// The candidate that splits the most lines into the same number of cells: semicolons win
/// over the decimal commas of the same file, tabs over commas inside text.
pub fn guess_delimiter(sample: &[u8]) -> u8 {
    let text = String::from_utf8_lossy(sample);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .take(30)
        .collect();
    let mut best = (0usize, b',');
    for candidate in [b',', b';', b'\t'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| count_outside_quotes(l, candidate))
            .collect();
        let mut mode = (0usize, 0usize);
        for &c in counts.iter().filter(|&&c| c > 0) {
            let n = counts.iter().filter(|&&x| x == c).count();
            if (n, c) > mode {
                mode = (n, c);
            }
        }
        let score = mode.0 * mode.1;
        if score > best.0 {
            best = (score, candidate);
        }
    }
    best.1
}

fn count_outside_quotes(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn text_of(bytes: Vec<u8>) -> (String, u8, &'static str) {
        let mut decoded = decode(Box::new(Cursor::new(bytes))).unwrap();
        let mut text = String::new();
        decoded.reader.read_to_string(&mut text).unwrap();
        (text, decoded.delimiter, decoded.encoding)
    }

    #[test]
    fn utf16_and_byte_order_marks_become_plain_utf8() {
        let csv = "Day\tCost\n2026-11-03\t1,5\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(csv.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(text_of(le), (csv.to_owned(), b'\t', "utf-16le"));
        let mut be = vec![0xFE, 0xFF];
        be.extend(csv.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(text_of(be).0, csv);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(b"id,created_at\n");
        assert_eq!(
            text_of(bom),
            ("id,created_at\n".to_owned(), b',', "utf-8 with BOM")
        );
    }

    #[test]
    fn semicolons_beat_decimal_commas() {
        let sample = b"Tag;Kampagne;Kosten\n03.11.2026;Brand;1.234,56\n04.11.2026;\"A;B\";12,5\n";
        assert_eq!(guess_delimiter(sample), b';');
        assert_eq!(guess_delimiter(b"a,b,c\n1,2,3\n"), b',');
    }
}
