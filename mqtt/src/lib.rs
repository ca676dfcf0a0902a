//! How ledcast's server and agent reach an MQTT broker (issue 18, item 3:
//! one of each): a broker URL becomes rumqttc options here and nowhere
//! else.
//!
//! rumqttc parses the URL: `mqtt://` or `tcp://` is plain TCP (default port
//! 1883), `mqtts://` or `ssl://` is TLS (default port 8883). TLS is rustls
//! with the ring provider and the web PKI roots compiled in: no system
//! certificate store on a bare LED box, and no aws-lc (cmake and minutes of
//! C compilation). Keep-alive, credentials and packet sizes stay with the
//! caller, which knows them.

use std::sync::Arc;

use rumqttc::{MqttOptions, Transport};

/// A broker URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BrokerUrlError {
    /// Not a URL, or a scheme other than mqtt/tcp/mqtts/ssl.
    #[error("broker URL {url:?} must look like mqtt://host:1883 or mqtts://host:8883 ({reason})")]
    Unreadable {
        /// The URL as given.
        url: String,
        /// What rumqttc said.
        reason: String,
    },
    /// No host name or address.
    #[error("broker URL {url:?} has no host")]
    NoHost {
        /// The URL as given.
        url: String,
    },
    /// rustls refused the configuration.
    #[error("configuring TLS for the broker: {0}")]
    Tls(String),
}

/// rumqttc options for `client_id` at the broker `url`, with TLS set up
/// for `mqtts://`. Query parameters in `url` are ignored.
pub fn options(url: &str, client_id: &str) -> Result<MqttOptions, BrokerUrlError> {
    let address = url.split('?').next().unwrap_or(url).trim_end_matches('/');
    // rumqttc wants the client id in the URL; ours are screen ids and hex
    // (letters, digits, `-`, `_`, `.`), which need no escaping.
    let parsed = MqttOptions::parse_url(format!("{address}?client_id=ledcast")).map_err(|e| {
        BrokerUrlError::Unreadable {
            url: url.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let (host, port) = parsed.broker_address();
    // An IPv6 address comes back in brackets, which a socket address
    // lookup does not take.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(BrokerUrlError::NoHost {
            url: url.to_owned(),
        });
    }
    let mut options = MqttOptions::new(client_id, host, port);
    if matches!(parsed.transport(), Transport::Tls(_)) {
        options.set_transport(tls_transport()?);
    }
    Ok(options)
}

/// Whether `options` connect over TLS.
pub fn uses_tls(options: &MqttOptions) -> bool {
    matches!(options.transport(), Transport::Tls(_))
}

/// rustls with the ring provider and the web PKI roots compiled in.
pub fn tls_transport() -> Result<Transport, BrokerUrlError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| BrokerUrlError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> (String, u16, bool) {
        let options = options(url, "screen-1").unwrap();
        assert_eq!(options.client_id(), "screen-1");
        let (host, port) = options.broker_address();
        (host, port, uses_tls(&options))
    }

    #[test]
    fn broker_urls_give_host_port_and_tls() {
        assert_eq!(
            parsed("mqtt://127.0.0.1:1883"),
            ("127.0.0.1".into(), 1883, false)
        );
        assert_eq!(
            parsed("tcp://broker.local"),
            ("broker.local".into(), 1883, false)
        );
        assert_eq!(
            parsed("mqtt://broker.local/"),
            ("broker.local".into(), 1883, false)
        );
        assert_eq!(
            parsed("mqtts://b.example:9883"),
            ("b.example".into(), 9883, true)
        );
        assert_eq!(parsed("ssl://b.example"), ("b.example".into(), 8883, true));
        assert_eq!(parsed("mqtt://[::1]:1884"), ("::1".into(), 1884, false));
    }

    #[test]
    fn unusable_urls_say_what_to_write() {
        for url in ["http://b", "broker:1883", "mqtt://:1883", "mqtt://b:99999"] {
            let error = options(url, "screen-1").unwrap_err().to_string();
            assert!(error.contains(url), "{url}: {error}");
        }
        assert!(options("http://b", "x")
            .unwrap_err()
            .to_string()
            .contains("mqtt://host:1883"));
    }
}
