//! Accounts over HTTP: login (throttled per user name and address, and per
//! address; each attempt reserved before the password is checked),
//! logout, who-am-I, API tokens, users (admin) and the audit log (admin).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::docs::{Created, Documented, JsonBody, NoContentWith, Status};
use super::extract::{strict_cookie, ClientAddr, StrictJson, StrictQuery, SESSION_COOKIE};
use super::{ApiError, AppState, Principal};
use crate::auth;
use crate::store::{NewUser, Role, UserRow};

/// `POST /api/v1/login` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
) -> Result<Documented<JsonBody<LoggedIn>>, ApiError> {
    let now = state.clock.now().as_millis();
    let auth_config = &state.config.auth;
    let window_ms = auth_config.login_window_seconds * 1000;
    let address = addr.as_deref().unwrap_or("unknown");
    // Failures count per account *and* address, so one address cannot lock
    // an account out for everyone; an address also has a wider budget over
    // all accounts (a branch behind one NAT shares it).
    let pair_bucket = format!("login:{}@{address}", body.username);
    let addr_bucket = format!("login-addr:{address}");
    let allowed = u64::from(auth_config.login_failures_allowed);
    {
        // Reserve the attempt before the slow password check: concurrent
        // guesses each take a place in the count, so at most `allowed` of
        // them are ever checked. (One gate per process; the count is in
        // the database.)
        let _gate = LOGIN_GATE.lock().await;
        for (bucket, limit) in [
            (&pair_bucket, allowed),
            (&addr_bucket, allowed * ADDRESS_BUDGET_FACTOR),
        ] {
            let failures = state
                .store
                .count_rate_events(bucket, now - window_ms)
                .await?;
            if failures >= limit {
                let minutes = (auth_config.login_window_seconds + 59) / 60;
                return Err(ApiError::too_many(
                    format!(
                        "登录失败次数过多，请 {minutes} 分钟后再试，或请管理员解锁 / \
                         too many failed logins for this user name from this address: \
                         try again in {minutes} minutes, or ask an admin to unlock it"
                    ),
                    auth_config.login_window_seconds,
                ));
            }
        }
        for bucket in [&pair_bucket, &addr_bucket] {
            state
                .store
                .add_rate_event(bucket, now, now - window_ms)
                .await?;
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
        // The right password of a disabled account: say so (only to
        // someone who knows the password, so it reveals nothing to guessers).
        Some(user) if ok => {
            state
                .store
                .audit(
                    now,
                    &user.username,
                    "login.failed",
                    &user.username,
                    &json!({"reason": "disabled"}),
                    addr.as_deref(),
                )
                .await?;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "account_disabled",
                "this account has been disabled by an administrator",
                "ask an administrator to enable it again",
            ));
        }
        _ => {
            // The reserved attempt stays counted as a failure.
            state.metrics.login_failures.inc();
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
    // A success clears this account's failures from this address and gives
    // back the address's reserved place.
    state.store.clear_rate_events(&pair_bucket).await?;
    state.store.remove_rate_event(&addr_bucket, now).await?;
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
    let cookie = strict_cookie(
        SESSION_COOKIE,
        token,
        true,
        state.config.behind_tls,
        time::Duration::hours(auth_config.session_hours),
    );
    Ok(Documented::new(
        (
            cookie,
            Json(LoggedIn {
                user,
                csrf_token: csrf,
                expires_at,
            }),
        )
            .into_response(),
    ))
}

/// A started session (the cookie is set alongside).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LoggedIn {
    /// Who logged in.
    pub user: UserRow,
    /// Send it back in `X-CSRF-Token` with every change.
    pub csrf_token: String,
    /// When the session ends (ms since the epoch).
    pub expires_at: i64,
}

/// Who is calling.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    /// The signed-in user, with role and sites.
    pub user: UserRow,
}

/// A new API token, shown once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NewToken {
    /// Its id (to revoke it).
    pub id: String,
    /// The secret: send it as `Authorization: Bearer …`.
    pub token: String,
    /// The name it was given.
    pub name: String,
}

/// A user's login locks lifted.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Unlocked {
    /// The user.
    pub username: String,
    /// How many addresses were locked out.
    pub unlocked_addresses: u64,
}

/// A user disabled or enabled.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DisabledState {
    /// The user.
    pub username: String,
    /// Whether the account is disabled now.
    pub disabled: bool,
}

/// A new password, shown once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NewPassword {
    /// The user (for a new user, also its id).
    pub username: String,
    /// The generated password.
    pub password: String,
}

/// A created user.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct NewUserCreated {
    /// Its id.
    pub id: String,
    /// Its name.
    pub username: String,
    /// The generated password, shown once.
    pub password: String,
}

/// Serialises the check-and-reserve of login attempts in this process.
static LOGIN_GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An address may fail this many times `login_failures_allowed` over all
/// accounts in the window (a branch's clerks share one NAT address).
const ADDRESS_BUDGET_FACTOR: u64 = 4;

/// A valid argon2id hash of a random string, verified against for unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$W7pGzjYXyXkqSNXXKWYdQvzDuxXm0U8sGrGvT2rbqSo";

/// `POST /api/v1/logout`.
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<NoContentWith, ApiError> {
    if let Some(key) = &principal.session_key {
        state
            .store
            .delete_session(key, state.clock.now().as_millis())
            .await?;
    }
    let gone = strict_cookie(
        SESSION_COOKIE,
        String::new(),
        true,
        state.config.behind_tls,
        time::Duration::ZERO,
    );
    Ok(NoContentWith(
        (gone, StatusCode::NO_CONTENT).into_response(),
    ))
}

/// `GET /api/v1/me`.
pub async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        user: principal.user,
    })
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
}

/// `POST /api/v1/tokens`: the secret is returned once.
pub async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<CreateToken>,
) -> Result<Created<NewToken>, ApiError> {
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
    Ok(Status(NewToken {
        id,
        token: secret,
        name: body.name,
    }))
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<crate::store::ApiTokenRow>>, ApiError> {
    Ok(Json(state.store.list_api_tokens(&principal.user.id).await?))
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<axum::response::NoContent, ApiError> {
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
    Ok(axum::response::NoContent)
}

/// `GET /api/v1/users` (admin).
pub async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<UserRow>>, ApiError> {
    Ok(Json(state.store.list_users().await?))
}

/// `POST /api/v1/users/{id}/unlock` (admin): lifts the user's login locks
/// from every address (failures counted in the login window are forgotten).
pub async fn unlock_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Unlocked>, ApiError> {
    let Some(user) = state.store.user_by_id(&id).await? else {
        return Err(ApiError::not_found(
            format!("no user {id:?}"),
            "list users with GET /api/v1/users",
        ));
    };
    let addresses = state.store.clear_login_failures(&user.username).await?;
    principal
        .audit(
            &state,
            "user.unlock",
            &user.username,
            json!({ "addresses": addresses }),
        )
        .await?;
    Ok(Json(Unlocked {
        username: user.username,
        unlocked_addresses: addresses,
    }))
}

/// The user `id` names, or 404.
async fn user_named(state: &AppState, id: &str) -> Result<crate::store::UserRow, ApiError> {
    state.store.user_by_id(id).await?.ok_or_else(|| {
        ApiError::not_found(
            format!("no user {id:?}"),
            "list users with GET /api/v1/users",
        )
    })
}

/// `POST /api/v1/users/{id}/disable` (admin): the user can no longer log
/// in; their sessions end and their API tokens are refused at once. An
/// admin cannot disable their own account.
pub async fn disable_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DisabledState>, ApiError> {
    set_disabled(&state, &principal, &id, true).await
}

/// `POST /api/v1/users/{id}/enable` (admin): a disabled user may log in again.
pub async fn enable_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DisabledState>, ApiError> {
    set_disabled(&state, &principal, &id, false).await
}

/// Disables or enables the user `id`, audited when it changes anything.
async fn set_disabled(
    state: &AppState,
    principal: &Principal,
    id: &str,
    disabled: bool,
) -> Result<Json<DisabledState>, ApiError> {
    let user = user_named(state, id).await?;
    if disabled && user.id == principal.user.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "own_account",
            "you cannot disable your own account",
            "ask another administrator to do it",
        ));
    }
    if user.disabled_at.is_some() != disabled {
        let at = disabled.then(|| state.clock.now().as_millis());
        state.store.set_user_disabled(&user.id, at).await?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        principal
            .audit(state, action, &user.username, json!({}))
            .await?;
    }
    Ok(Json(DisabledState {
        username: user.username,
        disabled,
    }))
}

/// `POST /api/v1/users/{id}/password` (admin): a new generated password,
/// returned once; the old one stops working, the user's sessions end and
/// their login locks are lifted, so they can log in with the new one at once.
pub async fn reset_password(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<NewPassword>, ApiError> {
    let user = user_named(&state, &id).await?;
    let password = auth::generate_password();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| ApiError::internal(&e))?
    };
    state.store.reset_password_hash(&user.id, &hash).await?;
    let addresses = state.store.clear_login_failures(&user.username).await?;
    principal
        .audit(
            &state,
            "user.password_reset",
            &user.username,
            json!({ "unlocked_addresses": addresses }),
        )
        .await?;
    Ok(Json(NewPassword {
        username: user.username,
        password,
    }))
}

/// The accounts locked out of logging in right now, by user name: the
/// addresses, the failures, and when each lock lifts by itself (ms).
pub async fn login_locks(
    state: &AppState,
) -> Result<std::collections::BTreeMap<String, Vec<serde_json::Value>>, ApiError> {
    let now = state.clock.now().as_millis();
    let auth_config = &state.config.auth;
    let window_ms = auth_config.login_window_seconds * 1000;
    let mut locks = std::collections::BTreeMap::<String, Vec<serde_json::Value>>::new();
    for (user, address, failures, newest) in state
        .store
        .login_locks(
            now - window_ms,
            u64::from(auth_config.login_failures_allowed),
        )
        .await?
    {
        locks.entry(user).or_default().push(json!({
            "address": address,
            "failures": failures.to_string(),
            "until": newest + window_ms,
        }));
    }
    Ok(locks)
}

/// `POST /api/v1/users` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
) -> Result<Created<NewUserCreated>, ApiError> {
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
    Ok(Status(NewUserCreated {
        id,
        username: body.username,
        password,
    }))
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /api/v1/audit` (admin).
pub async fn audit(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<AuditQuery>,
) -> Result<Json<Vec<crate::store::AuditEntry>>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.audit_log(limit, query.before).await?))
}
