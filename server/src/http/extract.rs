//! Request extractors: the signed-in [`Principal`] (session cookie with CSRF
//! check, or Bearer API token), the client address, strict JSON bodies, and
//! the "413 before reading" guard.
//!
//! Role and site decisions are methods on `Principal`; handlers call them.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::auth;
use crate::store::{Role, ScreenRow, UserRow};

/// Session cookie name.
pub const SESSION_COOKIE: &str = "ledcast_session";
/// Header a cookie-authenticated state change must carry (the session's CSRF token).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's address (from the socket; `None` in in-process tests).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// How the principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    /// Browser session cookie (state changes need the CSRF header).
    Session,
    /// `Authorization: Bearer` API token.
    Token,
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: UserRow,
    /// How they authenticated.
    pub via: AuthVia,
    /// Where the request came from.
    pub remote_addr: Option<String>,
    /// SHA-256 of the session cookie (for logout).
    pub session_key: Option<String>,
}

fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(name)
        .map(|cookie| cookie.value().to_owned())
}

/// A `Set-Cookie` for `name=value` on every path, `SameSite=Strict`,
/// `Secure` behind TLS, living `max_age` (zero: delete it).
pub fn strict_cookie(
    name: &'static str,
    value: String,
    http_only: bool,
    secure: bool,
    max_age: time::Duration,
) -> CookieJar {
    CookieJar::new().add(
        Cookie::build((name, value))
            .path("/")
            .http_only(http_only)
            .same_site(SameSite::Strict)
            .secure(secure)
            .max_age(max_age),
    )
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let remote_addr = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(None))
            .0;
        let now = state.clock.now().as_millis();
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "the Authorization header is not `Bearer <token>`",
                        "send Authorization: Bearer <api token from POST /api/v1/tokens>",
                    )
                })?;
            let user_id = state
                .store
                .api_token_user(&auth::token_sha256(token.trim()))
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            let user = live_user(state, &user_id).await?;
            return Ok(Principal {
                user,
                via: AuthVia::Token,
                remote_addr,
                session_key: None,
            });
        }
        let Some(cookie) = cookie_value(parts, SESSION_COOKIE) else {
            return Err(ApiError::unauthenticated());
        };
        let key = auth::token_sha256(&cookie);
        let session = state
            .store
            .session(&key, now)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !auth::same_secret(sent, &session.csrf_token) {
                return Err(ApiError::forbidden(
                    "missing or wrong CSRF token",
                    format!(
                        "send the csrf_token from the login response in the {CSRF_HEADER} header"
                    ),
                )
                .said_as("err_csrf", serde_json::json!({})));
            }
        }
        let user = live_user(state, &session.user_id).await?;
        Ok(Principal {
            user,
            via: AuthVia::Session,
            remote_addr,
            session_key: Some(key),
        })
    }
}

async fn live_user(state: &AppState, user_id: &str) -> Result<UserRow, ApiError> {
    match state.store.user_by_id(user_id).await? {
        Some(user) if user.disabled_at.is_none() => Ok(user),
        _ => Err(ApiError::unauthenticated()),
    }
}

impl Principal {
    /// The user's role.
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(
                format!("your role {} may not do this", self.user.role.as_str()),
                format!("ask a user with role {} to do it", names.join(" or ")),
            )
            .said_as("err_role", serde_json::json!({})))
        }
    }

    /// Whether the user may see data of `site_id`.
    pub fn sees_site(&self, site_id: &str) -> bool {
        self.user.role != Role::Branch || self.user.sites.iter().any(|s| s == site_id)
    }

    /// The sites a listing must be restricted to (`None` = all).
    pub fn site_filter(&self) -> Option<&[String]> {
        (self.user.role == Role::Branch).then_some(self.user.sites.as_slice())
    }

    /// Loads a screen the user may see; 404 when unknown, 403 when another site's.
    pub async fn screen(&self, state: &AppState, screen_id: &str) -> Result<ScreenRow, ApiError> {
        let screen = state.store.screen(screen_id).await?.ok_or_else(|| {
            ApiError::not_found(
                format!("no screen {screen_id:?}"),
                "list screens with GET /api/v1/screens",
            )
        })?;
        if !self.sees_site(&screen.site_id) {
            return Err(ApiError::forbidden(
                format!("screen {screen_id:?} belongs to a site you are not assigned to"),
                "ask an admin to assign you to that site",
            )
            .said_as("err_other_site", serde_json::json!({})));
        }
        Ok(screen)
    }

    /// Appends an audit line for this user.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        state
            .store
            .audit(
                state.clock.now().as_millis(),
                &self.user.username,
                action,
                target,
                &detail,
                self.remote_addr.as_deref(),
            )
            .await?;
        Ok(())
    }
}

/// A JSON body that refuses unknown fields (the target type says
/// `deny_unknown_fields`) and turns every rejection into an actionable 4xx.
pub struct StrictJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(StrictJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection::*;
    match rejection {
        JsonDataError(e) => ApiError::bad_request(
            e.body_text().replace(
                "Failed to deserialize the JSON body into the target type: ",
                "",
            ),
            "fix the named field; unknown fields are refused",
        ),
        JsonSyntaxError(e) => ApiError::bad_request(e.body_text(), "send valid JSON"),
        MissingJsonContentType(_) => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON",
            "send Content-Type: application/json",
        ),
        BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large(0, "the request body").with_detail("the request body is too large")
        }
        other => ApiError::bad_request(other.body_text(), "send a complete JSON body"),
    }
}

impl ApiError {
    /// The same error with another detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ApiError {
        self.detail = detail.into();
        self
    }
}

/// Answers 413 from `Content-Length` alone, before any of the body is read.
pub async fn refuse_oversized(max: u64, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        return ApiError::too_large(max, "the request body").into_response();
    }
    next.run(req).await
}

/// Runs the request when one of the `gate`'s places is free (waiting up to
/// `wait`), before its body is read; otherwise answers 429 with a retry hint.
/// Bounds how many heavy uploads (decodes, pack imports) run at once.
pub async fn wait_for_turn(
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    places: u32,
    wait: std::time::Duration,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(wait, gate.acquire_owned()).await {
        Ok(Ok(_place)) => next.run(req).await,
        _ => ApiError::too_many(
            format!(
                "服务器正在处理其他上传（同时最多 {places} 个），请 {UPLOAD_RETRY_SECONDS} 秒后重试 / \
                 the server is busy with other uploads (at most {places} at once): \
                 try again in {UPLOAD_RETRY_SECONDS} seconds"
            ),
            UPLOAD_RETRY_SECONDS,
        )
        .into_response(),
    }
}

/// What a refused upload is told to wait.
const UPLOAD_RETRY_SECONDS: i64 = 30;

/// A query string that refuses unknown parameters (with a JSON 400).
pub struct StrictQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(StrictQuery(value)),
            Err(rejection) => Err(ApiError::bad_request(
                rejection.body_text(),
                "fix the query string; unknown parameters are refused",
            )),
        }
    }
}

/// Enforces a route's [`Access`](super::Access) before its handler (and
/// before any body is read): authentication for user routes, the role list
/// for role routes. The principal is kept in the request for the handler.
/// Site checks stay in the handlers, which know the resource.
pub async fn access_gate(
    axum::extract::State(state): axum::extract::State<AppState>,
    access: super::Access,
    req: Request,
    next: Next,
) -> Response {
    use super::Access;
    let roles = match access {
        Access::Public | Access::Device => return next.run(req).await,
        Access::AnyUser | Access::SiteScoped => None,
        Access::Roles(roles) => Some(roles),
    };
    let (mut parts, body) = req.into_parts();
    let principal = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if let Some(roles) = roles {
        if let Err(error) = principal.require(roles) {
            return error.into_response();
        }
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}
