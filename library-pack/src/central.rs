//! A minimal reader of a zip's central directory, used to vet every entry
//! BEFORE anything is decompressed.
//!
//! It reads names, flags, methods, declared sizes and unix modes straight
//! from the end-of-central-directory record and the central headers (the
//! `zip` crate collapses duplicate names, so it cannot be asked about them).
//! It does not decompress and does not support zip64 (packs are far below
//! 4 GiB and 65,535 entries; a zip64 archive is refused).

use crate::PackError;

/// One central-directory record.
#[derive(Clone, Debug)]
pub(crate) struct CentralEntry {
    /// The raw name as UTF-8.
    pub name: String,
    /// General-purpose flags (bit 0: encrypted).
    pub flags: u16,
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// Declared compressed size.
    pub compressed_size: u64,
    /// Declared uncompressed size.
    pub uncompressed_size: u64,
    /// Unix mode, when the entry was made on unix.
    pub unix_mode: Option<u32>,
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const EOCD_LEN: usize = 22;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn not_a_zip(reason: &str) -> PackError {
    PackError::NotAZip {
        reason: reason.to_owned(),
    }
}

/// The number of entries the end record declares, then every central
/// record. Refuses more than `max_entries` before reading the records.
pub(crate) fn read_central_directory(
    bytes: &[u8],
    max_entries: usize,
) -> Result<Vec<CentralEntry>, PackError> {
    if bytes.len() < EOCD_LEN {
        return Err(not_a_zip("too short to be a zip"));
    }
    let lowest = bytes.len().saturating_sub(EOCD_LEN + usize::from(u16::MAX));
    let eocd = (lowest..=bytes.len() - EOCD_LEN)
        .rev()
        .find(|&at| u32_at(bytes, at) == Some(EOCD_SIGNATURE))
        .ok_or_else(|| not_a_zip("no end-of-central-directory record"))?;
    let field = |offset: usize| {
        u16_at(bytes, eocd + offset).ok_or_else(|| not_a_zip("truncated end record"))
    };
    let (disk, cd_disk) = (field(4)?, field(6)?);
    let entries_on_disk = field(8)?;
    let entries_total = field(10)?;
    let cd_size = u32_at(bytes, eocd + 12).ok_or_else(|| not_a_zip("truncated end record"))?;
    let cd_offset = u32_at(bytes, eocd + 16).ok_or_else(|| not_a_zip("truncated end record"))?;
    if entries_total == u16::MAX || cd_size == u32::MAX || cd_offset == u32::MAX {
        return Err(PackError::Zip64Unsupported);
    }
    if disk != 0 || cd_disk != 0 || entries_on_disk != entries_total {
        return Err(not_a_zip("multi-disk archives are not supported"));
    }
    let declared = usize::from(entries_total);
    if declared > max_entries {
        return Err(PackError::TooManyEntries {
            count: declared,
            limit: max_entries,
        });
    }
    let mut entries = Vec::with_capacity(declared);
    let mut at = cd_offset as usize;
    for _ in 0..declared {
        let truncated = || not_a_zip("truncated central directory");
        if u32_at(bytes, at) != Some(CENTRAL_SIGNATURE) {
            return Err(not_a_zip("bad central directory record"));
        }
        let made_by = u16_at(bytes, at + 4).ok_or_else(truncated)?;
        let flags = u16_at(bytes, at + 8).ok_or_else(truncated)?;
        let method = u16_at(bytes, at + 10).ok_or_else(truncated)?;
        let compressed = u32_at(bytes, at + 20).ok_or_else(truncated)?;
        let uncompressed = u32_at(bytes, at + 24).ok_or_else(truncated)?;
        let name_len = usize::from(u16_at(bytes, at + 28).ok_or_else(truncated)?);
        let extra_len = usize::from(u16_at(bytes, at + 30).ok_or_else(truncated)?);
        let comment_len = usize::from(u16_at(bytes, at + 32).ok_or_else(truncated)?);
        let external = u32_at(bytes, at + 38).ok_or_else(truncated)?;
        if compressed == u32::MAX || uncompressed == u32::MAX {
            return Err(PackError::Zip64Unsupported);
        }
        let raw_name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(truncated)?;
        let name = String::from_utf8(raw_name.to_vec()).map_err(|_| PackError::NonUtf8Name {
            name: String::from_utf8_lossy(raw_name).into_owned(),
        })?;
        entries.push(CentralEntry {
            name,
            flags,
            method,
            compressed_size: u64::from(compressed),
            uncompressed_size: u64::from(uncompressed),
            unix_mode: (made_by >> 8 == 3).then_some(external >> 16),
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(entries)
}
