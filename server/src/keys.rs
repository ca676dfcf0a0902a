//! The server's ed25519 signing key: generated on first start at
//! `{data_dir}/keys/server.key` (0600, written atomically), loaded after.
//!
//! It does not rotate keys (the push side owns `keys rotate`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;

/// Where the key lives under a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("server.key")
}

/// Loads the key, generating and storing a new one when none exists. The
/// file holds the 32-byte secret as 64 hex digits.
pub fn load_or_generate(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            match bytes {
                Some(bytes) => Ok(SigningKey::from_bytes(&bytes)),
                None => bail!(
                    "server key {} is not 64 hex digits; restore it from backup \
                     (deleting it makes every enrolled agent reject new rotations)",
                    path.display()
                ),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::getrandom(&mut secret).context("reading the system random source")?;
            let key = SigningKey::from_bytes(&secret);
            write_secret(&path, &hex::encode(secret))?;
            tracing::info!(path = %path.display(), "generated a new server signing key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading server key {}", path.display())),
    }
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().context("key path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = dir.join(".server.key.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path).with_context(|| format!("renaming to {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_generated_once_with_owner_only_permissions_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_generate(dir.path()).unwrap();
        let second = load_or_generate(dir.path()).unwrap();
        assert_eq!(first.to_bytes(), second.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_is_an_error_not_a_silent_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::write(key_path(dir.path()), "nope").unwrap();
        let error = load_or_generate(dir.path()).unwrap_err().to_string();
        assert!(error.contains("not 64 hex digits"), "{error}");
    }
}
