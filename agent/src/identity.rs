//! Enrollment and the identity it leaves in the data directory: the device
//! key, the screen id, broker credentials and the pinned server key.
//!
//! Files (all 0600, atomic, CRC-checked on load):
//! - `identity.json`: what `POST /api/v1/enroll` returned, plus the server URL;
//! - `device.key`: the ed25519 device key seed, 64 hex digits;
//! - `state/server_key.json`: the pinned server key once a `trust_server_key`
//!   command replaced the enrolled one.
//!
//! It does not talk MQTT and does not decide trust (the player does).

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{EnrollRequest, EnrollResponse, ScreenId, TrustedKey};
use serde::{Deserialize, Serialize};

use crate::fsutil::{self, CheckedFileError};
use crate::link::{Link, LinkError};

/// What enrollment stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The server's base URL (for the rotation poll and screenshots).
    pub server_url: String,
    /// What the server returned.
    pub enrollment: EnrollResponse,
}

/// The pinned server key after a rotation of keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedKey {
    /// Key id.
    pub key_id: String,
    /// ed25519 public key, hex.
    pub public_key_hex: String,
}

/// Why enrollment or loading the identity failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The server refused or could not be reached.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored file is unreadable or damaged.
    #[error(transparent)]
    Stored(#[from] CheckedFileError),
    /// The data directory holds no enrollment.
    #[error("{dir} holds no enrollment; run `ledcast-agent enroll --server URL --code CODE --data-dir {dir}`")]
    NotEnrolled {
        /// The data directory.
        dir: PathBuf,
    },
    /// A stored file does not parse.
    #[error("{path} is invalid: {message}; re-enroll this device")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for the device key: {0}")]
    Random(String),
}

/// `identity.json` in `data_dir`.
pub fn identity_path(data_dir: &Path) -> PathBuf {
    data_dir.join("identity.json")
}

/// `device.key` in `data_dir`.
pub fn device_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("device.key")
}

/// `state/server_key.json` in `data_dir`.
pub fn pinned_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("state").join("server_key.json")
}

/// Generates a device key, exchanges `code` at `server_url`, and stores the
/// result in `data_dir`. Re-enrolling replaces the previous identity.
pub fn enroll(server_url: &str, code: &str, data_dir: &Path) -> Result<Identity, IdentityError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| IdentityError::Random(e.to_string()))?;
    let device_key = SigningKey::from_bytes(&seed);
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        device_public_key_hex: hex::encode(device_key.verifying_key().as_bytes()),
    };
    let link = Link::new(&crate::config::HttpConfig::default());
    let enrollment = link.enroll(server_url, &request)?;
    if TrustedKey::from_hex(&enrollment.server_public_key_hex).is_none() {
        return Err(IdentityError::Invalid {
            path: PathBuf::from(format!("{server_url}/api/v1/enroll")),
            message: "server_public_key_hex is not an ed25519 key".to_owned(),
        });
    }
    let identity = Identity {
        server_url: server_url.trim_end_matches('/').to_owned(),
        enrollment,
    };
    store(data_dir, &identity, &device_key)?;
    Ok(identity)
}

/// Stores an identity and device key (used by `enroll`, and by tests that
/// enroll without a server).
pub fn store(
    data_dir: &Path,
    identity: &Identity,
    device_key: &SigningKey,
) -> Result<(), IdentityError> {
    let write = |path: PathBuf, bytes: &[u8]| {
        fsutil::write_checked(&path, bytes, 0o600)
            .map_err(|source| IdentityError::Write { path, source })
    };
    write(
        device_key_path(data_dir),
        hex::encode(device_key.to_bytes()).as_bytes(),
    )?;
    let json = serde_json::to_vec_pretty(identity).map_err(|e| IdentityError::Invalid {
        path: identity_path(data_dir),
        message: e.to_string(),
    })?;
    write(identity_path(data_dir), &json)?;
    // A fresh enrollment pins the key it returned.
    fsutil::remove_durably(&pinned_key_path(data_dir)).map_err(|source| IdentityError::Write {
        path: pinned_key_path(data_dir),
        source,
    })?;
    Ok(())
}

/// Everything `run` needs from enrollment.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The stored identity.
    pub identity: Identity,
    /// The screen id.
    pub screen_id: ScreenId,
    /// The device key.
    pub device_key: SigningKey,
    /// The pinned server key (rotated or enrolled).
    pub server_key: TrustedKey,
}

/// Loads the identity from `data_dir`.
pub fn load(data_dir: &Path) -> Result<Loaded, IdentityError> {
    let path = identity_path(data_dir);
    let Some(json) = fsutil::read_checked(&path)? else {
        return Err(IdentityError::NotEnrolled {
            dir: data_dir.to_owned(),
        });
    };
    let invalid = |path: &Path, message: String| IdentityError::Invalid {
        path: path.to_owned(),
        message,
    };
    let identity: Identity =
        serde_json::from_slice(&json).map_err(|e| invalid(&path, e.to_string()))?;
    let key_path = device_key_path(data_dir);
    let seed_hex = fsutil::read_checked(&key_path)?.ok_or_else(|| IdentityError::NotEnrolled {
        dir: data_dir.to_owned(),
    })?;
    let seed: [u8; 32] = hex::decode(&seed_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid(&key_path, "not 64 hex digits".to_owned()))?;
    let device_key = SigningKey::from_bytes(&seed);
    let pinned_path = pinned_key_path(data_dir);
    let (key_id, public_key_hex) = match fsutil::read_checked(&pinned_path)? {
        Some(bytes) => {
            let pinned: PinnedKey =
                serde_json::from_slice(&bytes).map_err(|e| invalid(&pinned_path, e.to_string()))?;
            (pinned.key_id, pinned.public_key_hex)
        }
        None => (
            identity.enrollment.server_key_id.clone(),
            identity.enrollment.server_public_key_hex.clone(),
        ),
    };
    let server_key = TrustedKey::from_hex(&public_key_hex)
        .filter(|k| k.key_id == key_id)
        .ok_or_else(|| {
            invalid(
                &path,
                format!("server key {key_id:?} does not match its public key"),
            )
        })?;
    Ok(Loaded {
        screen_id: identity.enrollment.screen_id.clone(),
        identity,
        device_key,
        server_key,
    })
}

/// Persists a new pinned server key.
pub fn store_pinned_key(data_dir: &Path, pinned: &PinnedKey) -> std::io::Result<()> {
    let json = serde_json::to_vec(pinned).map_err(std::io::Error::other)?;
    fsutil::write_checked(&pinned_key_path(data_dir), &json, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(server: &TrustedKey) -> Identity {
        Identity {
            server_url: "http://127.0.0.1:8080".into(),
            enrollment: EnrollResponse {
                screen_id: ScreenId::new("atm-3").unwrap(),
                broker_url: "mqtt://127.0.0.1:1883".into(),
                broker_username: "atm-3".into(),
                broker_password: "pw".into(),
                server_key_id: server.key_id.clone(),
                server_public_key_hex: server.public_key_hex(),
                media_base_url: "http://127.0.0.1:8080".into(),
            },
        }
    }

    #[test]
    fn a_rotated_server_key_survives_restarts_and_re_enrolling_resets_it() {
        let dir = tempfile::tempdir().unwrap();
        let old = TrustedKey::new(SigningKey::from_bytes(&[1; 32]).verifying_key());
        let new = TrustedKey::new(SigningKey::from_bytes(&[2; 32]).verifying_key());
        let device = SigningKey::from_bytes(&[3; 32]);
        store(dir.path(), &identity(&old), &device).unwrap();
        assert_eq!(load(dir.path()).unwrap().server_key, old);
        store_pinned_key(
            dir.path(),
            &PinnedKey {
                key_id: new.key_id.clone(),
                public_key_hex: new.public_key_hex(),
            },
        )
        .unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.server_key, new);
        assert_eq!(loaded.device_key.to_bytes(), device.to_bytes());
        // A pinned key whose id does not match its key is refused, not trusted.
        store_pinned_key(
            dir.path(),
            &PinnedKey {
                key_id: old.key_id.clone(),
                public_key_hex: new.public_key_hex(),
            },
        )
        .unwrap();
        assert!(load(dir.path()).is_err());
        store(dir.path(), &identity(&old), &device).unwrap();
        assert_eq!(load(dir.path()).unwrap().server_key, old);
    }
}
