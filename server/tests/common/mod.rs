//! Helpers shared by the broker tests (`mosquitto_acl.rs`, `broker_acl.rs`):
//! a Mosquitto child that dies with the test, the seeded server, enrollment.

#![allow(dead_code)] // each test crate uses its own subset

use std::process::Child;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use ledcast_protocol::v1::EnrollResponse;
use ledcast_server::config::Config;
use ledcast_server::store::{NewUser, ProfileRow, Role, ScreenRow, SiteRow};
use tower::ServiceExt;

pub struct KillOnDrop(pub Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs Mosquitto on `port` with the `ledcast.conf` that `broker-config`
/// wrote into `out`, and waits (up to 5 s) until it listens.
pub fn run_mosquitto(binary: &str, out: &std::path::Path, port: u16) -> KillOnDrop {
    // Running as root, Mosquitto would drop to the `mosquitto` user and could
    // not read 0600 files in our temp dir: keep it as the current user.
    let snippet = std::fs::read_to_string(out.join("ledcast.conf")).unwrap();
    let config = out.join("test.conf");
    std::fs::write(&config, format!("user root\n{snippet}")).unwrap();
    let broker = KillOnDrop(
        std::process::Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    broker
}

pub fn mosquitto_binary() -> Option<String> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .map(str::to_owned)
}

pub async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// Creates an enrollment code as admin and redeems it with a fresh device key.
pub async fn enroll(app: &axum::Router, screen: &str) -> EnrollResponse {
    let (status, code) = call(
        app,
        Method::POST,
        &format!("/api/v1/screens/{screen}/enrollment"),
        Some("admin-token"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let device = ed25519_dalek::SigningKey::from_bytes(&rand_bytes());
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/enroll",
        None,
        serde_json::json!({
            "code": code["code"],
            "device_public_key_hex": hex::encode(device.verifying_key().as_bytes()),
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

pub fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes
}

/// A server state with sites, two screens and an admin token.
pub async fn seeded_app(dir: &std::path::Path) -> (ledcast_server::http::AppState, axum::Router) {
    let config = Config {
        data_dir: dir.join("data"),
        ..Config::default()
    };
    let state = ledcast_server::service::build_state(config, "http://ledcast.test".into())
        .await
        .unwrap();
    let store = &state.store;
    store
        .upsert_profile(&ProfileRow {
            id: "door".into(),
            width: 352,
            height: 80,
            color_class: "mono".into(),
            can_play_video: false,
            can_scroll: true,
        })
        .await
        .unwrap();
    for (screen, site) in [("branch1-door", "branch1"), ("branch2-door", "branch2")] {
        store
            .upsert_site(
                &SiteRow {
                    id: site.into(),
                    organisation_id: "bank".into(),
                    name: site.into(),
                },
                1,
            )
            .await
            .unwrap();
        store
            .upsert_screen(
                &ScreenRow {
                    id: screen.into(),
                    site_id: site.into(),
                    name: screen.into(),
                    profile_id: "door".into(),
                    tags: vec![],
                    timezone: "Asia/Shanghai".into(),
                    opening_hours: String::new(),
                },
                1,
            )
            .await
            .unwrap();
    }
    store
        .create_user(NewUser {
            id: "admin",
            username: "admin",
            password_hash: "x",
            role: Role::Admin,
            sites: &[],
            now: 1,
        })
        .await
        .unwrap();
    store
        .create_api_token(
            "admin",
            &ledcast_server::auth::token_sha256("admin-token"),
            "admin",
            "test",
            1,
        )
        .await
        .unwrap();
    let app = ledcast_server::router::app(state.clone());
    (state, app)
}
