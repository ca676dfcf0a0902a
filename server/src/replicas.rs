//! Several servers on one PostgreSQL database without a shared disk
//! (issue 21). With `[replicas] key_encryption_key_file` set:
//!
//! - the server signing keys (current and previous) are kept in the
//!   database, sealed with XChaCha20-Poly1305 under the deployment's
//!   key-encryption key (KEK), which lives only in a 0600 file on each
//!   replica, never in the database: a database dump alone cannot sign;
//! - at start a replica makes its key files the deployment's (the first
//!   replica to start seals its own key, or a new one, into the database;
//!   the others take that one), so agents trust whichever replica signs;
//! - media and screenshots are kept in the database too
//!   ([`crate::media_store::ContentStore::shared_through`]), so every
//!   replica serves every medium.
//!
//! Which replica compiles is decided elsewhere: [`crate::store::Store::compile_lease`].

use std::path::Path;

use anyhow::{bail, Context};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;

use crate::config::Config;
use crate::store::Store;

/// The deployment's key-encryption key.
pub struct Kek(XChaCha20Poly1305);

/// Database slots of the keys.
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";

/// Reads the KEK file: 64 hex digits, readable by its owner only.
pub fn load_kek(path: &Path) -> anyhow::Result<Kek> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| {
                format!(
                    "reading the key-encryption key {} ([replicas] key_encryption_key_file); \
                     create it once with `openssl rand -hex 32 > {}; chmod 600 {}` and copy \
                     the same file to every replica",
                    path.display(),
                    path.display(),
                    path.display()
                )
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "the key-encryption key {} can be read by other users (mode {:o}): run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key-encryption key {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .with_context(|| format!("{} is not 64 hex digits", path.display()))?;
    Ok(Kek(XChaCha20Poly1305::new(&bytes.into())))
}

impl Kek {
    /// `nonce (24 bytes) || ciphertext`; the slot is bound in as associated
    /// data, so a sealed previous key cannot be passed off as the current.
    fn seal(&self, slot: &str, key: &SigningKey) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 24];
        getrandom::getrandom(&mut nonce).context("reading the system random source")?;
        let aad = format!("ledcast server key/{slot}");
        let secret = key.to_bytes();
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &secret,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing the server key failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn unseal(&self, slot: &str, sealed: &[u8]) -> anyhow::Result<SigningKey> {
        let aad = format!("ledcast server key/{slot}");
        let opened = (sealed.len() > 24)
            .then(|| {
                self.0.decrypt(
                    XNonce::from_slice(&sealed[..24]),
                    Payload {
                        msg: &sealed[24..],
                        aad: aad.as_bytes(),
                    },
                )
            })
            .and_then(Result::ok)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        match opened {
            Some(secret) => Ok(SigningKey::from_bytes(&secret)),
            None => bail!(
                "the deployment's {slot} server key in the database does not open with this \
                 replica's key-encryption key: copy the key_encryption_key_file the other \
                 replicas use"
            ),
        }
    }
}

/// Makes this replica's key files the deployment's (see the module doc).
/// A no-op without `[replicas] key_encryption_key_file`.
pub async fn sync_keys(config: &Config, store: &Store, now: i64) -> anyhow::Result<()> {
    let Some(kek_path) = &config.replicas.key_encryption_key_file else {
        return Ok(());
    };
    let kek = load_kek(kek_path)?;
    let data_dir = config.data_dir.clone();
    if store.deployment_key(CURRENT).await?.is_none() {
        // The first replica: its own key (or a new one) becomes the
        // deployment's, unless another replica starting now stores first.
        let own = {
            let data_dir = data_dir.clone();
            tokio::task::spawn_blocking(move || crate::keys::load_or_generate(&data_dir)).await??
        };
        let key_id = ledcast_protocol::v1::key_id_for(&own.verifying_key());
        if store
            .put_deployment_key_if_absent(CURRENT, &kek.seal(CURRENT, &own)?, &key_id, now)
            .await?
        {
            tracing::info!(%key_id, "the server key is now kept, sealed, in the database for every replica");
            let previous = {
                let data_dir = data_dir.clone();
                tokio::task::spawn_blocking(move || crate::keys::load_previous(&data_dir)).await??
            };
            if let Some(previous) = previous {
                let previous_id = ledcast_protocol::v1::key_id_for(&previous.verifying_key());
                store
                    .put_deployment_key_if_absent(
                        PREVIOUS,
                        &kek.seal(PREVIOUS, &previous)?,
                        &previous_id,
                        now,
                    )
                    .await?;
            }
        }
    }
    let Some(sealed) = store.deployment_key(CURRENT).await? else {
        bail!("the deployment's server key vanished from the database while starting");
    };
    let current = kek.unseal(CURRENT, &sealed)?;
    let previous = match store.deployment_key(PREVIOUS).await? {
        Some(sealed) => Some(kek.unseal(PREVIOUS, &sealed)?),
        None => None,
    };
    tokio::task::spawn_blocking(move || {
        crate::keys::install(&data_dir, &current, previous.as_ref())
    })
    .await??;
    Ok(())
}

/// After `keys rotate` on one replica: keeps its new current and previous
/// keys in the database, for the others to take at their next start. A
/// no-op without `[replicas] key_encryption_key_file`.
pub async fn publish_rotated_keys(config: &Config, store: &Store, now: i64) -> anyhow::Result<()> {
    let Some(kek_path) = &config.replicas.key_encryption_key_file else {
        return Ok(());
    };
    let kek = load_kek(kek_path)?;
    let Some(current) = crate::keys::read_current(&config.data_dir)? else {
        bail!("no server key in {} to keep", config.data_dir.display());
    };
    let mut keys = vec![(
        CURRENT,
        kek.seal(CURRENT, &current)?,
        ledcast_protocol::v1::key_id_for(&current.verifying_key()),
    )];
    if let Some(previous) = crate::keys::read_previous_file(&config.data_dir)? {
        keys.push((
            PREVIOUS,
            kek.seal(PREVIOUS, &previous)?,
            ledcast_protocol::v1::key_id_for(&previous.verifying_key()),
        ));
    }
    store.set_deployment_keys(&keys, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek_file(dir: &Path, hex_digits: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("deployment.kek");
        std::fs::write(&path, hex_digits).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn a_sealed_key_opens_only_with_the_same_kek_and_slot() {
        let dir = tempfile::tempdir().unwrap();
        let kek = load_kek(&kek_file(dir.path(), &"ab".repeat(32))).unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        let sealed = kek.seal(CURRENT, &key).unwrap();
        assert!(
            !sealed.windows(32).any(|w| w == key.to_bytes()),
            "stored in the clear"
        );
        assert_eq!(
            kek.unseal(CURRENT, &sealed).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(
            kek.unseal(PREVIOUS, &sealed).is_err(),
            "opened as another slot"
        );
        let other = tempfile::tempdir().unwrap();
        let wrong = load_kek(&kek_file(other.path(), &"cd".repeat(32))).unwrap();
        let error = wrong.unseal(CURRENT, &sealed).unwrap_err().to_string();
        assert!(error.contains("key_encryption_key_file"), "{error}");
    }

    #[test]
    fn a_kek_readable_by_others_or_malformed_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = kek_file(dir.path(), &"ab".repeat(32));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_kek(&path).err().unwrap().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        let short = kek_file(dir.path(), "abcd");
        let error = load_kek(&short).err().unwrap().to_string();
        assert!(error.contains("64 hex digits"), "{error}");
        let missing = load_kek(&dir.path().join("none")).err().unwrap();
        assert!(
            format!("{missing:#}").contains("openssl rand -hex 32"),
            "{missing:#}"
        );
    }

    fn replica_config(data_dir: &Path, database_url: Option<String>, kek: &Path) -> Config {
        let mut config = Config {
            data_dir: data_dir.to_owned(),
            database_url,
            replicas: crate::config::ReplicasConfig {
                key_encryption_key_file: Some(kek.to_owned()),
            },
            ..Config::default()
        };
        // Not connected to by build_state; replicas must name a shared one.
        config.mqtt.broker_url = Some("mqtt://127.0.0.1:1883".into());
        config
    }

    /// Issue 21: a replica that starts with an empty data_dir signs with
    /// the deployment's key and serves every medium another replica stored;
    /// one that had its own key takes the deployment's (its own is moved
    /// aside); one with another KEK is refused with what to do.
    #[tokio::test]
    async fn a_replica_with_an_empty_data_dir_signs_with_the_deployments_key_and_has_its_media() {
        let secrets = tempfile::tempdir().unwrap();
        let kek = kek_file(secrets.path(), &"5a".repeat(32));
        let Ok(url) = std::env::var(crate::store::testing::PG_ENV) else {
            // Replicas need PostgreSQL; on SQLite the setting is refused.
            let dir = tempfile::tempdir().unwrap();
            let error = crate::service::build_state(
                replica_config(dir.path(), None, &kek),
                "http://a".into(),
            )
            .await
            .err()
            .unwrap();
            assert!(
                format!("{error:#}").contains("needs the replicas' shared PostgreSQL"),
                "{error:#}"
            );
            return;
        };
        let (schema, drop_schema) = crate::store::testing::fresh_schema(&url).await;
        let database_url = Some(format!("{url}?options=-c%20search_path%3D{schema}"));
        let dir_a = tempfile::tempdir().unwrap();
        let a = crate::service::build_state(
            replica_config(dir_a.path(), database_url.clone(), &kek),
            "http://a".into(),
        )
        .await
        .unwrap();
        let medium = b"\x89PNG a rendition made on replica A".to_vec();
        let sha = a.media.put(&medium).await.unwrap();

        // B: empty data_dir.
        let dir_b = tempfile::tempdir().unwrap();
        let b = crate::service::build_state(
            replica_config(dir_b.path(), database_url.clone(), &kek),
            "http://b".into(),
        )
        .await
        .unwrap();
        assert_eq!(b.signing_key.to_bytes(), a.signing_key.to_bytes());
        assert!(!dir_b.path().join("media").join(sha.to_hex()).exists());
        assert_eq!(b.media.read(&sha).await.unwrap(), medium);
        assert!(
            dir_b.path().join("media").join(sha.to_hex()).exists(),
            "kept locally after the first read"
        );

        // C: had its own key.
        let dir_c = tempfile::tempdir().unwrap();
        let own = crate::keys::load_or_generate(dir_c.path()).unwrap();
        assert_ne!(own.to_bytes(), a.signing_key.to_bytes());
        let c = crate::service::build_state(
            replica_config(dir_c.path(), database_url.clone(), &kek),
            "http://c".into(),
        )
        .await
        .unwrap();
        assert_eq!(c.signing_key.to_bytes(), a.signing_key.to_bytes());
        assert!(dir_c
            .path()
            .join("keys")
            .join("server.replaced-1.key")
            .exists());

        // D: another KEK.
        let other = tempfile::tempdir().unwrap();
        let wrong = kek_file(other.path(), &"77".repeat(32));
        let dir_d = tempfile::tempdir().unwrap();
        let error = crate::service::build_state(
            replica_config(dir_d.path(), database_url.clone(), &wrong),
            "http://d".into(),
        )
        .await
        .err()
        .unwrap();
        assert!(
            format!("{error:#}").contains("copy the key_encryption_key_file"),
            "{error:#}"
        );

        for state in [a, b, c] {
            state.store.close().await;
        }
        drop_schema.await;
    }
}
