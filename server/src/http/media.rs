//! `GET|HEAD /media/{sha256}`: serves a registered media file by its content
//! address with `ETag` (the digest), `Cache-Control: immutable`, a single
//! HTTP Range (for resumed downloads), its recorded `Content-Type` and
//! `nosniff`. Files not registered in the store are 404 even if present.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledcast_protocol::v1 as protocol;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::docs::{Documented, Media};
use super::{ApiError, AppState};

/// A byte range `[start, end]` (inclusive) of a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable Range header: send everything.
    Full,
    /// One satisfiable range.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// The range lies outside the file.
    Unsatisfiable,
}

/// Parses a `Range` header for a file of `size` bytes. Multiple ranges and
/// malformed headers fall back to the full file (RFC 9110 allows ignoring).
pub fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if suffix == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial {
            start: size.saturating_sub(suffix),
            end: size - 1,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeRequest::Full;
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    let end = if last.is_empty() {
        size - 1
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end.min(size - 1),
            _ => return RangeRequest::Full,
        }
    };
    RangeRequest::Partial { start, end }
}

/// `GET|HEAD /media/{sha256}`.
pub async fn get_media(
    State(state): State<AppState>,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Documented<Media>, ApiError> {
    serve(&state, &digest, &headers).await.map(Documented::new)
}

async fn serve(state: &AppState, digest: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let sha = protocol::Sha256::from_hex(digest).map_err(|e| {
        ApiError::bad_request(
            e.to_string(),
            "media are addressed by 64 lowercase hex digits",
        )
    })?;
    let not_found = || {
        ApiError::not_found(
            format!("no media {digest}"),
            "the rotation may reference media not uploaded yet; check the material's renditions",
        )
    };
    let (mime, _) = state
        .store
        .media_object(digest)
        .await?
        .ok_or_else(not_found)?;
    let path = match state.media.local_path(&sha).await {
        Ok(Some(path)) => path,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let size = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(&e))?
        .len();
    let etag = format!("\"{digest}\"");
    let mut response_headers = HeaderMap::new();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response_headers.insert(name, value);
        }
    };
    set(header::ETAG, etag.clone());
    set(
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable".to_owned(),
    );
    set(header::CONTENT_TYPE, mime);
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // If-Range with another validator: send the whole file.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = if if_range_ok {
        parse_range(range_header, size)
    } else {
        RangeRequest::Full
    };
    match range {
        RangeRequest::Unsatisfiable => {
            set_header(
                &mut response_headers,
                header::CONTENT_RANGE,
                format!("bytes */{size}"),
            );
            Ok((StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response())
        }
        RangeRequest::Full => {
            set_header(
                &mut response_headers,
                header::CONTENT_LENGTH,
                size.to_string(),
            );
            let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
            Ok((StatusCode::OK, response_headers, body).into_response())
        }
        RangeRequest::Partial { start, end } => {
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| ApiError::internal(&e))?;
            let length = end - start + 1;
            set_header(
                &mut response_headers,
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{size}"),
            );
            set_header(
                &mut response_headers,
                header::CONTENT_LENGTH,
                length.to_string(),
            );
            let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(length)));
            Ok((StatusCode::PARTIAL_CONTENT, response_headers, body).into_response())
        }
    }
}

fn set_header(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_resume_suffix_and_refusals() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(
            parse_range(Some("bytes=4-"), 10),
            Partial { start: 4, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=2-5"), 10),
            Partial { start: 2, end: 5 }
        );
        assert_eq!(
            parse_range(Some("bytes=2-50"), 10),
            Partial { start: 2, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=-3"), 10),
            Partial { start: 7, end: 9 }
        );
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Full);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Full);
        assert_eq!(parse_range(Some("items=1-2"), 10), Full);
    }
}
