//! Health, readiness, Prometheus metrics, the JSON 404/405, and the outer
//! middleware that counts responses and adds hardening headers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::docs::{Documented, Metrics, Text};
use super::{ApiError, AppState};
use crate::telemetry::Telemetry;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Documented<Text> {
    Documented::new("ok\n".into_response())
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Documented<Text>, ApiError> {
    if state.store.ping().await {
        Ok(Documented::new("ready\n".into_response()))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database does not answer",
            "check database_url and that the database server is running",
        ))
    }
}

/// `GET /metrics`: OpenMetrics text (Prometheus scrapes it).
pub async fn metrics(State(state): State<AppState>) -> Documented<Metrics> {
    let mut out = state.metrics.encode();
    // A gauge read at the scrape, before the closing `# EOF`.
    if let Some(body) = out.strip_suffix("# EOF\n") {
        out = format!(
            "{body}# HELP ledcast_event_subscribers Delivery subscribers.\n# TYPE ledcast_event_subscribers gauge\nledcast_event_subscribers {}\n# EOF\n",
            state.events.receiver_count()
        );
    }
    let response = (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response();
    Documented::new(response)
}

/// Unknown path.
pub async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such route",
        "see GET /api/v1/openapi.json for the routes this server answers",
    )
}

/// Known path, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
        "see GET /api/v1/openapi.json for the methods of each route",
    )
}

/// Counts responses by status class and adds `X-Content-Type-Options: nosniff`
/// and `X-Frame-Options: DENY` to every response that sets no `frame-ancestors`.
pub async fn count_and_harden(metrics: Arc<Telemetry>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = tokio::time::Instant::now();
    let mut response = next.run(req).await;
    metrics.http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A page that states its own `frame-ancestors` (the warning embed) keeps
    // it; every other response may not be framed at all.
    let own_frame_policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|csp| csp.contains("frame-ancestors"));
    if !own_frame_policy {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
