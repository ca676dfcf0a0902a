//! `ledcast-server import PACK` as a newcomer runs it: the sample pack's
//! directory imports with a progress bar and ends with the report line,
//! importing it again (as the zip) changes nothing, a material the media
//! pipeline refuses is reported with its reason while the others import,
//! and a directory pack with a symbolic link is refused before anything is
//! read.

use std::path::Path;
use std::process::{Command, Output};

fn sample_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../media/packs/gaogang-2026-W48")
}

fn import(data_dir: &Path, pack: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledcast-server"))
        .arg("import")
        .arg("--data-dir")
        .arg(data_dir)
        .arg(pack)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn sample_pack_imports_from_the_cli_and_a_second_import_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let first = import(data.path(), &sample_dir());
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        last_line(&first),
        "import edition=gaogang-2026-W48 imported=6 duplicates=0 refused=0"
    );
    let zip = sample_dir().with_extension("zip");
    let second = import(data.path(), &zip);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(
        last_line(&second),
        "import edition=gaogang-2026-W48 imported=0 duplicates=6 refused=0"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_refused_material_is_reported_with_its_reason_and_the_rest_import() {
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack");
    copy_dir(&sample_dir(), &pack);
    std::fs::write(
        pack.join("posters/investment.png"),
        b"\x89PNG\r\n\x1a\n truncated poster",
    )
    .unwrap();
    let output = import(&work.path().join("data"), &pack);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        last_line(&output),
        "import edition=gaogang-2026-W48 imported=5 duplicates=0 refused=1",
        "{stdout}"
    );
    let refused = stdout
        .lines()
        .find(|l| l.starts_with("refused"))
        .expect("a refused row");
    assert!(refused.contains("posters/investment.png"), "{refused}");
}

#[cfg(unix)]
#[test]
fn a_directory_pack_with_a_symlink_is_refused_and_nothing_is_imported() {
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack");
    copy_dir(&sample_dir(), &pack);
    std::os::unix::fs::symlink("/etc/passwd", pack.join("posters/passwd.png")).unwrap();
    let data = work.path().join("data");
    let output = import(&data, &pack);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(
        !data.join("ledcast.db").exists(),
        "refused before the store was opened"
    );
}
