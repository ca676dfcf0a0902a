//! The routes agents call (contract fixed with the agent): enrollment by
//! one-time code, the current signed rotation, device-signed screenshots;
//! plus the admin route that creates enrollment codes.
//!
//! The MQTT side (broker auth, publishing) lives in `crate::push`; this
//! module only records what it needs (device key, broker password hash).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use ledcast_protocol::v1 as protocol;
use serde_json::json;

use super::docs::{Accepted, Created, Documented, JsonBody, Status};
use super::extract::{ClientAddr, StrictJson};
use super::{ApiError, AppState, Principal};
use crate::auth;

/// A new enrollment code.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct EnrollmentCode {
    /// The screen it enrolls.
    pub screen_id: String,
    /// The one-time code (shown once).
    pub code: String,
    /// When it stops working (ms since the epoch).
    pub expires_at: i64,
    /// The command to run on the agent's machine.
    pub command: String,
}

/// `POST /api/v1/screens/{id}/enrollment` (admin): a one-time code.
pub async fn create_enrollment(
    State(state): State<AppState>,
    principal: Principal,
    Path(screen_id): Path<String>,
) -> Result<Created<EnrollmentCode>, ApiError> {
    let screen = principal.screen(&state, &screen_id).await?;
    let auth_config = &state.config.auth;
    let now = state.clock.now().as_millis();
    let recent = state
        .store
        .count_enrollment_codes(
            &screen.id,
            now - auth_config.enrollment_window_seconds * 1000,
        )
        .await?;
    if recent >= u64::from(auth_config.enrollment_attempts_allowed) {
        return Err(ApiError::too_many(
            format!("{recent} enrollment codes were created for this screen recently"),
            auth_config.enrollment_window_seconds,
        ));
    }
    let code = auth::generate_enrollment_code();
    let expires_at = now + auth_config.enrollment_code_seconds * 1000;
    state
        .store
        .create_enrollment_code(
            &auth::token_sha256(&auth::normalise_enrollment_code(&code)),
            &screen.id,
            &principal.user.username,
            now,
            expires_at,
        )
        .await?;
    principal
        .audit(
            &state,
            "screen.enrollment_code",
            &screen.id,
            json!({"expires_at": expires_at}),
        )
        .await?;
    Ok(Status(EnrollmentCode {
        command: format!(
            "ledcast-agent enroll --server {} --code {code}",
            state.public_url
        ),
        screen_id: screen.id,
        code,
        expires_at,
    }))
}

/// The broker URL handed to agents (see `crate::config::MqttConfig`).
pub fn agent_broker_url(mqtt: &crate::config::MqttConfig) -> String {
    mqtt.agent_broker_url
        .clone()
        .or_else(|| mqtt.broker_url.clone())
        .unwrap_or_else(|| format!("mqtt://{}", mqtt.embedded_listen))
}

/// The broker user name of a screen's device.
pub fn broker_username(screen_id: &str) -> String {
    format!("screen-{screen_id}")
}

/// `POST /api/v1/enroll`: code + device key → identity and broker credentials.
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    StrictJson(request): StrictJson<protocol::EnrollRequest>,
) -> Result<Json<protocol::EnrollResponse>, ApiError> {
    let now = state.clock.now().as_millis();
    let auth_config = &state.config.auth;
    let window_ms = auth_config.enrollment_window_seconds * 1000;
    let bucket = format!("enroll-addr:{}", addr.as_deref().unwrap_or("unknown"));
    if state
        .store
        .count_rate_events(&bucket, now - window_ms)
        .await?
        >= u64::from(auth_config.enrollment_attempts_allowed)
    {
        return Err(ApiError::too_many(
            "too many failed enrollment attempts from this address",
            auth_config.enrollment_window_seconds,
        ));
    }
    let device_key =
        protocol::TrustedKey::from_hex(&request.device_public_key_hex).ok_or_else(|| {
            ApiError::bad_request(
                "device_public_key_hex is not a valid ed25519 public key (64 hex digits)",
                "send the agent's own public key; ledcast-agent enroll does this for you",
            )
        })?;
    let broker_password = auth::random_hex::<24>();
    let broker_password_sha256 = auth::token_sha256(&broker_password);
    // Kept so `broker-config mosquitto` can write the password file later.
    let broker_password_mosquitto =
        crate::push::mosquitto::hash_password(&broker_password, &auth::random_bytes::<12>());
    let code_key = auth::token_sha256(&auth::normalise_enrollment_code(&request.code));
    let key_id = device_key.key_id.clone();
    let public_key_hex = device_key.public_key_hex();
    let redeemed = state
        .store
        .redeem_enrollment(&code_key, now, |screen_id| {
            (
                key_id,
                public_key_hex,
                broker_username(screen_id),
                broker_password_sha256,
                Some(broker_password_mosquitto),
            )
        })
        .await?;
    let Some(screen_id) = redeemed else {
        state
            .store
            .add_rate_event(&bucket, now, now - window_ms)
            .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_enrollment_code",
            "the enrollment code is unknown, already used or expired",
            "ask an admin for a new code (POST /api/v1/screens/{id}/enrollment); codes last 10 minutes and work once",
        ));
    };
    state
        .store
        .audit(
            now,
            &format!("device:{screen_id}"),
            "screen.enroll",
            &screen_id,
            &json!({"key_id": device_key.key_id}),
            addr.as_deref(),
        )
        .await?;
    let server_key = protocol::TrustedKey::new(state.signing_key.verifying_key());
    let screen = protocol::ScreenId::new(&screen_id).map_err(|e| ApiError::internal(&e))?;
    Ok(Json(protocol::EnrollResponse {
        broker_url: agent_broker_url(&state.config.mqtt),
        broker_username: broker_username(&screen_id),
        broker_password,
        server_key_id: server_key.key_id.clone(),
        server_public_key_hex: server_key.public_key_hex(),
        media_base_url: state.public_url.to_string(),
        screen_id: screen,
    }))
}

/// `GET /api/v1/screens/{id}/rotation`: the stored envelope, byte for byte.
pub async fn get_rotation(
    State(state): State<AppState>,
    Path(screen_id): Path<String>,
) -> Result<Documented<JsonBody<protocol::Envelope>>, ApiError> {
    let rotation = state.store.latest_rotation(&screen_id).await?.ok_or_else(|| {
        ApiError::not_found(
            format!("no rotation for screen {screen_id:?} yet"),
            "apply playlists that target this screen (POST /api/v1/apply); the agent keeps its cached rotation meanwhile",
        )
    })?;
    Ok(Documented::new(
        (
            [
                (header::CONTENT_TYPE, "application/json".to_owned()),
                (header::ETAG, format!("\"{}\"", rotation.envelope_sha256)),
                (header::CACHE_CONTROL, "no-cache".to_owned()),
            ],
            rotation.envelope,
        )
            .into_response(),
    ))
}

/// `POST /api/v1/screens/{id}/screenshots`: a PNG signed by the device key.
pub async fn upload_screenshot(
    State(state): State<AppState>,
    Path(screen_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Created<ScreenshotReceived>, ApiError> {
    let refuse = |detail: String, hint: &str| {
        state.metrics.uploads_refused.inc();
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_device_signature",
            detail,
            hint.to_owned(),
        )
    };
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(key_id), Some(timestamp), Some(signature)) = (
        header_text(protocol::HEADER_KEY_ID),
        header_text(protocol::HEADER_TIMESTAMP),
        header_text(protocol::HEADER_SIGNATURE),
    ) else {
        return Err(refuse(
            "missing device signature headers".to_owned(),
            "only an enrolled agent may upload screenshots; it signs with its device key",
        ));
    };
    let screen = protocol::ScreenId::new(&screen_id)
        .map_err(|e| ApiError::bad_request(e.to_string(), "use the screen id from enrollment"))?;
    let Some(device) = state.store.device_key(&screen_id).await? else {
        return Err(refuse(
            format!("screen {screen_id:?} has no enrolled device"),
            "enroll the agent first",
        ));
    };
    let trusted = protocol::TrustedKey::from_hex(&device.public_key_hex)
        .ok_or_else(|| ApiError::internal(&"stored device key does not parse"))?;
    if key_id != trusted.key_id {
        return Err(refuse(
            format!("key {key_id:?} is not this screen's current device key"),
            "the device was re-enrolled; restart the agent with its new identity",
        ));
    }
    let signed_at: i64 = timestamp.parse().map_err(|_| {
        refuse(
            "the timestamp header is not milliseconds since the epoch".to_owned(),
            "check the agent's version",
        )
    })?;
    let now = state.clock.now().as_millis();
    let skew_ms = state.config.auth.upload_clock_skew_seconds * 1000;
    if (now - signed_at).abs() > skew_ms {
        return Err(refuse(
            format!("the upload was signed {} s away from the server clock", (now - signed_at) / 1000),
            "fix the agent's clock (NTP); uploads must be signed within 5 minutes of the server time",
        ));
    }
    let digest = protocol::Sha256(
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&body)).into(),
    );
    if !protocol::verify_upload(
        &trusted,
        &screen,
        protocol::Timestamp(signed_at),
        &digest,
        &signature,
    ) {
        return Err(refuse(
            "the device signature does not match".to_owned(),
            "the body or headers were altered in transit",
        ));
    }
    if !body.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_png",
            "the screenshot is not a PNG",
            "upload the frame as PNG",
        ));
    }
    let stored = state
        .screenshots
        .put(&body)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let orphans = state
        .store
        .add_screenshot(
            &screen_id,
            &stored.to_hex(),
            body.len() as u64,
            signed_at,
            now,
            state.config.limits.screenshots_kept,
        )
        .await?;
    for orphan in orphans {
        if let Ok(sha) = protocol::Sha256::from_hex(&orphan) {
            if let Err(error) = state.screenshots.remove(&sha).await {
                tracing::warn!(%error, sha256 = %orphan, "could not delete an old screenshot");
            }
        }
    }
    state.metrics.screenshots_accepted.inc();
    Ok(Status(ScreenshotReceived {
        sha256: stored.to_hex(),
        received_at: now,
    }))
}

/// A stored screenshot.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ScreenshotReceived {
    /// Its SHA-256.
    pub sha256: String,
    /// When the server took it (ms since the epoch).
    pub received_at: i64,
}

/// A command on its way.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct CommandSent {
    /// The command's id (the agent answers with it).
    pub command_id: String,
    /// When the agent stops accepting it (ms since the epoch).
    pub expires_at: i64,
    /// Whether the MQTT publisher was listening (false: no agent will get it now).
    pub delivered_to_publisher: bool,
}

/// `POST /api/v1/screens/{id}/commands` body.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// `screenshot`, `resync` or `identify`.
    action: String,
    /// For `identify`: seconds to show the id (default 30, at most 600).
    #[serde(default)]
    seconds: Option<u32>,
}

/// `POST /api/v1/screens/{id}/commands`: signs a command for the screen and
/// hands it to the MQTT publisher (expires after 5 minutes).
pub async fn send_command(
    State(state): State<AppState>,
    principal: Principal,
    Path(screen_id): Path<String>,
    StrictJson(body): StrictJson<CommandRequest>,
) -> Result<Accepted<CommandSent>, ApiError> {
    let screen = principal.screen(&state, &screen_id).await?;
    let action = match body.action.as_str() {
        "screenshot" => protocol::CommandAction::Screenshot,
        "resync" => protocol::CommandAction::Resync,
        "identify" => protocol::CommandAction::Identify {
            seconds: body.seconds.unwrap_or(30).clamp(1, 600),
        },
        other => {
            return Err(ApiError::bad_request(
                format!("unknown command {other:?}"),
                "use screenshot, resync or identify",
            ))
        }
    };
    let screen_id = protocol::ScreenId::new(&screen.id).map_err(|e| ApiError::internal(&e))?;
    let (command, listeners) = crate::events::send_command(
        &state.events,
        &state.signing_key,
        screen_id,
        action,
        state.clock.now(),
    );
    principal
        .audit(
            &state,
            "screen.command",
            &screen.id,
            json!({"action": body.action, "command_id": command.command_id}),
        )
        .await?;
    Ok(Status(CommandSent {
        command_id: command.command_id.clone(),
        expires_at: command.expires_at.0,
        delivered_to_publisher: listeners > 0,
    }))
}
