//! The content-addressed media store: files under `{data_dir}/media/` (and
//! screenshots under `{data_dir}/screenshots/`) named by the SHA-256 of their
//! bytes, written atomically (temp file, fsync, rename, fsync dir).
//!
//! No user-supplied name ever reaches a path: only validated digests do. It
//! does not decide MIME types or who may read a file.

use std::path::{Path, PathBuf};

use ledcast_protocol::v1 as protocol;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::digest::sha256_hex;

/// A directory of files named by their SHA-256, optionally kept in the
/// database too (`[replicas]`, issue 21): then every file written is also
/// stored there, and a file missing here (written by another replica) is
/// fetched from there, checked against its digest, and kept here.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
    shared: Option<crate::store::Store>,
}

/// A file being written: bytes are hashed as they stream in.
pub struct PendingFile {
    temp_path: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
}

impl ContentStore {
    /// Opens (creating) the directory.
    pub async fn open(dir: PathBuf) -> std::io::Result<ContentStore> {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::create_dir_all(dir.join("tmp")).await?;
        Ok(ContentStore { dir, shared: None })
    }

    /// This store, also keeping every file in (and fetching missing ones
    /// from) `store`'s database.
    pub fn shared_through(self, store: crate::store::Store) -> ContentStore {
        ContentStore {
            shared: Some(store),
            ..self
        }
    }

    /// Where the file with `sha256` is on this machine, fetching it from
    /// the database first when it is shared and not here yet; `None` when
    /// it exists nowhere.
    pub async fn local_path(&self, sha256: &protocol::Sha256) -> std::io::Result<Option<PathBuf>> {
        let path = self.path_of(sha256);
        if tokio::fs::try_exists(&path).await? {
            return Ok(Some(path));
        }
        let Some(store) = &self.shared else {
            return Ok(None);
        };
        let Some(bytes) = store
            .media_blob(&sha256.to_hex())
            .await
            .map_err(std::io::Error::other)?
        else {
            return Ok(None);
        };
        let written = self.write_local(&bytes).await?;
        if written != *sha256 {
            let _ = self.remove(&written).await;
            return Err(std::io::Error::other(format!(
                "the database's copy of {} has digest {}",
                sha256.to_hex(),
                written.to_hex()
            )));
        }
        Ok(Some(path))
    }

    /// The file's bytes (fetched as [`ContentStore::local_path`] does).
    pub async fn read(&self, sha256: &protocol::Sha256) -> std::io::Result<Vec<u8>> {
        match self.local_path(sha256).await? {
            Some(path) => tokio::fs::read(path).await,
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no stored file {}", sha256.to_hex()),
            )),
        }
    }

    /// Keeps every local file in the database that is not there yet (a
    /// server that had media before `[replicas]` was configured); returns
    /// how many were added.
    pub async fn share_local_files(&self) -> std::io::Result<usize> {
        let Some(store) = &self.shared else {
            return Ok(0);
        };
        let kept = store
            .media_blob_hashes()
            .await
            .map_err(std::io::Error::other)?;
        let mut added = 0;
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(hex) = name.to_str() else { continue };
            if kept.contains(hex) || protocol::Sha256::from_hex(hex).is_err() {
                continue;
            }
            let bytes = tokio::fs::read(entry.path()).await?;
            if sha256_hex(&bytes) != hex {
                tracing::warn!(file = %entry.path().display(), "stored file does not match its name; not shared");
                continue;
            }
            store
                .put_media_blob(hex, &bytes)
                .await
                .map_err(std::io::Error::other)?;
            added += 1;
        }
        Ok(added)
    }

    /// Where the file with `sha256` lives.
    pub fn path_of(&self, sha256: &protocol::Sha256) -> PathBuf {
        self.dir.join(sha256.to_hex())
    }

    /// Whether the file exists (here, or in the database when shared).
    pub async fn contains(&self, sha256: &protocol::Sha256) -> bool {
        self.local_path(sha256).await.ok().flatten().is_some()
    }

    /// Starts a streamed write into a temp file.
    pub async fn begin(&self) -> std::io::Result<PendingFile> {
        let mut random = [0u8; 12];
        getrandom::getrandom(&mut random).map_err(std::io::Error::other)?;
        let temp_path = self.dir.join("tmp").join(hex::encode(random));
        let file = tokio::fs::File::create(&temp_path).await?;
        Ok(PendingFile {
            temp_path,
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Writes `bytes` atomically (and into the database when shared);
    /// returns its digest.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<protocol::Sha256> {
        let digest = self.write_local(bytes).await?;
        if let Some(store) = &self.shared {
            store
                .put_media_blob(&digest.to_hex(), bytes)
                .await
                .map_err(std::io::Error::other)?;
        }
        Ok(digest)
    }

    async fn write_local(&self, bytes: &[u8]) -> std::io::Result<protocol::Sha256> {
        let mut pending = self.begin().await?;
        pending.write(bytes).await?;
        self.commit(pending).await
    }

    /// Finishes a streamed write: fsync, rename to the digest, fsync the
    /// directory. An existing file with the same digest is kept.
    pub async fn commit(&self, mut pending: PendingFile) -> std::io::Result<protocol::Sha256> {
        pending.file.flush().await?;
        pending.file.sync_all().await?;
        drop(pending.file);
        let digest = protocol::Sha256(pending.hasher.finalize().into());
        let final_path = self.path_of(&digest);
        tokio::fs::rename(&pending.temp_path, &final_path).await?;
        sync_dir(&self.dir).await?;
        Ok(digest)
    }

    /// Abandons a streamed write.
    pub async fn abort(&self, pending: PendingFile) {
        drop(pending.file);
        let _ = tokio::fs::remove_file(&pending.temp_path).await;
    }

    /// Removes a file (no error when absent).
    pub async fn remove(&self, sha256: &protocol::Sha256) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path_of(sha256)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl PendingFile {
    /// Appends bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        self.file.write_all(bytes).await
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_named_by_their_digest_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path().join("media")).await.unwrap();
        let digest = store.put(b"hello").await.unwrap();
        assert_eq!(digest.to_hex(), sha256_hex(b"hello"));
        assert_eq!(std::fs::read(store.path_of(&digest)).unwrap(), b"hello");
        assert!(std::fs::read_dir(dir.path().join("media/tmp"))
            .unwrap()
            .next()
            .is_none());
        // Same content twice: same name, still one file.
        assert_eq!(store.put(b"hello").await.unwrap(), digest);
        let files = std::fs::read_dir(dir.path().join("media")).unwrap().count();
        assert_eq!(files, 2, "the digest file plus tmp/");
    }
}
