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

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A directory of files named by their SHA-256.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
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
        Ok(ContentStore { dir })
    }

    /// Where the file with `sha256` lives.
    pub fn path_of(&self, sha256: &protocol::Sha256) -> PathBuf {
        self.dir.join(sha256.to_hex())
    }

    /// Whether the file exists.
    pub async fn contains(&self, sha256: &protocol::Sha256) -> bool {
        tokio::fs::try_exists(self.path_of(sha256))
            .await
            .unwrap_or(false)
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

    /// Writes `bytes` atomically; returns its digest.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<protocol::Sha256> {
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
