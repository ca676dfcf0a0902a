//! Power-cut-safe small files: written to a temporary file, fsynced, renamed
//! over the target and the directory fsynced; stored with a CRC32 header and
//! checked on load, so a torn or bit-rotted file is noticed, never trusted.
//!
//! It does not lock files or handle concurrent writers: the agent is the
//! only writer of its data directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why a checked file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckedFileError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The header or CRC does not match: the file is damaged.
    #[error("{path} is damaged (checksum mismatch); it will be replaced")]
    Damaged {
        /// The file.
        path: PathBuf,
    },
}

/// Writes `bytes` to `path` atomically with the given permission bits.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp"));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temp, path)?;
    sync_dir(dir)
}

/// Fsyncs a directory so a rename or unlink in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` atomically behind a `crc32:XXXXXXXX\n` header.
pub fn write_checked(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut out = format!("crc32:{:08x}\n", crc32fast::hash(bytes)).into_bytes();
    out.extend_from_slice(bytes);
    write_atomic(path, &out, mode)
}

/// Reads a file written by [`write_checked`]; `Ok(None)` if it does not exist.
pub fn read_checked(path: &Path) -> Result<Option<Vec<u8>>, CheckedFileError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckedFileError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let damaged = || CheckedFileError::Damaged {
        path: path.to_owned(),
    };
    if data.len() < 15 || &data[..6] != b"crc32:" || data[14] != b'\n' {
        return Err(damaged());
    }
    let expected = std::str::from_utf8(&data[6..14])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(damaged)?;
    let body = &data[15..];
    if crc32fast::hash(body) != expected {
        return Err(damaged());
    }
    Ok(Some(body.to_vec()))
}

/// Removes a file if it exists and fsyncs its directory.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn checked_files_round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_checked(&path, b"{\"v\":1}", 0o600).unwrap();
        assert_eq!(read_checked(&path).unwrap().unwrap(), b"{\"v\":1}");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut raw = fs::read(&path).unwrap();
        let last = raw.len() - 2;
        raw[last] ^= 1;
        fs::write(&path, &raw).unwrap();
        assert!(matches!(
            read_checked(&path),
            Err(CheckedFileError::Damaged { .. })
        ));
        fs::write(&path, b"crc").unwrap();
        assert!(matches!(
            read_checked(&path),
            Err(CheckedFileError::Damaged { .. })
        ));
        assert!(read_checked(&dir.path().join("absent")).unwrap().is_none());
    }
}
