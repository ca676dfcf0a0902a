//! Opening packs: the shipped sample (directory and zip) and a hostile set,
//! each refused with its own error before anything is extracted. Every
//! hostile zip is built in memory with the `zip` writer (patched where the
//! writer refuses to forge a header).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use ledcast_pack::{
    open_dir, open_zip, MaterialKind, MaterialSource, PackContent, PackError, PackLimits,
};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const MINIMAL: &str = r#"edition = "test-2026-W48"
publisher = "测试中心"
issued = 2026-11-23

[[material]]
kind = "poster"
file = "posters/a.png"
title = "刷单返利都是诈骗"
category = "刷单返利"
screens = ["hall"]
valid_from = 2026-11-23
valid_until = 2026-12-06
"#;

fn packs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../media/packs")
}

/// Every file under `root` as `(relative path with /, bytes)`, as the
/// server's directory import will read it.
fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A well-formed pack plus `extra` entries.
fn pack_with(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("pack.toml", MINIMAL.as_bytes()),
        ("posters/a.png", b"png bytes"),
    ];
    entries.extend_from_slice(extra);
    zip_of(&entries)
}

/// Replaces every occurrence of `from` by `to` (same length) in `bytes`.
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut hits = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            hits += 1;
        }
        i += 1;
    }
    assert!(hits > 0, "nothing to patch");
}

/// Offsets of every local (`PK\3\4`) and central (`PK\1\2`) header.
fn headers(bytes: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let find = |sig: &[u8]| -> Vec<usize> {
        bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .map(|(i, _)| i)
            .collect()
    };
    (find(b"PK\x03\x04"), find(b"PK\x01\x02"))
}

#[test]
fn the_sample_pack_opens_as_a_directory_and_as_a_zip_and_every_material_ingests() {
    let limits = PackLimits::default();
    let from_dir = open_dir(read_tree(&packs_dir().join("gaogang-2026-W48")), &limits).unwrap();
    let zip_bytes = std::fs::read(packs_dir().join("gaogang-2026-W48.zip")).unwrap();
    let from_zip = open_zip(&zip_bytes, &limits).unwrap();
    assert_eq!(from_dir, from_zip, "the zip is the directory, zipped");

    let manifest = &from_zip.manifest;
    assert_eq!(manifest.edition, "gaogang-2026-W48");
    assert_eq!(manifest.publisher, "泰州市高港区反诈中心");
    assert_eq!(from_zip.entries.len(), 6);
    assert!(from_zip.unreferenced.is_empty());
    let texts = from_zip
        .entries
        .iter()
        .filter(|e| e.material.kind == MaterialKind::Text)
        .count();
    assert_eq!(texts, 2);
    let refund = &from_zip.entries[0];
    assert_eq!(refund.material.category, "刷单返利");
    assert_eq!(refund.material.screens, ["bank-door", "hall"]);
    assert_eq!(
        refund.material.valid_until.to_rfc3339(),
        "2026-12-07T00:00:00+08:00"
    );

    let media_limits = ledcast_media::Limits::default();
    for entry in &from_zip.entries {
        let (bytes, name) = entry.ingest_input();
        let material = ledcast_media::ingest(bytes, &name, &media_limits)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match &entry.content {
            PackContent::Text(_) => assert_eq!(material.kind, ledcast_media::MaterialKind::Text),
            PackContent::File { .. } => {
                assert_eq!(material.kind, ledcast_media::MaterialKind::Poster)
            }
        }
    }
}

#[test]
fn a_zip_of_the_pack_folder_opens_too() {
    let zip = zip_of(&[
        ("w48/pack.toml", MINIMAL.as_bytes()),
        ("w48/posters/a.png", b"png"),
        ("w48/notes.txt", b"x"),
    ]);
    let pack = open_zip(&zip, &PackLimits::default()).unwrap();
    assert_eq!(pack.entries.len(), 1);
    assert_eq!(
        pack.entries[0].content,
        PackContent::File {
            name: "posters/a.png".into(),
            bytes: b"png".to_vec()
        }
    );
    assert_eq!(pack.unreferenced, ["notes.txt"]);
}

#[test]
fn zip_slip_is_refused() {
    let zip = pack_with(&[("../evil.sh", b"rm -rf /")]);
    let error = open_zip(&zip, &PackLimits::default()).unwrap_err();
    assert!(
        matches!(&error, PackError::UnsafePath { name, .. } if name == "../evil.sh"),
        "{error:?}"
    );
    assert!(error.to_string().contains("path escape"), "{error}");

    let nested = pack_with(&[("posters/../../evil", b"x")]);
    assert!(matches!(
        open_zip(&nested, &PackLimits::default()),
        Err(PackError::UnsafePath { .. })
    ));
}

#[test]
fn absolute_paths_drive_letters_and_backslashes_are_refused() {
    for name in ["/etc/cron.d/evil", "C:/Windows/evil.dll", "..\\evil.bat"] {
        let zip = pack_with(&[(name, b"x")]);
        match open_zip(&zip, &PackLimits::default()) {
            Err(PackError::UnsafePath {
                name: refused,
                reason,
            }) => {
                assert_eq!(refused, name);
                assert!(!reason.is_empty());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_symlink_entry_is_refused() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    zip.start_file("pack.toml", options).unwrap();
    zip.write_all(MINIMAL.as_bytes()).unwrap();
    zip.add_symlink("posters/a.png", "/etc/shadow", options)
        .unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let error = open_zip(&bytes, &PackLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PackError::SymlinkEntry {
            name: "posters/a.png".into()
        }
    );
}

#[test]
fn a_zip_bomb_is_refused_from_its_declared_ratio() {
    let zeros = vec![0u8; 20 * 1024 * 1024];
    let zip = pack_with(&[("posters/bomb.png", &zeros)]);
    assert!(
        zip.len() < 100 * 1024,
        "the bomb is small: {} bytes",
        zip.len()
    );
    match open_zip(&zip, &PackLimits::default()).unwrap_err() {
        PackError::RatioTooHigh {
            name,
            uncompressed,
            limit,
            ..
        } => {
            assert_eq!(name, "posters/bomb.png");
            assert_eq!(uncompressed, 20 * 1024 * 1024);
            assert_eq!(limit, 100);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_header_lying_about_its_size_cannot_get_past_the_limit() {
    // 4 MiB of zeros named in the manifest, whose headers claim 100,000
    // bytes: an acceptable ratio on paper, a bomb once decompressed.
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let mut zip = zip_of(&[("pack.toml", MINIMAL.as_bytes()), ("posters/a.png", &zeros)]);
    let (locals, centrals) = headers(&zip);
    let lie = 100_000u32.to_le_bytes();
    // The second entry: local size at +22, central size at +24.
    zip[locals[1] + 22..locals[1] + 26].copy_from_slice(&lie);
    zip[centrals[1] + 24..centrals[1] + 28].copy_from_slice(&lie);
    let error = open_zip(&zip, &PackLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PackError::SizeMismatch {
            name: "posters/a.png".into(),
            declared: 100_000
        }
    );
}

#[test]
fn ten_thousand_entries_are_refused_before_reading_them() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    zip.start_file("pack.toml", options).unwrap();
    zip.write_all(MINIMAL.as_bytes()).unwrap();
    for i in 1..10_000 {
        zip.start_file(format!("f/{i}"), options).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let error = open_zip(&bytes, &PackLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PackError::TooManyEntries {
            count: 10_000,
            limit: 1_000
        }
    );
}

#[test]
fn an_encrypted_entry_is_refused() {
    let mut zip = pack_with(&[]);
    let (locals, centrals) = headers(&zip);
    // General-purpose flag bit 0 (encrypted): local at +6, central at +8.
    zip[locals[1] + 6] |= 1;
    zip[centrals[1] + 8] |= 1;
    let error = open_zip(&zip, &PackLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PackError::EncryptedEntry {
            name: "posters/a.png".into()
        }
    );
}

#[test]
fn duplicate_names_are_refused() {
    let mut zip = pack_with(&[("posters/b.png", b"other bytes")]);
    patch(&mut zip, b"posters/b.png", b"posters/a.png");
    let error = open_zip(&zip, &PackLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PackError::DuplicateName {
            name: "posters/a.png".into()
        }
    );

    let files = vec![
        ("pack.toml".to_owned(), MINIMAL.as_bytes().to_vec()),
        ("posters/a.png".to_owned(), b"1".to_vec()),
        ("posters/a.png".to_owned(), b"2".to_vec()),
    ];
    assert_eq!(
        open_dir(files, &PackLimits::default()).unwrap_err(),
        PackError::DuplicateName {
            name: "posters/a.png".into()
        }
    );
}

#[test]
fn size_limits_apply_per_entry_and_in_total() {
    let limits = PackLimits {
        max_entry_bytes: 1_000,
        ..PackLimits::default()
    };
    // Incompressible bytes, so the ratio check stays out of the way.
    let big: Vec<u8> = (0..2_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    match open_zip(&pack_with(&[("posters/big.png", &big)]), &limits).unwrap_err() {
        PackError::EntryTooLarge { name, size, limit } => assert_eq!(
            (name.as_str(), size, limit),
            ("posters/big.png", 2_000, 1_000)
        ),
        other => panic!("{other:?}"),
    }
    let limits = PackLimits {
        max_total_bytes: 3_000,
        ..PackLimits::default()
    };
    let files: Vec<(&str, &[u8])> = vec![("a/1", &big), ("a/2", &big)];
    assert!(matches!(
        open_zip(&pack_with(&files), &limits),
        Err(PackError::TotalTooLarge { limit: 3_000, .. })
    ));
}

#[test]
fn an_entry_over_its_kinds_limit_is_refused_from_its_declared_size() {
    // The per-entry limit would let it through; the poster limit does not.
    let limits = PackLimits {
        max_image_bytes: 1_000,
        ..PackLimits::default()
    };
    let big: Vec<u8> = (0..2_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let zip = zip_of(&[("pack.toml", MINIMAL.as_bytes()), ("posters/a.png", &big)]);
    let expected = PackError::EntryTooLarge {
        name: "posters/a.png".into(),
        size: 2_000,
        limit: 1_000,
    };
    assert_eq!(open_zip(&zip, &limits).unwrap_err(), expected);
    let files = vec![
        ("pack.toml".to_owned(), MINIMAL.as_bytes().to_vec()),
        ("posters/a.png".to_owned(), big.clone()),
    ];
    assert_eq!(open_dir(files, &limits).unwrap_err(), expected);
    // The same bytes as a video are within the video limit.
    let video = MINIMAL
        .replace("kind = \"poster\"", "kind = \"video\"")
        .replace("posters/a.png", "clips/a.mp4");
    let zip = zip_of(&[("pack.toml", video.as_bytes()), ("clips/a.mp4", &big)]);
    assert!(open_zip(&zip, &limits).is_ok());
}

#[test]
fn a_malformed_manifest_lists_every_problem_with_its_line() {
    let manifest = r#"edition = "Gaogang-W48"
publisher = "高港反诈中心"
issued = 2026-11-23
colour = "red"

[[material]]
kind = "poster"
file = "posters/a.png"
title = "标题"
category = "刷单反利"
screens = ["bank-dor", "hall"]
valid_from = 2026-12-06
valid_until = 2026-11-23

[[material]]
kind = "text"
title = "缺少文字"
category = "冒充客服"
screens = ["atm"]
valid_from = 2026-11-23
valid_until = "soon"
"#;
    let zip = zip_of(&[
        ("pack.toml", manifest.as_bytes()),
        ("posters/a.png", b"png"),
    ]);
    let PackError::Manifest(diagnostics) = open_zip(&zip, &PackLimits::default()).unwrap_err()
    else {
        panic!("expected manifest diagnostics");
    };
    let got: Vec<(usize, usize, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, 11, "edition id `Gaogang-W48` is not of the form `place-YYYY-Www`"),
            (4, 1, "unknown key `colour`"),
            (10, 12, "unknown fraud category `刷单反利`"),
            (11, 12, "unknown screen kind `bank-dor`"),
            (13, 15, "`valid_until` (2026-11-24 00:00:00 +08:00) is not after `valid_from` (2026-12-06 00:00:00 +08:00)"),
            (15, 1, "missing key `text`"),
            (21, 15, "`valid_until` = `soon` is not a valid time"),
        ]
    );
    let hint = |line: usize| {
        diagnostics
            .iter()
            .find(|d| d.line == line)
            .and_then(|d| d.hint.clone())
            .unwrap()
    };
    assert!(
        hint(10).starts_with("did you mean `刷单返利`?"),
        "{}",
        hint(10)
    );
    assert!(
        hint(11).starts_with("did you mean `bank-door`?"),
        "{}",
        hint(11)
    );
    let shown = PackError::Manifest(diagnostics.clone()).to_string();
    assert!(shown.contains("pack.toml:10:12: error: unknown fraud category `刷单反利`\n  hint: did you mean `刷单返利`?"), "{shown}");
}

#[test]
fn a_toml_syntax_error_points_at_its_line() {
    let manifest = "edition = \"a-2026-W48\"\npublisher = \"x\nissued = 2026-11-23\n";
    let zip = zip_of(&[("pack.toml", manifest.as_bytes())]);
    let PackError::Manifest(diagnostics) = open_zip(&zip, &PackLimits::default()).unwrap_err()
    else {
        panic!("expected manifest diagnostics");
    };
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].line, 2);
    assert!(
        diagnostics[0].message.starts_with("invalid toml"),
        "{}",
        diagnostics[0].message
    );
}

#[test]
fn a_file_the_manifest_names_must_be_in_the_pack() {
    let zip = zip_of(&[("pack.toml", MINIMAL.as_bytes()), ("posters/A.png", b"png")]);
    let PackError::Manifest(diagnostics) = open_zip(&zip, &PackLimits::default()).unwrap_err()
    else {
        panic!("expected manifest diagnostics");
    };
    assert_eq!(diagnostics.len(), 1);
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (7, 9));
    assert_eq!(
        diagnostics[0].message,
        "file `posters/a.png` is not in the pack"
    );
    assert!(diagnostics[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("did you mean `posters/A.png`?"));
}

#[test]
fn a_pack_without_a_manifest_is_refused() {
    let zip = zip_of(&[("posters/a.png", b"png")]);
    assert_eq!(
        open_zip(&zip, &PackLimits::default()).unwrap_err(),
        PackError::MissingManifest
    );
    assert!(matches!(
        open_zip(b"not a zip at all", &PackLimits::default()),
        Err(PackError::NotAZip { .. })
    ));
}

#[test]
fn a_directory_pack_refuses_escaping_paths_and_reads_texts() {
    let limits = PackLimits::default();
    let files = vec![
        ("pack.toml".to_owned(), MINIMAL.as_bytes().to_vec()),
        ("posters/a.png".to_owned(), b"png".to_vec()),
        ("../outside".to_owned(), b"x".to_vec()),
    ];
    assert!(matches!(
        open_dir(files, &limits),
        Err(PackError::UnsafePath { .. })
    ));

    let manifest = MINIMAL.replace(
        "kind = \"poster\"\nfile = \"posters/a.png\"",
        "kind = \"text\"\ntext = \"不听 不信 不转账\"",
    );
    let pack = open_dir(
        vec![("pack.toml".to_owned(), manifest.into_bytes())],
        &limits,
    )
    .unwrap();
    assert_eq!(
        pack.entries[0].material.source,
        MaterialSource::Text("不听 不信 不转账".into())
    );
    assert_eq!(
        pack.entries[0].content,
        PackContent::Text("不听 不信 不转账".into())
    );
}

#[test]
fn the_documented_example_is_the_sample_manifest() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pack-format.md"),
    )
    .unwrap();
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let sample = std::fs::read_to_string(packs_dir().join("gaogang-2026-W48/pack.toml")).unwrap();
    // The sample has two comment lines on top; lines aside, they are equal.
    let without_lines = |text: &str| {
        let mut manifest = ledcast_pack::parse_manifest(text).unwrap();
        for material in &mut manifest.materials {
            material.line = 0;
        }
        manifest
    };
    assert_eq!(without_lines(example), without_lines(&sample));
}

#[test]
fn damaged_zips_are_refused_without_panicking() {
    let good = pack_with(&[("notes/readme.txt", b"hello")]);
    assert!(open_zip(&good, &PackLimits::default()).is_ok());
    let mut refused = 0;
    for at in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            if open_zip(&bad, &PackLimits::default()).is_err() {
                refused += 1;
            }
        }
        // Every truncation too.
        let _ = open_zip(&good[..at], &PackLimits::default());
    }
    // Most single-byte damage is caught (names, headers, CRCs); the rest
    // falls in bytes nobody reads (timestamps, unused attributes).
    assert!(
        refused > good.len(),
        "only {refused} of {} damaged copies refused",
        good.len() * 3
    );
}

#[test]
fn an_oversized_manifest_is_refused_before_it_is_read() {
    let limits = PackLimits {
        max_manifest_bytes: 100,
        ..PackLimits::default()
    };
    let zip = zip_of(&[("pack.toml", MINIMAL.as_bytes()), ("posters/a.png", b"png")]);
    let error = open_zip(&zip, &limits).unwrap_err();
    assert_eq!(
        error,
        PackError::EntryTooLarge {
            name: "pack.toml".into(),
            size: MINIMAL.len() as u64,
            limit: 100
        }
    );
    let files = vec![("pack.toml".to_owned(), MINIMAL.as_bytes().to_vec())];
    assert!(matches!(
        open_dir(files, &limits),
        Err(PackError::EntryTooLarge { limit: 100, .. })
    ));
}

#[test]
fn the_sample_pack_moves_to_the_import_day_and_a_county_pack_does_not() {
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let zip = std::fs::read(packs_dir().join("gaogang-2026-W48.zip")).unwrap();
    let mut sample = open_zip(&zip, &PackLimits::default()).unwrap();
    assert_eq!(sample.manifest.sample_today, Some(day(2026, 11, 30)));
    let first_until = sample.entries[0].material.valid_until;
    // 2027-03-10 is 100 days after 2026-11-30: everything moves 100 days.
    assert_eq!(sample.move_sample_to(day(2027, 3, 10)), 100);
    assert_eq!(sample.manifest.issued, day(2027, 3, 3));
    assert_eq!(
        sample.entries[0].material.valid_until,
        first_until + chrono::TimeDelta::days(100)
    );
    assert_eq!(sample.manifest.materials[0], sample.entries[0].material);
    assert_eq!(sample.move_sample_to(day(2027, 3, 10)), 0, "already there");

    let county = "edition = \"qingyuan-2026-W48\"\npublisher = \"x\"\nissued = 2026-11-23\n\
                  [[material]]\nkind = \"text\"\ntitle = \"t\"\ncategory = \"刷单返利\"\n\
                  text = \"刷单都是诈骗\"\nscreens = [\"hall\"]\n\
                  valid_from = 2026-11-23\nvalid_until = 2026-12-06\n";
    let mut county = ledcast_pack::open_dir(
        vec![("pack.toml".into(), county.as_bytes().to_vec())],
        &PackLimits::default(),
    )
    .unwrap();
    let before = county.clone();
    assert_eq!(county.move_sample_to(day(2027, 3, 10)), 0);
    assert_eq!(county, before);
}
