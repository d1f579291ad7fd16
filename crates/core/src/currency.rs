//! A team's currency: an ISO 4217 code, the symbol people expect in front of amounts, and how
//! many minor units (cents) it has.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;

/// Three uppercase ASCII letters, `USD` unless the team says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

/// Codes with a symbol of their own (or a prefix that tells dollars apart) and their minor units;
/// any other ISO 4217 code is written before the amount (`ZAR 1,234`).
const KNOWN: [(&str, &str, u8); 20] = [
    ("USD", "$", 2),
    ("EUR", "€", 2),
    ("GBP", "£", 2),
    ("JPY", "¥", 0),
    ("CNY", "CN¥", 2),
    ("INR", "₹", 2),
    ("KRW", "₩", 0),
    ("CAD", "CA$", 2),
    ("AUD", "A$", 2),
    ("NZD", "NZ$", 2),
    ("MXN", "MX$", 2),
    ("BRL", "R$", 2),
    ("CHF", "CHF ", 2),
    ("SEK", "SEK ", 2),
    ("NOK", "NOK ", 2),
    ("DKK", "DKK ", 2),
    ("PLN", "PLN ", 2),
    ("ILS", "₪", 2),
    ("TRY", "₺", 2),
    ("SGD", "S$", 2),
];

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// An ISO 4217 code, any case: `eur` is `EUR`.
    pub fn parse(s: &str) -> Result<Currency, CoreError> {
        let t = s.trim();
        match <[u8; 3]>::try_from(t.as_bytes()) {
            Ok(b) if b.iter().all(u8::is_ascii_alphabetic) => {
                Ok(Currency(b.map(|c| c.to_ascii_uppercase())))
            }
            _ => Err(CoreError::InvalidCurrency(s.to_owned())),
        }
    }

    pub fn code(&self) -> &str {
        // Three ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }

    fn known(&self) -> Option<(&'static str, u8)> {
        KNOWN
            .iter()
            .find(|(code, _, _)| *code == self.code())
            .map(|(_, symbol, minor)| (*symbol, *minor))
    }

    /// What goes in front of an amount: `$`, `€`, `CHF `, or the code and a space.
    pub fn prefix(&self) -> String {
        match self.known() {
            Some((symbol, _)) => symbol.to_owned(),
            None => format!("{} ", self.code()),
        }
    }

    /// Digits after the decimal point of an exact amount (0 for yen and won).
    pub fn minor_units(&self) -> usize {
        self.known().map_or(2, |(_, minor)| usize::from(minor))
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_letters_in_any_case() {
        assert_eq!(Currency::parse("eur").expect("a code").code(), "EUR");
        assert_eq!(Currency::parse(" GBP ").expect("a code").code(), "GBP");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("ÄÖÜ").is_err());
        assert_eq!(Currency::default().code(), "USD");
    }

    #[test]
    fn known_codes_have_their_symbol_others_their_code() {
        assert_eq!(Currency::parse("USD").expect("a code").prefix(), "$");
        assert_eq!(Currency::parse("EUR").expect("a code").prefix(), "€");
        assert_eq!(Currency::parse("CHF").expect("a code").prefix(), "CHF ");
        assert_eq!(Currency::parse("ZAR").expect("a code").prefix(), "ZAR ");
        assert_eq!(Currency::parse("JPY").expect("a code").minor_units(), 0);
        assert_eq!(Currency::parse("ZAR").expect("a code").minor_units(), 2);
    }
}
