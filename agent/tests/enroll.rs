//! Enrollment against an axum stand-in for `POST /api/v1/enroll`: the device
//! key is generated and stored 0600 with the response; refusals carry the
//! server's `{error, detail, hint}` to the operator.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use ed25519_dalek::SigningKey;
use ledcast_agent::identity;
use ledcast_protocol::v1::{EnrollRequest, EnrollResponse, ScreenId, TrustedKey};

type Seen = Arc<Mutex<Vec<EnrollRequest>>>;

async fn enroll_handler(State(seen): State<Seen>, Json(request): Json<EnrollRequest>) -> Response {
    seen.lock().unwrap().push(request.clone());
    if request.code != "GOOD-CODE" {
        let body = serde_json::json!({
            "error": "enrollment code unknown or expired",
            "detail": "codes are single use and expire after 10 minutes",
            "hint": "ask an admin for a new code",
        });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let server = TrustedKey::new(SigningKey::from_bytes(&[5; 32]).verifying_key());
    Json(EnrollResponse {
        screen_id: ScreenId::new("hall-wall-2").unwrap(),
        broker_url: "mqtt://127.0.0.1:1883".into(),
        broker_username: "hall-wall-2".into(),
        broker_password: "pw".into(),
        server_key_id: server.key_id.clone(),
        server_public_key_hex: server.public_key_hex(),
        media_base_url: "http://127.0.0.1:8080".into(),
    })
    .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_stores_the_identity_and_reports_refusals() {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/api/v1/enroll", post(enroll_handler))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();

    let bad = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || identity::enroll(&url, "WRONG", &dir))
            .await
            .unwrap()
    };
    let message = bad.unwrap_err().to_string();
    assert!(message.contains("403"), "{message}");
    assert!(
        message.contains("enrollment code unknown or expired"),
        "{message}"
    );
    assert!(
        message.contains("hint: ask an admin for a new code"),
        "{message}"
    );
    assert!(!identity::identity_path(dir.path()).exists());

    let good = {
        let (url, dir) = (url.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || identity::enroll(&url, "GOOD-CODE", &dir))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(good.enrollment.screen_id.as_str(), "hall-wall-2");
    let loaded = identity::load(dir.path()).unwrap();
    let sent = seen
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .device_public_key_hex
        .clone();
    assert_eq!(
        sent,
        hex::encode(loaded.device_key.verifying_key().as_bytes())
    );
    assert_eq!(
        loaded.server_key.public_key_hex(),
        good.enrollment.server_public_key_hex
    );
    for path in [
        identity::identity_path(dir.path()),
        identity::device_key_path(dir.path()),
    ] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    // A damaged identity file is refused with a clear message, not trusted.
    let path = identity::identity_path(dir.path());
    let mut raw = std::fs::read(&path).unwrap();
    let n = raw.len() - 3;
    raw[n] ^= 1;
    std::fs::write(&path, raw).unwrap();
    let err = identity::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("damaged"), "{err}");
}
