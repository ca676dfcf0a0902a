//! Repository checks that keep the architecture honest:
//! - the paths ARCHITECTURE.md marks pure (`<!-- tidy:pure … -->`) never read
//!   the clock, touch the file system or name an I/O runtime;
//! - the pure crates never depend, even transitively, on an I/O crate;
//! - the server's modules import only from their own layer or below, with
//!   no import circle (`<!-- tidy:layers … -->`), except the edges listed
//!   as debt (`<!-- tidy:layer-debt … -->`), a list that may only shrink.

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

/// The text of ARCHITECTURE.md's `<!-- NAME … -->` marker.
fn marker(name: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md exists at the workspace root");
    let start = format!("<!-- {name} ");
    let at = text
        .find(&start)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has a `<!-- {name} … -->` marker"));
    let rest = &text[at + start.len()..];
    rest[..rest.find("-->").expect("the marker is closed")].to_owned()
}

/// The server's top-level modules (`server/src/NAME.rs` or `NAME/`).
fn server_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let module = if e.path().is_dir() {
                name
            } else {
                name.strip_suffix(".rs")?.to_owned()
            };
            (module != "lib" && module != "main").then_some(module)
        })
        .collect()
}

/// Which top-level modules `module`'s code names as `crate::X` (test
/// modules and test files aside, comments stripped).
fn imports_of(src: &Path, module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut files = Vec::new();
    let dir = src.join(module);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    } else {
        files.push(src.join(format!("{module}.rs")));
    }
    let mut out = BTreeSet::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap_or("");
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            for (at, _) in line.match_indices("crate::") {
                let name: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if name != module && modules.contains(&name) {
                    out.insert(name);
                }
            }
        }
    }
    out
}

#[test]
fn server_layers_point_one_way_without_import_circles() {
    let src = workspace_root().join("server/src");
    let modules = server_modules(&src);
    let mut layer_of: HashMap<String, usize> = HashMap::new();
    for (index, layer) in marker("tidy:layers").split('|').enumerate() {
        for module in layer.split_whitespace() {
            assert!(
                layer_of.insert(module.to_owned(), index).is_none(),
                "{module} is in two layers"
            );
        }
    }
    let mut problems = Vec::new();
    for module in &modules {
        if !layer_of.contains_key(module) {
            problems.push(format!(
                "server/src/{module} is in no layer: add it to `tidy:layers` in ARCHITECTURE.md"
            ));
        }
    }
    for module in layer_of.keys() {
        if !modules.contains(module) {
            problems.push(format!(
                "`tidy:layers` names {module}, which is not a module"
            ));
        }
    }
    let debt: BTreeSet<(String, String)> = marker("tidy:layer-debt")
        .split_whitespace()
        .filter_map(|edge| edge.split_once('>'))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let edges: BTreeSet<(String, String)> = modules
        .iter()
        .flat_map(|m| {
            imports_of(&src, m, &modules)
                .into_iter()
                .map(move |to| (m.clone(), to))
        })
        .collect();
    for (from, to) in &debt {
        if !edges.contains(&(from.clone(), to.clone())) {
            problems.push(format!(
                "{from}>{to} is listed as layer debt but no longer exists: remove it from the list"
            ));
        }
    }
    let kept: Vec<&(String, String)> = edges.iter().filter(|e| !debt.contains(*e)).collect();
    for (from, to) in &kept {
        if let (Some(a), Some(b)) = (layer_of.get(from), layer_of.get(to)) {
            if b > a {
                problems.push(format!(
                    "{from} (layer {a}) imports {to} (layer {b}), a layer above it"
                ));
            }
        }
    }
    // Circles within one layer (a circle across layers has an edge that
    // points up, reported above).
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for (from, to) in &kept {
        if layer_of.get(from) == layer_of.get(to) {
            next.entry(from.as_str()).or_default().push(to.as_str());
        }
    }
    let mut circles = BTreeSet::new();
    for start in &modules {
        let mut stack = vec![(start.as_str(), vec![start.as_str()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for &to in next.get(at).map(Vec::as_slice).unwrap_or(&[]) {
                if to == start.as_str() {
                    // One circle, named from its smallest member.
                    let mut members = path.clone();
                    let smallest = (0..members.len()).min_by_key(|&i| members[i]).unwrap_or(0);
                    members.rotate_left(smallest);
                    members.push(members[0]);
                    circles.insert(members.join(" > "));
                } else if seen.insert(to) {
                    let mut longer = path.clone();
                    longer.push(to);
                    stack.push((to, longer));
                }
            }
        }
    }
    problems.extend(circles.into_iter().map(|c| format!("import circle: {c}")));
    assert!(
        problems.is_empty(),
        "server layers (ARCHITECTURE.md):\n{}",
        problems.join("\n")
    );
}
