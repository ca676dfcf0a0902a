//! `ledcast-server demo` as a newcomer meets it: started outside the
//! repository root it finds its sample site and says where; a site that is
//! nowhere is one line saying what to do (no backtrace, even with
//! RUST_BACKTRACE=1); and a restart on the same data directory prints the
//! admin password that still works instead of a new one that does not.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn demo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ledcast-server"));
    command
        .arg("demo")
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "1");
    command
}

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn a_site_that_is_nowhere_is_one_line_saying_what_to_do() {
    let elsewhere = tempfile::tempdir().unwrap();
    let nowhere = elsewhere.path().join("nowhere");
    let output = demo()
        .arg("--playlists")
        .arg(&nowhere)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "ledcast demo: no demo site at {}: run `ledcast-server demo` from the repository root",
            nowhere.display()
        )),
        "{stderr}"
    );
    assert!(lines[0].contains("--playlists DIR --media DIR"), "{stderr}");
    assert!(!stderr.contains("backtrace") && !stderr.contains("Error:"));
    // Nothing was created where it was started.
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn from_any_directory_the_demo_finds_its_sample_site_and_says_where() {
    let elsewhere = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = demo()
        .arg("--no-agents")
        .arg("--data-dir")
        .arg(data.path())
        .current_dir(elsewhere.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("user admin"))
        .collect();
    let repo = repo_root().canonicalize().unwrap();
    for name in ["playlists", "media"] {
        let said = format!(
            "ledcast demo: no {name}/ here, so the sample {name} from {}",
            repo.join(name).display()
        );
        assert!(lines.contains(&said), "{lines:?}");
    }
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// Kills the demo when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo on `data_dir` and returns it with its first line.
fn start(data_dir: &Path) -> (Running, String) {
    let mut child = demo()
        .arg("--no-agents")
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("user admin"))
        .expect("the demo prints how to log in");
    (running, line)
}

/// `http://ADDR/` and the password from the login line.
fn address_and_password(line: &str) -> (String, String) {
    let address = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let password = line
        .split_once(" password ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    (address, password)
}

fn logs_in(address: &str, password: &str) -> bool {
    let body = serde_json::json!({"username": "admin", "password": password}).to_string();
    ureq::post(&format!("{address}api/v1/login"))
        .set("Content-Type", "application/json")
        .send_string(&body)
        .is_ok()
}

#[test]
fn a_restart_keeps_the_admin_password_and_says_where_it_is() {
    let data = tempfile::tempdir().unwrap();
    let (first, line) = start(data.path());
    let (address, password) = address_and_password(&line);
    assert!(line.contains("admin-password.txt"), "{line}");
    assert!(logs_in(&address, &password), "{line}");
    drop(first);

    let (_second, again) = start(data.path());
    let (address, same) = address_and_password(&again);
    assert_eq!(same, password, "{again}");
    assert!(again.contains("unchanged"), "{again}");
    assert!(logs_in(&address, &same), "{again}");
    let kept = data.path().join("admin-password.txt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
