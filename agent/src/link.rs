//! Blocking HTTP to the server: media downloads (with Range), the rotation
//! fallback poll, screenshot uploads and enrollment, over one small `ureq`
//! agent with rustls. The driver calls these on tokio's blocking pool.
//!
//! It does not retry (the driver owns backoff) and never writes to disk
//! (the cache does).

use std::io::Read;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    self, EnrollRequest, EnrollResponse, ScreenId, Sha256, Timestamp, DEFAULT_MAX_ENVELOPE_BYTES,
};
use serde::Deserialize;
use sha2::Digest;

use crate::config::HttpConfig;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The server answered with an error status and (maybe) a JSON reason.
    #[error("server refused {url} with HTTP {status}: {error}{detail}{hint}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `error` field, or the status text.
        error: String,
        /// `; detail` or empty.
        detail: String,
        /// `; hint: …` or empty.
        hint: String,
    },
    /// The server could not be reached or the transfer broke (`message`
    /// names the URL).
    #[error("cannot reach the server: {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// The cause.
        message: String,
    },
    /// The response body was not what the protocol says.
    #[error("unexpected response from {url}: {message}")]
    Body {
        /// The request URL.
        url: String,
        /// The cause.
        message: String,
    },
}

/// The JSON error body the server sends with non-2xx responses.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: Option<String>,
    detail: Option<String>,
    hint: Option<String>,
}

/// A shared HTTP client.
#[derive(Clone, Debug)]
pub struct Link {
    agent: ureq::Agent,
}

impl Link {
    /// A client with the configured timeouts.
    pub fn new(config: &HttpConfig) -> Link {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(config.connect_timeout_seconds))
            .timeout_read(Duration::from_secs(config.read_timeout_seconds))
            .timeout_write(Duration::from_secs(config.read_timeout_seconds))
            .redirects(2)
            .build();
        Link { agent }
    }

    /// `POST {server}/api/v1/enroll`.
    pub fn enroll(
        &self,
        server_url: &str,
        request: &EnrollRequest,
    ) -> Result<EnrollResponse, LinkError> {
        let url = format!("{}/api/v1/enroll", server_url.trim_end_matches('/'));
        let body = serde_json::to_string(request).map_err(|e| LinkError::Body {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let response = self
            .agent
            .post(&url)
            .set("content-type", "application/json")
            .send_string(&body)
            .map_err(|e| map_error(&url, e))?;
        let text = read_limited(&url, response.into_reader(), 64 * 1024)?;
        serde_json::from_slice(&text).map_err(|e| LinkError::Body {
            url,
            message: format!("enrollment response: {e}"),
        })
    }

    /// `GET {server}/api/v1/screens/{id}/rotation`: the current envelope bytes.
    pub fn fetch_rotation(
        &self,
        server_url: &str,
        screen_id: &ScreenId,
    ) -> Result<Vec<u8>, LinkError> {
        let url = format!(
            "{}/api/v1/screens/{}/rotation",
            server_url.trim_end_matches('/'),
            screen_id.as_str()
        );
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| map_error(&url, e))?;
        read_limited(
            &url,
            response.into_reader(),
            DEFAULT_MAX_ENVELOPE_BYTES as u64,
        )
    }

    /// `POST {server}/api/v1/screens/{id}/screenshots` with a signed PNG.
    pub fn upload_screenshot(
        &self,
        server_url: &str,
        screen_id: &ScreenId,
        device_key: &SigningKey,
        png: &[u8],
        now: Timestamp,
    ) -> Result<(), LinkError> {
        let url = format!(
            "{}/api/v1/screens/{}/screenshots",
            server_url.trim_end_matches('/'),
            screen_id.as_str()
        );
        let digest = Sha256(sha2::Sha256::digest(png).into());
        let signature = v1::sign_upload(device_key, screen_id, now, &digest);
        let key_id = v1::key_id_for(&device_key.verifying_key());
        self.agent
            .post(&url)
            .set("content-type", "image/png")
            .set(v1::HEADER_KEY_ID, &key_id)
            .set(v1::HEADER_TIMESTAMP, &now.0.to_string())
            .set(v1::HEADER_SIGNATURE, &signature)
            .send_bytes(png)
            .map_err(|e| map_error(&url, e))?;
        Ok(())
    }

    /// `GET {media_base}/media/{sha256}` from `offset` (Range). Returns the
    /// body and the offset it actually starts at (0 if Range was ignored).
    pub fn open_media(
        &self,
        media_base_url: &str,
        media: &Sha256,
        offset: u64,
    ) -> Result<(Box<dyn Read + Send>, u64), LinkError> {
        let url = format!(
            "{}/media/{}",
            media_base_url.trim_end_matches('/'),
            media.to_hex()
        );
        let mut request = self.agent.get(&url);
        if offset > 0 {
            request = request.set("range", &format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|e| map_error(&url, e))?;
        let start = if response.status() == 206 { offset } else { 0 };
        Ok((Box::new(response.into_reader()), start))
    }
}

fn read_limited(url: &str, reader: impl Read, max: u64) -> Result<Vec<u8>, LinkError> {
    let mut out = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| LinkError::Transport {
            url: url.to_owned(),
            message: format!("{url}: {e}"),
        })?;
    if out.len() as u64 > max {
        return Err(LinkError::Body {
            url: url.to_owned(),
            message: format!("body larger than {max} bytes"),
        });
    }
    Ok(out)
}

fn map_error(url: &str, error: ureq::Error) -> LinkError {
    match error {
        ureq::Error::Status(status, response) => {
            let text = response.status_text().to_owned();
            let body: Option<ErrorBody> = response
                .into_string()
                .ok()
                .and_then(|b| serde_json::from_str(&b).ok());
            let (error, detail, hint) = match body {
                Some(b) => (b.error.unwrap_or(text), b.detail, b.hint),
                None => (text, None, None),
            };
            LinkError::Status {
                url: url.to_owned(),
                status,
                error,
                detail: detail.map(|d| format!("; {d}")).unwrap_or_default(),
                hint: hint.map(|h| format!("; hint: {h}")).unwrap_or_default(),
            }
        }
        ureq::Error::Transport(t) => LinkError::Transport {
            url: url.to_owned(),
            message: t.to_string(),
        },
    }
}
