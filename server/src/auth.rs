//! Secrets: argon2id password hashes, random tokens (sessions, API tokens,
//! CSRF, enrollment codes, broker passwords) and their SHA-256 lookup keys.
//!
//! Random, high-entropy tokens are stored as SHA-256 (fast lookup, nothing
//! to brute-force); human-chosen passwords only as argon2id. This module does
//! no I/O besides the system random source.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// `n` random bytes from the system source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).expect("the system random source is available");
    out
}

/// A random token of `N` bytes as lowercase hex.
pub fn random_hex<const N: usize>() -> String {
    hex::encode(random_bytes::<N>())
}

/// The lookup key of a random token.
pub fn token_sha256(token: &str) -> String {
    crate::digest::sha256_hex(token.as_bytes())
}

/// Hashes a password with argon2id (default parameters, random salt).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 accepts any password with default parameters")
        .to_string()
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A generated password: 20 characters from an unambiguous alphabet (~100 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    random_bytes::<20>()
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Why a chosen password is refused.
pub fn password_problem(password: &str) -> Option<&'static str> {
    if password.chars().count() < 12 {
        Some("the password must be at least 12 characters long")
    } else if password.len() > 1024 {
        Some("the password must be at most 1024 bytes long")
    } else {
        None
    }
}

const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A one-time enrollment code: 80 random bits as 16 Crockford base-32
/// characters in groups of four (`7KQ2-M9XD-…`).
pub fn generate_enrollment_code() -> String {
    let bytes = random_bytes::<10>();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let mut chars = Vec::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            chars.push('-');
        }
        let index = ((bits >> (75 - 5 * i)) & 31) as usize;
        chars.push(CODE_ALPHABET[index] as char);
    }
    chars.into_iter().collect()
}

/// Normalises a typed code (case, dashes, spaces, look-alike letters) to
/// the form whose hash is stored.
pub fn normalise_enrollment_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn enrollment_codes_have_80_bits_and_normalise_typing_slips() {
        let code = generate_enrollment_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalise_enrollment_code(&typed), code.replace('-', ""));
        assert_ne!(generate_enrollment_code(), code);
        assert_eq!(normalise_enrollment_code("o1l-I"), "0111");
    }

    #[test]
    fn generated_passwords_pass_the_policy() {
        let password = generate_password();
        assert_eq!(password_problem(&password), None);
        assert!(password_problem("short").is_some());
    }
}
