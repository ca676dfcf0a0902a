//! The player core stays pure: no tokio, no file system, no network, no
//! clock. This test fails the build of anyone who slips one in.

use std::fs;
use std::path::Path;

const FORBIDDEN: [&str; 10] = [
    "tokio",
    "std::fs",
    "std::net",
    "rumqttc",
    "ureq",
    "SystemTime",
    "Instant",
    "Utc::now",
    "std::process",
    "std::thread",
];

fn visit(dir: &Path, found: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in FORBIDDEN {
                    if code.contains(word) {
                        found.push(format!("{}:{}: {word}", path.display(), n + 1));
                    }
                }
            }
        }
    }
}

#[test]
fn the_player_core_does_no_io_and_reads_no_clock() {
    let player = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/player");
    let mut found = Vec::new();
    visit(&player, &mut found);
    assert!(
        found.is_empty(),
        "impure code in the player core:\n{}",
        found.join("\n")
    );
}
