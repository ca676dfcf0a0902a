//! SHA-256 as lowercase hex: how the server names content (media,
//! rotation envelopes, ETags) and looks up tokens. Bottom layer: it imports
//! nothing from the server.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
