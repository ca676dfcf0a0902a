//! The one error type every handler returns: a status and a JSON body
//! `{error, detail, hint}` a user can act on. Internal failures are logged
//! with their cause and shown only as a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// An HTTP error with an actionable body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `forbidden`.
    pub error: &'static str,
    /// What went wrong, in words.
    pub detail: String,
    /// What to do about it.
    pub hint: String,
    /// Extra structured facts (e.g. compiler diagnostics), merged into the body.
    pub extra: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: &'a str,
    hint: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<&'a serde_json::Value>,
}

impl ApiError {
    /// Any error with explicit fields.
    pub fn new(
        status: StatusCode,
        error: &'static str,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.into(),
            hint: hint.into(),
            extra: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail, hint)
    }

    /// 401: no valid credentials.
    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "no valid session cookie or API token",
            "log in with POST /api/v1/login, or send Authorization: Bearer <api token>",
        )
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail, hint)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail, hint)
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail, hint)
    }

    /// 413, naming the limit.
    pub fn too_large(limit_bytes: u64, what: &str) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{what} is larger than the limit of {limit_bytes} bytes"),
            "send a smaller body, or raise the limit in the [limits] section of the server config",
        )
    }

    /// 429.
    /// 429, with `Retry-After` and `retry_after_seconds` in the body.
    pub fn too_many(detail: impl Into<String>, retry_after_seconds: i64) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            detail,
            format!("wait {retry_after_seconds} seconds before trying again"),
        );
        error.extra = Some(serde_json::json!({ "retry_after_seconds": retry_after_seconds }));
        error
    }

    /// 422: understood but invalid content (e.g. TOML diagnostics).
    pub fn unprocessable(detail: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail, hint)
    }

    /// Adds what to tell a person, as a catalogue key (`js_{key}` in
    /// `server/locales/*.toml`) with `{name}` parameters: the web UI says
    /// that sentence in the user's language, and `detail`/`hint` stay for
    /// API clients and as the technical details under it.
    pub fn said_as(mut self, key: &'static str, params: serde_json::Value) -> ApiError {
        let message = serde_json::json!({ "key": key, "params": params });
        match &mut self.extra {
            Some(serde_json::Value::Object(extra)) => {
                extra.insert("message".into(), message);
            }
            _ => self.extra = Some(serde_json::json!({ "message": message })),
        }
        self
    }

    /// 500: logs `cause`, shows nothing of it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error while handling a request");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request",
            "try again; if it persists, an operator can find the cause in the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict { what } => ApiError::conflict(
                what,
                "choose another id or name, or update the existing one",
            ),
            other => ApiError::internal(&other),
        }
    }
}

impl From<crate::approval::OwnSubmission> for ApiError {
    fn from(refused: crate::approval::OwnSubmission) -> ApiError {
        ApiError::forbidden(
            refused.to_string(),
            "ask another approver (two-person rule)",
        )
        .said_as("err_two_person", serde_json::json!({}))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.error,
            detail: &self.detail,
            hint: &self.hint,
            extra: self.extra.as_ref(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let retry_after = self
            .extra
            .as_ref()
            .and_then(|extra| extra.get("retry_after_seconds"))
            .and_then(serde_json::Value::as_i64);
        if let Some(seconds) = retry_after.filter(|_| self.status == StatusCode::TOO_MANY_REQUESTS)
        {
            if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    }
}
