//! The signed envelope `{key_id, payload, signature}` (DESIGN.md §5).
//!
//! The signature covers the exact payload bytes, prefixed by a per-message-type
//! context string so a signed `Ack` can never be replayed as a `Rotation`.
//! The verifier fixes the algorithm (ed25519, strict verification) and the key;
//! the message chooses neither. [`open`] checks the size cap before anything
//! else, then the key id, then the signature, and only then parses the payload.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::accept::Rejected;
use super::ids::{from_hex, to_hex};
use super::types::{Ack, AgentState, Command, PlayBatch, Rotation};

/// Default cap on an envelope's size: 256 KiB.
pub const DEFAULT_MAX_ENVELOPE_BYTES: usize = 256 * 1024;

/// The envelope as it travels. `payload` is the JSON text of the message;
/// `signature` is 128 hex digits of an ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Envelope {
    /// Which key signed it (see [`key_id_for`]).
    pub key_id: String,
    /// The exact signed message text (JSON).
    pub payload: String,
    /// ed25519 signature over `context || 0x00 || payload`, hex.
    pub signature: String,
}

/// A message type that travels signed. `CONTEXT` separates the signature
/// domains of different message types.
pub trait Signed: Serialize + DeserializeOwned {
    /// Domain-separation string, e.g. `ledcast/v1/rotation`.
    const CONTEXT: &'static str;
}

impl Signed for Rotation {
    const CONTEXT: &'static str = "ledcast/v1/rotation";
}
impl Signed for Command {
    const CONTEXT: &'static str = "ledcast/v1/command";
}
impl Signed for AgentState {
    const CONTEXT: &'static str = "ledcast/v1/state";
}
impl Signed for PlayBatch {
    const CONTEXT: &'static str = "ledcast/v1/plays";
}
impl Signed for Ack {
    const CONTEXT: &'static str = "ledcast/v1/ack";
}

/// Limits applied by [`open_with_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenLimits {
    /// Envelopes larger than this are refused unread.
    pub max_bytes: usize,
}

impl Default for OpenLimits {
    fn default() -> Self {
        OpenLimits {
            max_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
        }
    }
}

/// A public key the verifier trusts, with its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// The id envelopes must name.
    pub key_id: String,
    /// The ed25519 public key.
    pub key: VerifyingKey,
}

impl TrustedKey {
    /// Trusts `key` under its derived id.
    pub fn new(key: VerifyingKey) -> TrustedKey {
        TrustedKey {
            key_id: key_id_for(&key),
            key,
        }
    }

    /// Parses a 64-hex-digit public key.
    pub fn from_hex(public_key_hex: &str) -> Option<TrustedKey> {
        let bytes: [u8; 32] = from_hex(public_key_hex)?.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(TrustedKey::new)
    }

    /// The public key as 64 hex digits.
    pub fn public_key_hex(&self) -> String {
        to_hex(self.key.as_bytes())
    }
}

/// A key's id: `ed25519:` and the first 8 bytes of the public key in hex.
pub fn key_id_for(key: &VerifyingKey) -> String {
    format!("ed25519:{}", to_hex(&key.as_bytes()[..8]))
}

fn signed_bytes(context: &str, payload: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(context.len() + 1 + payload.len());
    message.extend_from_slice(context.as_bytes());
    message.push(0);
    message.extend_from_slice(payload.as_bytes());
    message
}

/// Serialises and signs `message`, returning the envelope's bytes.
pub fn seal<T: Signed>(message: &T, key: &SigningKey) -> Vec<u8> {
    let payload = serde_json::to_string(message).expect("wire types always serialise");
    let signature = key.sign(&signed_bytes(T::CONTEXT, &payload));
    let envelope = Envelope {
        key_id: key_id_for(&key.verifying_key()),
        payload,
        signature: to_hex(&signature.to_bytes()),
    };
    serde_json::to_vec(&envelope).expect("envelopes always serialise")
}

/// Verifies and parses an envelope with the default limits.
pub fn open<T: Signed>(envelope_bytes: &[u8], trusted: &TrustedKey) -> Result<T, Rejected> {
    open_with_limits(envelope_bytes, trusted, OpenLimits::default())
}

/// Verifies and parses an envelope: size, then key id, then signature, then
/// the payload. Nothing of the payload is interpreted before the signature holds.
pub fn open_with_limits<T: Signed>(
    envelope_bytes: &[u8],
    trusted: &TrustedKey,
    limits: OpenLimits,
) -> Result<T, Rejected> {
    if envelope_bytes.len() > limits.max_bytes {
        return Err(Rejected::Oversize {
            size: envelope_bytes.len(),
            max: limits.max_bytes,
        });
    }
    let envelope: Envelope =
        serde_json::from_slice(envelope_bytes).map_err(|e| Rejected::Malformed {
            detail: format!("envelope: {e}"),
        })?;
    if envelope.key_id != trusted.key_id {
        return Err(Rejected::UnknownKey {
            key_id: envelope.key_id.chars().take(80).collect(),
            trusted: trusted.key_id.clone(),
        });
    }
    let signature_bytes: [u8; 64] = from_hex(&envelope.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or(Rejected::BadSignature)?;
    let signature = Signature::from_bytes(&signature_bytes);
    trusted
        .key
        .verify_strict(&signed_bytes(T::CONTEXT, &envelope.payload), &signature)
        .map_err(|_| Rejected::BadSignature)?;
    serde_json::from_str(&envelope.payload).map_err(|e| Rejected::Malformed {
        detail: format!("payload: {e}"),
    })
}
