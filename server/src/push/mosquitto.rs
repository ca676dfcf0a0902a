//! Mosquitto hardening: `ledcast-server broker-config mosquitto --out DIR`
//! writes a password file and an ACL file so each device may read only its
//! own `rotation`, `command`, `ack` topics and write only its own `state`,
//! `plays`; the server account gets the rest of `ledcast/v1/#`.
//!
//! Device broker passwords are random tokens, stored by the server as
//! Mosquitto `$6$` hashes (salted SHA-512) so the password file can be
//! regenerated at any time without knowing them. This module formats and
//! checks those hashes and renders the files; it does not read the store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ledcast_protocol::v1::{ScreenId, Topic, TopicKind, TOPIC_PREFIX};
use sha2::{Digest, Sha512};

/// A salted SHA-512 hash in Mosquitto's password-file form: `$6$salt$hash`.
pub fn hash_password(password: &str, salt: &[u8; 12]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = Sha512::new()
        .chain_update(password.as_bytes())
        .chain_update(salt)
        .finalize();
    format!("$6${}${}", b64.encode(salt), b64.encode(digest))
}

/// Whether `password` matches a `$6$salt$hash` string from [`hash_password`].
pub fn verify_password(hash: &str, password: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(rest) = hash.strip_prefix("$6$") else {
        return false;
    };
    let Some((salt, expected)) = rest.split_once('$') else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (b64.decode(salt), b64.decode(expected)) else {
        return false;
    };
    let digest = Sha512::new()
        .chain_update(password.as_bytes())
        .chain_update(&salt)
        .finalize();
    // Both sides are fixed-size digests of secret-independent length; compare all bytes.
    digest.len() == expected.len()
        && digest
            .iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// One broker account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAccount {
    /// MQTT user name (a device's is its screen id).
    pub username: String,
    /// `$6$…` hash.
    pub password_hash: String,
}

/// The rendered files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MosquittoFiles {
    /// `passwords`: `user:$6$…` lines.
    pub password_file: String,
    /// `acl`: per-user topic rules.
    pub acl_file: String,
    /// `ledcast.conf`: a listener snippet that uses both.
    pub config_snippet: String,
}

/// Renders the password file, ACL and a config snippet for the server
/// account and one account per device (user name = screen id).
/// `listener` is Mosquitto's listener argument, e.g. `1883` or `1883 127.0.0.1`.
pub fn render(
    server: &BrokerAccount,
    devices: &[(ScreenId, String)],
    files_dir: &Path,
    listener: &str,
) -> MosquittoFiles {
    let mut password_file = format!("{}:{}\n", server.username, server.password_hash);
    let mut acl_file = format!(
        "# Written by `ledcast-server broker-config mosquitto`. Regenerate after enrolling screens.\n\
         user {}\ntopic readwrite {TOPIC_PREFIX}/#\n",
        server.username
    );
    for (screen_id, password_hash) in devices {
        let _ = writeln!(password_file, "{}:{}", screen_id.as_str(), password_hash);
        let _ = writeln!(acl_file, "\nuser {}", screen_id.as_str());
        for kind in TopicKind::ALL {
            let access = if kind.from_agent() { "write" } else { "read" };
            let _ = writeln!(acl_file, "topic {access} {}", Topic::name(screen_id, kind));
        }
    }
    let config_snippet = format!(
        "# ledcast broker settings: run `mosquitto -c` on this file, or copy its lines.\n\
         per_listener_settings false\n\
         allow_anonymous false\n\
         password_file {}\n\
         acl_file {}\n\
         max_packet_size {}\n\
         listener {listener}\n",
        files_dir.join("passwords").display(),
        files_dir.join("acl").display(),
        super::broker::MAX_PAYLOAD_BYTES,
    );
    MosquittoFiles {
        password_file,
        acl_file,
        config_snippet,
    }
}

/// Writes the files into `dir` (created if needed); the password file is 0600.
pub fn write_files(dir: &Path, files: &MosquittoFiles) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, content) in [
        ("passwords", &files.password_file),
        ("acl", &files.acl_file),
        ("ledcast.conf", &files.config_snippet),
    ] {
        let path = dir.join(name);
        let temp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, content)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Mosquitto must read these; keep them private to the owner.
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(&temp, &path)?;
        written.push(path);
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hashes_verify_only_the_right_password() {
        let hash = hash_password("s3cret", &[1; 12]);
        assert!(hash.starts_with("$6$"));
        assert!(verify_password(&hash, "s3cret"));
        assert!(!verify_password(&hash, "s3cret "));
        assert!(!verify_password("$7$x$y", "s3cret"));
        assert_ne!(hash, hash_password("s3cret", &[2; 12]), "salt matters");
    }

    #[test]
    fn each_device_gets_only_its_own_topics() {
        let server = BrokerAccount {
            username: "ledcast-server".into(),
            password_hash: "$6$a$b".into(),
        };
        let a = ScreenId::new("b1-door").unwrap();
        let files = render(
            &server,
            &[(a, "$6$c$d".into())],
            Path::new("/etc/ledcast"),
            "1883",
        );
        assert!(files.password_file.contains("b1-door:$6$c$d\n"));
        let device_rules: Vec<&str> = files
            .acl_file
            .split("user b1-door\n")
            .nth(1)
            .unwrap()
            .lines()
            .collect();
        assert_eq!(
            device_rules,
            vec![
                "topic read ledcast/v1/screens/b1-door/rotation",
                "topic read ledcast/v1/screens/b1-door/command",
                "topic write ledcast/v1/screens/b1-door/state",
                "topic write ledcast/v1/screens/b1-door/plays",
                "topic read ledcast/v1/screens/b1-door/ack",
            ]
        );
        assert!(files.config_snippet.contains("allow_anonymous false"));
    }
}
