//! Mosquitto hardening: `ledcast-server broker-config mosquitto --out DIR`
//! writes a password file and an ACL file so each device may read only its
//! own `rotation`, `command`, `ack` topics and write only its own `state`,
//! `plays`; the server accounts get the rest of `ledcast/v1/#`. The
//! configuration makes every login its own client id
//! (`use_username_as_clientid`): a device that connects with another
//! screen's client id no longer kicks that screen off (and fires its Last
//! Will). The server's play connections therefore log in as
//! `{server}.plays-{k}` ([`super::plays_username`]), with the server's password.
//!
//! Device broker passwords are random tokens, stored by the server as
//! Mosquitto `$6$` hashes (salted SHA-512) so the password file can be
//! regenerated at any time without knowing them. This module formats and
//! checks those hashes, renders the files, and ([`write_from_store`]) reads
//! the live device logins from the store to write them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ledcast_protocol::v1::{DeviceAccess, ScreenId, Topic, TopicKind, TOPIC_PREFIX};
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
    /// MQTT user name (a device's is `screen-{id}`).
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
/// account and one account per device (the screen and its login).
/// `listener` is Mosquitto's listener argument, e.g. `1883` or `1883 127.0.0.1`.
pub fn render(
    servers: &[BrokerAccount],
    devices: &[(ScreenId, BrokerAccount)],
    files_dir: &Path,
    listener: &str,
) -> MosquittoFiles {
    let mut password_file = String::new();
    let mut acl_file = String::from(
        "# Written by `ledcast-server broker-config mosquitto`. Regenerate after enrolling screens.\n",
    );
    for server in servers {
        let logins = std::iter::once(server.username.clone())
            .chain((0..super::PLAYS_CLIENTS).map(|k| super::plays_username(&server.username, k)));
        for login in logins {
            let _ = writeln!(password_file, "{login}:{}", server.password_hash);
            let _ = writeln!(acl_file, "user {login}\ntopic readwrite {TOPIC_PREFIX}/#");
        }
    }
    for (screen_id, account) in devices {
        let _ = writeln!(
            password_file,
            "{}:{}",
            account.username, account.password_hash
        );
        let _ = writeln!(acl_file, "\nuser {}", account.username);
        for kind in TopicKind::ALL {
            // The same matrix as the embedded broker's ACL (`broker.rs`).
            let access = match kind.device_access() {
                DeviceAccess::Read => "read",
                DeviceAccess::Write => "write",
                DeviceAccess::ReadWrite => "readwrite",
            };
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
         # The server takes every screen's state and play batches on one\n\
         # connection; Mosquitto drops QoS 1 messages past a client's queue\n\
         # (default 1000), which a fleet reporting at once passes.\n\
         max_queued_messages 100000\n\
         listener {listener}\n\
         # (A listener's option, so after its line.) A login is its own\n\
         # client id: nobody can connect as another screen's client id and\n\
         # kick it off.\n\
         use_username_as_clientid true\n",
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

/// What [`write_from_store`] did.
#[derive(Clone, Debug)]
pub struct BrokerConfigReport {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Device accounts written.
    pub devices: usize,
    /// Screens whose live key has no Mosquitto hash (enrolled before it was
    /// kept): no login until re-enrolled.
    pub without_hash: Vec<String>,
    /// Set when `mqtt.password` is unset: the server account's password,
    /// generated once and kept in `{out}/server-password` (0600).
    pub server_password_file: Option<PathBuf>,
}

/// `ledcast-server broker-config mosquitto`: writes `passwords`, `acl` and
/// `ledcast.conf` into `out` for the server account (`mqtt.username`,
/// default `ledcast-server`; `mqtt.password`, or one generated and kept in
/// `{out}/server-password`) and every live device. Revoked device keys get no
/// line, so re-enrollment drops the old credentials.
pub async fn write_from_store(
    store: &crate::store::Store,
    mqtt: &crate::config::MqttConfig,
    out: &Path,
    listener: &str,
    extra_server_users: &[String],
) -> anyhow::Result<BrokerConfigReport> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let (server_password, server_password_file) = match &mqtt.password {
        Some(password) => (password.clone(), None),
        None => {
            let path = out.join("server-password");
            let password = match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
                _ => {
                    let password = crate::auth::random_hex::<24>();
                    write_private(&path, &format!("{password}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    password
                }
            };
            (password, Some(path))
        }
    };
    let mut usernames = vec![mqtt
        .username
        .clone()
        .unwrap_or_else(|| super::SERVER_BROKER_USERNAME.to_owned())];
    for extra in extra_server_users {
        if !usernames.contains(extra) {
            usernames.push(extra.clone());
        }
    }
    let servers: Vec<BrokerAccount> = usernames
        .into_iter()
        .map(|username| BrokerAccount {
            username,
            password_hash: hash_password(&server_password, &crate::auth::random_bytes::<12>()),
        })
        .collect();
    let mut devices = Vec::new();
    let mut without_hash = Vec::new();
    for login in store.live_broker_logins().await? {
        let (Ok(screen_id), Some(hash)) = (
            ScreenId::new(&login.screen_id),
            login.password_mosquitto.clone(),
        ) else {
            without_hash.push(login.screen_id);
            continue;
        };
        devices.push((
            screen_id,
            BrokerAccount {
                username: login.broker_username,
                password_hash: hash,
            },
        ));
    }
    let files = render(&servers, &devices, out, listener);
    let written =
        write_files(out, &files).with_context(|| format!("writing into {}", out.display()))?;
    Ok(BrokerConfigReport {
        written,
        devices: devices.len(),
        without_hash,
        server_password_file,
    })
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
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
        let account = BrokerAccount {
            username: "screen-b1-door".into(),
            password_hash: "$6$c$d".into(),
        };
        let files = render(
            std::slice::from_ref(&server),
            &[(a, account)],
            Path::new("/etc/ledcast"),
            "1883",
        );
        assert!(files.password_file.contains("\nscreen-b1-door:$6$c$d\n"));
        let device_rules: Vec<&str> = files
            .acl_file
            .split("user screen-b1-door\n")
            .nth(1)
            .unwrap()
            .lines()
            .collect();
        assert_eq!(
            device_rules,
            vec![
                "topic read ledcast/v1/screens/b1-door/rotation",
                "topic read ledcast/v1/screens/b1-door/command",
                "topic readwrite ledcast/v1/screens/b1-door/state",
                "topic write ledcast/v1/screens/b1-door/plays",
                "topic read ledcast/v1/screens/b1-door/ack",
            ]
        );
        assert!(files.config_snippet.contains("allow_anonymous false"));
        assert!(files
            .config_snippet
            .contains("\nuse_username_as_clientid true\n"));
        // The server and each of its play connections have a login (each
        // login is its own client id).
        for login in [
            "ledcast-server",
            "ledcast-server.plays-0",
            "ledcast-server.plays-7",
        ] {
            assert!(
                files.password_file.contains(&format!("{login}:$6$a$b\n")),
                "{login}"
            );
            assert!(files.acl_file.contains(&format!(
                "user {login}\ntopic readwrite ledcast/v1/screens/#\n"
            )));
        }
    }
}
