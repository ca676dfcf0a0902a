//! Repository checks that keep the architecture honest:
//! - the paths ARCHITECTURE.md marks pure (`<!-- tidy:pure … -->`) never read
//!   the clock, touch the file system or name an I/O runtime;
//! - the pure crates never depend, even transitively, on an I/O crate.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Tokens a pure module must not contain (outside comments).
const FORBIDDEN_TOKENS: &[&str] = &[
    "SystemTime::now",
    "Instant::now",
    "Utc::now",
    "Local::now",
    "std::fs",
    "tokio",
    "axum",
    "rumqttc",
    "rumqttd",
    "rmqtt",
    "sqlx",
    "reqwest",
    "ureq",
    "std::net",
];

/// Crates a pure crate must not depend on, even transitively.
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio", "axum", "rumqttc", "rumqttd", "rmqtt", "sqlx", "reqwest", "hyper", "ureq", "mio",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The paths ARCHITECTURE.md marks pure.
fn pure_paths() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md exists at the workspace root");
    let marker = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("<!-- tidy:pure ")?
                .strip_suffix("-->")
        })
        .expect("ARCHITECTURE.md has a `<!-- tidy:pure PATH… -->` line");
    marker.split_whitespace().map(str::to_owned).collect()
}

/// Lines of `source` (1-based) containing a forbidden token outside `//` comments.
fn violations(source: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for token in FORBIDDEN_TOKENS {
            if code.contains(token) {
                found.push((index + 1, *token));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_scanner_catches_what_it_must() {
    let bad =
        "use std::fs;\nlet t = std::time::SystemTime::now(); // fine here\n// tokio in a comment\n";
    let found = violations(bad);
    assert_eq!(found, vec![(1, "std::fs"), (2, "SystemTime::now")]);
}

#[test]
fn pure_modules_do_no_io_and_never_read_the_clock() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for pure in pure_paths() {
        let dir = root.join(&pure);
        // A path that moved would otherwise be checked as an empty set.
        assert!(
            dir.exists(),
            "ARCHITECTURE.md marks {pure} pure, but it does not exist"
        );
        let mut files = Vec::new();
        if dir.is_file() {
            files.push(dir.clone());
        } else {
            rust_files(&dir, &mut files);
        }
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for (line, token) in violations(&source) {
                problems.push(format!(
                    "{}:{line}: `{token}` in a pure module",
                    file.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pure modules must stay pure:\n{}",
        problems.join("\n")
    );
}

#[test]
fn pure_crates_do_not_depend_on_io_crates() {
    let root = workspace_root();
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let mut name_of = HashMap::new();
    let mut dir_of = HashMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap().to_owned();
        name_of.insert(id.clone(), package["name"].as_str().unwrap().to_owned());
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
        dir_of.insert(id, manifest.parent().unwrap().to_path_buf());
    }
    let mut normal_deps: HashMap<String, Vec<String>> = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap().to_owned())
            .collect();
        normal_deps.insert(node["id"].as_str().unwrap().to_owned(), deps);
    }

    // A crate is pure when its whole `src/` is marked pure.
    let pure_crate_dirs: Vec<PathBuf> = pure_paths()
        .iter()
        .filter_map(|p| p.strip_suffix("/src").map(|c| root.join(c)))
        .collect();
    assert!(
        !pure_crate_dirs.is_empty(),
        "at least the protocol crate is pure"
    );
    let mut problems = BTreeSet::new();
    for (id, dir) in &dir_of {
        if !pure_crate_dirs.contains(dir) {
            continue;
        }
        let mut stack = vec![id.clone()];
        let mut seen = BTreeSet::new();
        while let Some(current) = stack.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let name = &name_of[&current];
            if FORBIDDEN_CRATES.contains(&name.as_str()) {
                problems.insert(format!("{} depends on {name}", name_of[id]));
            }
            stack.extend(normal_deps.get(&current).cloned().unwrap_or_default());
        }
    }
    assert!(
        problems.is_empty(),
        "pure crates pulled in I/O crates: {problems:?}"
    );
}
