//! The server's ed25519 signing key: generated on first start at
//! `{data_dir}/keys/server.key` (0600, written atomically), loaded after.
//!
//! `ledcast-server keys rotate` ([`rotate`]) makes a new key current and keeps
//! the old one at `{data_dir}/keys/server.previous.key`; on start the push
//! side tells every agent the new key in a command signed by the previous
//! one and re-signs the current rotations (`crate::push`). Older keys are
//! kept as `server.retired-{n}.key` and never used again.

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

/// Where the key before the last rotation lives.
pub fn previous_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("server.previous.key")
}

fn read_key(path: &Path) -> anyhow::Result<Option<SigningKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .with_context(|| format!("{} is not 64 hex digits", path.display()))?;
            Ok(Some(SigningKey::from_bytes(&bytes)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The key before the last `keys rotate`, if any (and if it differs from
/// the current one).
pub fn load_previous(data_dir: &Path) -> anyhow::Result<Option<SigningKey>> {
    let previous = read_key(&previous_key_path(data_dir))?;
    let current = read_key(&key_path(data_dir))?;
    Ok(match (previous, current) {
        (Some(p), Some(c)) if p.to_bytes() == c.to_bytes() => None,
        (previous, _) => previous,
    })
}

/// The current key on disk, if any.
pub fn read_current(data_dir: &Path) -> anyhow::Result<Option<SigningKey>> {
    read_key(&key_path(data_dir))
}

/// The previous key file as it is (even when equal to the current one).
pub fn read_previous_file(data_dir: &Path) -> anyhow::Result<Option<SigningKey>> {
    read_key(&previous_key_path(data_dir))
}

/// Makes `current` (and `previous`, when given) this server's keys on disk,
/// as the deployment keeps them (`crate::replicas`). A different current
/// key already here is moved aside to `server.replaced-N.key`, never
/// deleted.
pub fn install(
    data_dir: &Path,
    current: &SigningKey,
    previous: Option<&SigningKey>,
) -> anyhow::Result<()> {
    let path = key_path(data_dir);
    match read_key(&path)? {
        Some(here) if here.to_bytes() == current.to_bytes() => {}
        Some(_) => {
            let keys_dir = path.parent().context("key path has a parent")?;
            let mut n = 1;
            let target = loop {
                let candidate = keys_dir.join(format!("server.replaced-{n}.key"));
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
            };
            std::fs::rename(&path, &target)
                .with_context(|| format!("moving {} aside", path.display()))?;
            tracing::warn!(
                moved_to = %target.display(),
                "this server's own key differed from the deployment's; it was moved aside"
            );
            write_secret(&path, &hex::encode(current.to_bytes()))?;
        }
        None => write_secret(&path, &hex::encode(current.to_bytes()))?,
    }
    if let Some(previous) = previous {
        let previous_path = previous_key_path(data_dir);
        if read_key(&previous_path)?.map(|k| k.to_bytes()) != Some(previous.to_bytes()) {
            write_secret(&previous_path, &hex::encode(previous.to_bytes()))?;
        }
    }
    Ok(())
}

/// What [`rotate`] did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// Key id of the key that signed until now (kept as the previous key).
    pub old_key_id: String,
    /// Key id of the new current key.
    pub new_key_id: String,
    /// Where an older previous key was moved, if there was one.
    pub retired: Option<PathBuf>,
}

/// Generates a new current key (0600) and keeps the current one as the
/// previous key. The old key file is written first, so a crash in between
/// leaves previous == current, which start-up ignores.
pub fn rotate(data_dir: &Path) -> anyhow::Result<Rotated> {
    let path = key_path(data_dir);
    let Some(old) = read_key(&path)? else {
        bail!(
            "no server key at {} yet: start the server once (it generates one), then rotate",
            path.display()
        );
    };
    let previous_path = previous_key_path(data_dir);
    let mut retired = None;
    if let Some(older) = read_key(&previous_path)? {
        if older.to_bytes() != old.to_bytes() {
            let keys_dir = path.parent().context("key path has a parent")?;
            let mut n = 1;
            let target = loop {
                let candidate = keys_dir.join(format!("server.retired-{n}.key"));
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
            };
            std::fs::rename(&previous_path, &target)
                .with_context(|| format!("moving {} aside", previous_path.display()))?;
            retired = Some(target);
        }
    }
    write_secret(&previous_path, &hex::encode(old.to_bytes()))?;
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).context("reading the system random source")?;
    let new = SigningKey::from_bytes(&secret);
    write_secret(&path, &hex::encode(secret))?;
    Ok(Rotated {
        old_key_id: ledcast_protocol::v1::key_id_for(&old.verifying_key()),
        new_key_id: ledcast_protocol::v1::key_id_for(&new.verifying_key()),
        retired,
    })
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().context("key path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key")
    ));
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
    fn rotate_keeps_the_old_key_as_previous_and_retires_an_older_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(rotate(dir.path()).is_err(), "nothing to rotate yet");
        let first = load_or_generate(dir.path()).unwrap();
        assert!(load_previous(dir.path()).unwrap().is_none());
        let rotated = rotate(dir.path()).unwrap();
        let second = load_or_generate(dir.path()).unwrap();
        assert_ne!(first.to_bytes(), second.to_bytes());
        let previous = load_previous(dir.path()).unwrap().unwrap();
        assert_eq!(previous.to_bytes(), first.to_bytes());
        assert_eq!(
            rotated.new_key_id,
            ledcast_protocol::v1::key_id_for(&second.verifying_key())
        );
        #[cfg(unix)]
        for path in [key_path(dir.path()), previous_key_path(dir.path())] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        let again = rotate(dir.path()).unwrap();
        let retired = again
            .retired
            .expect("the first key is retired, not deleted");
        assert_eq!(
            read_key(&retired).unwrap().unwrap().to_bytes(),
            first.to_bytes()
        );
        let previous = load_previous(dir.path()).unwrap().unwrap();
        assert_eq!(previous.to_bytes(), second.to_bytes());
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
