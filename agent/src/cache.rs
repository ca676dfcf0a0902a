//! The content-addressed media cache: `media/{sha256}` holds only files whose
//! SHA-256 was checked before they entered; `partial/{sha256}` holds resumable
//! downloads; `quarantine/` keeps files found corrupt at play time.
//!
//! Downloads ([`download`]) run on a blocking thread and touch only
//! `partial/` and the final rename; the [`Cache`] struct (owned by the
//! driver) keeps the index, the LRU order and the byte quota, and never
//! evicts media the caller marks as protected (current and next rotation).
//! It does not retry or schedule downloads: the driver does.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ledcast_protocol::v1::{MediaRef, Sha256};
use sha2::Digest;

use crate::fsutil;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The bytes do not hash to the signed address; they were discarded.
    #[error("media {media}: checksum mismatch (got {actual}); discarded, will refetch")]
    ChecksumMismatch {
        /// Expected address.
        media: Sha256,
        /// What the bytes hashed to.
        actual: Sha256,
    },
    /// The body ended before the signed size; the partial file is kept for resuming.
    #[error("media {media}: got {got} of {expected} bytes; will resume")]
    Incomplete {
        /// The media.
        media: Sha256,
        /// Bytes on disk.
        got: u64,
        /// Signed size.
        expected: u64,
    },
    /// Not enough disk or quota even after evicting everything unprotected.
    #[error("media {media}: needs {needed} bytes, only {available} available (quota {quota}, free disk above reserve {free}); free space or raise cache.max_bytes")]
    NoSpace {
        /// The media.
        media: Sha256,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// The quota.
        quota: u64,
        /// Free disk above the reserve.
        free: u64,
    },
    /// The source could not be read.
    #[error("media {media}: {message}")]
    Source {
        /// The media.
        media: Sha256,
        /// What the source said.
        message: String,
    },
    /// A file operation failed.
    #[error("media cache {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A cached file was corrupt at play time; it was quarantined.
    #[error("media {media}: cached file corrupt; quarantined, will refetch")]
    Corrupt {
        /// The media.
        media: Sha256,
    },
    /// The media is not in the cache.
    #[error("media {media} is not cached")]
    Missing {
        /// The media.
        media: Sha256,
    },
}

/// Where media bytes come from (HTTP in production, fakes in tests).
pub trait MediaSource {
    /// A reader of the media's bytes from `offset`, and the offset it really
    /// starts at (0 when the source ignored the range).
    fn open(&self, media: &Sha256, offset: u64) -> Result<(Box<dyn Read + Send>, u64), String>;
}

/// The cache's directories.
#[derive(Clone, Debug)]
pub struct CachePaths {
    /// `media/`: verified files.
    pub media: PathBuf,
    /// `partial/`: downloads in progress.
    pub partial: PathBuf,
    /// `quarantine/`: files found corrupt.
    pub quarantine: PathBuf,
}

impl CachePaths {
    /// The layout under `root`.
    pub fn new(root: &Path) -> CachePaths {
        CachePaths {
            media: root.join("media"),
            partial: root.join("partial"),
            quarantine: root.join("quarantine"),
        }
    }

    /// A verified file's path.
    pub fn media_path(&self, media: &Sha256) -> PathBuf {
        self.media.join(media.to_hex())
    }

    fn partial_path(&self, media: &Sha256) -> PathBuf {
        self.partial.join(format!("{}.part", media.to_hex()))
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Downloads `media` from `source` into the cache: resumes a partial file,
/// reads at most the signed size, verifies SHA-256, and only then renames
/// the file into `media/` (fsyncing file and directory).
pub fn download(
    paths: &CachePaths,
    media: &MediaRef,
    source: &dyn MediaSource,
) -> Result<(), CacheError> {
    let sha = media.sha256;
    let part = paths.partial_path(&sha);
    fs::create_dir_all(&paths.partial).map_err(io_err(&paths.partial))?;
    fs::create_dir_all(&paths.media).map_err(io_err(&paths.media))?;
    let mut have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if have >= media.size_bytes {
        // Complete but unverified (or too long): start over.
        have = 0;
    }
    let (mut reader, start) = source
        .open(&sha, have)
        .map_err(|message| CacheError::Source {
            media: sha,
            message,
        })?;
    if start != have {
        have = 0;
    }
    let mut hasher = sha2::Sha256::new();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&part)
        .map_err(io_err(&part))?;
    file.set_len(have).map_err(io_err(&part))?;
    if have > 0 {
        let mut existing = File::open(&part).map_err(io_err(&part))?;
        io::copy(
            &mut (&mut existing).take(have),
            &mut HashWriter(&mut hasher),
        )
        .map_err(io_err(&part))?;
    }
    let mut file = std::io::BufWriter::new({
        use std::io::Seek;
        let mut f = file;
        f.seek(io::SeekFrom::Start(have)).map_err(io_err(&part))?;
        f
    });
    let mut buffer = vec![0u8; 32 * 1024];
    let mut remaining = media.size_bytes - have;
    let mut got = have;
    let mut read_error = None;
    while remaining > 0 {
        let want = remaining.min(buffer.len() as u64) as usize;
        match reader.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => {
                file.write_all(&buffer[..n]).map_err(io_err(&part))?;
                hasher.update(&buffer[..n]);
                remaining -= n as u64;
                got += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    let file = file.into_inner().map_err(|e| CacheError::Io {
        path: part.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(&part))?;
    drop(file);
    if remaining > 0 {
        if let Some(message) = read_error {
            return Err(CacheError::Source {
                media: sha,
                message,
            });
        }
        return Err(CacheError::Incomplete {
            media: sha,
            got,
            expected: media.size_bytes,
        });
    }
    let actual = Sha256(hasher.finalize().into());
    if actual != sha {
        fsutil::remove_durably(&part).map_err(io_err(&part))?;
        return Err(CacheError::ChecksumMismatch { media: sha, actual });
    }
    let target = paths.media_path(&sha);
    fs::rename(&part, &target).map_err(io_err(&target))?;
    fsutil::sync_dir(&paths.media).map_err(io_err(&paths.media))?;
    Ok(())
}

struct HashWriter<'a>(&'a mut sha2::Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One cached file.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Size on disk.
    size: u64,
    /// LRU stamp: higher is more recent.
    last_used: u64,
}

/// The cache index, quota and LRU.
#[derive(Debug)]
pub struct Cache {
    /// The directories.
    paths: CachePaths,
    /// Verified files.
    entries: HashMap<Sha256, Entry>,
    /// Sum of entry sizes.
    total_bytes: u64,
    /// The byte quota.
    max_bytes: u64,
    /// Free disk kept in reserve.
    min_free_bytes: u64,
    /// LRU counter.
    tick: u64,
}

impl Cache {
    /// Opens (creating) the cache under `root` and indexes `media/`, oldest
    /// modification first for the LRU order. Stray names are removed.
    pub fn open(root: &Path, max_bytes: u64, min_free_bytes: u64) -> Result<Cache, CacheError> {
        let paths = CachePaths::new(root);
        for dir in [&paths.media, &paths.partial, &paths.quarantine] {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let mut found = Vec::new();
        for entry in fs::read_dir(&paths.media).map_err(io_err(&paths.media))? {
            let entry = entry.map_err(io_err(&paths.media))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            match Sha256::from_hex(&name) {
                Ok(sha) if meta.is_file() => {
                    let modified = meta.modified().ok();
                    found.push((modified, sha, meta.len()));
                }
                _ => {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        found.sort();
        let mut cache = Cache {
            paths,
            entries: HashMap::new(),
            total_bytes: 0,
            max_bytes,
            min_free_bytes,
            tick: 0,
        };
        for (_, sha, size) in found {
            cache.insert(sha, size);
        }
        Ok(cache)
    }

    /// The directories, for [`download`].
    pub fn paths(&self) -> &CachePaths {
        &self.paths
    }

    /// Whether a verified copy is cached.
    pub fn contains(&self, media: &Sha256) -> bool {
        self.entries.contains_key(media)
    }

    /// Everything cached.
    pub fn ids(&self) -> HashSet<Sha256> {
        self.entries.keys().copied().collect()
    }

    /// `(items, bytes)`.
    pub fn usage(&self) -> (u64, u64) {
        (self.entries.len() as u64, self.total_bytes)
    }

    /// Records a file that [`download`] put into `media/`.
    pub fn insert(&mut self, media: Sha256, size: u64) {
        self.tick += 1;
        let previous = self.entries.insert(
            media,
            Entry {
                size,
                last_used: self.tick,
            },
        );
        self.total_bytes = self.total_bytes + size - previous.map_or(0, |e| e.size);
    }

    /// Reads a cached file and checks its hash. A corrupt file is moved to
    /// `quarantine/` and forgotten ([`CacheError::Corrupt`]).
    pub fn read_verified(&mut self, media: &Sha256) -> Result<Vec<u8>, CacheError> {
        if !self.entries.contains_key(media) {
            return Err(CacheError::Missing { media: *media });
        }
        let path = self.paths.media_path(media);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(media);
                return Err(CacheError::Missing { media: *media });
            }
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        if Sha256(sha2::Sha256::digest(&bytes).into()) != *media {
            self.quarantine(media);
            return Err(CacheError::Corrupt { media: *media });
        }
        self.tick += 1;
        if let Some(e) = self.entries.get_mut(media) {
            e.last_used = self.tick;
        }
        Ok(bytes)
    }

    /// Checks a cached file's hash without holding it in memory (videos).
    /// A corrupt file is quarantined ([`CacheError::Corrupt`]).
    pub fn verify_streaming(&mut self, media: &Sha256) -> Result<(), CacheError> {
        if !self.entries.contains_key(media) {
            return Err(CacheError::Missing { media: *media });
        }
        let path = self.paths.media_path(media);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(media);
                return Err(CacheError::Missing { media: *media });
            }
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        let mut hasher = sha2::Sha256::new();
        io::copy(&mut file, &mut HashWriter(&mut hasher)).map_err(io_err(&path))?;
        if Sha256(hasher.finalize().into()) != *media {
            self.quarantine(media);
            return Err(CacheError::Corrupt { media: *media });
        }
        self.tick += 1;
        if let Some(e) = self.entries.get_mut(media) {
            e.last_used = self.tick;
        }
        Ok(())
    }

    /// Moves a file found corrupt out of the cache.
    pub fn quarantine(&mut self, media: &Sha256) {
        let from = self.paths.media_path(media);
        let to = self.paths.quarantine.join(media.to_hex());
        if fs::rename(&from, &to).is_err() {
            let _ = fs::remove_file(&from);
        }
        let _ = fsutil::sync_dir(&self.paths.media);
        self.forget(media);
    }

    fn forget(&mut self, media: &Sha256) {
        if let Some(e) = self.entries.remove(media) {
            self.total_bytes -= e.size;
        }
    }

    /// Makes room for `media` under the quota and the free-disk reserve,
    /// evicting least recently used files not in `protected`. Returns the
    /// evicted addresses.
    pub fn make_room(
        &mut self,
        media: &MediaRef,
        protected: &HashSet<Sha256>,
    ) -> Result<Vec<Sha256>, CacheError> {
        let needed = media.size_bytes;
        let mut evicted = Vec::new();
        loop {
            let free = free_disk_bytes(&self.paths.media)
                .unwrap_or(u64::MAX)
                .saturating_sub(self.min_free_bytes);
            let quota_left = self.max_bytes.saturating_sub(self.total_bytes);
            let available = quota_left.min(free);
            if available >= needed {
                return Ok(evicted);
            }
            let victim = self
                .entries
                .iter()
                .filter(|(sha, _)| !protected.contains(sha) && **sha != media.sha256)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(sha, _)| *sha);
            let Some(victim) = victim else {
                return Err(CacheError::NoSpace {
                    media: media.sha256,
                    needed,
                    available,
                    quota: self.max_bytes,
                    free,
                });
            };
            fsutil::remove_durably(&self.paths.media_path(&victim))
                .map_err(io_err(&self.paths.media))?;
            self.forget(&victim);
            evicted.push(victim);
        }
    }
}

/// Free bytes on the file system holding `path` (for unprivileged users).
pub fn free_disk_bytes(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests;
