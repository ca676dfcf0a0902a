//! Detached signatures for HTTP uploads from an agent (screenshots): the
//! device key signs `context || 0x00 || screen_id \n timestamp \n sha256(body)`.
//!
//! Sent as headers `X-Ledcast-Key-Id`, `X-Ledcast-Timestamp` (ms since the
//! epoch) and `X-Ledcast-Signature` (128 hex digits). The server refuses a
//! timestamp outside its replay window; that policy lives in the server.

use ed25519_dalek::{Signature, Signer, SigningKey};

use super::envelope::TrustedKey;
use super::ids::{from_hex, to_hex, ScreenId, Sha256};
use super::time::Timestamp;

/// Header carrying the signing key's id.
pub const HEADER_KEY_ID: &str = "x-ledcast-key-id";
/// Header carrying the signing time in ms since the epoch.
pub const HEADER_TIMESTAMP: &str = "x-ledcast-timestamp";
/// Header carrying the hex signature.
pub const HEADER_SIGNATURE: &str = "x-ledcast-signature";

fn upload_signing_bytes(screen_id: &ScreenId, at: Timestamp, body_sha256: &Sha256) -> Vec<u8> {
    format!(
        "ledcast/v1/upload\0{}\n{}\n{}",
        screen_id.as_str(),
        at.0,
        body_sha256.to_hex()
    )
    .into_bytes()
}

/// Signs an upload of a body whose SHA-256 is `body_sha256`; returns the hex signature.
pub fn sign_upload(
    key: &SigningKey,
    screen_id: &ScreenId,
    at: Timestamp,
    body_sha256: &Sha256,
) -> String {
    to_hex(
        &key.sign(&upload_signing_bytes(screen_id, at, body_sha256))
            .to_bytes(),
    )
}

/// Whether `signature_hex` is a valid device signature over the upload.
pub fn verify_upload(
    trusted: &TrustedKey,
    screen_id: &ScreenId,
    at: Timestamp,
    body_sha256: &Sha256,
    signature_hex: &str,
) -> bool {
    let Some(bytes) = from_hex(signature_hex).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    trusted
        .key
        .verify_strict(
            &upload_signing_bytes(screen_id, at, body_sha256),
            &Signature::from_bytes(&bytes),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_signature_binds_screen_time_and_body() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let trusted = TrustedKey::new(key.verifying_key());
        let s1 = ScreenId::new("s1").unwrap();
        let s2 = ScreenId::new("s2").unwrap();
        let body = Sha256([5; 32]);
        let sig = sign_upload(&key, &s1, Timestamp(10), &body);
        assert!(verify_upload(&trusted, &s1, Timestamp(10), &body, &sig));
        assert!(!verify_upload(&trusted, &s2, Timestamp(10), &body, &sig));
        assert!(!verify_upload(&trusted, &s1, Timestamp(11), &body, &sig));
        assert!(!verify_upload(
            &trusted,
            &s1,
            Timestamp(10),
            &Sha256([6; 32]),
            &sig
        ));
        assert!(!verify_upload(&trusted, &s1, Timestamp(10), &body, "zz"));
    }
}
