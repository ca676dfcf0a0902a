//! Validated identifiers: screen ids (safe inside MQTT topics), SHA-256
//! digests and agent boot ids.
//!
//! Validation happens at deserialisation, so a message carrying an id that
//! could inject MQTT wildcards or path separators never parses. (The wire
//! crate has no `thiserror`: serde, serde_json and ed25519 only.)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// The screen id is empty or longer than 64 bytes.
    ScreenIdLength { len: usize },
    /// The screen id contains a character outside `[a-z0-9._-]`.
    ScreenIdChar { id: String, found: char },
    /// A SHA-256 digest was not 64 lowercase hex digits.
    Sha256Format { value: String },
    /// A boot id was not 1 to 64 characters of `[a-z0-9-]`.
    BootIdFormat { value: String },
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::ScreenIdLength { len } => {
                write!(f, "screen id must be 1 to 64 characters long, got {len}")
            }
            IdError::ScreenIdChar { id, found } => write!(
                f,
                "screen id {id:?} contains {found:?}; use lowercase letters, digits, '-', '_' and '.'"
            ),
            IdError::Sha256Format { value } => {
                write!(f, "sha256 must be 64 lowercase hex digits, got {value:?}")
            }
            IdError::BootIdFormat { value } => {
                write!(f, "boot id must be 1 to 64 characters of [a-z0-9-], got {value:?}")
            }
        }
    }
}

impl std::error::Error for IdError {}

/// A screen's id: 1–64 characters of `[a-z0-9._-]`, never `.` or `..`.
/// Safe to embed in an MQTT topic (no `+`, `#`, `/`) and in a file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScreenId(String);

impl ScreenId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<ScreenId, IdError> {
        if id.is_empty() || id.len() > 64 {
            return Err(IdError::ScreenIdLength { len: id.len() });
        }
        if id == "." || id == ".." {
            return Err(IdError::ScreenIdChar {
                id: id.to_owned(),
                found: '.',
            });
        }
        if let Some(found) = id.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        }) {
            return Err(IdError::ScreenIdChar {
                id: id.to_owned(),
                found,
            });
        }
        Ok(ScreenId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScreenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ScreenId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScreenId::new(s)
    }
}

/// A SHA-256 digest, written on the wire as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Parses 64 lowercase hex digits.
    pub fn from_hex(value: &str) -> Result<Sha256, IdError> {
        let bad = || IdError::Sha256Format {
            value: value.chars().take(80).collect(),
        };
        let bytes = value.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or_else(bad)?;
            let lo = hex_digit(pair[1]).ok_or_else(bad)?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Sha256(out))
    }

    /// The digest as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn from_hex(value: &str) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?))
        .collect()
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Sha256 {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sha256::from_hex(s)
    }
}

/// Identifies one run of an agent process: play-record sequence numbers are
/// unique per `(screen, boot_id, seq)`. 1–64 characters of `[a-z0-9-]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BootId(String);

impl BootId {
    /// Validates `value`.
    pub fn new(value: &str) -> Result<BootId, IdError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(BootId(value.to_owned()))
        } else {
            Err(IdError::BootIdFormat {
                value: value.chars().take(80).collect(),
            })
        }
    }

    /// A boot id made from 16 random bytes the caller supplies (the wire
    /// crate has no randomness of its own).
    pub fn from_random(bytes: [u8; 16]) -> BootId {
        BootId(to_hex(&bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_serde {
    ($ty:ty, $parse:expr, $show:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&$show(self))
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                $parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(ScreenId, ScreenId::new, |v: &ScreenId| v.0.clone());
string_serde!(Sha256, Sha256::from_hex, |v: &Sha256| v.to_hex());
string_serde!(BootId, BootId::new, |v: &BootId| v.0.clone());

/// The ids travel as strings; their schemas say which.
#[cfg(feature = "schema")]
macro_rules! string_schema {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

#[cfg(feature = "schema")]
string_schema!(ScreenId, "ScreenId", {"type": "string", "description": "a screen id: letters, digits, '-', '_' and '.'"});
#[cfg(feature = "schema")]
string_schema!(Sha256, "Sha256", {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256, 64 lower-case hex digits"});
#[cfg(feature = "schema")]
string_schema!(BootId, "BootId", {"type": "string", "description": "one agent start, hex"});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_ids_cannot_inject_topic_syntax() {
        for bad in [
            "",
            "a/b",
            "a+",
            "#",
            "A",
            "door 1",
            "..",
            ".",
            "a\0b",
            &"x".repeat(65),
        ] {
            assert!(ScreenId::new(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["gaogang-hall-wall", "b1.door", "atm_03", "x"] {
            assert_eq!(ScreenId::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn sha256_round_trips_and_refuses_uppercase() {
        let hex = "ab".repeat(32);
        assert_eq!(Sha256::from_hex(&hex).unwrap().to_hex(), hex);
        assert!(Sha256::from_hex(&"AB".repeat(32)).is_err());
        assert!(Sha256::from_hex("abc").is_err());
        let json = serde_json::to_string(&Sha256([7; 32])).unwrap();
        assert_eq!(
            serde_json::from_str::<Sha256>(&json).unwrap(),
            Sha256([7; 32])
        );
    }

    #[test]
    fn deserialising_an_unsafe_screen_id_fails() {
        assert!(serde_json::from_str::<ScreenId>("\"a/#\"").is_err());
    }
}
