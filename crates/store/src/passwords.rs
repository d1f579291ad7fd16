//! Passwords: argon2id hashes in PHC strings, a minimum length and a short list of the most
//! common passwords (the ones every guessing list starts with).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use crate::error::{Result, StoreError};

pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 256;

/// The most common passwords of at least `MIN_CHARS` characters (shorter ones fail the length
/// check anyway), compared case-insensitively.
const COMMON: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1111111111",
    "0000000000",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "password1234",
    "password123",
    "password12",
    "passw0rd123",
    "iloveyou123",
    "abcdefghij",
    "abc1234567",
    "football123",
    "baseball123",
    "letmein123",
    "welcome123",
    "administrator",
    "changeme123",
    "trustno1234",
    "superman123",
    "sunshine123",
    "princess123",
    "starwars123",
    "monkey12345",
    "dragon12345",
    "asdfghjkl1",
    "zaq12wsxcde",
    "q1w2e3r4t5",
    "aaaaaaaaaa",
    "lodestar123",
    "lodestar1234",
];

/// Why a new password is refused, in words for the form.
pub fn check_new(password: &str) -> std::result::Result<(), String> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(format!("Use at least {MIN_CHARS} characters."));
    }
    if n > MAX_CHARS {
        return Err(format!("Use at most {MAX_CHARS} characters."));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err("That password is one of the most common ones: choose another.".to_owned());
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` under a fresh salt.
pub fn hash(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| StoreError::Invalid(format!("password salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("password hash: {e}")))
}

/// Whether `password` matches the stored PHC string (argon2 compares in constant time).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification without an account, so an unknown address answers as
/// slowly as a wrong password.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash("not a password of anyone").ok()) {
        let _ = verify(password, phc);
    }
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_common_passwords_are_refused() {
        assert!(check_new("short").is_err());
        assert!(check_new("Password123").is_err());
        assert!(check_new("correct horse battery").is_ok());
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("x", "not a phc string"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
