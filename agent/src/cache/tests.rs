//! Cache tests: verification, resume, quarantine and eviction.

use std::cell::RefCell;
use std::io::Cursor;

use super::*;

/// A source serving `bytes`, honouring ranges unless told not to, and
/// cutting the body after `cut_after` bytes of each response.
struct Fake {
    bytes: Vec<u8>,
    honour_range: bool,
    cut_after: Option<usize>,
    offsets_asked: RefCell<Vec<u64>>,
}

impl Fake {
    fn new(bytes: Vec<u8>) -> Fake {
        Fake {
            bytes,
            honour_range: true,
            cut_after: None,
            offsets_asked: RefCell::new(Vec::new()),
        }
    }
}

impl MediaSource for Fake {
    fn open(&self, _media: &Sha256, offset: u64) -> Result<(Box<dyn Read + Send>, u64), String> {
        self.offsets_asked.borrow_mut().push(offset);
        let start = if self.honour_range {
            offset as usize
        } else {
            0
        };
        let mut body = self.bytes[start..].to_vec();
        if let Some(cut) = self.cut_after {
            body.truncate(cut);
        }
        Ok((Box::new(Cursor::new(body)), start as u64))
    }
}

fn media_ref(bytes: &[u8]) -> MediaRef {
    MediaRef {
        sha256: Sha256(sha2::Sha256::digest(bytes).into()),
        size_bytes: bytes.len() as u64,
        mime: "image/png".into(),
        width: 1,
        height: 1,
    }
}

fn content(n: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(n))
        .collect()
}

#[test]
fn a_download_enters_the_cache_only_after_verification() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    let bytes = content(1, 5000);
    let m = media_ref(&bytes);
    download(cache.paths(), &m, &Fake::new(bytes.clone())).unwrap();
    cache.insert(m.sha256, m.size_bytes);
    assert_eq!(cache.read_verified(&m.sha256).unwrap(), bytes);

    // Wrong bytes of the right size: refused, nothing in media/ or partial/.
    let other = media_ref(&content(2, 5000));
    let err = download(cache.paths(), &other, &Fake::new(content(3, 5000))).unwrap_err();
    assert!(matches!(err, CacheError::ChecksumMismatch { .. }), "{err}");
    assert!(!cache.paths().media_path(&other.sha256).exists());
    assert_eq!(fs::read_dir(&cache.paths().partial).unwrap().count(), 0);
}

#[test]
fn a_cut_download_resumes_with_range_and_an_endless_body_stops_at_the_signed_size() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    let bytes = content(4, 100_000);
    let m = media_ref(&bytes);
    let mut source = Fake::new(bytes.clone());
    source.cut_after = Some(40_000);
    let err = download(cache.paths(), &m, &source).unwrap_err();
    assert!(
        matches!(err, CacheError::Incomplete { got: 40_000, .. }),
        "{err}"
    );
    assert!(!cache.paths().media_path(&m.sha256).exists());
    let err = download(cache.paths(), &m, &source).unwrap_err();
    assert!(
        matches!(err, CacheError::Incomplete { got: 80_000, .. }),
        "{err}"
    );
    download(cache.paths(), &m, &source).unwrap();
    assert_eq!(*source.offsets_asked.borrow(), vec![0, 40_000, 80_000]);
    assert_eq!(
        fs::read(cache.paths().media_path(&m.sha256)).unwrap(),
        bytes
    );

    // A server that ignores Range: the partial file restarts from zero.
    let bytes2 = content(5, 10_000);
    let m2 = media_ref(&bytes2);
    let mut source2 = Fake::new(bytes2.clone());
    source2.cut_after = Some(6_000);
    source2.honour_range = false;
    assert!(download(cache.paths(), &m2, &source2).is_err());
    source2.cut_after = None;
    download(cache.paths(), &m2, &source2).unwrap();
    assert_eq!(
        fs::read(cache.paths().media_path(&m2.sha256)).unwrap(),
        bytes2
    );

    // An endless body: the signed size plus garbage; reading stops at the size.
    let bytes3 = content(6, 3_000);
    let m3 = media_ref(&bytes3);
    let mut endless = bytes3.clone();
    endless.extend(std::iter::repeat_n(0xAA, 1_000_000));
    download(cache.paths(), &m3, &Fake::new(endless)).unwrap();
    assert_eq!(
        fs::read(cache.paths().media_path(&m3.sha256)).unwrap(),
        bytes3
    );
}

#[test]
fn a_corrupt_file_at_play_time_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    let bytes = content(7, 1000);
    let m = media_ref(&bytes);
    download(cache.paths(), &m, &Fake::new(bytes)).unwrap();
    cache.insert(m.sha256, m.size_bytes);
    cache.verify_streaming(&m.sha256).unwrap();
    let path = cache.paths().media_path(&m.sha256);
    let mut raw = fs::read(&path).unwrap();
    raw[10] ^= 0xFF;
    fs::write(&path, raw).unwrap();
    assert!(matches!(
        cache.verify_streaming(&m.sha256),
        Err(CacheError::Corrupt { .. })
    ));
    assert!(!cache.contains(&m.sha256));
    assert!(!path.exists());
    assert!(cache.paths().quarantine.join(m.sha256.to_hex()).exists());
    // Reopening does not resurrect it.
    let cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    assert!(!cache.contains(&m.sha256));
}

#[test]
fn eviction_is_lru_under_the_quota_and_never_touches_protected_media() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 3_000, 0).unwrap();
    let items: Vec<(Vec<u8>, MediaRef)> = (0..3)
        .map(|n| {
            let b = content(10 + n, 1000);
            let m = media_ref(&b);
            (b, m)
        })
        .collect();
    for (b, m) in &items {
        let evicted = cache.make_room(m, &HashSet::new()).unwrap();
        assert!(evicted.is_empty());
        download(cache.paths(), m, &Fake::new(b.clone())).unwrap();
        cache.insert(m.sha256, m.size_bytes);
    }
    // Use item 0 so item 1 is the least recently used.
    cache.read_verified(&items[0].1.sha256).unwrap();
    let newcomer = media_ref(&content(20, 1000));
    let evicted = cache.make_room(&newcomer, &HashSet::new()).unwrap();
    assert_eq!(evicted, vec![items[1].1.sha256]);
    assert!(!cache.paths().media_path(&items[1].1.sha256).exists());

    // Everything protected: no room, nothing evicted.
    let protected: HashSet<Sha256> = cache.ids();
    let big = media_ref(&content(21, 2000));
    let err = cache.make_room(&big, &protected).unwrap_err();
    assert!(matches!(err, CacheError::NoSpace { .. }), "{err}");
    assert_eq!(cache.usage(), (2, 2000));
}

#[test]
fn reopening_indexes_verified_files_and_drops_stray_names() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = content(30, 500);
    let m = media_ref(&bytes);
    {
        let cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
        download(cache.paths(), &m, &Fake::new(bytes)).unwrap();
        fs::write(cache.paths().media.join("not-a-hash"), b"x").unwrap();
    }
    let cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    assert!(cache.contains(&m.sha256));
    assert_eq!(cache.usage(), (1, 500));
    assert!(!dir.path().join("media/not-a-hash").exists());
    assert!(free_disk_bytes(dir.path()).unwrap() > 0);
}

#[test]
fn read_verified_quarantines_a_corrupt_still() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = Cache::open(dir.path(), 1 << 20, 0).unwrap();
    let bytes = content(8, 1000);
    let m = media_ref(&bytes);
    download(cache.paths(), &m, &Fake::new(bytes.clone())).unwrap();
    cache.insert(m.sha256, m.size_bytes);
    assert_eq!(cache.read_verified(&m.sha256).unwrap(), bytes);
    fs::write(cache.paths().media_path(&m.sha256), b"not the bytes").unwrap();
    assert!(matches!(
        cache.read_verified(&m.sha256),
        Err(CacheError::Corrupt { .. })
    ));
    assert!(!cache.contains(&m.sha256));
    assert!(matches!(
        cache.read_verified(&m.sha256),
        Err(CacheError::Missing { .. })
    ));
}
