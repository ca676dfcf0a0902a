//! Accounts over HTTP: login (throttled per user name and per address),
//! logout, who-am-I, API tokens, users (admin) and the audit log (admin).

use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::{ClientAddr, StrictJson, StrictQuery, SESSION_COOKIE};
use super::{ApiError, AppState, Principal};
use crate::auth;
use crate::store::{NewUser, Role};

/// `POST /api/v1/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// `POST /api/v1/login`: sets the session cookie and returns the CSRF token.
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    StrictJson(body): StrictJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let now = state.clock.now().as_millis();
    let auth_config = &state.config.auth;
    let window_ms = auth_config.login_window_seconds * 1000;
    let user_bucket = format!("login-user:{}", body.username);
    let addr_bucket = format!("login-addr:{}", addr.as_deref().unwrap_or("unknown"));
    for bucket in [&user_bucket, &addr_bucket] {
        let failures = state
            .store
            .count_rate_events(bucket, now - window_ms)
            .await?;
        if failures >= u64::from(auth_config.login_failures_allowed) {
            return Err(ApiError::too_many(
                "too many failed logins for this user name or address",
                auth_config.login_window_seconds,
            ));
        }
    }
    let user = state.store.user_by_name(&body.username).await?;
    let password = body.password.clone();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // Verify even for unknown users, so timing does not reveal which names exist.
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => auth::verify_password(&password, &hash),
        None => {
            let _ = auth::verify_password(&password, DUMMY_HASH);
            false
        }
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let user = match user {
        Some(user) if ok && user.disabled_at.is_none() => user,
        _ => {
            state.metrics.login_failures.fetch_add(1, Ordering::Relaxed);
            for bucket in [&user_bucket, &addr_bucket] {
                state
                    .store
                    .add_rate_event(bucket, now, now - window_ms)
                    .await?;
            }
            state
                .store
                .audit(
                    now,
                    &body.username,
                    "login.failed",
                    &body.username,
                    &json!({}),
                    addr.as_deref(),
                )
                .await?;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong user name or password",
                "check both; after several failures logins are paused for a while",
            ));
        }
    };
    state.store.clear_rate_events(&user_bucket).await?;
    let token = auth::random_hex::<32>();
    let csrf = auth::random_hex::<32>();
    let expires_at = now + auth_config.session_hours * 3_600_000;
    state
        .store
        .create_session(
            &auth::token_sha256(&token),
            &user.id,
            &csrf,
            now,
            expires_at,
            addr.as_deref(),
        )
        .await?;
    state
        .store
        .audit(
            now,
            &user.username,
            "login",
            &user.username,
            &json!({}),
            addr.as_deref(),
        )
        .await?;
    let secure = if state.config.behind_tls {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        auth_config.session_hours * 3600
    );
    let mut response = Json(json!({
        "user": user,
        "csrf_token": csrf,
        "expires_at": expires_at,
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A valid argon2id hash of a random string, verified against for unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W7pGzjYXyXkqSNXXKWYdQvzDuxXm0U8sGrGvT2rbqSo";

/// `POST /api/v1/logout`.
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    if let Some(key) = &principal.session_key {
        state
            .store
            .delete_session(key, state.clock.now().as_millis())
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ledcast_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/me`.
pub async fn me(principal: Principal) -> Json<serde_json::Value> {
    Json(json!({ "user": principal.user }))
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
}

/// `POST /api/v1/tokens`: the secret is returned once.
pub async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<CreateToken>,
) -> Result<Response, ApiError> {
    if body.name.trim().is_empty() || body.name.len() > 200 {
        return Err(ApiError::bad_request(
            "name must be 1 to 200 characters",
            "say what the token is for, e.g. \"nightly export\"",
        ));
    }
    let id = auth::random_hex::<8>();
    let secret = format!("lct_{}", auth::random_hex::<32>());
    let now = state.clock.now().as_millis();
    state
        .store
        .create_api_token(
            &id,
            &auth::token_sha256(&secret),
            &principal.user.id,
            &body.name,
            now,
        )
        .await?;
    principal
        .audit(&state, "token.create", &id, json!({"name": body.name}))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "token": secret, "name": body.name})),
    )
        .into_response())
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.list_api_tokens(&principal.user.id).await?).into_response())
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now().as_millis();
    if !state
        .store
        .revoke_api_token(&id, &principal.user.id, now)
        .await?
    {
        return Err(ApiError::not_found(
            format!("no live token {id:?} of yours"),
            "list yours with GET /api/v1/tokens",
        ));
    }
    principal
        .audit(&state, "token.revoke", &id, json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/users` (admin).
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    Ok(Json(state.store.list_users().await?).into_response())
}

/// `POST /api/v1/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    role: Role,
    #[serde(default)]
    sites: Vec<String>,
}

/// `POST /api/v1/users` (admin): returns the generated password once.
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<CreateUser>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    validate_username(&body.username)?;
    if body.role == Role::Branch && body.sites.is_empty() {
        return Err(ApiError::bad_request(
            "a branch user needs at least one site",
            "add \"sites\": [\"site-id\"]",
        ));
    }
    if body.role != Role::Branch && !body.sites.is_empty() {
        return Err(ApiError::bad_request(
            "only branch users are bound to sites",
            "drop \"sites\" or use role \"branch\"",
        ));
    }
    let known: Vec<String> = state
        .store
        .list_sites()
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if let Some(unknown) = body.sites.iter().find(|s| !known.contains(s)) {
        return Err(ApiError::bad_request(
            format!("unknown site {unknown:?}"),
            "list sites with GET /api/v1/sites",
        ));
    }
    let password = auth::generate_password();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| ApiError::internal(&e))?
    };
    let id = auth::random_hex::<8>();
    state
        .store
        .create_user(NewUser {
            id: &id,
            username: &body.username,
            password_hash: &hash,
            role: body.role,
            sites: &body.sites,
            now: state.clock.now().as_millis(),
        })
        .await?;
    principal
        .audit(
            &state,
            "user.create",
            &body.username,
            json!({"role": body.role, "sites": body.sites}),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "username": body.username, "password": password})),
    )
        .into_response())
}

/// Refuses user names that would be confusing in logs and audit lines.
pub fn validate_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            format!(
                "user name {name:?} is not 1 to 64 characters of letters, digits, '.', '_' or '-'"
            ),
            "choose a plain user name like li.wei",
        ))
    }
}

/// `GET /api/v1/audit` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /api/v1/audit` (admin).
pub async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.audit_log(limit, query.before).await?).into_response())
}
